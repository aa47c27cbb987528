/**
 * Who holds a port we could not bind (EADDRINUSE): the listening socket's
 * inode from /proc/net/tcp{,6}, then the process whose fd table links to
 * `socket:[inode]`. Best effort and bounded; when the system does not tell
 * (another user's /proc/<pid>/fd without CAP_SYS_PTRACE, another PID
 * namespace) the answer says so.
 */
import { readdir, readFile, readlink } from 'node:fs/promises';
import { join } from 'node:path';
import type { PortProtocol } from '../policy/policy.js';
import { parseAddress } from '../net/address.js';
import { readListeningSockets, type ListeningSocket, type ProcNetOptions } from './proc-net.js';
import type { Occupant } from './types.js';

export type OccupantLookup =
  | { readonly found: true; readonly occupant: Occupant; readonly reason: string }
  | { readonly found: false; readonly reason: string };

export interface OccupantLookupOptions extends ProcNetOptions {
  /** Where procfs is mounted (tests may point elsewhere). */
  readonly procRoot?: string;
  /** At most this many processes are examined. */
  readonly maxProcesses?: number;
  /** At most this many fd links are read over all processes. */
  readonly maxFdLinks?: number;
  /** process.platform when absent: the lookup reads Linux procfs only. */
  readonly platform?: NodeJS.Platform;
}

const DEFAULT_MAX_PROCESSES = 16_384;
const DEFAULT_MAX_FD_LINKS = 500_000;

export async function findOccupant(
  port: number,
  protocol: PortProtocol,
  bindAddress: string,
  options: OccupantLookupOptions = {},
  /**
   * The holder's socket inodes when the caller knows them already (the port
   * holder, from its netlink dump): /proc/net/tcp* is then not read — it can
   * be hidden (systemd's ProcSubset=pid) while netlink is not.
   */
  knownInodes?: ReadonlySet<number>,
): Promise<OccupantLookup> {
  const platform = options.platform ?? process.platform;
  if (platform !== 'linux') {
    // Windows would take the owning pid from the TCP table (GetExtendedTcpTable); not written yet.
    return { found: false, reason: `held by another process; naming it is not available on ${platform} (Linux /proc only)` };
  }
  const procRoot = options.procRoot ?? '/proc';
  const inodes = knownInodes && knownInodes.size > 0 ? knownInodes : await holderInodes(port, protocol, bindAddress, procRoot, options);
  if (inodes.size === 0) {
    return {
      found: false,
      reason: `held by an unknown process: no listening socket on port ${port} in ${procRoot}/net (another network namespace, or a socket bound but not listening)`,
    };
  }
  const scan = await scanProcesses(inodes, procRoot, options);
  if (scan.occupant) {
    const { pid, command } = scan.occupant;
    return { found: true, occupant: scan.occupant, reason: `held by ${command} (pid ${pid})` };
  }
  const why: string[] = [];
  if (scan.denied > 0) {
    why.push(`permission denied reading the open files of ${scan.denied} process(es); run as root or with CAP_SYS_PTRACE to name it`);
  }
  if (scan.truncated) why.push('the process scan stopped at its bound');
  if (why.length === 0) why.push('no visible process holds its socket (another PID namespace?)');
  return { found: false, reason: `held by an unknown process: ${why.join('; ')}` };
}

/**
 * Inodes of listening sockets that conflict with our bind. For an IPv4 bind
 * an IPv6 wildcard socket counts too: without IPV6_V6ONLY it also owns the
 * IPv4 port (procfs does not show the flag, so it is a candidate after the
 * IPv4 sockets).
 */
async function holderInodes(
  port: number,
  protocol: PortProtocol,
  bindAddress: string,
  procRoot: string,
  options: ProcNetOptions,
): Promise<Set<number>> {
  const v6 = await readListeningSockets(join(procRoot, 'net', 'tcp6'), port, options);
  const v4 = protocol === 'tcp' ? await readListeningSockets(join(procRoot, 'net', 'tcp'), port, options) : [];
  return conflictingInodes(port, protocol, bindAddress, v4, v6);
}

/**
 * Of the listening sockets read from /proc/net/tcp (`v4`) and tcp6 (`v6`),
 * the inodes of those that hold `port` against a bind of ours on
 * `bindAddress` (see holderInodes).
 */
export function conflictingInodes(
  port: number,
  protocol: PortProtocol,
  bindAddress: string,
  v4: readonly ListeningSocket[],
  v6: readonly ListeningSocket[],
): Set<number> {
  const ours = parseAddress(bindAddress)?.bytes;
  const inodes = new Set<number>();
  if (protocol === 'tcp') {
    for (const s of v4) if (s.port === port && overlaps(s.address, ours)) inodes.add(s.inode);
    for (const s of v6) {
      if (s.port === port && (isZero(s.address) || (isMapped(s.address) && overlaps(s.address.subarray(12), ours)))) inodes.add(s.inode);
    }
  } else {
    for (const s of v6) if (s.port === port && overlaps(s.address, ours)) inodes.add(s.inode);
  }
  return inodes;
}

function overlaps(theirs: Uint8Array, ours: Uint8Array | undefined): boolean {
  if (!ours || isZero(theirs) || isZero(ours)) return true;
  if (theirs.length !== ours.length) return false;
  for (let i = 0; i < ours.length; i++) if (theirs[i] !== ours[i]) return false;
  return true;
}

function isZero(b: Uint8Array): boolean {
  for (let i = 0; i < b.length; i++) if (b[i] !== 0) return false;
  return true;
}

function isMapped(b: Uint8Array): boolean {
  if (b.length !== 16) return false;
  for (let i = 0; i < 10; i++) if (b[i] !== 0) return false;
  return b[10] === 0xff && b[11] === 0xff;
}

interface ScanResult {
  readonly occupant: Occupant | undefined;
  readonly denied: number;
  readonly truncated: boolean;
}

async function scanProcesses(
  inodes: ReadonlySet<number>,
  procRoot: string,
  options: OccupantLookupOptions,
): Promise<ScanResult> {
  const maxProcesses = options.maxProcesses ?? DEFAULT_MAX_PROCESSES;
  let linksLeft = options.maxFdLinks ?? DEFAULT_MAX_FD_LINKS;
  const wanted = new Set<string>();
  for (const inode of inodes) wanted.add(`socket:[${inode}]`);
  let names: string[];
  try {
    names = await readdir(procRoot);
  } catch {
    return { occupant: undefined, denied: 0, truncated: false };
  }
  const pids = names.filter((n) => /^\d+$/.test(n)).map(Number).sort((a, b) => a - b);
  let denied = 0;
  let examined = 0;
  for (const pid of pids) {
    if (examined >= maxProcesses || linksLeft <= 0) return { occupant: undefined, denied, truncated: true };
    examined++;
    const fdDir = join(procRoot, String(pid), 'fd');
    let fds: string[];
    try {
      fds = await readdir(fdDir);
    } catch (error) {
      // ENOENT: the process exited meanwhile; only a refusal hides a possible holder.
      if (isDenied(error)) denied++;
      continue;
    }
    for (const fd of fds) {
      if (linksLeft-- <= 0) return { occupant: undefined, denied, truncated: true };
      let target: string;
      try {
        target = await readlink(join(fdDir, fd));
      } catch {
        continue;
      }
      if (wanted.has(target)) return { occupant: { pid, command: await commandOf(procRoot, pid) }, denied, truncated: false };
    }
  }
  return { occupant: undefined, denied, truncated: false };
}

function isDenied(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return code === 'EACCES' || code === 'EPERM';
}

async function commandOf(procRoot: string, pid: number): Promise<string> {
  try {
    const comm = (await readFile(join(procRoot, String(pid), 'comm'), 'utf8')).trim();
    return comm.length > 0 ? comm : '?';
  } catch {
    return '?';
  }
}

/**
 * Never parse attacker bytes as root. Started as root, the sensor does as
 * root only what needs root — the packet sockets, the host lock, creating
 * the state directory for the user, binding the decoy ports (and naming the
 * occupant of a port it could not bind) — then becomes an unprivileged user
 * for good, keeping only the capabilities a reload still needs, before the
 * first captured frame reaches JavaScript (the way `tcpdump -Z` does).
 *
 * Which user (`--user NAME`): the named one; by default `honeyport` where
 * that user exists. `--user root` (or any name of uid 0) keeps root, on
 * purpose; root without a `honeyport` user and without `--user` keeps root
 * with a warning. Not root at start (the systemd unit runs the sensor as
 * `honeyport` with ambient capabilities): nothing to drop, `--user` is only
 * checked to name a user.
 *
 * What is kept: CAP_NET_BIND_SERVICE when a reload may bind a port (a
 * `--policy` file can name a port below 1024 on SIGHUP); nothing otherwise.
 * CAP_NET_RAW is never kept: no reload reopens a packet socket — a new
 * filter is attached to the open one, which needs no capability.
 *
 * Files: sinks, the spool and the checks of files read later (the policy
 * file, re-read on SIGHUP) are opened while the effective user is already
 * the target user (`asUser`), so what the sensor creates is the user's and
 * what it opens is what the user may reopen after logrotate or a restart.
 *
 * Threads: credentials are per thread on Linux. glibc changes the ids and
 * groups of every thread at once; prctl and capset act on the caller only.
 * After `drop` every thread has the user's uid and gid (all four fields),
 * no supplementary groups and empty permitted, effective and ambient sets;
 * the main thread (ports, filters, any child process) holds exactly the kept
 * capabilities, a bounding set cut to them and no_new_privs. The other
 * threads (V8 and libuv workers, started before the drop) keep the full
 * bounding set and no no_new_privs: with no capability and no root id they
 * can gain privilege only by executing a set-uid program, which Node never
 * does from them. `drop` reads /proc/self/task/* afterwards and fails when
 * any thread is not as stated.
 */
import { readdirSync, readFileSync } from 'node:fs';
import type { NativeAddon } from '../capture/native-binding.js';

/** linux/capability.h */
export const CAP_NET_BIND_SERVICE = 10;
export const DEFAULT_USER = 'honeyport';

export type PrivilegePlan =
  | { readonly kind: 'stay'; readonly warning?: string }
  | { readonly kind: 'drop'; readonly user: string; readonly uid: number; readonly gid: number; readonly keep: readonly number[] };

const STAY_HINT = ' (--user root keeps root)';

/** `--user` names no user: the one line for the command line (exit 2). */
export class UnknownUserError extends Error {}
/** The drop failed or left a thread otherwise than stated: the process must not go on. */
export class PrivilegeDropError extends Error {}

export type UserLookup = (name: string) => { readonly uid: number; readonly gid: number } | null;

export interface PlanInput {
  /** `--user`, undefined when not given. */
  readonly requested: string | undefined;
  readonly euid: number;
  /** Whether a reload may bind ports (a policy file to re-read). */
  readonly reloadBindsPorts: boolean;
  readonly lookup: UserLookup;
}

/** Decides before anything is opened; throws UnknownUserError for a `--user` that names no user. */
export function planPrivileges(i: PlanInput): PrivilegePlan {
  const name = i.requested ?? DEFAULT_USER;
  const entry = i.lookup(name);
  if (entry === null && i.requested !== undefined) throw new UnknownUserError(`--user ${name}: no such user`);
  if (i.euid !== 0) return { kind: 'stay' };
  if (entry === null) {
    return { kind: 'stay', warning: `running as root: no "${DEFAULT_USER}" user to drop to after start (create it, or name one with --user; --user root keeps root quietly)` };
  }
  if (entry.uid === 0) return { kind: 'stay' };
  return { kind: 'drop', user: name, uid: entry.uid, gid: entry.gid, keep: i.reloadBindsPorts ? [CAP_NET_BIND_SERVICE] : [] };
}

/** The parts of /proc/…/task/TID/status this module judges. */
export interface ThreadCredentials {
  readonly tid: number;
  readonly uid: readonly number[];
  readonly gid: readonly number[];
  readonly groups: readonly number[];
  readonly capPrm: bigint;
  readonly capEff: bigint;
  readonly capInh: bigint;
  readonly capBnd: bigint;
  readonly capAmb: bigint;
  readonly noNewPrivs: boolean;
}

function field(status: string, name: string): string {
  const m = new RegExp(`^${name}:[ \\t]*(.*)$`, 'm').exec(status);
  if (!m) throw new Error(`no ${name} line`);
  return m[1]!.trim();
}

const numbers = (text: string): number[] => (text === '' ? [] : text.split(/\s+/).map(Number));

export function parseThreadStatus(tid: number, status: string): ThreadCredentials {
  return {
    tid,
    uid: numbers(field(status, 'Uid')),
    gid: numbers(field(status, 'Gid')),
    groups: numbers(field(status, 'Groups')),
    capPrm: BigInt(`0x${field(status, 'CapPrm')}`),
    capEff: BigInt(`0x${field(status, 'CapEff')}`),
    capInh: BigInt(`0x${field(status, 'CapInh')}`),
    capBnd: BigInt(`0x${field(status, 'CapBnd')}`),
    capAmb: BigInt(`0x${field(status, 'CapAmb')}`),
    noNewPrivs: field(status, 'NoNewPrivs') === '1',
  };
}

/** Every thread of a process (a thread that ends while being read is left out). */
export function readThreadCredentials(pid: number | 'self' = 'self'): ThreadCredentials[] {
  const dir = `/proc/${pid}/task`;
  const out: ThreadCredentials[] = [];
  for (const name of readdirSync(dir)) {
    let status: string;
    try {
      status = readFileSync(`${dir}/${name}/status`, 'utf8');
    } catch {
      continue;
    }
    out.push(parseThreadStatus(Number(name), status));
  }
  return out;
}

export const capabilityMask = (caps: readonly number[]): bigint => caps.reduce((m, c) => m | (1n << BigInt(c)), 0n);

/** How `threads` differ from the state `drop` promises (empty: as promised). `mainTid` is the process id. */
export function credentialProblems(threads: readonly ThreadCredentials[], target: { uid: number; gid: number; keep: readonly number[] }, mainTid: number): string[] {
  const keep = capabilityMask(target.keep);
  const hex = (m: bigint): string => m.toString(16).padStart(16, '0');
  const problems: string[] = [];
  if (!threads.some((t) => t.tid === mainTid)) problems.push(`main thread ${mainTid} not found`);
  for (const t of threads) {
    const where = `thread ${t.tid}`;
    if (t.uid.length !== 4 || t.uid.some((u) => u !== target.uid)) problems.push(`${where}: uid ${t.uid.join(' ')}`);
    if (t.gid.length !== 4 || t.gid.some((g) => g !== target.gid)) problems.push(`${where}: gid ${t.gid.join(' ')}`);
    if (t.groups.length > 0) problems.push(`${where}: supplementary groups ${t.groups.join(' ')}`);
    if (t.capAmb !== 0n) problems.push(`${where}: ambient capabilities ${hex(t.capAmb)}`);
    if (t.tid === mainTid) {
      if (t.capPrm !== keep || t.capEff !== keep) problems.push(`${where}: permitted ${hex(t.capPrm)}, effective ${hex(t.capEff)}, not ${hex(keep)}`);
      if (t.capInh !== 0n) problems.push(`${where}: inheritable ${hex(t.capInh)}`);
      if (t.capBnd !== keep) problems.push(`${where}: bounding set ${hex(t.capBnd)}, not ${hex(keep)}`);
      if (!t.noNewPrivs) problems.push(`${where}: no_new_privs is off`);
    } else if (t.capPrm !== 0n || t.capEff !== 0n) {
      problems.push(`${where}: permitted ${hex(t.capPrm)}, effective ${hex(t.capEff)}, not empty`);
    }
  }
  return problems;
}

type PrivilegeCalls = Pick<NativeAddon, 'assumeUser' | 'resumeRoot' | 'dropPrivileges'>;

/**
 * Runs `work` with the effective user and group of every thread set to the
 * plan's (real and saved ids stay root, so root comes back after it), then
 * returns to root whatever `work` did. With a plan that stays, just runs it.
 */
export async function asUser<T>(plan: PrivilegePlan, native: PrivilegeCalls, work: () => Promise<T>): Promise<T> {
  if (plan.kind !== 'drop') return work();
  try {
    native.assumeUser(plan.uid, plan.gid);
  } catch (err) {
    // Root without CAP_SETUID/CAP_SETGID (a container's bounding set): it could not drop later either.
    try {
      native.resumeRoot();
    } catch { /* the process exits on the error below */ }
    throw new PrivilegeDropError(`cannot open files as ${plan.user}: ${(err as Error).message}${STAY_HINT}`);
  }
  try {
    return await work();
  } finally {
    native.resumeRoot();
  }
}

/** Becomes the plan's user for good and checks every thread; PrivilegeDropError when anything is not as stated. */
export function drop(plan: PrivilegePlan & { kind: 'drop' }, native: PrivilegeCalls, threads: () => readonly ThreadCredentials[] = () => readThreadCredentials()): void {
  try {
    native.dropPrivileges(plan.uid, plan.gid, [...plan.keep]);
  } catch (err) {
    throw new PrivilegeDropError(`cannot drop privileges to ${plan.user}: ${(err as Error).message}${STAY_HINT}`);
  }
  const problems = credentialProblems(threads(), plan, process.pid);
  if (problems.length > 0) throw new PrivilegeDropError(`privileges not dropped as stated (user ${plan.user}): ${problems.join('; ')}`);
}

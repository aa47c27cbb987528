/**
 * A throw-away test network for the live sensor tests: an attacker, a server
 * and a whitelisted host, each in its own network namespace, joined to the
 * server by veth pairs. Addresses come from 198.18.0.0/15 and fd00::/8 only,
 * so nothing here can reach a real network. Names carry a random tag so that
 * parallel or leftover runs never collide.
 *
 *   hp-atk-<tag> [A] ──veth── [S] hp-srv-<tag> [V] ──veth── [W] hp-wl-<tag>
 *
 * The whitelisted host routes to the server's attacker-side address too, so
 * both scanners can hit the very same destination.
 */
import { execFile, execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';

export interface Host {
  readonly ns: string;
  /** This host's end of its veth pair. */
  readonly iface: string;
  readonly v4: string;
  /** Canonical (RFC 5952) text, as the sensor prints it. */
  readonly v6: string;
}

export interface ServerHost extends Host {
  /** The server's end of the pair to the whitelisted host. */
  readonly wlIface: string;
  readonly wlV4: string;
  readonly wlV6: string;
}

export interface Topology {
  readonly tag: string;
  readonly attacker: Host;
  readonly server: ServerHost;
  readonly whitelisted: Host;
}

export interface RunResult {
  /** Exit code, or null when killed (by the timeout or a signal). */
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
  readonly timedOut: boolean;
}

const IP_TIMEOUT_MS = 10_000;

function ip(...args: string[]): string {
  return execFileSync('ip', args, { stdio: 'pipe', timeout: IP_TIMEOUT_MS }).toString();
}

/** Runs `cmd` inside `ns` and resolves whatever its exit; killed after `timeoutMs`. */
export function runIn(ns: string, cmd: string, args: readonly string[], timeoutMs: number): Promise<RunResult> {
  return new Promise((resolve) => {
    execFile(
      'ip',
      ['netns', 'exec', ns, cmd, ...args],
      { timeout: timeoutMs, killSignal: 'SIGKILL', maxBuffer: 16 << 20 },
      (err, stdout, stderr) => {
        const e = err as (NodeJS.ErrnoException & { code?: unknown; killed?: boolean; signal?: NodeJS.Signals }) | null;
        resolve({
          code: e === null ? 0 : typeof e.code === 'number' ? e.code : null,
          signal: e?.signal ?? null,
          stdout: String(stdout),
          stderr: String(stderr),
          timedOut: e?.killed === true,
        });
      },
    );
  });
}

/**
 * Starts `cmd` inside `ns`. `ip netns exec` execs the command in place, so the
 * child's pid is the command's own pid (signals reach it directly).
 */
export function spawnIn(ns: string, cmd: string, args: readonly string[]): ChildProcess {
  return spawn('ip', ['netns', 'exec', ns, cmd, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
}

/** RFC 5952 text of an IPv6 address (the WHATWG URL parser compresses it). */
export function canonicalV6(address: string): string {
  return new URL(`http://[${address}]/`).hostname.slice(1, -1);
}

/**
 * Builds the three namespaces. On any failure what was built is torn down and
 * the error rethrown. Call `destroyTopology` when done, even after failures.
 */
export function createTopology(): Topology {
  const tag = randomBytes(3).toString('hex');
  const net = 1 + (randomBytes(1)[0]! % 250); // never 0: keeps the IPv6 text free of a zero group
  const hex = net.toString(16);
  const topo: Topology = {
    tag,
    attacker: { ns: `hp-atk-${tag}`, iface: `hpA${tag}`, v4: `198.18.${net}.1`, v6: canonicalV6(`fd00:18:${hex}::1`) },
    server: {
      ns: `hp-srv-${tag}`,
      iface: `hpS${tag}`,
      v4: `198.18.${net}.2`,
      v6: canonicalV6(`fd00:18:${hex}::2`),
      wlIface: `hpV${tag}`,
      wlV4: `198.18.${net}.6`,
      wlV6: canonicalV6(`fd00:19:${hex}::2`),
    },
    whitelisted: { ns: `hp-wl-${tag}`, iface: `hpW${tag}`, v4: `198.18.${net}.5`, v6: canonicalV6(`fd00:19:${hex}::1`) },
  };
  const { attacker: a, server: s, whitelisted: w } = topo;
  try {
    for (const h of [a, s, w]) ip('netns', 'add', h.ns);
    ip('link', 'add', a.iface, 'netns', a.ns, 'type', 'veth', 'peer', 'name', s.iface, 'netns', s.ns);
    ip('link', 'add', w.iface, 'netns', w.ns, 'type', 'veth', 'peer', 'name', s.wlIface, 'netns', s.ns);
    const addrs: [ns: string, dev: string, v4: string, v6: string][] = [
      [a.ns, a.iface, a.v4, a.v6],
      [s.ns, s.iface, s.v4, s.v6],
      [s.ns, s.wlIface, s.wlV4, s.wlV6],
      [w.ns, w.iface, w.v4, w.v6],
    ];
    for (const [ns, dev, v4, v6] of addrs) {
      ip('-n', ns, 'addr', 'add', `${v4}/30`, 'dev', dev);
      // nodad: the address is usable at once instead of after duplicate detection.
      ip('-n', ns, 'addr', 'add', `${v6}/64`, 'dev', dev, 'nodad');
      ip('-n', ns, 'link', 'set', dev, 'up');
    }
    for (const h of [a, s, w]) ip('-n', h.ns, 'link', 'set', 'lo', 'up');
    // The whitelisted host reaches the server's attacker-side addresses through the server.
    ip('-n', w.ns, 'route', 'add', `${s.v4}/32`, 'via', s.wlV4);
    ip('-n', w.ns, '-6', 'route', 'add', `${s.v6}/128`, 'via', s.wlV6);
  } catch (err) {
    destroyTopology(topo);
    throw err;
  }
  return topo;
}

/** Deletes the namespaces (their veth ends, and so the pairs, go with them). Never throws. */
export function destroyTopology(topo: Topology): void {
  for (const h of [topo.attacker, topo.server, topo.whitelisted]) {
    try {
      ip('netns', 'del', h.ns);
    } catch {
      // never created, or already gone
    }
  }
}

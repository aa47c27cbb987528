/**
 * The benchmark's own network: an attacker and a server namespace joined by
 * one veth pair. Spoofed sources are routed back to the attacker through a
 * permanent neighbour entry, so the server's replies (SYN-ACKs, RSTs) to
 * millions of fake addresses never trigger ARP or neighbour discovery: the
 * kernel's reply path costs the same for every pass and adds no noise.
 *
 *   hp-bench-atk-<tag> [hbA<tag>] ──veth── [hbS<tag>] hp-bench-srv-<tag>
 *
 * Everything lives in 198.18.0.0/15 and fd00::/8.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';

export interface BenchEnd {
  readonly ns: string;
  readonly iface: string;
  readonly mac: string;
  readonly v4: string;
  readonly v6: string;
}

export interface BenchNet {
  readonly tag: string;
  readonly attacker: BenchEnd;
  readonly server: BenchEnd;
}

/** IPv4 flood sources: any address of 198.19.0.0/16 (65,536, below the default key limit). */
export const FLOOD_V4_PREFIX = [198, 19] as const;
/** Latency probe sources: 198.18.<200+k>.x; the veth pair itself uses 198.18.1-127.x. */
export const PROBE_V4_FIRST_OCTET3 = 200;
/** IPv6 flood sources: fd00:ff::/64 with a random interface id (2^64 distinct sources). */
export const FLOOD_V6_PREFIX = 'fd00:ff::';

const IP_TIMEOUT_MS = 10_000;

function ip(...args: string[]): string {
  return execFileSync('ip', args, { stdio: 'pipe', timeout: IP_TIMEOUT_MS }).toString();
}

function macOf(ns: string, iface: string): string {
  const [link] = JSON.parse(ip('-n', ns, '-j', 'link', 'show', 'dev', iface)) as { address: string }[];
  if (!link) throw new Error(`no link ${iface} in ${ns}`);
  return link.address;
}

/** Builds the pair; on failure tears down what was built and rethrows. */
export function createBenchNet(): BenchNet {
  const tag = randomBytes(3).toString('hex');
  const net = 1 + (randomBytes(1)[0]! % 127); // stays clear of the probe range 198.18.200+
  const atk = { ns: `hp-bench-atk-${tag}`, iface: `hbA${tag}`, v4: `198.18.${net}.1`, v6: `fd00:18:${net.toString(16)}::1` };
  const srv = { ns: `hp-bench-srv-${tag}`, iface: `hbS${tag}`, v4: `198.18.${net}.2`, v6: `fd00:18:${net.toString(16)}::2` };
  const partial: BenchNet = { tag, attacker: { ...atk, mac: '' }, server: { ...srv, mac: '' } };
  try {
    ip('netns', 'add', atk.ns);
    ip('netns', 'add', srv.ns);
    ip('link', 'add', atk.iface, 'netns', atk.ns, 'type', 'veth', 'peer', 'name', srv.iface, 'netns', srv.ns);
    for (const e of [atk, srv]) {
      // Router solicitations and DAD would add stray packets to the counters.
      execFileSync('ip', ['netns', 'exec', e.ns, 'sysctl', '-q', '-w', `net.ipv6.conf.${e.iface}.accept_ra=0`, `net.ipv6.conf.${e.iface}.dad_transmits=0`], { stdio: 'pipe', timeout: IP_TIMEOUT_MS });
      ip('-n', e.ns, 'addr', 'add', `${e.v4}/30`, 'dev', e.iface);
      ip('-n', e.ns, 'addr', 'add', `${e.v6}/64`, 'dev', e.iface, 'nodad');
      ip('-n', e.ns, 'link', 'set', e.iface, 'up');
      ip('-n', e.ns, 'link', 'set', 'lo', 'up');
    }
    const a: BenchEnd = { ...atk, mac: macOf(atk.ns, atk.iface) };
    const s: BenchEnd = { ...srv, mac: macOf(srv.ns, srv.iface) };
    ip('-n', s.ns, 'neigh', 'replace', a.v4, 'lladdr', a.mac, 'dev', s.iface, 'nud', 'permanent');
    ip('-n', s.ns, 'neigh', 'replace', a.v6, 'lladdr', a.mac, 'dev', s.iface, 'nud', 'permanent');
    ip('-n', a.ns, 'neigh', 'replace', s.v4, 'lladdr', s.mac, 'dev', a.iface, 'nud', 'permanent');
    ip('-n', a.ns, 'neigh', 'replace', s.v6, 'lladdr', s.mac, 'dev', a.iface, 'nud', 'permanent');
    ip('-n', s.ns, 'route', 'add', `${FLOOD_V4_PREFIX.join('.')}.0.0/16`, 'via', a.v4);
    ip('-n', s.ns, 'route', 'add', '198.18.128.0/17', 'via', a.v4);
    ip('-n', s.ns, '-6', 'route', 'add', `${FLOOD_V6_PREFIX}/64`, 'via', a.v6);
    return { tag, attacker: a, server: s };
  } catch (err) {
    destroyBenchNet(partial);
    throw err;
  }
}

/** Deletes both namespaces (the veth pair goes with them). Never throws. */
export function destroyBenchNet(net: BenchNet): void {
  for (const ns of [net.attacker.ns, net.server.ns]) {
    try {
      ip('netns', 'del', ns);
    } catch {
      // never created, or already gone
    }
  }
}

export interface LinkCounters {
  readonly rxPackets: number;
  readonly rxDropped: number;
}

/** Receive counters of the server's veth end (what actually arrived). */
export function serverRx(net: BenchNet): LinkCounters {
  const [link] = JSON.parse(ip('-n', net.server.ns, '-s', '-j', 'link', 'show', 'dev', net.server.iface)) as {
    stats64: { rx: { packets: number; dropped: number } };
  }[];
  return { rxPackets: link!.stats64.rx.packets, rxDropped: link!.stats64.rx.dropped };
}

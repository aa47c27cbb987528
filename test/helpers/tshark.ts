/**
 * The probe map: per key (source, destination, destination port, network
 * type) the number of probe packets and their kinds. Built independently
 * from two sides so that tests can compare them:
 *  - tshark's dissection of a capture (with its own IPv4/IPv6 reassembly),
 *  - honeyport's replay alarms (summed `event.count` per key).
 *
 * Test-only code: nothing here is on a hot path, clarity wins.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { parse as parseYaml } from 'yaml';

export type NetworkType = 'ipv4' | 'ipv6';
export type ProbeKind = 'syn' | 'fin' | 'null' | 'xmas' | 'ack' | 'odd';

/** Fixed order for kinds lists, so that they compare as arrays. */
export const PROBE_KIND_ORDER: readonly ProbeKind[] = ['syn', 'fin', 'null', 'xmas', 'ack', 'odd'];

/** An ACK-class segment within this long after a SYN of its connection belongs to it (issue 12: 5 minutes). */
export const CONNECTION_MICROS = 300e6;

export interface ProbePort {
  readonly port: number;
  readonly protocol: 'tcp' | 'tcp6';
}

/** What the probe definition needs from a policy (a subset of the policy file). */
export interface ProbePolicy {
  readonly ports: readonly ProbePort[];
  readonly whitelist: readonly string[];
}

export interface ProbeCount {
  readonly source: string;
  readonly destination: string;
  readonly port: number;
  readonly type: NetworkType;
  packets: number;
  /** Distinct kinds seen, in PROBE_KIND_ORDER. */
  kinds: ProbeKind[];
}

/** Keyed by `probeKey(...)`. */
export type ProbeMap = Map<string, ProbeCount>;

/** One TCP segment as tshark dissected it (after reassembly). */
export interface TsharkSegment {
  readonly frame: number;
  readonly type: NetworkType;
  readonly source: string;
  readonly destination: string;
  readonly port: number;
  readonly sourcePort: number;
  /** frame.time_epoch in microseconds. */
  readonly timeMicros: number;
  /** TCP flags byte (FIN..CWR). */
  readonly flags: number;
  /** The outermost tunnel when the segment came through one or more (innermost addresses above). */
  readonly tunnel?: TsharkTunnel;
}

/** A tunnel as tshark dissected it: the outermost layer, in honeyport's names. */
export interface TsharkTunnel {
  readonly type: string;
  readonly source: string;
  readonly destination: string;
  /** VNI, GRE key or ERSPAN session id, when the encapsulation has one. */
  readonly id?: number;
  /** IP headers around the innermost one. */
  readonly depth: number;
}

export interface TsharkRead {
  readonly segments: TsharkSegment[];
  /** tshark reported the file as damaged/cut short; segments cover the readable prefix. */
  readonly damaged: boolean;
  /** Segments that came through a tunnel (two or more IP headers); their addresses are the innermost. */
  readonly tunnelled: number;
  readonly stderr: string;
}

export interface TsharkProbes {
  readonly probes: ProbeMap;
  /** Probe packets from whitelisted sources (not in `probes`). */
  readonly whitelisted: number;
  readonly damaged: boolean;
}

// ---------------------------------------------------------------- probe rules

/**
 * The probe definition of issues 2 and 12, spelt by flag names: SYN without
 * ACK (whatever else is set) is `syn`; SYN with RST and ACK is `odd`; other
 * RST-bearing segments are never probes; ACK set is `ack` (a probe only when
 * it belongs to no connection: the caller asks `ConnectionMemory`); exactly
 * FIN, nothing, FIN+PSH+URG are `fin`, `null`, `xmas` on the low six bits
 * (ECE/CWR do not hide a probe); anything else is `odd`.
 */
export function classifyProbe(flags: number): ProbeKind | null {
  const syn = (flags & 0x02) !== 0;
  const ack = (flags & 0x10) !== 0;
  const rst = (flags & 0x04) !== 0;
  if (syn && !ack) return 'syn';
  if (rst) return syn ? 'odd' : null;
  if (ack) return 'ack';
  switch (flags & 0x3f) {
    case 0x01:
      return 'fin';
    case 0x00:
      return 'null';
    case 0x29:
      return 'xmas';
    default:
      return 'odd';
  }
}

/**
 * Connections to decoy ports as the oracle sees them: unbounded (a Map of
 * the 4-tuple seen from the decoy side and the SYN's direction to the time
 * of its last SYN), where honeyport's SYN memory is a bounded table; the
 * fixtures stay far below its size, so the two must agree on them.
 */
export class ConnectionMemory {
  private readonly lastSyn = new Map<string, number>();

  private static key(remote: string, remotePort: number, decoy: string, decoyPort: number, outbound: boolean): string {
    return `${remote}|${remotePort}|${decoy}|${decoyPort}|${outbound ? 'out' : 'in'}`;
  }

  remember(remote: string, remotePort: number, decoy: string, decoyPort: number, outbound: boolean, timeMicros: number): void {
    const k = ConnectionMemory.key(remote, remotePort, decoy, decoyPort, outbound);
    this.lastSyn.set(k, Math.max(timeMicros, this.lastSyn.get(k) ?? -Infinity));
  }

  private seen(remote: string, remotePort: number, decoy: string, decoyPort: number, outbound: boolean, timeMicros: number): boolean {
    const t = this.lastSyn.get(ConnectionMemory.key(remote, remotePort, decoy, decoyPort, outbound));
    return t !== undefined && timeMicros - t <= CONNECTION_MICROS;
  }

  /** A SYN-ACK belongs if it answers the decoy's own SYN; any other ACK-class segment if a SYN went either way. */
  belongs(remote: string, remotePort: number, decoy: string, decoyPort: number, synAck: boolean, timeMicros: number): boolean {
    if (this.seen(remote, remotePort, decoy, decoyPort, true, timeMicros)) return true;
    return !synAck && this.seen(remote, remotePort, decoy, decoyPort, false, timeMicros);
  }
}

export function probeKey(source: string, destination: string, port: number, type: NetworkType): string {
  return `${source}|${destination}|${port}|${type}`;
}

export function addProbe(
  map: ProbeMap,
  source: string,
  destination: string,
  port: number,
  type: NetworkType,
  packets: number,
  kinds: readonly ProbeKind[],
): void {
  const key = probeKey(source, destination, port, type);
  let entry = map.get(key);
  if (entry === undefined) {
    entry = { source, destination, port, type, packets: 0, kinds: [] };
    map.set(key, entry);
  }
  entry.packets += packets;
  const merged = new Set<ProbeKind>([...entry.kinds, ...kinds]);
  entry.kinds = PROBE_KIND_ORDER.filter((k) => merged.has(k));
}

/** Entries sorted by source, destination, port, type: stable output for expect files and diffs. */
export function sortedProbes(map: ProbeMap): ProbeCount[] {
  const cmp = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);
  return [...map.values()].sort(
    (a, b) => cmp(a.source, b.source) || cmp(a.destination, b.destination) || a.port - b.port || cmp(a.type, b.type),
  );
}

/** Human-readable differences between two probe maps; empty when equal. */
export function diffProbeMaps(
  expected: ProbeMap,
  actual: ProbeMap,
  opts: { compareKinds: boolean } = { compareKinds: true },
): string[] {
  const out: string[] = [];
  for (const [key, e] of expected) {
    const a = actual.get(key);
    if (a === undefined) out.push(`missing ${key}: expected ${e.packets} packet(s)`);
    else if (a.packets !== e.packets) out.push(`count ${key}: expected ${e.packets}, got ${a.packets}`);
    else if (opts.compareKinds && a.kinds.join(',') !== e.kinds.join(','))
      out.push(`kinds ${key}: expected [${e.kinds}], got [${a.kinds}]`);
  }
  for (const [key, a] of actual) {
    if (!expected.has(key)) out.push(`unexpected ${key}: ${a.packets} packet(s)`);
  }
  return out;
}

// ------------------------------------------------------------------ addresses

/**
 * RFC 5952 text for an IPv6 address, dotted quad for IPv4, and
 * "::ffff:a.b.c.d" for IPv4-mapped IPv6 (the form the expect files use).
 */
export function canonicalIp(text: string): string {
  const version = isIP(text);
  if (version === 4) return text.split('.').map((p) => String(Number(p))).join('.');
  if (version !== 6) throw new Error(`not an IP address: ${text}`);
  const groups = ipv6Groups(text);
  if (groups.slice(0, 5).every((g) => g === 0) && groups[5] === 0xffff) {
    return `::ffff:${groups[6]! >> 8}.${groups[6]! & 0xff}.${groups[7]! >> 8}.${groups[7]! & 0xff}`;
  }
  // Longest run of two or more zero groups; the first one on a tie.
  let bestStart = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (bestStart < 0) return hex.join(':');
  return `${hex.slice(0, bestStart).join(':')}::${hex.slice(bestStart + bestLen).join(':')}`;
}

function ipv6Groups(text: string): number[] {
  let t = text.toLowerCase();
  const tail: number[] = [];
  const dotted = t.match(/(\d+\.\d+\.\d+\.\d+)$/);
  if (dotted) {
    const b = dotted[1]!.split('.').map(Number);
    tail.push((b[0]! << 8) | b[1]!, (b[2]! << 8) | b[3]!);
    t = t.slice(0, t.length - dotted[1]!.length);
    if (t.endsWith(':') && !t.endsWith('::')) t = t.slice(0, -1);
  }
  const [head, rest] = t.includes('::') ? t.split('::') : [t, undefined];
  const parse = (s: string | undefined): number[] => (s ? s.split(':').filter((x) => x !== '').map((x) => parseInt(x, 16)) : []);
  const left = parse(head);
  const right = parse(rest);
  const fill = 8 - left.length - right.length - tail.length;
  return [...left, ...(rest !== undefined ? new Array<number>(fill).fill(0) : []), ...right, ...tail];
}

/** Address as a bigint in its family; IPv4-mapped IPv6 is returned as IPv4. */
function addressValue(text: string): { family: 4 | 6; value: bigint } {
  const canon = canonicalIp(text);
  const mapped = canon.startsWith('::ffff:') && canon.includes('.');
  const v4 = mapped ? canon.slice(7) : isIP(canon) === 4 ? canon : null;
  if (v4 !== null) {
    return { family: 4, value: v4.split('.').reduce((acc, p) => (acc << 8n) | BigInt(Number(p)), 0n) };
  }
  return { family: 6, value: ipv6Groups(canon).reduce((acc, g) => (acc << 16n) | BigInt(g), 0n) };
}

interface AddressRange {
  family: 4 | 6;
  first: bigint;
  last: bigint;
}

/** Whitelist entries as in the policy file: addresses, CIDRs, `a-b` ranges. */
export function parseWhitelist(entries: readonly string[]): AddressRange[] {
  return entries.map((entry) => {
    const slash = entry.indexOf('/');
    if (slash >= 0) {
      const base = addressValue(entry.slice(0, slash));
      const bits = base.family === 4 ? 32 : 128;
      // A mapped-IPv6 CIDR would need its prefix shifted; the fixtures do not use one.
      const prefix = Number(entry.slice(slash + 1));
      const host = (1n << BigInt(bits - prefix)) - 1n;
      return { family: base.family, first: base.value & ~host, last: (base.value & ~host) | host };
    }
    const dash = entry.indexOf('-');
    if (dash > 0) {
      const a = addressValue(entry.slice(0, dash));
      const b = addressValue(entry.slice(dash + 1));
      return { family: a.family, first: a.value, last: b.value };
    }
    const a = addressValue(entry);
    return { family: a.family, first: a.value, last: a.value };
  });
}

export function isWhitelisted(address: string, ranges: readonly AddressRange[]): boolean {
  const a = addressValue(address);
  return ranges.some((r) => r.family === a.family && a.value >= r.first && a.value <= r.last);
}

// --------------------------------------------------------------------- policy

/** Reads the fields the probe definition needs from a policy YAML/JSON file. */
export function loadProbePolicy(path: string): ProbePolicy {
  const doc = parseYaml(readFileSync(path, 'utf8')) as {
    ports?: { port: number; protocol: 'tcp' | 'tcp6' }[];
    whitelist?: string[];
  };
  if (!Array.isArray(doc.ports)) throw new Error(`${path}: no explicit ports list`);
  return {
    ports: doc.ports.map((p) => ({ port: p.port, protocol: p.protocol })),
    whitelist: (doc.whitelist ?? []).map(String),
  };
}

/** YAML text of a policy for honeyport (whitelist omitted when empty). */
export function policyYaml(name: string, policy: ProbePolicy): string {
  const ports = policy.ports.map((p) => `  - { port: ${p.port}, protocol: ${p.protocol} }`).join('\n');
  const wl = policy.whitelist.length > 0 ? `whitelist: [${policy.whitelist.map((w) => JSON.stringify(w)).join(', ')}]\n` : '';
  return `name: ${JSON.stringify(name)}\nos: linux\nports:\n${ports}\n${wl}`;
}

// ---------------------------------------------------------------------- tshark

/** tshark's version line, or null when it cannot be run. */
export function tsharkVersion(): string | null {
  const r = spawnSync('tshark', ['--version'], { encoding: 'utf8' });
  if (r.error || r.status !== 0) return null;
  return r.stdout.split('\n')[0] ?? 'tshark';
}

const TSHARK_FIELDS = [
  'frame.number', 'ip.src', 'ip.dst', 'ipv6.src', 'ipv6.dst', 'tcp.dstport', 'tcp.flags', 'tcp.srcport', 'frame.time_epoch',
  'frame.protocols', 'vxlan.vni', 'geneve.vni', 'gre.key', 'erspan.spanid',
];

/** The outermost tunnel of a frame from its protocol list (`eth:ethertype:ip:udp:vxlan:…`). */
function tunnelOf(protocols: string[], ids: Record<string, string>, v4: string[][], v6: string[][]): TsharkTunnel | undefined {
  const ipLayers = protocols.filter((p) => p === 'ip' || p === 'ipv6');
  if (ipLayers.length < 2) return undefined;
  const first = protocols.findIndex((p) => p === 'ip' || p === 'ipv6');
  const outer = protocols[first] === 'ip' ? v4 : v6;
  // IPv6 extension headers (ipv6.dstopts, ipv6.hopopts …) sit between the outer header and the tunnel.
  let at = first + 1;
  while (protocols[at]?.startsWith('ipv6.')) at++;
  const next = protocols[at];
  const after = protocols[at + 1];
  let type: string;
  let id: string | undefined;
  if (next === 'ip') type = 'ipv4-in-ip';
  else if (next === 'ipv6') type = 'ipv6-in-ip';
  else if (next === 'gre' && after === 'erspan') [type, id] = ['erspan', ids.erspan];
  else if (next === 'gre') [type, id] = ['gre', ids.gre];
  else if (next === 'udp' && after === 'vxlan') [type, id] = ['vxlan', ids.vxlan];
  else if (next === 'udp' && after === 'geneve') [type, id] = ['geneve', ids.geneve];
  else type = `unknown:${next}`;
  const firstOf = (v: string | undefined): number | undefined => (v === undefined || v === '' ? undefined : Number(v.split(',')[0]));
  const n = firstOf(id);
  return { type, source: canonicalIp(outer[0]![0]!), destination: canonicalIp(outer[1]![0]!), depth: ipLayers.length - 1, ...(n !== undefined ? { id: n } : {}) };
}

/**
 * Every TCP segment tshark sees, with IPv4/IPv6 reassembly on. TCP headers
 * quoted inside ICMP errors are left out (they are not packets sent to the
 * port). A tunnelled frame (two or more IP headers, `frame.protocols`
 * says in which order) gives its innermost addresses, and its outermost
 * tunnel in `tunnel`.
 */
export function readTsharkSegments(file: string): TsharkRead {
  if (!existsSync(file)) throw new Error(`no such file: ${file}`);
  const args = [
    '-n',
    '-r', file,
    '-o', 'ip.defragment:TRUE',
    '-o', 'ipv6.defragment:TRUE',
    '-o', 'tcp.desegment_tcp_streams:FALSE',
    '-o', 'tcp.analyze_sequence_numbers:FALSE',
    '-Y', 'tcp && !icmp && !icmpv6',
    '-T', 'fields',
    '-E', 'separator=/t',
    '-E', 'occurrence=a',
    '-E', 'aggregator=,',
    ...TSHARK_FIELDS.flatMap((f) => ['-e', f]),
  ];
  const r = spawnSync('tshark', args, { encoding: 'utf8', maxBuffer: 256 * 1024 * 1024 });
  if (r.error) throw r.error;
  const stderr = r.stderr ?? '';
  const damaged = /damaged or corrupt|cut short|appears to be damaged|isn't a capture file|unknown file format/i.test(stderr);
  if (r.status !== 0 && !damaged) throw new Error(`tshark failed on ${file} (${r.status}): ${stderr}`);
  const segments: TsharkSegment[] = [];
  let tunnelled = 0;
  for (const line of r.stdout.split('\n')) {
    if (line === '') continue;
    const [frame, ipSrc, ipDst, ip6Src, ip6Dst, dport, flags, sport, time, protocols, vxlanVni, geneveVni, greKey, erspanId] = line.split('\t');
    if (dport === undefined || dport === '' || dport.includes(',') || flags === undefined || flags === '') continue;
    const list = (v: string | undefined): string[] => (v ?? '') === '' ? [] : v!.split(',');
    const v4: string[][] = [list(ipSrc), list(ipDst)];
    const v6: string[][] = [list(ip6Src), list(ip6Dst)];
    const layers = (protocols ?? '').split(':');
    // The innermost IP header is the last `ip`/`ipv6` layer; without a protocol list, the only one.
    const innermost = layers.filter((p) => p === 'ip' || p === 'ipv6').at(-1) ?? (v4[0]!.length > 0 ? 'ip' : v6[0]!.length > 0 ? 'ipv6' : undefined);
    if (innermost === undefined) continue;
    const inner = innermost === 'ip' ? v4 : v6;
    if (inner[0]!.length === 0) continue;
    const tunnel = tunnelOf(layers, { vxlan: vxlanVni ?? '', geneve: geneveVni ?? '', gre: greKey ?? '', erspan: erspanId ?? '' }, v4, v6);
    if (tunnel !== undefined) tunnelled++;
    segments.push({
      frame: Number(frame),
      type: innermost === 'ip' ? 'ipv4' : 'ipv6',
      source: canonicalIp(inner[0]!.at(-1)!),
      destination: canonicalIp(inner[1]!.at(-1)!),
      port: Number(dport),
      sourcePort: Number(sport),
      timeMicros: epochMicros(time ?? ''),
      flags: parseInt(flags, 16) & 0xff,
      ...(tunnel !== undefined ? { tunnel } : {}),
    });
  }
  return { segments, damaged, tunnelled, stderr };
}

/** "1764454253.881483000" → microseconds, exactly (no float rounding of the fraction). */
function epochMicros(text: string): number {
  const [whole, fraction = ''] = text.split('.');
  return Number(whole) * 1e6 + Number(fraction.padEnd(6, '0').slice(0, 6));
}

/** The probe map of some segments under a policy (issues 2 and 12), in frame order. */
export function probesOf(
  segments: readonly TsharkSegment[],
  policy: ProbePolicy,
  serverAddresses: readonly string[] = [],
): { probes: ProbeMap; whitelisted: number } {
  const portType = new Map<number, NetworkType>(policy.ports.map((p) => [p.port, p.protocol === 'tcp' ? 'ipv4' : 'ipv6']));
  const whitelist = parseWhitelist(policy.whitelist);
  const servers = new Set(serverAddresses.map(canonicalIp));
  const probes: ProbeMap = new Map();
  let whitelisted = 0;
  const connections = new ConnectionMemory();
  for (const s of segments) {
    if (portType.get(s.port) !== s.type) {
      // A SYN the decoy port sent (captures hold both directions): its answers are no probes.
      if (portType.get(s.sourcePort) === s.type && (s.flags & 0x12) === 0x02) connections.remember(s.destination, s.port, s.source, s.sourcePort, true, s.timeMicros);
      continue;
    }
    const kind = classifyProbe(s.flags);
    if (kind === null) continue;
    if (kind === 'syn') connections.remember(s.source, s.sourcePort, s.destination, s.port, false, s.timeMicros);
    if (kind === 'ack' && connections.belongs(s.source, s.sourcePort, s.destination, s.port, (s.flags & 0x02) !== 0, s.timeMicros)) continue;
    if (servers.size > 0 && !servers.has(s.destination)) continue;
    if (isWhitelisted(s.source, whitelist)) {
      whitelisted++;
      continue;
    }
    addProbe(probes, s.source, s.destination, s.port, s.type, 1, [kind]);
  }
  return { probes, whitelisted };
}

export function tsharkProbes(file: string, policy: ProbePolicy, serverAddresses: readonly string[] = []): TsharkProbes {
  const read = readTsharkSegments(file);
  const { probes, whitelisted } = probesOf(read.segments, policy, serverAddresses);
  return { probes, whitelisted, damaged: read.damaged };
}

/**
 * A policy whose ports are the file's most-probed destination ports (by
 * probe-shaped segments, any destination), at most `max`, each port bound to
 * the IP version that probed it most. Falls back to 445/tcp for a file with
 * no probes, so that the comparison still checks for false alarms.
 */
export function policyFromBusiestPorts(segments: readonly TsharkSegment[], max = 10): ProbePolicy {
  const counts = new Map<number, { ipv4: number; ipv6: number }>();
  for (const s of segments) {
    // Port 0 is probed by masscan but cannot be a policy port.
    if (s.port === 0 || classifyProbe(s.flags) === null) continue;
    const c = counts.get(s.port) ?? { ipv4: 0, ipv6: 0 };
    c[s.type]++;
    counts.set(s.port, c);
  }
  const ranked = [...counts.entries()]
    .map(([port, c]) => ({ port, total: c.ipv4 + c.ipv6, protocol: (c.ipv6 > c.ipv4 ? 'tcp6' : 'tcp') as 'tcp' | 'tcp6' }))
    .sort((a, b) => b.total - a.total || a.port - b.port)
    .slice(0, max);
  const ports = ranked.length > 0 ? ranked.map(({ port, protocol }) => ({ port, protocol })) : [{ port: 445, protocol: 'tcp' as const }];
  return { ports: ports.sort((a, b) => a.port - b.port), whitelist: [] };
}

// ---------------------------------------------------------- honeyport's side

export interface ReplayRun {
  readonly status: number | null;
  readonly alarms: Record<string, unknown>[];
  /** stdout lines that are not JSON objects (there should be none). */
  readonly badLines: string[];
  readonly stderr: string;
}

export interface ReplayOptions {
  readonly policyFile: string;
  readonly window: string;
  readonly serverAddresses?: readonly string[];
  readonly cliPath: string;
}

/** Runs `honeyport replay` (the built CLI) on one file and parses its stdout. */
export function runReplay(file: string, opts: ReplayOptions): ReplayRun {
  const args = [opts.cliPath, 'replay', '--policy', opts.policyFile, '--window', opts.window];
  for (const a of opts.serverAddresses ?? []) args.push('--server-address', a);
  args.push(file);
  const r = spawnSync(process.execPath, args, { encoding: 'utf8', maxBuffer: 256 * 1024 * 1024, timeout: 120_000 });
  if (r.error) throw r.error;
  const alarms: Record<string, unknown>[] = [];
  const badLines: string[] = [];
  for (const line of r.stdout.split('\n')) {
    if (line.trim() === '') continue;
    try {
      const v: unknown = JSON.parse(line);
      if (v !== null && typeof v === 'object' && !Array.isArray(v)) alarms.push(v as Record<string, unknown>);
      else badLines.push(line);
    } catch {
      badLines.push(line);
    }
  }
  return { status: r.status, alarms, badLines, stderr: r.stderr ?? '' };
}

/** An ECS field by dotted name, from nested objects or a flat dotted key. */
export function ecsField(obj: Record<string, unknown>, path: string): unknown {
  if (path in obj) return obj[path];
  let cur: unknown = obj;
  for (const part of path.split('.')) {
    if (cur === null || typeof cur !== 'object') return undefined;
    cur = (cur as Record<string, unknown>)[part];
  }
  return cur;
}

/**
 * honeyport's alarms as a probe map: `event.count` summed per key over the
 * port-probe alarms. Flood alarms are returned apart (their probes are not
 * attributed to a key).
 */
export function probesOfAlarms(alarms: readonly Record<string, unknown>[]): { probes: ProbeMap; floods: number; malformed: string[] } {
  const probes: ProbeMap = new Map();
  const malformed: string[] = [];
  let floods = 0;
  for (const alarm of alarms) {
    const action = ecsField(alarm, 'event.action');
    const count = ecsField(alarm, 'event.count');
    if (action === 'honeypot-flood') {
      floods += typeof count === 'number' ? count : 0;
      continue;
    }
    const source = ecsField(alarm, 'source.ip');
    const destination = ecsField(alarm, 'destination.ip');
    const port = ecsField(alarm, 'destination.port');
    const type = ecsField(alarm, 'network.type');
    const kinds = ecsField(alarm, 'honeyport.kinds') ?? ecsField(alarm, 'honeyport.probe_kinds') ?? [];
    if (
      action !== 'honeypot-port-probe' ||
      typeof source !== 'string' ||
      typeof destination !== 'string' ||
      typeof port !== 'number' ||
      (type !== 'ipv4' && type !== 'ipv6') ||
      typeof count !== 'number' ||
      !Array.isArray(kinds)
    ) {
      malformed.push(JSON.stringify(alarm));
      continue;
    }
    addProbe(probes, canonicalIp(source), canonicalIp(destination), port, type, count, kinds as ProbeKind[]);
  }
  return { probes, floods, malformed };
}

/**
 * SYN-to-alarm latency: single SYNs, each from a source never seen before (so
 * each must raise a first alarm at once), sent from the attacker namespace by
 * a small raw-socket program that notes CLOCK_MONOTONIC just before each
 * send. The bench notes the same clock when the alarm line arrives on the
 * sensor's stdout pipe. Namespaces share the clock, so the difference is the
 * whole path: wire, ring, block retirement, hand-off, decode, detect, format,
 * pipe.
 */
import type { BenchNet } from './live-net.js';
import { runIn } from './live-proc.js';

/**
 * Prebuilds every frame, then sends them `gap` apart; with `repeat`, a second
 * sweep of the same frames follows (a scanner's retransmissions). Prints
 * "source monotonic_ns" per probe, the time of its last send.
 */
const SENDER = String.raw`
import socket, struct, sys, time
iface, src_mac, dst_mac, dst_ip, port, count, gap_ms, octet3, repeat = sys.argv[1:10]
port, count, gap, octet3, sweeps = int(port), int(count), int(gap_ms) / 1000.0, int(octet3), 2 if repeat == '1' else 1

def csum(b):
    if len(b) % 2:
        b += b'\0'
    s = sum(struct.unpack('!%dH' % (len(b) // 2), b))
    while s >> 16:
        s = (s & 0xffff) + (s >> 16)
    return (~s) & 0xffff

eth = bytes.fromhex(dst_mac.replace(':', '')) + bytes.fromhex(src_mac.replace(':', '')) + b'\x08\x00'
dst = socket.inet_aton(dst_ip)
frames = []
for i in range(count):
    src = bytes([198, 18, octet3 + i // 250, 1 + i % 250])
    tcp = struct.pack('!HHIIBBHHH', 20000 + i, port, 7919 * (i + 1), 0, 0x50, 0x02, 1024, 0, 0)
    tcp = tcp[:16] + struct.pack('!H', csum(src + dst + struct.pack('!BBH', 0, 6, len(tcp)) + tcp)) + tcp[18:]
    iph = struct.pack('!BBHHHBBH4s4s', 0x45, 0, 40, i + 1, 0, 64, 6, 0, src, dst)
    iph = iph[:10] + struct.pack('!H', csum(iph)) + iph[12:]
    frames.append((socket.inet_ntoa(src), eth + iph + tcp))

s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
s.bind((iface, 0))
last = {}
for sweep in range(sweeps):
    for src, frame in frames:
        last[src] = time.monotonic_ns()
        s.send(frame)
        time.sleep(gap)
print('\n'.join('%s %d' % (src, t) for src, t in last.items()))
`;

export interface ProbePlan {
  readonly count: number;
  readonly gapMs: number;
  /** Third octet of the first source: probes come from 198.18.<octet3…>.1-250. */
  readonly octet3: number;
  readonly port: number;
  /** Each source probes twice: a second sweep after the first; latency counts from the second probe. */
  readonly repeat?: boolean;
}

/** Source address → monotonic ns at send. */
export async function sendProbes(net: BenchNet, plan: ProbePlan): Promise<Map<string, bigint>> {
  const python = '/usr/bin/python3';
  const deadline = 20_000 + plan.count * plan.gapMs * 2 * (plan.repeat ? 2 : 1);
  const r = await runIn(
    net.attacker.ns,
    python,
    ['-c', SENDER, net.attacker.iface, net.attacker.mac, net.server.mac, net.server.v4, String(plan.port), String(plan.count), String(plan.gapMs), String(plan.octet3), plan.repeat ? '1' : '0'],
    deadline,
  );
  if (r.code !== 0) throw new Error(`probe sender exited ${r.code}: ${r.stderr.slice(0, 500)}`);
  const sent = new Map<string, bigint>();
  for (const line of r.stdout.split('\n')) {
    const [src, t] = line.trim().split(' ');
    if (src && t) sent.set(src, BigInt(t));
  }
  return sent;
}

export interface LatencyResult {
  readonly sent: number;
  readonly alarmed: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly maxMs: number;
}

/** Nearest-rank percentile of sorted values. */
function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}

export function latency(sent: ReadonlyMap<string, bigint>, alarmedAt: ReadonlyMap<string, bigint>): LatencyResult {
  const ms: number[] = [];
  for (const [src, t] of sent) {
    const a = alarmedAt.get(src);
    // A source alarmed at its first probe (a repeat plan) was alarmed before the probe counted from: 0.
    if (a !== undefined) ms.push(Math.max(0, Number(a - t) / 1e6));
  }
  ms.sort((x, y) => x - y);
  return { sent: sent.size, alarmed: ms.length, p50Ms: percentile(ms, 50), p99Ms: percentile(ms, 99), maxMs: ms.at(-1) ?? NaN };
}

/**
 * Load for the live benchmark: trafgen packet configurations for TCP SYNs
 * from random spoofed sources to one honeypot port, and a bounded trafgen run.
 * Frames are written byte by byte (Ethernet included) so no neighbour lookup
 * or routing happens on the sending side; checksums are recomputed by trafgen
 * per packet because the randomised fields change them.
 */
import { writeFileSync } from 'node:fs';
import { parseAddress } from '../../src/net/address.js';
import { FLOOD_V4_PREFIX, FLOOD_V6_PREFIX, type BenchNet } from './live-net.js';
import { runIn } from './live-proc.js';

export type Family = 4 | 6;

const hexBytes = (bytes: Iterable<number>): string => [...bytes].map((b) => `0x${b.toString(16).padStart(2, '0')}`).join(', ');

function addressBytes(text: string, family: Family): Uint8Array {
  const a = parseAddress(text);
  if (!a || a.family !== family) throw new Error(`not an IPv${family} address: ${text}`);
  return a.bytes;
}

const macBytes = (mac: string): number[] => mac.split(':').map((h) => parseInt(h, 16));

/**
 * One SYN template. IPv4: source 198.19.<rnd>.<rnd> (65,536 sources);
 * IPv6: source fd00:ff::<64 random bits> (every packet a new source).
 * Source port and sequence number are random in both.
 */
export function synFloodConfig(net: BenchNet, family: Family, port: number): string {
  const eth = `${hexBytes(macBytes(net.server.mac))}, ${hexBytes(macBytes(net.attacker.mac))}`;
  const tcp = `drnd(2), c16(${port}), drnd(4), c32(0), c16(0x5002), c16(1024)`;
  if (family === 4) {
    const dst = hexBytes(addressBytes(net.server.v4, 4));
    return `{
  ${eth}, c16(0x0800),
  0x45, 0x00, c16(40), drnd(2), c16(0), 64, 6, csumip(14, 33),
  ${FLOOD_V4_PREFIX.join(', ')}, drnd(2),
  ${dst},
  ${tcp}, csumtcp(14, 34), c16(0)
}
`;
  }
  const src = hexBytes(addressBytes(FLOOD_V6_PREFIX, 6).subarray(0, 8));
  const dst = hexBytes(addressBytes(net.server.v6, 6));
  return `{
  ${eth}, c16(0x86dd),
  0x60, 0x00, 0x00, 0x00, c16(20), 6, 64,
  ${src}, drnd(8),
  ${dst},
  ${tcp}, csumtcp6(14, 54), c16(0)
}
`;
}

export interface TrafgenRun {
  readonly count: number;
  /** Packets per second asked for; undefined = as fast as the machine goes. */
  readonly rate: number | undefined;
  readonly code: number | null;
  readonly wallSeconds: number;
  readonly stderr: string;
}

/**
 * Sends `count` packets of `configFile` from the attacker's veth end. One
 * sender process: the other core is left to the capture under test.
 */
export async function trafgen(net: BenchNet, configFile: string, count: number, rate: number | undefined, deadlineMs: number): Promise<TrafgenRun> {
  // Leave the host's socket memory and IRQ affinity alone.
  const args = ['-o', net.attacker.iface, '-i', configFile, '-n', String(count), '-P', '1', '--no-sock-mem', '--notouch-irq', '-C'];
  if (rate !== undefined) args.push('-b', `${rate}pps`);
  const r = await runIn(net.attacker.ns, 'trafgen', args, deadlineMs);
  return { count, rate, code: r.code, wallSeconds: r.wallSeconds, stderr: r.stderr };
}

export function writeConfig(file: string, config: string): string {
  writeFileSync(file, config);
  return file;
}

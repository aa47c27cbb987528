/**
 * Reading speed of the capture reader against pcap-parser (not a test).
 *
 *   node dist/test/source/read-speed.js [packets=1000000] [small|mixed]
 *
 * Generates a classic pcap in the OS temp directory, reads it with
 * readCapture (plain and gzip) and with pcap-parser, prints packets/s, removes
 * the files.
 */
import { closeSync, openSync, rmSync, writeSync, createReadStream, createWriteStream } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { createGzip } from 'node:zlib';
import { readCapture } from '../../src/source/capture-file.js';

interface PcapParser {
  parse(input: string): NodeJS.EventEmitter;
}
const pcapParser = createRequire(import.meta.url)('pcap-parser') as PcapParser;

function frameLength(i: number, mix: string): number {
  if (mix === 'small') return 66;
  // Mostly small control/ACK segments, some mid-size, a few full frames.
  const r = (i * 2654435761) % 100;
  return r < 70 ? 66 : r < 90 ? 240 : 1514;
}

function generate(path: string, packets: number, mix: string): number {
  const fd = openSync(path, 'w');
  const header = Buffer.alloc(24);
  header.writeUInt32LE(0xa1b2c3d4, 0);
  header.writeUInt16LE(2, 4);
  header.writeUInt16LE(4, 6);
  header.writeUInt32LE(262144, 16);
  header.writeUInt32LE(1, 20);
  writeSync(fd, header);
  const chunk = Buffer.alloc(4 << 20);
  let at = 0;
  let bytes = 24;
  for (let i = 0; i < packets; i++) {
    const len = frameLength(i, mix);
    if (at + 16 + len > chunk.length) {
      writeSync(fd, chunk, 0, at);
      at = 0;
    }
    const us = 1_700_000_000_000_000 + i * 10;
    chunk.writeUInt32LE(Math.floor(us / 1e6), at);
    chunk.writeUInt32LE(us % 1e6, at + 4);
    chunk.writeUInt32LE(len, at + 8);
    chunk.writeUInt32LE(len, at + 12);
    chunk.fill(i & 0xff, at + 16, at + 16 + len);
    at += 16 + len;
    bytes += 16 + len;
  }
  writeSync(fd, chunk, 0, at);
  closeSync(fd);
  return bytes;
}

async function ours(path: string): Promise<number> {
  let n = 0;
  let sum = 0;
  for await (const b of readCapture(path)) {
    n += b.count;
    // Touch each frame so the loop is not empty.
    for (let i = 0; i < b.count; i++) sum += b.caplen[i];
  }
  if (sum === 0) throw new Error('no bytes');
  return n;
}

function theirs(path: string): Promise<number> {
  return new Promise((resolve, reject) => {
    let n = 0;
    const p = pcapParser.parse(path);
    p.on('packet', () => n++);
    p.on('error', reject);
    p.on('end', () => resolve(n));
  });
}

/** Median wall time of `rounds` runs (the first run of each warms the JIT and page cache). */
async function time(label: string, packets: number, rounds: number, run: () => Promise<number>): Promise<void> {
  const times: number[] = [];
  for (let r = 0; r <= rounds; r++) {
    const t0 = process.hrtime.bigint();
    const n = await run();
    const s = Number(process.hrtime.bigint() - t0) / 1e9;
    if (n !== packets) throw new Error(`${label}: read ${n} of ${packets}`);
    if (r > 0) times.push(s);
  }
  times.sort((a, b) => a - b);
  const s = times[times.length >> 1];
  console.log(`${label.padEnd(28)} ${s.toFixed(3)} s  ${(packets / s / 1e6).toFixed(2)} M packets/s (median of ${rounds})`);
}

async function main(): Promise<void> {
  const packets = Number(process.argv[2] ?? 1_000_000);
  const mix = process.argv[3] ?? 'mixed';
  const path = join(tmpdir(), `honeyport-speed-${process.pid}.pcap`);
  const gz = `${path}.gz`;
  try {
    const bytes = generate(path, packets, mix);
    console.log(`${packets} packets, ${(bytes / 1e6).toFixed(1)} MB (${mix})`);
    await pipeline(createReadStream(path), createGzip({ level: 1 }), createWriteStream(gz));
    await time('honeyport reader', packets, 7, () => ours(path));
    await time('honeyport reader (gzip)', packets, 3, () => ours(gz));
    await time('pcap-parser', packets, 3, () => theirs(path));
  } finally {
    rmSync(path, { force: true });
    rmSync(gz, { force: true });
  }
}

await main();

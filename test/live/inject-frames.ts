/**
 * Sends crafted Ethernet frames out of a device with libpcap, through the
 * `cap` package (its fit in this project: injecting frames that no tool or
 * kernel stack would build, e.g. QinQ-tagged or hand-fragmented probes).
 * Usage: node inject-frames.js DEVICE FILE.json   (FILE: array of hex frames)
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';

interface CapInstance {
  open(device: string, filter: string, bufSize: number, buffer: Buffer): string;
  send(buffer: Buffer, length?: number): void;
  close(): void;
}

const require = createRequire(import.meta.url);
const { Cap } = require('cap') as { Cap: new () => CapInstance };

const [device, file] = process.argv.slice(2);
if (!device || !file) {
  process.stderr.write('usage: inject-frames DEVICE FILE.json\n');
  process.exit(2);
}
const frames = (JSON.parse(readFileSync(file, 'utf8')) as string[]).map((h) => Buffer.from(h, 'hex'));
const cap = new Cap();
// cap keeps a raw pointer to this buffer without holding it: it must stay
// referenced for the capture's whole life (DESIGN.md, measured facts).
const receive = Buffer.alloc(65536);
cap.open(device, '', 1 << 20, receive);
for (const f of frames) cap.send(f, f.length);
cap.close();
process.stdout.write(`${frames.length} frames sent (receive buffer ${receive.length} bytes kept alive)\n`);

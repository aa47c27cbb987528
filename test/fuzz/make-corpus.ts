/**
 * Writes the hand-made regression inputs of issue 9 into test/fuzz-corpus/
 * (run once; the files are committed): each is the smallest input that
 * showed a defect, so the corpus test keeps them fixed. Fuzzer finds join
 * them there by themselves.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { writePcapng } from '../helpers/capture-writer.js';
import { ethernet, ipv4, tcp } from '../helpers/frame-builder.js';

const CORPUS = fileURLToPath(new URL('../../../test/fuzz-corpus/', import.meta.url));

function put(target: string, name: string, bytes: Buffer | string): void {
  mkdirSync(join(CORPUS, target), { recursive: true });
  writeFileSync(join(CORPUS, target, name), bytes);
}

const aliasBomb = ['a0: &a0 [lol]', ...Array.from({ length: 9 }, (_, i) => `a${i + 1}: &a${i + 1} [${Array(10).fill(`*a${i}`).join(', ')}]`), 'os: linux', 'ports: recommended', ''].join('\n');
for (const t of ['policy', 'cli-policy']) put(t, 'issue9-alias-bomb.yaml', aliasBomb);
put('config', 'issue9-alias-bomb.yaml', aliasBomb.replace('os: linux\nports: recommended', 'sinks: [{type: stdout}]'));
put('policy', 'issue9-nested-explicit-keys.yaml', `os: linux\nports: recommended\nname:\n  ${'? '.repeat(1000)}x\n`);
put('policy', 'issue9-nested-dashes.yaml', `x:\n  ${'- '.repeat(30_000)}x\n`);
put('policy', 'issue9-syntax-positions.yaml', 'os: linux\nos: windows\nports:\n\t- {port: 1, protocol: tcp}\nwhitelist: [\n');
put('cli-policy', 'issue9-control-characters.yaml', 'os: linux\nports: recommended\nwhitelist: ["10.0.0.1\\n\\u001b]0;owned\\u0007", "\\u202e1.2.3.4"]\n"k\\r\\n": 1\n');
put('policy', 'issue9-mapped-whitelist.yaml', 'os: linux\nports: [{port: 4444, protocol: tcp}]\nwhitelist: ["::ffff:198.18.0.1", "::ffff:198.18.0.0/120", "::198.18.0.1"]\n');

const syn = (src: string): Uint8Array => ethernet(ipv4({ src, dst: '198.18.0.1', payload: tcp({ srcPort: 40000, dstPort: 445 }) }));
const badTime = writePcapng([{ blocks: [
  { type: 'idb', linktype: 1 },
  { type: 'idb', linktype: 1, tsresol: 0 },
  { type: 'epb', iface: 0, ticks: 1_700_000_000_123_456n, data: syn('198.18.0.2') },
  { type: 'epb', iface: 1, ticks: 0xffff_0000n << 32n, data: syn('198.18.0.3') },
] }]);
const badOffset = writePcapng([{ blocks: [
  { type: 'idb', linktype: 1, tsoffset: 1n << 62n },
  { type: 'epb', iface: 0, ticks: 0n, data: syn('198.18.0.2') },
] }]);
for (const t of ['replay', 'cli-replay']) put(t, 'issue9-tsresol0-high-word.pcap', badTime);
put('replay', 'issue9-tsoffset-2e62.pcap', badOffset);
const shb = writePcapng([{ blocks: [] }]);
const idb = writePcapng([{ blocks: [{ type: 'idb', linktype: 1 }] }]).subarray(shb.length);
put('cli-replay', 'issue9-idb-flood.pcap', gzipSync(Buffer.concat([shb, ...Array(70_000).fill(idb)])));

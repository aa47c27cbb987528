/**
 * The differential oracle: p0f 3.09b itself (`p0f -r FILE -f DB`), its
 * per-SYN records parsed, and honeyport's fingerprint of every SYN of the
 * same file, so a test can pair them up.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Decoder } from '../../src/decode/decoder.js';
import { DecodeStatus } from '../../src/decode/segment.js';
import type { Fingerprint } from '../../src/fingerprint/fingerprint.js';
import { HONEYPORT_SIGNATURES } from '../../src/fingerprint/honeyport-signatures.js';
import { DEFAULT_P0F_DATABASE } from '../../src/fingerprint/load.js';
import { parseSignatureFiles } from '../../src/fingerprint/signature-file.js';
import { SynFingerprinter } from '../../src/fingerprint/syn-fingerprinter.js';
import { CaptureDamagedError, readCapture } from '../../src/source/capture-file.js';

export interface SynRecord {
  /** `src/sport -> dst/dport`, addresses as p0f prints them (IPv6: 8 groups, no compression). */
  readonly flow: string;
  /** What p0f prints after `os =` / `app =`: a name and flavour, or `???`. */
  readonly name: string;
  readonly raw: string;
  /** p0f's params line (`generic`, `fuzzy`, `random_ttl`, …) or honeyport's match kind. */
  readonly params: string;
}

export function p0fAvailable(): string | undefined {
  if (spawnSync('p0f', ['-h'], { encoding: 'utf8' }).error) return 'p0f is not installed (apt install p0f)';
  if (!existsSync(DEFAULT_P0F_DATABASE)) return `${DEFAULT_P0F_DATABASE} is missing`;
  return undefined;
}

/** p0f's database followed by honeyport's own signatures, as one file (p0f must accept it whole). */
export function combinedDatabase(): string {
  const dir = mkdtempSync(join(tmpdir(), 'honeyport-p0f-'));
  const path = join(dir, 'combined.fp');
  writeFileSync(path, `${readFileSync(DEFAULT_P0F_DATABASE, 'utf8')}\n${HONEYPORT_SIGNATURES}`);
  return path;
}

/** p0f's SYN records for `file`, in order. Throws when p0f fails (e.g. it refuses the database). */
export function p0fRecords(file: string, database: string): SynRecord[] {
  const r = spawnSync('p0f', ['-r', file, '-f', database], { encoding: 'utf8', maxBuffer: 256 << 20, timeout: 60_000 });
  if (r.status !== 0) throw new Error(`p0f -r ${file}: exit ${r.status}: ${(r.stdout + r.stderr).split('\n').filter((l) => /\[-\]|FATAL/.test(l)).join(' ')}`);
  const out: SynRecord[] = [];
  const blocks = r.stdout.split('\n.-[ ').slice(1);
  for (const b of blocks) {
    const head = /^(\S+) -> (\S+) \((?:syn|sendsyn probe)\) \]-/.exec(b); // p0f-sendsyn-like SYNs (window 1337, MSS 1331) are "sendsyn probe"
    if (!head) continue;
    const field = (k: string): string => new RegExp(`^\\| ${k}\\s*= (.*)$`, 'm').exec(b)?.[1] ?? '';
    out.push({ flow: `${head[1]} -> ${head[2]}`, name: field('(?:os|app)'), raw: field('raw_sig'), params: field('params') });
  }
  return out;
}

function address(family: number, a: Uint8Array): string {
  if (family === 4) return Array.from(a.subarray(0, 4)).join('.');
  const g: string[] = [];
  for (let i = 0; i < 16; i += 2) g.push(((a[i]! << 8) | a[i + 1]!).toString(16));
  return g.join(':');
}

export function honeyportFingerprinter(): SynFingerprinter {
  return new SynFingerprinter(
    parseSignatureFiles([
      { name: DEFAULT_P0F_DATABASE, text: readFileSync(DEFAULT_P0F_DATABASE, 'utf8') },
      { name: 'honeyport-signatures', text: HONEYPORT_SIGNATURES },
    ]),
  );
}

/** honeyport's fingerprint of every SYN (that p0f's rules fingerprint) in `file`, in order. */
export interface HoneyportRecord extends SynRecord {
  readonly fingerprint: Fingerprint;
  /** The IP datagram as captured (header to the end of the TCP header at least), to show p0f on its own. */
  readonly ip: Uint8Array;
  /** Rebuilt from fragments (of the packet or of a tunnel around it): p0f reassembles nothing. */
  readonly reassembled: boolean;
}

export async function honeyportRecords(file: string, fp: SynFingerprinter): Promise<HoneyportRecord[]> {
  const dec = new Decoder();
  const seg = dec.segment;
  const out: HoneyportRecord[] = [];
  try {
    for await (const b of readCapture(file)) {
      for (let i = 0; i < b.count; i++) {
        if (dec.decodeAt(b, i) !== DecodeStatus.Segment) continue;
        const f = fp.identify(seg);
        if (!f) continue;
        const flow = `${address(seg.family, seg.src)}/${seg.srcPort} -> ${address(seg.family, seg.dst)}/${seg.dstPort}`;
        const d = seg.header;
        const total = seg.family === 4 ? (d[seg.ipStart + 2]! << 8) | d[seg.ipStart + 3]! : 40 + ((d[seg.ipStart + 4]! << 8) | d[seg.ipStart + 5]!);
        const ip = d.slice(seg.ipStart, Math.max(seg.headerEnd, Math.min(seg.ipStart + total, b.offset[i]! + b.caplen[i]!)));
        out.push({ flow, name: f.match === 'none' ? '???' : f.name, raw: f.signature, params: f.match, fingerprint: f, ip, reassembled: seg.reassembled });
      }
    }
  } catch (err) {
    if (!(err instanceof CaptureDamagedError)) throw err;
  }
  return out;
}

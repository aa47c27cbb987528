/**
 * Decodes every frame of the public captures in ../shared/pcaps and compares
 * the count of SYN-without-ACK segments with tshark's (MANIFEST.tsv column
 * syn_noack_pkts, counted with IP reassembly on).
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Decoder } from '../../src/decode/decoder.js';
import { TcpFlag } from '../../src/decode/segment.js';
import { CaptureDamagedError, readCapture } from '../../src/source/capture-file.js';
import { DecodeStatus } from './harness.js';

// dist/test/decode/ -> the repository's parent, where shared/pcaps lives.
const DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../../shared/pcaps');
const MANIFEST = path.join(DIR, 'MANIFEST.tsv');

interface Row {
  file: string;
  packets: number;
  synNoAck: number;
}

interface Result {
  dec: Decoder;
  synNoAck: number;
  damaged: boolean;
  /** Largest payloadLength seen (for the BIG TCP capture). */
  maxPayload: number;
}

function manifest(): Row[] {
  const [header, ...lines] = fs.readFileSync(MANIFEST, 'utf8').trim().split('\n');
  const cols = header.split('\t');
  const at = (name: string): number => {
    const i = cols.indexOf(name);
    assert.ok(i >= 0, `MANIFEST.tsv has no column ${name}`);
    return i;
  };
  const [f, p, s] = [at('file'), at('packets'), at('syn_noack_pkts')];
  return lines.map((l) => l.split('\t')).map((c) => ({ file: c[f], packets: Number(c[p]), synNoAck: Number(c[s]) }));
}

async function decodeFile(file: string): Promise<Result> {
  const dec = new Decoder();
  const r: Result = { dec, synNoAck: 0, damaged: false, maxPayload: 0 };
  try {
    for await (const b of readCapture(file)) {
      for (let i = 0; i < b.count; i++) {
        const st = dec.decode(b.data, b.offset[i], b.caplen[i], b.linktype[i], b.tsMicros[i], b.vlan[i]);
        if (st !== DecodeStatus.Segment) continue;
        const s = dec.segment;
        if ((s.flags & (TcpFlag.SYN | TcpFlag.ACK)) === TcpFlag.SYN) r.synNoAck++;
        if (s.payloadLength > r.maxPayload) r.maxPayload = s.payloadLength;
      }
    }
  } catch (e) {
    // Damaged captures: every packet before the damage was decoded.
    if (!(e instanceof CaptureDamagedError)) throw e;
    r.damaged = true;
  }
  return r;
}

describe('decode: public captures (../shared/pcaps)', function () {
  const present = fs.existsSync(MANIFEST);
  const results = new Map<string, Result>();

  before(async function () {
    if (!present) {
      console.log(`    (skipped: ${MANIFEST} not found)`);
      this.skip();
    }
    for (const row of manifest()) {
      const file = path.join(DIR, row.file);
      if (fs.existsSync(file)) results.set(row.file, await decodeFile(file));
    }
  });

  it('decodes every frame and matches tshark\'s SYN-without-ACK count in every file', () => {
    const differ: string[] = [];
    for (const row of manifest()) {
      const r = results.get(row.file);
      if (!r) continue;
      assert.equal(r.dec.counters.frames, row.packets, `${row.file}: frames`);
      if (r.synNoAck !== row.synNoAck) differ.push(`${row.file}: honeyport ${r.synNoAck}, tshark ${row.synNoAck}`);
    }
    assert.deepEqual(differ, []);
    assert.ok(results.size > 40, 'most captures were read');
  });

  it('reassembles the SYN split across IPv4 fragments', () => {
    const r = results.get('zeek_ipv4_fragmented-syn.pcap');
    assert.ok(r);
    assert.equal(r.dec.counters.reassembled, 1);
    assert.equal(r.synNoAck, 1);
  });

  it('reassembles the fragroute-style overlap whose conflict is in the payload only (the TCP header agrees)', () => {
    const r = results.get('zeek_ipv4_fragmented-4.pcap');
    assert.ok(r);
    assert.equal(r.dec.counters.fragmentOverlaps, 0);
    assert.equal(r.dec.counters.reassembled, 1);
  });

  it('decodes the BIG TCP jumbogram from its Hop-by-Hop Jumbo option', () => {
    const r = results.get('tcpdump_bigtcp-ipv6-hbh.pcap');
    assert.ok(r);
    assert.equal(r.dec.counters.malformed, 0);
    assert.equal(r.maxPayload, 80000);
  });

  it('counts, does not throw on, the damaged and truncated captures', () => {
    for (const [name, malformed, truncated] of [
      ['zeek_trunc-hdr.pcap', 1, 1],
      ['zeek_trunc_ip4-trunc.pcap', 1, 1],
      ['zeek_trunc_ip6-ext-trunc.pcap', 1, 1],
      ['tcpdump_LINKTYPE_IPV6_invalid.pcap', 1, 0],
      ['zeek_tcp_truncated-header.pcap', 0, 12],
    ] as const) {
      const r = results.get(name);
      assert.ok(r, name);
      assert.deepEqual([r.dec.counters.malformed, r.dec.counters.truncated], [malformed, truncated], name);
    }
    assert.equal(results.get('tcpdump_babel_update_oobr_TRUNCATED.pcap')?.damaged, true);
  });
});

import assert from 'node:assert/strict';
import { LinkType } from '../../src/source/frame-batch.js';
import { TcpFlag } from '../../src/decode/segment.js';
import { Decoder } from '../../src/decode/decoder.js';
import { fragmentIpv4, fragmentIpv6, frameFor, ipv4, ipv6, mssOption, tcp, type Ipv6Extension } from '../helpers/frame-builder.js';
import { DecodeStatus } from './harness.js';

/** Seeded PRNG (mulberry32): failures reproduce. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const LINKTYPES = [LinkType.ETHERNET, LinkType.LINUX_SLL, LinkType.LINUX_SLL2, LinkType.RAW, LinkType.IPV4, LinkType.IPV6, LinkType.NULL, LinkType.LOOP];

const seg = tcp({ srcPort: 4444, dstPort: 445, flags: TcpFlag.SYN, options: [...mssOption(1400), 1, 3, 3, 7], payload: 30 });
const exts: Ipv6Extension[] = [{ type: 'hopByHop' }, { type: 'destination', options: [1, 2, 0, 0] }, { type: 'routing', routingType: 2, segmentsLeft: 0, addresses: ['fd00::8'] }];
const v4 = ipv4({ src: '198.18.1.1', dst: '198.18.1.2', options: [1, 1, 1, 0], payload: seg });
const v6 = ipv6({ src: 'fd00::a', dst: 'fd00::b', extensions: exts, payload: seg });

/** Valid IP packets: plain, with options/extensions, and fragments. */
function samples(lt: number): Uint8Array[] {
  const v4ok = lt !== LinkType.IPV6;
  const v6ok = lt !== LinkType.IPV4;
  const out: Uint8Array[] = [];
  if (v4ok) out.push(v4, ...fragmentIpv4(v4, 16));
  if (v6ok) out.push(v6, ...fragmentIpv6(v6, 16));
  return out;
}

interface Tally {
  statuses: number[];
}

/** Decodes and checks the invariants that must hold for any input. */
function check(dec: Decoder, b: Buffer, off: number, len: number, lt: number, ts: number, t: Tally): DecodeStatus {
  const before = dec.counters.malformed;
  const frames = dec.counters.frames;
  const st = dec.decode(b, off, len, lt, ts, 0);
  assert.ok([DecodeStatus.Segment, DecodeStatus.NotTcp, DecodeStatus.Pending, DecodeStatus.Malformed].includes(st), `status ${st}`);
  assert.equal(dec.counters.frames, frames + 1);
  assert.equal(dec.counters.malformed - before, st === DecodeStatus.Malformed ? 1 : 0);
  if (st === DecodeStatus.Segment) {
    const s = dec.segment;
    assert.ok(s.family === 4 || s.family === 6);
    assert.ok(s.payloadLength >= 0 && s.payloadLength < 2 ** 32);
    assert.ok(s.srcPort >= 0 && s.srcPort <= 0xffff && s.dstPort >= 0 && s.dstPort <= 0xffff);
    assert.ok(s.flags >= 0 && s.flags <= 0xff);
  }
  assert.ok(dec.fragmentsInProgress <= 16);
  t.statuses[st + 1]++;
  return st;
}

function tallySane(dec: Decoder, t: Tally): void {
  const c = dec.counters;
  const sum = t.statuses.reduce((a, b) => a + b, 0);
  assert.equal(sum, c.frames);
  assert.equal(t.statuses[DecodeStatus.Malformed + 1], c.malformed);
  for (const [k, v] of Object.entries(c)) assert.ok(Number.isInteger(v) && v >= 0 && v <= c.frames * 2, `${k}=${v}`);
}

describe('decode: robustness', () => {
  it('truncating every valid frame at every length never throws, and a cut frame never changes the answer', () => {
    for (const lt of LINKTYPES) {
      for (const pkt of [v4, v6]) {
        if ((lt === LinkType.IPV4 && pkt === v6) || (lt === LinkType.IPV6 && pkt === v4)) continue;
        const frame = frameFor(lt, pkt, lt === LinkType.ETHERNET ? [5, 6] : []);
        const full = new Decoder();
        assert.equal(full.decode(Buffer.from(frame), 0, frame.length, lt, 0), DecodeStatus.Segment, `linktype ${lt}`);
        const want = [full.segment.srcPort, full.segment.dstPort, full.segment.flags, full.segment.payloadLength];
        const dec = new Decoder({ maxFragmentDatagrams: 16 });
        const t: Tally = { statuses: [0, 0, 0, 0] };
        for (let len = 0; len < frame.length; len++) {
          const b = Buffer.from(frame.subarray(0, len));
          const st = check(dec, b, 0, len, lt, 0, t);
          if (st === DecodeStatus.Segment) {
            const s = dec.segment;
            assert.deepEqual([s.srcPort, s.dstPort, s.flags, s.payloadLength], want, `linktype ${lt} cut at ${len}`);
          } else {
            assert.equal(st, DecodeStatus.Malformed, `linktype ${lt} cut at ${len}`);
          }
        }
        tallySane(dec, t);
        assert.equal(dec.counters.truncated, frame.length, 'every cut frame counts as truncated');
      }
    }
  });

  it('random bytes for every link type (seeded)', () => {
    const rnd = prng(0xdecade);
    for (const lt of [...LINKTYPES, 999]) {
      const dec = new Decoder({ maxFragmentDatagrams: 16 });
      const t: Tally = { statuses: [0, 0, 0, 0] };
      for (let i = 0; i < 1500; i++) {
        const len = Math.floor(rnd() * 160);
        const b = Buffer.alloc(len + 8);
        for (let j = 0; j < b.length; j++) b[j] = Math.floor(rnd() * 256);
        // Bias the first bytes toward plausible headers so the walk goes deep.
        if (len > 20 && rnd() < 0.5) b.set(frameFor(lt === 999 ? LinkType.RAW : lt, rnd() < 0.5 ? v4 : v6).subarray(0, 20), 4);
        check(dec, b, 4, len, lt, i * 1000, t);
      }
      tallySane(dec, t);
    }
  });

  it('random mutations and truncations of valid frames, fragments included (seeded)', () => {
    const rnd = prng(42);
    for (const lt of LINKTYPES) {
      const frames = samples(lt).map((p) => frameFor(lt, p));
      const dec = new Decoder({ maxFragmentDatagrams: 16, fragmentTimeoutMicros: 50_000 });
      const t: Tally = { statuses: [0, 0, 0, 0] };
      for (let i = 0; i < 3000; i++) {
        const src = frames[Math.floor(rnd() * frames.length)];
        const b = Buffer.from(src);
        const flips = 1 + Math.floor(rnd() * 4);
        for (let k = 0; k < flips; k++) {
          const at = Math.floor(rnd() * b.length);
          b[at] = rnd() < 0.5 ? b[at] ^ (1 << Math.floor(rnd() * 8)) : Math.floor(rnd() * 256);
        }
        const len = rnd() < 0.3 ? Math.floor(rnd() * b.length) : b.length;
        check(dec, b, 0, len, lt, i * 1000, t);
      }
      tallySane(dec, t);
      assert.ok(t.statuses[DecodeStatus.Segment + 1] > 0, `some mutated frames still decode (linktype ${lt})`);
    }
  });
});

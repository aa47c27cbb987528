/**
 * The flood pre-pass (flood-prefetch.ts) only reads: a pipeline that runs it
 * and one that does not raise the same alarms and end with byte-identical
 * tables, on random frames (every link type, tags, options, fragments,
 * extension headers, cut and garbage frames) and on the capture fixtures.
 * And each index it computes from frame bytes is where the table itself
 * then writes for the decoded segment, for IPv4 and IPv6, with and without
 * a tag: a change to a table's hash or to the key layout that forgets the
 * pre-pass fails here (its loads would then only miss, silently).
 */
import assert from 'node:assert/strict';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Alarm } from '../../src/alarm/alarm.js';
import { Decoder } from '../../src/decode/decoder.js';
import { DecodeStatus, TcpFlag } from '../../src/decode/segment.js';
import { Detector } from '../../src/detect/detector.js';
import type { FloodPrefetch } from '../../src/detect/flood-prefetch.js';
import type { KeyWindows } from '../../src/detect/key-windows.js';
import type { LastSourcePort } from '../../src/detect/last-source-port.js';
import { fillSourceFromKey, keyHashed, sourceHashed } from '../../src/detect/probe-key.js';
import { SynDirection, type SynMemory } from '../../src/detect/syn-memory.js';
import { ProbePipeline } from '../../src/pipeline/probe-pipeline.js';
import type { Policy } from '../../src/policy/policy.js';
import { readCapture } from '../../src/source/capture-file.js';
import { FrameBatch, LinkType } from '../../src/source/frame-batch.js';
import { ethernet, fragmentIpv4, ipv4, ipv6, Link, frameFor, sll, tcp, type VlanTag } from '../helpers/frame-builder.js';

const policy: Policy = {
  name: 'test',
  os: 'linux',
  ports: [{ port: 445, protocol: 'tcp' }, { port: 22, protocol: 'tcp6' }, { port: 3389, protocol: 'tcp' }, { port: 3389, protocol: 'tcp6' }],
  whitelist: [],
};

/** The detector's tables, reached past `private` (the test compares them whole). */
interface Inside {
  windows: Pick<KeyWindows, 'load' | 'probe' | 'table'> & { keys: { slots: Int32Array; keys: Uint32Array } };
  lastPorts: Pick<LastSourcePort, 'lookup'> & { words: Uint32Array };
  synMemory: Pick<SynMemory, 'remember'> & { ways: Float64Array };
  repeats: { words: Uint32Array };
  prefetcher: FloodPrefetch;
}
const inside = (d: Detector): Inside => d as unknown as Inside;

/** xorshift32: the same frames every run. */
function rng(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) / 0x100000000;
  };
}

const PORTS = [445, 22, 3389, 80];
const FLAGS = [TcpFlag.SYN, TcpFlag.SYN, TcpFlag.SYN, TcpFlag.ACK, TcpFlag.SYN | TcpFlag.ACK, TcpFlag.FIN, 0, TcpFlag.FIN | TcpFlag.PSH | TcpFlag.URG, TcpFlag.RST];

/** One random frame and its link type: mostly probes from a small pool of sources (so keys, floods and promotions recur), some of everything else. */
function randomFrame(r: () => number): { data: Uint8Array; linktype: number } {
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(r() * xs.length)]!;
  const v6 = r() < 0.3;
  const n = Math.floor(r() * 3000);
  const src = v6 ? `fd00::${(n >>> 8).toString(16)}:${(n & 0xff).toString(16)}` : `198.19.${n >>> 8}.${n & 0xff}`;
  const dst = v6 ? 'fd00::1' : '198.18.0.1';
  const seg = tcp({ srcPort: 1024 + Math.floor(r() * 40), dstPort: pick(PORTS), flags: pick(FLAGS), options: r() < 0.2 ? [2, 4, 5, 0xb4] : [] });
  const kind = r();
  let packet: Uint8Array;
  if (v6) {
    packet = kind < 0.1 ? ipv6({ src, dst, payload: seg, extensions: [{ type: 'hopByHop' }] }) : ipv6({ src, dst, payload: seg });
  } else {
    packet = ipv4({ src, dst, payload: seg, options: kind < 0.1 ? [1, 1, 1, 1] : [] });
    if (kind > 0.95) packet = pick(fragmentIpv4(packet, 8));
  }
  const vlans: VlanTag[] = r() < 0.15 ? [Math.floor(r() * 4000) + 1] : r() < 0.05 ? [10, 20] : [];
  const link = r();
  if (link < 0.8) {
    const frame = ethernet(packet, { vlans });
    // Cut short now and then: the pre-pass must neither read past the capture nor decide differently.
    if (r() < 0.05) return { data: frame.subarray(0, Math.floor(r() * frame.length)), linktype: Link.ETHERNET };
    if (r() < 0.03) for (let i = 12; i < frame.length; i++) if (r() < 0.05) frame[i] = Math.floor(r() * 256);
    return { data: frame, linktype: Link.ETHERNET };
  }
  if (link < 0.9) return { data: sll(packet), linktype: Link.LINUX_SLL };
  return { data: frameFor(Link.RAW, packet), linktype: Link.RAW };
}

/** A batch of `frames` at one microsecond apart from `t0`. */
function batchOf(frames: { data: Uint8Array; linktype: number }[], t0: number, first: number): FrameBatch {
  const b = new FrameBatch(frames.length);
  b.data = Buffer.concat(frames.map((f) => f.data));
  let o = 0;
  frames.forEach((f, i) => {
    b.offset[i] = o;
    b.caplen[i] = f.data.length;
    b.wirelen[i] = f.data.length;
    b.linktype[i] = f.linktype;
    b.tsMicros[i] = t0 + i * 50;
    b.iface[i] = 0;
    o += f.data.length;
  });
  b.count = frames.length;
  b.firstIndex = first;
  return b;
}

function pipelines(): { on: ProbePipeline; off: ProbePipeline; alarmsOn: Alarm[]; alarmsOff: Alarm[] } {
  const alarmsOn: Alarm[] = [];
  const alarmsOff: Alarm[] = [];
  // A low new-source rate so that most probes take the flood and promotion paths.
  const settings = { policy, windowMicros: 2e6, maxTrackedKeys: 500, newSourceRate: 5, serverAddresses: [] };
  const on = new ProbePipeline(settings, { onAlarm: (a) => alarmsOn.push(a), seed: 7, prefetch: true });
  const off = new ProbePipeline(settings, { onAlarm: (a) => alarmsOff.push(a), seed: 7, prefetch: false });
  return { on, off, alarmsOn, alarmsOff };
}

function assertSameState(on: ProbePipeline, off: ProbePipeline, alarmsOn: Alarm[], alarmsOff: Alarm[]): void {
  assert.deepEqual(alarmsOn, alarmsOff);
  assert.deepEqual(on.detector.counters, off.detector.counters);
  assert.deepEqual(on.decodeCounters, off.decodeCounters);
  const a = inside(on.detector);
  const b = inside(off.detector);
  assert.ok(Buffer.from(a.lastPorts.words.buffer).equals(Buffer.from(b.lastPorts.words.buffer)), 'last-source-port table');
  assert.ok(Buffer.from(a.synMemory.ways.buffer).equals(Buffer.from(b.synMemory.ways.buffer)), 'SYN memory');
  assert.ok(Buffer.from(a.repeats.words.buffer).equals(Buffer.from(b.repeats.words.buffer)), 'repeat filter');
  assert.ok(Buffer.from(a.windows.keys.slots.buffer).equals(Buffer.from(b.windows.keys.slots.buffer)), 'key slots');
  assert.ok(Buffer.from(a.windows.keys.keys.buffer).equals(Buffer.from(b.windows.keys.keys.buffer)), 'keys');
}

describe('flood pre-pass', () => {
  it('changes nothing: random frames give the same alarms, counters and tables with and without it', () => {
    const r = rng(0x5eed);
    const { on, off, alarmsOn, alarmsOff } = pipelines();
    let t = 1.7e15;
    let first = 0;
    for (let k = 0; k < 120; k++) {
      const frames = Array.from({ length: 1 + Math.floor(r() * 300) }, () => randomFrame(r));
      const b = batchOf(frames, t, first);
      on.feed(b, 0);
      off.feed(b, 0);
      t += frames.length * 50 + 20_000;
      first += frames.length;
    }
    on.detector.flush();
    off.detector.flush();
    // The frames must have driven the paths the pre-pass serves, or the comparison proves little.
    const c = on.detector.counters;
    assert.ok(c.floodProbes > 1000 && c.promoted > 10 && c.alarms > 100, JSON.stringify(c));
    assert.ok(inside(on.detector).prefetcher.touched !== undefined);
    assertSameState(on, off, alarmsOn, alarmsOff);
  });

  it('changes nothing on the capture fixtures (and the public captures, when present)', async () => {
    const dirs = ['fixtures/crafted', 'fixtures/scanners', 'fixtures/tunnels', '/work/shared/pcaps'];
    let files = 0;
    for (const dir of dirs) {
      if (!existsSync(dir)) {
        process.stdout.write(`      (skipped ${dir}: absent)\n`);
        continue;
      }
      for (const name of readdirSync(dir)) {
        if (!/\.(pcap|pcapng)(\.gz)?$/.test(name)) continue;
        const { on, off, alarmsOn, alarmsOff } = pipelines();
        const gen = readCapture(join(dir, name));
        try {
          for (;;) {
            const n = await gen.next();
            if (n.done) break;
            on.feed(n.value, 0);
            off.feed(n.value, 0);
          }
        } catch {
          // A damaged capture ends early for both alike.
        }
        on.detector.flush();
        off.detector.flush();
        assertSameState(on, off, alarmsOn, alarmsOff);
        files++;
      }
    }
    assert.ok(files >= 20, `${files} captures`);
  });

  for (const [name, v6, vlans] of [
    ['IPv4', false, []],
    ['IPv4 behind a tag, with options', false, [7]],
    ['IPv6', true, []],
    ['IPv6 behind a tag', true, [7]],
  ] as const) {
    it(`computes the index each table uses for a decoded ${name} probe`, () => {
      const r = rng(name.length * 977);
      const d = new Detector({ policy, windowMicros: 60e6, maxTrackedKeys: 10_000, serverAddresses: [], onAlarm: () => {}, seed: 11 });
      const t = inside(d);
      const dec = new Decoder({ followTunnels: false });
      const seg = dec.segment;
      for (let k = 0; k < 300; k++) {
        const n = Math.floor(r() * 0x1000000);
        const src = v6 ? `fd00:${(n >>> 16).toString(16)}::${(n & 0xffff).toString(16)}` : `10.${n >>> 16}.${(n >>> 8) & 0xff}.${n & 0xff}`;
        const dst = v6 ? 'fd00::1' : '198.18.0.1';
        const flags = k % 2 === 0 ? TcpFlag.SYN : TcpFlag.ACK;
        const body = tcp({ srcPort: 1 + Math.floor(r() * 65535), dstPort: v6 ? 22 : 445, flags });
        const packet = v6 ? ipv6({ src, dst, payload: body }) : ipv4({ src, dst, payload: body, options: vlans.length > 0 ? [1, 1, 1, 1] : [] });
        const b = batchOf([{ data: ethernet(packet, { vlans: [...vlans] }), linktype: LinkType.ETHERNET }], 1.7e15, 0);
        assert.equal(dec.decodeAt(b, 0), DecodeStatus.Segment);
        t.windows.load(seg.family, seg.src, seg.dst, seg.dstPort);
        const key = t.windows.probe;
        const hashed = keyHashed(key, seg.family);
        // The key is tracked first, so that the pre-pass looks at its slot and (a SYN) its SYN-memory bucket.
        const slotsBefore = t.windows.keys.slots.slice();
        assert.equal(t.windows.table.find(hashed), -1);
        const e = t.windows.table.insert(hashed);
        const slot = t.windows.keys.slots.findIndex((v, i) => v !== slotsBefore[i]);
        d.prefetch(b);
        const ix = t.prefetcher.indexes;
        // Linear probing may have placed it past its first slot, over slots all taken before.
        const home = ix.keyHome[0]!;
        assert.ok(home >= 0 && home <= slot, 'key table slot');
        for (let s = home; s < slot; s++) assert.notEqual(slotsBefore[s], 0, 'key table slot');
        if (home === slot) assert.equal(ix.keyEntry[0], e, 'entry found through the slot');

        const source = new Uint32Array(7);
        fillSourceFromKey(source, key, seg.family);
        const portsBefore = t.lastPorts.words.slice();
        t.lastPorts.lookup(source, sourceHashed(source, seg.family), seg.srcPort);
        const way = t.lastPorts.words.findIndex((v, i) => v !== portsBefore[i]);
        assert.ok(way >= 0);
        assert.equal(Math.floor(way / 8), ix.lastPortSet[0], 'last-source-port set');

        const directions = flags === TcpFlag.SYN ? [[SynDirection.inbound, ix.synInbound[0]!]] : [[SynDirection.inbound, ix.synInbound[0]!], [SynDirection.outbound, ix.synOutbound[0]!]];
        for (const [direction, bucket] of directions) {
          const waysBefore = t.synMemory.ways.slice();
          t.synMemory.remember(key, hashed, seg.srcPort, direction as 0, seg);
          const at = t.synMemory.ways.findIndex((v, i) => v !== waysBefore[i]);
          assert.ok(at >= 0 && bucket! >= 0);
          assert.equal(at - (at % 8), bucket, `SYN-memory bucket, direction ${direction}`);
        }
      }
    });
  }
});

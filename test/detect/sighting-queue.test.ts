/**
 * The sighting queue (sighting-queue.ts) defers the flood's last-source-port
 * lookups whose answer cannot matter. It must change no decision and no
 * state: a detector with it and one without raise the same alarms and end
 * with byte-identical tables (last-source-port table, repeat filter, key
 * and SYN tables, token buckets) on random frames (every link type, tags,
 * options, fragments, cut and garbage frames, a low new-source rate so that
 * the flood and promotion paths run) and on the capture fixtures. A queue
 * that dropped, reordered or mistimed an update fails here.
 */
import assert from 'node:assert/strict';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Alarm } from '../../src/alarm/alarm.js';
import { Decoder } from '../../src/decode/decoder.js';
import { DecodeStatus, TcpFlag } from '../../src/decode/segment.js';
import { Detector } from '../../src/detect/detector.js';
import { DetectorClock } from '../../src/detect/detector-clock.js';
import { LastPort, LastSourcePort } from '../../src/detect/last-source-port.js';
import { RepeatFilter } from '../../src/detect/repeat-filter.js';
import { SightingQueue } from '../../src/detect/sighting-queue.js';
import type { Policy } from '../../src/policy/policy.js';
import { readCapture } from '../../src/source/capture-file.js';
import { FrameBatch } from '../../src/source/frame-batch.js';
import { ethernet, fragmentIpv4, ipv4, ipv6, Link, frameFor, sll, tcp, type VlanTag } from '../helpers/frame-builder.js';
import { seededRandom } from '../helpers/seeded-random.js';

const policy: Policy = {
  name: 'test',
  os: 'linux',
  ports: [{ port: 445, protocol: 'tcp' }, { port: 22, protocol: 'tcp6' }, { port: 3389, protocol: 'tcp' }, { port: 3389, protocol: 'tcp6' }],
  whitelist: [],
};

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

/** The detector's state, reached past `private` (the test compares it whole). */
interface Inside {
  sightings: { flush(): void };
  lastPorts: { words: Uint32Array };
  repeats: { words: Uint32Array; applyPending(): void; rotations: number };
  synMemory: { ways: Float64Array };
  windows: { keys: { slots: Int32Array; keys: Uint32Array } };
  flood: { tokens: Float64Array; promotions: Float64Array; nearPromotions: Float64Array; nearPromotionsAt: Float64Array; floodPending: Float64Array };
}
const inside = (d: Detector): Inside => d as unknown as Inside;
const same = (a: ArrayBufferView, b: ArrayBufferView): boolean => Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength));

/** Two detectors alike but for the queue, and one decoder feeding both. */
function pair(): { on: Detector; off: Detector; alarmsOn: Alarm[]; alarmsOff: Alarm[]; feed: (b: FrameBatch) => void } {
  const alarmsOn: Alarm[] = [];
  const alarmsOff: Alarm[] = [];
  // A low new-source rate so that most probes take the flood and promotion paths.
  const options = { policy, windowMicros: 2e6, maxTrackedKeys: 500, newSourceRate: 5, serverAddresses: [], seed: 7 };
  const on = new Detector({ ...options, onAlarm: (a) => alarmsOn.push(a), deferSightings: true });
  const off = new Detector({ ...options, onAlarm: (a) => alarmsOff.push(a), deferSightings: false });
  const dec = new Decoder();
  const feed = (b: FrameBatch): void => {
    for (let i = 0; i < b.count; i++) {
      if (dec.decodeAt(b, i) !== DecodeStatus.Segment) continue;
      on.observe(dec.segment, 0, b.firstIndex + i);
      off.observe(dec.segment, 0, b.firstIndex + i);
    }
  };
  return { on, off, alarmsOn, alarmsOff, feed };
}

function assertSameState(on: Detector, off: Detector, alarmsOn: Alarm[], alarmsOff: Alarm[]): void {
  assert.deepEqual(alarmsOn, alarmsOff);
  assert.deepEqual(on.counters, off.counters);
  const a = inside(on);
  const b = inside(off);
  // What is still queued is state too: applied, both must hold the same.
  a.sightings.flush();
  a.repeats.applyPending();
  b.repeats.applyPending();
  assert.ok(same(a.lastPorts.words, b.lastPorts.words), 'last-source-port table');
  assert.ok(same(a.repeats.words, b.repeats.words), 'repeat filter');
  assert.equal(a.repeats.rotations, b.repeats.rotations, 'repeat filter generations');
  assert.ok(same(a.synMemory.ways, b.synMemory.ways), 'SYN memory');
  assert.ok(same(a.windows.keys.slots, b.windows.keys.slots), 'key slots');
  assert.ok(same(a.windows.keys.keys, b.windows.keys.keys), 'keys');
  for (const k of ['tokens', 'promotions', 'nearPromotions', 'nearPromotionsAt', 'floodPending'] as const) assert.ok(same(a.flood[k], b.flood[k]), k);
}

describe('sighting queue', () => {
  it('changes nothing: random frames give the same alarms, counters and tables with and without it', () => {
    const r = seededRandom(0x5eed);
    const { on, off, alarmsOn, alarmsOff, feed } = pair();
    let t = 1.7e15;
    let first = 0;
    for (let k = 0; k < 150; k++) {
      const frames = Array.from({ length: 1 + Math.floor(r() * 400) }, () => randomFrame(r));
      feed(batchOf(frames, t, first));
      // Now and then a pause longer than the window, so that windows close and the filter ages.
      t += frames.length * 50 + (k % 40 === 39 ? 3e6 : 20_000);
      first += frames.length;
    }
    on.flush();
    off.flush();
    // The frames must have driven the paths the queue serves, or the comparison proves little.
    const c = on.counters;
    assert.ok(c.floodProbes > 5000 && c.promoted > 50 && c.alarms > 100, JSON.stringify(c));
    assert.ok(inside(on).repeats.rotations > 0, 'the filter aged');
    assertSameState(on, off, alarmsOn, alarmsOff);
  });

  it('adds each unknown source to the repeat filter at the time it was seen, not the time the queue is applied', () => {
    const tables = () => {
      const clock = new DetectorClock();
      const lastPorts = new LastSourcePort(5);
      const repeats = new RepeatFilter(9, 1000, clock); // a generation per 1000 µs
      return { clock, lastPorts, repeats };
    };
    const direct = tables();
    const queued = tables();
    const queue = new SightingQueue(queued.lastPorts, queued.repeats, queued.clock);
    const words = new Uint32Array(7);
    words[1] = 4;
    for (let i = 0; i < 200; i++) {
      words[0] = (0xc6130000 + (i % 150)) >>> 0; // some sources twice: known then
      direct.clock.micros = queued.clock.micros = 1e9 + i * 100;
      if (direct.lastPorts.lookup(words, 2, 1000 + i) === LastPort.unknown) direct.repeats.remember(words, 2);
      queue.defer(words, 2, 1000 + i, true);
    }
    direct.clock.micros = queued.clock.micros = 1e9 + 1e6; // applied long after
    queue.flush();
    const d = direct.repeats as unknown as Inside['repeats'];
    const q = queued.repeats as unknown as Inside['repeats'];
    d.applyPending();
    q.applyPending();
    assert.ok(d.rotations >= 15, `${d.rotations} generations`);
    assert.equal(q.rotations, d.rotations);
    assert.ok(same(q.words, d.words), 'repeat filter');
    assert.ok(same((queued.lastPorts as unknown as Inside['lastPorts']).words, (direct.lastPorts as unknown as Inside['lastPorts']).words), 'last-source-port table');
  });

  it('changes nothing on the capture fixtures (and the public captures, when present)', async () => {
    let files = 0;
    for (const dir of ['fixtures/crafted', 'fixtures/scanners', 'fixtures/tunnels', '/work/shared/pcaps']) {
      if (!existsSync(dir)) {
        process.stdout.write(`      (skipped ${dir}: absent)\n`);
        continue;
      }
      for (const name of readdirSync(dir)) {
        if (!/\.(pcap|pcapng)(\.gz)?$/.test(name)) continue;
        const { on, off, alarmsOn, alarmsOff, feed } = pair();
        const gen = readCapture(join(dir, name));
        try {
          for (;;) {
            const n = await gen.next();
            if (n.done) break;
            feed(n.value);
          }
        } catch {
          // A damaged capture ends early for both alike.
        }
        on.flush();
        off.flush();
        assertSameState(on, off, alarmsOn, alarmsOff);
        files++;
      }
    }
    assert.ok(files >= 20, `${files} captures`);
  });
});

/**
 * A real scanner stays visible inside a spoofed flood (issue 12.5): while a
 * port is over its new-source rate, a source seen twice is promoted to a key
 * with its own alarm at its second probe; its first probe stays in the flood
 * alarm, so the sums hold. A repeat from a source port near the last one
 * (a real sender's) has a bucket that a /16 flood's chance repeats do not
 * drain. State stays bounded after 10 M spoofed sources, and an attacker
 * who repeats every spoofed source gains at most the two promotion buckets.
 */
import assert from 'node:assert/strict';
import type { Alarm, ProbeAlarm } from '../../src/alarm/alarm.js';
import { TcpFlag, TcpSegment } from '../../src/decode/segment.js';
import { Detector, type DetectorOptions } from '../../src/detect/detector.js';
import { DetectorClock } from '../../src/detect/detector-clock.js';
import { RepeatFilter } from '../../src/detect/repeat-filter.js';
import { parseAddress } from '../../src/net/address.js';
import type { Policy } from '../../src/policy/policy.js';

const policy: Policy = { name: 'test', os: 'linux', ports: [{ port: 445, protocol: 'tcp' }, { port: 3389, protocol: 'tcp' }], whitelist: [] };
const S = 1e6;
const SERVER = parseAddress('198.18.0.2')!.bytes;

/** One reusable segment: the loops below send millions without allocating one each. */
function segment(): TcpSegment {
  const s = new TcpSegment();
  s.family = 4;
  s.dst.set(SERVER);
  s.flags = TcpFlag.SYN;
  s.srcPort = 40000;
  return s;
}

function setSource(s: TcpSegment, v: number): void {
  s.src[0] = 10 + ((v >>> 24) & 0x3f);
  s.src[1] = (v >>> 16) & 0xff;
  s.src[2] = (v >>> 8) & 0xff;
  s.src[3] = v & 0xff;
}

function detector(extra: Partial<DetectorOptions> = {}): { d: Detector; alarms: Alarm[] } {
  const alarms: Alarm[] = [];
  const d = new Detector({ policy, windowMicros: 60 * S, maxTrackedKeys: 10_000, serverAddresses: [], newSourceRate: 10, onAlarm: (a) => alarms.push(a), seed: 3, ...extra });
  return { d, alarms };
}

const probeAlarms = (alarms: Alarm[]): ProbeAlarm[] => alarms.filter((a): a is ProbeAlarm => a.action === 'honeypot-port-probe');
const sum = (alarms: Alarm[]): number => alarms.reduce((n, a) => n + a.count, 0);
const REAL = '198.18.5.5';

describe('flood gate: a repeating source is promoted out of the flood', () => {
  it('a real source probing twice inside a flood of single-probe spoofed sources gets its own alarm at its second probe', () => {
    const { d, alarms } = detector();
    const s = segment();
    const real = new TcpSegment();
    real.family = 4;
    real.src.set(parseAddress(REAL)!.bytes);
    real.dst.set(SERVER);
    real.flags = TcpFlag.SYN;
    const N = 20_000; // 20,000 spoofed SYNs per second for one second, to both ports
    let sent = 0;
    let firstOwnAt = -1;
    for (let i = 0; i < N; i++) {
      setSource(s, i);
      s.dstPort = i % 2 === 0 ? 445 : 3389;
      s.tsMicros = i * 50;
      d.observe(s, 0, i);
      sent++;
      if (i === 5_000 || i === 12_000) {
        // The real scanner: 445 first (summed into the flood), then 3389 (its own alarm, at once).
        real.dstPort = i === 5_000 ? 445 : 3389;
        real.srcPort = 50_000 + i;
        real.tsMicros = i * 50 + 1;
        const before = alarms.length;
        d.observe(real, 0, N + i);
        sent++;
        if (i === 12_000) {
          const own = probeAlarms(alarms.slice(before)).filter((a) => a.source[0] === 198);
          assert.equal(own.length, 1, 'raised during the second probe itself');
          firstOwnAt = own[0]!.startMicros;
        }
      }
    }
    d.flush();
    const own = probeAlarms(alarms).filter((a) => a.source[0] === 198);
    assert.deepEqual(own.map((a) => [a.phase, a.destinationPort, a.count]), [['first', 3389, 1]]);
    assert.equal(firstOwnAt, 12_000 * 50 + 1);
    const floods = alarms.filter((a) => a.action === 'honeypot-flood');
    assert.ok(floods.some((a) => a.action === 'honeypot-flood' && a.destinationPort === 445), 'its first probe went to the flood');
    assert.equal(sum(alarms), sent, 'every probe counted once: the first in the flood, the second in its own alarm');
    assert.ok(d.counters.promoted >= 1, 'counted');
    assert.ok(d.counters.promoted <= 2, `spoofed sources promoted by a false positive: ${d.counters.promoted - 1}`);
  });

  it('a retransmitted probe to the same port is enough; a source already tracked is promoted at once', () => {
    const { d, alarms } = detector({ newSourceRate: 1 }); // burst 10 per port
    const s = segment();
    for (let i = 0; i < 20; i++) {
      setSource(s, i);
      s.dstPort = i < 10 ? 445 : 3389;
      s.tsMicros = i;
      d.observe(s, 0, i); // both bursts: twenty tracked sources
    }
    setSource(s, 3); // tracked on 445; 3389 is over its rate, yet it is no new face
    s.dstPort = 3389;
    s.tsMicros = 50;
    d.observe(s, 0, 50);
    const real = segment();
    real.src.set(parseAddress(REAL)!.bytes);
    real.dstPort = 445;
    real.tsMicros = 100;
    d.observe(real, 0, 100); // over the rate: flood
    real.tsMicros = 200;
    d.observe(real, 0, 101); // the retransmission: promoted
    d.flush();
    const firsts = probeAlarms(alarms).filter((a) => a.phase === 'first');
    assert.deepEqual(firsts.slice(20).map((a) => [a.source[3], a.destinationPort, a.portsTouched]), [[3, 3389, [445, 3389]], [5, 445, [445]]]);
    assert.equal(firsts[21]!.source[0], 198);
    assert.equal(sum(alarms), 23);
  });

  it('a real host whose SYN went into the flood: its handshake ACK is an ack probe of its own (seen twice, promoted)', () => {
    const { d, alarms } = detector({ newSourceRate: 1 }); // burst 10
    const s = segment();
    s.dstPort = 445;
    for (let i = 0; i < 100; i++) {
      setSource(s, i);
      s.tsMicros = i;
      d.observe(s, 0, i);
    }
    const real = segment();
    real.src.set(parseAddress(REAL)!.bytes);
    real.dstPort = 445;
    real.srcPort = 50_001;
    real.tsMicros = 200;
    d.observe(real, 0, 100); // SYN: over the rate, summed into the flood, not remembered as a connection
    real.flags = TcpFlag.ACK;
    real.tsMicros = 300;
    d.observe(real, 0, 101);
    d.flush();
    assert.deepEqual(probeAlarms(alarms).filter((a) => a.source[0] === 198).map((a) => [a.phase, a.count, a.kinds]), [['first', 1, 16]]);
    assert.equal(sum(alarms), 102);
  });

  it('an attacker repeating every spoofed source gains at most the two promotion buckets: ≤ 3× the new-source rate', () => {
    // From the same port (what a real sender's repeat looks like): the near bucket, then the other one.
    // From a random port: the other bucket only, plus the near bucket's share of chance (2.6e-4 of the repeats).
    for (const samePort of [true, false]) {
      const { d, alarms } = detector({ newSourceRate: 10 }); // burst 100 of each bucket
      const s = segment();
      s.dstPort = 445;
      let sent = 0;
      let x = 99;
      for (let i = 0; i < 5_000; i++) {
        for (let r = 0; r < 2; r++) {
          setSource(s, i);
          x ^= x << 13; x ^= x >>> 17; x ^= x << 5;
          s.srcPort = samePort ? 40_000 : (x >>> 0) % 65_536;
          s.tsMicros = i * 100 + r; // 0.5 s in all
          d.observe(s, 0, sent++);
        }
      }
      d.flush();
      const own = probeAlarms(alarms).filter((a) => a.phase === 'first').length;
      // Per bucket: 100 of burst + 5 refilled in 0.5 s at 10/s (+1 for rounding).
      const bucket = 100 + 5 + 1;
      if (samePort) {
        assert.ok(own <= 3 * bucket, `same port: ${own} first alarms`);
        assert.ok(own >= 3 * 100, `same port: ${own} first alarms: all three buckets were used`);
      } else {
        assert.ok(own <= 2 * bucket + 10, `random port: ${own} first alarms`);
        assert.ok(own >= 2 * 100, `random port: ${own} first alarms`);
      }
      assert.equal(sum(alarms), sent);
    }
  });

  it('a source that had a key of its own, back from the same source port while the other bucket is drained, is promoted; from an unrelated port it is not', () => {
    for (const samePort of [true, false]) {
      const { d, alarms } = detector({ newSourceRate: 1 }); // burst 10 of each bucket
      const real = segment();
      real.src.set(parseAddress(REAL)!.bytes);
      real.dstPort = 445;
      real.srcPort = 41_000;
      real.tsMicros = 0;
      let sent = 0;
      d.observe(real, 0, sent++); // a token: a key of its own on 445
      const s = segment();
      // Spoofed sources to 3389, each twice from unrelated ports: its new-source and ordinary promotion buckets drain.
      for (let i = 0; i < 40; i++) {
        setSource(s, i % 20);
        s.dstPort = 3389;
        s.srcPort = 1000 + 100 * i;
        s.tsMicros = 1 + i;
        d.observe(s, 0, sent++);
      }
      real.dstPort = 3389;
      real.srcPort = samePort ? 41_000 : 7_000;
      real.tsMicros = 100;
      const before = alarms.length;
      d.observe(real, 0, sent++);
      const own = probeAlarms(alarms.slice(before)).filter((a) => a.source[0] === 198);
      assert.deepEqual(own.map((a) => [a.phase, a.destinationPort]), samePort ? [['first', 3389]] : [], samePort ? 'near: promoted' : 'unrelated port, no ordinary token: flood');
      d.flush();
      assert.equal(sum(alarms), sent);
    }
  });

  it('a reload keeps each kept port\'s promotion buckets (a drained near bucket stays drained at the port\'s new place)', () => {
    for (const reload of [false, true]) {
      const { d, alarms } = detector({ newSourceRate: 1 }); // burst 10 of each bucket
      const s = segment();
      s.dstPort = 3389;
      let sent = 0;
      // Every spoofed source twice from the same port: all three buckets of 3389 drain (10 + 10 + 10 own alarms).
      for (let i = 0; i < 60; i++) {
        for (let r = 0; r < 2; r++) {
          setSource(s, i);
          s.tsMicros = i * 2 + r;
          d.observe(s, 0, sent++);
        }
      }
      assert.equal(probeAlarms(alarms).filter((a) => a.phase === 'first').length, 30);
      // 3389 moves from index 1 to index 0 (445 leaves): its buckets must move with it, not start full.
      if (reload) d.reconfigure({ ...policy, ports: [{ port: 3389, protocol: 'tcp' }, { port: 22, protocol: 'tcp' }] }, true);
      setSource(s, 5_000);
      s.tsMicros = 200;
      d.observe(s, 0, sent++);
      s.tsMicros = 201;
      const before = alarms.length;
      d.observe(s, 0, sent++); // a near repeat, but 1 ms later no bucket has a token
      assert.deepEqual(probeAlarms(alarms.slice(before)), [], reload ? 'after the reload' : 'without a reload');
      d.flush();
      assert.equal(sum(alarms), sent);
    }
  });

  it('state stays bounded after 10 M spoofed sources; false promotions stay rare', function () {
    this.timeout(300_000);
    const maxTrackedKeys = 100_000;
    const { d, alarms } = detector({ newSourceRate: 100, maxTrackedKeys });
    const s = segment();
    s.dstPort = 445;
    let maxKeys = 0;
    const N = 10_000_000;
    for (let i = 0; i < N; i++) {
      setSource(s, i);
      s.tsMicros = i * 50; // 20,000 per second: 500 s of packet time, windows close as it goes
      d.observe(s, 0, i);
      if ((i & 0xffff) === 0) maxKeys = Math.max(maxKeys, d.trackedKeys);
    }
    d.flush();
    assert.ok(maxKeys <= maxTrackedKeys);
    assert.equal(d.trackedKeys, 0);
    assert.equal(sum(alarms), N);
    // ~4e-6 per lookup at worst: expect a few tens of the 10 M.
    assert.ok(d.counters.promoted < 200, `${d.counters.promoted} spoofed sources promoted`);
    assert.ok(alarms.length < 200_000, `${alarms.length} alarms for 10 M spoofed probes`);
    console.log(`      10 M spoofed sources: ${d.counters.promoted} promoted by a false positive, ${alarms.length} alarms, ${(process.memoryUsage().rss / 2 ** 20).toFixed(0)} MiB RSS`);
  });

  it('a source first seen while the ordinary promotion bucket is empty is promoted when it returns, from an unrelated port, once a token is back', () => {
    const { d, alarms } = detector({ newSourceRate: 1 }); // burst 10 of each bucket
    const s = segment();
    s.dstPort = 445;
    let sent = 0;
    // New-source and ordinary buckets emptied: 10 sources get keys, 10 repeats (each from an unrelated port)
    // are promoted, the rest is flood.
    for (let i = 0; i < 40; i++) {
      setSource(s, 10 + (i % 20));
      s.srcPort = 1000 + 100 * i;
      s.tsMicros = i;
      d.observe(s, 0, sent++);
    }
    const promotedBefore = d.counters.promoted;
    assert.equal(promotedBefore, 10);
    const real = segment();
    real.src.set(parseAddress(REAL)!.bytes);
    real.dstPort = 445;
    real.tsMicros = 100;
    d.observe(real, 0, sent++); // no ordinary token: only remembered (its port too)
    // Fresh spoofed sources for 1.5 s keep taking the new-source tokens as they refill; the ordinary bucket refills.
    for (let t = 1000; t <= 1.5 * S; t += 1000) {
      setSource(s, 1_000_000 + t);
      s.tsMicros = t;
      d.observe(s, 0, sent++);
    }
    real.tsMicros = 1.5 * S;
    real.srcPort = 7_000; // not near its first: it needs the ordinary bucket
    const before = alarms.length;
    d.observe(real, 0, sent++);
    assert.equal(d.counters.promoted, promotedBefore + 1, 'promoted: it was remembered');
    assert.deepEqual(probeAlarms(alarms.slice(before)).map((a) => [a.phase, a.destinationPort, a.source[0]]), [['first', 445, 198]]);
    d.flush();
    assert.equal(sum(alarms), sent);
  });

  it('RepeatFilter: deferred adds answer exactly as immediate ones, across queue flushes and rotations by count and age', () => {
    // Two filters, same seed: one only ever looks up (adds at once), one mostly remembers (deferred).
    // Every lookup of the second must answer as the first would; a small filter so answers vary.
    for (const [capacity, age] of [[300, 1e12], [1e9, 700], [97, 450]] as const) {
      const ca = new DetectorClock();
      const cb = new DetectorClock();
      const a = new RepeatFilter(7, age, ca, 1 << 12, 16, capacity);
      const b = new RepeatFilter(7, age, cb, 1 << 12, 16, capacity);
      const w = new Uint32Array(7);
      let x = 12345;
      let lookups = 0;
      let seen = 0;
      for (let i = 0; i < 20_000; i++) {
        x ^= x << 13; x ^= x >>> 17; x ^= x << 5;
        const v6 = (x & 7) === 0;
        w[0] = (x >>> 8) & 0x3ff; // 1,024 sources: many come back
        w[1] = v6 ? 0x20010db8 : 4;
        w[2] = v6 ? x & 3 : 0;
        const hashed = v6 ? 5 : 2;
        ca.micros = cb.micros = i;
        const expected = a.seenBefore(w, hashed);
        if ((x >>> 3) % 5 === 0) {
          lookups++;
          if (expected) seen++;
          assert.equal(b.seenBefore(w, hashed), expected, `lookup ${i} (capacity ${capacity}, age ${age})`);
        } else b.remember(w, hashed);
      }
      assert.equal(b.rotations, a.rotations);
      assert.ok(a.rotations >= 20, `${a.rotations} rotations`);
      assert.ok(seen > lookups / 10 && seen < lookups, `${seen} of ${lookups} seen: both answers occur`);
    }
  });

  it('RepeatFilter: false positives per lookup stay below 2e-5 in a stream of distinct IPv4 and IPv6 sources at the default size', () => {
    for (const hashed of [2, 5]) {
      const clock = new DetectorClock();
      const f = new RepeatFilter(0x68e31da4, 1e15, clock);
      const w = new Uint32Array(7);
      w[1] = hashed === 2 ? 4 : 0x20010db8;
      const N = 3_000_000; // nearly six generations of 2^19
      let seen = 0;
      for (let i = 0; i < N; i++) {
        w[0] = 0x0a000000 + i;
        w[2] = i >>> 5;
        clock.micros = i;
        if (f.seenBefore(w, hashed)) seen++;
      }
      assert.ok(f.rotations >= 5);
      assert.ok(seen / N < 2e-5, `${hashed === 2 ? 'IPv4' : 'IPv6'}: ${seen} of ${N} distinct sources seen before`);
    }
  });

  it('RepeatFilter: fixed size, remembers a source for at least one generation, forgets after two', () => {
    const clock = new DetectorClock();
    const f = new RepeatFilter(1, 10 * S, clock, 1 << 16, 7, 1000);
    assert.equal(f.bytes, 2 * (1 << 16) / 8);
    const w = new Uint32Array(2);
    w[0] = 0xc6120505;
    w[1] = 4;
    clock.micros = 0;
    assert.equal(f.seenBefore(w, 2), false);
    clock.micros = 1;
    assert.equal(f.seenBefore(w, 2), true);
    // Two rotations by age without seeing it again: forgotten.
    const other = new Uint32Array(2);
    other[1] = 4;
    for (const t of [11 * S, 22 * S]) {
      other[0] = t;
      clock.micros = t;
      f.seenBefore(other, 2);
    }
    clock.micros = 23 * S;
    assert.equal(f.seenBefore(w, 2), false);
  });
});

/**
 * The live bench's flood in process (issue 12.5): random sources drawn from
 * one /16, random source ports, 20,000 SYNs per second to each of two decoy
 * ports for 6 s. Drawn from 65,536 addresses, the flood repeats most of its
 * own sources by chance within seconds; those repeats must not use up what
 * lets a real scanner's repeat through.
 */
describe('flood gate: a real scanner stays visible inside a /16 spoofed flood', () => {
  const FLOOD_PPS = 20_000; // per port
  const FLOOD_SECONDS = 6;
  const REAL_SOURCES = 200;
  /** How a real scanner's second probe differs from its first. */
  type Repeat = { readonly name: string; readonly port2: number; readonly sport2: (sport: number) => number };
  const repeats: readonly Repeat[] = [
    { name: 'a retransmission (same frame)', port2: 445, sport2: (p) => p },
    { name: 'nmap 7 -sS retransmitting (source port + 2, as captured)', port2: 445, sport2: (p) => p + 2 },
    { name: 'hping3 (source port + 1 per packet)', port2: 445, sport2: (p) => p + 1 },
    { name: 'a sweep reaching a second decoy port (one source port)', port2: 3389, sport2: (p) => p },
    { name: 'a connect() retry (same source port)', port2: 445, sport2: (p) => p },
  ];

  interface Run {
    readonly alarms: Alarm[];
    readonly sent: number;
    /** Real sources with their own alarm by the end of the call that handled their second probe. */
    readonly visible: number;
    readonly d: Detector;
  }

  /**
   * Feeds the flood, and REAL_SOURCES sources probing twice `gapMicros`
   * apart (20 ms) from 0.5 s on (one every `spacingMicros`, 25 ms), in time
   * order, with the detector's clock.
   */
  function simulate(repeat: Repeat, seed: number, spacingMicros = 25_000, gapMicros = 20_000): Run {
    const alarms: Alarm[] = [];
    const d = new Detector({ policy, windowMicros: 60 * S, maxTrackedKeys: 100_000, serverAddresses: [], onAlarm: (a) => alarms.push(a), seed });
    const flood = segment();
    const real = segment();
    let x = seed | 1;
    const next = (): number => { x ^= x << 13; x ^= x >>> 17; x ^= x << 5; return x >>> 0; };
    // Real probes, sorted by time: [time, source index, which probe].
    const plan: [number, number, number][] = [];
    for (let i = 0; i < REAL_SOURCES; i++) {
      const t = 0.5 * S + i * spacingMicros;
      plan.push([t, i, 0], [t + gapMicros, i, 1]);
    }
    plan.sort((a, b) => a[0] - b[0]);
    const sports = Array.from({ length: REAL_SOURCES }, () => 1024 + (next() % 60_000));
    const alarmedBy = new Set<number>();
    let visible = 0;
    let sent = 0;
    let p = 0;
    const total = FLOOD_PPS * 2 * FLOOD_SECONDS;
    for (let k = 0; k < total; k++) {
      const t = Math.floor((k * S) / (FLOOD_PPS * 2));
      while (p < plan.length && plan[p]![0] <= t) {
        const [at, i, which] = plan[p++]!;
        real.src[0] = 198; real.src[1] = 18; real.src[2] = 1 + (i >>> 8); real.src[3] = i & 0xff;
        real.dstPort = which === 0 ? 445 : repeat.port2;
        real.srcPort = which === 0 ? sports[i]! : repeat.sport2(sports[i]!);
        real.tsMicros = at;
        const before = alarms.length;
        d.observe(real, 0, sent++);
        if (probeAlarms(alarms.slice(before)).some((a) => a.source[0] === 198 && a.source[1] === 18)) alarmedBy.add(i);
        if (which === 1 && alarmedBy.has(i)) visible++;
      }
      const r = next();
      flood.src[0] = 198; flood.src[1] = 19; flood.src[2] = (r >>> 8) & 0xff; flood.src[3] = r & 0xff;
      flood.srcPort = 1024 + (next() % 64_512);
      flood.dstPort = k % 2 === 0 ? 445 : 3389;
      flood.tsMicros = t;
      d.observe(flood, 0, sent++);
    }
    d.flush();
    return { alarms, sent, visible, d };
  }

  it('a real source whose repeat comes 4 s later, after the whole /16 came round again, still has its own alarm', () => {
    // At 40,000 SYNs/s every flood source comes back every ~1.6 s: what remembers the real source's port
    // must keep it while the flood's sources pass through its place again and again.
    for (const seed of [3, 0x9e3779b9, 77]) {
      const { alarms, sent, visible } = simulate(repeats[0]!, seed, 5_000, 4 * S);
      assert.equal(visible, REAL_SOURCES, `seed ${seed}: ${visible}/${REAL_SOURCES} real sources alarmed by their second probe`);
      assert.equal(sum(alarms), sent);
    }
  });

  for (const repeat of repeats) {
    it(`every real source repeating as ${repeat.name} has its own alarm at its second probe; sums hold`, () => {
      for (const seed of [3, 0x9e3779b9]) {
        const { alarms, sent, visible, d } = simulate(repeat, seed);
        assert.equal(visible, REAL_SOURCES, `seed ${seed}: ${visible}/${REAL_SOURCES} real sources alarmed by their second probe`);
        assert.equal(sum(alarms), sent, 'every probe counted once: flood alarms plus own alarms');
        // The flood's own alarms: per port 1,000 + 600 new-source tokens and as many ordinary promotions (its chance
        // repeats drain that bucket), plus its repeats that came by chance from a near port: ~176,000 repeats × 2.6e-4.
        const firsts = probeAlarms(alarms).filter((a) => a.phase === 'first').length;
        assert.ok(firsts <= 2 * 2 * (1000 + 100 * FLOOD_SECONDS) + REAL_SOURCES + 200, `${firsts} first alarms`);
        assert.ok(d.trackedKeys === 0);
      }
    });
  }
});

/**
 * The last source port per source (issue 12.5): a repeat from a port near
 * the last one is a real sender's; the table is fixed-size, remembers the
 * eight most recent sources of a set, and never confuses two IPv4 sources.
 */
import assert from 'node:assert/strict';
import { LAST_PORT_SETS, LastPort, LastSourcePort, NEAR_SOURCE_PORT } from '../../src/detect/last-source-port.js';

/** An untunnelled IPv4 source as the detector hashes it (probe-key.ts: address, family). */
function v4(address: number): [Uint32Array, number] {
  return [Uint32Array.of(address >>> 0, 4), 2];
}

/** A tunnelled or IPv6 source: more words. */
function v6(i: number): [Uint32Array, number] {
  return [Uint32Array.of(0x20010db8, 0, 0, i >>> 0, 6), 5];
}

describe('LastSourcePort', () => {
  it('fixed size: 2 MiB at the default', () => {
    assert.equal(new LastSourcePort(1).bytes, LAST_PORT_SETS * 32);
    assert.equal(new LastSourcePort(1).bytes, 2 * 2 ** 20);
  });

  it('a repeat is near when its port is 0..16 above the last one, mod 2^16 (hping3 wrapping past 65535), and the last port moves', () => {
    for (const source of [v4(0xc6120505), v6(7)]) {
      const m = new LastSourcePort(3);
      assert.equal(m.lookup(...source, 40_000), LastPort.unknown, 'first sight: nothing to be near');
      assert.equal(m.lookup(...source, 40_000), LastPort.near, 'same port');
      assert.equal(m.lookup(...source, 40_002), LastPort.near, 'nmap 7 retransmitting');
      assert.equal(m.lookup(...source, 40_002 + NEAR_SOURCE_PORT), LastPort.near);
      assert.equal(m.lookup(...source, 40_002 + NEAR_SOURCE_PORT), LastPort.near, 'the last port moved: Δ 0');
      assert.equal(m.lookup(...source, 40_002 + NEAR_SOURCE_PORT - 1), LastPort.far, 'down: a spoofed source\'s chance');
      assert.equal(m.lookup(...source, 40_002 + 2 * NEAR_SOURCE_PORT + 1), LastPort.far, 'up 18');
      assert.equal(m.lookup(...source, 65_535), LastPort.far);
      assert.equal(m.lookup(...source, 0), LastPort.near, '65,535 → 0 is up 1');
      assert.equal(m.lookup(...source, 1), LastPort.near, 'port 0 is remembered');
      assert.equal(m.lookup(...source, 65_534), LastPort.far, '1 → 65,534 is down 3');
    }
  });

  it('at the default size never confuses two IPv4 sources, even from one port; other sources ~2^-16 per way', () => {
    // 2^20 sources from one port: 16 per set, each lookup meets the four most recent of its set.
    const m = new LastSourcePort(5);
    let confused = 0;
    for (let a = 0; a < 1 << 20; a++) if (m.lookup(...v4(0x0a000000 + a), 1234) !== LastPort.unknown) confused++;
    assert.equal(confused, 0, 'IPv4: exact');
    const m6 = new LastSourcePort(5);
    let confused6 = 0;
    for (let a = 0; a < 1 << 20; a++) if (m6.lookup(...v6(a), 1234) !== LastPort.unknown) confused6++;
    // Expected 2^20 × 8 ways × 2^-16 = 128.
    assert.ok(confused6 < 200, `IPv6: ${confused6} of 2^20 taken for another source`);
  });

  it('remembers the eight most recent sources of a set: a ninth evicts the least recent', () => {
    const m = new LastSourcePort(9, 1); // one set
    for (let a = 0; a < 8; a++) m.lookup(...v4(a), 100 + a);
    assert.equal(m.lookup(...v4(0), 100), LastPort.near, 'the oldest, now the most recent');
    m.lookup(...v4(8), 108); // evicts source 1, the least recent
    assert.equal(m.lookup(...v4(1), 101), LastPort.unknown, 'evicted');
    // Now: 1, 8, 0, 7, 6, 5, 4, 3 (2 evicted by 1).
    assert.equal(m.lookup(...v4(2), 102), LastPort.unknown, 'evicted');
    for (const a of [2, 1, 8, 0, 7, 6, 5]) assert.equal(m.lookup(...v4(a), 100 + a), LastPort.near, `source ${a} still held`);
  });

  it('a random port from a source seen before is near by chance about 17 in 65,536 times', () => {
    const m = new LastSourcePort(11);
    let x = 2463534242;
    let near = 0;
    const N = 400_000;
    for (let i = 0; i < N; i++) {
      x ^= x << 13; x ^= x >>> 17; x ^= x << 5;
      // 1,000 sources, so nearly every lookup is a repeat with an unrelated port.
      if (m.lookup(...v4(0xc6130000 + ((x >>> 0) % 1000)), (x >>> 10) & 0xffff) === LastPort.near && i >= 1000) near++;
    }
    const expected = (N * 17) / 65_536;
    assert.ok(near > expected * 0.7 && near < expected * 1.3, `${near} near by chance, ~${expected.toFixed(0)} expected`);
  });
});

import assert from 'node:assert/strict';
import { ticksToMicros, timestampScale } from '../../src/source/pcapng-timestamp.js';

/** Exact reference: floor(ticks * 1e6 / ticksPerSecond) + offset. */
function reference(tsresol: number | undefined, hi: number, lo: number, offsetSeconds: number): number {
  const r = tsresol ?? 6;
  const tps = (r & 0x80) !== 0 ? 1n << BigInt(r & 0x7f) : 10n ** BigInt(r & 0x7f);
  const ticks = (BigInt(hi) << 32n) | BigInt(lo);
  return Number((ticks * 1_000_000n) / tps + BigInt(offsetSeconds) * 1_000_000n);
}

/** Deterministic pseudo-random 32-bit values (xorshift). */
function* randoms(seed: number): Generator<number> {
  let x = seed >>> 0 || 1;
  for (;;) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    yield x;
  }
}

describe('pcapng timestamps', () => {
  const resolutions: (number | undefined)[] = [undefined];
  for (let k = 0; k <= 19; k++) resolutions.push(k);
  for (let k = 0; k <= 63; k++) resolutions.push(0x80 | k);

  it('convert exactly for every resolution, including counts above 2^53', () => {
    const rnd = randoms(12345);
    for (const resol of resolutions) {
      const scale = timestampScale(resol, 0);
      for (let i = 0; i < 300; i++) {
        let hi = rnd.next().value as number;
        const lo = rnd.next().value as number;
        // Keep the result within what a double holds exactly (< 2^53 µs), as real clocks are.
        const ref = reference(resol, hi, lo, 0);
        if (!Number.isSafeInteger(ref)) hi = hi % 1000;
        const expect = reference(resol, hi, lo, 0);
        if (!Number.isSafeInteger(expect)) continue;
        assert.equal(ticksToMicros(scale, hi, lo), expect, `resol ${resol} hi ${hi} lo ${lo}`);
      }
    }
  });

  it('gets nanosecond counts of today right where one double would not', () => {
    const ns = 1_700_000_000_123_455_999n;
    const hi = Number(ns >> 32n);
    const lo = Number(ns & 0xffffffffn);
    assert.notEqual(Math.floor(Number(ns) / 1000), 1_700_000_000_123_455); // the trap
    assert.equal(ticksToMicros(timestampScale(9), hi, lo), 1_700_000_000_123_455);
  });

  it('adds if_tsoffset seconds, also negative ones', () => {
    assert.equal(ticksToMicros(timestampScale(6, 3600), 0, 5), 3_600_000_005);
    assert.equal(ticksToMicros(timestampScale(9, -10), 0, 20_000_000_000 % 2 ** 32), reference(9, 0, 20_000_000_000 % 2 ** 32, -10));
    assert.equal(ticksToMicros(timestampScale(0x80 | 32, 1), 1, 2 ** 31), 2_500_000);
  });
});

/**
 * pcapng timestamps: a 64-bit count of ticks whose length an interface sets
 * with if_tsresol (10^-k or 2^-k seconds; 10^-6 when absent), shifted by
 * if_tsoffset seconds. The count can exceed 2^53 (nanoseconds since 1970
 * already do), so conversion to microseconds splits it instead of forming it
 * as one double. Truncates toward the earlier microsecond.
 */

const TWO_32 = 4294967296;

/** Tick length 10^-k with k <= 6: microseconds = ticks * 10^(6-k). */
interface Multiply {
  readonly kind: 'mul';
  readonly factor: number;
  readonly offsetMicros: number;
}
/** Tick length 10^-k, 6 < k <= 12: divide by d = 10^(k-6) <= 10^6, split at 2^32. */
interface DivideDecimal {
  readonly kind: 'div';
  readonly divisor: number;
  /** floor(2^32 / divisor) and 2^32 mod divisor. */
  readonly q: number;
  readonly r: number;
  readonly offsetMicros: number;
}
/** Tick length 2^-k with k <= 32: whole seconds and fraction separate exactly. */
interface BinaryFraction {
  readonly kind: 'bin';
  /** 2^k and 2^(32-k). */
  readonly ticksPerSecond: number;
  readonly hiScale: number;
  readonly offsetMicros: number;
}
/** Anything finer: exact but allocating BigInt arithmetic (no real capture tool writes these). */
interface Exotic {
  readonly kind: 'big';
  readonly ticksPerSecond: bigint;
  readonly offsetMicros: number;
}

export type TimestampScale = Multiply | DivideDecimal | BinaryFraction | Exotic;

/** The scale for an if_tsresol byte (undefined = option absent) and if_tsoffset seconds. */
export function timestampScale(tsresol: number | undefined, offsetSeconds = 0): TimestampScale {
  const offsetMicros = offsetSeconds * 1e6;
  const resol = tsresol ?? 6;
  const exp = resol & 0x7f;
  if ((resol & 0x80) === 0) {
    if (exp <= 6) return { kind: 'mul', factor: 10 ** (6 - exp), offsetMicros };
    if (exp <= 12) {
      const divisor = 10 ** (exp - 6);
      return { kind: 'div', divisor, q: Math.floor(TWO_32 / divisor), r: TWO_32 % divisor, offsetMicros };
    }
    return { kind: 'big', ticksPerSecond: 10n ** BigInt(exp), offsetMicros };
  }
  if (exp <= 32) {
    return { kind: 'bin', ticksPerSecond: 2 ** exp, hiScale: 2 ** (32 - exp), offsetMicros };
  }
  return { kind: 'big', ticksPerSecond: 1n << BigInt(exp), offsetMicros };
}

/** Microseconds since the epoch for the 64-bit tick count hi:lo. */
export function ticksToMicros(s: TimestampScale, hi: number, lo: number): number {
  switch (s.kind) {
    case 'mul':
      return (hi * TWO_32 + lo) * s.factor + s.offsetMicros;
    case 'div':
      // (hi*2^32 + lo)/d = hi*q + (hi*r + lo)/d, and hi*r + lo < 2^53.
      return hi * s.q + Math.floor((hi * s.r + lo) / s.divisor) + s.offsetMicros;
    case 'bin': {
      const tps = s.ticksPerSecond;
      const seconds = hi * s.hiScale + Math.floor(lo / tps);
      const fraction = lo % tps;
      return seconds * 1e6 + Math.floor((fraction * 1e6) / tps) + s.offsetMicros;
    }
    case 'big': {
      const ticks = (BigInt(hi) << 32n) | BigInt(lo);
      return Number((ticks * 1000000n) / s.ticksPerSecond) + s.offsetMicros;
    }
  }
}

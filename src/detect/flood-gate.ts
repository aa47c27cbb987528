/**
 * The flood gate: per decoy port, a token bucket for new keys (rate
 * `newSourceRate` per second, burst 10 s worth) and, for probes that get no
 * token or find the key table full, one flood window per port that sums them
 * into `honeypot-flood` alarms (one at once, one with the rest when the
 * window closes). This is what keeps the alarm rate, the CPU per packet and
 * the memory bounded whatever a spoofing attacker sends. State is a few
 * numbers per policy port plus at most FLOOD_SAMPLE sampled sources.
 *
 * A source seen twice while its port is over the rate (repeat-filter.ts)
 * is promoted to a key of its own. Promotions have two buckets of their own
 * per port (each the same rate and burst): one for repeats from a source
 * port near the source's last one (last-source-port.ts: a retransmission,
 * a retry, a sweep; what a real scanner sends), which a spoofed flood's
 * chance repeats (a random port) almost never take, and one for any other
 * repeat. So an attacker who repeats every spoofed source, from any port,
 * at most triples the alarm rate, and the key table bounds the rest.
 */
import type { TcpSegment } from '../decode/segment.js';
import { formatAddress } from '../net/address.js';
import type { AlarmBuilder } from './alarm-builder.js';
import type { DetectorClock } from './detector-clock.js';

/** Sources named in a flood alarm. */
export const FLOOD_SAMPLE = 8;

/** Why a probe went to the flood window. */
export const FloodReason = { tableFull: 1, rate: 2 } as const;
export type FloodReasonCode = (typeof FloodReason)[keyof typeof FloodReason];

export class FloodGate {
  private floodStart: Float64Array;
  private floodFirst: Float64Array;
  private floodLast: Float64Array;
  private floodPending: Float64Array;
  private floodActive: Uint8Array;
  private floodReason: Uint8Array;
  /** No active flood window started before this (a lower bound): closeExpired skips the per-port scan until then. */
  private floodEarliest = Infinity;
  private floodSamples: string[][];
  private tokens: Float64Array;
  private tokensAt: Float64Array;
  private promotions: Float64Array;
  private promotionsAt: Float64Array;
  private nearPromotions: Float64Array;
  private nearPromotionsAt: Float64Array;
  private readonly burst: number;
  /** The burst again, as a double in a typed array: see refill. */
  private readonly burstTokens = new Float64Array(1);

  constructor(
    ports: number,
    private readonly newSourceRate: number,
    private readonly alarms: AlarmBuilder,
    private readonly clock: DetectorClock,
    private readonly window: number,
  ) {
    this.burst = newSourceRate * 10;
    this.burstTokens[0] = this.burst;
    this.floodStart = new Float64Array(ports);
    this.floodFirst = new Float64Array(ports);
    this.floodLast = new Float64Array(ports);
    this.floodPending = new Float64Array(ports);
    this.floodActive = new Uint8Array(ports);
    this.floodReason = new Uint8Array(ports);
    this.floodSamples = Array.from({ length: ports }, () => []);
    this.tokens = new Float64Array(ports).fill(this.burst);
    this.tokensAt = new Float64Array(ports).fill(-Infinity);
    this.promotions = new Float64Array(ports).fill(this.burst);
    this.promotionsAt = new Float64Array(ports).fill(-Infinity);
    this.nearPromotions = new Float64Array(ports).fill(this.burst);
    this.nearPromotionsAt = new Float64Array(ports).fill(-Infinity);
  }

  /** Takes a new-key token of port `i` now (the detector's clock); false when the bucket is empty. */
  takeToken(i: number): boolean {
    return this.take(this.tokens, this.tokensAt, i);
  }

  /**
   * Whether port `i` has a promotion token now (a repeating source under
   * flood may get a key of its own); takes none. Asked first so that, while
   * the bucket is empty, the flood path skips the lookups whose answer
   * could not matter.
   */
  promotionAvailable(i: number): boolean {
    this.refill(this.promotions, this.promotionsAt, i);
    return this.promotions[i]! >= 1;
  }

  /** Takes a promotion token of port `i` (a repeating source under flood); false when the bucket is empty. */
  takePromotion(i: number): boolean {
    return this.take(this.promotions, this.promotionsAt, i);
  }

  /**
   * Whether port `i`'s bucket for near repeats has a token now; takes none.
   * With promotionAvailable false as well, no lookup's answer can matter
   * (sighting-queue.ts).
   */
  nearPromotionAvailable(i: number): boolean {
    this.refill(this.nearPromotions, this.nearPromotionsAt, i);
    return this.nearPromotions[i]! >= 1;
  }

  /**
   * Takes a token of port `i`'s bucket for repeats from a near source port
   * (a real sender's); false when it is empty.
   */
  takeNearPromotion(i: number): boolean {
    return this.take(this.nearPromotions, this.nearPromotionsAt, i);
  }

  private take(tokens: Float64Array, at: Float64Array, i: number): boolean {
    this.refill(tokens, at, i);
    if (tokens[i]! < 1) return false;
    tokens[i]!--;
    return true;
  }

  /** Adds the tokens earned since the bucket was last looked at (the first look finds it full). */
  private refill(tokens: Float64Array, at: Float64Array, i: number): void {
    const now = this.clock.micros;
    const last = at[i]!;
    if (!(now > last)) return;
    // Both arms doubles: a phi of a small integer and a double is boxed when this is not inlined.
    const earned = last === -Infinity ? this.burstTokens[0]! : ((now - last) * this.newSourceRate) / 1e6;
    const filled = tokens[i]! + earned;
    tokens[i] = Math.min(filled, this.burstTokens[0]!);
    at[i] = now;
  }

  /** Sums a probe of port `i` into its flood window (opening one, with an alarm at once, if none is open). */
  probe(i: number, seg: TcpSegment, reason: FloodReasonCode): void {
    const ts = seg.tsMicros;
    const now = this.clock.micros;
    const sample = this.floodSamples[i]!;
    if (sample.length < FLOOD_SAMPLE) {
      const text = formatAddress(seg.family, seg.src);
      if (!sample.includes(text)) sample.push(text);
    }
    if (this.floodActive[i]) {
      this.floodPending[i]!++;
      if (ts > this.floodLast[i]! || this.floodPending[i] === 1) this.floodLast[i] = ts;
      if (this.floodPending[i] === 1) this.floodFirst[i] = ts;
      return;
    }
    this.floodActive[i] = 1;
    this.floodReason[i] = reason;
    this.floodStart[i] = now;
    if (now < this.floodEarliest) this.floodEarliest = now;
    this.floodPending[i] = 0;
    this.emit(i, 'first', 1, ts, ts);
    this.floodSamples[i] = [];
  }

  /** No active flood window started before this (a lower bound; Infinity: none is open). */
  earliestStart(): number {
    return this.floodEarliest;
  }

  /** Closes the flood windows that ended by the clock. */
  closeExpired(): void {
    const limit = this.clock.micros - this.window;
    if (this.floodEarliest > limit) return;
    let earliest = Infinity;
    for (let i = 0; i < this.floodActive.length; i++) {
      if (!this.floodActive[i]) continue;
      if (this.floodStart[i]! <= limit) this.close(i);
      else earliest = Math.min(earliest, this.floodStart[i]!);
    }
    this.floodEarliest = earliest;
  }

  /** Closes every open flood window. */
  flush(): void {
    for (let i = 0; i < this.floodActive.length; i++) if (this.floodActive[i]) this.close(i);
  }

  /**
   * Moves to a new port list (`map[i]`: old port i's index among `ports`,
   * -1 gone): windows of ports that leave are closed now, under the old
   * policy, so call this before the alarm builder learns the new one.
   */
  reconfigure(map: readonly number[], ports: number): void {
    map.forEach((j, i) => { if (j < 0 && this.floodActive[i]) this.close(i); });
    const moveF = (from: Float64Array, fresh: number): Float64Array => {
      const to = new Float64Array(ports).fill(fresh);
      map.forEach((j, i) => { if (j >= 0) to[j] = from[i]!; });
      return to;
    };
    const moveU = (from: Uint8Array): Uint8Array => {
      const to = new Uint8Array(ports);
      map.forEach((j, i) => { if (j >= 0) to[j] = from[i]!; });
      return to;
    };
    this.floodStart = moveF(this.floodStart, 0);
    this.floodFirst = moveF(this.floodFirst, 0);
    this.floodLast = moveF(this.floodLast, 0);
    this.floodPending = moveF(this.floodPending, 0);
    this.tokens = moveF(this.tokens, this.burst);
    this.tokensAt = moveF(this.tokensAt, -Infinity);
    this.promotions = moveF(this.promotions, this.burst);
    this.promotionsAt = moveF(this.promotionsAt, -Infinity);
    this.nearPromotions = moveF(this.nearPromotions, this.burst);
    this.nearPromotionsAt = moveF(this.nearPromotionsAt, -Infinity);
    this.floodActive = moveU(this.floodActive);
    this.floodReason = moveU(this.floodReason);
    const samples: string[][] = Array.from({ length: ports }, () => []);
    map.forEach((j, i) => { if (j >= 0) samples[j] = this.floodSamples[i]!; });
    this.floodSamples = samples;
  }

  private close(i: number): void {
    this.floodActive[i] = 0;
    const n = this.floodPending[i]!;
    if (n > 0) this.emit(i, 'follow-up', n, this.floodFirst[i]!, this.floodLast[i]!);
    this.floodSamples[i] = [];
  }

  private emit(i: number, phase: 'first' | 'follow-up', count: number, start: number, end: number): void {
    this.alarms.flood(i, {
      phase, count, start, end,
      reason: this.floodReason[i] === FloodReason.tableFull ? 'tracked-keys-full' : 'new-source-rate',
      sampleSources: this.floodSamples[i]!,
    });
  }
}

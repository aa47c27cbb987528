/**
 * Deferred sightings of flood sources: last-source-port lookups whose answer
 * cannot matter when they are made, applied later in order, in batches.
 *
 * Under a flood, every probe of a new key over its port's rate looks its
 * source up in the last-source-port table (last-source-port.ts): a cache
 * miss in 2 MiB, and the answer is waited for at once. But while neither of
 * the port's promotion buckets holds a token — nearly all of a flood, whose
 * rate is hundreds of times the buckets' — the answer decides nothing: what
 * the lookup must still do is update the table (the source's last port, its
 * place in its set) and, for a source the table did not hold, add it to the
 * repeat filter. Those effects are queued here and applied PENDING at a
 * time — after touching every queued set first, so that their misses
 * overlap instead of queueing one per packet — and before any lookup whose
 * answer matters (`flush`), in the order they were made, each filter add
 * with its own time. So every lookup that decides something sees exactly
 * the state it would have seen with no queue, and the tables end the same
 * (the unit test compares them whole with the queue on and off).
 *
 * Fixed memory (a few KiB), allocated at construction; nothing allocates
 * afterwards.
 */
import type { DetectorClock } from './detector-clock.js';
import { LastPort, type LastSourcePort } from './last-source-port.js';
import { SOURCE_WORDS } from './probe-key.js';
import type { RepeatFilter } from './repeat-filter.js';

/** Sightings applied together. */
const PENDING = 256;

export class SightingQueue {
  private readonly set = new Int32Array(PENDING);
  /** Tag << 16 | source port. */
  private readonly tagPort = new Int32Array(PENDING);
  /** Words of the source hashed (0: no filter add wanted for an unknown source; else 2..SOURCE_WORDS). */
  private readonly hashed = new Uint8Array(PENDING);
  private readonly words = new Uint32Array(PENDING * SOURCE_WORDS);
  private readonly at = new Float64Array(PENDING);
  private readonly scratch = new Uint32Array(SOURCE_WORDS);
  private count = 0;
  /** Sink of the touching loads (public so that neither tsc nor V8 drops it; means nothing). */
  touched = 0;

  constructor(
    private readonly lastPorts: LastSourcePort,
    private readonly repeats: RepeatFilter,
    private readonly clock: DetectorClock,
  ) {}

  /**
   * Queues a lookup of the source in `words[0..hashed)` from `port`, its
   * answer unused; `remember`: a source the table did not hold then goes to
   * the repeat filter, at the clock's time now.
   */
  defer(words: Uint32Array, hashed: number, port: number, remember: boolean): void {
    const lastPorts = this.lastPorts;
    lastPorts.place(words, hashed);
    const n = this.count;
    this.set[n] = lastPorts.placedSet;
    this.tagPort[n] = (lastPorts.placedTag << 16) | port;
    if (remember) {
      this.hashed[n] = hashed;
      const base = n * SOURCE_WORDS;
      for (let i = 0; i < hashed; i++) this.words[base + i] = words[i]!;
      this.at[n] = this.clock.micros;
    } else this.hashed[n] = 0;
    this.count = n + 1;
    if (n + 1 === PENDING) this.flush();
  }

  /** Applies every queued sighting, in order (see the header). */
  flush(): void {
    const n = this.count;
    if (n === 0) return;
    this.count = 0;
    // Locals, not fields, in the loops: V8 reloads a field after a call it does not inline.
    const lastPorts = this.lastPorts;
    const sets = this.set;
    const tagPort = this.tagPort;
    const hashed = this.hashed;
    // Start every set's cache miss first: these loads do not wait on one another.
    let touched = 0;
    for (let j = 0; j < n; j++) touched |= lastPorts.touchSet(sets[j]!);
    this.touched = touched;
    for (let j = 0; j < n; j++) {
      const tp = tagPort[j]!;
      const answer = lastPorts.lookupPlaced(sets[j]!, tp >>> 16, tp & 0xffff);
      const k = hashed[j]!;
      if (k !== 0 && answer === LastPort.unknown) this.remember(j, k);
    }
  }

  private remember(j: number, k: number): void {
    const scratch = this.scratch;
    const base = j * SOURCE_WORDS;
    for (let i = 0; i < k; i++) scratch[i] = this.words[base + i]!;
    this.repeats.rememberAt(scratch, k, this.at, j);
  }
}

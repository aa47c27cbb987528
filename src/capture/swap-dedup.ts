/**
 * While libpcap handles of two filter generations are open on one device
 * (pcap.ts replaces a filter by opening a new handle before closing the
 * old), a frame both filters pass is captured by both handles. This decides
 * which copies to deliver so that each frame on the wire is delivered once.
 *
 * Rule: per (device, frame bytes), count the copies each generation has
 * read; a copy is delivered when its generation's count exceeds every other
 * generation's. Each handle sees the same packets in wire order, so this
 * delivers max over generations of the copies: one per frame the handles
 * share, whichever handle is read first, and one per byte-identical repeat
 * on the wire (a retransmission that repeats IP id, ports and sequence
 * number is still a probe). A frame only the new filter passes (a new port)
 * is delivered at once.
 *
 * Limits, and why:
 * - Only frames read after the swap began are counted. A frame the old
 *   handle captured before the new one opened, but read after, is counted
 *   once for the old generation; a byte-identical repeat of it seen by the
 *   new handle alone after the old one closed is then taken for the same
 *   copy and not delivered. No packet header reaches JavaScript through
 *   `cap`, so capture order is not known more exactly.
 * - At most MAX_TRACKED distinct frames, and MAX_TRACKED_BYTES of frame
 *   bytes (frames passed whole may be 64 KiB each), per swap: beyond, frames are
 *   delivered from every handle and counted in `untracked` (a flood during a
 *   reload may then count some probes twice; none is missed).
 * - Tracking allocates (a string key per frame) only while a swap lasts;
 *   otherwise `admit` is a branch and nothing else.
 */

/** Distinct frames tracked per swap; a 1 MiB batch of 60-byte probes is ~17,000. */
export const MAX_TRACKED = 65_536;
/** Frame bytes held as keys per swap. */
export const MAX_TRACKED_BYTES = 16 * 2 ** 20;

export class SwapDedup {
  /** (device, bytes) → copies read per generation; undefined = no swap in progress. */
  #copies: Map<string, Map<number, number>> | undefined;
  /** Frames delivered without tracking because the map was full. */
  untracked = 0;
  #bytes = 0;

  get active(): boolean {
    return this.#copies !== undefined;
  }

  /** A new generation opened while an older one is still open. */
  begin(): void {
    this.#copies ??= new Map();
  }

  /** Every older generation is closed and every open handle has been read since. */
  end(): void {
    this.#copies = undefined;
    this.#bytes = 0;
  }

  /** Whether the copy of `frame` that `generation` read on device `device` is to be delivered. */
  admit(device: number, generation: number, frame: Buffer, length: number): boolean {
    const copies = this.#copies;
    if (copies === undefined) return true;
    const key = String.fromCharCode(device) + frame.toString('latin1', 0, length);
    let perGeneration = copies.get(key);
    if (perGeneration === undefined) {
      if (copies.size >= MAX_TRACKED || this.#bytes + length > MAX_TRACKED_BYTES) {
        this.untracked++;
        return true;
      }
      perGeneration = new Map();
      copies.set(key, perGeneration);
      this.#bytes += length;
    }
    const mine = (perGeneration.get(generation) ?? 0) + 1;
    perGeneration.set(generation, mine);
    for (const [g, n] of perGeneration) if (g !== generation && n >= mine) return false;
    return true;
  }
}

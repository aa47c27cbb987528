/**
 * Gives the free pages of malloc's arenas back to the kernel once the sensor
 * has been quiet for a while after start-up or a reload.
 *
 * Why: start-up (module loading, config parsing, V8's optimising compiler
 * threads, whose zones are malloc'd) frees several MiB that glibc keeps
 * resident — free() only returns the top of the main heap, and live blocks
 * pin it. On the idle sensor that was ~7 MiB of its ~30 MiB anonymous memory
 * (README "Idle footprint"). malloc_trim(0) (the addon's trimMalloc)
 * releases the free pages of every arena; it never touches memory in use.
 *
 * Once per quiet spell: `settleAfter()` after work that allocates (ready, a
 * reload) arms one unref'd timer for `settleMs`; more work postpones it, and
 * so does traffic: when the timer fires and `activity()` (the frames captured
 * so far) moved since it was armed, it waits another `settleMs`. A trim in
 * the middle of a flood would take back pages the flood is using (they would
 * fault in again on the packet path). It is not periodic: a trim walks every
 * arena, and an idle sensor frees nothing between spells of work. A trim
 * that throws is ignored (the memory simply stays).
 */

/** After ready or a reload: V8's memory reducer has run by then (5–10 s after ready, measured). */
export const TRIM_SETTLE_MS = 12_000;

export class MemoryTrim {
  #timer: NodeJS.Timeout | undefined;
  #stopped = false;

  #activityAtArm = 0;

  constructor(
    private readonly trim: () => boolean,
    private readonly settleMs = TRIM_SETTLE_MS,
    /** A count that moves while the sensor works (frames captured); the trim waits for it to stand still. */
    private readonly activity: () => number = () => 0,
  ) {}

  /** Work that allocates just ended: trim once nothing else has happened for `settleMs`. */
  settleAfter(): NodeJS.Timeout | undefined {
    if (this.#stopped) return undefined;
    if (this.#timer) clearTimeout(this.#timer);
    this.#activityAtArm = this.activity();
    this.#timer = setTimeout(this.#run, this.settleMs);
    this.#timer.unref();
    return this.#timer;
  }

  stop(): void {
    this.#stopped = true;
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  readonly #run = (): void => {
    this.#timer = undefined;
    if (this.activity() !== this.#activityAtArm) {
      // Traffic since the timer was armed: not a quiet spell yet.
      this.settleAfter();
      return;
    }
    try {
      this.trim();
    } catch {
      // Nothing released: the memory stays resident, the sensor runs on.
    }
  };
}

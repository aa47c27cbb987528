/**
 * Admission for held connections: an overall cap and a per-source cap, so a
 * flood or one noisy scanner cannot exhaust file descriptors or memory.
 * The map only holds sources with live connections, so it is bounded by the
 * overall cap.
 */
export interface ConnectionLimitOptions {
  readonly maxConnections: number;
  readonly maxPerSource: number;
}

export class ConnectionLimiter {
  readonly #perSource = new Map<string, number>();
  #active = 0;

  constructor(private readonly limits: ConnectionLimitOptions) {
    for (const [name, value] of Object.entries(limits)) {
      if (!Number.isSafeInteger(value) || value < 1) throw new RangeError(`${name} must be a positive integer, got ${value}`);
    }
  }

  get active(): number {
    return this.#active;
  }

  /** Claims a slot for `source`; false when either cap is reached. */
  tryAdmit(source: string): boolean {
    if (this.#active >= this.limits.maxConnections) return false;
    const current = this.#perSource.get(source) ?? 0;
    if (current >= this.limits.maxPerSource) return false;
    this.#perSource.set(source, current + 1);
    this.#active++;
    return true;
  }

  /** Gives back a slot claimed by `tryAdmit`. */
  release(source: string): void {
    const current = this.#perSource.get(source);
    if (current === undefined) return;
    if (current <= 1) this.#perSource.delete(source);
    else this.#perSource.set(source, current - 1);
    this.#active--;
  }
}

/** Exponential backoff with "equal jitter": half fixed, half random, so retries of many sensors spread out. */
export function backoffMs(failures: number, initialMs: number, maxMs: number, random: () => number = Math.random): number {
  const ceiling = Math.min(maxMs, initialMs * 2 ** Math.min(Math.max(failures - 1, 0), 30));
  return Math.round(ceiling / 2 + (random() * ceiling) / 2);
}

/** RFC 3339 UTC timestamps with microseconds, from µs since the epoch. */
export function isoMicros(micros: number): string {
  const ms = Math.floor(micros / 1000);
  const frac = Math.round(micros - ms * 1000);
  const base = new Date(ms).toISOString(); // ...SS.mmmZ
  return `${base.slice(0, -1)}${String(frac).padStart(3, '0')}Z`;
}

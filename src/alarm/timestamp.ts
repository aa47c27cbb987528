/**
 * RFC 3339 UTC timestamps with microseconds, from µs since the epoch.
 * Alarms come in bursts within the same second, so the formatter keeps the
 * last second's text and only appends the fraction: Date#toISOString was a
 * visible share of replay time with tens of thousands of alarms.
 */
export class TimestampFormatter {
  private second = NaN;
  private prefix = '';

  format(micros: number): string {
    const second = Math.floor(micros / 1e6);
    if (second !== this.second) {
      this.second = second;
      this.prefix = new Date(second * 1000).toISOString().slice(0, 19); // YYYY-MM-DDTHH:MM:SS
    }
    const frac = Math.floor(micros - second * 1e6);
    return `${this.prefix}.${String(frac).padStart(6, '0')}Z`;
  }
}

export function isoMicros(micros: number): string {
  return new TimestampFormatter().format(micros);
}

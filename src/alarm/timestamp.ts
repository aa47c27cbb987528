/**
 * RFC 3339 UTC timestamps with microseconds, from µs since the epoch.
 * Alarms come in bursts within the same second, so the formatter keeps the
 * last second's text and only appends the fraction: Date#toISOString was a
 * visible share of replay time with tens of thousands of alarms.
 */
/**
 * The range of timestamps an alarm carries: microseconds whose count a double
 * holds exactly (|t| <= 2^53 - 1, i.e. 1684-07-28 to 2255-06-05). Inside it
 * every value formats as a four-digit-year RFC 3339 date-time; outside it a
 * Date throws (beyond ±8.64e15 ms) or prints `+011361-…`, which no SIEM parses.
 * Sources refuse times outside it as damage; the formatter refuses them too.
 */
export const MAX_ALARM_MICROS = Number.MAX_SAFE_INTEGER;
export const MIN_ALARM_MICROS = -Number.MAX_SAFE_INTEGER;

export function isAlarmTime(micros: number): boolean {
  return micros >= MIN_ALARM_MICROS && micros <= MAX_ALARM_MICROS; // false for NaN too
}

export class TimestampFormatter {
  private second = NaN;
  private prefix = '';

  format(micros: number): string {
    // Sources refuse such times; reaching here is a bug, and text like
    // "+011361-…" must never be written as if it were a date.
    if (!isAlarmTime(micros)) throw new RangeError(`timestamp ${micros} µs is outside the range an alarm can carry`);
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

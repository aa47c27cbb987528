import assert from 'node:assert/strict';
import { MAX_ALARM_MICROS, MIN_ALARM_MICROS, TimestampFormatter, isoMicros } from '../../src/alarm/timestamp.js';

const RFC3339 = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/;

describe('alarm timestamps', () => {
  it('are RFC 3339 with four-digit years at both ends of the range, exactly', () => {
    assert.equal(isoMicros(MAX_ALARM_MICROS), '2255-06-05T23:47:34.740991Z');
    assert.match(isoMicros(MIN_ALARM_MICROS), RFC3339);
    assert.match(isoMicros(MIN_ALARM_MICROS), /^1684-/);
    assert.equal(isoMicros(-1), '1969-12-31T23:59:59.999999Z');
  });

  it('refuse what lies outside instead of writing "+011361-…" or throwing a bare RangeError', () => {
    const f = new TimestampFormatter();
    for (const bad of [MAX_ALARM_MICROS + 2, MIN_ALARM_MICROS - 2, 3.6e20, NaN, Infinity]) {
      assert.throws(() => f.format(bad), /outside the range an alarm can carry/);
    }
  });
});

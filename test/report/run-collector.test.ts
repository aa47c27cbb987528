/**
 * The collector behind --summary and --report: exact sums per source, kind
 * sets for alarms that cover several kinds, floods per port, and its bounds
 * (rows, timeline marks, stderr rows) counted rather than silently dropped.
 */
import assert from 'node:assert/strict';
import type { FloodAlarm, ProbeAlarm } from '../../src/alarm/alarm.js';
import { MAX_MARKS, MAX_SOURCES, RunCollector } from '../../src/report/run-collector.js';
import { MAX_TABLE_ROWS, summaryTable } from '../../src/report/summary-table.js';
import { probeAlarm } from '../deliver/alarms.js';

function alarmFrom(i: number, over: Partial<ProbeAlarm> = {}): ProbeAlarm {
  return { ...probeAlarm(i), ...over };
}

describe('RunCollector', () => {
  it('sums a source\'s alarms exactly, by the kind set each alarm names', () => {
    const c = new RunCollector();
    const src = new Uint8Array([198, 18, 0, 1]);
    c.alarm(alarmFrom(1, { source: src, count: 1, kinds: 2, startMicros: 10, endMicros: 10 }));
    c.alarm(alarmFrom(2, { source: src, phase: 'follow-up', count: 17, kinds: 2 | 4 | 8, startMicros: 20, endMicros: 90 }));
    c.alarm(alarmFrom(3, { source: src, destinationPort: 3389, count: 0, kinds: 0, startMicros: 5, endMicros: 5 }));
    const [row] = c.sources();
    assert.equal(row?.probes, 18);
    assert.deepEqual([...row!.kinds], [['fin', 1], ['fin/null/xmas', 17]]);
    assert.deepEqual(row?.ports, ['445/tcp', '3389/tcp']);
    assert.equal(row?.firstMicros, 5);
    assert.equal(row?.lastMicros, 90);
    assert.equal(row?.alarms, 3);
    assert.equal(c.timeline().length, 2, 'an alarm without probes (a connection) is no mark');
  });

  it('keeps whitelisted sources apart and sums floods per port', () => {
    const c = new RunCollector();
    c.whitelistedProbe('198.18.0.3', '445/tcp', 7, 1);
    c.whitelistedProbe('198.18.0.3', '445/tcp', 9, 1);
    const flood: FloodAlarm = { action: 'honeypot-flood', ruleName: 'x', phase: 'first', destinationPort: 445, protocol: 'tcp', count: 40, startMicros: 1, endMicros: 2, severity: 'high', reason: 'new-source-rate', trackedKeyLimit: 10, newSourceRate: 100, sampleSources: [] };
    c.alarm(flood);
    c.alarm({ ...flood, phase: 'follow-up', count: 60, reason: 'tracked-keys-full', endMicros: 9 });
    assert.deepEqual(c.sources().map((r) => [r.source, r.whitelisted, r.probes]), [['198.18.0.3', true, 2]]);
    assert.deepEqual(c.floodRows(), [{ port: '445/tcp', probes: 100, alarms: 2, reasons: ['new-source-rate', 'tracked-keys-full'], firstMicros: 1, lastMicros: 9 }]);
    assert.match(summaryTable(c).join('\n'), /flood: 100 probes of 445\/tcp/);
  });

  it('is bounded: sources and marks beyond the limits are counted, the table says how many more', () => {
    const c = new RunCollector();
    const n = Math.max(MAX_SOURCES, MAX_MARKS) + 50;
    for (let i = 0; i < n; i++) c.alarm(alarmFrom(i, { source: new Uint8Array([10, (i >> 16) & 255, (i >> 8) & 255, i & 255]), count: 2 }));
    const rows = c.sources();
    assert.equal(rows.length, MAX_SOURCES);
    assert.equal(c.sourcesNotListed, n - MAX_SOURCES);
    assert.equal(rows.reduce((s, r) => s + r.probes, 0) + c.probesNotListed, 2 * n, 'every probe is in a row or in the count beyond');
    assert.equal(c.timeline().length, MAX_MARKS);
    assert.equal(c.marksNotKept, n - MAX_MARKS);
    const lines = summaryTable(c);
    assert.equal(lines.filter((l) => /^ {2}10\./.test(l)).length, MAX_TABLE_ROWS);
    assert.ok(lines.some((l) => l === `  and ${MAX_SOURCES - MAX_TABLE_ROWS} more sources (all of them: --report FILE.html)`));
    assert.ok(lines.some((l) => l === `  and ${2 * (n - MAX_SOURCES)} probes from sources beyond the ${MAX_SOURCES} tracked`));
  });
});

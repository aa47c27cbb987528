/**
 * `replay --summary`: the per-source table for stderr, after the run's
 * summary line. One header line, then one line per source (most probes
 * first), at most MAX_TABLE_ROWS of them, then how many more there were.
 * Columns are padded to their widest cell; text from files (fingerprint
 * labels) is escaped and cut, so every row stays one line.
 */
import { TimestampFormatter } from '../alarm/timestamp.js';
import { escapeForMessage } from '../validation/echo.js';
import type { FloodRow, RunCollector, SourceRow } from './run-collector.js';

export const MAX_TABLE_ROWS = 100;

const HEAD = ['source', 'whitelisted', 'decoy ports', 'first seen', 'last seen', 'probes by kind', 'alarms', 'fingerprint'] as const;

export function kindsCell(r: Pick<SourceRow, 'kinds'>): string {
  return [...r.kinds].map(([k, n]) => `${k} ${n}`).join(', ');
}

function cells(r: SourceRow, t: TimestampFormatter): string[] {
  return [
    r.source,
    r.whitelisted ? 'yes' : 'no',
    r.ports.join(','),
    t.format(r.firstMicros),
    t.format(r.lastMicros),
    kindsCell(r),
    String(r.alarms),
    r.fingerprints.length ? escapeForMessage(r.fingerprints.join('; '), 120) : '-',
  ];
}

/** The lines to print (without trailing newlines). */
export function summaryTable(c: RunCollector): string[] {
  const rows = c.sources();
  const t = new TimestampFormatter();
  const shown = rows.slice(0, MAX_TABLE_ROWS).map((r) => cells(r, t));
  const widths = HEAD.map((h, i) => Math.max(h.length, ...shown.map((row) => row[i]!.length)));
  const line = (row: readonly string[]): string => row.map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(widths[i]!))).join('  ');
  const out = [`honeyport: ${rows.length} source${rows.length === 1 ? '' : 's'} probed decoy ports${rows.length ? ' (most probes first):' : ''}`];
  if (rows.length) out.push(`  ${line(HEAD)}`, ...shown.map((row) => `  ${line(row)}`));
  if (rows.length > MAX_TABLE_ROWS) out.push(`  and ${rows.length - MAX_TABLE_ROWS} more sources (all of them: --report FILE.html)`);
  if (c.sourcesNotListed) out.push(`  and ${c.probesNotListed} probes from sources beyond the ${rows.length} tracked`);
  for (const f of c.floodRows()) out.push(floodLine(f, t));
  return out;
}

function floodLine(f: FloodRow, t: TimestampFormatter): string {
  return `  flood: ${f.probes} probes of ${f.port} from sources not tracked one by one (${f.reasons.join(', ')}), ${t.format(f.firstMicros)} to ${t.format(f.lastMicros)}`;
}

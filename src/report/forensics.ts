/**
 * The replay command's forensic outputs in one place, loaded only when
 * `--summary` or `--report` asks for them: the collector and its pipeline
 * tap, the stderr table, and the HTML file (written whole, then renamed, so
 * a reader never sees half a report; a write failure is one stderr line).
 */
import { rename, writeFile } from 'node:fs/promises';
import type { TcpSegment } from '../decode/segment.js';
import type { DetectionSettings } from '../pipeline/detection-settings.js';
import type { ReplayResult } from '../pipeline/replay.js';
import { escapeForMessage } from '../validation/echo.js';
import { htmlReport } from './html-report.js';
import { RunCollector } from './run-collector.js';
import { WhitelistedProbes } from './whitelisted-probes.js';

export { summaryTable } from './summary-table.js';

export function collectorFor(settings: DetectionSettings): { collector: RunCollector; tap: (seg: TcpSegment) => void } {
  const collector = new RunCollector();
  const whitelisted = new WhitelistedProbes(settings.policy, settings.serverAddresses, collector);
  return { collector, tap: (seg) => whitelisted.observe(seg) };
}

export interface ReportRun {
  readonly policy: string;
  readonly inputs: readonly string[];
  readonly version: string;
  readonly result: ReplayResult;
  readonly alarms: number;
  readonly floods: number;
}

/** The counters shown in the report, named as the run summary line names them. */
export function reportCounters(r: ReplayResult, alarms: number, floods: number): [string, number | string][] {
  const d = r.decode;
  return [
    ['files', r.files],
    ['packets', r.packets],
    ['probes', r.detect.probes],
    ['alarms', alarms],
    ['flood alarms', floods],
    ['whitelisted', r.detect.whitelisted],
    ['malformed', d.malformed],
    ['cut by snap length', d.truncated],
    ['reassembled', d.reassembled],
    ['damaged', r.damaged.length],
    ['seconds', r.seconds.toFixed(3)],
  ];
}

/** Writes the report; false (after one stderr line) when it could not be written. */
export async function writeReport(file: string, c: RunCollector, run: ReportRun): Promise<boolean> {
  const html = htmlReport(c, { policy: run.policy, inputs: run.inputs, version: run.version, counters: reportCounters(run.result, run.alarms, run.floods) });
  const tmp = `${file}.${process.pid}.tmp`;
  try {
    await writeFile(tmp, html, { mode: 0o644 });
    await rename(tmp, file);
    return true;
  } catch (err) {
    process.stderr.write(`honeyport: --report ${escapeForMessage(file)}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}: report not written\n`);
    return false;
  }
}

/**
 * What a replay's forensic summary and report are built from: the alarm
 * stream, aggregated per source (decoy ports touched, first and last probe,
 * probe counts by the kinds their alarms name, alarms, fingerprints), a
 * timeline of alarms, the flood alarms per port; plus the probes of
 * whitelisted sources, which raise no alarm and so reach the collector
 * through the pipeline's tap (see WhitelistedProbes).
 *
 * Probe counts are exact: the sum of a source's `probes` is the sum of
 * `event.count` over its alarms. An alarm covering several kinds (a
 * follow-up summing FIN, NULL and XMAS probes) cannot be split by kind, so
 * its count goes to the kind set it names (`fin/null/xmas`).
 *
 * Bounded: at most MAX_SOURCES rows and MAX_MARKS timeline marks are kept;
 * what is beyond is counted (sourcesNotListed, marksNotKept), never dropped
 * silently.
 */
import { PROBE_KIND_NAMES, ProbeKind, type Alarm } from '../alarm/alarm.js';
import { formatAddress } from '../net/address.js';

export const MAX_SOURCES = 10_000;
export const MAX_MARKS = 20_000;

export interface SourceRow {
  readonly source: string;
  readonly whitelisted: boolean;
  /** `445/tcp`, sorted by port. */
  readonly ports: readonly string[];
  readonly firstMicros: number;
  readonly lastMicros: number;
  readonly probes: number;
  /** Kind set (`syn`, `fin/null/xmas`) → probes. */
  readonly kinds: ReadonlyMap<string, number>;
  readonly alarms: number;
  /** Distinct fingerprints of the source's first alarms, as `name (match)`. */
  readonly fingerprints: readonly string[];
}

export interface TimelineMark {
  readonly source: string;
  readonly port: string;
  readonly startMicros: number;
  readonly endMicros: number;
  readonly count: number;
  readonly kinds: string;
}

export interface FloodRow {
  readonly port: string;
  readonly probes: number;
  readonly alarms: number;
  readonly reasons: readonly string[];
  readonly firstMicros: number;
  readonly lastMicros: number;
}

interface MutableRow {
  source: string;
  whitelisted: boolean;
  ports: Set<string>;
  firstMicros: number;
  lastMicros: number;
  probes: number;
  kinds: Map<string, number>;
  alarms: number;
  fingerprints: Set<string>;
}

const KIND_TEXT = Array.from({ length: 1 << PROBE_KIND_NAMES.length }, (_, m) => PROBE_KIND_NAMES.filter((k) => m & ProbeKind[k]).join('/'));

export function kindText(mask: number): string {
  return KIND_TEXT[mask & (KIND_TEXT.length - 1)] || 'none';
}

export class RunCollector {
  private readonly rows = new Map<string, MutableRow>();
  private readonly floods = new Map<string, { probes: number; alarms: number; reasons: Set<string>; first: number; last: number }>();
  private readonly marks: TimelineMark[] = [];
  sourcesNotListed = 0;
  probesNotListed = 0;
  marksNotKept = 0;

  private row(source: string, whitelisted: boolean): MutableRow | undefined {
    const key = `${whitelisted ? 'w' : 'a'} ${source}`;
    let r = this.rows.get(key);
    if (!r) {
      if (this.rows.size >= MAX_SOURCES) return undefined;
      r = { source, whitelisted, ports: new Set(), firstMicros: Infinity, lastMicros: -Infinity, probes: 0, kinds: new Map(), alarms: 0, fingerprints: new Set() };
      this.rows.set(key, r);
    }
    return r;
  }

  private add(r: MutableRow | undefined, port: string, start: number, end: number, count: number, kinds: number): void {
    if (!r) {
      if (count > 0) {
        this.sourcesNotListed++;
        this.probesNotListed += count;
      }
      return;
    }
    r.ports.add(port);
    if (start < r.firstMicros) r.firstMicros = start;
    if (end > r.lastMicros) r.lastMicros = end;
    if (count > 0) {
      r.probes += count;
      const k = kindText(kinds);
      r.kinds.set(k, (r.kinds.get(k) ?? 0) + count);
    }
  }

  alarm(a: Alarm): void {
    const port = `${a.destinationPort}/${a.protocol}`;
    if (a.action === 'honeypot-flood') {
      const f = this.floods.get(port) ?? { probes: 0, alarms: 0, reasons: new Set<string>(), first: Infinity, last: -Infinity };
      this.floods.set(port, f);
      f.probes += a.count;
      f.alarms++;
      f.reasons.add(a.reason);
      f.first = Math.min(f.first, a.startMicros);
      f.last = Math.max(f.last, a.endMicros);
      return;
    }
    const source = formatAddress(a.family, a.source);
    const r = this.row(source, false);
    this.add(r, port, a.startMicros, a.endMicros, a.count, a.kinds);
    if (r) {
      r.alarms++;
      const f = a.origin.fingerprint;
      if (f) r.fingerprints.add(`${f.name} (${f.match})`);
    }
    if (a.count > 0) {
      if (this.marks.length < MAX_MARKS) this.marks.push({ source, port, startMicros: a.startMicros, endMicros: a.endMicros, count: a.count, kinds: kindText(a.kinds) });
      else this.marksNotKept++;
    }
  }

  /** One probe of a whitelisted source (no alarm): from WhitelistedProbes. */
  whitelistedProbe(source: string, port: string, micros: number, kinds: number): void {
    this.add(this.row(source, true), port, micros, micros, 1, kinds);
  }

  sources(): SourceRow[] {
    return [...this.rows.values()]
      .map((r): SourceRow => ({ ...r, ports: [...r.ports].sort((x, y) => Number.parseInt(x, 10) - Number.parseInt(y, 10) || x.localeCompare(y)), fingerprints: [...r.fingerprints].sort() }))
      .sort((x, y) => y.probes - x.probes || x.firstMicros - y.firstMicros || x.source.localeCompare(y.source));
  }

  floodRows(): FloodRow[] {
    return [...this.floods].map(([port, f]) => ({ port, probes: f.probes, alarms: f.alarms, reasons: [...f.reasons].sort(), firstMicros: f.first, lastMicros: f.last }));
  }

  timeline(): readonly TimelineMark[] {
    return this.marks;
  }
}

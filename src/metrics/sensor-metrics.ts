/**
 * The sensor's counters as Prometheus metrics (prom-client), read at scrape
 * time: each scrape takes one snapshot of the sensor, the delivery and the
 * alarm counts, and every collector reads that snapshot. Values are the
 * counters `honeyport status` shows, not a second bookkeeping (only probes by
 * port and kind are tallied for the metrics alone), so the two never drift
 * apart, and a counter
 * is exactly as monotonic as its source — every source lives as long as the
 * process (the detector, the capture, the port holder and the sinks are kept
 * across reloads; probes are tallied by port number, not by policy slot).
 *
 * Names follow Prometheus conventions: the `honeyport_` prefix, `_total` on
 * counters, base units, and labels (port, protocol, kind, action, sink,
 * stage) rather than one name per value. Four process metrics keep the
 * standard names every client library uses (`process_cpu_seconds_total`,
 * `process_resident_memory_bytes`, `process_open_fds`,
 * `process_start_time_seconds`), so stock dashboards read them; they are
 * written here rather than taken from prom-client's default collectors,
 * three of whose names Prometheus' own linter rejects (`nodejs_active_*_total`
 * gauges) and which start a GC observer in the capture process.
 */
import { readdirSync } from 'node:fs';
import { Counter, Gauge, Registry } from 'prom-client';
import { PROBE_KIND_NAMES, type Alarm } from '../alarm/alarm.js';
import type { DeliveryStats } from '../deliver/sink.js';
import type { ProbeTotal } from '../pipeline/probe-tally.js';
import type { SensorStatus } from '../sensor/sensor.js';
import type { MetricsServerCounters } from './metrics-server.js';

export type AlarmCounts = Readonly<Record<Alarm['action'], number>>;

/** Everything a scrape reports, read once per scrape. */
export interface MetricsSnapshot extends Omit<SensorStatus, 'policy'> {
  readonly probes: readonly ProbeTotal[];
  readonly alarms: AlarmCounts;
  readonly sinks: readonly DeliveryStats[];
  /** The metrics endpoint's own connection counters, when it serves these metrics. */
  readonly endpoint?: Readonly<MetricsServerCounters>;
}

type Labels = Record<string, string>;
type Sample = readonly [labels: Labels, value: number];
type Read = (s: MetricsSnapshot) => readonly Sample[];

const one = (value: number): readonly Sample[] => [[{}, value]];

/**
 * Probes by port and kind, plus a zero for every kind of each policy port not
 * probed yet: a series that appeared at 1 would hide the very first probe
 * from `increase()` and `rate()`, and the first probe is the one that matters.
 */
function probeSamples(s: MetricsSnapshot): Sample[] {
  const out: Sample[] = s.probes.map((p) => [{ port: String(p.port), protocol: p.protocol, kind: p.kind }, p.probes]);
  const seen = new Set(s.probes.map((p) => `${p.port}/${p.protocol}`));
  for (const p of s.ports) {
    const key = `${p.port}/${p.protocol}`;
    if (seen.has(key)) continue;
    seen.add(key);
    for (const kind of PROBE_KIND_NAMES) out.push([{ port: String(p.port), protocol: p.protocol, kind }, 0]);
  }
  return out;
}

const perSink = (pick: (s: DeliveryStats) => number): Read => (s) => s.sinks.map((k) => [{ sink: k.sink }, pick(k)]);

export class SensorMetrics {
  readonly contentType: string;
  private readonly registry = new Registry();
  /** The snapshot of the scrape being rendered (collectors run synchronously inside registry.metrics()). */
  private current: MetricsSnapshot | undefined;

  constructor(private readonly read: () => MetricsSnapshot, version: string, o: { readonly processMetrics?: boolean } = {}) {
    this.contentType = this.registry.contentType;
    const counter = (name: string, help: string, labelNames: readonly string[], values: Read): void => {
      const self = this;
      new Counter({
        name, help, labelNames, registers: [this.registry],
        collect() {
          this.reset();
          const s = self.current;
          if (s) for (const [labels, v] of values(s)) this.inc(labels, v);
        },
      });
    };
    const gauge = (name: string, help: string, labelNames: readonly string[], values: Read): void => {
      const self = this;
      new Gauge({
        name, help, labelNames, registers: [this.registry],
        collect() {
          this.reset();
          const s = self.current;
          if (s) for (const [labels, v] of values(s)) this.set(labels, v);
        },
      });
    };

    new Gauge({ name: 'honeyport_build_info', help: 'Always 1; the labels name the running build.', labelNames: ['version'], registers: [this.registry] })
      .set({ version }, 1);

    counter('honeyport_packets_captured_total', 'Packets the kernel filter passed into the capture rings.', [], (s) => one(s.capture.received));
    counter('honeyport_packets_dropped_total', 'Packets lost before decoding: stage "kernel" (ring full) or "handoff" (JavaScript did not take a ring block in time).', ['stage'],
      (s) => [[{ stage: 'kernel' }, s.capture.kernelDrops], [{ stage: 'handoff' }, s.capture.handoffDrops]]);
    counter('honeyport_frames_decoded_total', 'Captured frames given to the decoder.', [], (s) => one(s.decode.frames));
    counter('honeyport_frames_malformed_total', 'Frames the decoder found malformed (counted and skipped).', [], (s) => one(s.decode.malformed));
    counter('honeyport_probes_total', 'Probes of decoy ports (not whitelisted) by port, protocol (tcp: IPv4, tcp6: IPv6) and kind (syn, fin, null, xmas).', ['port', 'protocol', 'kind'], probeSamples);
    counter('honeyport_probes_whitelisted_total', 'Probes from whitelisted sources (no alarm).', [], (s) => one(s.detect.whitelisted));
    counter('honeyport_probes_flood_total', 'Probes summed per port into flood alarms (new-source rate exceeded, or tracked keys full).', [], (s) => one(s.detect.floodProbes));
    gauge('honeyport_tracked_keys', 'Probe keys (source, destination, port, protocol) in an open deduplication window.', [], (s) => one(s.trackedKeys));
    counter('honeyport_alarms_total', 'Alarms raised, by event.action.', ['action'], (s) => Object.entries(s.alarms).map(([action, n]) => [{ action }, n]));
    gauge('honeyport_port_listening', '1 while the decoy port listens on that address; 0 when it is occupied by another process, free (its listener died) or failed.', ['port', 'protocol', 'address'],
      (s) => s.ports.map((p) => [{ port: String(p.port), protocol: p.protocol, address: p.address }, p.state === 'listening' ? 1 : 0]));
    counter('honeyport_connections_accepted_total', 'Connections the decoy ports accepted and read.', [], (s) => one(s.connections.accepted));
    counter('honeyport_connections_refused_total', 'Connections closed at once because a connection limit (overall or per source) was reached.', [], (s) => one(s.connections.refusedOverLimit));
    counter('honeyport_connection_read_bytes_total', 'Bytes read from accepted connections.', [], (s) => one(s.connections.bytes));
    gauge('honeyport_connections_active', 'Connections being read now.', [], (s) => one(s.connections.active));

    counter('honeyport_sink_alarms_delivered_total', 'Alarms the sink\'s receiver accepted (spooled ones of a previous run included).', ['sink'], perSink((k) => k.delivered));
    counter('honeyport_sink_alarms_retried_total', 'Alarms sent again after a failed attempt.', ['sink'], perSink((k) => k.retried));
    counter('honeyport_sink_alarms_spooled_total', 'Alarms written to the sink\'s spool.', ['sink'], perSink((k) => k.spooled));
    counter('honeyport_sink_alarms_dropped_total', 'Alarms the sink lost (each announced by a loss notice).', ['sink'], perSink((k) => k.dropped));
    counter('honeyport_sink_loss_notices_total', 'Loss notices the sink\'s receiver accepted.', ['sink'], perSink((k) => k.notices));
    gauge('honeyport_sink_alarms_queued', 'Alarms waiting: in memory, in flight and in the spool.', ['sink'], perSink((k) => k.queued));
    counter('honeyport_metrics_connections_closed_total', 'Connections the metrics endpoint closed unanswered: "refused" (source or every slot taken), "evicted" (to make room, no request yet), "deadline" (not done in time).', ['reason'],
      (s) => (s.endpoint ? [[{ reason: 'refused' }, s.endpoint.refused], [{ reason: 'evicted' }, s.endpoint.evicted], [{ reason: 'deadline' }, s.endpoint.timedOut]] : []));
    gauge('honeyport_sink_spool_bytes', 'Bytes the sink\'s spool holds now.', ['sink'], perSink((k) => k.spoolBytes));

    if (o.processMetrics ?? true) this.addProcessMetrics();
  }

  private addProcessMetrics(): void {
    const registers = [this.registry];
    new Counter({
      name: 'process_cpu_seconds_total', help: 'User and system CPU time of the sensor process, seconds.', registers,
      collect() {
        const u = process.cpuUsage();
        this.reset();
        this.inc((u.user + u.system) / 1e6);
      },
    });
    new Gauge({ name: 'process_resident_memory_bytes', help: 'Resident memory of the sensor process, bytes.', registers, collect() { this.set(process.memoryUsage.rss()); } });
    new Gauge({
      name: 'process_open_fds', help: 'Open file descriptors of the sensor process.', registers,
      collect() {
        try {
          this.set(readdirSync('/proc/self/fd').length - 1); // less the directory being read
        } catch {
          // No /proc: the last value stays (0 if never read).
        }
      },
    });
    new Gauge({ name: 'process_start_time_seconds', help: 'When the sensor process started, seconds since the epoch.', registers })
      .set(Math.round(Date.now() / 1000 - process.uptime()));
  }

  /** The exposition text of one scrape. */
  render(): Promise<string> {
    this.current = this.read();
    // Every collector above runs synchronously inside this call, so they all read this one snapshot.
    return this.registry.metrics();
  }
}

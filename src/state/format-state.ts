/**
 * A sensor state document in a sink's format, as a Formatted of kind
 * `state` (so it travels like an alarm: queue, retries, spool, loss ledger,
 * but in a sink of its own and never counted as one).
 *
 * ECS: `event.kind: state`, `event.dataset: honeyport.state`,
 * `event.action: honeyport-sensor-state`, categorised as a `process`
 * lifecycle event (ECS expects start/end/change/info with it): `start` at
 * start, `end` at the stop, `change` on a reload or a port status change,
 * `info` for a heartbeat. ECS fields where ECS has them (observer.*,
 * process.pid/start/uptime, error.message for a fatal error, event.reason
 * for the stop reason); everything else under `honeyport.state.*`, a name
 * no alarm field uses, so alarms and state documents can share an index.
 *
 * EVE: Suricata's `stats` record (uptime, capture, decoder and detect
 * counters under the names Suricata uses). Suricata's schema allows no
 * member of its own in a stats record, so the port statuses, the policy and
 * the stop reason exist only in the ECS form (README).
 */
import { randomUUID } from 'node:crypto';
import { isoMicros } from '../alarm/timestamp.js';
import type { OutputFormat } from '../config/sensor-config.js';
import type { DeliveryStats } from '../deliver/sink.js';
import type { Formatted } from '../deliver/entry.js';
import { ECS_VERSION } from '../deliver/format-ecs.js';
import { eveTime } from '../deliver/format-eve.js';
import { portEntry, stateDigest, stateMessage, stopReasonText, type SensorState } from './sensor-state.js';

export const STATE_ACTION = 'honeyport-sensor-state';
export const STATE_DATASET = 'honeyport.state';

const EVENT_TYPE = { start: 'start', stop: 'end', reload: 'change', 'port-change': 'change', heartbeat: 'info' } as const;

function sinkCounts(s: DeliveryStats): Record<string, number> {
  return { produced: s.produced, recovered: s.recovered, delivered: s.delivered, dropped: s.dropped, queued: s.queued };
}

/** The ECS document (an object: tests read it; the formatter stringifies it). */
export function stateEcs(s: SensorState, id: string): Record<string, unknown> {
  const time = isoMicros(s.timeMicros);
  const c = s.capture;
  const d = s.decode;
  const t = s.detect;
  const stop = s.trigger === 'stop' ? stopReasonText(s.reason) : undefined;
  return {
    '@timestamp': time,
    message: stateMessage(s),
    event: {
      kind: 'state',
      category: ['process'],
      type: [EVENT_TYPE[s.trigger]],
      action: STATE_ACTION,
      id,
      dataset: STATE_DATASET,
      module: 'honeyport',
      ...(stop !== undefined ? { reason: stop } : {}),
    },
    observer: { type: 'honeypot', vendor: 'honeyport', product: 'honeyport', version: s.version, hostname: s.hostname, ...(s.addresses.length ? { ip: [...s.addresses] } : {}) },
    process: { pid: s.pid, start: isoMicros(s.startedMicros), uptime: Math.max(0, Math.floor((s.timeMicros - s.startedMicros) / 1e6)) },
    ...(s.trigger === 'stop' && s.reason.kind === 'fatal' ? { error: { message: s.reason.message } } : {}),
    ecs: { version: ECS_VERSION },
    honeyport: {
      state: {
        trigger: s.trigger,
        ...(stop !== undefined ? { stop_reason: stop } : {}),
        digest: stateDigest(s),
        policy: { name: s.policy.name, os: s.policy.os, digest: s.policyDigest, ports: s.policy.ports.map((p) => `${p.port}/${p.protocol}`) },
        ports: s.ports.map(portEntry),
        ports_listening: s.ports.filter((p) => p.state === 'listening').length,
        capture: { received: c.received, kernel_drops: c.kernelDrops, handoff_drops: c.handoffDrops, queue_freezes: c.queueFreezes, socket_errors: c.socketErrors },
        decode: { frames: d.frames, malformed: d.malformed, truncated: d.truncated, reassembled: d.reassembled },
        detect: { segments: t.segments, probes: t.probes, whitelisted: t.whitelisted, alarms: t.alarms, flood_probes: t.floodProbes, connections: t.connections, tracked_keys: s.trackedKeys },
        connections: { accepted: s.connections.accepted, refused_over_limit: s.connections.refusedOverLimit, active: s.connections.active, bytes: s.connections.bytes },
        alarms: { total: s.alarms.total, flood: s.alarms.flood },
        delivery: s.delivery.map((x) => ({ sink: x.alarms.sink, alarms: sinkCounts(x.alarms), state_documents: sinkCounts(x.states), ...(x.alarms.error ? { error: x.alarms.error } : {}) })),
      },
    },
  };
}

/** The EVE `stats` record: Suricata's counter names only (its schema allows nothing else). */
export function stateEve(s: SensorState): Record<string, unknown> {
  return {
    timestamp: eveTime(isoMicros(s.timeMicros)),
    event_type: 'stats',
    host: s.hostname,
    stats: {
      uptime: Math.max(0, Math.floor((s.timeMicros - s.startedMicros) / 1e6)),
      capture: { kernel_packets: s.capture.received, kernel_drops: s.capture.kernelDrops, errors: s.capture.socketErrors },
      decoder: { pkts: s.decode.frames, invalid: s.decode.malformed },
      detect: { alert: s.alarms.total },
    },
  };
}

/** Formats `s` for a sink; `id` is the document's event.id (one v4 UUID for every format of it). */
export function formatState(format: OutputFormat, s: SensorState, id: string = randomUUID()): Formatted {
  const json = JSON.stringify(format === 'ecs' ? stateEcs(s, id) : stateEve(s));
  // Severity is unused for a state document (syslog sends it as informational by its kind).
  return { json, id, timeMicros: s.timeMicros, severity: 'medium', kind: 'state' };
}

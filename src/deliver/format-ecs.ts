/**
 * Alarm → one ECS JSON document (nested objects, ECS 8.x field names).
 * What ECS has no field for goes under `honeyport.*`.
 */
import { createHash, randomUUID } from 'node:crypto';
import type { Alarm, FloodAlarm, ProbeAlarm } from '../alarm/alarm.js';
import { PROBE_KIND_NAMES, ProbeKind } from '../alarm/alarm.js';
import { communityId } from '../alarm/community-id.js';
import { isoMicros } from '../alarm/timestamp.js';
import { formatAddress } from '../net/address.js';

export const ECS_VERSION = '8.11.0';
const FLAG_NAMES = ['FIN', 'SYN', 'RST', 'PSH', 'ACK', 'URG', 'ECE', 'CWR'] as const;
/** Elastic's risk-score scale: medium 47, high 73. */
const SEVERITY_SCORE = { medium: 47, high: 73 } as const;

export interface ObserverInfo {
  readonly hostname: string;
  readonly version: string;
}

export interface FormatContext {
  readonly ruleName: string;
  readonly observer: ObserverInfo;
  /** Names of the run's inputs (replayed files or live interfaces), by ProbeOrigin.input. */
  readonly inputs: readonly string[];
  /**
   * `replay`: event.id is derived from the input and packet, so replaying the
   * same capture twice yields the same ids (a SIEM de-duplicates re-ingestion).
   * `live`: random UUIDs.
   */
  readonly mode: 'replay' | 'live';
}

export function flagNames(flags: number): string[] {
  return FLAG_NAMES.filter((_, bit) => flags & (1 << bit));
}

export function kindNames(mask: number): string[] {
  return PROBE_KIND_NAMES.filter((k) => mask & ProbeKind[k]);
}

function eventId(ctx: FormatContext, parts: string): string {
  if (ctx.mode === 'live') return randomUUID();
  const h = createHash('sha1').update(`${ctx.ruleName}|${parts}`).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-5${h.slice(13, 16)}-${((parseInt(h[16]!, 16) & 3) | 8).toString(16)}${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

const threat = {
  framework: 'MITRE ATT&CK',
  tactic: { id: ['TA0007'], name: ['Discovery'], reference: ['https://attack.mitre.org/tactics/TA0007/'] },
  technique: { id: ['T1046'], name: ['Network Service Discovery'], reference: ['https://attack.mitre.org/techniques/T1046/'] },
};

function observer(ctx: FormatContext): object {
  return { type: 'honeypot', vendor: 'honeyport', product: 'honeyport', version: ctx.observer.version, hostname: ctx.observer.hostname };
}

function probeDocument(a: ProbeAlarm, ctx: FormatContext): object {
  const src = formatAddress(a.family, a.source);
  const dst = formatAddress(a.family, a.destination);
  const kinds = kindNames(a.kinds);
  const input = ctx.inputs[a.origin.input] ?? '';
  const what = a.phase === 'first' ? 'probe' : `${a.count} more probes`;
  return {
    '@timestamp': isoMicros(a.endMicros),
    message: `${kinds.join('/').toUpperCase()} ${what} of honeypot port ${a.destinationPort}/${a.protocol} from ${src}`,
    event: {
      kind: 'alert',
      category: ['network', 'intrusion_detection'],
      type: ['connection', 'denied'],
      action: a.action,
      id: eventId(ctx, `${a.action}|${a.phase}|${input}|${a.origin.packet}|${src}|${dst}|${a.destinationPort}`),
      severity: SEVERITY_SCORE[a.severity],
      count: a.count,
      start: isoMicros(a.startMicros),
      end: isoMicros(a.endMicros),
      dataset: 'honeyport.alarm',
      module: 'honeyport',
    },
    source: { ip: src, port: a.sourcePort },
    destination: { ip: dst, port: a.destinationPort },
    network: {
      transport: 'tcp',
      type: a.family === 4 ? 'ipv4' : 'ipv6',
      iana_number: '6',
      community_id: communityId(a.family, a.source, a.sourcePort, a.destination, a.destinationPort),
    },
    rule: { name: ctx.ruleName, category: 'honeypot', ruleset: 'honeyport' },
    observer: observer(ctx),
    threat,
    ecs: { version: ECS_VERSION },
    honeyport: {
      alarm: a.phase,
      severity: a.severity,
      kinds,
      tcp_flags: flagNames(a.flags),
      protocol: a.protocol,
      source_ports: a.sourcePorts,
      ...(a.sourcePortsTruncated ? { source_ports_truncated: true } : {}),
      ports_touched: a.portsTouched,
      reassembled: a.reassembled,
      ...(ctx.mode === 'replay' ? { replay: { file: input, packet: a.origin.packet } } : { interface: input }),
    },
  };
}

function floodDocument(a: FloodAlarm, ctx: FormatContext): object {
  return {
    '@timestamp': isoMicros(a.endMicros),
    message: `flood of ${a.count} probes of honeypot port ${a.destinationPort}/${a.protocol} from more sources than can be tracked (${a.trackedKeyLimit})`,
    event: {
      kind: 'alert',
      category: ['network', 'intrusion_detection'],
      type: ['connection', 'denied'],
      action: a.action,
      id: eventId(ctx, `${a.action}|${a.phase}|${a.destinationPort}|${a.startMicros}`),
      severity: SEVERITY_SCORE[a.severity],
      count: a.count,
      start: isoMicros(a.startMicros),
      end: isoMicros(a.endMicros),
      dataset: 'honeyport.alarm',
      module: 'honeyport',
    },
    destination: { port: a.destinationPort },
    network: { transport: 'tcp', type: a.protocol === 'tcp' ? 'ipv4' : 'ipv6', iana_number: '6' },
    rule: { name: ctx.ruleName, category: 'honeypot', ruleset: 'honeyport' },
    observer: observer(ctx),
    threat,
    ecs: { version: ECS_VERSION },
    honeyport: { alarm: a.phase, severity: a.severity, protocol: a.protocol, tracked_key_limit: a.trackedKeyLimit },
  };
}

export function formatEcs(alarm: Alarm, ctx: FormatContext): string {
  return JSON.stringify(alarm.action === 'honeypot-flood' ? floodDocument(alarm, ctx) : probeDocument(alarm, ctx));
}

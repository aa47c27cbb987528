/**
 * Alarm → a Suricata EVE-style `alert` record, for pipelines (and SIEM
 * parsers) built around Suricata. Built from the ECS document so both formats
 * carry the same event id, message and community id.
 */
import type { Alarm } from '../alarm/alarm.js';
import { formatEcs, type FormatContext } from './format-ecs.js';

/** Local signature ids (Suricata reserves 9,000,000+ for local rules): base + port. */
export const EVE_SID_PROBE = 9_100_000;
export const EVE_SID_FLOOD = 9_200_000;
const EVE_SEVERITY = { medium: 2, high: 1 } as const;

interface EcsView {
  '@timestamp': string;
  message: string;
  event: { id: string; start: string; end: string; count: number };
  source?: { ip: string; port: number };
  destination: { ip?: string; port: number };
  network: { community_id?: string };
  observer: { hostname: string };
  honeyport: Record<string, unknown>;
}

/** EVE writes "+0000" rather than "Z". */
function eveTime(iso: string): string {
  return iso.endsWith('Z') ? `${iso.slice(0, -1)}+0000` : iso;
}

export function formatEve(alarm: Alarm, ctx: FormatContext, ecsJson: string = formatEcs(alarm, ctx)): string {
  const e = JSON.parse(ecsJson) as EcsView;
  const probe = alarm.action === 'honeypot-port-probe';
  const sid = (probe ? EVE_SID_PROBE : EVE_SID_FLOOD) + alarm.destinationPort;
  const what = probe ? 'probe of' : 'flood of probes to';
  const doc = {
    timestamp: eveTime(e['@timestamp']),
    event_type: 'alert',
    ...(probe && ctx.mode === 'live' && alarm.origin.input >= 0 ? { in_iface: ctx.inputs[alarm.origin.input] ?? '' } : {}),
    ...(e.source ? { src_ip: e.source.ip, src_port: e.source.port } : {}),
    ...(e.destination.ip !== undefined ? { dest_ip: e.destination.ip } : {}),
    dest_port: e.destination.port,
    proto: 'TCP',
    ...(e.network.community_id ? { community_id: e.network.community_id } : {}),
    host: e.observer.hostname,
    alert: {
      action: 'allowed',
      gid: 1,
      signature_id: sid,
      rev: 1,
      signature: `HONEYPORT ${what} honeypot port ${alarm.destinationPort}/${alarm.protocol}`,
      category: 'Detection of a Network Scan',
      severity: EVE_SEVERITY[alarm.severity],
      metadata: { rule_name: [alarm.ruleName], mitre_technique_id: ['T1046'], mitre_tactic_id: ['TA0007'] },
    },
    honeyport: { event_id: e.event.id, message: e.message, count: e.event.count, start: eveTime(e.event.start), end: eveTime(e.event.end), ...e.honeyport },
  };
  return JSON.stringify(doc);
}

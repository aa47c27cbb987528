/**
 * Alarm → a Suricata EVE `alert` record, for pipelines (and SIEM parsers)
 * built around Suricata. Built from the Alarm itself, with the event id the
 * ECS formatter chose, so both formats carry the same id, message and
 * community id. Valid against Suricata's etc/schema.json, which allows no
 * top-level member of its own: honeyport's details go under
 * `alert.metadata.honeyport` (metadata takes any member). A flood alarm
 * names no address: it has `dest_port` but no `src_ip`, `dest_ip` or `flow_id`.
 */
import type { Alarm } from '../alarm/alarm.js';
import { alarmId } from '../alarm/alarm-id.js';
import { communityId, flowId } from '../alarm/community-id.js';
import { formatAddress } from '../net/address.js';
import type { TunnelSummary, TunnelTypeName } from '../decode/tunnel.js';
import { AlarmParts } from './alarm-parts.js';
import type { FormatContext } from './format-ecs.js';

/** Local signature ids (Suricata reserves 9,000,000+ for local rules): base + port. */
export const EVE_SID_PROBE = 9_100_000;
export const EVE_SID_FLOOD = 9_200_000;
const EVE_SEVERITY = { low: 3, medium: 2, high: 1 } as const;

/** EVE writes "+0000" rather than "Z". */
export function eveTime(iso: string): string {
  return iso.endsWith('Z') ? `${iso.slice(0, -1)}+0000` : iso;
}

/** Outer IP protocol of a tunnel layer, as Suricata names it in `tunnel.proto`. */
const EVE_TUNNEL_PROTO: Record<TunnelTypeName, string> = { 'ipv4-in-ip': 'IPIP', 'ipv6-in-ip': 'IPV6', gre: 'GRE', erspan: 'GRE', vxlan: 'UDP', geneve: 'UDP' };

/**
 * Suricata's own `tunnel` object (outer addresses, protocol, depth) for the
 * outermost layer; the full description is in alert.metadata.honeyport.tunnel.
 */
function eveTunnel(t: TunnelSummary | undefined): string {
  const l = t?.layers[0];
  if (t === undefined || l === undefined) return '';
  return `"tunnel":{"src_ip":"${formatAddress(l.family, l.source)}","dest_ip":"${formatAddress(l.family, l.destination)}","proto":"${EVE_TUNNEL_PROTO[l.type]}","depth":${t.layers.length}},`;
}

export class EveFormatter {
  private readonly parts: AlarmParts;
  private readonly host: string;

  constructor(readonly ctx: FormatContext) {
    this.parts = new AlarmParts(ctx);
    this.host = JSON.stringify(ctx.observer.hostname);
  }

  /** The record for `alarm`, named `id` (the ECS document's event.id). */
  format(alarm: Alarm, id: string): string {
    const p = this.parts;
    const probe = alarm.action === 'honeypot-port-probe';
    const sid = (probe ? EVE_SID_PROBE : EVE_SID_FLOOD) + alarm.destinationPort;
    const what = probe ? 'probe of' : 'flood of probes to';
    const start = eveTime(p.time.format(alarm.startMicros));
    const end = eveTime(p.time.format(alarm.endMicros));
    const input = probe && this.ctx.mode === 'live' ? p.inputJson(alarm) : undefined;
    let flow = '';
    if (probe) {
      const { family, source, sourcePort, destination, destinationPort } = alarm;
      const vlans = alarm.vlan ? (alarm.innerVlan ? `[${alarm.vlan},${alarm.innerVlan}]` : `[${alarm.vlan}]`) : '';
      flow =
        `"flow_id":${flowId(family, source, sourcePort, destination, destinationPort)},${input !== undefined ? `"in_iface":${input},` : ''}${vlans ? `"vlan":${vlans},` : ''}${eveTunnel(alarm.tunnel)}` +
        `"src_ip":"${formatAddress(family, source)}","src_port":${sourcePort},"dest_ip":"${formatAddress(family, destination)}",`;
    }
    const community = probe ? `,"community_id":"${communityId(alarm.family, alarm.source, alarm.sourcePort, alarm.destination, alarm.destinationPort)}"` : '';
    const extra = `"event_id":"${id}","message":"${p.message(alarm)}","count":${alarm.count},"start":"${start}","end":"${end}",`;
    const alert =
      `{"action":"allowed","gid":1,"signature_id":${sid},"rev":1,"signature":"HONEYPORT ${what} honeypot port ${alarm.destinationPort}/${alarm.protocol}",` +
      `"category":"Detection of a Network Scan","severity":${EVE_SEVERITY[alarm.severity]},` +
      `"metadata":{"rule_name":[${JSON.stringify(alarm.ruleName)}],"mitre_technique_id":["T1046"],"mitre_tactic_id":["TA0007"],"honeyport":{${p.honeyport(alarm, extra)}}}}`;
    return (
      `{"timestamp":"${end}",${flow}"dest_port":${alarm.destinationPort},"proto":"TCP"${community},"event_type":"alert",` +
      `"host":${this.host},"alert":${alert}}`
    );
  }
}

/** One alarm, without a formatter to reuse (tests, one-offs); `id` defaults to the alarm's own id for the mode. */
export function formatEve(alarm: Alarm, ctx: FormatContext, id: string = alarmId(alarm, ctx.mode)): string {
  return new EveFormatter(ctx).format(alarm, id);
}

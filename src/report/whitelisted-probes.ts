/**
 * The pipeline tap that finds probes of whitelisted sources for the
 * forensic summary: they raise no alarm, so the alarm stream cannot say
 * who they were. Applies the detector's own tests in its order (policy port
 * and IP version, probe kind, --server-address, whitelist) with the
 * detector's own classes, and hands each such probe to the RunCollector.
 * Runs only when a summary or report was asked for; allocates (the source as
 * text) only for whitelisted probes.
 */
import type { TcpSegment } from '../decode/segment.js';
import { ProbeKind } from '../alarm/alarm.js';
import { PortTable } from '../detect/port-table.js';
import { probeKindOf } from '../detect/probe-classifier.js';
import { Whitelist } from '../detect/whitelist.js';
import { formatAddress, type ParsedAddress } from '../net/address.js';
import type { Policy } from '../policy/policy.js';
import type { RunCollector } from './run-collector.js';

export class WhitelistedProbes {
  private readonly ports: PortTable;
  private readonly whitelist: Whitelist;

  constructor(
    policy: Policy,
    private readonly servers: readonly ParsedAddress[],
    private readonly collector: RunCollector,
  ) {
    this.ports = new PortTable(policy, true);
    this.whitelist = new Whitelist(policy.whitelist);
  }

  observe(seg: TcpSegment): void {
    if (this.whitelist.size === 0) return;
    const portIndex = this.ports.lookupSegment(seg);
    if (portIndex < 0) return;
    const kind = probeKindOf(seg.flags);
    // An ACK is a probe only when it belongs to no connection, which only the
    // detector's SYN memory knows: a trusted host's connection traffic must not
    // count, so whitelisted ACK-class segments are left out of the summary.
    if (kind === 0 || kind === ProbeKind.ack) return;
    if (this.servers.length > 0 && !this.servers.some((s) => s.family === seg.family && s.bytes.every((b, i) => b === seg.dst[i]))) return;
    if (!this.whitelist.contains(seg.family, seg.src)) return;
    const p = this.ports.policy.ports[portIndex]!;
    this.collector.whitelistedProbe(formatAddress(seg.family, seg.src), `${p.port}/${p.protocol}`, seg.tsMicros, kind);
  }
}

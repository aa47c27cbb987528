/**
 * The pipeline tap that finds probes of whitelisted sources for the
 * forensic summary: they raise no alarm, so the alarm stream cannot say
 * who they were. Applies the detector's own tests in its order (policy port
 * and IP version, probe kind, --server-address, whitelist) with the
 * detector's own classes, and hands each such probe to the RunCollector.
 * Runs only when a summary or report was asked for; allocates (the source as
 * text) only for whitelisted probes.
 */
import { ProbeKind } from '../alarm/alarm.js';
import type { TcpSegment } from '../decode/segment.js';
import { Admission } from '../detect/admission.js';
import { probeKindOf } from '../detect/probe-classifier.js';
import { formatAddress, type ParsedAddress } from '../net/address.js';
import type { Policy } from '../policy/policy.js';
import type { RunCollector } from './run-collector.js';

export class WhitelistedProbes {
  /** The detector's own admission (policy port and IP version, --server-address, whitelist): one definition, not a copy. */
  private readonly admission: Admission;

  constructor(
    private readonly policy: Policy,
    servers: readonly ParsedAddress[],
    private readonly collector: RunCollector,
  ) {
    this.admission = new Admission(policy, servers, true);
  }

  observe(seg: TcpSegment): void {
    if (this.policy.whitelist.length === 0) return;
    const portIndex = this.admission.portOf(seg);
    if (portIndex < 0) return;
    const kind = probeKindOf(seg.flags);
    // An ACK is a probe only when it belongs to no connection, which only the
    // detector's SYN memory knows: a trusted host's connection traffic must not
    // count, so whitelisted ACK-class segments are left out of the summary.
    if (kind === 0 || kind === ProbeKind.ack) return;
    if (!this.admission.toServer(seg) || !this.admission.whitelisted(seg.family, seg.src)) return;
    const p = this.policy.ports[portIndex]!;
    this.collector.whitelistedProbe(formatAddress(seg.family, seg.src), `${p.port}/${p.protocol}`, seg.tsMicros, kind);
  }
}

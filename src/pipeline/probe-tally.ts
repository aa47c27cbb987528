/**
 * Probes counted by destination port, protocol and kind, for the metrics
 * endpoint. Keyed by (port, IP version), never by a policy's port index, so a
 * reload that renumbers, drops or adds ports changes nothing already counted:
 * totals only go up for the life of the tally. A port gets its slot the first
 * time one of its probes is counted (policy ports only: the detector admits
 * nothing else), so `count` allocates nothing except on that first probe.
 * Memory: a 512 KiB slot table plus 32 bytes per port ever probed.
 */
import { PROBE_KIND_NAMES, type ProbeKindName } from '../alarm/alarm.js';
import { probeKindOf } from '../detect/probe-classifier.js';
import type { PortProtocol } from '../policy/policy.js';

const KINDS = PROBE_KIND_NAMES.length;

export interface ProbeTotal {
  readonly port: number;
  readonly protocol: PortProtocol;
  readonly kind: ProbeKindName;
  readonly probes: number;
}

export class ProbeTally {
  /** (IPv6 ? 65536 : 0) + port → slot + 1; 0: never probed. */
  private readonly slotOf = new Uint32Array(2 * 65536);
  /** Slot → its (IPv6 ? 65536 : 0) + port, in the order first probed. */
  private readonly keys: number[] = [];
  /** Slot * KINDS + kind index → probes. Doubles: exact to 2^53. */
  private counts = new Float64Array(16 * KINDS);

  /** Counts one probe of `port` over IPv`family` with these TCP flags (a probe: probeKindOf(flags) ≠ 0). */
  count(port: number, family: number, flags: number): void {
    const key = (family === 6 ? 65536 : 0) + port;
    let slot = this.slotOf[key]!;
    if (slot === 0) slot = this.addSlot(key);
    // Kind bit 1 << k → index k (PROBE_KIND_NAMES order).
    this.counts[(slot - 1) * KINDS + (31 - Math.clz32(probeKindOf(flags)))]!++;
  }

  private addSlot(key: number): number {
    this.keys.push(key);
    const slot = this.keys.length;
    if (slot * KINDS > this.counts.length) {
      const grown = new Float64Array(this.counts.length * 2);
      grown.set(this.counts);
      this.counts = grown;
    }
    this.slotOf[key] = slot;
    return slot;
  }

  /** Every (port, protocol, kind) of a port ever probed, zeros included, ports in first-probed order. */
  totals(): ProbeTotal[] {
    const out: ProbeTotal[] = [];
    this.keys.forEach((key, s) => {
      const port = key & 0xffff;
      const protocol: PortProtocol = key >= 65536 ? 'tcp6' : 'tcp';
      PROBE_KIND_NAMES.forEach((kind, k) => {
        out.push({ port, protocol, kind, probes: this.counts[s * KINDS + k]! });
      });
    });
    return out;
  }
}

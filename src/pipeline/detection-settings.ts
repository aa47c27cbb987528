/**
 * What detection needs, in one type for replay and live alike: parsed once
 * from the command line (`parseDetectionFlags` in cli/parse-options) and
 * handed whole to the probe pipeline, instead of loose fields re-declared by
 * every layer.
 */
import type { SynFingerprinter } from '../fingerprint/syn-fingerprinter.js';
import type { ParsedAddress } from '../net/address.js';
import type { Policy } from '../policy/policy.js';

export interface DetectionSettings {
  readonly policy: Policy;
  /** Deduplication window, microseconds. */
  readonly windowMicros: number;
  /** Keys tracked at once; beyond it probes are summed into flood alarms. */
  readonly maxTrackedKeys: number;
  /** New keys per second per decoy port with an alarm of their own (see Detector). */
  readonly newSourceRate: number;
  /** Only probes to these destinations count; empty = any destination. */
  readonly serverAddresses: readonly ParsedAddress[];
  /** Fingerprints each key's first probe (`--fingerprints`); absent: off. */
  readonly fingerprints?: SynFingerprinter;
}

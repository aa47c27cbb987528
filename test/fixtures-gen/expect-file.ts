/** The shape of fixtures/<dir>/<name>.expect.json, shared by generators and tests. */
import type { NetworkType, ProbeKind } from '../helpers/tshark.js';

export const POLICY_PATH = 'fixtures/policies/test-linux.yaml';

export interface ExpectedProbe {
  source: string;
  destination: string;
  port: number;
  type: NetworkType;
  packets: number;
  kinds: ProbeKind[];
}

export interface ExpectFile {
  /** Policy file, relative to the repository root. */
  policy: string;
  window: string;
  serverAddress: string[];
  probes: ExpectedProbe[];
  /** Probe packets from whitelisted sources (no alarm). */
  whitelisted: number;
  /** The capture is damaged: replay exits with 3 after the alarms before the damage. */
  damaged: boolean;
}

export function isCaptureName(name: string): boolean {
  return /\.(pcap|pcapng)(\.gz)?$/.test(name);
}

/** `x.pcap` -> `x.pcap.expect.json`: the capture's extension stays, since x.pcap and x.pcapng may both exist. */
export function expectPathOf(capture: string): string {
  return `${capture}.expect.json`;
}

/**
 * The sensor's status snapshot (Sensor.status() plus what run-command
 * counts) as the state document's SensorSnapshot. The policy digest is
 * computed once per policy object (a reload brings a new one), never per
 * heartbeat.
 */
import { hostname } from 'node:os';
import type { DeliveryStats } from '../deliver/sink.js';
import { formatAddress } from '../net/address.js';
import type { Policy } from '../policy/policy.js';
import { thisHostAddresses } from '../policy/this-host.js';
import type { SensorStatus } from '../sensor/sensor.js';
import { policyDigest, type SensorSnapshot } from './sensor-state.js';

export interface SnapshotSources {
  readonly version: string;
  readonly startedMicros: number;
  readonly status: () => SensorStatus;
  readonly alarms: () => { readonly total: number; readonly flood: number };
  /** Per sink, alarms and state documents (Delivery.stats() and stateStats(), same order). */
  readonly delivery: () => { readonly alarms: readonly DeliveryStats[]; readonly states: readonly DeliveryStats[] };
}

/** A function taking snapshots from `src`, each with the time it was taken. */
export function snapshotter(src: SnapshotSources): () => SensorSnapshot {
  let digested: { readonly policy: Policy; readonly digest: string } | undefined;
  return () => {
    const s = src.status();
    if (digested?.policy !== s.policy) digested = { policy: s.policy, digest: policyDigest(s.policy) };
    const d = src.delivery();
    return {
      timeMicros: Date.now() * 1000,
      startedMicros: src.startedMicros,
      pid: process.pid,
      version: src.version,
      hostname: hostname(),
      addresses: thisHostAddresses().map((a) => formatAddress(a.family, a.bytes)),
      policy: s.policy,
      policyDigest: digested.digest,
      ports: s.ports,
      capture: s.capture,
      decode: s.decode,
      detect: s.detect,
      trackedKeys: s.trackedKeys,
      connections: s.connections,
      alarms: src.alarms(),
      delivery: d.alarms.map((alarms, i) => ({ alarms, states: d.states[i]! })),
    };
  };
}

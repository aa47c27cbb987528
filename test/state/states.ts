/** Sensor state documents for the tests: a snapshot with every port status, and one per trigger. */
import type { DeliveryStats } from '../../src/deliver/sink.js';
import type { Policy } from '../../src/policy/policy.js';
import type { PortStatus } from '../../src/ports/types.js';
import { policyDigest, type SensorSnapshot, type SensorState, type StateTrigger } from '../../src/state/sensor-state.js';

export const statePolicy: Policy = {
  name: 'state-test',
  os: 'linux',
  ports: [
    { port: 135, protocol: 'tcp' },
    { port: 139, protocol: 'tcp' },
    { port: 445, protocol: 'tcp' },
    { port: 3389, protocol: 'tcp' },
    { port: 5985, protocol: 'tcp6' },
  ],
  whitelist: ['198.18.1.3', '10.0.0.0/8'],
};

/** One port in each status, the occupied one with its occupant named. */
export const everyStatus: readonly PortStatus[] = [
  { port: 135, protocol: 'tcp', address: '0.0.0.0', state: 'listening', listenerId: 1 },
  { port: 139, protocol: 'tcp', address: '0.0.0.0', state: 'occupied', occupant: { pid: 812, command: 'smbd' }, reason: 'held by smbd (pid 812)' },
  { port: 445, protocol: 'tcp', address: '0.0.0.0', state: 'occupied', reason: 'held by an unknown process: permission denied' },
  { port: 3389, protocol: 'tcp', address: '0.0.0.0', state: 'free', reason: 'xrdp (pid 900) stopped listening on it; a reload (SIGHUP) binds it' },
  { port: 5985, protocol: 'tcp6', address: '::', state: 'failed', code: 'EACCES', reason: 'permission denied' },
];

const sink = (name: string, produced: number): DeliveryStats => ({
  sink: name, produced, recovered: 0, delivered: produced, retried: 0, spooled: 0, dropped: 0, queued: 0, spoolBytes: 0, lossUnannounced: 0, notices: 0,
});

export function snapshot(over: Partial<SensorSnapshot> = {}): SensorSnapshot {
  return {
    timeMicros: 1_764_000_100_000_000,
    startedMicros: 1_764_000_000_000_000,
    pid: 4242,
    version: '0.0.0-test',
    hostname: 'sensor-test',
    addresses: ['198.18.0.2', 'fd00:18::2'],
    policy: statePolicy,
    policyDigest: policyDigest(statePolicy),
    ports: everyStatus,
    capture: { received: 10, kernelDrops: 1, queueFreezes: 0, handoffDrops: 2, delivered: 8, batches: 3, blocks: 3, outgoingSkipped: 0, unsupportedLink: 0, overflow: 0, malformedBlocks: 0, socketErrors: 0 },
    decode: { frames: 8, malformed: 1, truncated: 0, notIp: 0, unknownLinktype: 0, ipv4Fragments: 0, ipv6Fragments: 0, reassembled: 0, fragmentOverlaps: 0, fragmentTimeouts: 0, fragmentEvictions: 0, tunnelled: 0, tunnelTooDeep: 0 },
    detect: { segments: 7, probes: 6, whitelisted: 1, otherDestination: 0, alarms: 3, floodProbes: 0, connections: 1, promoted: 0 },
    trackedKeys: 2,
    connections: { accepted: 1, refusedOverLimit: 0, bytes: 5, active: 0, acceptErrors: 0 },
    alarms: { total: 3, flood: 0 },
    delivery: [{ alarms: sink('siem', 3), states: sink('siem', 2) }],
    ...over,
  };
}

export function stateOf(trigger: StateTrigger, over: Partial<SensorSnapshot> = {}): SensorState {
  return { ...snapshot(over), ...trigger };
}

/** One document per trigger, stop by a signal and by a fatal error. */
export const everyTrigger: readonly SensorState[] = [
  stateOf({ trigger: 'start' }),
  stateOf({ trigger: 'reload' }),
  stateOf({ trigger: 'port-change' }),
  stateOf({ trigger: 'heartbeat' }, { addresses: [] }),
  stateOf({ trigger: 'stop', reason: { kind: 'signal', signal: 'SIGTERM' } }),
  stateOf({ trigger: 'stop', reason: { kind: 'fatal', message: 'capture failed: ENETDOWN on eth0' } }),
];

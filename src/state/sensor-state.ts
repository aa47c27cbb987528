/**
 * What a sensor state document says (issue 10 part 3): which policy runs,
 * each decoy port's status and occupant, the capture/decode/detect/delivery
 * counters and uptime, why the document was written (start, reload, a port
 * status change, a heartbeat, the stop) and, in the last one, why the sensor
 * stopped. Built from the sensor's status snapshot at the moment it is sent;
 * formatted by format-state.ts. A SIEM answers from them "which servers are
 * protected, which decoy failed, which sensor went silent".
 */
import { createHash } from 'node:crypto';
import type { DeliveryStats } from '../deliver/sink.js';
import { AddressTable } from '../net/address-table.js';
import type { Policy } from '../policy/policy.js';
import type { PortStatus } from '../ports/types.js';
import type { SensorStatus } from '../sensor/sensor.js';

/** Why the sensor stopped: a signal, or a fatal error with its message. */
export type StopReason = { readonly kind: 'signal'; readonly signal: 'SIGTERM' | 'SIGINT' } | { readonly kind: 'fatal'; readonly message: string };

/** Why this document was written; only the stop carries a reason. */
export type StateTrigger =
  | { readonly trigger: 'start' | 'reload' | 'port-change' | 'heartbeat' }
  | { readonly trigger: 'stop'; readonly reason: StopReason };

/** The stop reason as one word or line: "SIGTERM", "fatal error: …". */
export function stopReasonText(r: StopReason): string {
  return r.kind === 'signal' ? r.signal : `fatal error: ${r.message}`;
}

/** The sensor's status at one moment (what run-command's status snapshot holds). */
export interface SensorSnapshot extends SensorStatus {
  readonly timeMicros: number;
  readonly startedMicros: number;
  readonly pid: number;
  readonly version: string;
  readonly hostname: string;
  /** The host's addresses (observer.ip), loopback left out. */
  readonly addresses: readonly string[];
  /** policyDigest(policy), computed once per policy. */
  readonly policyDigest: string;
  readonly alarms: { readonly total: number; readonly flood: number };
  /** Per sink: its alarms' and its state documents' accounting. */
  readonly delivery: readonly { readonly alarms: DeliveryStats; readonly states: DeliveryStats }[];
}

export type SensorState = SensorSnapshot & StateTrigger;

/**
 * SHA-256 of the policy's content (name, os, ports, whitelist), hex. Two
 * sensors showing the same digest run the same policy; computed once per
 * policy (a million-entry whitelist costs a few tens of ms).
 */
export function policyDigest(policy: Policy): string {
  const h = createHash('sha256');
  h.update(JSON.stringify({ name: policy.name, os: policy.os, ports: policy.ports.map((p) => `${p.port}/${p.protocol}`) }));
  const w = policy.whitelist;
  if (w instanceof AddressTable) {
    const words = new Uint32Array(2 * w.count4 + 8 * w.count6);
    let k = 0;
    for (let i = 0; i < w.count4; i++) {
      words[k++] = w.low4(i);
      words[k++] = w.high4(i);
    }
    for (let i = 0; i < w.count6; i++) {
      for (let j = 0; j < 4; j++) words[k++] = w.low6(i, j);
      for (let j = 0; j < 4; j++) words[k++] = w.high6(i, j);
    }
    h.update('\n').update(words);
  } else {
    h.update('\n').update(JSON.stringify(w));
  }
  return h.digest('hex');
}

/** One port as the document lists it. */
export interface PortEntry {
  readonly port: number;
  readonly protocol: string;
  readonly address: string;
  readonly status: PortStatus['state'];
  readonly occupant?: { readonly pid: number; readonly command: string };
  readonly error_code?: string;
  readonly reason?: string;
}

export function portEntry(s: PortStatus): PortEntry {
  const base = { port: s.port, protocol: s.protocol, address: s.address, status: s.state };
  switch (s.state) {
    case 'listening':
      return base;
    case 'occupied':
      return { ...base, ...(s.occupant ? { occupant: { pid: s.occupant.pid, command: s.occupant.command } } : {}), reason: s.reason };
    case 'failed':
      return { ...base, error_code: s.code, reason: s.reason };
    case 'free':
      return { ...base, reason: s.reason };
  }
}

/**
 * SHA-256 (hex) of what the document says about the sensor's set-up, not
 * its counters: version, policy digest, each port's status and occupant.
 * Equal digests of two documents mean nothing but the counters changed.
 */
export function stateDigest(s: SensorSnapshot): string {
  const ports = s.ports.map((p) => {
    const e = portEntry(p);
    return [e.port, e.protocol, e.address, e.status, e.occupant?.pid ?? null, e.occupant?.command ?? null, e.error_code ?? null];
  });
  return createHash('sha256').update(JSON.stringify([s.version, s.policyDigest, ports])).digest('hex');
}

/** "start: policy \"p\", 3 of 4 decoy listeners listening; 139/tcp on 0.0.0.0 occupied by smbd (pid 812)" */
export function stateMessage(s: SensorState): string {
  const listening = s.ports.filter((p) => p.state === 'listening').length;
  const notes = s.ports
    .filter((p) => p.state !== 'listening')
    .map((p) => {
      const where = `${p.port}/${p.protocol} on ${p.address}`;
      if (p.state === 'occupied') return p.occupant ? `${where} occupied by ${p.occupant.command} (pid ${p.occupant.pid})` : `${where} occupied`;
      if (p.state === 'failed') return `${where} failed (${p.code})`;
      return `${where} free`;
    });
  const head = s.trigger === 'stop' ? `stop (${stopReasonText(s.reason)})` : s.trigger;
  return `honeyport sensor ${head}: policy "${s.policy.name}", ${listening} of ${s.ports.length} decoy listeners listening${notes.length ? `; ${notes.join('; ')}` : ''}`;
}

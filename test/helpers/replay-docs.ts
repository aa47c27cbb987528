/**
 * Real alarms for format tests: replays captures in process (no child
 * process per file) and formats every alarm as ECS and EVE, the way the
 * replay command and the delivery stage do. Also picks a policy for a public
 * capture that has none: its ten most probed ports.
 */
import { existsSync, readdirSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Alarm } from '../../src/alarm/alarm.js';
import { Decoder } from '../../src/decode/decoder.js';
import { DecodeStatus } from '../../src/decode/segment.js';
import { probeKindOf } from '../../src/detect/probe-classifier.js';
import { EcsFormatter, type FormatContext } from '../../src/deliver/format-ecs.js';
import { EveFormatter } from '../../src/deliver/format-eve.js';
import type { SynFingerprinter } from '../../src/fingerprint/syn-fingerprinter.js';
import { replay } from '../../src/pipeline/replay.js';
import { loadPolicyFile } from '../../src/policy/load.js';
import type { Policy, ProtectedPort } from '../../src/policy/policy.js';
import { CaptureDamagedError, readCapture } from '../../src/source/capture-file.js';

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
export const CLI = join(ROOT, 'dist/src/cli/main.js');
export const FIXTURE_POLICY = join(ROOT, 'fixtures/policies/test-linux.yaml');
/** ../shared next to the repository (a worktree's parent holds it). */
export const SHARED = resolve(ROOT, '../shared');
export const SHARED_PCAPS = join(SHARED, 'pcaps');
export const REFERENCES = join(SHARED, 'references');

const CAPTURE = /\.(pcap|pcapng|cap)(\.gz)?$/;

export function fixtureCaptures(): string[] {
  return ['fixtures/live', 'fixtures/crafted', 'fixtures/tunnels'].flatMap((d) => {
    const abs = join(ROOT, d);
    return existsSync(abs) ? readdirSync(abs).filter((n) => CAPTURE.test(n)).sort().map((n) => join(abs, n)) : [];
  });
}

export function sharedCaptures(): string[] {
  return existsSync(SHARED_PCAPS) ? readdirSync(SHARED_PCAPS).filter((n) => CAPTURE.test(n)).sort().map((n) => join(SHARED_PCAPS, n)) : [];
}

export function fixturePolicy(): Promise<Policy> {
  return loadPolicyFile(FIXTURE_POLICY);
}

/** The (at most ten) ports a capture probes most, each bound to the IP version that probes it most. */
export async function busiestPolicy(file: string): Promise<Policy> {
  const counts = new Map<number, [number, number]>();
  const dec = new Decoder();
  try {
    for await (const b of readCapture(file)) {
      for (let i = 0; i < b.count; i++) {
        if (dec.decode(b.data, b.offset[i]!, b.caplen[i]!, b.linktype[i]!, b.tsMicros[i]!, b.vlan[i]!) !== DecodeStatus.Segment) continue;
        const s = dec.segment;
        if (s.dstPort === 0 || probeKindOf(s.flags) === 0) continue;
        const c = counts.get(s.dstPort) ?? [0, 0];
        c[s.family === 4 ? 0 : 1]++;
        counts.set(s.dstPort, c);
      }
    }
  } catch (e) {
    if (!(e instanceof CaptureDamagedError)) throw e;
  }
  const ports: ProtectedPort[] = [...counts.entries()]
    .sort((a, b) => b[1][0] + b[1][1] - (a[1][0] + a[1][1]) || a[0] - b[0])
    .slice(0, 10)
    .map(([port, [v4, v6]]): ProtectedPort => ({ port, protocol: v6 > v4 ? 'tcp6' : 'tcp' }))
    .sort((a, b) => a.port - b.port);
  return { name: `busiest-${basename(file)}`, os: 'linux', ports: ports.length ? ports : [{ port: 445, protocol: 'tcp' }], whitelist: [] };
}

export function replayContext(policy: Policy, files: readonly string[]): FormatContext {
  return { ruleName: policy.name, observer: { hostname: 'sensor-test', version: '0.0.0-test' }, inputs: files.map((f) => basename(f)), mode: 'replay' };
}

export interface ReplayedAlarm {
  readonly alarm: Alarm;
  readonly id: string;
  readonly ecs: Record<string, unknown>;
  readonly eve: Record<string, unknown>;
}

export interface ReplayLimits {
  readonly windowMicros?: number;
  /** Small values force flood alarms. */
  readonly maxTrackedKeys?: number;
  readonly newSourceRate?: number;
  /** Fingerprints first probes (off by default, so documents stay as the golden files have them). */
  readonly fingerprints?: SynFingerprinter;
}

/** Every alarm of a replay of `files` (one timeline), formatted both ways. */
export async function replayDocs(files: readonly string[], policy: Policy, limits: ReplayLimits = {}): Promise<ReplayedAlarm[]> {
  const ctx = replayContext(policy, files);
  const ecs = new EcsFormatter(ctx);
  const eve = new EveFormatter(ctx);
  const out: ReplayedAlarm[] = [];
  await replay({
    files,
    detection: {
      policy,
      windowMicros: limits.windowMicros ?? 60_000_000,
      maxTrackedKeys: limits.maxTrackedKeys ?? 100_000,
      newSourceRate: limits.newSourceRate ?? 100,
      serverAddresses: [],
      ...(limits.fingerprints ? { fingerprints: limits.fingerprints } : {}),
    },
    onAlarm: (alarm) => {
      const e = ecs.format(alarm);
      out.push({ alarm, id: e.id, ecs: JSON.parse(e.json) as Record<string, unknown>, eve: JSON.parse(eve.format(alarm, e.id)) as Record<string, unknown> });
    },
  });
  return out;
}

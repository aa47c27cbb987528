/**
 * Tunnelled probes against tshark, per overlay: for every capture in
 * fixtures/tunnels/, the probe packets per (inner key, outermost tunnel:
 * type, VNI/key/session, outer addresses) that honeyport's alarms sum to
 * must equal tshark's count of the same, and each alarm's tunnel description
 * must be the one tshark dissects in the frame the alarm names. This is what
 * shows two tenants reusing inner addresses (VNI 100 and 200 in
 * vxlan-two-vnis.pcap) are kept apart, with the right outer endpoints.
 */
import assert from 'node:assert/strict';
import { existsSync, readdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { canonicalIp, classifyProbe, ConnectionMemory, ecsField, loadProbePolicy, readTsharkSegments, runReplay, tsharkVersion, type TsharkTunnel } from '../helpers/tshark.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
const CLI = join(ROOT, 'dist/src/cli/main.js');
const POLICY = join(ROOT, 'fixtures/policies/test-linux.yaml');
const DIR = join(ROOT, 'fixtures/tunnels');

function tunnelKey(t: TsharkTunnel | undefined): string {
  return t === undefined ? 'none' : `${t.type}/${t.id ?? '-'}/${t.source}>${t.destination}/depth ${t.depth}`;
}

/** The outermost tunnel an ECS alarm describes, in the same shape as tshark's. */
function alarmTunnel(a: Record<string, unknown>): TsharkTunnel | undefined {
  const t = ecsField(a, 'honeyport.tunnel') as Record<string, unknown> | undefined;
  if (t === undefined) return undefined;
  const id = (t.vni ?? t.key ?? t.session_id) as number | undefined;
  return {
    type: t.type as string,
    source: canonicalIp(ecsField(t, 'source.ip') as string),
    destination: canonicalIp(ecsField(t, 'destination.ip') as string),
    depth: t.depth as number,
    ...(id !== undefined ? { id } : {}),
  };
}

/**
 * `honeyport.tunnel.layers` (README "Alarms"): present exactly when the depth
 * is two or more, one entry per layer, the first being the outermost that the
 * top-level fields (checked against tshark) describe.
 */
function layersOf(a: Record<string, unknown>, outer: TsharkTunnel, name: string): void {
  const layers = ecsField(a, 'honeyport.tunnel.layers') as Record<string, unknown>[] | undefined;
  if (outer.depth < 2) {
    assert.equal(layers, undefined, `${name}: a single tunnel lists no layers`);
    return;
  }
  assert.equal(layers?.length, outer.depth, `${name}: one layer per level`);
  const first = layers![0]!;
  const id = (first.vni ?? first.key ?? first.session_id) as number | undefined;
  assert.deepEqual(
    { type: first.type, id, source: canonicalIp(ecsField(first, 'source.ip') as string), destination: canonicalIp(ecsField(first, 'destination.ip') as string) },
    { type: outer.type, id: outer.id, source: outer.source, destination: outer.destination },
    `${name}: the outermost layer first`,
  );
}

describe('tunnelled probes vs tshark, per overlay', function () {
  before(function () {
    if (tsharkVersion() === null) {
      console.log('    skipping: tshark is not installed');
      this.skip();
    }
    if (!existsSync(CLI)) {
      console.log('    skipping: dist/src/cli/main.js is not built');
      this.skip();
    }
  });

  const files = existsSync(DIR) ? readdirSync(DIR).filter((n) => n.endsWith('.pcap')).sort() : [];
  it('there are tunnel fixtures', () => assert.ok(files.length >= 8, `${files.length} captures in ${DIR}`));

  for (const name of files) {
    it(name, () => {
      const file = join(DIR, name);
      const policy = loadProbePolicy(POLICY);
      const portType = new Map(policy.ports.map((p) => [p.port, p.protocol === 'tcp' ? 'ipv4' : 'ipv6']));
      const read = readTsharkSegments(file);
      const expected = new Map<string, number>();
      const byFrame = new Map<number, TsharkTunnel | undefined>();
      // The flag rule with its connection memory (as probesOf), kept per tunnel as the detector keys it.
      const connections = new ConnectionMemory();
      for (const s of read.segments) {
        byFrame.set(s.frame, s.tunnel);
        const via = tunnelKey(s.tunnel);
        if (portType.get(s.port) !== s.type) {
          if (portType.get(s.sourcePort) === s.type && (s.flags & 0x12) === 0x02) connections.remember(`${s.destination} via ${via}`, s.port, s.source, s.sourcePort, true, s.timeMicros);
          continue;
        }
        const kind = classifyProbe(s.flags);
        if (kind === null) continue;
        if (kind === 'syn') connections.remember(`${s.source} via ${via}`, s.sourcePort, s.destination, s.port, false, s.timeMicros);
        if (kind === 'ack' && connections.belongs(`${s.source} via ${via}`, s.sourcePort, s.destination, s.port, (s.flags & 0x02) !== 0, s.timeMicros)) continue;
        const k = `${s.source}>${s.destination}:${s.port} via ${via}`;
        expected.set(k, (expected.get(k) ?? 0) + 1);
      }
      assert.ok(read.tunnelled > 0, 'tshark sees no tunnelled segment');
      assert.ok([...expected.keys()].every((k) => !k.endsWith('via none')), `untunnelled probes in ${name}`);

      const run = runReplay(file, { cliPath: CLI, policyFile: POLICY, window: '3600s' });
      assert.equal(run.status, 0, run.stderr);
      assert.match(run.stderr, /, [1-9]\d* decoded inside tunnels, /, 'the summary says tunnels were decoded');
      const actual = new Map<string, number>();
      for (const a of run.alarms) {
        const t = alarmTunnel(a);
        const k = `${ecsField(a, 'source.ip')}>${ecsField(a, 'destination.ip')}:${ecsField(a, 'destination.port')} via ${tunnelKey(t)}`;
        actual.set(k, (actual.get(k) ?? 0) + (ecsField(a, 'event.count') as number));
        // The alarm's tunnel is the one tshark dissects in the frame it names.
        const frame = (ecsField(a, 'honeyport.replay.packet') as number) + 1;
        assert.equal(tunnelKey(t), tunnelKey(byFrame.get(frame)), `${name}: alarm naming frame ${frame}`);
        if (t !== undefined) layersOf(a, t, name);
      }
      if (name === 'vxlan-in-gre.pcap') {
        // The one nested capture: every alarm lists GRE (key 7, the underlay) and then the VXLAN inside it (VNI 400).
        const layered = run.alarms.map((a) => (ecsField(a, 'honeyport.tunnel.layers') as Record<string, unknown>[] | undefined)?.map((l) => `${l.type}/${l.vni ?? l.key}`).join(' > '));
        assert.ok(layered.length > 0 && layered.every((l) => l === 'gre/7 > vxlan/400'), layered.join(', '));
      }
      assert.deepEqual(Object.fromEntries([...actual].sort()), Object.fromEntries([...expected].sort()));
    });
  }
});

/**
 * event.id names one alarm: RFC 9562 UUIDs (version and variant bits), replay
 * ids derived from content — equal across two replays of one capture,
 * different for different captures even under the same file name or on
 * stdin, distinct over every fixture and public capture.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import type { ProbeAlarm } from '../../src/alarm/alarm.js';
import { alarmId, uuidV5 } from '../../src/alarm/alarm-id.js';
import { probeAlarm } from '../deliver/alarms.js';
import { writePcap } from '../helpers/capture-writer.js';
import { ethernet, ipv4, tcp } from '../helpers/frame-builder.js';
import { CLI, FIXTURE_POLICY, ROOT, busiestPolicy, fixtureCaptures, fixturePolicy, replayDocs, sharedCaptures } from '../helpers/replay-docs.js';

/** RFC 9562 §4: version nibble, then variant bits 10xx. */
function assertUuid(id: string, version: number, where: string): void {
  assert.match(id, /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/, `${where}: ${id} is not a UUID`);
  assert.equal(id[14], String(version), `${where}: ${id} is not version ${version}`);
  assert.ok('89ab'.includes(id[19]!), `${where}: ${id} variant is not RFC 9562`);
}

function cliIds(file: string, stdin?: Buffer): string[] {
  const r = spawnSync(process.execPath, [CLI, 'replay', '--policy', FIXTURE_POLICY, file], { input: stdin, encoding: 'utf8', timeout: 30_000 });
  assert.equal(r.status, 0, r.stderr);
  return r.stdout.trim().split('\n').filter(Boolean).map((l) => (JSON.parse(l) as { event: { id: string } }).event.id);
}

/** An ECS document without what names the file and the packet position in it. */
function withoutPosition(doc: Record<string, unknown>): string {
  const { replay: _, ...honeyport } = doc.honeyport as Record<string, unknown>;
  return JSON.stringify({ ...doc, honeyport });
}

describe('alarm ids', () => {
  it('version 5 follows RFC 9562 (its DNS namespace example)', () => {
    assert.equal(uuidV5('www.example.com', Buffer.from('6ba7b8109dad11d180b400c04fd430c8', 'hex')), '2ed6657d-e927-568b-95e1-2665a8aea6a2');
  });

  it('live ids are random version 4 UUIDs, one per alarm', () => {
    const ids = new Set(Array.from({ length: 1000 }, () => alarmId(probeAlarm(1), 'live')));
    assert.equal(ids.size, 1000);
    for (const id of ids) assertUuid(id, 4, 'live');
  });

  it('replay ids change with every content field and with nothing else', () => {
    const a = probeAlarm(7);
    const base = alarmId(a, 'replay');
    assert.equal(alarmId({ ...a, origin: { ...a.origin!, input: 3, packet: 99 } }, 'replay'), base, 'file and packet position take no part');
    for (const changed of [
      { ...a, origin: { ...a.origin!, digest: 'ffffffffffffffff' } },
      { ...a, phase: 'follow-up' as const },
      { ...a, startMicros: a.startMicros + 1 },
      { ...a, count: 2 },
      { ...a, destinationPort: 446 },
      { ...a, ruleName: 'other' },
      { ...a, source: new Uint8Array([198, 18, 0, 8]) },
      { ...a, vlan: 12 },
    ]) assert.notEqual(alarmId(changed, 'replay'), base);
    const noProbe: ProbeAlarm = { ...a, phase: 'connection', count: 0, origin: { input: 0, packet: -1 } };
    const c = { connections: 1, sourcePort: 1, bytes: 0, firstBytes: '', durationMs: 0, closedBy: 'peer' };
    assert.notEqual(alarmId({ ...noProbe, connection: c }, 'replay'), alarmId({ ...noProbe, connection: { ...c, sourcePort: 2 } }, 'replay'));
  });

  it('replay ids hash names as UTF-8: non-ASCII names that agree on low bytes or lengths get distinct ids', () => {
    const a = probeAlarm(7);
    const id = (ruleName: string): string => alarmId({ ...a, ruleName }, 'replay');
    // A writer keeping only the low byte of a code unit would give these one id.
    assert.notEqual(id('policy-\u0125'), id('policy-%'));
    // One that prefixed the length in code units rather than bytes would merge these names' neighbours.
    assert.notEqual(id('\u00e9t\u00e9'), id('\u00c3\u00a9t\u00c3\u00a9'));
    assert.equal(id('r\u00e8gle \u{1f36f}'), id('r\u00e8gle \u{1f36f}'));
    assertUuid(id('r\u00e8gle \u{1f36f}'), 5, 'non-ASCII rule name');
  });

  const fixtures = fixtureCaptures();
  const shared = sharedCaptures();

  it('are well-formed, distinct, and stable over every fixture and public capture', async function () {
    this.timeout(120_000);
    if (shared.length === 0) console.log(`      (no public captures at ../shared/pcaps: fixtures only)`);
    assert.ok(fixtures.length >= 30, 'fixtures missing');
    const owner = new Map<string, { file: string; content: string }>();
    let total = 0;
    let sameAlarm = 0;
    for (const file of [...fixtures, ...shared]) {
      const policy = file.startsWith(ROOT) ? await fixturePolicy() : await busiestPolicy(file);
      const first = await replayDocs([file], policy);
      const again = await replayDocs([file], policy);
      assert.deepEqual(again.map((d) => d.id), first.map((d) => d.id), `${basename(file)}: a second replay gave other ids`);
      const inRun = new Set<string>();
      for (const d of first) {
        assertUuid(d.id, 5, basename(file));
        assert.equal((d.ecs.event as { id: string }).id, d.id);
        assert.ok(!inRun.has(d.id), `${basename(file)}: id ${d.id} twice`);
        inRun.add(d.id);
        const content = withoutPosition(d.ecs);
        const seen = owner.get(d.id);
        if (seen) {
          // Allowed only for the very same alarm: two captures of the same packets (gzip, another link type).
          assert.equal(content, seen.content, `${basename(file)}: id ${d.id} already named another alarm, of ${basename(seen.file)}`);
          sameAlarm++;
        }
        owner.set(d.id, { file, content });
        total++;
      }
    }
    console.log(`      ${total} alarms from ${fixtures.length + shared.length} captures; ${sameAlarm} repeat an alarm of another capture of the same packets`);
    assert.ok(total > 100, `only ${total} alarms`);
  });

  it('two captures that differ only in the probes\' sequence numbers share no id (the header digest tells them apart)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'honeyport-seq-'));
    try {
      const capture = (seq: number): string => {
        const file = join(dir, `seq-${seq}.pcap`);
        // Same source, destination, ports and times: a first SYN, then two more in the window.
        const frames = [0, 1, 2].map((i) => ({
          data: ethernet(ipv4({ src: '198.18.5.5', dst: '198.18.0.2', payload: tcp({ srcPort: 40000, dstPort: 445, seq: seq + i }) })),
          tsMicros: 1_700_000_000_000_000 + i * 1000,
        }));
        writeFileSync(file, writePcap(frames));
        return file;
      };
      const policy = await fixturePolicy();
      const a = (await replayDocs([capture(1000)], policy)).map((d) => d.id);
      const b = (await replayDocs([capture(2000)], policy)).map((d) => d.id);
      assert.equal(a.length, 2, 'a first and a follow-up alarm');
      assert.deepEqual(a.filter((id) => b.includes(id)), []);
      assert.deepEqual((await replayDocs([capture(1000)], policy)).map((d) => d.id), a);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  describe('through the command line', () => {
    let dir: string;
    before(() => {
      dir = mkdtempSync(join(tmpdir(), 'honeyport-ids-'));
      mkdirSync(join(dir, 'a'));
      mkdirSync(join(dir, 'b'));
      copyFileSync(join(ROOT, 'fixtures/crafted/syn-fin.pcap'), join(dir, 'a/capture.pcap'));
      copyFileSync(join(ROOT, 'fixtures/crafted/syn-payload.pcap'), join(dir, 'b/capture.pcap'));
    });
    after(() => rmSync(dir, { recursive: true, force: true }));

    it('two different captures with one file name share no id', () => {
      const a = cliIds(join(dir, 'a/capture.pcap'));
      const b = cliIds(join(dir, 'b/capture.pcap'));
      assert.ok(a.length > 0 && b.length > 0);
      assert.deepEqual(a.filter((id) => b.includes(id)), []);
      assert.deepEqual(cliIds(join(dir, 'a/capture.pcap')), a, 'replaying again gives the same ids');
    });

    it('two different captures on stdin share no id', () => {
      const a = cliIds('-', readFileSync(join(dir, 'a/capture.pcap')));
      const b = cliIds('-', readFileSync(join(dir, 'b/capture.pcap')));
      assert.ok(a.length > 0 && b.length > 0);
      assert.deepEqual(a.filter((id) => b.includes(id)), []);
      assert.deepEqual(a, cliIds(join(dir, 'a/capture.pcap')), 'stdin or a path: the same content, the same ids');
    });

    it('connection alarms (nmap -sT) get distinct ids', () => {
      const ids = cliIds(join(ROOT, 'fixtures/live/nmap-sT.pcap'));
      assert.ok(ids.length >= 4);
      assert.equal(new Set(ids).size, ids.length, ids.join(' '));
    });
  });
});

/**
 * Replay output to a slow reader: back-pressure must not pile up listeners on
 * stdout (Node's MaxListenersExceededWarning past 10 'drain' listeners), and
 * every line arrives. A batch of 4096 probes of new keys formats ~14 chunks
 * of output at once, more than the reader takes in between.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough, Writable } from 'node:stream';
import { LineWriter } from '../../src/deliver/line-writer.js';
import { writePcap } from '../helpers/capture-writer.js';
import { ethernet, ipv4, tcp } from '../helpers/frame-builder.js';
import { CLI, FIXTURE_POLICY } from '../helpers/replay-docs.js';

const PROBES = 12_000;

/** Reads stdin in small bites with a pause after each; prints the line count. */
const SLOW_READER = `let lines = 0;
process.stdin.on('data', (d) => { for (const b of d) if (b === 10) lines++; process.stdin.pause(); setTimeout(() => process.stdin.resume(), 2); });
process.stdin.on('end', () => process.stdout.write(String(lines)));`;

describe('LineWriter', () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'honeyport-lines-'));
    const frames = Array.from({ length: PROBES }, (_, i) => ({
      data: ethernet(ipv4({ src: `198.18.${(i >> 8) + 1}.${i & 255}`, dst: '198.19.0.1', payload: tcp({ srcPort: 40000 + (i % 20000), dstPort: 445, seq: i }) })),
      tsMicros: 1_700_000_000_000_000 + i,
    }));
    writeFileSync(join(dir, 'many.pcap'), writePcap(frames));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('replay into a slow reader: no listener warning, every line arrives', function () {
    this.timeout(60_000);
    const replay = `"${process.execPath}" "${CLI}" replay --policy "${FIXTURE_POLICY}" --new-source-rate 10000000 "${join(dir, 'many.pcap')}"`;
    const reader = `"${process.execPath}" -e "${SLOW_READER.replace(/"/g, '\\"')}"`;
    const r = spawnSync('sh', ['-c', `${replay} | ${reader}`], { encoding: 'utf8', timeout: 50_000 });
    assert.equal(r.status, 0, r.stderr);
    assert.doesNotMatch(r.stderr, /MaxListenersExceeded|Warning/);
    assert.equal(Number(r.stdout), PROBES, 'one alarm line per probe');
  });

  it('keeps at most one drain and one error listener however many chunks wait', async () => {
    let release: (() => void) | undefined;
    const slow = new Writable({
      highWaterMark: 1024,
      write(_chunk, _enc, done) {
        release = done;
      },
    });
    const w = new LineWriter(slow);
    const line = 'x'.repeat(100_000);
    for (let i = 0; i < 60; i++) w.write(line);
    const flushed = w.flush();
    assert.ok(slow.listenerCount('drain') <= 1, `${slow.listenerCount('drain')} drain listeners`);
    assert.ok(slow.listenerCount('error') <= 1, `${slow.listenerCount('error')} error listeners`);
    while (!slow.writableFinished && slow.writableLength > 0) {
      const r = release;
      release = undefined;
      r?.();
      await new Promise((res) => setImmediate(res));
    }
    await flushed;
    assert.equal(slow.listenerCount('drain'), 0);
    assert.equal(slow.listenerCount('error'), 0);
  });

  it('a stream error rejects the flush', async () => {
    const out = new PassThrough({ highWaterMark: 16 });
    const w = new LineWriter(out);
    w.write('a'.repeat(300_000));
    const flushed = w.flush();
    out.destroy(new Error('reader gone'));
    await assert.rejects(flushed, /reader gone/);
  });
});

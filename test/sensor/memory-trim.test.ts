/**
 * Giving freed malloc memory back after start-up (src/sensor/memory-trim.ts
 * and the addon's trimMalloc). The fault: a malloc heap fragmented the way
 * start-up leaves it — most of it freed, but with live blocks pinning its
 * top, so free() alone returns nothing — must shrink by what is free, and
 * not lose a byte of what is still in use. The schedule: once per quiet
 * spell, never while work goes on, never after stop, never keeping the
 * process alive, and a failing trim never throws into the timer.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { loadNative } from '../../src/capture/native-binding.js';
import { MemoryTrim } from '../../src/sensor/memory-trim.js';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const BINDING = fileURLToPath(new URL('../../src/capture/native-binding.js', import.meta.url));

/**
 * Allocates 200 MiB in 100 KiB malloc'd buffers (below glibc's mmap
 * threshold: they come from the main heap), writes them, frees 15 of
 * every 16, then prints Anonymous KiB before and after trimMalloc() and
 * whether the survivors kept their bytes.
 */
const CHILD = `
import { readFileSync } from 'node:fs';
const { loadNative } = await import(${JSON.stringify(BINDING)});
const native = loadNative();
if (!native.ok) { console.log(JSON.stringify({ skip: native.reason })); process.exit(0); }
const anon = () => Number(/^Anonymous:\\s+(\\d+)/m.exec(readFileSync('/proc/self/smaps_rollup', 'utf8'))[1]);
let all = [];
for (let i = 0; i < 2048; i++) all.push(Buffer.allocUnsafeSlow(100 * 1024).fill(i & 0xff));
const kept = all.filter((_, i) => i % 16 === 0);
all = undefined;
for (let i = 0; i < 4; i++) globalThis.gc();
const before = anon();
const released = native.addon.trimMalloc();
const after = anon();
const intact = kept.every((b, j) => b.every((x) => x === ((j * 16) & 0xff)));
console.log(JSON.stringify({ before, after, released, intact }));
`;

describe('memory trim after start-up', function () {
  this.timeout(30_000);

  it('trimMalloc gives a fragmented heap\'s free pages back and keeps every live byte', function () {
    if (process.platform !== 'linux') this.skip();
    const out = execFileSync(process.execPath, ['--expose-gc', '--input-type=module', '-e', CHILD], { timeout: 20_000 }).toString();
    const r = JSON.parse(out) as { skip?: string; before: number; after: number; released: boolean; intact: boolean };
    if (r.skip) {
      console.log(`      skipped: ${r.skip}`);
      this.skip();
    }
    assert.equal(r.intact, true, 'live buffers keep their contents');
    assert.equal(r.released, true);
    // 15/16 of 200 MiB were freed; at least 100 MiB of it must leave the resident set.
    assert.ok(r.before - r.after > 100 * 1024, `anonymous ${r.before} KiB -> ${r.after} KiB`);
  });

  it('the addon answers a boolean (what memory-trim.ts relies on)', function () {
    const native = loadNative();
    if (!native.ok) this.skip();
    assert.equal(typeof native.addon.trimMalloc(), 'boolean');
  });

  it('trims once when work has been quiet for the settle time, postponed by more work', async () => {
    let calls = 0;
    const trim = new MemoryTrim(() => ++calls > 0, 60);
    trim.settleAfter();
    await sleep(30);
    trim.settleAfter(); // more work: the quiet spell starts again
    await sleep(40);
    assert.equal(calls, 0, 'not while work goes on');
    await sleep(60);
    assert.equal(calls, 1);
    await sleep(100);
    assert.equal(calls, 1, 'once per quiet spell, not periodically');
    trim.stop();
  });

  it('waits while traffic moves the activity count, and trims once it has stood still for the settle time', async () => {
    let calls = 0;
    let frames = 0;
    const trim = new MemoryTrim(() => ++calls > 0, 40, () => frames);
    trim.settleAfter();
    // A flood: frames arrive throughout three settle times.
    const flood = setInterval(() => frames++, 5);
    await sleep(130);
    clearInterval(flood);
    assert.equal(calls, 0, 'no trim while frames arrive');
    await sleep(120);
    assert.equal(calls, 1, 'trimmed once the count stood still');
    trim.stop();
  });

  it('never trims after stop, never keeps the process alive, and swallows a failing trim', async () => {
    let calls = 0;
    const stopped = new MemoryTrim(() => ++calls > 0, 20);
    stopped.settleAfter();
    stopped.stop();
    stopped.settleAfter();
    await sleep(60);
    assert.equal(calls, 0);

    const failing = new MemoryTrim(() => {
      calls++;
      throw new Error('no malloc_trim here');
    }, 10);
    assert.equal(failing.settleAfter()?.hasRef(), false, 'the timer is unref\'d');
    await sleep(50);
    assert.equal(calls, 1, 'called, and its error did not escape the timer');
    failing.stop();
  });
});

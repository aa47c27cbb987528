/**
 * Dropping clean file pages from the resident set (src/sensor/resident-file-pages.ts
 * and the addon's adviseDontNeed). The faults: a mapping holding private
 * (written) pages, a writable, shared, device, memfd, deleted or locked
 * mapping, or a mapping smaps did not describe fully, must never be advised
 * (its bytes would change under the process); a bad range must be refused
 * before anything is advised; and in a real process the drop must take the
 * executable's pages out of RSS while every computation after it still gives
 * the same answer.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { loadNative } from '../../src/capture/native-binding.js';
import { cleanFileRanges, dropCleanFilePages } from '../../src/sensor/resident-file-pages.js';

const BINDING = fileURLToPath(new URL('../../src/capture/native-binding.js', import.meta.url));
const RESIDENT = fileURLToPath(new URL('../../src/sensor/resident-file-pages.js', import.meta.url));

/** One smaps entry: the header, then the fields given (Rss and Anonymous unless left out). */
function entry(header: string, fields: Record<string, string | undefined> = {}): string {
  const all: Record<string, string | undefined> = { Size: '100 kB', Rss: '40 kB', Anonymous: '0 kB', Locked: '0 kB', VmFlags: 'rd mr mw me dw sd', ...fields };
  return [header, ...Object.entries(all).filter(([, v]) => v !== undefined).map(([k, v]) => `${k}: ${v}`)].join('\n');
}

const SMAPS = [
  entry('00400000-00b6f000 r--p 00000000 fe:00 260689                             /usr/bin/node'),
  entry('00b72000-025fe000 r-xp 00772000 fe:00 260689                             /usr/bin/node'),
  // Relocated read-only data: written once by the loader, so private copies live in it.
  entry('0563a000-0563e000 r--p 05239000 fe:00 260689                             /usr/bin/node', { Anonymous: '8 kB' }),
  entry('0563e000-0565d000 rw-p 0523d000 fe:00 260689                             /usr/bin/node', { Anonymous: '92 kB' }),
  entry('0565d000-0567d000 rw-p 00000000 00:00 0                                  [heap]', { Anonymous: '128 kB' }),
  entry('7f0000000000-7f0000200000 rw-s 00000000 00:08 12345                      socket:[12345]'),
  entry('7f0000200000-7f0000210000 r--s 00000000 fe:00 777                        /var/lib/x/shared.bin'),
  entry('7f0000210000-7f0000220000 r--p 00000000 00:05 99                         /dev/zero'),
  entry('7f0000220000-7f0000230000 r--p 00000000 00:01 1024                       /memfd:jit (deleted)'),
  entry('7f0000230000-7f0000240000 r--p 00000000 fe:00 555                        /usr/lib/old.so (deleted)'),
  entry('7f0000240000-7f0000250000 r-xp 00000000 fe:00 556                        /usr/lib/locked.so', { Locked: '64 kB' }),
  entry('7f0000250000-7f0000260000 r-xp 00000000 fe:00 557                        /usr/lib/vmlocked.so', { VmFlags: 'rd ex mr mw me lo sd' }),
  entry('7f0000260000-7f0000270000 r-xp 00000000 fe:00 558                        /usr/lib/no-anon-field.so', { Anonymous: undefined }),
  entry('7f0000270000-7f0000280000 r-xp 00000000 fe:00 559                        /usr/lib/not-resident.so', { Rss: '0 kB' }),
  entry('7f0000280000-7f0000290000 r-xp 00000000 fe:00 560                        /usr/lib/x86_64-linux-gnu/libc.so.6'),
  entry('7ffc00000000-7ffc00021000 rw-p 00000000 00:00 0                          [stack]', { Anonymous: '20 kB' }),
  entry('7ffc00100000-7ffc00102000 r-xp 00000000 00:00 0                          [vdso]'),
  '',
].join('\n');

describe('resident file pages: what may leave the resident set', () => {
  it('takes only private, read-only, named regular-file mappings with no anonymous page', () => {
    assert.deepEqual(
      cleanFileRanges(SMAPS).map((r) => r.path),
      ['/usr/bin/node', '/usr/bin/node', '/usr/lib/x86_64-linux-gnu/libc.so.6'],
    );
    const [first] = cleanFileRanges(SMAPS);
    assert.deepEqual(first, { start: 0x400000, end: 0xb6f000, path: '/usr/bin/node', rssKiB: 40 });
  });

  it('takes nothing from a malformed or truncated text', () => {
    assert.deepEqual(cleanFileRanges(''), []);
    assert.deepEqual(cleanFileRanges('garbage\nRss: 4 kB\nAnonymous: 0 kB\n'), []);
    // Cut after the header: Rss and Anonymous never seen.
    assert.deepEqual(cleanFileRanges('00400000-00b6f000 r--p 00000000 fe:00 260689 /usr/bin/node\n'), []);
    assert.deepEqual(cleanFileRanges(entry('00400000-00b6f000 r--p 00000000 fe:00 260689 /usr/bin/node', { Anonymous: 'many' })), []);
  });

  it('hands the addon [start, end) pairs and counts what smaps said was resident', () => {
    let seen: number[] = [];
    const r = dropCleanFilePages(() => SMAPS, (ranges) => {
      seen = [...ranges];
      return 0;
    });
    assert.deepEqual(seen, [0x400000, 0xb6f000, 0xb72000, 0x25fe000, 0x7f0000280000, 0x7f0000290000]);
    assert.deepEqual(r, { mappings: 3, residentKiB: 120 });
    let called = false;
    dropCleanFilePages(() => '', () => {
      called = true;
      return 0;
    });
    assert.equal(called, false, 'nothing to advise: the addon is not called');
  });
});

/**
 * In a real process: RssFile before and after the drop, and the same
 * computations (JSON, Intl, zlib, crypto, a regular expression) before and
 * after, which run code the drop took out of the resident set.
 */
const CHILD = `
import { readFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { deflateSync, inflateSync } from 'node:zlib';
const { loadNative } = await import(${JSON.stringify(BINDING)});
const { dropCleanFilePages } = await import(${JSON.stringify(RESIDENT)});
const native = loadNative();
if (!native.ok || !native.addon.adviseDontNeed) { console.log(JSON.stringify({ skip: native.ok ? 'addon without adviseDontNeed' : native.reason })); process.exit(0); }
const status = (k) => Number(new RegExp('^' + k + ':\\\\s+(\\\\d+)', 'm').exec(readFileSync('/proc/self/status', 'utf8'))[1]);
const work = () => JSON.stringify([
  new Intl.NumberFormat('de-DE').format(1234567.891),
  new Date(0).toLocaleString('en-GB', { timeZone: 'UTC' }),
  createHash('sha256').update('honeyport').digest('hex'),
  inflateSync(deflateSync(Buffer.from('decoy '.repeat(1000)))).length,
  /(\\d+)-(\\w+)/.exec('445-smb')[2],
]);
const before = work();
const file0 = status('RssFile');
const anon0 = status('RssAnon');
const r = dropCleanFilePages(() => readFileSync('/proc/self/smaps', 'latin1'), (ranges) => native.addon.adviseDontNeed(ranges));
const file1 = status('RssFile');
const anon1 = status('RssAnon');
const after = work();
let refused = 0;
for (const bad of [[4096, 4096], [4097, 8192], [0, 2 ** 48], [4096]]) {
  try { native.addon.adviseDontNeed(new Float64Array(bad)); } catch (e) { if (e instanceof TypeError) refused++; }
}
console.log(JSON.stringify({ file0, file1, anon0, anon1, same: before === after, mappings: r.mappings, refused }));
`;

describe('resident file pages: in a real process', function () {
  this.timeout(30_000);

  it('takes the executable\'s clean pages out of RSS, keeps anonymous memory, and the code still runs the same', function () {
    if (process.platform !== 'linux') this.skip();
    const out = execFileSync(process.execPath, ['--input-type=module', '-e', CHILD], { timeout: 20_000 }).toString();
    const r = JSON.parse(out) as { skip?: string; file0: number; file1: number; anon0: number; anon1: number; same: boolean; mappings: number; refused: number };
    if (r.skip) {
      console.log(`      skipped: ${r.skip}`);
      this.skip();
    }
    assert.equal(r.same, true, 'JSON, Intl, crypto, zlib and regexp answer the same after the drop');
    assert.ok(r.mappings >= 2, `mappings advised: ${r.mappings}`);
    // node alone holds ~35 MB of file pages after start-up; at least 10 MB of it must leave.
    assert.ok(r.file0 - r.file1 > 10 * 1024, `RssFile ${r.file0} KiB -> ${r.file1} KiB`);
    // Private copies are never dropped (they would be re-read from the file), so anonymous memory stays.
    assert.ok(r.anon1 >= r.anon0 - 512, `RssAnon ${r.anon0} KiB -> ${r.anon1} KiB`);
    assert.equal(r.refused, 4, 'empty, unaligned, beyond user space and odd-length ranges are refused');
  });

  it('the addon refuses anything but a Float64Array of pairs', function () {
    const native = loadNative();
    if (!native.ok || !native.addon.adviseDontNeed) this.skip();
    const advise = native.addon.adviseDontNeed.bind(native.addon) as (x: unknown) => number;
    assert.throws(() => advise(new Uint32Array(2)), TypeError);
    assert.throws(() => advise([4096, 8192]), TypeError);
    assert.equal(advise(new Float64Array(0)), 0);
  });
});

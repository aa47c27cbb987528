/** Directory arguments of `replay`: which files, in which order. */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expandCapturePaths, naturalCompare } from '../../src/cli/capture-paths.js';
import { CliError } from '../../src/cli/exit-codes.js';

describe('capture paths', () => {
  it('orders names naturally: digit runs by value, then by length; the rest by code unit', () => {
    const names = ['cap10', 'cap', 'cap2', 'cap1', 'cap01', 'cap.pcap11', 'cap.pcap', 'cap.pcap9', 'b', 'a100', 'a20', 'A3', 'x-2026-11-29T10', 'x-2026-11-29T09', 'n99999999999999999999', 'n100000000000000000000'];
    assert.deepEqual([...names].sort(naturalCompare), [
      'A3', 'a20', 'a100', 'b', 'cap', 'cap.pcap', 'cap.pcap9', 'cap.pcap11', 'cap1', 'cap01', 'cap2', 'cap10',
      'n99999999999999999999', 'n100000000000000000000', 'x-2026-11-29T09', 'x-2026-11-29T10',
    ]);
    assert.equal(naturalCompare('same', 'same'), 0);
  });

  it('expands a directory to its regular files (not hidden ones, not subdirectories; links followed), keeping other arguments as given', () => {
    const dir = mkdtempSync(join(tmpdir(), 'honeyport-paths-'));
    try {
      const d = join(dir, 'rot');
      mkdirSync(d);
      for (const n of ['cap', 'cap10', 'cap2', '.hidden', 'cap1']) writeFileSync(join(d, n), 'x');
      mkdirSync(join(d, 'sub'));
      writeFileSync(join(dir, 'outside'), 'x');
      symlinkSync(join(dir, 'outside'), join(d, 'cap3'));
      assert.deepEqual(expandCapturePaths(['-', d, join(dir, 'missing')]), ['-', ...['cap', 'cap1', 'cap2', 'cap3', 'cap10'].map((n) => join(d, n)), join(dir, 'missing')]);
      const empty = join(dir, 'empty');
      mkdirSync(empty);
      mkdirSync(join(empty, 'only-a-subdirectory'));
      assert.throws(() => expandCapturePaths([empty]), (e: unknown) => e instanceof CliError && e.exitCode === 2 && /holds no files to replay/.test(e.message));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

/**
 * Every input in test/fuzz-corpus/<target>/ (fuzzer finds and the issue's
 * hand-made regressions) through its target: none may fail again.
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { TARGETS } from './targets.js';

const CORPUS = fileURLToPath(new URL('../../../test/fuzz-corpus/', import.meta.url));

describe('fuzz corpus', function () {
  this.timeout(120_000);
  for (const target of TARGETS) {
    const dir = join(CORPUS, target.name);
    const files = existsSync(dir) ? readdirSync(dir).filter((f) => !f.endsWith('.why')).sort() : [];
    if (files.length === 0) continue;
    it(`${target.name}: ${files.length} input${files.length === 1 ? '' : 's'} pass`, async () => {
      const failed: string[] = [];
      for (const f of files) {
        try {
          await target.run(readFileSync(join(dir, f)));
        } catch (err) {
          failed.push(`${f}: ${(err as Error).message}`);
        }
      }
      assert.deepEqual(failed, []);
    });
  }
});

/**
 * A PATH for the package tests with no compiler, no make and no Python: a
 * directory of links to every program on the usual system PATH except those.
 * Checked, not trusted: `assertNoBuildTools` fails when one slipped through.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';

const SYSTEM_PATH = ['/usr/local/sbin', '/usr/local/bin', '/usr/sbin', '/usr/bin', '/sbin', '/bin'];

/** Compilers, assemblers, linkers, make, Python and node-gyp, under their usual names. */
const BUILD_TOOL = /^(cc|c\+\+|c89|c99|cpp|as|ld|ld\..*|make|gmake|cmake|tcc|node-gyp)$|gcc|g\+\+|clang|nvcc|python/;

export const BUILD_TOOLS_CHECKED = ['cc', 'gcc', 'g++', 'c++', 'clang', 'make', 'python3', 'python'];

/** Fills `dir` with the links and returns it, to be used as PATH. */
export function noCompilerPath(dir: string): string {
  mkdirSync(dir, { recursive: true });
  for (const from of SYSTEM_PATH) {
    if (!existsSync(from)) continue;
    for (const name of readdirSync(from)) {
      if (BUILD_TOOL.test(name) || existsSync(join(dir, name))) continue;
      symlinkSync(join(from, name), join(dir, name));
    }
  }
  return dir;
}

export function assertNoBuildTools(path: string): void {
  for (const tool of BUILD_TOOLS_CHECKED) {
    const r = spawnSync('/bin/sh', ['-c', `command -v ${tool}`], { env: { PATH: path }, encoding: 'utf8' });
    assert.notEqual(r.status, 0, `${tool} is on the no-compiler PATH: ${r.stdout}`);
  }
  for (const tool of ['node', 'npm', 'dpkg', 'setpriv', 'ip']) {
    const r = spawnSync('/bin/sh', ['-c', `command -v ${tool}`], { env: { PATH: path }, encoding: 'utf8' });
    assert.equal(r.status, 0, `${tool} is missing from the no-compiler PATH`);
  }
}

import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DirectoryBusyError, lockDirectory } from '../../src/lock/dir-lock.js';

const holder = join(fileURLToPath(new URL('.', import.meta.url)), 'lock-holder.js');

function holdInChild(dir: string): Promise<ChildProcess> {
  const child = spawn(process.execPath, [holder, dir], { stdio: ['ignore', 'pipe', 'inherit'] });
  return new Promise((resolve, reject) => {
    child.stdout!.on('data', (d: Buffer) => d.toString().includes('locked') && resolve(child));
    child.once('exit', (code) => reject(new Error(`holder exited ${code}`)));
  });
}

describe('lock: directory lock held for the process lifetime', function () {
  this.timeout(10_000);
  let dir: string;
  beforeEach(async () => (dir = await mkdtemp(join(tmpdir(), 'honeyport-lock-'))));
  afterEach(async () => rm(dir, { recursive: true, force: true }));

  it('refuses a second holder and names the holding process', async () => {
    const child = await holdInChild(dir);
    try {
      await assert.rejects(lockDirectory(dir), (e: unknown) => e instanceof DirectoryBusyError && e.message.includes(`process ${child.pid}`));
    } finally {
      child.kill('SIGKILL');
    }
  });

  it('is free again the moment its holder is SIGKILLed (no stale state to clean up)', async () => {
    const child = await holdInChild(dir);
    child.kill('SIGKILL');
    await new Promise((r) => child.once('exit', r));
    const lock = await lockDirectory(dir);
    await lock.release();
  });

  it('ignores a leftover pid file naming a live process whose pid was reused', async () => {
    // The old pid-file lock refused to start here: pid 1 is always alive.
    await writeFile(join(dir, 'lock'), '1\n');
    const lock = await lockDirectory(dir);
    await lock.release();
  });

  it('within one process: a second take is refused until release', async () => {
    const a = await lockDirectory(dir);
    await assert.rejects(lockDirectory(dir), DirectoryBusyError);
    await a.release();
    const b = await lockDirectory(dir);
    await b.release();
  });
});

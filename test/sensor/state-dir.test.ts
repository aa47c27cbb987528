/**
 * The state directory of a sensor that drops from root to another user:
 * created for that user (fchown of the directory just made), and never
 * taken over when it already exists — not a root directory, not a link.
 */
import assert from 'node:assert/strict';
import { chownSync, lstatSync, mkdirSync, mkdtempSync, rmSync, statSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { prepareStateDir } from '../../src/sensor/state-dir.js';

const NOBODY = { uid: 65534, gid: 65534 };

describe('state directory for the user the sensor drops to', function () {
  let dir = '';
  before(function () {
    if (process.getuid?.() !== 0) {
      console.log('      (skipped: needs root to hand a directory to another user)');
      this.skip();
    }
  });
  beforeEach(() => { dir = mkdtempSync(join(tmpdir(), 'hp-statedir-')); });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('a missing directory is created 0750 and handed to the user', async () => {
    const state = join(dir, 'state');
    await prepareStateDir(state, NOBODY);
    const st = statSync(state);
    assert.deepEqual([st.uid, st.gid, st.mode & 0o777], [NOBODY.uid, NOBODY.gid, 0o750]);
  });

  it('an existing root directory is refused, not taken over', async () => {
    const state = join(dir, 'state');
    mkdirSync(state, { mode: 0o750 });
    await assert.rejects(prepareStateDir(state, NOBODY), /is owned by uid 0, not by the sensor's user \(uid 65534\)/);
    assert.equal(statSync(state).uid, 0, 'still root\'s');
  });

  it('an existing directory of the user is accepted as is', async () => {
    const state = join(dir, 'state');
    mkdirSync(state, { mode: 0o750 });
    chownSync(state, NOBODY.uid, NOBODY.gid);
    await prepareStateDir(state, NOBODY);
  });

  it('a link in place of the directory is refused and its target left alone', async () => {
    const target = join(dir, 'target');
    mkdirSync(target, { mode: 0o750 });
    const state = join(dir, 'state');
    symlinkSync(target, state);
    await assert.rejects(prepareStateDir(state, NOBODY), /symbolic link/);
    assert.equal(lstatSync(target).uid, 0);
  });

  it('without a user to hand it to, root keeps it (no drop)', async () => {
    const state = join(dir, 'state');
    await prepareStateDir(state);
    assert.equal(statSync(state).uid, 0);
  });
});

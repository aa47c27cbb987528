/**
 * The policy `run` and `replay` start with, and that `run` re-chooses on
 * every SIGHUP (its reload calls the same function): the file is read again
 * and the choice made again, so an edit that moves the host to another
 * policy, or that leaves it with none, takes effect (or is refused) then.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { policyFor } from '../../src/cli/policy-choice.js';
import { PolicySelectionError } from '../../src/policy/select.js';

const entry = (name: string, servers: string): string => `  - {name: ${name}, servers: ["${servers}"], os: linux, ports: recommended}\n`;

describe('policy choice for run and replay', () => {
  let dir = '';
  before(() => { dir = mkdtempSync(join(tmpdir(), 'hp-choice-')); });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('chooses again from the file as it is now (a SIGHUP reload)', async () => {
    const file = join(dir, 'fleet.yaml');
    writeFileSync(file, `policies:\n${entry('a', 'edge-*')}${entry('b', 'core-*')}`);
    const choice = { kind: 'this-host', name: 'edge-7' } as const;
    assert.equal((await policyFor(file, choice)).name, 'a');
    writeFileSync(file, `policies:\n${entry('a', 'core-*')}${entry('b', 'edge-*')}`);
    assert.equal((await policyFor(file, choice)).name, 'b', 'the edit moved the host');
    writeFileSync(file, `policies:\n${entry('a', 'edge-*')}${entry('b', 'edge-?')}`);
    await assert.rejects(policyFor(file, choice), (e: unknown) => e instanceof PolicySelectionError && /matches 2 policies/.test(e.message));
  });

  it('this host is os.hostname() unless --host names another', async () => {
    const file = join(dir, 'self.yaml');
    // A glob of this machine's own name, with glob characters escaped by classes.
    const self = hostname().replace(/[*?[\]!^]/g, (c) => `[${c}]`);
    writeFileSync(file, `policies:\n${entry('self', self)}${entry('other', 'zz-no-such-host-*')}`);
    assert.equal((await policyFor(file, { kind: 'this-host' })).name, 'self');
    assert.equal((await policyFor(file, { kind: 'this-host', name: 'zz-no-such-host-1' })).name, 'other');
  });

  it('replay without --host refuses a fleet file, not a single policy', async () => {
    const fleet = join(dir, 'f.yaml');
    writeFileSync(fleet, `policies:\n${entry('a', '*')}`);
    await assert.rejects(policyFor(fleet, { kind: 'unnamed', command: 'replay' }), /f\.yaml holds 1 policy: replay needs --host NAME/);
    const single = join(dir, 's.yaml');
    writeFileSync(single, 'name: s\nos: linux\nports: recommended\n');
    assert.equal((await policyFor(single, { kind: 'unnamed', command: 'replay' })).name, 's');
    assert.equal((await policyFor(undefined, { kind: 'unnamed', command: 'replay' })).name, 'honeyport-linux-recommended');
  });
});

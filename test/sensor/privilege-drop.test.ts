/**
 * The decisions and checks of privilege-drop.ts without changing any
 * credential: who the sensor runs as, which capabilities it keeps, and the
 * check of /proc/…/task/*\/status that makes a drop leaving any thread
 * otherwise than stated fail the start. The drop itself is tested live
 * (test/live/sensor-privdrop.test.ts).
 */
import assert from 'node:assert/strict';
import {
  asUser,
  CAP_NET_BIND_SERVICE,
  credentialProblems,
  drop,
  parseThreadStatus,
  planPrivileges,
  PrivilegeDropError,
  readThreadCredentials,
  type ThreadCredentials,
  UnknownUserError,
} from '../../src/sensor/privilege-drop.js';

const users: Record<string, { uid: number; gid: number }> = { root: { uid: 0, gid: 0 }, toor: { uid: 0, gid: 0 }, honeyport: { uid: 990, gid: 985 }, nobody: { uid: 65534, gid: 65534 } };
const lookup = (name: string): { uid: number; gid: number } | null => users[name] ?? null;
const noHoneyport = (name: string): { uid: number; gid: number } | null => (name === 'honeyport' ? null : lookup(name));

describe('planPrivileges', () => {
  it('as root, by default, drops to honeyport keeping CAP_NET_BIND_SERVICE when a reload may bind ports', () => {
    assert.deepEqual(planPrivileges({ requested: undefined, euid: 0, reloadBindsPorts: true, lookup }), { kind: 'drop', user: 'honeyport', uid: 990, gid: 985, keep: [CAP_NET_BIND_SERVICE] });
  });

  it('keeps no capability when no reload can bind a port (no policy file)', () => {
    const plan = planPrivileges({ requested: 'nobody', euid: 0, reloadBindsPorts: false, lookup });
    assert.deepEqual(plan, { kind: 'drop', user: 'nobody', uid: 65534, gid: 65534, keep: [] });
  });

  it('an unknown --user is refused, as root or not', () => {
    for (const euid of [0, 1000]) {
      assert.throws(() => planPrivileges({ requested: 'nosuch', euid, reloadBindsPorts: true, lookup }), (e: unknown) => e instanceof UnknownUserError && e.message === '--user nosuch: no such user');
    }
  });

  it('--user root, or any name of uid 0, stays root without a warning', () => {
    for (const requested of ['root', 'toor']) assert.deepEqual(planPrivileges({ requested, euid: 0, reloadBindsPorts: true, lookup }), { kind: 'stay' });
  });

  it('root without a honeyport user and without --user stays root with a warning', () => {
    const plan = planPrivileges({ requested: undefined, euid: 0, reloadBindsPorts: true, lookup: noHoneyport });
    assert.equal(plan.kind, 'stay');
    assert.match(plan.kind === 'stay' ? (plan.warning ?? '') : '', /running as root: no "honeyport" user/);
  });

  it('not root: nothing to drop, no warning, whatever the user', () => {
    for (const requested of [undefined, 'nobody']) assert.deepEqual(planPrivileges({ requested, euid: 990, reloadBindsPorts: true, lookup }), { kind: 'stay' });
    assert.deepEqual(planPrivileges({ requested: undefined, euid: 990, reloadBindsPorts: true, lookup: noHoneyport }), { kind: 'stay' });
  });
});

/** A status text as /proc/PID/task/TID/status shows it (the lines judged). */
function statusText(o: { uid?: string; gid?: string; groups?: string; prm?: string; eff?: string; inh?: string; bnd?: string; amb?: string; nnp?: number }): string {
  return [
    'Name:\tnode',
    `Uid:\t${o.uid ?? '990\t990\t990\t990'}`,
    `Gid:\t${o.gid ?? '985\t985\t985\t985'}`,
    `Groups:\t${o.groups ?? ''}`,
    `CapInh:\t${o.inh ?? '0000000000000000'}`,
    `CapPrm:\t${o.prm ?? '0000000000000400'}`,
    `CapEff:\t${o.eff ?? '0000000000000400'}`,
    `CapBnd:\t${o.bnd ?? '0000000000000400'}`,
    `CapAmb:\t${o.amb ?? '0000000000000000'}`,
    `NoNewPrivs:\t${o.nnp ?? 1}`,
    'Seccomp:\t0',
    '',
  ].join('\n');
}

const target = { uid: 990, gid: 985, keep: [CAP_NET_BIND_SERVICE] };
const worker = (tid: number, o: Parameters<typeof statusText>[0] = {}): ThreadCredentials =>
  parseThreadStatus(tid, statusText({ prm: '0000000000000000', eff: '0000000000000000', bnd: '000001ffffffffff', nnp: 0, ...o }));

describe('credentialProblems', () => {
  it('accepts the stated state: main thread with the kept set, bounding set and no_new_privs; workers with no capability', () => {
    assert.deepEqual(credentialProblems([parseThreadStatus(100, statusText({})), worker(101), worker(102)], target, 100), []);
  });

  it('an empty Groups line parses as no groups (the line ends in a tab)', () => {
    assert.deepEqual(parseThreadStatus(1, statusText({})).groups, []);
    assert.deepEqual(parseThreadStatus(1, statusText({ groups: '0 27 ' })).groups, [0, 27]);
  });

  const faults: [string, ThreadCredentials[], RegExp][] = [
    ['a worker thread still root', [parseThreadStatus(100, statusText({})), worker(101, { uid: '0\t0\t0\t0' })], /thread 101: uid 0 0 0 0/],
    ['a saved uid of 0 (root could come back)', [parseThreadStatus(100, statusText({ uid: '990\t990\t0\t990' }))], /thread 100: uid 990 990 0 990/],
    ['a root group left', [parseThreadStatus(100, statusText({ gid: '985\t0\t985\t985' }))], /gid 985 0 985 985/],
    ['a supplementary group left', [parseThreadStatus(100, statusText({})), worker(101, { groups: '0' })], /thread 101: supplementary groups 0/],
    ['CAP_NET_RAW kept', [parseThreadStatus(100, statusText({ prm: '0000000000002400', eff: '0000000000002400' }))], /permitted 0000000000002400/],
    ['the bounding set not cut', [parseThreadStatus(100, statusText({ bnd: '000001ffffffffff' }))], /bounding set 000001ffffffffff/],
    ['no_new_privs off', [parseThreadStatus(100, statusText({ nnp: 0 }))], /no_new_privs is off/],
    ['an ambient capability', [parseThreadStatus(100, statusText({ amb: '0000000000000400' }))], /ambient capabilities/],
    ['an inheritable capability', [parseThreadStatus(100, statusText({ inh: '0000000000000400' }))], /inheritable/],
    ['a worker with a permitted capability', [parseThreadStatus(100, statusText({})), worker(101, { prm: '0000000000000400' })], /thread 101: permitted 0000000000000400/],
    ['the main thread missing', [worker(101)], /main thread 100 not found/],
  ];
  for (const [what, threads, expected] of faults) {
    it(`reports ${what}`, () => {
      const problems = credentialProblems(threads, target, 100);
      assert.ok(problems.some((p) => expected.test(p)), problems.join('; '));
    });
  }

  it('reads this process: every thread is listed with four uids', () => {
    const threads = readThreadCredentials();
    assert.ok(threads.some((t) => t.tid === process.pid));
    assert.ok(threads.every((t) => t.uid.length === 4 && t.gid.length === 4));
  });
});

describe('asUser and drop (fake native calls)', () => {
  function fakeNative(fail?: string, failAssume?: string) {
    const calls: string[] = [];
    return {
      calls,
      assumeUser: (uid: number, gid: number) => {
        calls.push(`assume ${uid} ${gid}`);
        if (failAssume) throw new Error(failAssume);
      },
      resumeRoot: () => { calls.push('resume'); },
      dropPrivileges: (uid: number, gid: number, keep: number[]) => {
        calls.push(`drop ${uid} ${gid} ${keep.join(',')}`);
        if (fail) throw new Error(fail);
      },
    };
  }
  const plan = { kind: 'drop', user: 'honeyport', uid: 990, gid: 985, keep: [CAP_NET_BIND_SERVICE] } as const;

  it('asUser returns to root also when the work fails', async () => {
    const n = fakeNative();
    await assert.rejects(asUser(plan, n, async () => { throw new Error('EACCES'); }), /EACCES/);
    assert.deepEqual(n.calls, ['assume 990 985', 'resume']);
  });

  it('asUser that cannot switch (root without CAP_SETUID) is a PrivilegeDropError, the work never runs', async () => {
    const n = fakeNative(undefined, 'setresuid: Operation not permitted');
    let ran = false;
    await assert.rejects(asUser(plan, n, async () => { ran = true; }), (e: unknown) => e instanceof PrivilegeDropError && e.message === 'cannot open files as honeyport: setresuid: Operation not permitted (--user root keeps root)');
    assert.equal(ran, false);
    assert.deepEqual(n.calls, ['assume 990 985', 'resume']);
  });

  it('asUser with a plan that stays changes nothing', async () => {
    const n = fakeNative();
    assert.equal(await asUser({ kind: 'stay' }, n, async () => 7), 7);
    assert.deepEqual(n.calls, []);
  });

  it('a failing system call is a PrivilegeDropError naming the user', () => {
    assert.throws(() => drop(plan, fakeNative('setresuid: Operation not permitted'), () => []), (e: unknown) => e instanceof PrivilegeDropError && /to honeyport: setresuid: Operation not permitted/.test(e.message));
  });

  it('a thread left root after the calls succeeded is a PrivilegeDropError too', () => {
    const threads = [parseThreadStatus(process.pid, statusText({})), worker(process.pid + 1, { uid: '0\t0\t0\t0' })];
    assert.throws(() => drop(plan, fakeNative(), () => threads), (e: unknown) => e instanceof PrivilegeDropError && /uid 0 0 0 0/.test(e.message));
  });
});

/**
 * The port holder notices a port's status change between reloads (the
 * sensor then sends a state document), each fault injected for real on
 * loopback: the occupant of a port closes its listener (port freed), a new
 * process takes a free port (occupied, named), and the decoy's own listening
 * socket is destroyed from outside with `ss -K` (root; Node is not told, the
 * kernel no longer answers: the decoy stopped listening). A freed port is
 * reported, not re-taken; apply() (SIGHUP) takes it.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { PortHolder } from '../../src/ports/port-holder.js';
import type { PortStatus } from '../../src/ports/types.js';
import { closeServer, freePorts, listenOn, LOOPBACK, policyOf, tryConnect } from '../ports/helpers.js';

const ownCommand = readFileSync('/proc/self/comm', 'utf8').trim();

function statusOf(statuses: readonly PortStatus[], port: number): PortStatus {
  const found = statuses.find((s) => s.port === port);
  assert.ok(found, `no status for port ${port}`);
  return found;
}

function ssKillReason(): string | undefined {
  if (process.getuid?.() !== 0) return 'needs root (ss -K: CAP_NET_ADMIN)';
  try {
    execFileSync('ss', ['-V'], { stdio: 'pipe' });
  } catch {
    return 'ss (iproute2) not installed';
  }
  return undefined;
}

describe('port status changes between reloads', function () {
  this.timeout(20_000);
  let holder: PortHolder | undefined;

  afterEach(async () => {
    await holder?.close();
    holder = undefined;
  });

  it('an occupant that goes away leaves the port free (not re-taken); a new occupant is named; a reload takes a free port', async () => {
    const [taken, other] = (await freePorts(2)) as [number, number];
    const blocker = await listenOn({ host: '127.0.0.1', port: taken });
    const policy = policyOf([{ port: taken, protocol: 'tcp' }, { port: other, protocol: 'tcp' }]);
    holder = await PortHolder.open(policy, { addresses: LOOPBACK });
    assert.equal(statusOf(holder.statuses(), taken).state, 'occupied');
    assert.equal(await holder.check(), false, 'nothing changed yet');

    await closeServer(blocker);
    assert.equal(await holder.check(), true, 'the freed port is a change');
    const freed = statusOf(holder.statuses(), taken);
    assert.equal(freed.state, 'free');
    assert.match(freed.state === 'free' ? freed.reason : '', new RegExp(`${ownCommand} \\(pid ${process.pid}\\) stopped listening`));
    assert.equal(await tryConnect('127.0.0.1', taken), 'ECONNREFUSED', 'a free port is not re-taken behind the operator\'s back');
    assert.equal(await holder.check(), false, 'reported once');

    const newcomer = await listenOn({ host: '127.0.0.1', port: taken });
    assert.equal(await holder.check(), true, 'a free port taken by a process is a change');
    const retaken = statusOf(holder.statuses(), taken);
    assert.equal(retaken.state, 'occupied');
    assert.deepEqual(retaken.state === 'occupied' && retaken.occupant, { pid: process.pid, command: ownCommand });
    await closeServer(newcomer);
    assert.equal(await holder.check(), true);

    const after = await holder.apply(policy);
    assert.equal(statusOf(after, taken).state, 'listening', 'SIGHUP takes the free port');
    assert.equal(statusOf(after, other).state, 'listening');
  });

  it('a decoy whose listening socket is destroyed from outside (ss -K) is reported as no longer listening', async function () {
    const reason = ssKillReason();
    if (reason) {
      console.log(`      skipped: ${reason}`);
      this.skip();
    }
    const [port, other] = (await freePorts(2)) as [number, number];
    const policy = policyOf([{ port, protocol: 'tcp' }, { port: other, protocol: 'tcp' }]);
    holder = await PortHolder.open(policy, { addresses: LOOPBACK });
    assert.equal(await holder.check(), false, 'a listening decoy is no change');
    assert.equal(await tryConnect('127.0.0.1', port), 'connected');
    // Only this listener: loopback address and this test's port.
    execFileSync('ss', ['-K', '-t', 'state', 'listening', 'src', `127.0.0.1:${port}`], { stdio: 'pipe' });
    assert.equal(await tryConnect('127.0.0.1', port), 'ECONNREFUSED', 'the kernel no longer listens');
    assert.equal(await holder.check(), true);
    const s = statusOf(holder.statuses(), port);
    assert.equal(s.state, 'free');
    assert.match(s.state === 'free' ? s.reason : '', /closed from outside the sensor/);
    assert.equal(statusOf(holder.statuses(), other).state, 'listening', 'the other decoy is untouched');
    const after = await holder.apply(policy);
    assert.equal(statusOf(after, port).state, 'listening', 'a reload binds it again');
    assert.equal(await tryConnect('127.0.0.1', port), 'connected');
  });

  it('judges nothing from a /proc/net read that is incomplete (unreadable, or cut by the byte cap): a healthy decoy is never closed', async () => {
    const [port] = (await freePorts(1)) as [number];
    const policy = policyOf([{ port, protocol: 'tcp' }]);
    for (const occupantLookup of [{ procRoot: '/nonexistent-proc' }, { maxBytes: 64 }]) {
      // procfs itself (netlink is the default source and ignores these options; listening-table.test.ts cuts the dump).
      holder = await PortHolder.open(policy, { addresses: LOOPBACK, occupantLookup, listeningTable: { netlink: null } });
      assert.equal(await holder.check(), false, JSON.stringify(occupantLookup));
      assert.equal(statusOf(holder.statuses(), port).state, 'listening');
      assert.equal(await tryConnect('127.0.0.1', port), 'connected');
      await holder.close();
      holder = undefined;
    }
  });
});

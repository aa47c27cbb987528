/**
 * Where the port holder's periodic check reads the listening sockets
 * (src/ports/listening-table.ts): netlink by default, /proc/net/tcp* when
 * netlink cannot be used — said once, and the check keeps working — and
 * nothing judged from an incomplete netlink answer. Faults are injected at
 * the addon's boundary (a dump that is unavailable, throws, breaks off or is
 * cut short); the real dump is compared with procfs in
 * test/live/listening-table.test.ts.
 */
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import type { Server } from 'node:net';
import { join } from 'node:path';
import { loadNative } from '../../src/capture/native-binding.js';
import { ListeningTableReader, type NetlinkAnswer, type NetlinkListeners } from '../../src/ports/listening-table.js';
import { PortHolder } from '../../src/ports/port-holder.js';
import type { PortStatus } from '../../src/ports/types.js';
import { closeServer, freePorts, listenOn, LOOPBACK, policyOf, tryConnect } from './helpers.js';

function stateOf(statuses: readonly PortStatus[], port: number): PortStatus['state'] | undefined {
  return statuses.find((s) => s.port === port)?.state;
}

/** A dump that answers `answer` and counts its calls. */
function fakeDump(answer: (call: number) => NetlinkAnswer): NetlinkListeners & { calls: number } {
  const dump = Object.assign(
    (_family: 4 | 6, _max: number): NetlinkAnswer => answer(dump.calls++),
    { calls: 0 },
  );
  return dump;
}

describe('ports: listening sockets from netlink, with /proc as the fallback', function () {
  this.timeout(20_000);
  let holder: PortHolder | undefined;

  afterEach(async () => {
    await holder?.close();
    holder = undefined;
  });

  it('uses the native netlink dump by default (Linux, addon built)', async function () {
    const native = loadNative();
    if (!native.ok) {
      console.log(`      skipped: ${native.reason}`);
      this.skip();
    }
    const [port] = (await freePorts(1)) as [number];
    const server = await listenOn({ host: '127.0.0.1', port });
    try {
      const notes: string[] = [];
      const reader = new ListeningTableReader({ onFallback: (r) => notes.push(r) });
      assert.equal(reader.source, 'netlink');
      const table = await reader.read(port);
      assert.equal(table.complete, true);
      assert.deepEqual(table.v4.map((s) => [[...s.address], s.port, s.uid]), [[[127, 0, 0, 1], port, process.getuid?.() ?? 0]]);
      assert.deepEqual(notes, []);
    } finally {
      await closeServer(server);
    }
  });

  const unusable: [string, NetlinkListeners][] = [
    ['unavailable (no AF_NETLINK)', () => ({ status: 'unavailable', reason: 'socket(AF_NETLINK, NETLINK_SOCK_DIAG): Address family not supported by protocol' })],
    ['throwing', () => { throw new Error('listeningTcp is broken'); }],
  ];
  for (const [what, broken] of unusable) {
    it(`falls back to /proc/net/tcp* when the dump is ${what}, says so once, and the check still sees a freed port`, async () => {
      const [taken, other] = (await freePorts(2)) as [number, number];
      const blocker = await listenOn({ host: '127.0.0.1', port: taken });
      const notes: string[] = [];
      const dump = fakeDump(() => broken(4, 0));
      holder = await PortHolder.open(policyOf([{ port: taken, protocol: 'tcp' }, { port: other, protocol: 'tcp' }]), {
        addresses: LOOPBACK,
        listeningTable: { netlink: dump, onFallback: (r) => notes.push(r) },
      });
      assert.equal(stateOf(holder.statuses(), taken), 'occupied');
      assert.equal(await holder.check(), false);
      assert.equal(holder.listeningSource, 'procfs');
      await closeServer(blocker);
      assert.equal(await holder.check(), true, 'the freed port is seen through /proc');
      assert.equal(stateOf(holder.statuses(), taken), 'free');
      assert.equal(await holder.check(), false);
      assert.equal(notes.length, 1, 'said once');
      assert.match(notes[0]!, /read from \/proc\/net\/tcp\*.*not netlink: /);
      assert.equal(dump.calls, 1, 'netlink is not tried again');
    });
  }

  it('a dump that breaks off is read from /proc that once, quietly, and netlink is used again next time', async () => {
    const notes: string[] = [];
    const dump = fakeDump((call) => (call === 0 ? { status: 'failed', reason: 'recvmsg: timed out' } : { status: 'ok', complete: true, sockets: [] }));
    const reader = new ListeningTableReader({ netlink: dump, onFallback: (r) => notes.push(r) });
    const [port] = (await freePorts(1)) as [number];
    const server = await listenOn({ host: '127.0.0.1', port });
    try {
      const first = await reader.read(port);
      assert.deepEqual(first.v4.map((s) => s.port), [port], 'the failed read came from /proc');
      assert.equal(reader.source, 'netlink');
      const second = await reader.read(port);
      assert.deepEqual(second.v4, [], 'the next read is the (fake) dump again');
      assert.deepEqual(notes, []);
    } finally {
      await closeServer(server);
    }
  });

  it('judges nothing from an incomplete dump (cut at maxEntries): a healthy decoy is never closed', async () => {
    const native = loadNative();
    const [port] = (await freePorts(1)) as [number];
    const policy = policyOf([{ port, protocol: 'tcp' }]);
    const cut: NetlinkListeners = () => ({ status: 'ok', complete: false, sockets: [] });
    const sources: [string, NetlinkListeners][] = [['a fake cut dump', cut]];
    // The real dump cut at 0 entries: it stops reading and says incomplete.
    if (native.ok) sources.push(['the native dump at maxEntries 0', native.addon.listeningTcp]);
    for (const [what, netlink] of sources) {
      holder = await PortHolder.open(policy, { addresses: LOOPBACK, listeningTable: { netlink, maxEntries: 0 } });
      assert.equal(await holder.check(), false, what);
      assert.equal(stateOf(holder.statuses(), port), 'listening', what);
      assert.equal(await tryConnect('127.0.0.1', port), 'connected');
      await holder.close();
      holder = undefined;
    }
  });

  it('names a new occupant from the dump\'s inodes when /proc/net/tcp* is hidden (systemd ProcSubset=pid)', async () => {
    // A procfs without net/ (what ProcSubset=pid leaves) but with the occupant's fd table.
    const root = await mkdtemp(join(tmpdir(), 'honeyport-procsubset-'));
    let blocker: Server | undefined;
    try {
      await mkdir(join(root, '4242', 'fd'), { recursive: true });
      await writeFile(join(root, '4242', 'comm'), 'smbd\n');
      await symlink('socket:[987654]', join(root, '4242', 'fd', '7'));
      const [port] = (await freePorts(1)) as [number];
      blocker = await listenOn({ host: '127.0.0.1', port });
      let listening = true;
      const dump: NetlinkListeners = (family) => ({
        status: 'ok',
        complete: true,
        sockets: family === 4 && listening ? [{ address: new Uint8Array([127, 0, 0, 1]), port, uid: 0, inode: 987654 }] : [],
      });
      holder = await PortHolder.open(policyOf([{ port, protocol: 'tcp' }, { port: (await freePorts(1))[0]!, protocol: 'tcp' }]), {
        addresses: LOOPBACK,
        occupantLookup: { procRoot: root },
        listeningTable: { netlink: dump },
      });
      const atStart = holder.statuses().find((s) => s.port === port)!;
      assert.equal(atStart.state, 'occupied');
      assert.deepEqual(atStart.state === 'occupied' && atStart.occupant, { pid: 4242, command: 'smbd' }, 'named at bind time without /proc/net');
      await closeServer(blocker);
      blocker = undefined;
      listening = false;
      assert.equal(await holder.check(), true);
      assert.equal(stateOf(holder.statuses(), port), 'free');
      listening = true;
      assert.equal(await holder.check(), true);
      const taken = holder.statuses().find((s) => s.port === port)!;
      assert.deepEqual(taken.state === 'occupied' && taken.occupant, { pid: 4242, command: 'smbd' }, 'named at the check without /proc/net');
    } finally {
      if (blocker) await closeServer(blocker);
      await rm(root, { recursive: true, force: true });
    }
  });
});

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { PortHolder, PortHoldError } from '../../src/ports/port-holder.js';
import type { ConnectionFact, PortStatus } from '../../src/ports/types.js';
import {
  closeServer,
  connectClient,
  freePorts,
  listenOn,
  LOOPBACK,
  policyOf,
  tryConnect,
  waitFor,
} from './helpers.js';

const ownCommand = readFileSync('/proc/self/comm', 'utf8').trim();

function statusOf(statuses: readonly PortStatus[], port: number): PortStatus {
  const found = statuses.find((s) => s.port === port);
  assert.ok(found, `no status for port ${port}`);
  return found;
}

describe('PortHolder on loopback', function () {
  let holder: PortHolder | undefined;
  const facts: ConnectionFact[] = [];
  const onConnection = (fact: ConnectionFact): void => {
    facts.push(fact);
  };

  afterEach(async () => {
    await holder?.close();
    holder = undefined;
    facts.length = 0;
  });

  it('listens on each port with its own protocol', async () => {
    const [a, b] = (await freePorts(2)) as [number, number];
    holder = await PortHolder.open(policyOf([{ port: a, protocol: 'tcp' }, { port: b, protocol: 'tcp6' }]), {
      addresses: LOOPBACK,
    });
    const statuses = holder.statuses();
    assert.equal(statuses.length, 2);
    assert.deepEqual(
      statuses.map((s) => [s.port, s.protocol, s.address, s.state]),
      [
        [a, 'tcp', '127.0.0.1', 'listening'],
        [b, 'tcp6', '::1', 'listening'],
      ].sort((x, y) => (x[0] as number) - (y[0] as number)),
    );
    assert.equal(await tryConnect('127.0.0.1', a), 'connected');
    assert.equal(await tryConnect('::1', b), 'connected');
  });

  it('binds tcp to IPv4 only and tcp6 to IPv6 only on the wildcard addresses', async () => {
    const [v4, v6] = (await freePorts(2)) as [number, number];
    holder = await PortHolder.open(policyOf([{ port: v4, protocol: 'tcp' }, { port: v6, protocol: 'tcp6' }]));
    assert.deepEqual(
      holder.statuses().map((s) => [s.address, s.state]).sort(),
      [['0.0.0.0', 'listening'], ['::', 'listening']],
    );
    assert.equal(await tryConnect('127.0.0.1', v4), 'connected');
    assert.equal(await tryConnect('::1', v4), 'ECONNREFUSED');
    assert.equal(await tryConnect('::1', v6), 'connected');
    assert.equal(await tryConnect('127.0.0.1', v6), 'ECONNREFUSED');
  });

  it('reports a port held by another listener as occupied, naming this process, and holds the rest', async () => {
    const [taken, free] = (await freePorts(2)) as [number, number];
    const blocker = await listenOn({ host: '127.0.0.1', port: taken });
    try {
      holder = await PortHolder.open(
        policyOf([{ port: taken, protocol: 'tcp' }, { port: free, protocol: 'tcp' }]),
        { addresses: LOOPBACK },
      );
      const occupied = statusOf(holder.statuses(), taken);
      assert.equal(occupied.state, 'occupied');
      if (occupied.state !== 'occupied') return;
      assert.deepEqual(occupied.occupant, { pid: process.pid, command: ownCommand });
      assert.match(occupied.reason, new RegExp(`pid ${process.pid}`));
      assert.equal(ownCommand, 'node');
      assert.equal(statusOf(holder.statuses(), free).state, 'listening');
    } finally {
      await closeServer(blocker);
    }
  });

  it('finds a dual-stack IPv6 wildcard listener as the holder of an IPv4 port', async () => {
    const [taken, free] = (await freePorts(2)) as [number, number];
    const blocker = await listenOn({ host: '::', port: taken }); // no ipv6Only: takes the IPv4 port too
    try {
      holder = await PortHolder.open(
        policyOf([{ port: taken, protocol: 'tcp' }, { port: free, protocol: 'tcp6' }]),
        { addresses: LOOPBACK },
      );
      const occupied = statusOf(holder.statuses(), taken);
      assert.equal(occupied.state, 'occupied');
      if (occupied.state === 'occupied') assert.equal(occupied.occupant?.pid, process.pid);
    } finally {
      await closeServer(blocker);
    }
  });

  it('reports an address that is not on this host as failed (EADDRNOTAVAIL) and keeps the others', async () => {
    const [port] = (await freePorts(1)) as [number];
    // 192.0.2.1 (TEST-NET-1) is assigned to no interface here; binding it sends nothing.
    holder = await PortHolder.open(policyOf([{ port, protocol: 'tcp' }]), {
      addresses: { tcp: ['127.0.0.1', '192.0.2.1'] },
    });
    const [ok, bad] = holder.statuses();
    assert.equal(ok?.address, '127.0.0.1');
    assert.equal(ok?.state, 'listening');
    assert.equal(bad?.address, '192.0.2.1');
    assert.equal(bad?.state, 'failed');
    if (bad?.state === 'failed') {
      assert.equal(bad.code, 'EADDRNOTAVAIL');
      assert.match(bad.reason, /192\.0\.2\.1 is not an address of this host/);
    }
  });

  it('rejects open() with the reason for every port when none can be held', async () => {
    const [a, b] = (await freePorts(2)) as [number, number];
    const blockers = [await listenOn({ host: '127.0.0.1', port: a }), await listenOn({ host: '127.0.0.1', port: b })];
    try {
      await assert.rejects(
        PortHolder.open(policyOf([{ port: a, protocol: 'tcp' }, { port: b, protocol: 'tcp' }]), { addresses: LOOPBACK }),
        (error: unknown) => {
          assert.ok(error instanceof PortHoldError);
          assert.equal(error.statuses.length, 2);
          assert.ok(error.statuses.every((s) => s.state === 'occupied'));
          assert.match(error.message, new RegExp(`tcp port ${a} on 127\\.0\\.0\\.1: occupied, held by`));
          assert.match(error.message, new RegExp(`tcp port ${b} on 127\\.0\\.0\\.1: occupied, held by`));
          return true;
        },
      );
    } finally {
      await Promise.all(blockers.map(closeServer));
    }
  });

  it('reads what a client sends, answers nothing, and reports it closed by the peer', async () => {
    const [port] = (await freePorts(1)) as [number];
    holder = await PortHolder.open(policyOf([{ port, protocol: 'tcp' }]), { addresses: LOOPBACK, onConnection });
    const client = await connectClient('127.0.0.1', port);
    const clientPort = client.socket.localPort;
    client.socket.end(Buffer.from('GET /\\ HTTP/1.0\r\n\x00\xff', 'latin1'));
    await client.closed;
    await waitFor('the connection fact', () => facts.length === 1);
    assert.equal(client.received(), 0);
    const fact = facts[0]!;
    assert.equal(fact.closedBy, 'peer');
    assert.equal(fact.firstBytes, 'GET /\\\\ HTTP/1.0\\x0d\\x0a\\x00\\xff');
    assert.equal(fact.bytes, 19);
    assert.equal(fact.protocol, 'tcp');
    assert.equal(fact.family, 4);
    assert.equal(fact.sourceIp, '127.0.0.1');
    assert.equal(fact.sourcePort, clientPort);
    assert.equal(fact.destinationIp, '127.0.0.1');
    assert.equal(fact.destinationPort, port);
    assert.ok(fact.durationMs >= 0);
    assert.ok(Math.abs(fact.startMicros / 1000 - Date.now()) < 60_000, 'startMicros is microseconds since the epoch');
    assert.deepEqual(
      { accepted: holder.counters().accepted, bytes: holder.counters().bytes, active: holder.counters().active },
      { accepted: 1, bytes: 19, active: 0 },
    );
  });

  it('gives IPv6 facts RFC 5952 addresses', async () => {
    const [port] = (await freePorts(1)) as [number];
    holder = await PortHolder.open(policyOf([{ port, protocol: 'tcp6' }]), { addresses: LOOPBACK, onConnection });
    const client = await connectClient('::1', port);
    client.socket.end();
    await waitFor('the connection fact', () => facts.length === 1);
    assert.deepEqual(
      [facts[0]!.family, facts[0]!.sourceIp, facts[0]!.destinationIp, facts[0]!.bytes, facts[0]!.firstBytes],
      [6, '::1', '::1', 0, ''],
    );
  });

  it('closes a silent connection at the read deadline (closedBy timeout)', async () => {
    const [port] = (await freePorts(1)) as [number];
    holder = await PortHolder.open(policyOf([{ port, protocol: 'tcp' }]), {
      addresses: LOOPBACK,
      readTimeoutMs: 100,
      onConnection,
    });
    const client = await connectClient('127.0.0.1', port);
    client.socket.write('SSH-2.0-probe');
    await client.closed; // the server ended it: the client never closes
    await waitFor('the connection fact', () => facts.length === 1);
    assert.equal(client.received(), 0);
    assert.equal(facts[0]!.closedBy, 'timeout');
    assert.equal(facts[0]!.firstBytes, 'SSH-2.0-probe');
  });

  it('stops reading at maxBytes (closedBy limit) and keeps only that many bytes', async () => {
    const [port] = (await freePorts(1)) as [number];
    holder = await PortHolder.open(policyOf([{ port, protocol: 'tcp' }]), {
      addresses: LOOPBACK,
      maxBytes: 8,
      onConnection,
    });
    const client = await connectClient('127.0.0.1', port);
    client.socket.write('A'.repeat(100));
    await client.closed;
    await waitFor('the connection fact', () => facts.length === 1);
    assert.equal(client.received(), 0);
    assert.equal(facts[0]!.closedBy, 'limit');
    assert.equal(facts[0]!.firstBytes, 'AAAAAAAA');
    assert.ok(facts[0]!.bytes >= 8);
  });

  it('refuses connections beyond the per-source limit and admits another source', async () => {
    const [port] = (await freePorts(1)) as [number];
    holder = await PortHolder.open(policyOf([{ port, protocol: 'tcp' }]), {
      addresses: LOOPBACK,
      maxPerSource: 2,
      readTimeoutMs: 10_000,
      onConnection,
    });
    const clients = [];
    for (let i = 0; i < 5; i++) clients.push(await connectClient('127.0.0.1', port, '127.0.0.2'));
    const h = holder;
    await waitFor('all five seen', () => h.counters().accepted + h.counters().refusedOverLimit === 5);
    assert.equal(h.counters().accepted, 2);
    assert.equal(h.counters().refusedOverLimit, 3);
    // The refused ones were closed by the server at once; the admitted ones are still open.
    await Promise.all(clients.slice(2).map((c) => c.closed));
    assert.ok(clients.slice(0, 2).every((c) => !c.socket.destroyed));
    const other = await connectClient('127.0.0.1', port, '127.0.0.3');
    await waitFor('the other source', () => h.counters().accepted === 3);
    for (const c of [...clients, other]) c.socket.destroy();
    await waitFor('facts for the admitted ones', () => facts.length === 3);
    assert.ok(clients.every((c) => c.received() === 0));
    assert.deepEqual(facts.map((f) => f.sourceIp).sort(), ['127.0.0.2', '127.0.0.2', '127.0.0.3']);
    assert.equal(h.counters().active, 0);
  });

  it('refuses connections beyond the overall limit', async () => {
    const [port] = (await freePorts(1)) as [number];
    holder = await PortHolder.open(policyOf([{ port, protocol: 'tcp' }]), {
      addresses: LOOPBACK,
      maxConnections: 3,
      readTimeoutMs: 10_000,
    });
    const clients = [];
    for (let i = 0; i < 5; i++) clients.push(await connectClient('127.0.0.1', port, `127.0.0.${10 + i}`));
    const h = holder;
    await waitFor('all five seen', () => h.counters().accepted + h.counters().refusedOverLimit === 5);
    assert.deepEqual([h.counters().accepted, h.counters().refusedOverLimit, h.counters().active], [3, 2, 3]);
    for (const c of clients) c.socket.destroy();
    await waitFor('slots released', () => h.counters().active === 0);
  });

  it('apply() keeps unchanged listeners, opens new ports, closes removed ones', async () => {
    const [kept, removed, added] = (await freePorts(3)) as [number, number, number];
    holder = await PortHolder.open(policyOf([{ port: kept, protocol: 'tcp' }, { port: removed, protocol: 'tcp' }]), {
      addresses: LOOPBACK,
      readTimeoutMs: 10_000,
      onConnection,
    });
    const before = statusOf(holder.statuses(), kept);
    assert.equal(before.state, 'listening');
    const inFlight = await connectClient('127.0.0.1', kept);
    const h = holder;
    await waitFor('the held connection', () => h.counters().active === 1);

    const after = await holder.apply(policyOf([{ port: kept, protocol: 'tcp' }, { port: added, protocol: 'tcp6' }]));
    assert.deepEqual(after.map((s) => s.port).sort(), [added, kept].sort());
    const keptAfter = statusOf(after, kept);
    assert.equal(keptAfter.state, 'listening');
    if (keptAfter.state === 'listening' && before.state === 'listening') {
      assert.equal(keptAfter.listenerId, before.listenerId, 'the same server object stays open');
    }
    assert.equal(statusOf(after, added).state, 'listening');
    assert.equal(await tryConnect('::1', added), 'connected');
    assert.equal(await tryConnect('127.0.0.1', removed), 'ECONNREFUSED');
    // The connection on the kept port was not cut by the reload.
    assert.equal(inFlight.socket.destroyed, false);
    inFlight.socket.end();
    await waitFor('the kept connection fact', () => facts.some((f) => f.destinationPort === kept && f.closedBy === 'peer'));
  });

  it('apply() retries an occupied port once it is free', async () => {
    const [taken, other] = (await freePorts(2)) as [number, number];
    const blocker = await listenOn({ host: '127.0.0.1', port: taken });
    const policy = policyOf([{ port: taken, protocol: 'tcp' }, { port: other, protocol: 'tcp' }]);
    holder = await PortHolder.open(policy, { addresses: LOOPBACK });
    assert.equal(statusOf(holder.statuses(), taken).state, 'occupied');
    await closeServer(blocker);
    const after = await holder.apply(policy);
    assert.equal(statusOf(after, taken).state, 'listening');
  });

  it('close() releases every port, ends held connections, and is idempotent', async () => {
    const [port] = (await freePorts(1)) as [number];
    const h = await PortHolder.open(policyOf([{ port, protocol: 'tcp' }]), {
      addresses: LOOPBACK,
      readTimeoutMs: 10_000,
      onConnection,
    });
    const client = await connectClient('127.0.0.1', port);
    await waitFor('the held connection', () => h.counters().active === 1);
    await Promise.all([h.close(), h.close()]);
    await h.close();
    await client.closed;
    assert.deepEqual(facts.map((f) => f.closedBy), ['shutdown']);
    assert.deepEqual(h.statuses(), []);
    assert.equal(await tryConnect('127.0.0.1', port), 'ECONNREFUSED');
    const again = await listenOn({ host: '127.0.0.1', port });
    await closeServer(again);
    await assert.rejects(h.apply(policyOf([{ port, protocol: 'tcp' }])), /closed/);
  });

  it('refuses bind addresses of the wrong family', async () => {
    await assert.rejects(PortHolder.open(policyOf([{ port: 1, protocol: 'tcp' }]), { addresses: { tcp: ['::1'] } }), /IPv4/);
    await assert.rejects(
      PortHolder.open(policyOf([{ port: 1, protocol: 'tcp6' }]), { addresses: { tcp6: ['127.0.0.1'] } }),
      /IPv6/,
    );
  });
});

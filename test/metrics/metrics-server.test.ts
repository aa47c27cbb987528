/**
 * The metrics endpoint against hostile clients, each beside a well-behaved
 * scraper that must still be answered: a slow-loris client trickling its
 * headers, oversized headers, floods of idle connections from one source and
 * from many, a client that asks for a large answer and never reads it; plus
 * the answers to wrong methods and paths, and listen failures. Loopback only
 * (127.0.0.0/8: sources other than 127.0.0.1 are bound as local addresses).
 */
import assert from 'node:assert/strict';
import { connect, createServer, type Socket } from 'node:net';
import { request } from 'node:http';
import { MetricsListenError, openMetricsEndpoint } from '../../src/metrics/open-endpoint.js';
import { MetricsServer, type MetricsServerLimits } from '../../src/metrics/metrics-server.js';

const LIMITS: MetricsServerLimits = { maxConnections: 16, maxPerSource: 4, deadlineMs: 1000, maxHeaderBytes: 4096 };
const BODY = '# HELP honeyport_test_total t\n# TYPE honeyport_test_total counter\nhoneyport_test_total 7\n';
const exposition = (body = BODY) => ({ contentType: 'text/plain; version=0.0.4; charset=utf-8', render: async () => body });

interface Answer { status: number; headers: Record<string, string | string[] | undefined>; body: string }

function scrape(port: number, o: { method?: string; path?: string; localAddress?: string } = {}): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, method: o.method ?? 'GET', path: o.path ?? '/metrics', agent: false, timeout: 5000, ...(o.localAddress ? { localAddress: o.localAddress } : {}) }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => { body += c; });
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body }));
    });
    req.on('timeout', () => req.destroy(new Error('scrape timed out')));
    req.on('error', reject);
    req.end();
  });
}

interface Raw { socket: Socket; received: () => Buffer; closed: Promise<number> }

/** A raw TCP client; `closed` resolves with the ms from connect to close. */
function rawClient(port: number, localAddress = '127.0.0.1', read = true): Promise<Raw> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    const socket = connect({ host: '127.0.0.1', port, localAddress });
    let t0 = 0;
    const closed = new Promise<number>((done) => socket.once('close', () => done(Date.now() - t0)));
    socket.on('error', () => undefined);
    if (read) socket.on('data', (c: Buffer) => chunks.push(c));
    socket.once('connect', () => {
      t0 = Date.now();
      resolve({ socket, received: () => Buffer.concat(chunks), closed });
    });
    socket.once('error', reject);
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until(what: string, ok: () => boolean, ms = 3000): Promise<void> {
  const end = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(10);
  }
}

describe('metrics endpoint: answers', () => {
  let server: MetricsServer;
  before(async () => {
    server = await MetricsServer.open({ host: '127.0.0.1', port: 0 }, LIMITS);
  });
  after(() => server.close());

  it('answers 503 until it is given something to serve, then GET and HEAD /metrics with the exposition, and closes', async () => {
    const early = await scrape(server.port);
    assert.equal(early.status, 503);
    server.serve(exposition());
    const a = await scrape(server.port);
    assert.equal(a.status, 200);
    assert.equal(a.body, BODY);
    assert.equal(a.headers['content-type'], 'text/plain; version=0.0.4; charset=utf-8');
    assert.equal(a.headers.connection, 'close');
    const q = await scrape(server.port, { path: '/metrics?name[]=x' });
    assert.equal(q.status, 200, 'a query string is allowed');
    const h = await scrape(server.port, { method: 'HEAD' });
    assert.equal(h.status, 200);
    assert.equal(h.body, '');
    assert.equal(Number(h.headers['content-length']), Buffer.byteLength(BODY));
  });

  it('answers 405 to other methods and 404 to other paths', async () => {
    server.serve(exposition());
    for (const method of ['POST', 'PUT', 'DELETE', 'OPTIONS', 'TRACE', 'PATCH']) {
      const a = await scrape(server.port, { method });
      assert.equal(a.status, 405, method);
      assert.equal(a.headers.allow, 'GET, HEAD');
    }
    for (const path of ['/', '/metrics/', '/metricsx', '/../metrics', '/METRICS', '*']) {
      assert.equal((await scrape(server.port, { path })).status, 404, path);
    }
  });

  it('answers 500, not a crash, when rendering fails', async () => {
    server.serve({ contentType: 'text/plain', render: async () => { throw new Error('boom'); } });
    assert.equal((await scrape(server.port)).status, 500);
    server.serve(exposition());
    assert.equal((await scrape(server.port)).status, 200);
  });
});

describe('metrics endpoint: hostile clients', function () {
  this.timeout(20_000);
  let server: MetricsServer;
  beforeEach(async () => {
    server = await MetricsServer.open({ host: '127.0.0.1', port: 0 }, LIMITS);
    server.serve(exposition());
  });
  afterEach(() => server.close());

  it('cuts off a slow-loris client at the deadline, and answers other scrapes meanwhile', async () => {
    const loris = await rawClient(server.port, '127.0.0.2');
    loris.socket.write('GET /metrics HTTP/1.1\r\nHost: x\r\n');
    let trickling = true;
    const trickle = (async () => {
      for (let i = 0; trickling && i < 100; i++) {
        if (!loris.socket.destroyed) loris.socket.write('X');
        await sleep(50);
      }
    })();
    await sleep(200);
    const a = await scrape(server.port);
    assert.equal(a.status, 200, 'a scrape is answered while the slow client trickles');
    const lived = await loris.closed;
    trickling = false;
    await trickle;
    assert.ok(lived >= LIMITS.deadlineMs - 50 && lived < LIMITS.deadlineMs + 5000, `closed by the deadline (after ${lived} ms)`);
    assert.equal(loris.received().length, 0, 'never answered');
    assert.equal(server.counters.timedOut, 1);
  });

  it('refuses oversized headers with 431 and a close', async () => {
    const c = await rawClient(server.port);
    c.socket.write(`GET /metrics HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(LIMITS.maxHeaderBytes * 3)}\r\n\r\n`);
    const lived = await c.closed;
    assert.match(c.received().toString('latin1'), /^HTTP\/1\.1 431 /);
    assert.ok(lived < LIMITS.deadlineMs, 'closed at once, not by the deadline');
    const long = await rawClient(server.port);
    long.socket.write(`GET /metrics?${'q'.repeat(LIMITS.maxHeaderBytes * 3)} HTTP/1.1\r\nHost: x\r\n\r\n`);
    await long.closed;
    assert.match(long.received().toString('latin1'), /^HTTP\/1\.1 431 /, 'an oversized request line too');
    assert.equal((await scrape(server.port)).status, 200);
  });

  it('answers a request with an endless body and closes, without reading the body', async () => {
    for (const method of ['GET', 'POST']) {
      const c = await rawClient(server.port);
      c.socket.write(`${method} /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 1000000000\r\n\r\n`);
      const chunk = Buffer.alloc(64 * 1024, 0x61);
      let sent = 0;
      const pump = setInterval(() => {
        if (!c.socket.destroyed && c.socket.writableLength < 1 << 20) {
          c.socket.write(chunk);
          sent += chunk.length;
        }
      }, 1);
      const lived = await c.closed;
      clearInterval(pump);
      assert.match(c.received().toString('latin1'), method === 'GET' ? /^HTTP\/1\.1 200 / : /^HTTP\/1\.1 405 /, method);
      assert.equal(server.counters.timedOut, 0, `${method}: closed after the answer, not by the deadline (${lived} ms, ${sent} body bytes sent)`);
    }
    assert.equal(server.counters.open, 0);
  });

  it('bounds the connections of one source, and answers other sources meanwhile', async () => {
    const flood = await Promise.all(Array.from({ length: 100 }, () => rawClient(server.port, '127.0.0.3')));
    await until('the extra connections to be refused', () => server.counters.refused >= 100 - LIMITS.maxPerSource);
    assert.equal(server.counters.open, LIMITS.maxPerSource);
    const a = await scrape(server.port);
    assert.equal(a.status, 200);
    for (const c of flood) c.socket.destroy();
  });

  it('answers a scraper when idle connections from many sources fill every slot (the oldest idle one makes room)', async () => {
    const flood: Raw[] = [];
    for (let s = 10; s < 30; s++) {
      for (let i = 0; i < LIMITS.maxPerSource; i++) flood.push(await rawClient(server.port, `127.0.0.${s}`));
    }
    await until('the slots to fill', () => server.counters.open === LIMITS.maxConnections);
    assert.ok(server.counters.evicted >= flood.length - LIMITS.maxConnections);
    for (let i = 0; i < 5; i++) assert.equal((await scrape(server.port)).status, 200, `scrape ${i}`);
    assert.ok(server.counters.open <= LIMITS.maxConnections);
    for (const c of flood) c.socket.destroy();
  });

  it('closes a client that never reads a large answer at the deadline, and answers others meanwhile', async () => {
    const big = '# x\n'.repeat(8 * 2 ** 20); // 32 MiB: more than the loopback socket buffers hold
    server.serve(exposition(big));
    const t0 = Date.now();
    const c = await rawClient(server.port, '127.0.0.4');
    c.socket.pause(); // reads nothing: the answer backs up into the server
    c.socket.write('GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n');
    await until('the answer to start', () => server.counters.open === 1 && Date.now() - t0 > 300);
    server.serve(exposition());
    assert.equal((await scrape(server.port)).status, 200, 'answered while the large answer is stuck');
    await until('the deadline to close it', () => server.counters.timedOut === 1, LIMITS.deadlineMs + 5000);
    const lived = Date.now() - t0;
    assert.ok(lived >= LIMITS.deadlineMs - 50, `closed by the deadline (after ${lived} ms), not before`);
    assert.equal(server.counters.open, 0);
    // The client, reading at last, finds the answer cut short by the close.
    c.socket.resume();
    await c.closed;
    assert.ok(c.received().length < big.length, `cut short: ${c.received().length} bytes`);
  });
});

describe('metrics endpoint: listening', () => {
  it('a metrics address in use is one line naming it, and nothing is left listening', async () => {
    const squatter = createServer();
    await new Promise<void>((r) => squatter.listen({ host: '127.0.0.1', port: 0 }, () => r()));
    const port = (squatter.address() as { port: number }).port;
    try {
      await assert.rejects(
        openMetricsEndpoint({ host: '127.0.0.1', family: 4, port }, { ports: [] }),
        (e: Error) => e instanceof MetricsListenError && e.message === `--metrics-listen 127.0.0.1:${port}: the address is in use (EADDRINUSE)`,
      );
    } finally {
      await new Promise((r) => squatter.close(r));
    }
  });

  it('listens on an IPv6 address', async () => {
    const v6 = await MetricsServer.open({ host: '::1', port: 0 }, LIMITS);
    try {
      v6.serve(exposition());
      const body = await new Promise<string>((resolve, reject) => {
        request({ host: '::1', port: v6.port, path: '/metrics', agent: false, timeout: 5000 }, (res) => {
          let b = '';
          res.on('data', (c: Buffer) => { b += c.toString(); });
          res.on('end', () => resolve(b));
        }).on('error', reject).end();
      });
      assert.equal(body, BODY);
    } finally {
      await v6.close();
    }
  });

  it('an address this host does not have is refused', async () => {
    await assert.rejects(openMetricsEndpoint({ host: '198.18.255.254', family: 4, port: 9417 }, { ports: [] }), /198\.18\.255\.254:9417: no interface of this host has that address \(EADDRNOTAVAIL\)/);
  });

  it('a metrics port that is a decoy port of the policy is refused before anything listens', async () => {
    await assert.rejects(
      openMetricsEndpoint({ host: '::1', family: 6, port: 445 }, { ports: [{ port: 445, protocol: 'tcp' }] }),
      /^MetricsListenError: --metrics-listen \[::1\]:445: port 445 is a decoy port of the policy; choose another$/,
    );
  });
});

/**
 * The host lock against a second sensor, a squatter on its name, and hostile
 * clients of the holder. Each test uses a random abstract name, so it runs
 * beside a real sensor.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readdirSync } from 'node:fs';
import { createConnection, createServer, type Server } from 'node:net';
import { abstractInodes } from '../../src/sensor/abstract-holder.js';
import { HostLock, HostLockError } from '../../src/sensor/host-lock.js';

const fds = (): number => readdirSync('/proc/self/fd').length;
const lockName = (): string => `\0honeyport-test-${randomBytes(6).toString('hex')}`;

function squat(name: string, onConn: (c: import('node:net').Socket) => void): Promise<Server> {
  const s = createServer(onConn);
  return new Promise((resolve, reject) => { s.once('error', reject); s.listen(name, () => resolve(s)); });
}

describe('host lock (abstract Unix socket)', function () {
  this.timeout(20_000);

  it('refuses a second holder, naming the first one\'s pid, and is free again once released', async () => {
    const name = lockName();
    const lock = await HostLock.acquire(name);
    await assert.rejects(HostLock.acquire(name), (e: Error) => e instanceof HostLockError
      && e.message === `another honeyport sensor is running in this network namespace (pid ${process.pid})`);
    await lock.release();
    await (await HostLock.acquire(name)).release();
  });

  it('names a squatter that does not answer, or answers something else, and still refuses', async () => {
    const name = lockName();
    // As root the kernel's view names the squatter (this process); otherwise only its answer.
    const who = `(pid ${process.pid} \\(node, uid \\d+\\), which is|a process that is)`;
    const silent = await squat(name, (c) => { c.on('error', () => undefined); });
    try {
      const t0 = Date.now();
      await assert.rejects(HostLock.acquire(name), new RegExp(`held by ${who} not a honeyport sensor \\(no answer\\); find it with: ss -xlp \\| grep @honeyport-test-`));
      assert.ok(Date.now() - t0 < 5000, 'the question is bounded in time');
    } finally {
      await new Promise((r) => silent.close(r));
    }
    const liar = await squat(name, (c) => { c.on('error', () => undefined); c.end('x'.repeat(100_000)); });
    try {
      await assert.rejects(HostLock.acquire(name), new RegExp(`held by ${who} not a honeyport sensor \\(answered "x{32}"\\)`));
    } finally {
      await new Promise((r) => liar.close(r));
    }
  });

  it('as root, sees through a squatter that answers like a sensor with another pid', async function () {
    if (process.getuid?.() !== 0) {
      console.log('      skipped: needs root to read which process holds the name');
      this.skip();
    }
    const name = lockName();
    const impostor = await squat(name, (c) => { c.on('error', () => undefined); c.end('honeyport 1\n'); });
    try {
      await assert.rejects(HostLock.acquire(name), new RegExp(`held by pid ${process.pid} \\(node, uid 0\\), which is not a honeyport sensor \\(it claims to be honeyport pid 1\\)`));
    } finally {
      await new Promise((r) => impostor.close(r));
    }
  });

  it('answers and closes 500 clients that send a byte and half-close: no descriptor is kept', async () => {
    const name = lockName();
    const lock = await HostLock.acquire(name);
    const before = fds();
    const answers = await Promise.all(Array.from({ length: 500 }, () => new Promise<string>((resolve) => {
      const c = createConnection(name);
      let text = '';
      c.on('data', (d: Buffer) => (text += d.toString()));
      c.on('error', () => undefined);
      c.once('connect', () => c.end('x'));
      c.once('close', () => resolve(text));
    })));
    // 16 are served at once; the rest are closed unanswered — never left open.
    assert.ok(answers.filter((a) => a === `honeyport ${process.pid}\n`).length >= 16);
    assert.ok(answers.every((a) => a === '' || a === `honeyport ${process.pid}\n`));
    // Well before the 1 s deadline: they are closed because they ended, not because time ran out.
    for (let i = 0; i < 25 && fds() > before; i++) await new Promise((r) => setTimeout(r, 20));
    assert.ok(fds() <= before, `${before} descriptors before, ${fds()} after`);
    await lock.release();
  });

  it('drops a client that never reads or closes at the deadline, and release() does not wait for another', async () => {
    const name = lockName();
    const lock = await HostLock.acquire(name);
    const connectSilent = async (): Promise<import('node:net').Socket> => {
      const s = createConnection(name);
      s.on('error', () => undefined);
      s.pause();
      await new Promise((r) => s.once('connect', r));
      return s;
    };
    // A paused client cannot see the close: count the holder's end of it instead.
    const before = fds();
    const dropped = await connectSilent();
    assert.equal(fds(), before + 2);
    for (let i = 0; i < 150 && fds() > before + 1; i++) await new Promise((r) => setTimeout(r, 20));
    assert.equal(fds(), before + 1, 'the holder closed its end at the 1 s deadline');
    dropped.destroy();
    const c = await connectSilent();
    const t0 = Date.now();
    await lock.release();
    assert.ok(Date.now() - t0 < 500, `release took ${Date.now() - t0} ms`);
    c.destroy();
  });

  it('finds the name in /proc/net/unix also when bound NUL-padded (as Node binds it), and no prefix of another name', () => {
    const text = [
      'Num       RefCount Protocol Flags    Type St Inode Path',
      '00000000: 00000002 00000000 00010000 0001 01 111 @honeyport-sensor@@@@@@@@',
      '00000000: 00000002 00000000 00010000 0001 01 222 @honeyport-sensor',
      '00000000: 00000002 00000000 00010000 0001 01 333 @honeyport-sensor-2',
      '00000000: 00000003 00000000 00000000 0001 03 444',
    ].join('\n');
    assert.deepEqual([...abstractInodes(text, 'honeyport-sensor')], ['111', '222']);
  });
});

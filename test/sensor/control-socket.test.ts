/**
 * The status socket and the status client against hostile surroundings: a
 * state directory someone else owns or may write to, a symbolic link in
 * its place, a process umask that would leave the socket open to all, and a
 * "sensor" that answers with endless or terminal-driving bytes.
 */
import assert from 'node:assert/strict';
import { chmodSync, chownSync, lstatSync, mkdirSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { spawn } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ControlSocket, escapeControls, queryStatus, socketPath, StateDirError } from '../../src/sensor/control-socket.js';

const isRoot = process.getuid?.() === 0;

function fakeSensor(path: string, onConn: (c: import('node:net').Socket) => void): Promise<Server> {
  const s = createServer((c) => { c.on('error', () => undefined); onConn(c); });
  return new Promise((resolve, reject) => { s.once('error', reject); s.listen(path, () => resolve(s)); });
}

describe('status socket: state directory trust and bounded clients', function () {
  this.timeout(20_000);
  let dir = '';
  beforeEach(() => { dir = mkdtempSync(join(tmpdir(), 'hp-ctl-')); });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('creates a missing state directory 0750 and the socket 0600 even under umask 0', async () => {
    const state = join(dir, 'a', 'state');
    const previous = process.umask(0);
    let ctl: ControlSocket;
    try {
      ctl = await ControlSocket.open(state, () => ({ ok: true }));
    } finally {
      process.umask(previous);
    }
    assert.equal(lstatSync(state).mode & 0o777, 0o750);
    assert.equal(lstatSync(socketPath(state)).mode & 0o777, 0o600);
    const now = process.umask(previous); // the call that reads it also sets it: set it back
    assert.equal(now, previous, 'the umask is restored');
    assert.match(await queryStatus(state), /"ok": true/);
    await ctl.close();
  });

  it('refuses a state directory writable by others, or by its group', async () => {
    for (const mode of [0o777, 0o1777, 0o770]) {
      const state = join(dir, `m${mode.toString(8)}`);
      mkdirSync(state);
      chmodSync(state, mode);
      await assert.rejects(ControlSocket.open(state, () => ({})), (e: Error) => e instanceof StateDirError && /is writable by (others|its group) \(mode \d{4}\); chmod go-w it$/.test(e.message));
    }
  });

  it('refuses a symbolic link in place of the state directory', async () => {
    const real = join(dir, 'real');
    mkdirSync(real, { mode: 0o750 });
    symlinkSync(real, join(dir, 'link'));
    await assert.rejects(ControlSocket.open(join(dir, 'link'), () => ({})), /is a symbolic link/);
  });

  it('refuses a state directory owned by another user (the nobody-owned directory of the issue)', async function () {
    if (!isRoot) {
      console.log('      skipped: needs root to give a directory to another user');
      this.skip();
    }
    const state = join(dir, 'nobody');
    mkdirSync(state, { mode: 0o700 });
    chownSync(state, 65534, 65534);
    await assert.rejects(ControlSocket.open(state, () => ({})), /is owned by uid 65534, not by the sensor's user \(uid 0\)/);
  });

  it('close() does not wait for a client that never reads or closes', async () => {
    const ctl = await ControlSocket.open(join(dir, 's'), () => ({ big: 'x'.repeat(300_000) }));
    const { createConnection } = await import('node:net');
    const c = createConnection(ctl.path);
    c.on('error', () => undefined);
    c.pause();
    await new Promise((r) => c.once('connect', r));
    await new Promise((r) => setTimeout(r, 100));
    const t0 = Date.now();
    await ctl.close();
    assert.ok(Date.now() - t0 < 500, `close took ${Date.now() - t0} ms`);
    c.destroy();
  });
});

describe('honeyport status client: a hostile answer', function () {
  this.timeout(20_000);
  let dir = '';
  beforeEach(() => { dir = mkdtempSync(join(tmpdir(), 'hp-ctlc-')); });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('stops reading an endless answer at the size bound', async () => {
    const chunk = Buffer.alloc(64 * 1024, 0x41);
    const srv = await fakeSensor(socketPath(dir), (c) => {
      const pump = (): void => { while (!c.destroyed && c.write(chunk)); if (!c.destroyed) c.once('drain', pump); };
      pump();
    });
    await assert.rejects(queryStatus(dir, 5000, 1 << 20), /answer larger than 1048576 bytes/);
    await new Promise((r) => srv.close(r));
  });

  it('gives up on a server that never finishes within the deadline', async () => {
    const srv = await fakeSensor(socketPath(dir), (c) => c.write('{"partial":'));
    const t0 = Date.now();
    await assert.rejects(queryStatus(dir, 300), /no complete answer within 300 ms/);
    assert.ok(Date.now() - t0 < 2000);
    await new Promise((r) => srv.close(r));
  });

  it('escapes control characters (an ESC sequence, BEL, C1) and keeps newlines and tabs', async () => {
    const srv = await fakeSensor(socketPath(dir), (c) => c.end('{"a":"\u001b]0;pwned\u0007\u009b2J"}\n\t'));
    const text = await queryStatus(dir);
    assert.equal(text, '{"a":"\\u001b]0;pwned\\u0007\\u009b2J"}\n\t');
    assert.equal(escapeControls('\r\u007f'), '\\u000d\\u007f');
    await new Promise((r) => srv.close(r));
  });

  it('`honeyport status` prints such an answer escaped and exits 0; an endless one is one line, exit 1', async () => {
    const cli = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));
    const status = (): Promise<{ code: number | null; stdout: string; stderr: string }> => new Promise((resolve) => {
      const c = spawn(process.execPath, [cli, 'status', '--state-dir', dir]);
      let stdout = '';
      let stderr = '';
      c.stdout.on('data', (d: Buffer) => (stdout += d.toString('latin1')));
      c.stderr.on('data', (d: Buffer) => (stderr += d.toString('latin1')));
      c.on('close', (code) => resolve({ code, stdout, stderr }));
    });
    let srv = await fakeSensor(socketPath(dir), (c) => c.end('{"a":"\u001b[2J\u0007"}\n'));
    const ok = await status();
    await new Promise((r) => srv.close(r));
    assert.equal(ok.code, 0, ok.stderr);
    assert.equal(ok.stdout, '{"a":"\\u001b[2J\\u0007"}\n');
    const chunk = Buffer.alloc(64 * 1024, 0x41);
    srv = await fakeSensor(socketPath(dir), (c) => {
      const pump = (): void => { while (!c.destroyed && c.write(chunk)); if (!c.destroyed) c.once('drain', pump); };
      pump();
    });
    const big = await status();
    await new Promise((r) => srv.close(r));
    assert.equal(big.code, 1);
    assert.equal(big.stdout, '');
    assert.match(big.stderr, /^honeyport: .*honeyport\.sock: answer larger than 1048576 bytes: not a honeyport status\n$/);
  });
});

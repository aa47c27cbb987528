import assert from 'node:assert/strict';
import { mkdtemp, mkdir, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describeBindError } from '../../src/ports/bind-error.js';
import { ConnectionLimiter } from '../../src/ports/connection-limits.js';
import { escapeBytes } from '../../src/ports/escape-bytes.js';
import { findOccupant } from '../../src/ports/occupant.js';
import { decodeHexAddress, parseListeningLine, readListeningSockets } from '../../src/ports/proc-net.js';

const errno = (code: string): Error => Object.assign(new Error(`listen ${code}`), { code });

describe('ports: escapeBytes', () => {
  it('keeps printable ASCII, doubles the backslash, hex-escapes the rest', () => {
    const bytes = Buffer.from('a \\~\x7f\x00\r\n\xff"', 'latin1');
    assert.equal(escapeBytes(bytes), 'a \\\\~\\x7f\\x00\\x0d\\x0a\\xff"');
  });
  it('stops at the given length', () => {
    assert.equal(escapeBytes(Buffer.from('abcdef'), 3), 'abc');
    assert.equal(escapeBytes(Buffer.from('ab'), 10), 'ab');
  });
});

describe('ports: describeBindError', () => {
  it('names CAP_NET_BIND_SERVICE for EACCES below 1024 only', () => {
    const low = describeBindError(errno('EACCES'), 445, 'tcp', '0.0.0.0');
    assert.equal(low.code, 'EACCES');
    assert.match(low.reason, /no CAP_NET_BIND_SERVICE/);
    assert.match(low.reason, /tcp port 445 on 0\.0\.0\.0/);
    const high = describeBindError(errno('EACCES'), 8445, 'tcp', '0.0.0.0');
    assert.doesNotMatch(high.reason, /no CAP_NET_BIND_SERVICE/);
    assert.match(high.reason, /ip_unprivileged_port_start/);
  });
  it('tells to raise LimitNOFILE for EMFILE and ENFILE', () => {
    for (const code of ['EMFILE', 'ENFILE']) {
      const f = describeBindError(errno(code), 3389, 'tcp6', '::');
      assert.equal(f.code, code);
      assert.match(f.reason, /too many open files.*raise LimitNOFILE/);
    }
  });
  it('explains EADDRNOTAVAIL and EAFNOSUPPORT, and passes anything else through', () => {
    assert.match(describeBindError(errno('EADDRNOTAVAIL'), 22, 'tcp', '10.9.9.9').reason, /10\.9\.9\.9 is not an address of this host/);
    assert.match(describeBindError(errno('EAFNOSUPPORT'), 22, 'tcp6', '::').reason, /IPv6 is not available/);
    const other = describeBindError(errno('EWHATEVER'), 22, 'tcp', '0.0.0.0');
    assert.equal(other.code, 'EWHATEVER');
    assert.match(other.reason, /listen EWHATEVER/);
    assert.equal(describeBindError('boom', 22, 'tcp', '0.0.0.0').code, 'UNKNOWN');
  });
});

describe('ports: /proc/net/tcp parsing', () => {
  const header = '  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode';
  const v4Listen = '   0: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000  1000        0 4242 1 0000000000000000 100 0 0 10 0';
  const v4Established = '   1: 0100007F:1F90 0100007F:D431 01 00000000:00000000 00:00000000 00000000     0        0 4343 1 0000000000000000 20 4 30 10 -1';
  const v6Listen = '   0: 00000000000000000000000001000000:1F90 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 777 1 0000000000000000 100 0 0 10 0';

  it('decodes little-endian words into network order', () => {
    assert.deepEqual([...decodeHexAddress('0100007F', true)!], [127, 0, 0, 1]);
    assert.deepEqual([...decodeHexAddress('7F000001', false)!], [127, 0, 0, 1]);
    const mapped = decodeHexAddress('0000000000000000FFFF00000100007F', true)!;
    assert.deepEqual([...mapped.subarray(8)], [0, 0, 0xff, 0xff, 127, 0, 0, 1]);
    assert.equal(decodeHexAddress('XYZ', true), undefined);
  });

  it('keeps listening sockets on the asked port only', () => {
    assert.equal(parseListeningLine(header, 8080, true), undefined);
    assert.equal(parseListeningLine(v4Established, 8080, true), undefined);
    assert.equal(parseListeningLine(v4Listen, 8081, true), undefined);
    const s = parseListeningLine(v4Listen, 8080, true)!;
    assert.deepEqual([[...s.address], s.port, s.uid, s.inode], [[127, 0, 0, 1], 8080, 1000, 4242]);
    const s6 = parseListeningLine(v6Listen, 8080, true)!;
    assert.equal(s6.address[15], 1); // ::1
    assert.equal(s6.inode, 777);
  });

  it('reads a file in bounded chunks', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'honeyport-procnet-'));
    try {
      const filler = Array.from({ length: 3000 }, () => v4Established).join('\n');
      await writeFile(join(dir, 'tcp'), `${header}\n${filler}\n${v4Listen}\n`);
      assert.deepEqual((await readListeningSockets(join(dir, 'tcp'), 8080, { littleEndian: true })).map((s) => s.inode), [4242]);
      // Capped before the listening line: not found, and no error.
      assert.deepEqual(await readListeningSockets(join(dir, 'tcp'), 8080, { littleEndian: true, maxBytes: 1024 }), []);
      assert.deepEqual(await readListeningSockets(join(dir, 'missing'), 8080), []);
    } finally {
      await rm(dir, { recursive: true });
    }
  });
});

describe('ports: findOccupant over a fake procfs', () => {
  let root = '';
  const line = (hexAddr: string, port: number, inode: number): string =>
    `   0: ${hexAddr}:${port.toString(16).toUpperCase().padStart(4, '0')} ${'0'.repeat(hexAddr.length)}:0000 0A 00000000:00000000 00:00000000 00000000     0        0 ${inode} 1 0 100 0 0 10 0`;

  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'honeyport-proc-'));
    await mkdir(join(root, 'net'));
    await writeFile(join(root, 'net', 'tcp'), `header\n${line('0100007F', 2000, 11)}\n`);
    // A dual-stack :: listener on 3000 and a v6 one on ::1 port 4000.
    await writeFile(
      join(root, 'net', 'tcp6'),
      `header\n${line('0'.repeat(32), 3000, 22)}\n${line('00000000000000000000000001000000', 4000, 33)}\n`,
    );
    for (const [pid, comm, links] of [
      [10, 'sshd', ['/dev/null', 'socket:[99]']],
      [20, 'smbd', ['socket:[11]']],
      [30, 'redis-server', ['pipe:[5]', 'socket:[22]', 'socket:[33]']],
    ] as const) {
      await mkdir(join(root, String(pid), 'fd'), { recursive: true });
      await writeFile(join(root, String(pid), 'comm'), `${comm}\n`);
      for (const [fd, target] of links.entries()) await symlink(target, join(root, String(pid), 'fd', String(fd)));
    }
    await mkdir(join(root, 'self'));
  });
  after(async () => {
    await rm(root, { recursive: true });
  });

  const opts = (): { procRoot: string; littleEndian: boolean } => ({ procRoot: root, littleEndian: true });

  it('finds the process holding an IPv4 listener', async () => {
    const r = await findOccupant(2000, 'tcp', '0.0.0.0', opts());
    assert.deepEqual(r, { found: true, occupant: { pid: 20, command: 'smbd' }, reason: 'held by smbd (pid 20)' });
  });
  it('does not blame a listener on another IPv4 address', async () => {
    const r = await findOccupant(2000, 'tcp', '127.0.0.2', opts());
    assert.equal(r.found, false);
    assert.match(r.reason, /no listening socket on port 2000/);
  });
  it('blames an IPv6 wildcard listener for an IPv4 port (dual stack)', async () => {
    const r = await findOccupant(3000, 'tcp', '127.0.0.1', opts());
    assert.equal(r.found && r.occupant.command, 'redis-server');
  });
  it('matches IPv6 listeners for tcp6 and never IPv4 ones', async () => {
    assert.equal((await findOccupant(4000, 'tcp6', '::', opts())).found, true);
    assert.equal((await findOccupant(4000, 'tcp6', '::2', opts())).found, false);
    assert.equal((await findOccupant(2000, 'tcp6', '::', opts())).found, false);
  });
  it('says so when the scan stops at its bound', async () => {
    const r = await findOccupant(3000, 'tcp', '0.0.0.0', { ...opts(), maxFdLinks: 2 });
    assert.equal(r.found, false);
    assert.match(r.reason, /scan stopped at its bound/);
  });
});

describe('ports: ConnectionLimiter', () => {
  it('caps per source and overall, and gives slots back', () => {
    const l = new ConnectionLimiter({ maxConnections: 3, maxPerSource: 2 });
    assert.deepEqual([l.tryAdmit('a'), l.tryAdmit('a'), l.tryAdmit('a')], [true, true, false]);
    assert.deepEqual([l.tryAdmit('b'), l.tryAdmit('c')], [true, false]);
    assert.equal(l.active, 3);
    l.release('a');
    assert.equal(l.tryAdmit('c'), true);
    l.release('zzz'); // unknown source: no effect
    assert.equal(l.active, 3);
  });
  it('rejects limits that are not positive integers', () => {
    assert.throws(() => new ConnectionLimiter({ maxConnections: 0, maxPerSource: 1 }), /maxConnections/);
    assert.throws(() => new ConnectionLimiter({ maxConnections: 1, maxPerSource: 1.5 }), /maxPerSource/);
  });
});

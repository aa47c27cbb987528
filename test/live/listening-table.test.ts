/**
 * Differential test of the two sources of the port holder's listening
 * sockets (src/ports/listening-table.ts): the NETLINK_SOCK_DIAG dump must
 * answer exactly what /proc/net/tcp and tcp6 list, socket for socket
 * (address, port, uid, inode), over every kind of listener: IPv4 wildcard
 * and specific, IPv6 wildcard dual-stack and v6-only, IPv6 specific, an
 * IPv4-mapped IPv6 address, SO_REUSEPORT pairs, sockets of another user,
 * and ~2,000 of them so the dump spans many netlink datagrams; bound but not
 * listening sockets and connected ones must appear in neither. The answer is
 * read as root and after a drop to an unprivileged user without
 * capabilities (what the sensor is after its privilege drop).
 *
 * Live: creates a network namespace (root) so no other process's sockets
 * change under the comparison; run under /tmp/honeyport-live.lock.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';

const CHILD = fileURLToPath(new URL('./listening-table-child.js', import.meta.url));
const NOBODY = 65534;
const BASE_PORT = 20000;
/** Listeners the fixture opens as root, plus OTHER_USER ones as nobody. */
const ROOT_LISTENERS = 2000;
const OTHER_USER = 50;

/**
 * Opens the listeners and prints their (family, address, port, uid) one per
 * line, then "ready"; holds them until stdin closes. Python: Node 20 has no
 * SO_REUSEPORT and cannot change user for part of its sockets.
 */
const FIXTURE = `
import os, socket, sys
A4, A6 = socket.AF_INET, socket.AF_INET6
kinds = [
  (A4, '0.0.0.0', None), (A4, '127.0.0.1', None), (A4, '198.18.7.1', None),
  (A6, '::', False), (A6, '::', True), (A6, '::1', None), (A6, 'fd00:7::1', None),
  (A6, '::ffff:127.0.0.1', False),
]
held = []
by_port = {}
def listen(family, address, v6only, port, reuse=False):
  s = socket.socket(family, socket.SOCK_STREAM)
  if reuse: s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
  if v6only is not None: s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1 if v6only else 0)
  s.bind((address, port)); s.listen(4); held.append(s); by_port[port] = s
  print(4 if family == A4 else 6, address, port, os.geteuid(), flush=True)
total, base = int(sys.argv[1]), int(sys.argv[2])
for i in range(total):
  family, address, v6only = kinds[i % len(kinds)]
  reuse = i % 50 == 0
  listen(family, address, v6only, base + i, reuse)
  if reuse: listen(family, address, v6only, base + i, True)
# Neither listening nor in the answer: a bound socket, and both ends of a connection.
bound = socket.socket(A4, socket.SOCK_STREAM); bound.bind(('127.0.0.1', base + total))
client = socket.create_connection(('127.0.0.1', base + 1)); server = by_port[base + 1].accept()[0]
r, w = os.pipe()
if os.fork() == 0:
  os.close(r); os.setgroups([]); os.setresgid(${NOBODY}, ${NOBODY}, ${NOBODY}); os.setresuid(${NOBODY}, ${NOBODY}, ${NOBODY})
  for i in range(int(sys.argv[3])): listen(*kinds[i % len(kinds)], base + total + 1 + i)
  os.write(w, b'x'); os.close(w); sys.stdin.read(); os._exit(0)
os.close(w); os.read(r, 1)
print('ready', flush=True); sys.stdin.read()
`;

interface SourceView {
  readonly complete: boolean;
  readonly v4: string[];
  readonly v6: string[];
}
interface ChildAnswer {
  readonly source: string;
  readonly fallbacks: string[];
  readonly uid: number;
  readonly gid: number;
  readonly capEff: string | undefined;
  readonly netlink: SourceView;
  readonly procfs: SourceView;
}

function skipReason(): string | undefined {
  if (process.platform !== 'linux') return 'Linux only';
  if (process.getuid?.() !== 0) return 'needs root (a network namespace)';
  for (const tool of ['ip', 'python3', 'setpriv']) {
    if (spawnSync('/bin/sh', ['-c', `command -v ${tool}`], { stdio: 'ignore' }).status !== 0) return `${tool} not installed`;
  }
  return undefined;
}

function addressHex(family: string, address: string): string {
  const code = `import socket,sys; print(socket.inet_pton(socket.AF_INET${family === '6' ? '6' : ''}, sys.argv[1]).hex())`;
  return execFileSync('python3', ['-c', code, address]).toString().trim();
}

describe('listening sockets: netlink sock_diag against /proc/net/tcp* (live)', function () {
  this.timeout(60_000);
  const ns = `hp-lt-${randomBytes(3).toString('hex')}`;
  let fixture: ChildProcess | undefined;
  /** `family hex-address port uid` of every listener the fixture opened. */
  const opened: string[] = [];

  before(async function () {
    const reason = skipReason();
    if (reason) {
      console.log(`      skipped: ${reason}`);
      this.skip();
    }
    execFileSync('ip', ['netns', 'add', ns]);
    execFileSync('ip', ['-n', ns, 'link', 'set', 'lo', 'up']);
    execFileSync('ip', ['-n', ns, 'addr', 'add', '198.18.7.1/32', 'dev', 'lo']);
    execFileSync('ip', ['-n', ns, 'addr', 'add', 'fd00:7::1/128', 'dev', 'lo', 'nodad']);
    const child = spawn('ip', ['netns', 'exec', ns, 'python3', '-c', FIXTURE, String(ROOT_LISTENERS), String(BASE_PORT), String(OTHER_USER)], {
      stdio: ['pipe', 'pipe', 'inherit'],
    });
    fixture = child;
    const lines: string[] = [];
    await new Promise<void>((resolve, reject) => {
      let pending = '';
      child.stdout!.on('data', (chunk: Buffer) => {
        const parts = (pending + chunk.toString()).split('\n');
        pending = parts.pop()!;
        for (const line of parts) {
          if (line === 'ready') resolve();
          else lines.push(line);
        }
      });
      child.once('exit', (code) => reject(new Error(`fixture exited (${code}) before it was ready`)));
    });
    const hex = new Map<string, string>();
    for (const line of lines) {
      const [family, address, port, uid] = line.split(' ') as [string, string, string, string];
      const key = `${family} ${address}`;
      if (!hex.has(key)) hex.set(key, addressHex(family, address));
      opened.push(`${family} ${hex.get(key)} ${port} uid=${uid}`);
    }
  });

  after(() => {
    fixture?.stdin?.end();
    fixture?.kill('SIGKILL');
    spawnSync('ip', ['netns', 'delete', ns]);
  });

  function answer(asUser: boolean): ChildAnswer {
    const drop = asUser ? ['--as', String(NOBODY)] : [];
    const out = execFileSync('ip', ['netns', 'exec', ns, process.execPath, CHILD, ...drop], { timeout: 30_000 }).toString();
    return JSON.parse(out) as ChildAnswer;
  }

  /** `family hex-address port uid=…` of a child's line (the inode dropped). */
  const withoutInode = (family: 4 | 6, lines: readonly string[]): string[] => lines.map((l) => `${family} ${l.replace(/ inode=\d+$/, '')}`);

  for (const asUser of [false, true]) {
    it(`answers exactly what /proc/net/tcp* lists, socket for socket (${asUser ? 'as an unprivileged user' : 'as root'})`, () => {
      const got = answer(asUser);
      assert.equal(got.uid, asUser ? NOBODY : 0);
      assert.equal(got.gid, asUser ? NOBODY : 0);
      if (asUser) assert.equal(got.capEff, '0000000000000000', 'no capability left');
      assert.deepEqual(got.fallbacks, [], 'netlink is usable');
      assert.equal(got.source, 'netlink');
      assert.ok(got.netlink.complete && got.procfs.complete, 'both answers complete');
      assert.deepEqual(got.netlink.v4, got.procfs.v4);
      assert.deepEqual(got.netlink.v6, got.procfs.v6);
      // Not two empty answers: every socket opened is there, with its owner, and nothing else.
      const listed = [...withoutInode(4, got.netlink.v4), ...withoutInode(6, got.netlink.v6)].sort();
      assert.deepEqual(listed, [...opened].sort());
      assert.equal(listed.length, ROOT_LISTENERS + ROOT_LISTENERS / 50 + OTHER_USER);
      assert.ok(got.netlink.v4.length > 600 && got.netlink.v6.length > 600, 'each family spans several netlink datagrams');
      assert.ok(got.netlink.v4.some((l) => l.includes(`uid=${NOBODY} `)), 'another user\'s sockets are listed');
    });
  }
});

/**
 * `honeyport run --metrics-listen` as a user meets it: a malformed value is
 * one line naming the option, exit 2, before anything is opened, and
 * `--help` documents the option. The runs also name an interface that does
 * not exist: should the value check regress, the start is still refused
 * (by that check, failing this test) before any port or socket is opened.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DEFAULT_METRICS_LIMITS } from '../../src/metrics/metrics-server.js';
import { openFilesNeeded } from '../../src/sensor/open-files.js';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const CLI = join(ROOT, 'dist/src/cli/main.js');

function run(args: string[]): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [CLI, 'run', ...args], { cwd: ROOT, encoding: 'utf8', timeout: 15_000, killSignal: 'SIGKILL' });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('honeyport run --metrics-listen (command line)', function () {
  this.timeout(30_000);

  it('a malformed address is one line naming the option and the value, exit 2', () => {
    const cases: [string, RegExp][] = [
      ['localhost:9417', /^honeyport: --metrics-listen "localhost:9417": "localhost" is not an IP address; expected an IPv4 address or an IPv6 address in brackets, a colon and a port 1-65535 \(e\.g\. 127\.0\.0\.1:9417 or \[::1\]:9417\)$/],
      ['::1:9417', /^honeyport: --metrics-listen "::1:9417": expected HOST:PORT: /],
      ['127.0.0.1:0', /^honeyport: --metrics-listen "127.0.0.1:0": port 0 is not from 1 to 65535$/],
      ['127.0.0.1:9417\u001b[31m', /^honeyport: --metrics-listen "127.0.0.1:9417\\u001b\[31m": expected HOST:PORT: /],
    ];
    for (const [value, message] of cases) {
      const r = run(['--metrics-listen', value, '-i', 'NOPE', '--state-dir', '/nonexistent/hp-metrics-cli']);
      assert.equal(r.code, 2, `${value}: ${r.stderr}`);
      const lines = r.stderr.trimEnd().split('\n');
      assert.equal(lines.length, 1, `one line: ${r.stderr}`);
      assert.match(lines[0]!, message);
      assert.equal(r.stdout, '');
    }
  });

  it('counts the endpoint\'s descriptors in the open-files limit checked at start', () => {
    const needed = openFilesNeeded(1);
    const extra = DEFAULT_METRICS_LIMITS.maxConnections + 1;
    // A limit that suffices without the endpoint and not with it; the unknown interface stops the run either way.
    const quoted = (args: string[]): string => [process.execPath, CLI, 'run', ...args].map((a) => `'${a}'`).join(' ');
    const sh = (args: string[]) => spawnSync('/bin/sh', ['-c', `ulimit -n ${needed + 10} && exec ${quoted(args)}`], { cwd: ROOT, encoding: 'utf8', timeout: 15_000, killSignal: 'SIGKILL' });
    const without = sh(['-i', 'NOPE']);
    assert.equal(without.status, 2, without.stderr);
    assert.match(without.stderr, /--interface NOPE/);
    const withEndpoint = sh(['-i', 'NOPE', '--metrics-listen', '127.0.0.1:9417']);
    assert.equal(withEndpoint.status, 1, withEndpoint.stderr);
    assert.equal(withEndpoint.stderr, `honeyport: the open-files limit is ${needed + 10}; the sensor needs at least ${needed + extra} (raise \`ulimit -n\` or LimitNOFILE)\n`);
  });

  it('--help lists the option', () => {
    const r = run(['--help']);
    assert.equal(r.code, 0);
    assert.match(r.stdout, /--metrics-listen <host:port>\s+serve Prometheus metrics at/);
  });
});

import assert from 'node:assert/strict';
import { parsePolicyText } from '../../src/policy/load.js';
import { PolicyError } from '../../src/policy/schema.js';
import { RECOMMENDED_PORTS } from '../../src/policy/recommended.js';

function problems(text: string): string[] {
  try {
    parsePolicyText(text, 'p.yaml');
  } catch (err) {
    assert.ok(err instanceof PolicyError, String(err));
    return [...err.problems];
  }
  assert.fail('policy was accepted');
}

describe('policy file', () => {
  it('reads the issue example and sorts ports', () => {
    const p = parsePolicyText(
      `name: corp-linux
os: linux
ports:
  - { port: 445, protocol: tcp }
  - { port: 22,  protocol: tcp6 }
whitelist: [198.18.1.3, "fd00:18::3", 10.20.0.0/16, 10.9.0.1-10.9.0.40]
`,
      'x',
    );
    assert.equal(p.name, 'corp-linux');
    assert.deepEqual(p.ports, [{ port: 22, protocol: 'tcp6' }, { port: 445, protocol: 'tcp' }]);
    assert.equal(p.whitelist.length, 4);
  });

  it('accepts JSON, "recommended" and generates a default name', () => {
    const p = parsePolicyText('{"os": "windows", "ports": "recommended"}', 'x');
    assert.equal(p.name, 'honeyport-windows-recommended');
    assert.deepEqual(p.ports.map((x) => x.port), RECOMMENDED_PORTS.windows.map((x) => x.port));
  });

  it('names the field path and the problem', () => {
    assert.deepEqual(
      problems('os: linux\nports:\n  - {port: 1, protocol: tcp}\n  - {port: 2, protocol: tcp}\n  - {port: 3, protocol: tcp}\n  - {port: 4, protocol: udp}\n'),
      ['ports[3].protocol: must be "tcp" or "tcp6"'],
    );
    assert.deepEqual(problems('os: solaris\nports: recommended\n'), ['os: must be "linux" or "windows"']);
    assert.deepEqual(problems('os: linux\nports: [{port: 70000, protocol: tcp}]\n'), ['ports[0].port: must be between 1 and 65535']);
    assert.deepEqual(problems('os: linux\nports: []\n'), ['ports: must list at least one port']);
  });

  it('rejects a port bound to two protocols, more than 10 ports and unknown keys', () => {
    assert.match(problems('os: linux\nports: [{port: 445, protocol: tcp}, {port: 445, protocol: tcp6}]\n')[0]!, /^ports\[1\]\.port: port 445 is already listed at ports\[0\]/);
    const eleven = Array.from({ length: 11 }, (_, i) => `{port: ${i + 1}, protocol: tcp}`).join(', ');
    assert.deepEqual(problems(`os: linux\nports: [${eleven}]\n`), ['ports: must list at most 10 ports']);
    assert.deepEqual(problems('os: linux\nports: recommended\ncolour: red\n'), ['colour: unknown key']);
    assert.deepEqual(problems('os: linux\nports: [{port: 1, protocol: tcp, mode: x}]\n'), ['ports[0].mode: unknown key']);
  });

  it('rejects bad whitelist entries with their index', () => {
    const out = problems('os: linux\nports: recommended\nwhitelist: [10.0.0.1, 10.0.0.0/33, 10.0.0.9-10.0.0.1, "::1-10.0.0.1", banana, 10.0.0.1/8]\n');
    assert.equal(out.length, 5);
    assert.match(out[0]!, /^whitelist\[1\]: .*prefix length/);
    assert.match(out[1]!, /^whitelist\[2\]: .*ends before it starts/);
    assert.match(out[2]!, /^whitelist\[3\]: .*mixes IPv4 and IPv6/);
    assert.match(out[3]!, /^whitelist\[4\]: /);
    assert.match(out[4]!, /^whitelist\[5\]: .*host bits/);
  });

  it('reports YAML syntax errors with a line', () => {
    assert.match(problems('os: linux\nports: [\n')[0]!, /^line \d+, column \d+: /);
    assert.deepEqual(problems(''), ['the file is empty']);
  });

  it('recommended sets stay within the limit and never overlap across OS types', () => {
    for (const os of ['linux', 'windows'] as const) assert.ok(RECOMMENDED_PORTS[os].length <= 10);
    const linux = new Set(RECOMMENDED_PORTS.linux.map((p) => p.port));
    for (const p of RECOMMENDED_PORTS.windows) assert.ok(!linux.has(p.port), `port ${p.port} in both sets`);
  });
});

/**
 * Hostile policy files: each test injects the input that used to crash or
 * mislead the loader (alias bombs, deep nesting, huge and endless files,
 * control characters, millions of bad entries) and checks that the answer
 * is one bounded line naming the problem.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadPolicyFile, parsePolicyText } from '../../src/policy/load.js';
import { PolicyError } from '../../src/policy/schema.js';

function problems(text: string): string[] {
  try {
    parsePolicyText(text, 'p.yaml');
  } catch (err) {
    assert.ok(err instanceof PolicyError, `not a PolicyError: ${String(err)}`);
    return [...err.problems];
  }
  assert.fail('policy was accepted');
}

/** 9 levels of 10 aliases each: 10^9 nodes if expanded. */
function aliasBomb(): string {
  const lines = ['a0: &a0 [lol]'];
  for (let i = 1; i < 10; i++) lines.push(`a${i}: &a${i} [${Array.from({ length: 10 }, () => `*a${i - 1}`).join(', ')}]`);
  return `${lines.join('\n')}\nos: linux\nports: recommended\n`;
}

describe('hostile policy files', function () {
  this.timeout(20_000);
  let dir = '';
  before(() => { dir = mkdtempSync(join(tmpdir(), 'hp-hostile-')); });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('refuses an alias bomb as a policy problem, not an exception', () => {
    const [p] = problems(aliasBomb());
    assert.match(p!, /alias/i);
  });

  it('still accepts a few honest aliases', () => {
    const p = parsePolicyText('os: &os linux\nports: recommended\nname: *os\n', 'p.yaml');
    assert.equal(p.name, 'linux');
  });

  it('refuses nesting deep enough to stall or exhaust the YAML parser, quickly', () => {
    for (const text of ['? '.repeat(1000) + 'x\n', '- '.repeat(30_000) + 'x\n', '['.repeat(100_000), '{a: '.repeat(50_000)]) {
      const started = Date.now();
      const [p] = problems(text);
      assert.match(p!, /^line 1, column \d+: nested deeper than \d+ levels/);
      assert.ok(Date.now() - started < 5000, 'bounded time');
    }
  });

  it('says where a YAML syntax error is: line and column, 1-based', () => {
    assert.match(problems('os: linux\nos: windows\nports: recommended\n')[0]!, /^line 2, column 1: .*unique/);
    assert.match(problems('os: linux\nports:\n\t- {port: 1, protocol: tcp}\n')[0]!, /^line 3, column 1: .*[Tt]ab/);
    assert.match(problems('os: linux\nports: [\n')[0]!, /^line [23], column \d+: /);
    assert.doesNotMatch(problems('os: linux\nports: [\n')[0]!, /line 0, column 0/);
  });

  it('prints no parser warnings on stderr (keys that are collections are an error)', () => {
    const [p] = problems('? [a, b]\n: 1\nos: linux\nports: recommended\n');
    assert.match(p!, /unknown key|must be/);
  });

  it('refuses an endless file (/dev/zero) and a file over the size limit, without reading it all', async () => {
    for (const path of ['/dev/zero']) {
      await assert.rejects(loadPolicyFile(path), (err: unknown) => err instanceof PolicyError && /larger than the limit of \d+ MiB/.test(err.message));
    }
    const big = join(dir, 'big.yaml');
    writeFileSync(big, '');
    // A sparse file: its size is what is checked, no 600 MB written.
    const { truncateSync } = await import('node:fs');
    truncateSync(big, 600 * 1024 * 1024);
    await assert.rejects(loadPolicyFile(big), (err: unknown) => err instanceof PolicyError && /larger than the limit/.test(err.message));
  });

  it('escapes control characters echoed from an entry and cuts long ones', () => {
    const [nl] = problems('os: linux\nports: recommended\nwhitelist: ["10.0.0.1\\n\\u001b[31mFAKE"]\n');
    assert.doesNotMatch(nl!, /[\u0000-\u001f\u007f-\u009f]/);
    assert.match(nl!, /\\n\\u001b\[31mFAKE/);
    const [long] = problems(`os: linux\nports: recommended\nwhitelist: ["${'x'.repeat(100_000)}"]\n`);
    assert.ok(long!.length < 300, `cut: ${long!.length} characters`);
    const [key] = problems('os: linux\nports: recommended\n"bad\\u001bkey": 1\n');
    assert.doesNotMatch(key!, /[\u0000-\u001f]/);
  });

  it('lists at most a few problems when a million entries are bad, and says how many', () => {
    const text = `os: linux\nports: recommended\nwhitelist:\n${'  - nope\n'.repeat(1_000_000)}`;
    let message = '';
    try { parsePolicyText(text, 'p.yaml'); } catch (err) { message = (err as Error).message; }
    assert.ok(message.length > 0 && message.length < 4000, `bounded message: ${message.length} characters`);
    assert.match(message, /and 999,990 more problems \(1,000,000 in all\)/);
  });
});

describe('policy names when none is given', () => {
  it('recommended ports: honeyport-<os>-recommended', () => {
    assert.equal(parsePolicyText('os: windows\nports: recommended\n', '/etc/honeyport/dmz.yaml').name, 'honeyport-windows-recommended');
  });
  it("custom ports: the file's base name, or honeyport-<os>-custom when it cannot be a name", () => {
    const custom = 'os: linux\nports: [{port: 4444, protocol: tcp}]\n';
    assert.equal(parsePolicyText(custom, '/etc/honeyport/dmz-web.yaml').name, 'dmz-web');
    assert.equal(parsePolicyText(custom, 'site.policy.json').name, 'site.policy');
    assert.equal(parsePolicyText(custom, '/tmp/bad name!.yaml').name, 'honeyport-linux-custom');
    assert.notEqual(parsePolicyText(custom, 'x.yml').name, 'honeyport-linux-recommended');
  });
});

describe('large whitelists: the fast path means what the YAML parser means', () => {
  const layouts = [
    'whitelist:\n  - 10.0.0.1\n  - "fd00::1"\n  # a comment\n\n  - \'10.1.0.0/16\'   # trailing\n  - 10.9.0.1-10.9.0.40\n',
    'whitelist:\n- 10.0.0.1\n- ::ffff:1.2.3.4\n',
    'whitelist: [10.0.0.1, "fd00::1", \'10.1.0.0/16\']\n',
    'whitelist: [\n  10.0.0.1,   # first\n  "fd00::1"\n]\n',
    'whitelist: []\n',
  ];
  const table = (text: string): string => {
    const p = parsePolicyText(text, 'p.yaml');
    return JSON.stringify(p.whitelist);
  };
  for (const wl of layouts) {
    it(`same entries for ${JSON.stringify(wl.slice(0, 40))}…`, async () => {
      const { readYamlDocument } = await import('../../src/validation/yaml-document.js');
      const { parsePolicy } = await import('../../src/policy/schema.js');
      for (const text of [`os: linux\nports: recommended\n${wl}`, `${wl}os: linux\nports: recommended\n`]) {
        const read = readYamlDocument(text);
        assert.ok(read.ok);
        const slow = parsePolicy(read.doc, 'p.yaml');
        assert.equal(table(text), JSON.stringify(slow.whitelist), text);
      }
    });
  }

  it('falls back to the YAML parser for what it is unsure of, with the same verdicts', () => {
    assert.match(problems('os: linux\nports: recommended\nwhitelist:\n'.concat('  - &a 10.0.0.1\n  - *a\n  - [x]\n'))[0]!, /whitelist\[2\]/);
    assert.match(problems('os: linux\nports: recommended\nwhitelist:\nname: x\n')[0]!, /^whitelist: must be a list/);
    assert.equal(parsePolicyText('os: linux\nports: recommended\nwhitelist: ["10.0.0.\\u0031"]\n', 'p.yaml').whitelist.length, 1);
  });

  it('names the right line for a YAML error after a cut-out list', () => {
    assert.match(problems('os: linux\nwhitelist:\n  - 1.2.3.4\n  - 1.2.3.5\n\nports: recommended\nports: x\n')[0]!, /^line 7, column 1: /);
    assert.match(problems('os: linux\nwhitelist: [1.2.3.4,\n 1.2.3.5]\nports: recommended\nports: x\n')[0]!, /^line 5, column 1: /);
  });
});

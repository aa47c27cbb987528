/**
 * packaging/honeyport.service is a real, checked file: `systemd-analyze
 * verify` accepts it, `systemd-analyze security --offline=true` scores it at
 * most 2.5, the score and every remaining exposure are the ones README.md
 * states, and dropping one hardening line is caught by the score. The
 * logrotate snippet is checked by logrotate itself. Tools that are absent
 * (no systemd, no logrotate) skip with a printed reason.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';

const ROOT = new URL('../../../', import.meta.url).pathname;
const UNIT = join(ROOT, 'packaging', 'honeyport.service');
const README = join(ROOT, 'README.md');
const TARGET = 2.5;

function has(tool: string): boolean {
  return spawnSync(tool, ['--version'], { stdio: 'ignore' }).status === 0;
}

interface Security {
  score: number;
  /** Settings marked ✗ (an exposure that counts), e.g. "PrivateNetwork". */
  exposures: string[];
  text: string;
}

function security(unitPath: string): Security {
  const r = spawnSync('systemd-analyze', ['security', '--offline=true', '--no-pager', unitPath], { encoding: 'utf8' });
  const text = r.stdout + r.stderr;
  const score = /Overall exposure level for [^:]+: (\d+\.\d)/.exec(text);
  assert.ok(score, `no score in:\n${text}`);
  const exposures = [...text.matchAll(/^✗ ([A-Za-z]+)=/gm)].map((m) => m[1]!);
  return { score: Number(score[1]), exposures: [...new Set(exposures)], text };
}

describe('packaging/honeyport.service', function () {
  this.timeout(20_000);
  let dir = '';
  let unitText = '';

  before(function () {
    if (!has('systemd-analyze')) {
      console.log('      (skipped: systemd-analyze is not installed; .ci/setup installs systemd)');
      this.skip();
    }
    dir = mkdtempSync(join(tmpdir(), 'hp-unit-'));
    unitText = readFileSync(UNIT, 'utf8');
  });
  after(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  /** The unit with ExecStart's program replaced by a stub, for machines where the package is not installed. */
  function withStubProgram(text: string, name: string): string {
    const stub = join(dir, 'honeyport-stub');
    writeFileSync(stub, '#!/bin/sh\nexit 0\n');
    chmodSync(stub, 0o755);
    const path = join(dir, name);
    writeFileSync(path, text.replaceAll('/usr/bin/honeyport', stub));
    return path;
  }

  function verify(path: string): { code: number | null; output: string } {
    const r = spawnSync('systemd-analyze', ['verify', path], { encoding: 'utf8' });
    return { code: r.status, output: r.stdout + r.stderr };
  }

  it('passes systemd-analyze verify', () => {
    const r = verify(withStubProgram(unitText, 'honeyport.service'));
    assert.equal(r.code, 0, r.output);
    assert.equal(r.output.trim(), '', r.output);
  });

  it('a misspelt directive fails verify (the check can fail)', () => {
    const r = verify(withStubProgram(unitText.replace('ProtectHome=yes', 'ProtectHome=sometimes'), 'honeyport.service'));
    assert.match(r.output, /protect home value, ignoring: sometimes/i);
  });

  it(`scores at most ${TARGET}, the score README.md states`, () => {
    const s = security(withStubProgram(unitText, 'honeyport.service'));
    assert.ok(s.score <= TARGET, s.text);
    const readme = readFileSync(README, 'utf8');
    assert.match(readme, new RegExp(`exposure score of ${s.score.toFixed(1).replace('.', '\\.')}\\b`), `README must state the measured score ${s.score}`);
  });

  it('lists every remaining exposure, with its reason, in README.md', () => {
    const s = security(withStubProgram(unitText, 'honeyport.service'));
    const readme = readFileSync(README, 'utf8');
    const section = readme.slice(readme.indexOf('### Remaining exposures'));
    assert.ok(section.length > 0 && readme.includes('### Remaining exposures'), 'README has a "Remaining exposures" section');
    // A row whose first cell names the setting, and whose second says why.
    for (const setting of s.exposures) assert.match(section, new RegExp(`^\\| [^|\\n]*\`${setting}\`[^|\\n]*\\| \\S`, 'm'), `README does not explain ${setting}`);
  });

  it('dropping the system call filter raises the score above the target (the score can fail)', () => {
    const weaker = unitText.replace(/^SystemCallFilter=.*\n/gm, '');
    const s = security(withStubProgram(weaker, 'honeyport.service'));
    assert.ok(s.score > TARGET, `score ${s.score} without SystemCallFilter`);
  });

  it('reloads with SIGHUP and writes alarms through a sink, not StandardOutput=append:', () => {
    assert.match(unitText, /^ExecReload=\/bin\/kill -HUP \$MAINPID$/m);
    assert.doesNotMatch(unitText, /^StandardOutput=append:/m);
    assert.match(unitText, /^ExecStart=\/usr\/bin\/honeyport run .*--config \/etc\/honeyport\/sensor\.yaml/m);
    const config = readFileSync(join(ROOT, 'packaging', 'sensor.yaml'), 'utf8');
    assert.match(config, /type: file, name: alarms-file, path: \/var\/log\/honeyport\/alarms\.json/);
  });
});

describe('packaging/logrotate', function () {
  this.timeout(20_000);

  it('is accepted by logrotate (debug mode: parses and plans, rotates nothing)', function () {
    if (!has('logrotate')) {
      console.log('      (skipped: logrotate is not installed; .ci/setup installs it)');
      this.skip();
    }
    const dir = mkdtempSync(join(tmpdir(), 'hp-logrotate-'));
    try {
      // Its `su`/`create` name the package's user; where the package is not
      // installed, the current user stands in (test/package/install.test.ts rotates with it as is).
      const me = userInfo().username;
      const known = spawnSync('id', ['honeyport'], { stdio: 'ignore' }).status === 0;
      const snippet = readFileSync(join(ROOT, 'packaging', 'logrotate'), 'utf8');
      const config = join(dir, 'honeyport');
      writeFileSync(config, known ? snippet : snippet.replaceAll('honeyport honeyport', `${me} ${me}`));
      const r = spawnSync('logrotate', ['--debug', '--state', join(dir, 'state'), config], { encoding: 'utf8' });
      const output = r.stdout + r.stderr;
      assert.equal(r.status, 0, output);
      assert.doesNotMatch(output, /error:/i, output);
      assert.match(output, /rotating pattern: \/var\/log\/honeyport\/\*\.json/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

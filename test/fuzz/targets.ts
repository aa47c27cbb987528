/**
 * What the fuzzer runs and what counts as a failure. Every target takes the
 * input's bytes and either returns (an accepted input, or one of the
 * documented refusals) or throws a `FuzzFailure` naming what went wrong: an
 * unexpected exception, an exit code other than 0/2/3, output that is not one
 * line per problem, "internal error", or peak RSS above the bound.
 *
 * In-process targets reach the modules directly (fast, thousands per
 * second); CLI targets run the real command as a child process (slow, but
 * they see exit codes, stderr and memory as a user does).
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { isoMicros } from '../../src/alarm/timestamp.js';
import { ConfigError } from '../../src/config/config-error.js';
import { parseSensorConfig } from '../../src/config/sensor-config.js';
import { Whitelist } from '../../src/detect/whitelist.js';
import { replay } from '../../src/pipeline/replay.js';
import { parsePolicyText } from '../../src/policy/load.js';
import { PolicyError } from '../../src/policy/policy-error.js';
import type { Policy } from '../../src/policy/policy.js';
import { CaptureDamagedError, readCaptureStream } from '../../src/source/capture-file.js';
import { readYamlDocument } from '../../src/validation/yaml-document.js';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const CLI = join(ROOT, 'dist/src/cli/main.js');

/** Peak RSS a child may reach on any input: replay holds one buffer and one batch; a policy is at most 64 MiB of text. */
export const CHILD_RSS_LIMIT_MIB = 512;
/** A child taking longer than this on a fuzz input (all small) is hung. */
const CHILD_TIMEOUT_MS = 30_000;

export class FuzzFailure extends Error {}

export interface Target {
  readonly name: string;
  /** File extension of saved inputs. */
  readonly ext: string;
  /** In-process targets are cheap; CLI targets start a process. */
  readonly child: boolean;
  run(input: Buffer): Promise<void>;
}

const FUZZ_POLICY: Policy = {
  name: 'fuzz',
  os: 'linux',
  ports: [{ port: 22, protocol: 'tcp6' }, { port: 135, protocol: 'tcp' }, { port: 139, protocol: 'tcp' }, { port: 445, protocol: 'tcp' }, { port: 3389, protocol: 'tcp' }, { port: 5985, protocol: 'tcp6' }],
  whitelist: ['198.18.1.0/24', '::ffff:198.18.2.0/120'],
};

let scratch = '';
function scratchFile(name: string, bytes: Buffer): string {
  if (!scratch) scratch = mkdtempSync(join(tmpdir(), 'hp-fuzz-'));
  const p = join(scratch, name);
  writeFileSync(p, bytes);
  return p;
}

/** Reader, prefilter, decoder and detector in process; every alarm time must format as RFC 3339. */
const replayTarget: Target = {
  name: 'replay',
  ext: 'pcap',
  child: false,
  async run(input) {
    // The reader alone, over a stream in odd pieces: damage is the only refusal.
    try {
      const r = readCaptureStream(Readable.from([input.subarray(0, 7), input.subarray(7)]), 'fuzz');
      for (;;) { const n = await r.next(); if (n.done) break; }
    } catch (err) {
      if (!(err instanceof CaptureDamagedError)) throw new FuzzFailure(`reader threw ${String(err)}`);
    }
    const file = scratchFile('in.pcap', input);
    try {
      await replay({
        files: [file], detection: { policy: FUZZ_POLICY, windowMicros: 60e6, maxTrackedKeys: 1000, newSourceRate: 100, serverAddresses: [] },
        onAlarm: (a) => { isoMicros(a.startMicros); isoMicros(a.endMicros); },
      });
    } catch (err) {
      throw new FuzzFailure(`replay threw ${err instanceof Error ? `${err.name}: ${err.message}` : String(err)}`);
    }
  },
};

/** A refusal's message must be one bounded line without control characters. */
function checkMessage(message: string): void {
  if (/[\u0000-\u001f\u007f-\u009f\u2028\u2029]/.test(message)) throw new FuzzFailure(`message has control characters: ${JSON.stringify(message.slice(0, 200))}`);
  if (message.length > 8000) throw new FuzzFailure(`message of ${message.length} characters`);
}

const policyTarget: Target = {
  name: 'policy',
  ext: 'yaml',
  child: false,
  async run(input) {
    try {
      const p = parsePolicyText(input.toString('utf8'), 'fuzz.yaml');
      const w = new Whitelist(p.whitelist);
      w.contains(4, new Uint8Array(16));
    } catch (err) {
      if (err instanceof PolicyError) return checkMessage(err.message);
      throw new FuzzFailure(`policy loader threw ${err instanceof Error ? `${err.name}: ${err.message}` : String(err)}`);
    }
  },
};

const configTarget: Target = {
  name: 'config',
  ext: 'yaml',
  child: false,
  async run(input) {
    const read = readYamlDocument(input.toString('utf8'));
    if (!read.ok) return checkMessage(read.problem);
    try {
      parseSensorConfig(read.doc, 'fuzz.yaml');
    } catch (err) {
      if (err instanceof ConfigError) return checkMessage(err.message);
      throw new FuzzFailure(`config loader threw ${err instanceof Error ? `${err.name}: ${err.message}` : String(err)}`);
    }
  },
};

const hasGnuTime = existsSync('/usr/bin/time');

/** Runs the CLI under GNU time (for peak RSS) and checks exit code and stderr. */
function runCli(args: string[], allowed: readonly number[]): void {
  const cmd = hasGnuTime ? '/usr/bin/time' : process.execPath;
  const argv = hasGnuTime ? ['-f', 'HPFUZZ %M', process.execPath, CLI, ...args] : [CLI, ...args];
  const r = spawnSync(cmd, argv, { encoding: 'utf8', timeout: CHILD_TIMEOUT_MS, maxBuffer: 256 << 20, stdio: ['ignore', 'ignore', 'pipe'] });
  if (r.error) throw new FuzzFailure(`child: ${r.error.message}`);
  let stderr = r.stderr;
  let rssMiB = 0;
  const m = /(?:^|\n)HPFUZZ (\d+)\n?$/.exec(stderr);
  if (m) { rssMiB = Number(m[1]) / 1024; stderr = stderr.slice(0, m.index); }
  // GNU time reports a signal death as "Command terminated by signal N".
  stderr = stderr.replace(/(^|\n)Command (exited with non-zero status \d+|terminated by signal \d+)\n?$/, '$1');
  if (r.signal) throw new FuzzFailure(`killed by ${r.signal} (timeout ${CHILD_TIMEOUT_MS} ms?)`);
  if (!allowed.includes(r.status ?? -1)) throw new FuzzFailure(`exit code ${r.status}; stderr: ${stderr.slice(0, 500)}`);
  if (/internal error/.test(stderr)) throw new FuzzFailure(`internal error: ${stderr.slice(0, 500)}`);
  for (const line of stderr.split('\n').filter(Boolean)) {
    if (!line.startsWith('honeyport: ')) throw new FuzzFailure(`stray stderr line: ${JSON.stringify(line.slice(0, 300))}`);
    checkMessage(line);
  }
  if (rssMiB > CHILD_RSS_LIMIT_MIB) throw new FuzzFailure(`peak RSS ${rssMiB.toFixed(0)} MiB > ${CHILD_RSS_LIMIT_MIB} MiB`);
}

const cliReplayTarget: Target = {
  name: 'cli-replay',
  ext: 'pcap',
  child: true,
  async run(input) {
    runCli(['replay', '-q', '-o', 'stdout', scratchFile('cli.pcap', input)], [0, 3]);
  },
};

const cliPolicyTarget: Target = {
  name: 'cli-policy',
  ext: 'yaml',
  child: true,
  async run(input) {
    runCli(['policy', 'check', scratchFile('cli.yaml', input)], [0, 2]);
  },
};

export const TARGETS: readonly Target[] = [replayTarget, policyTarget, configTarget, cliReplayTarget, cliPolicyTarget];

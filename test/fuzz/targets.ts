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
import { EcsFormatter, type FormatContext } from '../../src/deliver/format-ecs.js';
import { replay, type ReplayResult } from '../../src/pipeline/replay.js';
import { HONEYPORT_SIGNATURES } from '../../src/fingerprint/honeyport-signatures.js';
import { parseSignatureFiles, SignatureFileError } from '../../src/fingerprint/signature-file.js';
import { SynFingerprinter } from '../../src/fingerprint/syn-fingerprinter.js';
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
  /** In-process targets are cheap; CLI targets start a process (and replay-parallel threads): they share the other half of the time. */
  readonly child: boolean;
  run(input: Buffer): Promise<void>;
}

const FUZZ_POLICY: Policy = {
  name: 'fuzz',
  os: 'linux',
  ports: [{ port: 22, protocol: 'tcp6' }, { port: 135, protocol: 'tcp' }, { port: 139, protocol: 'tcp' }, { port: 445, protocol: 'tcp' }, { port: 3389, protocol: 'tcp' }, { port: 5985, protocol: 'tcp6' }],
  whitelist: ['198.18.1.0/24', '::ffff:198.18.2.0/120'],
};

/** honeyport's own signatures (no dependency on p0f being installed), and a generic one that matches many fuzzed SYNs. */
const FUZZ_FINGERPRINTS = new SynFingerprinter(
  parseSignatureFiles([{ name: 'own', text: `${HONEYPORT_SIGNATURES}\nlabel = g:!:any:\nsys = Linux\nsig = *:255-:0:*:*,*:::*\n` }]),
);

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
        files: [file], detection: { policy: FUZZ_POLICY, windowMicros: 60e6, maxTrackedKeys: 1000, newSourceRate: 100, serverAddresses: [], fingerprints: FUZZ_FINGERPRINTS },
        onAlarm: (a) => {
          isoMicros(a.startMicros);
          isoMicros(a.endMicros);
          if (a.action === 'honeypot-port-probe' && a.origin.fingerprint && !/^[46]:\d+\+(\d+|\?):\d+:\d+:/.test(a.origin.fingerprint.signature)) throw new Error(`bad raw signature ${a.origin.fingerprint.signature}`);
        },
      });
    } catch (err) {
      throw new FuzzFailure(`replay threw ${err instanceof Error ? `${err.name}: ${err.message}` : String(err)}`);
    }
  },
};

/**
 * Parallel replay against sequential: the input twice (and a copy cut in
 * half between them), read on worker threads and on the main thread, must
 * give the same alarm lines, damage messages and counters.
 */
const parallelReplayTarget: Target = {
  name: 'replay-parallel',
  ext: 'pcap',
  child: true,
  async run(input) {
    const files = [scratchFile('par-a.pcap', input), scratchFile('par-b.pcap', input.subarray(0, input.length >> 1)), scratchFile('par-c.pcap', input)];
    const ctx: FormatContext = { ruleName: 'fuzz', observer: { hostname: 'fuzz', version: '0' }, inputs: files, mode: 'replay' };
    const once = async (workers: number): Promise<string> => {
      const ecs = new EcsFormatter(ctx);
      const lines: string[] = [];
      let r: ReplayResult;
      try {
        r = await replay({
          files, workers, detection: { policy: FUZZ_POLICY, windowMicros: 60e6, maxTrackedKeys: 1000, newSourceRate: 100, serverAddresses: [] },
          onAlarm: (a) => lines.push(ecs.format(a).json),
        });
      } catch (err) {
        throw new FuzzFailure(`replay (workers ${workers}) threw ${err instanceof Error ? `${err.name}: ${err.message}` : String(err)}`);
      }
      return JSON.stringify({ lines, damaged: r.damaged.map((d) => d.message), decode: r.decode, detect: r.detect, packets: r.packets, bytes: r.bytes });
    };
    const seq = await once(0);
    const par = await once(1);
    if (seq !== par) throw new FuzzFailure(`parallel replay differs from sequential: ${par.slice(0, 300)} vs ${seq.slice(0, 300)}`);
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

/** The p0f.fp parser: a refusal is a one-line SignatureFileError; a file it accepts builds a matcher. */
const signaturesTarget: Target = {
  name: 'signatures',
  ext: 'fp',
  child: false,
  async run(input) {
    try {
      new SynFingerprinter(parseSignatureFiles([{ name: 'fuzz.fp', text: input.toString('utf8') }]));
    } catch (err) {
      if (err instanceof SignatureFileError) return checkMessage(err.message);
      throw new FuzzFailure(`signature parser threw ${err instanceof Error ? `${err.name}: ${err.message}` : String(err)}`);
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

export const TARGETS: readonly Target[] = [replayTarget, parallelReplayTarget, policyTarget, configTarget, signaturesTarget, cliReplayTarget, cliPolicyTarget];

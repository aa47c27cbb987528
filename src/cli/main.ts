#!/usr/bin/env node
/** honeyport command line: one line per error, exit codes from exit-codes.ts. */
import { availableParallelism } from 'node:os';
import { Command, CommanderError, Option } from 'commander';
import type { OsType, Policy } from '../policy/policy.js';
import { PolicyError } from '../policy/policy-error.js';
import { defaultPolicy } from '../policy/recommended.js';
import type { HostChoice } from './policy-choice.js';
import { CliError, ExitCode } from './exit-codes.js';
import { addDeliveryOptions, type DeliveryFlags } from './delivery-options.js';
import { parseCount, parseDetectionFlags, parseDuration, parseHeartbeat, parseHostName, parseMetricsListen, parseNamedHost, parsePositiveInt } from './parse-options.js';
import { fingerprintsFrom } from './fingerprint-choice.js';
import { packageVersion } from './version.js';
import { DEFAULT_NEW_SOURCE_RATE } from '../detect/detector.js';
import { CAPTURE_BACKENDS, defaultCaptureBackend, type CaptureBackend } from '../capture/capture-backend.js';
import { DEFAULT_PCAP_BUFFER_MIB, DEFAULT_RING_MIB, defaultRingMiB } from '../capture/ring-size.js';
import { escapeForMessage } from '../validation/echo.js';
import { startupSignals } from './startup-signals.js';

const MAX_MESSAGE = 4000;

/** zod and yaml cost ~100 ms to load: only pay for them when a policy file is read. */
async function policyFrom(file: string | undefined, host: HostChoice): Promise<Policy> {
  if (!file) return defaultPolicy();
  const { policyFor } = await import('./policy-choice.js');
  return policyFor(file, host);
}

const EXIT_CODES_HELP = `
Exit codes:
  0  success (also after SIGTERM/SIGINT for run)
  1  runtime failure: an input could not be read, an output failed, no decoy
     port could be held, no packet socket (needs root or CAP_NET_RAW),
     another sensor running, open-files limit too small
  2  bad command line, invalid policy or sensor config, unreachable or
     misconfigured sink, unknown interface, untrusted state directory,
     host not eligible (OS type, public address)
  3  a capture was damaged (alarms up to the damage were still written)`;

/** Replay's default --jobs: every core but the one detection runs on, at least one. */
function defaultJobs(): number {
  return Math.max(1, availableParallelism() - 1);
}

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

function buildProgram(setExit: (code: number) => void): Command {
  const program = new Command('honeyport')
    .description('Dynamic port honeypot sensor: decoy ports, half-open scan detection, ECS JSON alarms.')
    .version(packageVersion())
    .showSuggestionAfterError(true)
    .addHelpText('after', EXIT_CODES_HELP)
    .exitOverride();

  addDeliveryOptions(program
    .command('replay')
    .description('replay pcap/pcapng files (optionally gzip-compressed; "-" = stdin) and print the alarms the sensor would have raised, as ECS JSON lines on stdout')
    .argument('<files...>', 'capture files, replayed as one timeline in the order given; a directory stands for the files in it, in natural name order (cap, cap1, cap2 … cap10)')
    .option('-p, --policy <file>', 'policy file (YAML or JSON); default: the recommended Linux policy')
    .option('--host <name>', 'with a fleet policy file: the host the capture is from (chooses its policy)')
    .addOption(new Option('--address <ip>', 'with --host: an address of that host, for address selectors (repeatable)').argParser(collect).default([], 'none'))
    .option('-w, --window <duration>', 'deduplication window (e.g. 60s, 5m)', '60s')
    .addOption(new Option('-s, --server-address <addr>', 'count only probes to this destination (repeatable)').argParser(collect).default([], 'any destination'))
    .option('--max-tracked-keys <n>', 'probe keys tracked at once; beyond it probes are summed into flood alarms', '100000')
    .option('--new-source-rate <n>', 'new sources per second per decoy port that get their own alarm (burst: 10 s worth); beyond it probes are summed into flood alarms', String(DEFAULT_NEW_SOURCE_RATE))
    .option('--fingerprints <file>', 'p0f v3 signature file for fingerprinting each key\'s first SYN (default: /etc/p0f/p0f.fp where installed); honeyport\'s own scanner signatures are added')
    .option('--no-fingerprints', 'no fingerprints in alarms')
    .option('--summary', 'after the run, a table on stderr: per source, the decoy ports touched, first and last seen, probes by kind, fingerprint, whitelisted or not')
    .option('--report <file.html>', 'after the run, write a self-contained HTML report (timeline, sortable source table, counters)')
    .option('-q, --quiet', 'no run summary on stderr')
    .option('--no-progress', 'no progress line on a terminal')
    .option('-j, --jobs <n>', 'threads that read and pre-filter several files in parallel (0: read on the main thread; detection stays one timeline either way)', String(defaultJobs()))
    .option('--drain-timeout <duration>', 'how long the sinks may keep delivering after the last alarm (then what is left stays in the disk spool, or is dropped and counted)', '30s'))
    .addHelpText('after', EXIT_CODES_HELP)
    .action(async (files: string[], o: DeliveryFlags & { drainTimeout: string; policy?: string; host?: string; address: string[]; window: string; serverAddress: string[]; maxTrackedKeys: string; newSourceRate: string; quiet?: boolean; progress: boolean; jobs: string; fingerprints?: string | boolean; summary?: boolean; report?: string }) => {
      const detection = parseDetectionFlags(o);
      const jobs = parseCount(o.jobs, '--jobs', 256);
      const drainTimeoutMs = parseDuration(o.drainTimeout, '--drain-timeout') / 1000;
      const named = parseNamedHost(o);
      const policy = await policyFrom(o.policy, named ? { kind: 'given', host: named } : { kind: 'unnamed', command: 'replay' });
      const fingerprints = await fingerprintsFrom(o.fingerprints);
      const { expandCapturePaths } = await import('./capture-paths.js');
      const { replayCommand } = await import('./replay-command.js');
      setExit(await replayCommand({ files: expandCapturePaths(files), jobs, ...detection, ...(fingerprints ? { fingerprints } : {}), policy, summary: !o.quiet, progress: o.progress, delivery: o, drainTimeoutMs, sourceTable: o.summary === true, ...(o.report !== undefined ? { reportFile: o.report } : {}) }));
    });

  addDeliveryOptions(program
    .command('run')
    .description('run the sensor: hold the policy\'s ports open as decoys, capture probes of them (also half-open SYN scans) and print alarms as ECS JSON lines on stdout; SIGHUP reloads the policy, SIGTERM/SIGINT flush and stop')
    .option('-p, --policy <file>', 'policy file (YAML or JSON), re-read on SIGHUP; default: the recommended Linux policy')
    .option('--host <name>', 'with a fleet policy file: choose the policy for this host name instead of the system\'s (e.g. in a container)')
    .addOption(new Option('-i, --interface <name>', 'capture on this interface (repeatable)').argParser(collect).default([], '"any": every interface'))
    .option('-w, --window <duration>', 'deduplication window (e.g. 60s, 5m)', '60s')
    .addOption(new Option('-s, --server-address <addr>', 'count only probes to this destination (repeatable)').argParser(collect).default([], 'any destination'))
    .option('--max-tracked-keys <n>', 'probe keys tracked at once; beyond it probes are summed into flood alarms', '100000')
    .option('--new-source-rate <n>', 'new sources per second per decoy port that get their own alarm (burst: 10 s worth); beyond it probes are summed into flood alarms', String(DEFAULT_NEW_SOURCE_RATE))
    .option('--fingerprints <file>', 'p0f v3 signature file for fingerprinting each key\'s first SYN (default: /etc/p0f/p0f.fp where installed); honeyport\'s own scanner signatures are added')
    .option('--no-fingerprints', 'no fingerprints in alarms')
    .option('--ring-size <MiB>', `capture ring (or libpcap buffer) size per interface, MiB (default: ${DEFAULT_RING_MIB} with afpacket, ${DEFAULT_PCAP_BUFFER_MIB} with pcap)`)
    .addOption(new Option('--capture <backend>', 'capture backend: afpacket (Linux) or pcap (libpcap/Npcap through the cap package)').choices(CAPTURE_BACKENDS).default(defaultCaptureBackend()))
    .option('--state-dir <dir>', 'directory of the status socket', '/run/honeyport')
    .option('--metrics-listen <host:port>', 'serve Prometheus metrics at http://HOST:PORT/metrics (IPv6 in brackets: [::1]:9417); no authentication: loopback or a management address; default: off')
    .option('--heartbeat <duration>', 'send a sensor state document to the sinks at least this often (0 or off: only at start, reload, port changes and stop)', '5m')
    .option('--allow-public-address', 'run even though the host has a public (globally routable) address')
    .addOption(new Option('--user <name>', 'started as root: once the packet sockets, files and ports are open, run as this user, keeping only CAP_NET_BIND_SERVICE when a --policy reload may bind ports; "root" stays root (default: honeyport where that user exists)')))
    .addHelpText('after', EXIT_CODES_HELP)
    .action(async (o: DeliveryFlags & { policy?: string; host?: string; interface: string[]; window: string; serverAddress: string[]; maxTrackedKeys: string; newSourceRate: string; ringSize?: string; capture: CaptureBackend; stateDir: string; metricsListen?: string; heartbeat: string; allowPublicAddress?: boolean; fingerprints?: string | boolean; user?: string }) => {
      // First: a signal from here on is a stop (or reload) carried out once the sensor runs, never the default action.
      const signals = startupSignals();
      const detection = parseDetectionFlags(o);
      const heartbeatMs = parseHeartbeat(o.heartbeat, '--heartbeat');
      const ringMiB = o.ringSize === undefined ? defaultRingMiB(o.capture) : parsePositiveInt(o.ringSize, '--ring-size', 4096);
      const metricsListen = o.metricsListen === undefined ? undefined : parseMetricsListen(o.metricsListen);
      const interfaces = o.interface.length > 0 ? o.interface : ['any'];
      // Before the policy is loaded: that alone opens dozens of module files.
      const { openFilesNeeded, openFilesProblem } = await import('../sensor/open-files.js');
      const metricsFiles = metricsListen ? (await import('../metrics/metrics-server.js')).DEFAULT_METRICS_LIMITS.maxConnections + 1 : 0;
      const fdProblem = openFilesProblem(openFilesNeeded(interfaces.length, metricsFiles));
      if (fdProblem) throw new CliError(fdProblem, ExitCode.FAILURE);
      const host: HostChoice = o.host === undefined ? { kind: 'this-host' } : { kind: 'this-host', name: parseHostName(o.host, '--host') };
      const policy = await policyFrom(o.policy, host);
      const fingerprints = await fingerprintsFrom(o.fingerprints);
      const { runCommand } = await import('./run-command.js');
      setExit(await runCommand({
        ...detection,
        ...(fingerprints ? { fingerprints } : {}),
        policy,
        policyFile: o.policy,
        loadPolicy: async (file) => policyFrom(file, host), // a reload re-selects
        interfaces,
        allowPublicAddress: o.allowPublicAddress === true,
        stateDir: o.stateDir,
        ringMiB,
        capture: o.capture,
        delivery: o,
        metricsListen,
        heartbeatMs,
        user: o.user,
        signals,
      }));
    });

  program
    .command('status')
    .description('print the running sensor\'s policy, port statuses, capture counters and alarm counts (JSON)')
    .option('--state-dir <dir>', 'directory of the status socket', '/run/honeyport')
    .action(async (o: { stateDir: string }) => {
      const { queryStatus } = await import('../sensor/control-socket.js');
      try {
        process.stdout.write(await queryStatus(o.stateDir));
      } catch (err) {
        throw new CliError((err as Error).message, ExitCode.FAILURE);
      }
    });

  const policy = program.command('policy').description('print or validate policies');
  policy
    .command('recommend')
    .description("print the recommended policy for a host OS: ports that only the other OS family offers")
    .addOption(new Option('--os <os>', 'host operating system').choices(['linux', 'windows']).makeOptionMandatory())
    .option('--name <name>', 'policy name')
    .action(async (o: { os: OsType; name?: string }) => {
      const { recommendCommand } = await import('./policy-command.js');
      process.stdout.write(recommendCommand(o.os, o.name));
    });
  policy
    .command('check')
    .description('validate a policy file; prints a summary, or each problem with its field path; with --host, which policy of a fleet file that host gets')
    .argument('<file>', 'policy file (YAML or JSON)')
    .option('--host <name>', 'the host to choose a fleet file\'s policy for')
    .addOption(new Option('--address <ip>', 'with --host: an address of that host (repeatable)').argParser(collect).default([], 'none'))
    .action(async (file: string, o: { host?: string; address: string[] }) => {
      const host = parseNamedHost(o);
      const { checkCommand } = await import('./policy-command.js');
      process.stdout.write(`${await checkCommand(file, host)}\n`);
    });
  return program;
}

function describe(err: unknown): { message: string; code: number } {
  if (err instanceof CliError) return { message: err.message, code: err.exitCode };
  if (err instanceof PolicyError) return { message: err.message, code: ExitCode.USAGE };
  if (err instanceof Error && (err.name === 'ConfigError' || err.name === 'PolicySelectionError')) return { message: err.message, code: ExitCode.USAGE };
  const e = err as NodeJS.ErrnoException;
  if (e && typeof e.code === 'string' && typeof e.message === 'string') return { message: e.message, code: ExitCode.FAILURE };
  // A bug: still one line, with where it happened (the first stack frame) for the report.
  const where = err instanceof Error ? /\n\s+at (.*)/.exec(err.stack ?? '')?.[1] : undefined;
  return { message: `internal error: ${String(err)}${where ? ` (at ${where})` : ''}`, code: ExitCode.FAILURE };
}

async function main(argv: string[]): Promise<number> {
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    // replay and run (their stdout sink) listen too: for them a broken stdout is an output failure, counted and exit 1.
    if (process.stdout.listenerCount('error') > 1) return;
    // Elsewhere a closed pipe (`| head`) is the reader saying it has enough.
    process.exit(err.code === 'EPIPE' ? ExitCode.OK : ExitCode.FAILURE);
  });
  let exitCode: number = ExitCode.OK;
  const program = buildProgram((code) => { exitCode = code; });
  try {
    await program.parseAsync(argv);
  } catch (err) {
    if (err instanceof CommanderError) {
      // Help and version are exit 0; parse errors were already printed by commander.
      return err.exitCode === 0 ? ExitCode.OK : ExitCode.USAGE;
    }
    const { message, code } = describe(err);
    // Messages echo input (paths, entries, parser text): escaped and cut, so one line stays one line.
    process.stderr.write(`honeyport: ${escapeForMessage(message, MAX_MESSAGE)}\n`);
    return code;
  }
  return exitCode;
}

// Not a top-level await: the bundle (packaging/bundle.mjs) is a CommonJS script, which has none.
void main(process.argv).then((code) => { process.exitCode = code; });

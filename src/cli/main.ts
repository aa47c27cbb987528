#!/usr/bin/env node
/** honeyport command line: one line per error, exit codes from exit-codes.ts. */
import { Command, CommanderError, Option } from 'commander';
import type { OsType, Policy } from '../policy/policy.js';
import { PolicyError } from '../policy/policy-error.js';
import { defaultPolicy } from '../policy/recommended.js';
import { CliError, ExitCode } from './exit-codes.js';
import { addDeliveryOptions, type DeliveryFlags } from './delivery-options.js';
import { parseDetectionFlags, parsePositiveInt } from './parse-options.js';
import { packageVersion } from './version.js';
import { DEFAULT_NEW_SOURCE_RATE } from '../detect/detector.js';
import { CAPTURE_BACKENDS, defaultCaptureBackend, type CaptureBackend } from '../capture/capture-backend.js';

/** zod and yaml cost ~100 ms to load: only pay for them when a policy file is read. */
async function policyFrom(file: string | undefined): Promise<Policy> {
  if (!file) return defaultPolicy();
  const { loadPolicyFile } = await import('../policy/load.js');
  return loadPolicyFile(file);
}

const EXIT_CODES_HELP = `
Exit codes:
  0  success (also after SIGTERM/SIGINT for run)
  1  runtime failure: an input could not be read, an output failed, no decoy
     port could be held, no packet socket (needs root or CAP_NET_RAW)
  2  bad command line, invalid policy or sensor config, unreachable or
     misconfigured sink, host not eligible (OS type, public address)
  3  a capture was damaged (alarms up to the damage were still written)`;

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
    .argument('<files...>', 'capture files, replayed as one timeline in the order given')
    .option('-p, --policy <file>', 'policy file (YAML or JSON); default: the recommended Linux policy')
    .option('-w, --window <duration>', 'deduplication window (e.g. 60s, 5m)', '60s')
    .addOption(new Option('-s, --server-address <addr>', 'count only probes to this destination (repeatable)').argParser(collect).default([], 'any destination'))
    .option('--max-tracked-keys <n>', 'probe keys tracked at once; beyond it probes are summed into flood alarms', '100000')
    .option('--new-source-rate <n>', 'new sources per second per decoy port that get their own alarm (burst: 10 s worth); beyond it probes are summed into flood alarms', String(DEFAULT_NEW_SOURCE_RATE))
    .option('-q, --quiet', 'no run summary on stderr')
    .option('--no-progress', 'no progress line on a terminal'))
    .addHelpText('after', EXIT_CODES_HELP)
    .action(async (files: string[], o: DeliveryFlags & { policy?: string; window: string; serverAddress: string[]; maxTrackedKeys: string; newSourceRate: string; quiet?: boolean; progress: boolean }) => {
      const detection = parseDetectionFlags(o);
      const policy = await policyFrom(o.policy);
      const { replayCommand } = await import('./replay-command.js');
      setExit(await replayCommand({ files, ...detection, policy, summary: !o.quiet, progress: o.progress, delivery: o }));
    });

  addDeliveryOptions(program
    .command('run')
    .description('run the sensor: hold the policy\'s ports open as decoys, capture probes of them (also half-open SYN scans) and print alarms as ECS JSON lines on stdout; SIGHUP reloads the policy, SIGTERM/SIGINT flush and stop')
    .option('-p, --policy <file>', 'policy file (YAML or JSON), re-read on SIGHUP; default: the recommended Linux policy')
    .addOption(new Option('-i, --interface <name>', 'capture on this interface (repeatable)').argParser(collect).default([], '"any": every interface'))
    .option('-w, --window <duration>', 'deduplication window (e.g. 60s, 5m)', '60s')
    .addOption(new Option('-s, --server-address <addr>', 'count only probes to this destination (repeatable)').argParser(collect).default([], 'any destination'))
    .option('--max-tracked-keys <n>', 'probe keys tracked at once; beyond it probes are summed into flood alarms', '100000')
    .option('--new-source-rate <n>', 'new sources per second per decoy port that get their own alarm (burst: 10 s worth); beyond it probes are summed into flood alarms', String(DEFAULT_NEW_SOURCE_RATE))
    .option('--ring-size <MiB>', 'capture ring size per interface, MiB', '64')
    .addOption(new Option('--capture <backend>', 'capture backend: afpacket (Linux) or pcap (libpcap/Npcap through the cap package)').choices(CAPTURE_BACKENDS).default(defaultCaptureBackend()))
    .option('--state-dir <dir>', 'directory of the status socket', '/run/honeyport')
    .option('--allow-public-address', 'run even though the host has a public (globally routable) address'))
    .addHelpText('after', EXIT_CODES_HELP)
    .action(async (o: DeliveryFlags & { policy?: string; interface: string[]; window: string; serverAddress: string[]; maxTrackedKeys: string; newSourceRate: string; ringSize: string; capture: CaptureBackend; stateDir: string; allowPublicAddress?: boolean }) => {
      const detection = parseDetectionFlags(o);
      const ringMiB = parsePositiveInt(o.ringSize, '--ring-size', 4096);
      const policy = await policyFrom(o.policy);
      const { runCommand } = await import('./run-command.js');
      setExit(await runCommand({
        ...detection,
        policy,
        policyFile: o.policy,
        loadPolicy: async (file) => policyFrom(file),
        interfaces: o.interface.length > 0 ? o.interface : ['any'],
        allowPublicAddress: o.allowPublicAddress === true,
        stateDir: o.stateDir,
        ringMiB,
        capture: o.capture,
        delivery: o,
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
    .description('validate a policy file; prints a summary, or each problem with its field path')
    .argument('<file>', 'policy file (YAML or JSON)')
    .action(async (file: string) => {
      const { checkCommand } = await import('./policy-command.js');
      process.stdout.write(`${await checkCommand(file)}\n`);
    });
  return program;
}

function describe(err: unknown): { message: string; code: number } {
  if (err instanceof CliError) return { message: err.message, code: err.exitCode };
  if (err instanceof PolicyError) return { message: err.message, code: ExitCode.USAGE };
  if (err instanceof Error && err.name === 'ConfigError') return { message: err.message, code: ExitCode.USAGE };
  const e = err as NodeJS.ErrnoException;
  if (e && typeof e.code === 'string' && typeof e.message === 'string') return { message: e.message, code: ExitCode.FAILURE };
  return { message: `internal error: ${(err as Error)?.stack ?? String(err)}`, code: ExitCode.FAILURE };
}

async function main(argv: string[]): Promise<number> {
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    // A closed pipe (`| head`) is the reader saying it has enough.
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
    process.stderr.write(`honeyport: ${message}\n`);
    return code;
  }
  return exitCode;
}

process.exitCode = await main(process.argv);

/** `honeyport replay`: alarms from pcap/pcapng files, as the sensor would have raised them. */
import { hostname } from 'node:os';
import { basename } from 'node:path';
import { EcsFormatter, type FormatContext } from '../deliver/format-ecs.js';
import { LineWriter } from '../deliver/line-writer.js';
import type { Alarm } from '../alarm/alarm.js';
import { deliveryConfig, wantsDelivery, type DeliveryFlags } from './delivery-options.js';
import { replay, type ReplayResult } from '../pipeline/replay.js';
import type { DetectionSettings } from '../pipeline/detection-settings.js';
import { ExitCode } from './exit-codes.js';
import { Progress } from './progress.js';
import { packageVersion } from './version.js';

export interface ReplayCommandOptions extends DetectionSettings {
  readonly files: readonly string[];
  readonly summary: boolean;
  readonly progress: boolean;
  readonly delivery: DeliveryFlags;
  /** How long the sinks may take to deliver what is left before the command ends. */
  readonly drainTimeoutMs: number;
}

/** How the output ended: the summary lines for stderr, and whether any alarm was lost. */
interface OutputResult {
  readonly lines: string[];
  /** One-line problems to print even with --quiet (a broken stdout). */
  readonly errors: string[];
  readonly lostAny: boolean;
}

/** Where alarms go: plain stdout lines, or the delivery sinks (queues, retries, spool). */
interface AlarmOutput {
  publish(alarm: Alarm): void;
  afterBatch(): Promise<void> | void;
  finish(): Promise<OutputResult>;
}

function stdoutOutput(ctx: FormatContext): AlarmOutput {
  const out = new LineWriter(process.stdout);
  const ecs = new EcsFormatter(ctx);
  // The reader of stdout may leave (`| head -1`): an output failure, not a crash.
  let broken: string | undefined;
  let unwritten = 0;
  process.stdout.on('error', (err: NodeJS.ErrnoException) => (broken ??= err.code ?? err.message));
  const guard = async (p: Promise<void>): Promise<void> => p.catch((err: NodeJS.ErrnoException) => void (broken ??= err.code ?? err.message));
  return {
    publish: (alarm) => {
      if (broken) unwritten++;
      else out.write(ecs.format(alarm).json);
    },
    afterBatch: () => (!broken && out.shouldFlush ? guard(out.flush()) : undefined),
    finish: async () => {
      if (!broken) await guard(out.flush());
      const errors = broken ? [`stdout closed (${broken}): ${unwritten > 0 ? `${unwritten} alarms and ` : ''}whatever was buffered not written`] : [];
      return { lines: [], errors, lostAny: broken !== undefined };
    },
  };
}

async function deliveryOutput(flags: DeliveryFlags, ctx: FormatContext, drainMs: number): Promise<AlarmOutput> {
  const { Delivery } = await import('../deliver/delivery.js');
  const delivery = await Delivery.open(await deliveryConfig(flags), ctx);
  return {
    publish: (alarm) => delivery.publish(alarm),
    afterBatch: () => delivery.waitForRoom(),
    finish: async () => {
      await delivery.close(drainMs);
      const stats = delivery.stats();
      const lines = stats.map((s) => {
        const recovered = s.recovered ? ` + ${s.recovered} from the spool of a previous run` : '';
        const notices = s.notices ? `, ${s.notices} loss notice${s.notices === 1 ? '' : 's'} delivered` : '';
        return `sink ${s.sink}: ${s.produced} alarms${recovered} = ${s.delivered} delivered + ${s.dropped} dropped + ${s.queued} left in the spool (${s.retried} retried${notices})`;
      });
      return { lines, errors: [], lostAny: stats.some((s) => s.dropped > 0) };
    },
  };
}

function rate(n: number, seconds: number): string {
  const r = n / Math.max(seconds, 1e-9);
  return r >= 1e6 ? `${(r / 1e6).toFixed(2)} M` : r >= 1e3 ? `${(r / 1e3).toFixed(1)} k` : r.toFixed(0);
}

export function summaryLine(r: ReplayResult, alarms: number, floods: number): string {
  const d = r.decode;
  return (
    `honeyport: ${r.files} file${r.files === 1 ? '' : 's'}, ${r.packets} packets in ${r.seconds.toFixed(3)} s ` +
    `(${rate(r.packets, r.seconds)} packets/s): ${r.detect.probes} probes, ${alarms} alarms` +
    `${floods ? ` (${floods} flood)` : ''}, ${r.detect.whitelisted} whitelisted, ${d.malformed} malformed, ` +
    `${d.truncated} cut by snap length, ${d.reassembled} reassembled, ${r.damaged.length} damaged`
  );
}

export async function replayCommand(o: ReplayCommandOptions): Promise<number> {
  const ctx: FormatContext = {
    ruleName: o.policy.name,
    observer: { hostname: hostname(), version: packageVersion() },
    inputs: o.files.map((f) => (f === '-' ? 'stdin' : basename(f))),
    mode: 'replay',
  };
  const output = wantsDelivery(o.delivery) ? await deliveryOutput(o.delivery, ctx, o.drainTimeoutMs) : stdoutOutput(ctx);
  let alarms = 0;
  let floods = 0;
  const progress = new Progress();
  const result = await replay({
    files: o.files,
    detection: o,
    onAlarm: (alarm) => {
      alarms++;
      if (alarm.action === 'honeypot-flood') floods++;
      output.publish(alarm);
    },
    afterBatch: () => output.afterBatch(),
    ...(o.progress && progress.enabled
      ? {
          onProgress: (file: string, read: number, total: number | undefined, packets: number) =>
            progress.update(() => `replay ${basename(file)}: ${total ? `${((100 * read) / total).toFixed(0)}% ` : ''}${packets} packets, ${alarms} alarms`),
        }
      : {}),
  });
  const out = await output.finish();
  progress.clear();
  for (const err of result.damaged) process.stderr.write(`honeyport: ${err.message}\n`);
  for (const err of out.errors) process.stderr.write(`honeyport: ${err}\n`);
  if (o.summary) {
    process.stderr.write(`${summaryLine(result, alarms, floods)}\n`);
    for (const line of out.lines) process.stderr.write(`honeyport: ${line}\n`);
  }
  // A lost alarm is an output failure, which outranks a damaged input.
  if (out.lostAny) return ExitCode.FAILURE;
  return result.damaged.length > 0 ? ExitCode.DAMAGED_INPUT : ExitCode.OK;
}

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
}

/** Where alarms go: plain stdout lines, or the delivery sinks (queues, retries, spool). */
interface AlarmOutput {
  publish(alarm: Alarm): void;
  afterBatch(): Promise<void> | void;
  finish(): Promise<string[]>;
}

function stdoutOutput(ctx: FormatContext): AlarmOutput {
  const out = new LineWriter(process.stdout);
  const ecs = new EcsFormatter(ctx);
  return {
    publish: (alarm) => out.write(ecs.format(alarm).json),
    afterBatch: () => (out.shouldFlush ? out.flush() : undefined),
    finish: async () => {
      await out.flush();
      return [];
    },
  };
}

async function deliveryOutput(flags: DeliveryFlags, ctx: FormatContext): Promise<AlarmOutput> {
  const { Delivery } = await import('../deliver/delivery.js');
  const delivery = await Delivery.open(await deliveryConfig(flags), ctx);
  return {
    publish: (alarm) => delivery.publish(alarm),
    afterBatch: () => delivery.waitForRoom(),
    finish: async () => {
      await delivery.close(30_000);
      return delivery.stats().map((s) => `sink ${s.sink}: ${s.delivered} delivered, ${s.retried} retried, ${s.spooled} spooled, ${s.dropped} dropped, ${s.queued} still queued`);
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
  const output = wantsDelivery(o.delivery) ? await deliveryOutput(o.delivery, ctx) : stdoutOutput(ctx);
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
  const sinkLines = await output.finish();
  progress.clear();
  for (const err of result.damaged) process.stderr.write(`honeyport: ${err.message}\n`);
  if (o.summary) {
    process.stderr.write(`${summaryLine(result, alarms, floods)}\n`);
    for (const line of sinkLines) process.stderr.write(`honeyport: ${line}\n`);
  }
  return result.damaged.length > 0 ? ExitCode.DAMAGED_INPUT : ExitCode.OK;
}

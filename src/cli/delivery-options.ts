/** `--output`, `--config`, `--spool-*`: where alarms go, for `run` and `replay`. */
import { Option, type Command } from 'commander';
import type { DeliveryConfig } from '../config/sensor-config.js';

export interface DeliveryFlags {
  readonly output: string[];
  readonly config?: string;
  readonly spoolDir?: string;
  readonly spoolMaxBytes?: string;
}

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

export function addDeliveryOptions(cmd: Command): Command {
  return cmd
    .addOption(
      new Option(
        '-o, --output <spec>',
        'where alarms go (repeatable): stdout | file:PATH[?rotate=100MiB&keep=5] | syslog+udp|tcp|tls://HOST[:PORT][?ca=FILE&cert=FILE&key=FILE] | http(s)://URL | splunk+https://URL?token_env=VAR | elasticsearch+https://URL/_bulk?index=NAME; each takes format=ecs|eve',
      )
        .argParser(collect)
        .default([], 'stdout'),
    )
    .option('-c, --config <file>', 'sensor config file (YAML) with sinks and spool; --output flags replace its sinks')
    .option('--spool-dir <dir>', 'disk spool per sink, so nothing is lost while a SIEM is down or across restarts (default: in memory)')
    .option('--spool-max-bytes <size>', 'spool bound per sink, e.g. 256MiB; the oldest alarms beyond it are dropped with an alarm saying so');
}

/** True when the user asked for anything but plain stdout. */
export function wantsDelivery(f: DeliveryFlags): boolean {
  return f.output.length > 0 || f.config !== undefined || f.spoolDir !== undefined;
}

export async function deliveryConfig(f: DeliveryFlags): Promise<DeliveryConfig> {
  const { deliveryConfigFromFlags } = await import('../config/output-flag.js');
  const spoolOpts = { ...(f.spoolDir ? { spoolDir: f.spoolDir } : {}), ...(f.spoolMaxBytes ? { spoolMaxBytes: f.spoolMaxBytes } : {}) };
  if (f.config === undefined) return deliveryConfigFromFlags(f.output, spoolOpts);
  const { loadSensorConfig } = await import('../config/sensor-config.js');
  const fromFile = await loadSensorConfig(f.config);
  const sinks = f.output.length > 0 ? deliveryConfigFromFlags(f.output, spoolOpts).sinks : fromFile.sinks;
  const spool = {
    ...fromFile.spool,
    ...(f.spoolDir ? { dir: f.spoolDir } : {}),
    ...(f.spoolMaxBytes ? { maxBytes: deliveryConfigFromFlags([], spoolOpts).spool.maxBytes } : {}),
  };
  return { sinks, spool };
}

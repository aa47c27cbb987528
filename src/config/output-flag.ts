/**
 * `--output SPEC` (repeatable) → the same sink documents the config file
 * holds, validated by the same schema. Each sink type parses its own specs
 * (src/deliver/sinks/<type>/index.ts):
 *   stdout
 *   file:PATH[?format=eve&rotate=100MiB&keep=5]
 *   syslog+udp://HOST[:PORT]   syslog+tcp://HOST[:PORT]   syslog+tls://HOST[:PORT]?ca=FILE[&cert=FILE&key=FILE]
 *       (&facility=local0&app_name=NAME&hostname=NAME&server_name=NAME)
 *   http(s)://…                       generic webhook (NDJSON POST)
 *   splunk+https://HOST:8088/services/collector/event?token_env=VAR   (or token_file=FILE)
 *   elasticsearch+https://HOST:9200/_bulk?index=NAME[&auth=apikey|basic|bearer&secret_env=VAR]
 * Every spec takes format=ecs|eve and name=NAME. Secrets are named, never
 * given: token_env/secret_env name an environment variable, *_file a file.
 */
import { SINK_TYPES } from '../deliver/sinks/registry.js';
import { badSpec } from '../deliver/sinks/spec-query.js';
import { parseSensorConfig, type DeliveryConfig } from './sensor-config.js';

export interface OutputFlagOptions {
  readonly spoolDir?: string;
  /** Bytes or a size string ("256MiB"). */
  readonly spoolMaxBytes?: number | string;
}

/** One `--output` value → a raw sink document (validated later with the others). */
export function sinkDocumentFromSpec(spec: string): Record<string, unknown> {
  for (const t of SINK_TYPES) {
    const doc = t.fromSpec(spec);
    if (doc) return doc;
  }
  const forms = SINK_TYPES.map((t) => t.specForms);
  return badSpec(spec, `expected ${forms.slice(0, -1).join(', ')} or ${forms[forms.length - 1]}`);
}

/** `--output` values (none: stdout) and spool flags → a validated DeliveryConfig. */
export function deliveryConfigFromFlags(outputs: readonly string[], options: OutputFlagOptions = {}): DeliveryConfig {
  const sinks = outputs.length ? outputs.map(sinkDocumentFromSpec) : [{ type: 'stdout' }];
  const spool = {
    ...(options.spoolDir ? { dir: options.spoolDir } : {}),
    ...(options.spoolMaxBytes !== undefined ? { max_bytes: options.spoolMaxBytes } : {}),
  };
  return parseSensorConfig({ sinks, spool }, '--output');
}

/**
 * The sensor config file (YAML): where alarms go. Validated with zod; errors
 * name the field path, one per problem:
 *   sinks[1].port: must be between 1 and 65535
 * Secrets never appear in this file or on the command line, only the name of
 * the environment variable or file that holds them.
 */
import { z } from 'zod';
import { ConfigError } from './config-error.js';
import { joinProblems, schemaProblems } from '../validation/schema-problems.js';
import { readBoundedText } from '../validation/bounded-read.js';
import { readYamlDocument } from '../validation/yaml-document.js';
import { path, size } from '../deliver/sinks/fields.js';
import { SINK_TYPES, sinkType, type SinkConfig } from '../deliver/sinks/registry.js';

/** A sensor config lists a few sinks: anything near this size is not one. */
const MAX_CONFIG_BYTES = 1024 * 1024;

export type { OutputFormat, QueueConfig, SecretSource, SinkBase, TlsConfig } from '../deliver/sinks/fields.js';
export type { SinkConfig } from '../deliver/sinks/registry.js';
export type { StdoutSinkConfig } from '../deliver/sinks/stdout/index.js';
export type { FileSinkConfig } from '../deliver/sinks/file/index.js';
export type { SyslogSinkConfig, SyslogTransport } from '../deliver/sinks/syslog/index.js';
export type { AuthScheme, HttpAuth, HttpPreset, HttpSinkConfig } from '../deliver/sinks/http/index.js';
export { FACILITIES } from '../deliver/sinks/syslog/index.js';

export interface SpoolConfig {
  /** Without a directory, undeliverable alarms wait in memory (lost on restart). */
  readonly dir?: string;
  readonly maxBytes: number;
}

export interface DeliveryConfig {
  readonly sinks: readonly SinkConfig[];
  readonly spool: SpoolConfig;
}

export const DEFAULT_SPOOL_BYTES = 256 * 2 ** 20;

const sink = z.discriminatedUnion('type', SINK_TYPES.map((t) => t.schema) as unknown as Parameters<typeof z.discriminatedUnion>[1], {
  error: `type must be ${SINK_TYPES.map((t) => t.type).join(', ').replace(/, ([^,]*)$/, ' or $1')}`,
});

export const sensorConfigSchema = z.strictObject({
  sinks: z.array(sink, { error: 'must be a list of sinks' }).min(1, { error: 'must list at least one sink' }).max(32).prefault([{ type: 'stdout' }]),
  spool: z.strictObject({ dir: path.optional(), max_bytes: size('spool.max_bytes').default(DEFAULT_SPOOL_BYTES) }).prefault({}),
});

/** What every sink document has once its own schema parsed it. */
type RawSink = { readonly type: string; readonly name?: string | undefined; readonly format: SinkConfig['format'] };

function sinkConfig(raw: RawSink): SinkConfig {
  const t = sinkType(raw.type);
  return t.config(raw, { name: raw.name ?? t.defaultName(raw), format: raw.format }) as SinkConfig;
}

/** Semantic checks zod cannot express per field. */
function crossChecks(sinks: readonly SinkConfig[]): string[] {
  const problems: string[] = [];
  const seen = new Map<string, number>();
  sinks.forEach((s, i) => {
    const first = seen.get(s.name);
    if (first !== undefined) problems.push(`sinks[${i}].name: "${s.name}" is already used by sinks[${first}] (give each sink its own name)`);
    else seen.set(s.name, i);
    problems.push(...(sinkType(s.type).crossCheck?.(s, `sinks[${i}]`) ?? []));
    if (s.type === 'stdout' && i !== sinks.findIndex((x) => x.type === 'stdout')) problems.push(`sinks[${i}]: stdout can be listed only once`);
  });
  return problems;
}

/** Validates a parsed YAML/JSON document; `source` names it in errors. */
export function parseSensorConfig(doc: unknown, source: string): DeliveryConfig {
  const result = sensorConfigSchema.safeParse(doc ?? {});
  if (!result.success) {
    const problems = schemaProblems(result.error.issues, '(config)');
    throw new ConfigError(source, `invalid config: ${joinProblems(problems)}`);
  }
  const sinks = (result.data.sinks as RawSink[]).map(sinkConfig);
  const problems = crossChecks(sinks);
  if (problems.length) throw new ConfigError(source, `invalid config: ${joinProblems(problems)}`);
  const spool = result.data.spool;
  return { sinks, spool: { ...(spool.dir ? { dir: spool.dir } : {}), maxBytes: spool.max_bytes } };
}

export async function loadSensorConfig(file: string): Promise<DeliveryConfig> {
  let text: string;
  try {
    text = await readBoundedText(file, MAX_CONFIG_BYTES);
  } catch (err) {
    throw new ConfigError(file, `cannot read config: ${(err as Error).message}`);
  }
  const read = readYamlDocument(text);
  if (!read.ok) throw new ConfigError(file, `not valid YAML: ${read.problem}`);
  return parseSensorConfig(read.doc, file);
}

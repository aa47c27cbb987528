/**
 * The sensor config file (YAML): where alarms go. Validated with zod; errors
 * name the field path, one per problem:
 *   sinks[1].port: must be between 1 and 65535
 * Secrets never appear in this file or on the command line, only the name of
 * the environment variable or file that holds them.
 */
import { z } from 'zod';
import { ConfigError } from './config-error.js';
import { parseSize } from './size.js';
import { joinProblems, schemaProblems } from '../validation/schema-problems.js';
import { readBoundedText } from '../validation/bounded-read.js';
import { readYamlDocument } from '../validation/yaml-document.js';

/** A sensor config lists a few sinks: anything near this size is not one. */
const MAX_CONFIG_BYTES = 1024 * 1024;

export type OutputFormat = 'ecs' | 'eve';
export type SyslogTransport = 'udp' | 'tcp' | 'tls';
export type HttpPreset = 'webhook' | 'splunk-hec' | 'elasticsearch-bulk';
export type AuthScheme = 'splunk' | 'bearer' | 'basic' | 'apikey' | 'header';

/** Where a secret is read from at open(): never the secret itself. */
export type SecretSource = { readonly env: string } | { readonly file: string };

export interface TlsConfig {
  readonly caFile?: string;
  readonly certFile?: string;
  readonly keyFile?: string;
  /** SNI and the name the certificate must carry; defaults to the host. */
  readonly serverName?: string;
}

export interface QueueConfig {
  /** Batches in flight at once; 1 (the default) keeps alarms in order. */
  readonly concurrency: number;
  /** At most this many batches per second (undefined: unlimited). */
  readonly batchesPerSecond?: number;
  readonly batchRecords: number;
  /** Records held in memory before the sink spills to its spool. */
  readonly maxQueued: number;
  readonly retryInitialMs: number;
  readonly retryMaxMs: number;
}

interface SinkBase {
  /** Unique; names the sink in stats, errors and its spool directory. */
  readonly name: string;
  readonly format: OutputFormat;
  readonly queue: QueueConfig;
}

export interface StdoutSinkConfig extends SinkBase {
  readonly type: 'stdout';
}

export interface FileSinkConfig extends SinkBase {
  readonly type: 'file';
  readonly path: string;
  /** Rotate when the file would exceed maxBytes, keeping `keep` old files (path.1 … path.N). */
  readonly rotate?: { readonly maxBytes: number; readonly keep: number };
}

export interface SyslogSinkConfig extends SinkBase {
  readonly type: 'syslog';
  readonly transport: SyslogTransport;
  readonly host: string;
  readonly port: number;
  /** Numeric facility (local0 = 16). */
  readonly facility: number;
  readonly appName: string;
  /** HOSTNAME field; defaults to the machine's host name. */
  readonly hostname?: string;
  readonly tls?: TlsConfig;
}

export interface HttpAuth {
  readonly scheme: AuthScheme;
  /** Header name for scheme `header` (e.g. X-Api-Key). */
  readonly header?: string;
  readonly secret: SecretSource;
}

export interface HttpSinkConfig extends SinkBase {
  readonly type: 'http';
  readonly preset: HttpPreset;
  readonly url: string;
  readonly auth?: HttpAuth;
  /** Elasticsearch index, or Splunk index. */
  readonly index?: string;
  /** Splunk sourcetype. */
  readonly sourcetype: string;
  readonly tls?: TlsConfig;
  readonly timeoutMs: number;
}

export type SinkConfig = StdoutSinkConfig | FileSinkConfig | SyslogSinkConfig | HttpSinkConfig;

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

export const FACILITIES: Record<string, number> = {
  kern: 0, user: 1, mail: 2, daemon: 3, auth: 4, syslog: 5, lpr: 6, news: 7, uucp: 8, cron: 9,
  authpriv: 10, ftp: 11, ntp: 12, security: 13, console: 14, solaris_cron: 15,
  local0: 16, local1: 17, local2: 18, local3: 19, local4: 20, local5: 21, local6: 22, local7: 23,
};

const size = (what: string) =>
  z.union([z.number(), z.string()], { error: `must be a size (bytes, or e.g. "64MiB")` }).transform((v, ctx) => {
    const n = parseSize(v);
    if (n === undefined || n < 1) {
      ctx.addIssue({ code: 'custom', message: `must be a positive size in bytes, or e.g. "64MiB" (${what})` });
      return z.NEVER;
    }
    return n;
  });

const positiveInt = (max: number) =>
  z
    .number({ error: 'must be a number' })
    .int({ error: 'must be a whole number' })
    .min(1, { error: `must be between 1 and ${max}` })
    .max(max, { error: `must be between 1 and ${max}` });

const path = z.string({ error: 'must be a path' }).min(1, { error: 'must not be empty' });
/** Header fields of RFC 5424 are PRINTUSASCII without spaces. */
const syslogToken = (max: number) =>
  z
    .string({ error: 'must be a string' })
    .regex(/^[\x21-\x7e]+$/, { error: 'must be printable ASCII without spaces' })
    .max(max, { error: `must be at most ${max} characters` });

const format = z.enum(['ecs', 'eve'], { error: 'must be "ecs" or "eve"' }).default('ecs');
const name = z
  .string({ error: 'must be a string' })
  .regex(/^[\w.-]{1,64}$/, { error: 'may contain only letters, digits and _ . - (at most 64)' })
  .optional();

const queue = z
  .strictObject({
    concurrency: positiveInt(64).default(1),
    batches_per_second: positiveInt(100_000).optional(),
    batch_records: positiveInt(100_000).optional(),
    max_queued: positiveInt(10_000_000).default(10_000),
    retry_initial_ms: positiveInt(600_000).default(100),
    retry_max_ms: positiveInt(3_600_000).default(30_000),
  })
  .prefault({});

const tls = z
  .strictObject({
    ca_file: path.optional(),
    cert_file: path.optional(),
    key_file: path.optional(),
    server_name: z.string({ error: 'must be a host name' }).min(1).optional(),
  })
  .superRefine((t, ctx) => {
    if ((t.cert_file === undefined) !== (t.key_file === undefined)) {
      ctx.addIssue({ code: 'custom', path: [t.cert_file ? 'key_file' : 'cert_file'], message: 'cert_file and key_file go together' });
    }
  });

const secret = z
  .strictObject({ env: z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, { error: 'must be an environment variable name' }).optional(), file: path.optional() })
  .superRefine((s, ctx) => {
    if ((s.env === undefined) === (s.file === undefined)) ctx.addIssue({ code: 'custom', message: 'give exactly one of env or file' });
  });

const auth = z
  .strictObject({
    scheme: z.enum(['splunk', 'bearer', 'basic', 'apikey', 'header'], { error: 'must be splunk, bearer, basic, apikey or header' }),
    header: z.string().regex(/^[A-Za-z0-9-]+$/, { error: 'must be a header name' }).optional(),
    secret,
  })
  .superRefine((a, ctx) => {
    if (a.scheme === 'header' && !a.header) ctx.addIssue({ code: 'custom', path: ['header'], message: 'scheme "header" needs a header name' });
  });

const host = z.string({ error: 'must be a host name or address' }).min(1, { error: 'must not be empty' });
const port = positiveInt(65535);

const stdoutSink = z.strictObject({ type: z.literal('stdout'), name, format, queue });
const fileSink = z.strictObject({
  type: z.literal('file'),
  name,
  format,
  queue,
  path,
  rotate: z.strictObject({ max_bytes: size('rotate.max_bytes'), keep: positiveInt(1000).default(5) }).optional(),
});
const syslogSink = z.strictObject({
  type: z.literal('syslog'),
  name,
  format,
  queue,
  transport: z.enum(['udp', 'tcp', 'tls'], { error: 'must be udp, tcp or tls' }),
  host,
  port: port.optional(),
  facility: z
    .union([z.string(), z.number()])
    .transform((v, ctx) => {
      const n = typeof v === 'number' ? v : FACILITIES[v];
      if (n === undefined || !Number.isInteger(n) || n < 0 || n > 23) {
        ctx.addIssue({ code: 'custom', message: 'must be a facility name (local0 … local7, user, daemon, auth, …) or 0-23' });
        return z.NEVER;
      }
      return n;
    })
    .default(16),
  app_name: syslogToken(48).default('honeyport'),
  hostname: syslogToken(255).optional(),
  tls: tls.optional(),
});
const httpSink = z.strictObject({
  type: z.literal('http'),
  name,
  format,
  queue,
  preset: z.enum(['webhook', 'splunk-hec', 'elasticsearch-bulk'], { error: 'must be webhook, splunk-hec or elasticsearch-bulk' }).default('webhook'),
  url: z.string({ error: 'must be a URL' }).refine((u) => /^https?:$/.test(safeUrl(u)?.protocol ?? ''), { error: 'must be an http:// or https:// URL' }),
  auth: auth.optional(),
  index: z.string().min(1).optional(),
  sourcetype: z.string().min(1).default('honeyport:alarm'),
  tls: tls.optional(),
  timeout_ms: positiveInt(600_000).default(10_000),
});

function safeUrl(u: string): URL | undefined {
  try {
    return new URL(u);
  } catch {
    return undefined;
  }
}

const sink = z.discriminatedUnion('type', [stdoutSink, fileSink, syslogSink, httpSink], {
  error: 'type must be stdout, file, syslog or http',
});

export const sensorConfigSchema = z.strictObject({
  sinks: z.array(sink, { error: 'must be a list of sinks' }).min(1, { error: 'must list at least one sink' }).max(32).prefault([{ type: 'stdout' }]),
  spool: z.strictObject({ dir: path.optional(), max_bytes: size('spool.max_bytes').default(DEFAULT_SPOOL_BYTES) }).prefault({}),
});

type RawSink = z.output<typeof sink>;
type RawQueue = z.output<typeof queue>;
type RawTls = z.output<typeof tls>;

function tlsConfig(t: RawTls | undefined): TlsConfig | undefined {
  if (!t) return undefined;
  return {
    ...(t.ca_file ? { caFile: t.ca_file } : {}),
    ...(t.cert_file ? { certFile: t.cert_file } : {}),
    ...(t.key_file ? { keyFile: t.key_file } : {}),
    ...(t.server_name ? { serverName: t.server_name } : {}),
  };
}

function queueConfig(q: RawQueue, defaultBatch: number): QueueConfig {
  return {
    concurrency: q.concurrency,
    ...(q.batches_per_second ? { batchesPerSecond: q.batches_per_second } : {}),
    batchRecords: q.batch_records ?? defaultBatch,
    maxQueued: q.max_queued,
    retryInitialMs: q.retry_initial_ms,
    retryMaxMs: Math.max(q.retry_max_ms, q.retry_initial_ms),
  };
}

const DEFAULT_SYSLOG_PORT: Record<SyslogTransport, number> = { udp: 514, tcp: 514, tls: 6514 };

/** A stable default name, so a restart with the same config finds the same spool. */
function defaultName(s: RawSink): string {
  const clean = (t: string): string => t.replace(/[^\w.-]+/g, '_').replace(/^_+|_+$/g, '').slice(0, 48);
  switch (s.type) {
    case 'stdout':
      return 'stdout';
    case 'file':
      return `file-${clean(s.path)}`;
    case 'syslog':
      return `syslog-${s.transport}-${clean(s.host)}-${s.port ?? DEFAULT_SYSLOG_PORT[s.transport]}`;
    case 'http': {
      const u = new URL(s.url);
      return `http-${clean(`${u.hostname}-${u.port || (u.protocol === 'https:' ? 443 : 80)}${u.pathname}`)}`;
    }
  }
}

function sinkConfig(s: RawSink): SinkConfig {
  const base = { name: s.name ?? defaultName(s), format: s.format };
  switch (s.type) {
    case 'stdout':
      return { ...base, type: 'stdout', queue: queueConfig(s.queue, 4096) };
    case 'file':
      return {
        ...base,
        type: 'file',
        queue: queueConfig(s.queue, 4096),
        path: s.path,
        ...(s.rotate ? { rotate: { maxBytes: s.rotate.max_bytes, keep: s.rotate.keep } } : {}),
      };
    case 'syslog': {
      const t = tlsConfig(s.tls);
      return {
        ...base,
        type: 'syslog',
        queue: queueConfig(s.queue, s.transport === 'udp' ? 100 : 1000),
        transport: s.transport,
        host: s.host,
        port: s.port ?? DEFAULT_SYSLOG_PORT[s.transport],
        facility: s.facility,
        appName: s.app_name,
        ...(s.hostname ? { hostname: s.hostname } : {}),
        ...(t ? { tls: t } : {}),
      };
    }
    case 'http': {
      const t = tlsConfig(s.tls);
      const a = s.auth;
      return {
        ...base,
        type: 'http',
        queue: queueConfig(s.queue, 500),
        preset: s.preset,
        url: s.url,
        ...(a ? { auth: { scheme: a.scheme, ...(a.header ? { header: a.header } : {}), secret: a.secret.env ? { env: a.secret.env } : { file: a.secret.file! } } } : {}),
        ...(s.index ? { index: s.index } : {}),
        sourcetype: s.sourcetype,
        ...(t ? { tls: t } : {}),
        timeoutMs: s.timeout_ms,
      };
    }
  }
}

/** Semantic checks zod cannot express per field. */
function crossChecks(sinks: readonly SinkConfig[]): string[] {
  const problems: string[] = [];
  const seen = new Map<string, number>();
  sinks.forEach((s, i) => {
    const first = seen.get(s.name);
    if (first !== undefined) problems.push(`sinks[${i}].name: "${s.name}" is already used by sinks[${first}] (give each sink its own name)`);
    else seen.set(s.name, i);
    if (s.type === 'syslog' && s.transport !== 'tls' && s.tls) problems.push(`sinks[${i}].tls: only for transport tls`);
    if (s.type === 'http' && s.tls && !s.url.startsWith('https:')) problems.push(`sinks[${i}].tls: only for https:// URLs`);
    if (s.type === 'http' && s.preset === 'splunk-hec' && s.auth?.scheme !== 'splunk') {
      problems.push(`sinks[${i}].auth: splunk-hec needs auth {scheme: splunk, secret: {env: VAR}} (the HEC token)`);
    }
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
  const sinks = result.data.sinks.map(sinkConfig);
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

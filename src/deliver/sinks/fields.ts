/**
 * Schema pieces every sink type shares (name, format, queue, TLS, secrets)
 * and their conversion from the snake_case file form to the config objects
 * the code uses. A sink folder composes its schema from these.
 */
import { z } from 'zod';
import { parseSize } from '../../config/size.js';

export type OutputFormat = 'ecs' | 'eve';

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

export interface SinkBase {
  /** Unique; names the sink in stats, errors and its spool directory. */
  readonly name: string;
  readonly format: OutputFormat;
  readonly queue: QueueConfig;
}

export const size = (what: string) =>
  z.union([z.number(), z.string()], { error: `must be a size (bytes, or e.g. "64MiB")` }).transform((v, ctx) => {
    const n = parseSize(v);
    if (n === undefined || n < 1) {
      ctx.addIssue({ code: 'custom', message: `must be a positive size in bytes, or e.g. "64MiB" (${what})` });
      return z.NEVER;
    }
    return n;
  });

export const positiveInt = (max: number) =>
  z
    .number({ error: 'must be a number' })
    .int({ error: 'must be a whole number' })
    .min(1, { error: `must be between 1 and ${max}` })
    .max(max, { error: `must be between 1 and ${max}` });

export const path = z.string({ error: 'must be a path' }).min(1, { error: 'must not be empty' });
/** Header fields of RFC 5424 are PRINTUSASCII without spaces. */
export const syslogToken = (max: number) =>
  z
    .string({ error: 'must be a string' })
    .regex(/^[\x21-\x7e]+$/, { error: 'must be printable ASCII without spaces' })
    .max(max, { error: `must be at most ${max} characters` });

export const format = z.enum(['ecs', 'eve'], { error: 'must be "ecs" or "eve"' }).default('ecs');
export const name = z
  .string({ error: 'must be a string' })
  .regex(/^[\w.-]{1,64}$/, { error: 'may contain only letters, digits and _ . - (at most 64)' })
  .optional();

export const queue = z
  .strictObject({
    concurrency: positiveInt(64).default(1),
    batches_per_second: positiveInt(100_000).optional(),
    batch_records: positiveInt(100_000).optional(),
    max_queued: positiveInt(10_000_000).default(10_000),
    retry_initial_ms: positiveInt(600_000).default(100),
    retry_max_ms: positiveInt(3_600_000).default(30_000),
  })
  .prefault({});

export const tls = z
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

export const secret = z
  .strictObject({ env: z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, { error: 'must be an environment variable name' }).optional(), file: path.optional() })
  .superRefine((s, ctx) => {
    if ((s.env === undefined) === (s.file === undefined)) ctx.addIssue({ code: 'custom', message: 'give exactly one of env or file' });
  });

export const host = z.string({ error: 'must be a host name or address' }).min(1, { error: 'must not be empty' });
export const port = positiveInt(65535);

/** The fields every sink document has. */
export const common = { name, format, queue };

type RawQueue = z.output<typeof queue>;
type RawTls = z.output<typeof tls>;

export function tlsConfig(t: RawTls | undefined): TlsConfig | undefined {
  if (!t) return undefined;
  return {
    ...(t.ca_file ? { caFile: t.ca_file } : {}),
    ...(t.cert_file ? { certFile: t.cert_file } : {}),
    ...(t.key_file ? { keyFile: t.key_file } : {}),
    ...(t.server_name ? { serverName: t.server_name } : {}),
  };
}

export function queueConfig(q: RawQueue, defaultBatch: number): QueueConfig {
  return {
    concurrency: q.concurrency,
    ...(q.batches_per_second ? { batchesPerSecond: q.batches_per_second } : {}),
    batchRecords: q.batch_records ?? defaultBatch,
    maxQueued: q.max_queued,
    retryInitialMs: q.retry_initial_ms,
    retryMaxMs: Math.max(q.retry_max_ms, q.retry_initial_ms),
  };
}

/** A file name or URL path turned into a sink-name fragment. */
export const cleanName = (t: string): string => t.replace(/[^\w.-]+/g, '_').replace(/^_+|_+$/g, '').slice(0, 48);

export function safeUrl(u: string): URL | undefined {
  try {
    return new URL(u);
  } catch {
    return undefined;
  }
}

/** The HTTP sink: batched NDJSON POSTs to a webhook, a Splunk HEC or an Elasticsearch _bulk endpoint. */
import { z } from 'zod';
import { cleanName, common, positiveInt, queueConfig, safeUrl, secret, tls, tlsConfig, type SecretSource, type SinkBase, type TlsConfig } from '../fields.js';
import type { SinkType } from '../sink-type.js';
import { badSpec, commonKeys, secretFrom, tlsFrom } from '../spec-query.js';

export type HttpPreset = 'webhook' | 'splunk-hec' | 'elasticsearch-bulk';
export type AuthScheme = 'splunk' | 'bearer' | 'basic' | 'apikey' | 'header';

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

/** Query keys honeyport reads; any other query parameter stays in the URL. */
const HTTP_KEYS = ['format', 'name', 'ca', 'cert', 'key', 'server_name', 'token_env', 'token_file', 'auth', 'secret_env', 'secret_file', 'header', 'index', 'sourcetype'];

const auth = z
  .strictObject({
    scheme: z.enum(['splunk', 'bearer', 'basic', 'apikey', 'header'], { error: 'must be splunk, bearer, basic, apikey or header' }),
    header: z.string().regex(/^[A-Za-z0-9-]+$/, { error: 'must be a header name' }).optional(),
    secret,
  })
  .superRefine((a, ctx) => {
    if (a.scheme === 'header' && !a.header) ctx.addIssue({ code: 'custom', path: ['header'], message: 'scheme "header" needs a header name' });
  });

const schema = z.strictObject({
  type: z.literal('http'),
  ...common,
  preset: z.enum(['webhook', 'splunk-hec', 'elasticsearch-bulk'], { error: 'must be webhook, splunk-hec or elasticsearch-bulk' }).default('webhook'),
  url: z.string({ error: 'must be a URL' }).refine((u) => /^https?:$/.test(safeUrl(u)?.protocol ?? ''), { error: 'must be an http:// or https:// URL' }),
  auth: auth.optional(),
  index: z.string().min(1).optional(),
  sourcetype: z.string().min(1).default('honeyport:alarm'),
  tls: tls.optional(),
  timeout_ms: positiveInt(600_000).default(10_000),
});

export const httpSink: SinkType<z.output<typeof schema>, HttpSinkConfig> = {
  type: 'http',
  schema,
  specForms: 'http(s)://URL, splunk+https://URL or elasticsearch+https://URL',
  fromSpec(spec) {
    const h = /^(?:(splunk|elasticsearch|es)\+)?(https?:\/\/.*)$/.exec(spec);
    if (!h) return undefined;
    let u: URL;
    try {
      u = new URL(h[2]!);
    } catch {
      return badSpec(spec, 'not a valid URL');
    }
    const p = new URLSearchParams(u.searchParams);
    for (const k of HTTP_KEYS) u.searchParams.delete(k);
    const preset = h[1] === 'splunk' ? 'splunk-hec' : h[1] ? 'elasticsearch-bulk' : 'webhook';
    const t = tlsFrom(p);
    let a: Record<string, unknown> | undefined;
    if (preset === 'splunk-hec') {
      const s = secretFrom(p, 'token_env', 'token_file');
      if (!s) badSpec(spec, 'splunk needs token_env=VAR or token_file=FILE (the HEC token; never the token itself)');
      a = { scheme: 'splunk', secret: s };
    } else {
      const s = secretFrom(p, 'secret_env', 'secret_file') ?? secretFrom(p, 'token_env', 'token_file');
      if (s) a = { scheme: p.get('auth') ?? (preset === 'elasticsearch-bulk' ? 'apikey' : 'bearer'), secret: s, ...(p.has('header') ? { header: p.get('header') } : {}) };
    }
    return {
      type: 'http',
      preset,
      url: u.toString(),
      ...commonKeys(p),
      ...(a ? { auth: a } : {}),
      ...(p.has('index') ? { index: p.get('index') } : {}),
      ...(p.has('sourcetype') ? { sourcetype: p.get('sourcetype') } : {}),
      ...(t ? { tls: t } : {}),
    };
  },
  defaultName(raw) {
    const u = new URL(raw.url);
    return `http-${cleanName(`${u.hostname}-${u.port || (u.protocol === 'https:' ? 443 : 80)}${u.pathname}`)}`;
  },
  config(raw, base) {
    const t = tlsConfig(raw.tls);
    const a = raw.auth;
    return {
      ...base,
      type: 'http',
      queue: queueConfig(raw.queue, 500),
      preset: raw.preset,
      url: raw.url,
      ...(a ? { auth: { scheme: a.scheme, ...(a.header ? { header: a.header } : {}), secret: a.secret.env ? { env: a.secret.env } : { file: a.secret.file! } } } : {}),
      ...(raw.index ? { index: raw.index } : {}),
      sourcetype: raw.sourcetype,
      ...(t ? { tls: t } : {}),
      timeoutMs: raw.timeout_ms,
    };
  },
  crossCheck(c, at) {
    const problems: string[] = [];
    if (c.tls && !c.url.startsWith('https:')) problems.push(`${at}.tls: only for https:// URLs`);
    if (c.preset === 'splunk-hec' && c.auth?.scheme !== 'splunk') problems.push(`${at}.auth: splunk-hec needs auth {scheme: splunk, secret: {env: VAR}} (the HEC token)`);
    return problems;
  },
  transport: async (c) => new (await import('./transport.js')).HttpTransport(c),
};

/**
 * `--output SPEC` (repeatable) → the same sink documents the config file
 * holds, validated by the same schema. Specs:
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
import { ConfigError } from './config-error.js';
import { parseSensorConfig, type DeliveryConfig } from './sensor-config.js';

export interface OutputFlagOptions {
  readonly spoolDir?: string;
  /** Bytes or a size string ("256MiB"). */
  readonly spoolMaxBytes?: number | string;
}

/** Query keys honeyport reads; any other query parameter stays in an HTTP URL. */
const HTTP_KEYS = ['format', 'name', 'ca', 'cert', 'key', 'server_name', 'token_env', 'token_file', 'auth', 'secret_env', 'secret_file', 'header', 'index', 'sourcetype'];

function splitQuery(spec: string): [string, URLSearchParams] {
  const q = spec.indexOf('?');
  return q < 0 ? [spec, new URLSearchParams()] : [spec.slice(0, q), new URLSearchParams(spec.slice(q + 1))];
}

function common(p: URLSearchParams): Record<string, unknown> {
  return { ...(p.has('format') ? { format: p.get('format') } : {}), ...(p.has('name') ? { name: p.get('name') } : {}) };
}

function tlsFrom(p: URLSearchParams): Record<string, string> | undefined {
  const t: Record<string, string> = {};
  if (p.has('ca')) t.ca_file = p.get('ca')!;
  if (p.has('cert')) t.cert_file = p.get('cert')!;
  if (p.has('key')) t.key_file = p.get('key')!;
  if (p.has('server_name')) t.server_name = p.get('server_name')!;
  return Object.keys(t).length ? t : undefined;
}

function secretFrom(p: URLSearchParams, envKey: string, fileKey: string): Record<string, string> | undefined {
  if (p.has(envKey)) return { env: p.get(envKey)! };
  if (p.has(fileKey)) return { file: p.get(fileKey)! };
  return undefined;
}

function bad(spec: string, problem: string): never {
  throw new ConfigError(`--output ${spec}`, problem);
}

/** One `--output` value → a raw sink document (validated later with the others). */
export function sinkDocumentFromSpec(spec: string): Record<string, unknown> {
  if (spec === 'stdout' || spec.startsWith('stdout?')) return { type: 'stdout', ...common(splitQuery(spec)[1]) };
  if (spec.startsWith('file:')) {
    const [path, p] = splitQuery(spec.slice(5));
    if (!path) bad(spec, 'file: needs a path, e.g. file:/var/log/honeyport/alarms.json');
    return {
      type: 'file',
      path,
      ...common(p),
      ...(p.has('rotate') ? { rotate: { max_bytes: p.get('rotate'), ...(p.has('keep') ? { keep: Number(p.get('keep')) } : {}) } } : {}),
    };
  }
  const m = /^syslog\+(udp|tcp|tls):\/\/(.*)$/.exec(spec);
  if (m) {
    let u: URL;
    try {
      u = new URL(`syslog://${m[2]}`);
    } catch {
      return bad(spec, `expected syslog+${m[1]}://HOST[:PORT] (port 1-65535)`);
    }
    if (!u.hostname) bad(spec, 'syslog needs a host');
    const p = u.searchParams;
    const tls = tlsFrom(p);
    return {
      type: 'syslog',
      transport: m[1],
      host: u.hostname.replace(/^\[|\]$/g, ''),
      ...(u.port ? { port: Number(u.port) } : {}),
      ...common(p),
      ...(p.has('facility') ? { facility: /^\d+$/.test(p.get('facility')!) ? Number(p.get('facility')) : p.get('facility') } : {}),
      ...(p.has('app_name') ? { app_name: p.get('app_name') } : {}),
      ...(p.has('hostname') ? { hostname: p.get('hostname') } : {}),
      ...(tls ? { tls } : {}),
    };
  }
  const h = /^(?:(splunk|elasticsearch|es)\+)?(https?:\/\/.*)$/.exec(spec);
  if (h) {
    let u: URL;
    try {
      u = new URL(h[2]!);
    } catch {
      return bad(spec, 'not a valid URL');
    }
    const p = new URLSearchParams(u.searchParams);
    for (const k of HTTP_KEYS) u.searchParams.delete(k);
    const preset = h[1] === 'splunk' ? 'splunk-hec' : h[1] ? 'elasticsearch-bulk' : 'webhook';
    const tls = tlsFrom(p);
    let auth: Record<string, unknown> | undefined;
    if (preset === 'splunk-hec') {
      const secret = secretFrom(p, 'token_env', 'token_file');
      if (!secret) bad(spec, 'splunk needs token_env=VAR or token_file=FILE (the HEC token; never the token itself)');
      auth = { scheme: 'splunk', secret };
    } else {
      const secret = secretFrom(p, 'secret_env', 'secret_file') ?? secretFrom(p, 'token_env', 'token_file');
      if (secret) auth = { scheme: p.get('auth') ?? (preset === 'elasticsearch-bulk' ? 'apikey' : 'bearer'), secret, ...(p.has('header') ? { header: p.get('header') } : {}) };
    }
    return {
      type: 'http',
      preset,
      url: u.toString(),
      ...common(p),
      ...(auth ? { auth } : {}),
      ...(p.has('index') ? { index: p.get('index') } : {}),
      ...(p.has('sourcetype') ? { sourcetype: p.get('sourcetype') } : {}),
      ...(tls ? { tls } : {}),
    };
  }
  return bad(spec, 'expected stdout, file:PATH, syslog+udp|tcp|tls://HOST:PORT, http(s)://URL, splunk+https://URL or elasticsearch+https://URL');
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

/** Helpers the sink types' `--output` parsers share: query strings, TLS and secret keys, errors. */
import { ConfigError } from '../../config/config-error.js';

export function splitQuery(spec: string): [string, URLSearchParams] {
  const q = spec.indexOf('?');
  return q < 0 ? [spec, new URLSearchParams()] : [spec.slice(0, q), new URLSearchParams(spec.slice(q + 1))];
}

/** format= and name=, which every spec takes. */
export function commonKeys(p: URLSearchParams): Record<string, unknown> {
  return { ...(p.has('format') ? { format: p.get('format') } : {}), ...(p.has('name') ? { name: p.get('name') } : {}) };
}

export function tlsFrom(p: URLSearchParams): Record<string, string> | undefined {
  const t: Record<string, string> = {};
  if (p.has('ca')) t.ca_file = p.get('ca')!;
  if (p.has('cert')) t.cert_file = p.get('cert')!;
  if (p.has('key')) t.key_file = p.get('key')!;
  if (p.has('server_name')) t.server_name = p.get('server_name')!;
  return Object.keys(t).length ? t : undefined;
}

export function secretFrom(p: URLSearchParams, envKey: string, fileKey: string): Record<string, string> | undefined {
  if (p.has(envKey)) return { env: p.get(envKey)! };
  if (p.has(fileKey)) return { file: p.get(fileKey)! };
  return undefined;
}

export function badSpec(spec: string, problem: string): never {
  throw new ConfigError(`--output ${spec}`, problem);
}

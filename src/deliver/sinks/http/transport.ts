/**
 * Batched NDJSON POSTs: a generic webhook, a Splunk HTTP Event Collector
 * (event envelopes, `Authorization: Splunk <token>`) or an Elasticsearch
 * `_bulk` endpoint (`create` actions with `_id` = event.id, so a re-sent
 * alarm is refused as a duplicate instead of indexed twice).
 * Uses node:http(s) with a keep-alive agent (global fetch cannot take a
 * private CA or client certificate without importing undici).
 */
import { Agent as HttpAgent, request as httpRequest, type IncomingMessage } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import { readFile } from 'node:fs/promises';
import { hostname as osHostname } from 'node:os';
import type { ConnectionOptions } from 'node:tls';
import { ConfigError } from '../../../config/config-error.js';
import type { HttpAuth, HttpSinkConfig } from './index.js';
import { PermanentError, type Formatted, type Transport } from '../../entry.js';
import { loadTlsOptions, probeReceiver } from '../tls-options.js';

const MAX_RESPONSE_BYTES = 1 << 20;
/** Statuses that mean "this body will never be accepted": retrying would block the sink forever. */
const PERMANENT = new Set([400, 413, 422]);

export async function resolveSecret(subject: string, auth: HttpAuth): Promise<string> {
  const s = auth.secret;
  if ('env' in s) {
    const v = process.env[s.env];
    if (!v) throw new ConfigError(subject, `environment variable ${s.env} (the ${auth.scheme} credential) is not set`);
    return v.trim();
  }
  let v: string;
  try {
    v = (await readFile(s.file, 'utf8')).trim();
  } catch (err) {
    throw new ConfigError(subject, `cannot read credential file ${s.file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  if (!v) throw new ConfigError(subject, `credential file ${s.file} is empty`);
  return v;
}

function authHeader(auth: HttpAuth, secret: string): [string, string] {
  switch (auth.scheme) {
    case 'splunk':
      return ['authorization', `Splunk ${secret}`];
    case 'bearer':
      return ['authorization', `Bearer ${secret}`];
    case 'basic':
      return ['authorization', `Basic ${Buffer.from(secret).toString('base64')}`];
    case 'apikey':
      return ['authorization', `ApiKey ${secret}`];
    case 'header':
      return [auth.header!.toLowerCase(), secret];
  }
}

interface BulkItem {
  [action: string]: { status?: number };
}

/** Elasticsearch answers 200 with per-item statuses; 409 is a duplicate already indexed. */
function bulkOutcome(body: string): number {
  let doc: { errors?: boolean; items?: BulkItem[] };
  try {
    doc = JSON.parse(body) as typeof doc;
  } catch {
    throw new Error('elasticsearch: unreadable _bulk response');
  }
  if (!doc.errors) return 0;
  let retry = 0;
  let rejected = 0;
  for (const item of doc.items ?? []) {
    const status = Object.values(item)[0]?.status ?? 0;
    if (status === 429 || status >= 500) retry++;
    // 409 = delivered: an id names one alarm's content (alarm/alarm-id), so the indexed document is this one.
    else if (status >= 400 && status !== 409) rejected++;
  }
  if (retry > 0) throw new Error(`elasticsearch: ${retry} items refused for now (429/5xx)`);
  return rejected;
}

export class HttpTransport implements Transport {
  private readonly url: URL;
  private readonly host = osHostname();
  private headers: Record<string, string> = {};
  private agent: HttpAgent | HttpsAgent | undefined;
  private tls: ConnectionOptions | undefined;

  constructor(private readonly c: HttpSinkConfig) {
    this.url = new URL(c.url);
  }

  encode(f: Formatted): string {
    switch (this.c.preset) {
      case 'splunk-hec': {
        const index = this.c.index ? `,"index":${JSON.stringify(this.c.index)}` : '';
        return `{"time":${(f.timeMicros / 1e6).toFixed(6)},"host":${JSON.stringify(this.host)},"source":"honeyport","sourcetype":${JSON.stringify(this.c.sourcetype)}${index},"event":${f.json}}`;
      }
      case 'elasticsearch-bulk':
        // The action line is built at send time; the spool keeps one line per alarm.
        return `${f.id} ${f.json}`;
      case 'webhook':
        return f.json;
    }
  }

  body(records: readonly string[]): string {
    if (this.c.preset !== 'elasticsearch-bulk') return `${records.join('\n')}\n`;
    const index = this.c.index ? `"_index":${JSON.stringify(this.c.index)},` : '';
    const parts: string[] = [];
    for (const r of records) {
      const sp = r.indexOf(' ');
      parts.push(`{"create":{${index}"_id":${JSON.stringify(r.slice(0, sp))}}}\n`, r.slice(sp + 1), '\n');
    }
    return parts.join('');
  }

  async open(): Promise<void> {
    const c = this.c;
    if (c.preset === 'elasticsearch-bulk' && !c.index && /^\/?_bulk\/?$/.test(this.url.pathname)) {
      throw new ConfigError(c.name, 'elasticsearch-bulk needs an index (index: NAME, or a URL ending in /NAME/_bulk)');
    }
    const headers: Record<string, string> = { 'content-type': c.preset === 'splunk-hec' ? 'application/json' : 'application/x-ndjson' };
    if (c.auth) {
      const [k, v] = authHeader(c.auth, await resolveSecret(c.name, c.auth));
      headers[k] = v;
    }
    this.headers = headers;
    const https = this.url.protocol === 'https:';
    const host = this.url.hostname.replace(/^\[|\]$/g, '');
    const port = Number(this.url.port || (https ? 443 : 80));
    if (https) this.tls = await loadTlsOptions(c.name, host, c.tls);
    const agentOptions = { keepAlive: true, maxSockets: c.queue.concurrency };
    this.agent = https ? new HttpsAgent({ ...agentOptions, ...this.tls }) : new HttpAgent(agentOptions);
    // Last: a receiver that is merely down leaves a usable transport (the sink may start and spool).
    await probeReceiver(c.name, host, port, this.tls);
  }

  send(records: readonly string[]): Promise<number> {
    const body = Buffer.from(this.body(records));
    const https = this.url.protocol === 'https:';
    let deadline: NodeJS.Timeout | undefined;
    return new Promise<number>((resolve, reject) => {
      // timeout_ms bounds the whole exchange, not the idle time between bytes: a receiver that trickles its answer must not hold the sink.
      deadline = setTimeout(() => req.destroy(new Error(`no complete answer within ${this.c.timeoutMs} ms`)), this.c.timeoutMs);
      const req = (https ? httpsRequest : httpRequest)(
        this.url,
        { method: 'POST', agent: this.agent, headers: { ...this.headers, 'content-length': String(body.length) } },
        (res: IncomingMessage) => {
          const chunks: Buffer[] = [];
          let size = 0;
          res.on('data', (d: Buffer) => {
            if (size < MAX_RESPONSE_BYTES) chunks.push(d);
            size += d.length;
          });
          res.on('error', reject);
          res.on('end', () => {
            const status = res.statusCode ?? 0;
            const text = Buffer.concat(chunks).toString('utf8');
            if (status >= 200 && status < 300) {
              try {
                resolve(this.c.preset === 'elasticsearch-bulk' ? bulkOutcome(text) : 0);
              } catch (err) {
                reject(err);
              }
              return;
            }
            const detail = `HTTP ${status}${text ? `: ${text.slice(0, 200).replace(/\s+/g, ' ')}` : ''}`;
            reject(PERMANENT.has(status) ? new PermanentError(detail) : new Error(detail));
          });
        },
      );
      req.on('error', reject);
      // A response cut off by the deadline errors on the response, not the request.
      req.on('response', (res: IncomingMessage) => res.on('aborted', () => reject(new Error(`no complete answer within ${this.c.timeoutMs} ms`))));
      req.end(body);
    }).finally(() => clearTimeout(deadline));
  }

  async close(): Promise<void> {
    this.agent?.destroy();
  }
}

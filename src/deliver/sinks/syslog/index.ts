/** The syslog sink: RFC 5424 over UDP, TCP (RFC 6587 octet counting) or TLS (RFC 5425). */
import { z } from 'zod';
import { cleanName, common, host, port, queueConfig, syslogToken, tls, tlsConfig, type SinkBase, type TlsConfig } from '../fields.js';
import type { SinkType } from '../sink-type.js';
import { badSpec, commonKeys, tlsFrom } from '../spec-query.js';

export type SyslogTransport = 'udp' | 'tcp' | 'tls';

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
  /** UDP: the largest datagram sent (RFC 5426); larger alarms are shortened (fit-message.ts). */
  readonly maxMessageBytes: number;
}

export const FACILITIES: Record<string, number> = {
  kern: 0, user: 1, mail: 2, daemon: 3, auth: 4, syslog: 5, lpr: 6, news: 7, uucp: 8, cron: 9,
  authpriv: 10, ftp: 11, ntp: 12, security: 13, console: 14, solaris_cron: 15,
  local0: 16, local1: 17, local2: 18, local3: 19, local4: 20, local5: 21, local6: 22, local7: 23,
};

const DEFAULT_PORT: Record<SyslogTransport, number> = { udp: 514, tcp: 514, tls: 6514 };

const schema = z.strictObject({
  type: z.literal('syslog'),
  ...common,
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
  max_message_bytes: z.number({ error: 'must be a number' }).int().min(480, { error: 'must be at least 480 (RFC 5426)' }).max(65_000, { error: 'must be at most 65000' }).default(2048),
});

export const syslogSink: SinkType<z.output<typeof schema>, SyslogSinkConfig> = {
  type: 'syslog',
  schema,
  specForms: 'syslog+udp|tcp|tls://HOST:PORT',
  fromSpec(spec) {
    const m = /^syslog\+(udp|tcp|tls):\/\/(.*)$/.exec(spec);
    if (!m) return undefined;
    let u: URL;
    try {
      u = new URL(`syslog://${m[2]}`);
    } catch {
      return badSpec(spec, `expected syslog+${m[1]}://HOST[:PORT] (port 1-65535)`);
    }
    if (!u.hostname) badSpec(spec, 'syslog needs a host');
    const p = u.searchParams;
    const t = tlsFrom(p);
    return {
      type: 'syslog',
      transport: m[1],
      host: u.hostname.replace(/^\[|\]$/g, ''),
      ...(u.port ? { port: Number(u.port) } : {}),
      ...commonKeys(p),
      ...(p.has('facility') ? { facility: /^\d+$/.test(p.get('facility')!) ? Number(p.get('facility')) : p.get('facility') } : {}),
      ...(p.has('app_name') ? { app_name: p.get('app_name') } : {}),
      ...(p.has('hostname') ? { hostname: p.get('hostname') } : {}),
      ...(p.has('max_message_bytes') ? { max_message_bytes: Number(p.get('max_message_bytes')) } : {}),
      ...(t ? { tls: t } : {}),
    };
  },
  defaultName: (raw) => `syslog-${raw.transport}-${cleanName(raw.host)}-${raw.port ?? DEFAULT_PORT[raw.transport]}`,
  config(raw, base) {
    const t = tlsConfig(raw.tls);
    return {
      ...base,
      type: 'syslog',
      queue: queueConfig(raw.queue, raw.transport === 'udp' ? 100 : 1000),
      transport: raw.transport,
      host: raw.host,
      port: raw.port ?? DEFAULT_PORT[raw.transport],
      facility: raw.facility,
      appName: raw.app_name,
      ...(raw.hostname ? { hostname: raw.hostname } : {}),
      ...(t ? { tls: t } : {}),
      maxMessageBytes: raw.max_message_bytes,
    };
  },
  crossCheck: (c, at) => [
    ...(c.transport !== 'tls' && c.tls ? [`${at}.tls: only for transport tls`] : []),
    ...(c.transport !== 'udp' && c.maxMessageBytes !== 2048 ? [`${at}.max_message_bytes: only for transport udp (TCP and TLS frame messages of any size)`] : []),
  ],
  async transport(c) {
    const t = await import('./transport.js');
    return c.transport === 'udp' ? new t.SyslogUdpTransport(c) : new t.SyslogStreamTransport(c);
  },
};

/**
 * Syslog (RFC 5424) with the alarm JSON as MSG: over UDP (one message per
 * datagram), TCP with RFC 6587 octet counting, or TLS (RFC 5425, same
 * framing, CA-verified, optional client certificate).
 *
 * Syslog has no acknowledgement: a message counts as delivered once the
 * kernel has it. Messages in the socket buffer when the receiver dies are
 * lost; RELP would close that gap.
 */
import { lookup } from 'node:dns/promises';
import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { hostname as osHostname } from 'node:os';
import type { Socket } from 'node:net';
import type { ConnectionOptions } from 'node:tls';
import { ConfigError } from '../../../config/config-error.js';
import type { SyslogSinkConfig } from './index.js';
import { PermanentError, type EntryKind, type Formatted, type Transport } from '../../entry.js';
import { fitJson } from './fit-message.js';
import { connectSocket, describeError, loadTlsOptions, probeReceiver } from '../tls-options.js';

/** Syslog severities: warning for a probe, critical for a high-severity alarm, error for a loss notice. */
const SEVERITY = { medium: 4, high: 2 } as const;
const MSGID: Record<EntryKind, string> = { probe: 'probe', flood: 'flood', loss: 'alarms-lost' };
const CONNECT_TIMEOUT_MS = 5000;
const WRITE_TIMEOUT_MS = 10_000;
/** From our FIN to giving up on the receiver's. */
const CLOSE_TIMEOUT_MS = 2000;

/** RFC 5424 header + MSG. TIMESTAMP is when honeyport wrote the message; the alarm time is in the JSON. */
export function syslogMessage(f: Formatted, facility: number, host: string, appName: string, procId: string, now: Date = new Date()): string {
  const severity = f.kind === 'loss' ? 3 : SEVERITY[f.severity];
  return `<${facility * 8 + severity}>1 ${now.toISOString()} ${host} ${appName} ${procId} ${MSGID[f.kind]} - ${f.json}`;
}

/** RFC 6587 octet counting: "<length in bytes> <message>". */
export function octetCounted(records: readonly string[]): Buffer {
  const parts: string[] = [];
  for (const r of records) parts.push(`${Buffer.byteLength(r)} `, r);
  return Buffer.from(parts.join(''));
}

abstract class SyslogBase implements Transport {
  private readonly host: string;
  private readonly procId = String(process.pid);

  constructor(protected readonly c: SyslogSinkConfig) {
    this.host = c.hostname ?? (osHostname().replace(/[^\x21-\x7e]/g, '') || '-');
  }

  encode(f: Formatted): string {
    return syslogMessage(f, this.c.facility, this.host, this.c.appName, this.procId);
  }

  abstract open(): Promise<void>;
  abstract send(records: readonly string[]): Promise<void>;
  abstract close(): Promise<void>;
}

export class SyslogStreamTransport extends SyslogBase {
  private socket: Socket | undefined;
  private tls: ConnectionOptions | undefined;

  async open(): Promise<void> {
    if (this.c.transport === 'tls') this.tls = await loadTlsOptions(this.c.name, this.c.host, this.c.tls);
    await probeReceiver(this.c.name, this.c.host, this.c.port, this.tls, CONNECT_TIMEOUT_MS);
  }

  private async connection(): Promise<Socket> {
    if (this.socket && !this.socket.destroyed) return this.socket;
    const s = await connectSocket(this.c.host, this.c.port, this.tls, CONNECT_TIMEOUT_MS);
    s.setNoDelay(false);
    s.setKeepAlive(true, 30_000);
    // The receiver never talks back; closing or erroring means reconnect on the next batch.
    s.on('error', () => s.destroy());
    s.on('data', () => undefined);
    s.on('close', () => {
      if (this.socket === s) this.socket = undefined;
    });
    this.socket = s;
    return s;
  }

  async send(records: readonly string[]): Promise<void> {
    const s = await this.connection();
    const chunk = octetCounted(records);
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        s.destroy();
        reject(new Error(`write to ${this.c.host}:${this.c.port} timed out`));
      }, WRITE_TIMEOUT_MS);
      const onClose = (): void => {
        clearTimeout(timer);
        reject(new Error(`connection to ${this.c.host}:${this.c.port} closed`));
      };
      s.once('close', onClose);
      s.write(chunk, (err) => {
        clearTimeout(timer);
        s.off('close', onClose);
        if (err) {
          s.destroy();
          reject(err);
        } else resolve();
      });
    });
  }

  /**
   * Sends our FIN after the queued bytes and waits a bounded time for the
   * receiver's; a receiver that never closes its side would otherwise hold
   * the half-open socket, and the process, forever.
   */
  async close(): Promise<void> {
    const s = this.socket;
    this.socket = undefined;
    if (!s || s.destroyed) return;
    await new Promise<void>((resolve) => {
      const t = setTimeout(() => s.destroy(), CLOSE_TIMEOUT_MS);
      s.once('close', () => {
        clearTimeout(t);
        resolve();
      });
      s.end();
    });
  }
}

export class SyslogUdpTransport extends SyslogBase {
  private socket: UdpSocket | undefined;

  /** One datagram per message, at most max_message_bytes: optional fields give way first (fit-message.ts). */
  override encode(f: Formatted): string {
    const whole = super.encode(f);
    const max = this.c.maxMessageBytes;
    if (Buffer.byteLength(whole) <= max) return whole;
    const header = super.encode({ ...f, json: '' });
    return header + fitJson(f.json, Buffer.byteLength(header), max);
  }

  async open(): Promise<void> {
    let address: { address: string; family: number };
    try {
      address = await lookup(this.c.host);
    } catch (err) {
      throw new ConfigError(this.c.name, `cannot resolve ${this.c.host}: ${describeError(err)}`);
    }
    const s = createSocket(address.family === 6 ? 'udp6' : 'udp4');
    try {
      await new Promise<void>((resolve, reject) => {
        s.once('error', reject);
        s.connect(this.c.port, address.address, () => {
          s.off('error', reject);
          resolve();
        });
      });
    } catch (err) {
      s.close();
      throw new ConfigError(this.c.name, `cannot reach ${this.c.host}:${this.c.port}/udp: ${describeError(err)}`);
    }
    // ICMP errors surface as socket errors; the next send reports them.
    s.on('error', () => undefined);
    this.socket = s;
  }

  send(records: readonly string[]): Promise<void> {
    const s = this.socket!;
    // Checked before anything is sent, so the sink can split the batch and drop only the misfit.
    for (const r of records) {
      const n = Buffer.byteLength(r);
      if (n > this.c.maxMessageBytes) return Promise.reject(new PermanentError(`message of ${n} bytes does not fit max_message_bytes ${this.c.maxMessageBytes} even shortened`));
    }
    return new Promise((resolve, reject) => {
      let left = records.length;
      let failed = false;
      for (const r of records) {
        s.send(r, (err) => {
          if (failed) return;
          if (err) {
            failed = true;
            // A message too large for one datagram will never fit: do not retry it forever.
            const code = (err as NodeJS.ErrnoException).code;
            reject(code === 'EMSGSIZE' ? new PermanentError(`message too large for UDP (${r.length} bytes)`) : err);
          } else if (--left === 0) resolve();
        });
      }
      if (records.length === 0) resolve();
    });
  }

  async close(): Promise<void> {
    const s = this.socket;
    this.socket = undefined;
    if (s) await new Promise<void>((resolve) => s.close(() => resolve()));
  }
}

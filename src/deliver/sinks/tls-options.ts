/** TLS client options from config files, and the start-up reachability check shared by syslog and HTTP. */
import { readFile } from 'node:fs/promises';
import { isIP, connect as netConnect, type Socket } from 'node:net';
import { connect as tlsConnect, type ConnectionOptions } from 'node:tls';
import { ConfigError, UnreachableError } from '../../config/config-error.js';
import type { TlsConfig } from './fields.js';

async function readPem(subject: string, what: string, file: string): Promise<Buffer> {
  try {
    return await readFile(file);
  } catch (err) {
    throw new ConfigError(subject, `cannot read ${what} ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
}

/** Verification is always on; a private CA is added with ca_file, never by turning checks off. */
export async function loadTlsOptions(subject: string, host: string, t: TlsConfig | undefined): Promise<ConnectionOptions> {
  const name = t?.serverName ?? host;
  return {
    rejectUnauthorized: true,
    // SNI may not carry an IP address (RFC 6066); the certificate check still uses it.
    ...(isIP(name) ? {} : { servername: name }),
    ...(t?.caFile ? { ca: await readPem(subject, 'CA file', t.caFile) } : {}),
    ...(t?.certFile ? { cert: await readPem(subject, 'client certificate', t.certFile) } : {}),
    ...(t?.keyFile ? { key: await readPem(subject, 'client key', t.keyFile) } : {}),
  };
}

export function describeError(err: unknown): string {
  const e = err as NodeJS.ErrnoException;
  return e.code && !e.message.includes(e.code) ? `${e.message} (${e.code})` : e.message;
}

/** Errors of the TCP connect itself (our own connect timeout has no code). */
const UNREACHABLE = new Set(['ECONNREFUSED', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'EHOSTDOWN', 'ENETDOWN', 'EAI_AGAIN']);

/** Opens a TCP (and TLS, when `tls` is given) connection; rejects with the raw error. */
export function connectSocket(host: string, port: number, tls: ConnectionOptions | undefined, timeoutMs: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket: Socket = tls ? tlsConnect({ ...tls, host, port }) : netConnect({ host, port });
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`no connection within ${timeoutMs} ms`));
    }, timeoutMs);
    const fail = (err: Error): void => {
      clearTimeout(timer);
      socket.destroy();
      reject(err);
    };
    socket.once('error', fail);
    socket.once(tls ? 'secureConnect' : 'connect', () => {
      clearTimeout(timer);
      socket.off('error', fail);
      resolve(socket);
    });
  });
}

/**
 * Start-up check: the receiver accepts a connection (and its certificate
 * verifies). Over TLS 1.3 a server refuses a client certificate only after
 * the client's handshake is done, so the check waits `settleMs` for the
 * receiver to hang up.
 */
export async function probeReceiver(subject: string, host: string, port: number, tls: ConnectionOptions | undefined, timeoutMs = 5000, settleMs = 250): Promise<void> {
  let s: Socket;
  try {
    s = await connectSocket(host, port, tls, timeoutMs);
  } catch (err) {
    const what = tls ? 'TLS connection to' : 'cannot connect to';
    const code = (err as NodeJS.ErrnoException).code;
    // No TCP connection at all is an outage or a mistake; a handshake or certificate failure is always a mistake.
    const Unreachable = code === undefined || UNREACHABLE.has(code) ? UnreachableError : ConfigError;
    throw new Unreachable(subject, `${what} ${host}:${port} failed: ${describeError(err)}`);
  }
  if (!tls) {
    s.destroy();
    return;
  }
  const hungUp = await new Promise<string | undefined>((resolve) => {
    const t = setTimeout(() => resolve(undefined), settleMs);
    s.once('error', (err) => {
      clearTimeout(t);
      resolve(describeError(err));
    });
    s.once('end', () => {
      clearTimeout(t);
      resolve('closed by the receiver');
    });
    s.on('data', () => undefined);
  });
  s.destroy();
  if (hungUp) {
    const hint = tls.cert ? '' : ' (does it require a client certificate? give cert_file and key_file)';
    throw new ConfigError(subject, `TLS connection to ${host}:${port} was refused after the handshake: ${hungUp}${hint}`);
  }
}

/**
 * The `--metrics-listen HOST:PORT` value: an IPv4 address or a bracketed IPv6
 * address (no zone), a colon, and a port 1-65535 in decimal. Host names are
 * refused: a name may resolve to several addresses, or to a different one
 * after a restart, and the endpoint tells whoever reaches it which ports are
 * decoys, so where it listens must be exact.
 */
import { parseAddress, type Family } from '../net/address.js';

export interface ListenAddress {
  /** The address as Node's listen() takes it (no brackets). */
  readonly host: string;
  readonly family: Family;
  readonly port: number;
}

export type ListenAddressParse =
  | { readonly ok: true; readonly address: ListenAddress }
  | { readonly ok: false; readonly problem: string };

const FORM = 'an IPv4 address or an IPv6 address in brackets, a colon and a port 1-65535 (e.g. 127.0.0.1:9417 or [::1]:9417)';

export function parseListenAddress(text: string): ListenAddressParse {
  const m = /^(?:\[([^\]]*)\]|([^:[\]]*)):(\d{1,5})$/.exec(text);
  if (!m) return { ok: false, problem: `expected HOST:PORT: ${FORM}` };
  const host = m[1] ?? m[2]!;
  const port = Number(m[3]);
  const parsed = parseAddress(host);
  if (!parsed) return { ok: false, problem: `"${host}" is not an IP address; expected ${FORM}` };
  // An IPv6 address must be bracketed, and brackets hold only IPv6.
  if ((m[1] !== undefined) !== (parsed.family === 6)) return { ok: false, problem: `expected HOST:PORT: ${FORM}` };
  if (port < 1 || port > 65535) return { ok: false, problem: `port ${m[3]} is not from 1 to 65535` };
  return { ok: true, address: { host, family: parsed.family, port } };
}

/** `127.0.0.1:9417`, `[::1]:9417`. */
export function formatListenAddress(a: Pick<ListenAddress, 'host' | 'family' | 'port'>): string {
  return a.family === 6 ? `[${a.host}]:${a.port}` : `${a.host}:${a.port}`;
}

/**
 * Listening TCP sockets from /proc/net/tcp and /proc/net/tcp6. Read after an
 * EADDRINUSE and by the port holder's periodic check, so it favours bounded
 * work over speed: the file is read in chunks up to a byte cap (a busy host
 * can list millions of sockets).
 */
import { open } from 'node:fs/promises';
import { endianness } from 'node:os';

/** The kernel's TCP_LISTEN state number as printed in the `st` column. */
const TCP_LISTEN = 0x0a;

export interface ListeningSocket {
  /** 4 or 16 bytes in network order. */
  readonly address: Uint8Array;
  readonly port: number;
  /** The socket owner's uid (in the reader's user namespace). */
  readonly uid: number;
  readonly inode: number;
}

export interface ProcNetOptions {
  /** Stop reading after this many bytes of the file. */
  readonly maxBytes?: number;
  /** Byte order the kernel printed address words in; the host's own by default. */
  readonly littleEndian?: boolean;
}

export const DEFAULT_PROC_NET_MAX_BYTES = 32 * 1024 * 1024;

/** One port, or several (the port holder's periodic check reads all its ports in one pass). */
export type PortSelection = number | ReadonlySet<number>;

export const selected = (want: PortSelection, port: number): boolean => (typeof want === 'number' ? want === port : want.has(port));

/**
 * Parses one line of /proc/net/tcp{,6}; undefined for the header, malformed
 * lines and sockets that are not listening on `port`.
 */
export function parseListeningLine(
  line: string,
  want: PortSelection,
  littleEndian: boolean,
): ListeningSocket | undefined {
  const fields = line.trim().split(/\s+/);
  if (fields.length < 10 || !fields[0]!.endsWith(':')) return undefined;
  if (Number.parseInt(fields[3]!, 16) !== TCP_LISTEN) return undefined;
  const local = fields[1]!;
  const colon = local.indexOf(':');
  if (colon < 0) return undefined;
  const port = Number.parseInt(local.slice(colon + 1), 16);
  if (!selected(want, port)) return undefined;
  const address = decodeHexAddress(local.slice(0, colon), littleEndian);
  const uid = Number(fields[7]);
  const inode = Number(fields[9]);
  if (!address || !Number.isSafeInteger(uid) || uid < 0 || !Number.isSafeInteger(inode) || inode <= 0) return undefined;
  return { address, port, uid, inode };
}

/**
 * The kernel prints each 32-bit word of the address with %08X in host byte
 * order, so on little-endian hosts each group of 4 bytes comes out reversed.
 */
export function decodeHexAddress(hex: string, littleEndian: boolean): Uint8Array | undefined {
  if ((hex.length !== 8 && hex.length !== 32) || !/^[0-9A-Fa-f]+$/.test(hex)) return undefined;
  const out = new Uint8Array(hex.length / 2);
  for (let w = 0; w < hex.length / 8; w++) {
    const word = Number.parseInt(hex.slice(w * 8, w * 8 + 8), 16);
    for (let i = 0; i < 4; i++) {
      const shift = littleEndian ? 8 * i : 24 - 8 * i;
      out[w * 4 + i] = (word >>> shift) & 0xff;
    }
  }
  return out;
}

/** Listening sockets on `port` from one /proc/net file; empty when the file cannot be read. */
export async function readListeningSockets(
  path: string,
  port: PortSelection,
  options: ProcNetOptions = {},
): Promise<ListeningSocket[]> {
  return (await readListening(path, port, options)).sockets;
}

/**
 * The same, and whether the file was read to its end: a conclusion from a
 * socket's absence (a decoy no longer listening, a port freed) needs a
 * complete read — not one stopped by the byte cap or a read error.
 */
export async function readListening(
  path: string,
  port: PortSelection,
  options: ProcNetOptions = {},
): Promise<{ readonly sockets: ListeningSocket[]; readonly complete: boolean }> {
  const maxBytes = options.maxBytes ?? DEFAULT_PROC_NET_MAX_BYTES;
  const littleEndian = options.littleEndian ?? endianness() === 'LE';
  const found: ListeningSocket[] = [];
  let complete = false;
  let handle;
  try {
    handle = await open(path, 'r');
  } catch {
    return { sockets: found, complete };
  }
  try {
    const chunk = Buffer.allocUnsafe(64 * 1024);
    let pending = '';
    let total = 0;
    while (total < maxBytes) {
      const { bytesRead } = await handle.read(chunk, 0, chunk.length, null);
      if (bytesRead === 0) {
        complete = true;
        break;
      }
      total += bytesRead;
      const lines = (pending + chunk.toString('latin1', 0, bytesRead)).split('\n');
      pending = lines.pop()!;
      for (const line of lines) {
        const socket = parseListeningLine(line, port, littleEndian);
        if (socket) found.push(socket);
      }
    }
    const last = parseListeningLine(pending, port, littleEndian);
    if (last) found.push(last);
  } catch {
    // A read error mid-file leaves what was found so far; the lookup is best effort.
  } finally {
    await handle.close();
  }
  return { sockets: found, complete };
}

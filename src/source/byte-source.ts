/**
 * Byte sources for the capture reader: any Readable (a file's read stream,
 * standard input, a test stream), behind a gunzipper when the input starts
 * with the gzip magic.
 *
 * Files are read through a read stream rather than fs.read into the reader's
 * buffer: measured here on a 262 MB file in the page cache, 1 MiB chunks,
 * createReadStream + copy took ~100 ms against ~175 ms for sequential
 * fs.read (FileHandle or callback), because the stream keeps the next read
 * in flight while the previous chunk is parsed.
 *
 * All of them fill a caller-owned buffer; the caller keeps at most one
 * partial record between reads, so memory does not grow with the input.
 */
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { open } from 'node:fs/promises';
import type { Readable } from 'node:stream';

export interface ByteSource {
  /**
   * Copies up to `length` bytes into `target` at `offset` and returns how many;
   * fewer than asked when no more is ready yet, 0 only at the end of the input.
   */
  read(target: Buffer, offset: number, length: number): Promise<number>;
  /** Bytes taken from the underlying input so far (compressed bytes when gunzipping). */
  consumed(): number;
  /** Size of the underlying input when known (regular files), for progress. */
  readonly total: number | undefined;
  readonly compressed: boolean;
  /**
   * Why the input ended before its proper end, when the input itself can tell
   * (a damaged or cut gzip stream). Meaningful once read() has returned 0.
   */
  damage(): string | undefined;
  close(): Promise<void>;
}

interface StreamSourceOptions {
  compressed: boolean;
  total: number | undefined;
  /** Overrides the consumed count (the gunzip wrapper counts compressed bytes). */
  consumed?: () => number;
  /** zlib errors end the input as damage instead of being thrown as I/O errors. */
  zlibErrorsAreDamage: boolean;
  onClose?: () => Promise<void>;
}

function isZlibError(err: unknown): err is Error {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  return typeof code === 'string' && code.startsWith('Z_');
}

/**
 * Reads a Readable in paused mode: returns whatever is buffered as soon as
 * anything is, so a slow pipe (tcpdump -w - | honeyport replay -) is processed
 * as it arrives instead of after a whole chunk has piled up.
 */
class StreamSource implements ByteSource {
  private pending: Buffer | null = null;
  private ended = false;
  private failure: unknown = undefined;
  private damageReason: string | undefined = undefined;
  private taken = 0;
  private wake: (() => void) | null = null;
  private closed = false;

  private readonly poke = (): void => {
    const w = this.wake;
    this.wake = null;
    w?.();
  };
  private readonly onEnd = (): void => {
    this.ended = true;
    this.poke();
  };
  private readonly onError = (err: Error): void => {
    if (this.failure === undefined) this.failure = err;
    this.poke();
  };

  constructor(
    private readonly stream: Readable,
    private readonly opts: StreamSourceOptions,
  ) {
    stream.on('readable', this.poke);
    stream.on('end', this.onEnd);
    stream.on('error', this.onError);
  }

  get total(): number | undefined {
    return this.opts.total;
  }

  get compressed(): boolean {
    return this.opts.compressed;
  }

  consumed(): number {
    return this.opts.consumed ? this.opts.consumed() : this.taken;
  }

  damage(): string | undefined {
    return this.damageReason;
  }

  async read(target: Buffer, offset: number, length: number): Promise<number> {
    let copied = 0;
    while (copied < length) {
      if (this.closed) return 0;
      const chunk = this.pending ?? (this.stream.read() as Buffer | null);
      this.pending = null;
      if (chunk === null) {
        if (copied > 0) break;
        if (this.failure !== undefined) return this.fail();
        if (this.ended || this.stream.readableEnded) return 0;
        await new Promise<void>((resolve) => {
          this.wake = resolve;
        });
        continue;
      }
      const n = Math.min(chunk.length, length - copied);
      chunk.copy(target, offset + copied, 0, n);
      copied += n;
      if (n < chunk.length) this.pending = chunk.subarray(n);
    }
    this.taken += copied;
    return copied;
  }

  private fail(): number {
    const err = this.failure;
    if (this.opts.zlibErrorsAreDamage && isZlibError(err)) {
      this.damageReason = `gzip: ${err.message}`;
      return 0;
    }
    throw err;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.poke();
    // Standard input too: an unread rest would otherwise keep the process waiting.
    if (!this.stream.destroyed) this.stream.destroy();
    await this.opts.onClose?.();
  }
}

/** Replays a few bytes already taken from `inner` (the magic sniff), then reads on. */
class HeadSource implements ByteSource {
  constructor(
    private head: Buffer,
    private readonly inner: ByteSource,
  ) {}

  get total(): number | undefined {
    return this.inner.total;
  }

  get compressed(): boolean {
    return this.inner.compressed;
  }

  consumed(): number {
    return this.inner.consumed();
  }

  damage(): string | undefined {
    return this.inner.damage();
  }

  read(target: Buffer, offset: number, length: number): Promise<number> {
    if (this.head.length === 0) return this.inner.read(target, offset, length);
    const n = Math.min(this.head.length, length);
    this.head.copy(target, offset, 0, n);
    this.head = this.head.subarray(n);
    return Promise.resolve(n);
  }

  close(): Promise<void> {
    return this.inner.close();
  }
}

const GZIP_MAGIC_0 = 0x1f;
const GZIP_MAGIC_1 = 0x8b;
const GUNZIP_FEED_CHUNK = 256 * 1024;

function gunzipSource(head: Buffer, raw: ByteSource): ByteSource {
  // Loaded here, not at the top: zlib costs every replay ~1-3 ms of start-up, and most captures are not compressed.
  const { createGunzip } = process.getBuiltinModule('node:zlib');
  const gunzip = createGunzip({ chunkSize: GUNZIP_FEED_CHUNK });
  const write = (chunk: Buffer): Promise<void> =>
    new Promise((resolve, reject) => {
      gunzip.write(chunk, (err) => (err ? reject(err) : resolve()));
    });
  // Each write is awaited until zlib has processed it, and end() comes only
  // after that: zlib drops the output of a call that fails, so a cut stream
  // fed as "last chunk + finish" would lose the packets just before the cut.
  // Awaiting each write is also the backpressure.
  const pump = async (): Promise<void> => {
    try {
      if (head.length > 0) await write(head);
      for (;;) {
        const chunk = Buffer.allocUnsafe(GUNZIP_FEED_CHUNK);
        const n = await raw.read(chunk, 0, chunk.length);
        if (n === 0) break;
        await write(chunk.subarray(0, n));
      }
      gunzip.end();
    } catch (err) {
      // A read error of the raw input reaches the reader through gunzip;
      // a zlib error is already there.
      if (!gunzip.destroyed) gunzip.destroy(err as Error);
    }
  };
  void pump();
  return new StreamSource(gunzip, {
    compressed: true,
    total: raw.total,
    consumed: () => raw.consumed(),
    zlibErrorsAreDamage: true,
    onClose: () => raw.close(),
  });
}

/** Wraps `raw` in a gunzipper when it starts with the gzip magic. */
export async function sniffGzip(raw: ByteSource): Promise<ByteSource> {
  const head = Buffer.alloc(2);
  let got = 0;
  try {
    while (got < head.length) {
      const n = await raw.read(head, got, head.length - got);
      if (n === 0) break;
      got += n;
    }
  } catch (err) {
    await raw.close();
    throw err;
  }
  const sniffed = head.subarray(0, got);
  if (got === 2 && head[0] === GZIP_MAGIC_0 && head[1] === GZIP_MAGIC_1) {
    return gunzipSource(sniffed, raw);
  }
  return new HeadSource(sniffed, raw);
}

/**
 * A regular file read with readSync straight into the reader's buffer: no
 * stream, no copy, no promise per chunk. Measured on the 1M-packet bench file
 * (100 MB, page cache, loaded machine): the read stream + copy path took
 * ~250 ms of which ~110 ms idle in the event loop; this takes ~60 ms. Blocking
 * the loop for one chunk (a few ms) is harmless in a replay.
 */
class FileSource implements ByteSource {
  private taken = 0;
  private fd: number | undefined;

  constructor(fd: number, readonly total: number) {
    this.fd = fd;
  }

  readonly compressed = false;

  consumed(): number {
    return this.taken;
  }

  damage(): string | undefined {
    return undefined;
  }

  async read(target: Buffer, offset: number, length: number): Promise<number> {
    if (this.fd === undefined) return 0;
    const n = readSync(this.fd, target, offset, length, null);
    this.taken += n;
    return n;
  }

  async close(): Promise<void> {
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = undefined;
  }
}

/** Opens a capture file by path, or standard input for '-'; gunzips when needed. */
export async function openCaptureInput(path: string, chunkSize: number): Promise<ByteSource> {
  if (path === '-') return openCaptureStream(process.stdin);
  const fd = openSync(path, 'r');
  const st = fstatSync(fd);
  if (st.isFile()) return sniffGzip(new FileSource(fd, st.size));
  closeSync(fd);
  // Opening first turns a missing or unreadable file into the plain OS error here.
  const fh = await open(path, 'r');
  let total: number | undefined;
  try {
    const st = await fh.stat();
    total = st.isFile() ? st.size : undefined;
  } catch (err) {
    await fh.close();
    throw err;
  }
  const stream = fh.createReadStream({ highWaterMark: chunkSize });
  return sniffGzip(new StreamSource(stream, { compressed: false, total, zlibErrorsAreDamage: false }));
}

/** Reads any Readable (standard input, a socket, a test stream); gunzips when needed. */
export function openCaptureStream(input: Readable): Promise<ByteSource> {
  return sniffGzip(
    new StreamSource(input, { compressed: false, total: undefined, zlibErrorsAreDamage: false }),
  );
}

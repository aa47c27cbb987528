/**
 * Streaming reader for capture files (classic pcap, nanosecond pcap, pcapng;
 * plain or gzip-compressed; a path or '-' for standard input).
 *
 * Memory is one working buffer of chunkSize + MAX_BLOCK bytes and one
 * FrameBatch, whatever the file size: records are walked in place, and only
 * the partial record at the end of a chunk is moved to the buffer's start.
 *
 * The reader yields the same FrameBatch object every time, refilled, and its
 * frames point into the working buffer: a consumer must be done with a batch
 * before it pulls the next one.
 *
 * Damage never surfaces as anything but CaptureDamagedError, and only after
 * every complete packet before it has been yielded. A missing or unreadable
 * file is the plain OS error.
 *
 * Frames: tsMicros is truncated to the microsecond (exact for pcapng 64-bit
 * counts too); iface is the pcapng interface id (0 for pcap); vlan is 0 (a
 * file keeps its tags in the frame). pcapng Simple Packet Blocks carry no
 * timestamp and get the previous packet's (0 before any), so time never runs
 * backwards; the obsolete Packet Block is read like an Enhanced one.
 */
import type { Readable } from 'node:stream';
import { FrameBatch } from './frame-batch.js';
import { openCaptureInput, openCaptureStream, type ByteSource } from './byte-source.js';
import { classifyPcapMagic, PcapWalker } from './pcap-classic.js';
import { PCAPNG_SHB, PcapngWalker } from './pcapng.js';
import { MAX_BLOCK, type CaptureFormat, type RecordWalker } from './pcap-walk.js';

export type { CaptureFormat } from './pcap-walk.js';

export class CaptureDamagedError extends Error {
  constructor(
    /** The file as named by the caller ('<stdin>' for '-'). */
    readonly file: string,
    /** Offset of the damaged record in the (decompressed) capture stream. */
    readonly offset: number,
    readonly reason: string,
  ) {
    super(`${file}: damaged at byte ${offset}: ${reason}`);
    this.name = 'CaptureDamagedError';
  }
}

export interface CaptureReaderOptions {
  /** Frames per batch, default 4096. */
  batchSize?: number;
  /** Bytes asked of the input per read, default 1 MiB. */
  chunkSize?: number;
  /**
   * Called at most once per chunk: bytes consumed of the input (compressed
   * bytes for gzip) and the input's size when known (not for standard input).
   */
  onProgress?: (bytesRead: number, totalBytes: number | undefined) => void;
}

export interface CaptureSummary {
  format: CaptureFormat;
  packets: number;
  /** Length of the capture stream read (after decompression). */
  bytes: number;
  compressed: boolean;
}

const DEFAULT_BATCH = 4096;
const DEFAULT_CHUNK = 1 << 20;
/** Bytes needed to tell the formats apart. */
const MAGIC_BYTES = 4;

/** Reads the capture at `path` ('-' = standard input). */
export async function* readCapture(
  path: string,
  opts: CaptureReaderOptions = {},
): AsyncGenerator<FrameBatch, CaptureSummary> {
  const name = path === '-' ? '<stdin>' : path;
  const source = await openCaptureInput(path, positiveInt(opts.chunkSize, DEFAULT_CHUNK, 'chunkSize'));
  return yield* readSource(source, name, opts);
}

/** Reads a capture from any Readable; `name` is used in damage messages. */
export async function* readCaptureStream(
  input: Readable,
  name: string,
  opts: CaptureReaderOptions = {},
): AsyncGenerator<FrameBatch, CaptureSummary> {
  const source = await openCaptureStream(input);
  return yield* readSource(source, name, opts);
}

function positiveInt(value: number | undefined, fallback: number, what: string): number {
  if (value === undefined) return fallback;
  if (!Number.isInteger(value) || value < 1) throw new RangeError(`${what} must be a positive integer`);
  return value;
}

function walkerFor(buf: Buffer, pos: number): RecordWalker | undefined {
  const magicBE = buf.readUInt32BE(pos);
  if (magicBE === PCAPNG_SHB) return new PcapngWalker();
  const pcap = classifyPcapMagic(magicBE);
  return pcap && new PcapWalker(pcap.le, pcap.nano);
}

async function* readSource(
  source: ByteSource,
  name: string,
  opts: CaptureReaderOptions,
): AsyncGenerator<FrameBatch, CaptureSummary> {
  const batchSize = positiveInt(opts.batchSize, DEFAULT_BATCH, 'batchSize');
  const chunkSize = positiveInt(opts.chunkSize, DEFAULT_CHUNK, 'chunkSize');
  const onProgress = opts.onProgress;
  // After moving a partial record (< MAX_BLOCK) to the start, a whole chunk still fits.
  const work = Buffer.allocUnsafe(chunkSize + MAX_BLOCK);
  const batch = new FrameBatch(batchSize);
  batch.data = work;

  let base = 0; // stream offset of work[0]
  let pos = 0; // next unread record in work
  let fill = 0; // end of valid bytes in work
  let eof = false;
  let packets = 0;
  let walker: RecordWalker | undefined;

  const damaged = (at: number, reason: string): CaptureDamagedError =>
    new CaptureDamagedError(name, base + at, reason);

  /** Moves the unread tail to the buffer's start and reads once more; false at end of input. */
  const refill = async (): Promise<boolean> => {
    if (pos > 0) {
      work.copyWithin(0, pos, fill);
      base += pos;
      fill -= pos;
      pos = 0;
    }
    const n = await source.read(work, fill, Math.min(chunkSize, work.length - fill));
    onProgress?.(source.consumed(), source.total);
    if (n === 0) return false;
    fill += n;
    return true;
  };

  /** The damage to report when the input ends inside the record at `pos`. */
  const endedEarly = (reason: string): CaptureDamagedError => {
    const gzip = source.damage();
    if (gzip === undefined) return damaged(pos, reason);
    return damaged(pos, pos === fill ? gzip : `${reason}; ${gzip}`);
  };

  try {
    while (walker === undefined) {
      if (fill - pos >= MAGIC_BYTES) {
        walker = walkerFor(work, pos);
        if (walker === undefined) throw damaged(pos, 'not a pcap or pcapng file');
      } else if (!eof && !(await refill())) {
        eof = true;
      } else if (eof) {
        const have = fill - pos;
        throw endedEarly(have === 0 ? 'empty input, not a pcap or pcapng file' : `truncated file header (${have} bytes)`);
      }
    }

    for (;;) {
      batch.count = 0;
      batch.firstIndex = packets;
      const r = walker.walk(work, pos, fill, batch);
      pos = r.pos;
      packets += batch.count;
      if (batch.count > 0) yield batch;

      switch (r.kind) {
        case 'full':
          continue;
        case 'damaged':
          throw damaged(r.pos, r.reason);
        case 'skip': {
          // A huge block without packets: drop it as it streams past.
          const blockAt = base + pos;
          let left = r.bytes;
          for (;;) {
            const drop = Math.min(left, fill - pos);
            pos += drop;
            left -= drop;
            if (left === 0) break;
            if (!(await refill())) {
              const gzip = source.damage();
              const reason = `truncated block (${r.bytes - left} of ${r.bytes} bytes)`;
              throw new CaptureDamagedError(name, blockAt, gzip === undefined ? reason : `${reason}; ${gzip}`);
            }
          }
          continue;
        }
        case 'need':
          if (eof || !(await refill())) {
            eof = true;
            // A gzip stream can break exactly between two records: still damage.
            if (pos === fill && source.damage() === undefined) {
              return { format: walker.format, packets, bytes: base + fill, compressed: source.compressed };
            }
            throw endedEarly(walker.truncation(work, pos, fill));
          }
      }
    }
  } finally {
    await source.close();
  }
}

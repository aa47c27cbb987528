/**
 * How one spooled record sits on disk, so damage is detected instead of sent:
 *
 *   magic "\xff\xfehp" | u32 LE payload length | u32 LE CRC-32 | u32 LE sequence | f64 LE alarm time µs | payload (UTF-8)
 *
 * The CRC covers sequence, time and payload. The sequence number goes up by
 * one per record (wrapping at 2^32), so a reader that skips damage learns
 * from the next good frame exactly how many records the damage held. A frame whose length is 0 or
 * above MAX_RECORD_BYTES, or whose CRC does not match, is damaged; the reader
 * resynchronises at the next magic. 0xFF never occurs in UTF-8, so a payload
 * cannot fake the start of a frame (a header field can, but its CRC will not
 * check). CRC-32 (zlib, native in Node ≥ 20.15) rather than CRC-32C: it is
 * there without a dependency, and at these record sizes both catch every
 * burst error up to 32 bits and torn writes alike.
 */
import { crc32 } from 'node:zlib';
import type { Entry } from '../entry.js';

export const MAGIC = Buffer.from([0xff, 0xfe, 0x68, 0x70]);
export const HEADER_BYTES = 24;
/** Per-record bound: a longer frame is damage, never a reason to allocate. */
export const MAX_RECORD_BYTES = 1 << 20;

/** Frame size of a record of `payloadBytes`. */
export const frameBytes = (payloadBytes: number): number => HEADER_BYTES + payloadBytes;

/** Writes the frame of `e` at `at` (the caller made room: frameBytes(Buffer.byteLength(e.record))); returns the end. */
export function writeFrame(buf: Buffer, at: number, e: Entry, payloadBytes: number, seq: number): number {
  MAGIC.copy(buf, at);
  buf.writeUInt32LE(payloadBytes, at + 4);
  buf.writeUInt32LE(seq >>> 0, at + 12);
  buf.writeDoubleLE(e.timeMicros, at + 16);
  buf.write(e.record, at + HEADER_BYTES, payloadBytes, 'utf8');
  buf.writeUInt32LE(crc32(buf.subarray(at + 12, at + HEADER_BYTES + payloadBytes)), at + 8);
  return at + HEADER_BYTES + payloadBytes;
}

export type FrameResult =
  | { readonly kind: 'ok'; readonly entry: Entry; readonly seq: number; readonly next: number }
  /** The frame runs past `end`: read more, or (at the end of a file) a torn tail. */
  | { readonly kind: 'short' }
  /** Damaged bytes from `at` to `next` (the next magic, or `end`). */
  | { readonly kind: 'damaged'; readonly next: number };

/** Reads the frame at `at` in buf[..end). */
export function readFrame(buf: Buffer, at: number, end: number): FrameResult {
  if (end - at < HEADER_BYTES) return end - at >= 4 && !startsWithMagic(buf, at) ? damaged(buf, at, end) : { kind: 'short' };
  if (!startsWithMagic(buf, at)) return damaged(buf, at, end);
  const len = buf.readUInt32LE(at + 4);
  if (len === 0 || len > MAX_RECORD_BYTES) return damaged(buf, at, end);
  if (end - at < HEADER_BYTES + len) return { kind: 'short' };
  if (crc32(buf.subarray(at + 12, at + HEADER_BYTES + len)) !== buf.readUInt32LE(at + 8)) return damaged(buf, at, end);
  const timeMicros = buf.readDoubleLE(at + 16);
  const record = buf.toString('utf8', at + HEADER_BYTES, at + HEADER_BYTES + len);
  return { kind: 'ok', entry: { timeMicros, record }, seq: buf.readUInt32LE(at + 12), next: at + HEADER_BYTES + len };
}

function startsWithMagic(buf: Buffer, at: number): boolean {
  return buf[at] === 0xff && buf[at + 1] === 0xfe && buf[at + 2] === 0x68 && buf[at + 3] === 0x70;
}

function damaged(buf: Buffer, at: number, end: number): FrameResult {
  const next = buf.indexOf(MAGIC, at + 1);
  const stop = next < 0 || next >= end ? end : next;
  return { kind: 'damaged', next: stop };
}

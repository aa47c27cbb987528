/**
 * What the classic-pcap and pcapng record walkers share: limits, the result of
 * one walk over a buffer, and endian-aware reads that allocate nothing.
 */
import type { FrameBatch } from './frame-batch.js';

export type CaptureFormat = 'pcap' | 'pcap-ns' | 'pcapng';

/** Largest captured length accepted for one packet (libpcap's MAXIMUM_SNAPLEN). */
export const MAX_RECORD = 262144;

/**
 * Largest pcapng block held in memory whole: a maximal packet plus room for
 * block headers and options. Larger blocks of types that carry no packets are
 * skipped as a stream; larger packet or header blocks are damage.
 */
export const MAX_BLOCK = MAX_RECORD + 65536;

/** Why walk() returned; `pos` is always relative to the walked buffer. */
export type WalkResult =
  /** The batch is full; records from `pos` on are still unread. */
  | { readonly kind: 'full'; readonly pos: number }
  /** The record at `pos` is not complete in the buffer. */
  | { readonly kind: 'need'; readonly pos: number }
  /** The record at `pos` is damaged; everything before it was walked. */
  | { readonly kind: 'damaged'; readonly pos: number; readonly reason: string }
  /** The block at `pos` is too big to hold and carries no packets: drop `bytes` bytes of input. */
  | { readonly kind: 'skip'; readonly pos: number; readonly bytes: number };

export interface RecordWalker {
  readonly format: CaptureFormat;
  /**
   * Walks the records in buf[pos, end), appending packets to `batch` from
   * batch.count on, until the batch is full, the buffer runs out or damage.
   * Records before `pos` may be overwritten between calls, so a walker keeps
   * nothing that points into the buffer.
   */
  walk(buf: Buffer, pos: number, end: number, batch: FrameBatch): WalkResult;
  /** Reason for input that ends inside the record at buf[pos, end). */
  truncation(buf: Buffer, pos: number, end: number): string;
}

export function u32(buf: Buffer, pos: number, le: boolean): number {
  return le
    ? (buf[pos] | (buf[pos + 1] << 8) | (buf[pos + 2] << 16) | (buf[pos + 3] << 24)) >>> 0
    : ((buf[pos] << 24) | (buf[pos + 1] << 16) | (buf[pos + 2] << 8) | buf[pos + 3]) >>> 0;
}

export function u16(buf: Buffer, pos: number, le: boolean): number {
  return le ? buf[pos] | (buf[pos + 1] << 8) : (buf[pos] << 8) | buf[pos + 1];
}

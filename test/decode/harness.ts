/** Small shared helpers for the decoder tests. */
import { Decoder, type DecoderOptions } from '../../src/decode/decoder.js';
import { DecodeStatus } from '../../src/decode/segment.js';

export function buf(frame: Uint8Array): Buffer {
  return Buffer.from(frame.buffer, frame.byteOffset, frame.byteLength);
}

/** Decodes `frame` placed at a non-zero offset inside a larger buffer (as batches do). */
export function decodeAt(dec: Decoder, frame: Uint8Array, linktype: number, ts = 0, vlan = 0): DecodeStatus {
  const pad = 7;
  const b = Buffer.alloc(frame.length + pad * 2, 0xee);
  b.set(frame, pad);
  return dec.decode(b, pad, frame.length, linktype, ts, vlan);
}

export function decodeAll(dec: Decoder, frames: Uint8Array[], linktype: number, ts = 0): DecodeStatus[] {
  return frames.map((f) => decodeAt(dec, f, linktype, ts));
}

export function fresh(opts?: DecoderOptions): Decoder {
  return new Decoder(opts);
}

export function addr(seg: { family: number; src: Uint8Array; dst: Uint8Array }, which: 'src' | 'dst'): string {
  const a = seg[which];
  if (seg.family === 4) return Array.from(a.subarray(0, 4)).join('.');
  const groups: string[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(((a[i] << 8) | a[i + 1]).toString(16));
  return groups.join(':');
}

export { DecodeStatus };

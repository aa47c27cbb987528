/**
 * How `--ring-size` becomes a ring: its default per backend and the
 * AF_PACKET block geometry.
 *
 * The AF_PACKET ring holds only what the kernel filter passes (probes of
 * decoy ports), and the idle footprint counts every ring page (the kernel
 * maps them all at mmap). So the default is small, and the blocks are small
 * too: the kernel retires a block after the block timeout even when it holds
 * one frame, so at low rates the ring absorbs a JavaScript pause of
 * (blocks × timeout), and that must outlast the hand-off wait (a retired
 * block waits that long for JavaScript before its frames are dropped). At
 * flood rates a 16 KiB block fills in about 1 ms (~100 SYNs), so 2 MiB is
 * ~0.1 s of flood at the bench's maximum rate; the hand-off slots hold more.
 *
 * libpcap stores every frame in a slot sized for the 65,535-byte snap length,
 * so its buffer is counted in whole frames: it keeps its own, larger default.
 */
import type { CaptureBackend } from './capture-backend.js';

/** AF_PACKET: the default ring per interface, MiB. */
export const DEFAULT_RING_MIB = 2;
/** libpcap: the default buffer per interface, MiB (~125 frames; README "Other capture backends"). */
export const DEFAULT_PCAP_BUFFER_MIB = 8;
export const RING_BLOCK_BYTES = 16 * 1024;

/** What `--ring-size` is when not given. */
export function defaultRingMiB(backend: CaptureBackend): number {
  return backend === 'pcap' ? DEFAULT_PCAP_BUFFER_MIB : DEFAULT_RING_MIB;
}

export interface RingGeometry {
  readonly blockSize: number;
  readonly blockCount: number;
}

export function ringGeometry(ringMiB: number): RingGeometry {
  if (!Number.isInteger(ringMiB) || ringMiB < 1) throw new RangeError(`ring size ${ringMiB} MiB is not a positive integer`);
  return { blockSize: RING_BLOCK_BYTES, blockCount: (ringMiB * 2 ** 20) / RING_BLOCK_BYTES };
}

/**
 * How `--ring-size` becomes a ring: its default and its block geometry.
 *
 * The ring holds only what the kernel filter passes (probes of decoy ports),
 * and the idle footprint counts every ring page (the kernel maps them all at
 * mmap). So the default is small, and the blocks are small too: the kernel
 * retires a block after the block timeout even when it holds one frame, so
 * at low rates the ring absorbs a JavaScript pause of (blocks × timeout),
 * and that must outlast the hand-off wait (a retired block waits that long
 * for JavaScript before its frames are dropped). At flood rates a 64 KiB
 * block fills in about 4 ms (about 500 SYNs), so 8 MiB is ~0.5 s of flood.
 * The libpcap backend takes the same size as its buffer.
 */
export const DEFAULT_RING_MIB = 8;
export const RING_BLOCK_BYTES = 64 * 1024;

export interface RingGeometry {
  readonly blockSize: number;
  readonly blockCount: number;
}

export function ringGeometry(ringMiB: number): RingGeometry {
  if (!Number.isInteger(ringMiB) || ringMiB < 1) throw new RangeError(`ring size ${ringMiB} MiB is not a positive integer`);
  return { blockSize: RING_BLOCK_BYTES, blockCount: (ringMiB * 2 ** 20) / RING_BLOCK_BYTES };
}

/**
 * What the live sensor needs from a capture backend, so that another backend
 * (libpcap, XDP) is one file implementing this: start delivering FrameBatches
 * with a kernel filter attached before the first frame, swap the filter
 * atomically (every frame judged by the old or the new program, never by
 * none), report named counters, close. Backends: AF_PACKET (afpacket.ts,
 * `openAfPacketCapture`, Linux) and libpcap (pcap.ts, `openPcapCapture`,
 * through the `cap` package; Npcap on Windows). The filter is given as the
 * ports it must cover: each backend builds its own program from them (cBPF
 * bytes for AF_PACKET, a filter expression for libpcap).
 */
import type { Policy } from '../policy/policy.js';
import type { FrameBatch } from '../source/frame-batch.js';

/** What the kernel filter must pass: probes of these ports (see filter-builder.ts). */
export type CaptureFilterSpec = Pick<Policy, 'ports'>;

/** Running totals since start(); a backend without a notion reports 0. */
export interface CaptureCounters {
  /** Packets the filter accepted and the kernel put into the ring. */
  readonly received: number;
  /** Packets the filter accepted but the full ring could not take. */
  readonly kernelDrops: number;
  /** Times the kernel froze the ring queue because no block was free. */
  readonly queueFreezes: number;
  /** Frames lost because JS had not yet consumed the pooled batches. */
  readonly handoffDrops: number;
  /** Frames passed to onBatch. */
  readonly delivered: number;
  /** onBatch calls. */
  readonly batches: number;
  /** Non-empty ring blocks walked. */
  readonly blocks: number;
  /** Our own transmissions skipped by the walker (kernel filtering came first). */
  readonly outgoingSkipped: number;
  /** Frames from link types the decoder cannot walk. */
  readonly unsupportedLink: number;
  /** Frames that did not fit a batch (cannot happen with kernel-built blocks). */
  readonly overflow: number;
  readonly malformedBlocks: number;
  readonly socketErrors: number;
}

/** Called on the JS thread; the batch must be consumed inside the call (see FrameBatch). */
export type OnBatch = (batch: FrameBatch) => void;

export interface LiveCapture {
  /**
   * Opens the sockets with the filter attached and starts delivering (with
   * `held`, frames wait in the kernel ring until resume()); throws if it cannot.
   */
  start(onBatch: OnBatch): void;
  /** Starts delivering a capture opened `held`; does nothing otherwise. */
  resume(): void;
  /** Replaces the kernel filter atomically. */
  setFilter(filter: CaptureFilterSpec): void;
  stats(): CaptureCounters;
  /**
   * A clock reading (Date.now() ms) such that every frame captured before
   * this call carries a timestamp at or before it: now for a backend whose
   * frames are stamped in the kernel (AF_PACKET), later for one that stamps
   * them when JavaScript reads them (libpcap through cap). The sensor uses it
   * as the instant a released port stopped answering.
   */
  stampedBy(): Promise<number>;
  /** Stops delivering and releases the sockets; idempotent. */
  close(): void;
}

export interface LiveCaptureOptions {
  /** Device names, or ['any']. */
  readonly interfaces: readonly string[];
  /** The first filter, attached before any frame is captured. */
  readonly filter: CaptureFilterSpec;
  readonly ringBlockSize: number;
  readonly ringBlockCount: number;
  /** A partly filled block is handed over after this long (bounds latency). */
  readonly blockTimeoutMs: number;
  /** How long a full hand-off waits for JavaScript before frames are dropped (and counted). */
  readonly handoffWaitMs: number;
  /**
   * After a block retired full, wait this long before handing over the next
   * (AF_PACKET; default 0): under a flood several blocks per wake-up.
   */
  readonly fullBlockPauseMs?: number;
  /**
   * Hand over no frame before resume(): the sensor drops privileges in
   * between, and captured frames wait in the ring meanwhile.
   */
  readonly held?: boolean;
}

export type LiveCaptureFactory = (options: LiveCaptureOptions) => LiveCapture;

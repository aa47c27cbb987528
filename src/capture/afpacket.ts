/**
 * Live capture through the native AF_PACKET / TPACKET_V3 core.
 *
 * The native capture thread copies each retired ring block into one of a few
 * pooled slots and makes one JS call per block. Every slot has a FrameBatch
 * whose typed arrays are views over that slot, so delivering a batch copies
 * and allocates nothing. The slot is refilled only after onBatch returns:
 * like every FrameBatch, it must be consumed inside the callback.
 *
 * Link types are per frame (the native side maps the device's ARPHRD type):
 * Ethernet devices and Linux `lo` (which carries a zeroed Ethernet header)
 * give LinkType.ETHERNET; header-less devices (tun, ip tunnels, ARPHRD_NONE)
 * give LinkType.RAW. Frames of other link types are counted in
 * `unsupportedLink` and not delivered. This also holds on `any`: SOCK_RAW
 * there keeps each device's own link header.
 *
 * Filter replacement: SO_ATTACH_FILTER swaps the socket's program with one
 * RCU pointer update, so every packet is judged by the old or the new program
 * in full, never by none. Frames the old program accepted may still be in the
 * ring and are delivered after setFilter() returns.
 */
import { FrameBatch } from '../source/frame-batch.js';
import { encode } from './bpf-program.js';
import { buildCaptureFilter } from './filter-builder.js';
import type { CaptureCounters, LiveCapture, LiveCaptureOptions, OnBatch } from './live-capture.js';
import { requireNative, type NativeAddon, type NativeCapture, type NativeStats } from './native-binding.js';

export interface AfPacketOptions {
  /** Device names, or ['any'] for all devices of the network namespace. */
  readonly interfaces: readonly string[];
  /** Classic BPF: sock_filter array, 8 bytes per instruction, host byte order. */
  readonly filter: Buffer;
  /** Bytes per ring block, a multiple of the page size (default 1 MiB). */
  readonly ringBlockSize?: number;
  /** Blocks per ring, per interface (default 64). */
  readonly ringBlockCount?: number;
  /** tp_frame_size; with TPACKET_V3 it only sizes tp_frame_nr (default 2048). */
  readonly frameSize?: number;
  /** Kernel retires a partly filled block after this long: bounds latency (default 8). */
  readonly blockTimeoutMs?: number;
  /**
   * Bytes copied per frame to JS (default 65535). The ring's own snap length
   * is the filter's return value; this only trims the copy.
   */
  readonly snapLength?: number;
  /** PACKET_FANOUT (hash) group id; interface i uses fanoutGroup + i. */
  readonly fanoutGroup?: number;
  /** Pooled batches JS may hold before blocks become hand-off drops (default 16). */
  readonly handoffSlots?: number;
  /**
   * How long a retired ring block may wait for a free slot before its frames
   * become hand-off drops (default 0: drop at once). While it waits the
   * kernel ring is the buffer, so a JavaScript pause costs nothing until the
   * ring itself is full (then the kernel counts drops).
   */
  readonly handoffWaitMs?: number;
  /**
   * After handing over a block the kernel retired because it was full (not
   * by the timeout), the capture thread waits this long before looking
   * again (default 0: at once), so under a flood several blocks go to
   * JavaScript per wake-up of either thread. Adds at most this to latency,
   * and only while blocks fill faster than the block timeout.
   */
  readonly fullBlockPauseMs?: number;
  /**
   * Ask the kernel not to deliver our own transmissions (PACKET_IGNORE_OUTGOING;
   * default true). Outgoing frames are dropped in the native walker anyway.
   */
  readonly kernelIgnoreOutgoing?: boolean;
  /** start() opens the sockets but hands over no frame before resume(); they wait in the ring. */
  readonly held?: boolean;
}

export type { CaptureCounters, OnBatch };

const ZERO_COUNTERS: CaptureCounters = Object.freeze({
  received: 0,
  kernelDrops: 0,
  queueFreezes: 0,
  handoffDrops: 0,
  delivered: 0,
  batches: 0,
  blocks: 0,
  outgoingSkipped: 0,
  unsupportedLink: 0,
  overflow: 0,
  malformedBlocks: 0,
  socketErrors: 0,
});

type State =
  | { readonly kind: 'idle'; readonly filter: Buffer }
  | { readonly kind: 'held'; readonly capture: NativeCapture }
  | { readonly kind: 'running'; readonly capture: NativeCapture }
  | { readonly kind: 'closed'; readonly last: CaptureCounters };

function toCounters(s: NativeStats): CaptureCounters {
  return {
    received: s.kernelPackets - s.kernelDrops,
    kernelDrops: s.kernelDrops,
    queueFreezes: s.kernelFreezes,
    handoffDrops: s.handoffDropFrames,
    delivered: s.framesDelivered,
    batches: s.batchesDelivered,
    blocks: s.blocks,
    outgoingSkipped: s.outgoingSkipped,
    unsupportedLink: s.unsupportedLink,
    overflow: s.overflow,
    malformedBlocks: s.malformedBlocks,
    socketErrors: s.socketErrors,
  };
}

/** One FrameBatch per slot, its arrays viewing the slot's memory. */
function slotBatches(capture: NativeCapture): FrameBatch[] {
  const { memory, layout } = capture;
  const n = layout.frameCapacity;
  const batches: FrameBatch[] = [];
  for (let slot = 0; slot < layout.slots; slot += 1) {
    const base = slot * layout.stride;
    const batch = new FrameBatch(n);
    batch.data = Buffer.from(memory, base + layout.dataOffset, layout.dataCapacity);
    batch.tsMicros = new Float64Array(memory, base + layout.tsOffset, n);
    batch.offset = new Uint32Array(memory, base + layout.offsetOffset, n);
    batch.caplen = new Uint32Array(memory, base + layout.caplenOffset, n);
    batch.wirelen = new Uint32Array(memory, base + layout.wirelenOffset, n);
    batch.iface = new Int32Array(memory, base + layout.ifaceOffset, n);
    batch.vlan = new Uint16Array(memory, base + layout.vlanOffset, n);
    batch.linktype = new Uint16Array(memory, base + layout.linktypeOffset, n);
    batches.push(batch);
  }
  return batches;
}

export class AfPacketSource {
  #state: State;
  readonly #options: AfPacketOptions;
  readonly #addon: NativeAddon;

  /** Opens nothing yet; start() does. Throws if the native addon is not built. */
  constructor(options: AfPacketOptions, addon: NativeAddon = requireNative()) {
    this.#options = options;
    this.#addon = addon;
    this.#state = { kind: 'idle', filter: options.filter };
  }

  /**
   * Opens the sockets (filter attached before they receive anything) and
   * starts delivering. onBatch runs on the JS thread, once per ring block; an
   * exception it throws is re-thrown as an uncaught exception, capture goes on.
   */
  start(onBatch: OnBatch): void {
    const state = this.#state;
    if (state.kind !== 'idle') throw new Error(`AfPacketSource is ${state.kind}`);
    let batches: FrameBatch[] = [];
    let next = 0;
    const onBlock = (slot: number, count: number): void => {
      const batch = batches[slot];
      if (batch === undefined) return;
      batch.count = count;
      batch.firstIndex = next;
      next += count;
      try {
        onBatch(batch);
      } catch (err) {
        queueMicrotask(() => {
          throw err;
        });
      }
    };
    const o = this.#options;
    const capture = this.#addon.open(
      {
        interfaces: o.interfaces,
        filter: state.filter,
        ringBlockSize: o.ringBlockSize,
        ringBlockCount: o.ringBlockCount,
        frameSize: o.frameSize,
        blockTimeoutMs: o.blockTimeoutMs,
        snapLength: o.snapLength,
        fanoutGroup: o.fanoutGroup,
        handoffSlots: o.handoffSlots,
        handoffWaitMs: o.handoffWaitMs,
        fullBlockPauseMs: o.fullBlockPauseMs,
        kernelIgnoreOutgoing: o.kernelIgnoreOutgoing,
        held: o.held === true,
      },
      onBlock,
    );
    // The first callback can only run after this synchronous code returns.
    batches = slotBatches(capture);
    this.#state = { kind: o.held === true ? 'held' : 'running', capture };
  }

  /** Starts handing over the frames of a capture started `held` (those waiting in the ring first). */
  resume(): void {
    const state = this.#state;
    if (state.kind !== 'held') return;
    state.capture.resume();
    this.#state = { kind: 'running', capture: state.capture };
  }

  /** Replaces the kernel filter atomically (see the module comment). */
  setFilter(program: Buffer): void {
    const state = this.#state;
    switch (state.kind) {
      case 'idle':
        this.#state = { kind: 'idle', filter: program };
        return;
      case 'held':
      case 'running':
        state.capture.setFilter(program);
        return;
      case 'closed':
        throw new Error('AfPacketSource is closed');
    }
  }

  stats(): CaptureCounters {
    const state = this.#state;
    switch (state.kind) {
      case 'idle':
        return ZERO_COUNTERS;
      case 'held':
      case 'running':
        return toCounters(state.capture.stats());
      case 'closed':
        return state.last;
    }
  }

  /** Stops the thread, closes the sockets; idempotent. No onBatch call follows. */
  close(): void {
    const state = this.#state;
    if (state.kind === 'closed') return;
    if (state.kind === 'idle') {
      this.#state = { kind: 'closed', last: ZERO_COUNTERS };
      return;
    }
    state.capture.close();
    this.#state = { kind: 'closed', last: toCounters(state.capture.stats()) };
  }

  /** Like a server socket, a running capture keeps the process alive unless unref'd. */
  ref(): void {
    if (this.#state.kind !== 'idle' && this.#state.kind !== 'closed') this.#state.capture.ref();
  }

  unref(): void {
    if (this.#state.kind !== 'idle' && this.#state.kind !== 'closed') this.#state.capture.unref();
  }
}

/** The AF_PACKET backend of the live sensor (see live-capture.ts). */
export function openAfPacketCapture(o: LiveCaptureOptions): LiveCapture {
  const source = new AfPacketSource({
    interfaces: o.interfaces,
    filter: encode(buildCaptureFilter(o.filter)),
    ringBlockSize: o.ringBlockSize,
    ringBlockCount: o.ringBlockCount,
    blockTimeoutMs: o.blockTimeoutMs,
    handoffWaitMs: o.handoffWaitMs,
    ...(o.fullBlockPauseMs !== undefined ? { fullBlockPauseMs: o.fullBlockPauseMs } : {}),
    held: o.held === true,
  });
  return {
    start: (onBatch) => source.start(onBatch),
    resume: () => source.resume(),
    setFilter: (filter) => source.setFilter(encode(buildCaptureFilter(filter))),
    stats: () => source.stats(),
    stampedBy: async () => Date.now(),
    close: () => source.close(),
  };
}

/**
 * Live capture through libpcap, by the `cap` package (Npcap on Windows): the
 * portable backend for hosts without AF_PACKET, `--capture pcap`.
 *
 * What `cap` 0.2.1 allows, and what this module does about it:
 * - It never closes its libuv poll handle (only stops it), which lives in the
 *   Cap object: closed Cap objects are kept referenced for the process's
 *   life (a few hundred bytes per handle, two handle sets per reload).
 * - It keeps a raw pointer to the Buffer given to open() without holding it.
 *   Each device's receive buffer is kept in this module's state for the
 *   capture's whole life, closed state included, so cap never writes into
 *   freed memory.
 * - One JS call per packet (immediate mode on Linux). Frames are copied into
 *   one FrameBatch and handed over when it is full or at setImmediate, i.e.
 *   after cap's read loop has drained what libpcap holds: batching as far as
 *   cap allows. The per-packet handler allocates nothing (cap allocates its
 *   own call arguments).
 * - No packet header reaches JS: timestamps are the clock when the frame is
 *   handed to JS, not the kernel's; no pcap_stats: kernel drops are unknown
 *   and reported as 0 (the README lists these limits with measurements).
 * - The filter is a libpcap expression compiled at open (pcap-expression.ts),
 *   with no way to replace it on an open handle. setFilter keeps the handles
 *   when the expression is unchanged (the sensor's narrowing at start, when
 *   every port was held); otherwise it opens a second handle with the new
 *   filter first (so every frame is judged by the old or the new program,
 *   never by none) and closes the old one after SWAP_OVERLAP_MS, long
 *   enough for its last frames to be read. A frame both handles capture in
 *   that overlap is delivered once (swap-dedup.ts), until every open handle
 *   has been read after the close.
 *
 * The package is loaded lazily: a host without libpcap or without `cap`
 * only fails (with one line) when --capture pcap is asked for.
 */
import { createRequire } from 'node:module';
import { networkInterfaces } from 'node:os';
import { readFileSync } from 'node:fs';
import { FrameBatch, LinkType } from '../source/frame-batch.js';
import type { CaptureCounters, CaptureFilterSpec, LiveCapture, LiveCaptureOptions, OnBatch } from './live-capture.js';
import { buildPcapExpression } from './pcap-expression.js';
import { SwapDedup } from './swap-dedup.js';

/** The part of cap's Cap object used here. */
interface CapHandle {
  open(device: string, filter: string, bufferSize: number, buffer: Buffer): string;
  on(event: 'packet', listener: (nbytes: number, truncated: boolean) => void): void;
  close(): void;
}
type CapConstructor = new () => CapHandle;

/** libpcap's largest frame as cap sets it (snaplen 65535). */
const RECEIVE_BUFFER_BYTES = 65535;
const BATCH_FRAMES = 1024;
const BATCH_BYTES = 1 << 20;
const SWAP_OVERLAP_MS = 200;
/** cap's link type names → LINKTYPE_* the decoder walks. */
const LINK_TYPES: Readonly<Record<string, number>> = {
  ETHERNET: LinkType.ETHERNET,
  NULL: LinkType.NULL,
  RAW: LinkType.RAW,
  LINKTYPE_LINUX_SLL: LinkType.LINUX_SLL,
};

export class PcapUnavailableError extends Error {}

/** A one-line error the CLI prints as is (its `code` marks it as not an internal error). */
function pcapError(message: string): Error {
  return Object.assign(new Error(`pcap: ${message}`), { code: 'EPCAP' });
}

/** Loads `cap` on first use; one clear line when it (or libpcap) is missing. */
export function loadCap(): CapConstructor {
  try {
    const required = createRequire(import.meta.url)('cap') as { Cap: CapConstructor };
    return required.Cap;
  } catch (err) {
    throw new PcapUnavailableError(
      `--capture pcap needs the "cap" package and libpcap (Npcap on Windows): ${(err as Error).message.split('\n')[0]}`,
    );
  }
}

/** The interface index alarms name inputs by (Linux sysfs); -1 where unknown. */
function ifindexOf(device: string): number {
  if (process.platform !== 'linux') return -1;
  try {
    return Number(readFileSync(`/sys/class/net/${device}/ifindex`, 'utf8').trim());
  } catch {
    return -1;
  }
}

/** Every address of every interface of this host (loopback included). */
function hostAddresses(): string[] {
  return Object.values(networkInterfaces()).flatMap((list) => (list ?? []).map((a) => a.address));
}

/** One open libpcap handle on one device. */
interface Device {
  readonly name: string;
  /** Position in the interfaces list: frames of different devices are never the same frame. */
  readonly index: number;
  /** Which filter (setFilter call) this handle was opened with. */
  readonly generation: number;
  readonly handle: CapHandle;
  /** cap writes each frame here; held as long as this object is (see the module comment). */
  readonly buffer: Buffer;
}

interface Counts {
  delivered: number;
  batches: number;
  overflow: number;
  socketErrors: number;
  /** Second copies of a frame during a filter swap, not delivered. */
  swapDuplicates: number;
}

type State =
  | { readonly kind: 'idle'; readonly filter: CaptureFilterSpec }
  | { readonly kind: 'running'; devices: Device[]; expression: string }
  | { readonly kind: 'closed' };

export class PcapCapture implements LiveCapture {
  #state: State;
  readonly #options: LiveCaptureOptions;
  readonly #Cap: CapConstructor;
  readonly #ownAddresses: () => readonly string[];
  readonly #counts: Counts = { delivered: 0, batches: 0, overflow: 0, socketErrors: 0, swapDuplicates: 0 };
  readonly #batch = new FrameBatch(BATCH_FRAMES);
  /** Handles replaced by setFilter, closed after the overlap; kept referenced with their buffers until then. */
  readonly #retiring = new Set<Device[]>();
  /** Every handle ever closed, for the process's life (see #closeAll). */
  readonly #closedHandles: CapHandle[] = [];
  readonly #dedup = new SwapDedup();
  #onBatch: OnBatch | undefined;
  #flushScheduled = false;
  /**
   * Opened `held` (the privilege drop): frames are copied into the batch
   * as they come, never handed over (so never decoded) before resume(); a
   * batch that fills meanwhile drops further frames, counted as overflow.
   */
  #held: boolean;
  #next = 0;
  #generation = 0;

  /**
   * `ownAddresses` lists this host's addresses (read at start and at every
   * filter change, so a reload picks up new ones): frames from them are our
   * own transmissions (pcap-expression.ts says why not `inbound`).
   */
  constructor(options: LiveCaptureOptions, Cap: CapConstructor = loadCap(), ownAddresses: () => readonly string[] = hostAddresses) {
    this.#options = options;
    this.#Cap = Cap;
    this.#ownAddresses = ownAddresses;
    this.#state = { kind: 'idle', filter: options.filter };
    this.#held = options.held === true;
    this.#batch.data = Buffer.alloc(BATCH_BYTES);
  }

  resume(): void {
    if (!this.#held) return;
    this.#held = false;
    this.#flush();
  }

  start(onBatch: OnBatch): void {
    const state = this.#state;
    if (state.kind !== 'idle') throw new Error(`pcap capture is ${state.kind}`);
    this.#onBatch = onBatch;
    const expression = this.#expression(state.filter);
    this.#state = { kind: 'running', devices: this.#openAll(expression), expression };
  }

  setFilter(filter: CaptureFilterSpec): void {
    const state = this.#state;
    switch (state.kind) {
      case 'idle':
        this.#state = { kind: 'idle', filter };
        return;
      case 'closed':
        throw new Error('pcap capture is closed');
      case 'running': {
        const expression = this.#expression(filter);
        if (expression === state.expression) return;
        const old = state.devices;
        state.devices = this.#openAll(expression);
        state.expression = expression;
        this.#retiring.add(old);
        this.#dedup.begin();
        setTimeout(() => {
          // close() may have closed it already.
          if (!this.#retiring.delete(old)) return;
          this.#closeAll(old);
          if (this.#retiring.size === 0) this.#endDedupLater();
        }, SWAP_OVERLAP_MS).unref();
      }
    }
  }

  stats(): CaptureCounters {
    const c = this.#counts;
    return {
      received: c.delivered + c.overflow,
      kernelDrops: 0,
      queueFreezes: 0,
      handoffDrops: 0,
      delivered: c.delivered,
      batches: c.batches,
      blocks: c.batches,
      outgoingSkipped: 0,
      unsupportedLink: 0,
      overflow: c.overflow,
      malformedBlocks: 0,
      socketErrors: c.socketErrors,
    };
  }

  /**
   * Frames are stamped when read. A frame captured before this call is in a
   * ring whose fd is readable by the next poll phase, which cap drains before
   * that loop turn's check phase: two setImmediate hops land after it.
   */
  stampedBy(): Promise<number> {
    return new Promise((resolve) => {
      setImmediate(() => setImmediate(() => resolve(Date.now())));
    });
  }

  close(): void {
    const state = this.#state;
    if (state.kind === 'closed') return;
    if (state.kind === 'running') {
      this.#flush();
      for (const old of this.#retiring) this.#closeAll(old);
      this.#retiring.clear();
      this.#closeAll(state.devices);
    }
    this.#state = { kind: 'closed' };
  }

  #expression(filter: CaptureFilterSpec): string {
    return buildPcapExpression(filter, { ownAddresses: this.#ownAddresses() });
  }

  /**
   * Copies the new handles hold of frames the old ones delivered are read
   * by the end of the next full read of every handle (cap drains a handle
   * whenever it is readable): tracking ends after SWAP_OVERLAP_MS and one
   * more event-loop turn, unless another swap began meanwhile.
   */
  #endDedupLater(): void {
    const generation = this.#generation;
    setTimeout(() => {
      setImmediate(() => {
        if (this.#generation === generation && this.#retiring.size === 0) this.#dedup.end();
      });
    }, SWAP_OVERLAP_MS).unref();
  }

  #openAll(expression: string): Device[] {
    const generation = ++this.#generation;
    const opened: Device[] = [];
    try {
      this.#options.interfaces.forEach((name, index) => {
        opened.push(this.#open(name, index, generation, expression));
      });
    } catch (err) {
      this.#closeAll(opened);
      throw err;
    }
    return opened;
  }

  #open(name: string, index: number, generation: number, expression: string): Device {
    if (name === 'any' && process.platform !== 'linux') {
      throw pcapError('there is no "any" device on this OS; name each device with --interface');
    }
    const handle = new this.#Cap();
    const buffer = Buffer.alloc(RECEIVE_BUFFER_BYTES);
    const bufferBytes = this.#options.ringBlockSize * this.#options.ringBlockCount;
    let linkName: string;
    try {
      linkName = handle.open(name, expression, bufferBytes, buffer);
    } catch (err) {
      throw pcapError(`cannot capture on ${name}: ${(err as Error).message}`);
    }
    const linktype = LINK_TYPES[linkName];
    if (linktype === undefined) {
      handle.close();
      throw pcapError(`device ${name} has link type ${linkName}, which the decoder cannot walk`);
    }
    const ifindex = name === 'any' ? -1 : ifindexOf(name);
    const device: Device = { name, index, generation, handle, buffer };
    handle.on('packet', (nbytes: number, truncated: boolean) => this.#onPacket(device, nbytes, truncated, linktype, ifindex));
    return device;
  }

  #closeAll(devices: readonly Device[]): void {
    for (const d of devices) {
      try {
        d.handle.close();
      } catch {
        this.#counts.socketErrors++;
      }
      // cap stops its libuv poll handle at close but never uv_close()s it, and
      // that handle lives inside the Cap object: were the object collected,
      // libuv's handle list would link freed memory (a reload loop hung the
      // sensor after ~16 reloads). Closed Cap objects are kept; cap has
      // dropped its pointer to the receive buffer, which goes with the Device.
      this.#closedHandles.push(d.handle);
    }
  }

  #onPacket(device: Device, nbytes: number, truncated: boolean, linktype: number, ifindex: number): void {
    const buffer = device.buffer;
    if (!this.#dedup.admit(device.index, device.generation, buffer, nbytes)) {
      this.#counts.swapDuplicates++;
      return;
    }
    const b = this.#batch;
    let at = b.count === 0 ? 0 : b.offset[b.count - 1]! + b.caplen[b.count - 1]!;
    if (b.count === b.capacity || at + nbytes > b.data.length) {
      if (this.#held) {
        this.#counts.overflow++;
        return;
      }
      this.#flush();
      at = 0;
    }
    if (nbytes > b.data.length) {
      this.#counts.overflow++;
      return;
    }
    const i = b.count;
    buffer.copy(b.data, at, 0, nbytes);
    b.offset[i] = at;
    b.caplen[i] = nbytes;
    // cap reports only whether its 64 KiB buffer cut the frame, not the wire length.
    b.wirelen[i] = truncated ? Math.max(nbytes, RECEIVE_BUFFER_BYTES + 1) : nbytes;
    b.linktype[i] = linktype;
    b.tsMicros[i] = Math.round((performance.timeOrigin + performance.now()) * 1000);
    b.vlan[i] = 0;
    b.iface[i] = ifindex;
    b.count = i + 1;
    if (!this.#flushScheduled) {
      this.#flushScheduled = true;
      setImmediate(this.#flushSoon);
    }
  }

  readonly #flushSoon = (): void => {
    this.#flushScheduled = false;
    this.#flush();
  };

  #flush(): void {
    const b = this.#batch;
    if (b.count === 0 || this.#onBatch === undefined || this.#held) return;
    b.firstIndex = this.#next;
    this.#next += b.count;
    this.#counts.delivered += b.count;
    this.#counts.batches++;
    try {
      this.#onBatch(b);
    } catch (err) {
      queueMicrotask(() => {
        throw err;
      });
    } finally {
      b.count = 0;
    }
  }
}

/** The libpcap backend of the live sensor (see live-capture.ts). */
export function openPcapCapture(options: LiveCaptureOptions): LiveCapture {
  return new PcapCapture(options);
}

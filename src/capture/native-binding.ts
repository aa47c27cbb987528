/**
 * Loads the C++ raw-socket core (native/src) and describes its JS surface.
 *
 * Which build is loaded:
 *  - default: build/Release/honeyport_native.node (binding.gyp, `npm install`)
 *  - HONEYPORT_NATIVE=asan: native/build/Release/honeyport_native_asan.node
 *    (cmake-js, AddressSanitizer + UBSan; node must then run with the ASan
 *    runtime preloaded, see native/README.md)
 *  - HONEYPORT_NATIVE=/path/to/file.node: that file.
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Options of the native open(); see AfPacketOptions for their meaning. */
export interface NativeOpenOptions {
  interfaces: readonly string[];
  filter: Uint8Array;
  ringBlockSize?: number;
  ringBlockCount?: number;
  frameSize?: number;
  blockTimeoutMs?: number;
  snapLength?: number;
  fanoutGroup?: number;
  handoffSlots?: number;
  handoffWaitMs?: number;
  kernelIgnoreOutgoing?: boolean;
}

/**
 * Byte offsets of one hand-off slot inside `memory`; slot i starts at
 * i * stride. Arrays are struct-of-arrays like FrameBatch.
 */
export interface NativeSlotLayout {
  readonly slots: number;
  readonly frameCapacity: number;
  readonly dataCapacity: number;
  readonly stride: number;
  readonly tsOffset: number;
  readonly offsetOffset: number;
  readonly caplenOffset: number;
  readonly wirelenOffset: number;
  readonly ifaceOffset: number;
  readonly vlanOffset: number;
  readonly linktypeOffset: number;
  readonly dataOffset: number;
}

export interface NativeStats {
  /** PACKET_STATISTICS tp_packets running total (includes kernelDrops). */
  readonly kernelPackets: number;
  readonly kernelDrops: number;
  readonly kernelFreezes: number;
  readonly blocks: number;
  readonly framesQueued: number;
  readonly handoffDropFrames: number;
  readonly handoffDropBlocks: number;
  readonly outgoingSkipped: number;
  readonly unsupportedLink: number;
  readonly overflow: number;
  readonly malformedBlocks: number;
  readonly socketErrors: number;
  readonly framesDelivered: number;
  readonly batchesDelivered: number;
}

export interface NativeCapture {
  /** Pool memory (external; stays valid as long as this object is reachable). */
  readonly memory: ArrayBuffer;
  readonly layout: NativeSlotLayout;
  setFilter(program: Uint8Array): void;
  stats(): NativeStats;
  close(): void;
  ref(): void;
  unref(): void;
}

/**
 * onBlock(slot, count): slot `slot` holds `count` frames; it is refilled
 * once the callback returns.
 */
export interface NativeAddon {
  open(options: NativeOpenOptions, onBlock: (slot: number, count: number) => void): NativeCapture;
}

export type NativeLoadResult =
  | { readonly ok: true; readonly addon: NativeAddon; readonly path: string }
  | { readonly ok: false; readonly reason: string };

const ADDON_RELEASE = join('build', 'Release', 'honeyport_native.node');
const ADDON_ASAN = join('native', 'build', 'Release', 'honeyport_native_asan.node');

/** The repository root: the nearest ancestor holding binding.gyp. */
function packageRoot(): string | undefined {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let depth = 0; depth < 8; depth += 1) {
    if (existsSync(join(dir, 'binding.gyp'))) return dir;
    const parent = dirname(dir);
    if (parent === dir) break;
    dir = parent;
  }
  return undefined;
}

function addonPath(selector: string | undefined, root: string): string {
  if (selector === undefined || selector === '' || selector === 'release') {
    return join(root, ADDON_RELEASE);
  }
  if (selector === 'asan') return join(root, ADDON_ASAN);
  return isAbsolute(selector) ? selector : resolve(selector);
}

/** Loads the addon without throwing, so that callers (and tests) can explain a skip. */
export function loadNative(env: NodeJS.ProcessEnv = process.env): NativeLoadResult {
  if (process.platform !== 'linux') {
    return { ok: false, reason: 'the AF_PACKET core exists on Linux only' };
  }
  const root = packageRoot();
  if (root === undefined) return { ok: false, reason: 'cannot find the package root (binding.gyp)' };
  const path = addonPath(env.HONEYPORT_NATIVE, root);
  if (!existsSync(path)) {
    const how =
      env.HONEYPORT_NATIVE === 'asan'
        ? 'run `npm run build:native:asan`'
        : 'run `npm install` (or `npm run build:native`)';
    return { ok: false, reason: `native addon not built: ${path} is missing; ${how}` };
  }
  try {
    const addon = createRequire(import.meta.url)(path) as NativeAddon;
    return { ok: true, addon, path };
  } catch (err) {
    return { ok: false, reason: `cannot load native addon ${path}: ${(err as Error).message}` };
  }
}

/** Loads the addon or throws an Error that says how to build it. */
export function requireNative(env: NodeJS.ProcessEnv = process.env): NativeAddon {
  const loaded = loadNative(env);
  if (!loaded.ok) throw new Error(loaded.reason);
  return loaded.addon;
}

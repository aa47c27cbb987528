/**
 * Loads the C++ raw-socket core (native/src) and describes its JS surface.
 *
 * Which build is loaded:
 *  - default: whatever node-gyp-build finds under the package root, in its
 *    order: build/Release/*.node (a local `npm install` / `npm run
 *    build:native`), then prebuilds/<platform>-<arch>/ (the prebuilt addon the
 *    npm tarball and the .deb ship, matched on runtime, Node-API and libc tags)
 *  - HONEYPORT_NATIVE=asan: native/build/Release/honeyport_native_asan.node
 *    (cmake-js, AddressSanitizer + UBSan; node must then run with the ASan
 *    runtime preloaded, see native/README.md)
 *  - HONEYPORT_NATIVE=/path/to/file.node: that file.
 * node-gyp-build is the Node ecosystem's loader for addons that ship
 * prebuilds; using it keeps our layout the one `npm install` tooling expects.
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { isAbsolute, join, resolve } from 'node:path';
import { packageRoot } from '../package-root.js';
import type { NetlinkListeners } from '../ports/listening-table.js';

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
  fullBlockPauseMs?: number;
  kernelIgnoreOutgoing?: boolean;
  /** Open the sockets but hand over no frame until resume(): they wait in the ring. */
  held?: boolean;
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
  /** Starts the capture thread of a capture opened `held`. */
  resume(): void;
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
  /** getpwnam: null when no such user (privilege-drop.ts, native/src/privileges.h). */
  lookupUser(name: string): { readonly uid: number; readonly gid: number } | null;
  /** Effective uid/gid of every thread to the user, supplementary groups dropped; real and saved stay 0. */
  assumeUser(uid: number, gid: number): void;
  /** Effective uid/gid of every thread back to 0. */
  resumeRoot(): void;
  /** The drop for good: ids, groups, capability sets, bounding set, no_new_privs (see privileges.h). */
  dropPrivileges(uid: number, gid: number, keep: number[]): void;
  /** Listening TCP sockets of one family from a NETLINK_SOCK_DIAG dump (native/src/listeners.h). */
  listeningTcp: NetlinkListeners;
  /** glibc malloc_trim(0): free malloc pages of every arena back to the kernel; true when some were (memory-trim.ts). */
  trimMalloc(): boolean;
  /** madvise(MADV_DONTNEED) over [start, end) pairs; bytes advised (resident-file-pages.ts picks the ranges). Absent in an addon built before it. */
  adviseDontNeed?(ranges: Float64Array): number;
  /** _exit(code): ends the process even when a libuv pool thread is stuck, which process.exit() waits for. Absent in an addon built before it. */
  exitNow?(code: number): never;
}

export type NativeLoadResult =
  | { readonly ok: true; readonly addon: NativeAddon; readonly path: string }
  | { readonly ok: false; readonly reason: string };

const ADDON_ASAN = join('native', 'build', 'Release', 'honeyport_native_asan.node');

type NodeGypBuild = { path(dir: string): string };

/** Where node-gyp-build finds the addon under `root`, or why it finds none. */
function defaultAddonPath(root: string): { path: string } | { reason: string } {
  const require = createRequire(import.meta.url);
  let loader: NodeGypBuild;
  try {
    loader = require('node-gyp-build') as NodeGypBuild;
  } catch (err) {
    return { reason: `cannot load node-gyp-build: ${(err as Error).message}` };
  }
  try {
    return { path: loader.path(root) };
  } catch (err) {
    // node-gyp-build's message names the platform, arch, ABI and libc it looked for.
    const what = (err as Error).message.split('\n')[0]!.replace(/^No native build was found for /, '');
    return {
      reason:
        `native addon not built: no ${join(root, 'build', 'Release')}/*.node and no prebuild in ` +
        `${join(root, 'prebuilds')} for ${what}; run \`npm install\` (or \`npm run build:native\`)`,
    };
  }
}

/**
 * Loads the addon without throwing, so that callers (and tests) can explain a
 * skip. `root` is the package root to search (tests point it elsewhere).
 */
export function loadNative(env: NodeJS.ProcessEnv = process.env, root: string | undefined = packageRoot()): NativeLoadResult {
  if (process.platform !== 'linux') {
    return { ok: false, reason: 'the AF_PACKET core exists on Linux only' };
  }
  if (root === undefined) return { ok: false, reason: 'cannot find the package root (package.json)' };
  const selector = env.HONEYPORT_NATIVE;
  let path: string;
  if (selector === undefined || selector === '' || selector === 'release') {
    const found = defaultAddonPath(root);
    if ('reason' in found) return { ok: false, reason: found.reason };
    path = found.path;
  } else {
    path = selector === 'asan' ? join(root, ADDON_ASAN) : isAbsolute(selector) ? selector : resolve(selector);
    if (!existsSync(path)) {
      const how = selector === 'asan' ? 'run `npm run build:native:asan`' : 'check HONEYPORT_NATIVE';
      return { ok: false, reason: `native addon not built: ${path} is missing; ${how}` };
    }
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

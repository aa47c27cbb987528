/**
 * The listening TCP sockets of this network namespace, for the port holder's
 * periodic check: from the kernel's NETLINK_SOCK_DIAG interface (the native
 * addon's listeningTcp, native/src/listeners.cc) when it can be used, else
 * from /proc/net/tcp and tcp6 (proc-net.ts).
 *
 * Why two sources: reading /proc/net/tcp* makes the kernel walk every bucket
 * of the established hash (~4 ms of CPU per file with 262,144 buckets), which
 * alone was twice the idle sensor's CPU budget at one check per 5 s; a
 * sock_diag dump for TCP_LISTEN walks only the listening hash (~0.1 ms).
 * Netlink needs no privilege but can be missing: the addon not built, a
 * sandbox without AF_NETLINK, a kernel without inet_diag. Then /proc is read
 * from then on and `onFallback` is told why, once. A dump that breaks off
 * midway falls back for that one read only.
 *
 * Both sources answer the same thing (a differential test holds it): every
 * listening socket on the selected ports, per family as the kernel files
 * them (a dual-stack IPv6 socket is in `v6`), and whether the answer is
 * complete (a conclusion from absence needs a complete one).
 */
import { join } from 'node:path';
import { loadNative } from '../capture/native-binding.js';
import { readListening, selected, type ListeningSocket, type PortSelection, type ProcNetOptions } from './proc-net.js';

export interface ListeningTable {
  readonly v4: ListeningSocket[];
  readonly v6: ListeningSocket[];
  readonly complete: boolean;
}

/** What the addon's listeningTcp(family, maxEntries) answers. */
export type NetlinkAnswer =
  | { readonly status: 'ok'; readonly complete: boolean; readonly sockets: ListeningSocket[] }
  | { readonly status: 'unavailable' | 'failed'; readonly reason: string };

export type NetlinkListeners = (family: 4 | 6, maxEntries: number) => NetlinkAnswer;

export type ListeningSource = 'netlink' | 'procfs';

export interface ListeningTableOptions extends ProcNetOptions {
  /** Where procfs is mounted; with another root than /proc only an injected `netlink` is used (tests point it at files). */
  readonly procRoot?: string;
  /**
   * The netlink dump; default the native addon's. `null`: procfs only.
   * Tests inject one that fails to see the fallback.
   */
  readonly netlink?: NetlinkListeners | null;
  /** Listening sockets kept per family from a dump (default 1,000,000); more leaves the answer incomplete. */
  readonly maxEntries?: number;
  /** Told once why /proc is read instead of netlink. */
  readonly onFallback?: (reason: string) => void;
}

const DEFAULT_MAX_ENTRIES = 1_000_000;

/** The addon's dump, or why there is none. */
function nativeListeners(): NetlinkListeners | string {
  const loaded = loadNative();
  if (!loaded.ok) return loaded.reason;
  const dump = (loaded.addon as { listeningTcp?: NetlinkListeners }).listeningTcp;  // undefined in an addon built before it
  return typeof dump === 'function' ? dump : `the native addon ${loaded.path} has no listeningTcp (an older build)`;
}

export class ListeningTableReader {
  readonly #options: ListeningTableOptions;
  readonly #procRoot: string;
  #netlink: NetlinkListeners | undefined;

  constructor(options: ListeningTableOptions = {}) {
    this.#options = options;
    this.#procRoot = options.procRoot ?? '/proc';
    if (options.netlink === null) return;
    // The addon's dump answers for this process's network namespace, which another procfs root need not describe.
    if (options.netlink === undefined && this.#procRoot !== '/proc') return;
    const dump = options.netlink ?? nativeListeners();
    if (typeof dump === 'function') this.#netlink = dump;
    else this.#fallBack(dump);
  }

  /** Where the next read comes from. */
  get source(): ListeningSource {
    return this.#netlink ? 'netlink' : 'procfs';
  }

  async read(ports: PortSelection): Promise<ListeningTable> {
    if (this.#netlink) {
      const table = this.#fromNetlink(this.#netlink, ports);
      if (table) return table;
    }
    return this.#fromProc(ports);
  }

  #fromNetlink(dump: NetlinkListeners, ports: PortSelection): ListeningTable | undefined {
    const max = this.#options.maxEntries ?? DEFAULT_MAX_ENTRIES;
    const found: ListeningSocket[][] = [];
    let complete = true;
    for (const family of [4, 6] as const) {
      let answer: NetlinkAnswer;
      try {
        answer = dump(family, max);
      } catch (err) {
        answer = { status: 'unavailable', reason: `the dump threw: ${(err as Error).message}` };
      }
      if (answer.status === 'unavailable') this.#fallBack(answer.reason);
      if (answer.status !== 'ok') return undefined;
      found.push(answer.sockets.filter((s) => selected(ports, s.port)));
      complete &&= answer.complete;
    }
    return { v4: found[0]!, v6: found[1]!, complete };
  }

  async #fromProc(ports: PortSelection): Promise<ListeningTable> {
    const [t4, t6] = await Promise.all([
      readListening(join(this.#procRoot, 'net', 'tcp'), ports, this.#options),
      readListening(join(this.#procRoot, 'net', 'tcp6'), ports, this.#options),
    ]);
    return { v4: t4.sockets, v6: t6.sockets, complete: t4.complete && t6.complete };
  }

  /** From now on procfs; said once, as netlink is never tried again. */
  #fallBack(reason: string): void {
    this.#netlink = undefined;
    this.#options.onFallback?.(`listening sockets are read from ${this.#procRoot}/net/tcp* (slower: it walks every established socket), not netlink: ${reason}`);
  }
}

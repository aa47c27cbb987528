/**
 * Holds the policy's honeypot ports open as decoys, reports a status per
 * listener, and turns every completed connection into a ConnectionFact.
 * Nothing is written to a peer and nothing is executed.
 *
 * check() looks again (the sensor calls it every few seconds): a decoy whose
 * listening socket is gone from /proc/net (destroyed from outside, e.g.
 * `ss -K`: Node is not told) is released and becomes `free` (or `occupied`
 * when another process took the port); an occupied port nobody listens on
 * any more becomes `free`, and a free one someone listens on, `occupied`; a
 * new occupant is named. A free port is not re-taken here — a service
 * restarting must get its port back — the next apply() (SIGHUP) binds it.
 */
import { readlinkSync } from 'node:fs';
import type { Server, Socket } from 'node:net';
import type { Policy, PortProtocol } from '../policy/policy.js';
import { formatAddress, parseAddress, type Family } from '../net/address.js';
import { describeBindError, errorCode } from './bind-error.js';
import { ConnectionLimiter } from './connection-limits.js';
import { readConnection, type HeldConnection } from './connection-reader.js';
import { closeServer, listen } from './listen.js';
import { conflictingInodes, findOccupant, type OccupantLookupOptions } from './occupant.js';
import { ListeningTableReader, type ListeningSource, type ListeningTableOptions } from './listening-table.js';
import type { ListeningSocket } from './proc-net.js';
import type { ConnectionFact, ListenerKey, PortHolderCounters, PortStatus } from './types.js';

export interface PortHolderOptions {
  /** Local addresses per protocol; default `0.0.0.0` for tcp and `::` for tcp6. */
  readonly addresses?: { readonly tcp?: readonly string[]; readonly tcp6?: readonly string[] };
  /** Bytes kept from each connection (default 256). */
  readonly maxBytes?: number;
  /** Deadline for reading a connection, from accept (default 3000 ms). */
  readonly readTimeoutMs?: number;
  /** Connections read at once over all ports (default 256). */
  readonly maxConnections?: number;
  /** Connections read at once from one source address (default 16). */
  readonly maxPerSource?: number;
  /** listen() backlog (default 128). */
  readonly backlog?: number;
  readonly onConnection?: (fact: ConnectionFact) => void;
  /**
   * Called the moment a listener starts listening, synchronously after
   * listen() and before any connection or other I/O callback can run: a
   * caller that must watch a port before it answers (the sensor's detector)
   * admits it here, not after `apply` resolves (which may wait on /proc
   * reads for another port).
   */
  readonly onListening?: (key: ListenerKey) => void;
  readonly occupantLookup?: OccupantLookupOptions;
  /**
   * Where check() reads the listening sockets (listening-table.ts; procfs
   * root and byte cap come from occupantLookup): the netlink dump to use and
   * who is told, once, when /proc is read instead.
   */
  readonly listeningTable?: Pick<ListeningTableOptions, 'netlink' | 'onFallback' | 'maxEntries'>;
}

export const PORT_HOLDER_DEFAULTS = {
  maxBytes: 256,
  readTimeoutMs: 3000,
  maxConnections: 256,
  maxPerSource: 16,
  backlog: 128,
} as const;

/** `open()` could hold none of the policy's ports; `statuses` says why for each. */
export class PortHoldError extends Error {
  constructor(readonly statuses: readonly PortStatus[]) {
    super(`none of the policy's ports could be held:\n${statuses.map((s) => `  ${describeStatus(s)}`).join('\n')}`);
    this.name = 'PortHoldError';
  }
}

/** One line per status, for stderr at start and in errors. */
export function describeStatus(s: PortStatus): string {
  const where = `${s.protocol} port ${s.port} on ${s.address}`;
  switch (s.state) {
    case 'listening':
      return `${where}: listening`;
    case 'occupied':
      return `${where}: occupied, ${s.reason}`;
    case 'failed':
      return `${where}: failed (${s.code}), ${s.reason}`;
    case 'free':
      return `${where}: free, ${s.reason}`;
  }
}

interface Listener {
  readonly key: ListenerKey;
  readonly server: Server | undefined;
  readonly status: PortStatus;
  readonly connections: Set<HeldConnection>;
  /** Our listening socket's inode (undefined: not listening, or not found in /proc/self/fd). */
  readonly inode?: number;
  /** Another process's listening sockets on the port at the last check (occupied / free). */
  readonly seen?: ReadonlySet<number>;
}

interface MutableCounters {
  accepted: number;
  refusedOverLimit: number;
  bytes: number;
  acceptErrors: number;
}

export class PortHolder {
  readonly #listeners = new Map<string, Listener>();
  readonly #limiter: ConnectionLimiter;
  readonly #counters: MutableCounters = { accepted: 0, refusedOverLimit: 0, bytes: 0, acceptErrors: 0 };
  readonly #addresses: Readonly<Record<PortProtocol, readonly string[]>>;
  readonly #options: PortHolderOptions;
  readonly #maxBytes: number;
  readonly #readTimeoutMs: number;
  /** Serialises apply() and close() so a reload never races another. */
  #queue: Promise<unknown> = Promise.resolve();
  #closing: Promise<void> | undefined;
  #nextListenerId = 1;
  readonly #table: ListeningTableReader;

  private constructor(options: PortHolderOptions) {
    this.#options = options;
    this.#table = new ListeningTableReader({ ...options.occupantLookup, ...options.listeningTable });
    this.#addresses = {
      tcp: checkAddresses(options.addresses?.tcp ?? ['0.0.0.0'], 4, 'tcp'),
      tcp6: checkAddresses(options.addresses?.tcp6 ?? ['::'], 6, 'tcp6'),
    };
    this.#maxBytes = positive(options.maxBytes ?? PORT_HOLDER_DEFAULTS.maxBytes, 'maxBytes');
    this.#readTimeoutMs = positive(options.readTimeoutMs ?? PORT_HOLDER_DEFAULTS.readTimeoutMs, 'readTimeoutMs');
    this.#limiter = new ConnectionLimiter({
      maxConnections: options.maxConnections ?? PORT_HOLDER_DEFAULTS.maxConnections,
      maxPerSource: options.maxPerSource ?? PORT_HOLDER_DEFAULTS.maxPerSource,
    });
  }

  /**
   * Opens every port of the policy. Resolves when at least one listener is
   * listening; otherwise releases everything and rejects with PortHoldError.
   */
  static async open(policy: Policy, options: PortHolderOptions = {}): Promise<PortHolder> {
    const holder = new PortHolder(options);
    const statuses = await holder.apply(policy);
    if (!statuses.some((s) => s.state === 'listening')) {
      await holder.close();
      throw new PortHoldError(statuses);
    }
    return holder;
  }

  /**
   * Moves to a new policy: listeners no longer wanted are closed, new ones
   * opened, unchanged listening ones kept as they are (no moment without a
   * listener), and occupied or failed ones retried. Resolves with all statuses,
   * even when none is listening: during a reload the caller decides.
   */
  apply(policy: Policy): Promise<readonly PortStatus[]> {
    const run = this.#queue.then(() => this.#apply(policy));
    this.#queue = run.catch(() => undefined);
    return run;
  }

  statuses(): readonly PortStatus[] {
    return sortStatuses([...this.#listeners.values()].map((l) => l.status));
  }

  counters(): PortHolderCounters {
    return { ...this.#counters, active: this.#limiter.active };
  }

  /** Releases every port and ends connections being read. Idempotent. */
  close(): Promise<void> {
    if (!this.#closing) {
      this.#closing = this.#queue.then(async () => {
        await Promise.all([...this.#listeners.values()].map((l) => this.#release(l)));
        this.#listeners.clear();
      });
    }
    return this.#closing;
  }

  async #apply(policy: Policy): Promise<readonly PortStatus[]> {
    if (this.#closing) throw new Error('the port holder is closed');
    const wanted = new Map<string, ListenerKey>();
    for (const { port, protocol } of policy.ports) {
      for (const address of this.#addresses[protocol]) {
        const key: ListenerKey = { port, protocol, address };
        wanted.set(keyText(key), key);
      }
    }
    // Release first, so a port that changes protocol can be bound again.
    const gone = [...this.#listeners.entries()].filter(([text]) => !wanted.has(text));
    await Promise.all(
      gone.map(async ([text, listener]) => {
        this.#listeners.delete(text);
        await this.#release(listener);
      }),
    );
    const toOpen = [...wanted.entries()].filter(([text]) => this.#listeners.get(text)?.status.state !== 'listening');
    const opened = await Promise.all(toOpen.map(([, key]) => this.#open(key)));
    for (const listener of opened) this.#listeners.set(keyText(listener.key), listener);
    return this.statuses();
  }

  async #open(key: ListenerKey): Promise<Listener> {
    const connections = new Set<HeldConnection>();
    const outcome = await listen(key, this.#options.backlog ?? PORT_HOLDER_DEFAULTS.backlog, (socket) =>
      this.#onSocket(key, connections, socket),
    );
    if (outcome.ok) {
      // After listen() succeeded an 'error' is an accept() failure: count it, keep listening.
      outcome.server.on('error', () => this.#counters.acceptErrors++);
      this.#options.onListening?.(key);
      const inode = socketInode(outcome.server);
      return { key, server: outcome.server, status: { ...key, state: 'listening', listenerId: this.#nextListenerId++ }, connections, ...(inode ? { inode } : {}) };
    }
    if (errorCode(outcome.error) === 'EADDRINUSE') {
      const table = await this.#table.read(key.port);
      const known = table.complete ? conflictingInodes(key.port, key.protocol, key.address, table.v4, table.v6) : undefined;
      const lookup = await findOccupant(key.port, key.protocol, key.address, this.#options.occupantLookup, known);
      const status: PortStatus = lookup.found
        ? { ...key, state: 'occupied', occupant: lookup.occupant, reason: lookup.reason }
        : { ...key, state: 'occupied', reason: lookup.reason };
      return { key, server: undefined, status, connections };
    }
    const failure = describeBindError(outcome.error, key.port, key.protocol, key.address);
    return { key, server: undefined, status: { ...key, state: 'failed', ...failure }, connections };
  }

  /** Where check() reads the listening sockets from. */
  get listeningSource(): ListeningSource {
    return this.#table.source;
  }

  /**
   * Looks at every listener again (see the header); resolves true when some
   * status changed. Serialised with apply() and close().
   */
  check(): Promise<boolean> {
    const run = this.#queue.then(() => this.#check());
    this.#queue = run.catch(() => undefined);
    return run;
  }

  async #check(): Promise<boolean> {
    if (this.#closing || this.#listeners.size === 0) return false;
    const ports = new Set([...this.#listeners.values()].map((l) => l.key.port));
    const { v4, v6, complete } = await this.#table.read(ports);
    // Absence proves nothing in an answer read only in part (byte cap, read error): judge nothing then.
    if (!complete) return false;
    let changed = false;
    for (const [text, listener] of [...this.#listeners]) {
      const next = await this.#recheck(listener, v4, v6);
      if (!next || this.#closing) continue;
      this.#listeners.set(text, next.listener);
      changed ||= next.changed;
    }
    return changed;
  }

  async #recheck(l: Listener, v4: readonly ListeningSocket[], v6: readonly ListeningSocket[]): Promise<{ listener: Listener; changed: boolean } | undefined> {
    const { key } = l;
    const others = conflictingInodes(key.port, key.protocol, key.address, v4, v6);
    const vacant = (reason: string, seen: ReadonlySet<number>): Listener => ({ key, server: undefined, status: { ...key, state: 'free', reason }, connections: l.connections, seen });
    switch (l.status.state) {
      case 'failed':
        return undefined;
      case 'listening': {
        if (l.inode === undefined || (key.protocol === 'tcp' ? v4 : v6).some((s) => s.inode === l.inode)) return undefined;
        // Our socket is gone: the kernel answers nothing on it any more; let Node drop its handle too.
        others.delete(l.inode);
        await this.#release(l);
        if (others.size > 0) return { listener: await this.#occupiedBy(l, others), changed: true };
        return { listener: vacant('the decoy\'s listening socket was closed from outside the sensor (e.g. ss -K); a reload (SIGHUP) binds it again', others), changed: true };
      }
      case 'occupied': {
        if (others.size === 0) {
          const who = l.status.occupant ? `${l.status.occupant.command} (pid ${l.status.occupant.pid})` : 'its occupant';
          return { listener: vacant(`${who} stopped listening on it; a reload (SIGHUP) binds it`, others), changed: true };
        }
        if (l.seen === undefined) return { listener: { ...l, seen: others }, changed: false };
        if (sameSet(l.seen, others)) return undefined;
        const next = await this.#occupiedBy(l, others);
        const a = l.status.occupant;
        const b = next.status.state === 'occupied' ? next.status.occupant : undefined;
        return { listener: next, changed: a?.pid !== b?.pid || a?.command !== b?.command };
      }
      case 'free':
        if (others.size === 0) return undefined;
        return { listener: await this.#occupiedBy(l, others), changed: true };
    }
  }

  async #occupiedBy(l: Listener, seen: ReadonlySet<number>): Promise<Listener> {
    const { key } = l;
    const lookup = await findOccupant(key.port, key.protocol, key.address, this.#options.occupantLookup, seen);
    const status: PortStatus = lookup.found
      ? { ...key, state: 'occupied', occupant: lookup.occupant, reason: lookup.reason }
      : { ...key, state: 'occupied', reason: lookup.reason };
    return { key, server: undefined, status, connections: l.connections, seen };
  }

  #onSocket(key: ListenerKey, connections: Set<HeldConnection>, socket: Socket): void {
    const family: Family = key.protocol === 'tcp' ? 4 : 6;
    const sourceIp = normaliseIp(socket.remoteAddress);
    const admitted = !this.#closing && sourceIp !== undefined && this.#limiter.tryAdmit(sourceIp);
    if (!admitted) {
      // A socket already gone (no remote address) or a holder shutting down is not a limit refusal.
      if (!this.#closing && sourceIp !== undefined) this.#counters.refusedOverLimit++;
      socket.on('error', () => undefined);
      socket.destroy();
      return;
    }
    this.#counters.accepted++;
    const ends = {
      protocol: key.protocol,
      family,
      sourceIp,
      sourcePort: socket.remotePort ?? 0,
      destinationIp: normaliseIp(socket.localAddress) ?? key.address,
      destinationPort: socket.localPort ?? key.port,
    };
    const held = readConnection(
      socket,
      ends,
      { maxBytes: this.#maxBytes, timeoutMs: this.#readTimeoutMs },
      (count) => {
        this.#counters.bytes += count;
      },
      (fact) => {
        connections.delete(held);
        this.#limiter.release(sourceIp);
        this.#options.onConnection?.(fact);
      },
    );
    connections.add(held);
  }

  async #release(listener: Listener): Promise<void> {
    if (!listener.server) return;
    const closed = closeServer(listener.server);
    for (const held of [...listener.connections]) held.stop();
    await closed;
  }
}

/**
 * The inode of a listening server's socket, from /proc/self/fd: what the
 * periodic check looks for in /proc/net. Node keeps the descriptor on its
 * (internal) handle; undefined when either is not there.
 */
function socketInode(server: Server): number | undefined {
  const fd = (server as unknown as { _handle?: { fd?: unknown } })._handle?.fd;
  if (typeof fd !== 'number' || fd < 0) return undefined;
  try {
    const m = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/self/fd/${fd}`));
    return m ? Number(m[1]) : undefined;
  } catch {
    return undefined;
  }
}

function sameSet(a: ReadonlySet<number>, b: ReadonlySet<number>): boolean {
  if (a.size !== b.size) return false;
  for (const x of a) if (!b.has(x)) return false;
  return true;
}

function keyText(key: ListenerKey): string {
  return `${key.protocol}|${key.address}|${key.port}`;
}

function sortStatuses(statuses: PortStatus[]): PortStatus[] {
  return statuses.sort(
    (a, b) => a.port - b.port || a.protocol.localeCompare(b.protocol) || a.address.localeCompare(b.address),
  );
}

/** RFC 5952 / dotted text; a scoped address keeps its zone as the kernel gave it. */
function normaliseIp(text: string | undefined): string | undefined {
  if (text === undefined || text.length === 0) return undefined;
  const parsed = parseAddress(text);
  return parsed ? formatAddress(parsed.family, parsed.bytes) : text;
}

function checkAddresses(list: readonly string[], family: Family, protocol: PortProtocol): readonly string[] {
  if (list.length === 0) throw new TypeError(`no bind address given for ${protocol}`);
  return list.map((text) => {
    const parsed = parseAddress(text);
    if (!parsed || parsed.family !== family) {
      throw new TypeError(`"${text}" is not an IPv${family} address (${protocol} listeners are IPv${family} only)`);
    }
    return formatAddress(parsed.family, parsed.bytes);
  });
}

function positive(value: number, name: string): number {
  if (!Number.isSafeInteger(value) || value < 1) throw new RangeError(`${name} must be a positive integer, got ${value}`);
  return value;
}

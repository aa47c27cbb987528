/**
 * Holds the policy's honeypot ports open as decoys, reports a status per
 * listener, and turns every completed connection into a ConnectionFact.
 * Nothing is written to a peer and nothing is executed.
 */
import type { Server, Socket } from 'node:net';
import type { Policy, PortProtocol } from '../policy/policy.js';
import { formatAddress, parseAddress, type Family } from '../net/address.js';
import { describeBindError, errorCode } from './bind-error.js';
import { ConnectionLimiter } from './connection-limits.js';
import { readConnection, type HeldConnection } from './connection-reader.js';
import { closeServer, listen } from './listen.js';
import { findOccupant, type OccupantLookupOptions } from './occupant.js';
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
  }
}

interface Listener {
  readonly key: ListenerKey;
  readonly server: Server | undefined;
  readonly status: PortStatus;
  readonly connections: Set<HeldConnection>;
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

  private constructor(options: PortHolderOptions) {
    this.#options = options;
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
      return { key, server: outcome.server, status: { ...key, state: 'listening', listenerId: this.#nextListenerId++ }, connections };
    }
    if (errorCode(outcome.error) === 'EADDRINUSE') {
      const lookup = await findOccupant(key.port, key.protocol, key.address, this.#options.occupantLookup);
      const status: PortStatus = lookup.found
        ? { ...key, state: 'occupied', occupant: lookup.occupant, reason: lookup.reason }
        : { ...key, state: 'occupied', reason: lookup.reason };
      return { key, server: undefined, status, connections };
    }
    const failure = describeBindError(outcome.error, key.port, key.protocol, key.address);
    return { key, server: undefined, status: { ...key, state: 'failed', ...failure }, connections };
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

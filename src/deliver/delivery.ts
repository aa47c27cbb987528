/**
 * Alarms → every configured sink. publish() formats once per output format
 * and hands each sink its record: synchronous, O(1) per sink, never blocks on
 * a slow or dead receiver (that sink spools; the others carry on).
 */
import { join } from 'node:path';
import type { Writable } from 'node:stream';
import type { Alarm } from '../alarm/alarm.js';
import { ConfigError, UnreachableError } from '../config/config-error.js';
import type { DeliveryConfig, OutputFormat } from '../config/sensor-config.js';
import type { Formatted, Transport } from './entry.js';
import { EcsFormatter, type FormatContext } from './format-ecs.js';
import { EveFormatter } from './format-eve.js';
import { formatLoss } from './format-loss.js';
import { shareTransport } from './shared-transport.js';
import { Sink, type DeliveryStats } from './sink.js';
import { DiskSpool } from './spool/disk-spool.js';
import { MemorySpool } from './spool/memory-spool.js';
import type { Spool } from './spool/spool.js';
import { sinkType } from './sinks/registry.js';

export type { DeliveryStats } from './sink.js';
export { ConfigError } from '../config/config-error.js';

export interface DeliveryOptions {
  /** Operational messages (sink down, spooling, recovered, losses). Default: stderr. */
  readonly onNotice?: (message: string) => void;
  /** The stdout sink's stream (tests). Default: process.stdout. */
  readonly stdout?: Writable;
  /** Open a state-document sink beside each sink (the live sensor; replay has no state). */
  readonly stateDocuments?: boolean;
}

/** Back-pressure threshold for callers that can wait (replay): records in memory per sink. */
const ROOM_LOW_WATER = 0.5;

interface Bound {
  readonly sink: Sink;
  readonly transport: Transport;
  readonly format: OutputFormat;
  readonly maxQueued: number;
}

/**
 * The spool bound of a sink's state documents (beside its alarm spool, which
 * keeps the whole --spool-max-bytes): 1/16 of it, at least 64 KiB — some
 * thousand documents, days of heartbeats.
 */
export function stateSpoolBytes(alarmSpoolBytes: number): number {
  return Math.max(64 * 1024, Math.floor(alarmSpoolBytes / 16));
}

/** Where a sink's state documents are spooled: `@` cannot start a sink name, so no sink's own spool is there. */
export const STATE_SPOOL_DIR = '@state';

export class Delivery {
  private readonly ecs: EcsFormatter;
  private readonly eve: EveFormatter | undefined;
  private closed = false;
  /** Alarms no format could be built for (a bug): said on stderr, never silently gone. */
  private unformatted = 0;

  private constructor(
    private readonly sinks: readonly Bound[],
    /** The same destinations for state documents: their own queues, spools and counters. */
    private readonly stateSinks: readonly Bound[],
    ctx: FormatContext,
    needEve: boolean,
    private readonly notice: (message: string) => void,
  ) {
    this.ecs = new EcsFormatter(ctx);
    this.eve = needEve ? new EveFormatter(ctx) : undefined;
  }

  /**
   * Opens every sink and checks it up front (receiver reachable, certificate
   * valid, credentials present, spool usable); throws ConfigError naming the
   * sink and the problem. Alarms a previous run spooled are sent first.
   */
  static async open(config: DeliveryConfig, ctx: FormatContext, options: DeliveryOptions = {}): Promise<Delivery> {
    const notice = options.onNotice ?? ((m: string) => void process.stderr.write(`honeyport: ${m}\n`));
    const stdout = options.stdout ?? process.stdout;
    const opened: Bound[] = [];
    const openedStates: Bound[] = [];
    const transports: Transport[] = [];
    const spools: Spool[] = [];
    try {
      for (const c of config.sinks) {
        const transport = await sinkType(c.type).transport(c, { stdout });
        transports.push(transport);
        try {
          await transport.open();
        } catch (err) {
          // A restart during a SIEM outage must not lose the alarms: with a disk spool, start and spool.
          if (!(err instanceof UnreachableError && config.spool.dir)) throw err;
          notice(`warning: ${err.message}; starting anyway, alarms go to the disk spool until it answers`);
        }
        const spool: Spool = config.spool.dir
          ? await DiskSpool.open(join(config.spool.dir, c.name), config.spool.maxBytes, c.name)
          : new MemorySpool(config.spool.maxBytes);
        spools.push(spool);
        const alarmSink = (t: Transport, sp: Spool): Sink =>
          new Sink({ name: c.name, queue: c.queue, transport: t, spool: sp, durable: config.spool.dir !== undefined, formatLoss: (loss) => formatLoss(c.format, c.name, loss, ctx), notice });
        if (!options.stateDocuments) {
          opened.push({ sink: alarmSink(transport, spool), transport, format: c.format, maxQueued: c.queue.maxQueued });
          continue;
        }
        const stateBytes = stateSpoolBytes(config.spool.maxBytes);
        const stateSpool: Spool = config.spool.dir
          ? await DiskSpool.open(join(config.spool.dir, STATE_SPOOL_DIR, c.name), stateBytes, `${c.name} (state documents)`)
          : new MemorySpool(stateBytes);
        spools.push(stateSpool);
        const shared = shareTransport(transport);
        opened.push({ sink: alarmSink(shared.alarms, spool), transport: shared.alarms, format: c.format, maxQueued: c.queue.maxQueued });
        const stateSink = new Sink({
          name: c.name,
          noun: 'state documents',
          queue: c.queue,
          transport: shared.states,
          spool: stateSpool,
          durable: config.spool.dir !== undefined,
          formatLoss: (loss) => formatLoss(c.format, c.name, loss, ctx, undefined, 'state documents'),
          notice,
        });
        openedStates.push({ sink: stateSink, transport: shared.states, format: c.format, maxQueued: c.queue.maxQueued });
      }
    } catch (err) {
      await Promise.all(transports.map((t) => t.close().catch(() => undefined)));
      await Promise.all(spools.map((s) => s.close().catch(() => undefined)));
      if (err instanceof ConfigError) throw err;
      throw new ConfigError('delivery', (err as Error).message);
    }
    for (const b of [...opened, ...openedStates]) b.sink.start();
    return new Delivery(opened, openedStates, ctx, opened.some((b) => b.format === 'eve'), notice);
  }

  /** Never blocks, never throws: a sink that cannot keep up spools. */
  publish(alarm: Alarm): void {
    if (this.closed) return;
    let ecs: Formatted;
    let eve: Formatted | undefined;
    try {
      // The formatter's document is the entry itself: one object per alarm, no copies.
      ecs = this.ecs.format(alarm);
      if (this.eve) eve = { json: this.eve.format(alarm, ecs.id), id: ecs.id, timeMicros: ecs.timeMicros, severity: ecs.severity, kind: ecs.kind };
    } catch (err) {
      // A formatting bug must not stop capture; it is said once, then every 1,000th time, with the count.
      if (this.unformatted++ % 1000 === 0) this.notice(`error: ${this.unformatted} alarm(s) could not be formatted and were not delivered (${(err as Error).message})`);
      return;
    }
    for (const b of this.sinks) {
      try {
        const f = b.format === 'eve' ? eve! : ecs;
        b.sink.push({ record: b.transport.encode(f), timeMicros: f.timeMicros });
      } catch {
        // push itself does not throw; an encoder bug drops this record for this sink only
      }
    }
  }

  /**
   * A sensor state document (src/state/): to every sink, in the sink's
   * format, through its state-document queue and spool. `format` builds the
   * document for one output format. Never blocks, never throws.
   */
  publishState(format: (f: OutputFormat) => Formatted): void {
    if (this.closed) return;
    const built = new Map<OutputFormat, Formatted>();
    for (const b of this.stateSinks) {
      try {
        let f = built.get(b.format);
        if (!f) {
          f = format(b.format);
          built.set(b.format, f);
        }
        b.sink.push({ record: b.transport.encode(f), timeMicros: f.timeMicros });
      } catch (err) {
        if (this.unformatted++ % 1000 === 0) this.notice(`error: a state document could not be formatted for sink ${b.sink.name} (${(err as Error).message})`);
      }
    }
  }

  /** Alarms only, per sink: `produced = delivered + dropped + queued` counts no state document. */
  stats(): DeliveryStats[] {
    return this.sinks.map((b) => b.sink.stats());
  }

  /** The same accounting for the state documents, per sink. */
  stateStats(): DeliveryStats[] {
    return this.stateSinks.map((b) => b.sink.stats());
  }

  /** SIGHUP: file sinks reopen their path on the next write. */
  reopen(): void {
    for (const b of this.sinks) b.sink.reopen();
  }

  /**
   * For callers that can wait (replay): a promise while some sink holds more
   * than half its memory queue, so a fast replay does not push alarms into
   * the spool merely because stdout is slow. Live capture never waits.
   */
  waitForRoom(): Promise<void> | undefined {
    if (this.closed) return undefined;
    const waits = this.sinks.map((b) => b.sink.roomBelow(b.maxQueued * ROOM_LOW_WATER)).filter((w) => w !== undefined);
    return waits.length ? Promise.all(waits).then(() => this.waitForRoom()) : undefined;
  }

  /** Resolves when every alarm published so far is delivered or durable in a spool. */
  async sync(timeoutMs = 5000): Promise<void> {
    await Promise.all([...this.sinks, ...this.stateSinks].map((b) => b.sink.sync(timeoutMs)));
  }

  /** True when no sink holds anything (memory, in flight, spool). */
  get idle(): boolean {
    return [...this.sinks, ...this.stateSinks].every((b) => b.sink.idle);
  }

  /** Delivers what it can within timeoutMs, spools the rest, closes every sink. */
  async close(timeoutMs = 5000): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await Promise.all([...this.sinks, ...this.stateSinks].map((b) => b.sink.close(timeoutMs)));
  }
}

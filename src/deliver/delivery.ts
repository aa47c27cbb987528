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
}

/** Back-pressure threshold for callers that can wait (replay): records in memory per sink. */
const ROOM_LOW_WATER = 0.5;

interface Bound {
  readonly sink: Sink;
  readonly transport: Transport;
  readonly format: OutputFormat;
  readonly maxQueued: number;
}

export class Delivery {
  private readonly ecs: EcsFormatter;
  private readonly eve: EveFormatter | undefined;
  private closed = false;
  /** Alarms no format could be built for (a bug): said on stderr, never silently gone. */
  private unformatted = 0;

  private constructor(
    private readonly sinks: readonly Bound[],
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
        const sink = new Sink({
          name: c.name,
          queue: c.queue,
          transport,
          spool,
          durable: config.spool.dir !== undefined,
          formatLoss: (loss) => formatLoss(c.format, c.name, loss, ctx),
          notice,
        });
        opened.push({ sink, transport, format: c.format, maxQueued: c.queue.maxQueued });
      }
    } catch (err) {
      await Promise.all(transports.map((t) => t.close().catch(() => undefined)));
      await Promise.all(spools.map((s) => s.close().catch(() => undefined)));
      if (err instanceof ConfigError) throw err;
      throw new ConfigError('delivery', (err as Error).message);
    }
    for (const b of opened) b.sink.start();
    return new Delivery(opened, ctx, opened.some((b) => b.format === 'eve'), notice);
  }

  /** Never blocks, never throws: a sink that cannot keep up spools. */
  publish(alarm: Alarm): void {
    if (this.closed) return;
    let ecs: Formatted;
    let eve: Formatted | undefined;
    try {
      const { id, json } = this.ecs.format(alarm);
      const base = {
        id,
        timeMicros: alarm.endMicros,
        severity: alarm.severity,
        kind: alarm.action === 'honeypot-flood' ? ('flood' as const) : ('probe' as const),
      };
      ecs = { ...base, json };
      if (this.eve) eve = { ...base, json: this.eve.format(alarm, id) };
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

  stats(): DeliveryStats[] {
    return this.sinks.map((b) => b.sink.stats());
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
    await Promise.all(this.sinks.map((b) => b.sink.sync(timeoutMs)));
  }

  /** True when no sink holds anything (memory, in flight, spool). */
  get idle(): boolean {
    return this.sinks.every((b) => b.sink.idle);
  }

  /** Delivers what it can within timeoutMs, spools the rest, closes every sink. */
  async close(timeoutMs = 5000): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await Promise.all(this.sinks.map((b) => b.sink.close(timeoutMs)));
  }
}

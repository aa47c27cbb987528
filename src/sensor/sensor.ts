/**
 * The live sensor: holds the policy's ports, captures probes of them with the
 * AF_PACKET core, and feeds the same decoder and detector as a replay.
 * Time is the clock: the kernel's frame timestamps for probes, and one timer
 * armed for the nearest deadline (a dedup window's end, a connection's
 * delay, a reload's retirement) that closes windows when nothing arrives.
 * Nothing is polled: an idle sensor with no window open runs no timer.
 *
 * Never answer unwatched: a decoy port never sends a SYN-ACK before the
 * capture of that port runs. At start the kernel filter covers every policy
 * port before any is bound; on reload it covers old ∪ new ports before a new
 * one is bound, and a removed port is closed before it leaves the filter.
 * An occupied port is not a decoy: the detector admits a port only from the
 * moment its listener listens (so probes captured while a bind was tried and
 * failed never alarm), and the filter is then narrowed to the ports held.
 * One detector lives as long as the sensor: reloads reconfigure it, so open
 * windows of kept ports and all counters carry over.
 * With `beforeFrames` (the privilege drop), no captured frame reaches
 * JavaScript before it has run: frames captured meanwhile wait in the ring.
 */
import { openAfPacketCapture } from '../capture/afpacket.js';
import type { CaptureCounters, LiveCapture, LiveCaptureFactory } from '../capture/live-capture.js';
import type { Alarm } from '../alarm/alarm.js';
import type { Decoder } from '../decode/decoder.js';
import type { Detector } from '../detect/detector.js';
import type { DetectionSettings } from '../pipeline/detection-settings.js';
import type { ProbeTotal } from '../pipeline/probe-tally.js';
import { ProbePipeline } from '../pipeline/probe-pipeline.js';
import { MAX_PORTS, type Policy, type ProtectedPort as PolicyPort } from '../policy/policy.js';
import { PortHolder } from '../ports/port-holder.js';
import type { PortStatus } from '../ports/types.js';
import type { ConnectionFact } from '../ports/types.js';
import { networkInterfaces } from 'node:os';

/**
 * The kernel hands over a partly filled ring block after this long: the
 * upper bound it adds to alarm latency (8 ms measured a p99 of 9-12 ms at
 * idle against a 10 ms goal; 4 ms costs 250 wake-ups a second when idle).
 */
export const BLOCK_TIMEOUT_MS = 4;
/**
 * A ring block waits this long for JavaScript (a burst of first alarms, a GC
 * pause) before its frames are dropped: the 64 MiB ring, not the 16 hand-off
 * slots, absorbs the pause. The live bench had 0.05-0.16% hand-off drops
 * with no wait.
 */
export const HANDOFF_WAIT_MS = 500;
/**
 * Under a flood (ring blocks retiring full, faster than BLOCK_TIMEOUT_MS) the
 * capture thread waits this long after a full block before handing over the
 * next, so both threads wake once per few blocks rather than per block
 * (~1,700 blocks/s at the bench's 170 kpps: each wake-up of the capture and
 * the JavaScript thread was a context switch). Adds at most this to latency,
 * and only under a flood; a block retired by the timeout is handed over at once.
 */
export const FULL_BLOCK_PAUSE_MS = 2;
/**
 * A released port stays in the detector this long, admitting probes the ring
 * captured before the release (a block waits at most BLOCK_TIMEOUT_MS +
 * HANDOFF_WAIT_MS for JavaScript, or its frames are counted as dropped).
 */
const RETIRE_MS = 2000;
/**
 * A closed connection is handed to the detector this long after it closed,
 * so that the ring has delivered its SYN first and the connection alarm
 * names the interface the key was captured on (a fast client closes within
 * the ring's block timeout). Order no longer decides the alarms either way.
 */
const CONNECTION_DELAY_MS = 200;
/** Connections waiting for their delay; beyond this they go to the detector at once. */
const MAX_DELAYED_CONNECTIONS = 4096;
/**
 * The port holder looks at its ports this often (a netlink dump of the
 * listening sockets, /proc/net/tcp* without netlink): a decoy that stopped listening, a port freed or taken is
 * reported within this long.
 */
export const PORT_CHECK_MS = 5000;
/** After the ports are closed at stop, frames still in the ring get this long to arrive. */
const STOP_DRAIN_MS = 4 * BLOCK_TIMEOUT_MS + 10;

export interface SensorOptions {
  /** The policy to start with (reload replaces it) and how to detect. */
  readonly detection: DetectionSettings;
  readonly interfaces: readonly string[];
  readonly ringBlockSize: number;
  readonly ringBlockCount: number;
  /** ifindex → interface name; alarms name inputs by their index in its values. */
  readonly interfaceTable: ReadonlyMap<number, string>;
  readonly onAlarm: (alarm: Alarm) => void;
  /** The ports' statuses once held, before capture starts (so they are reported even if capture fails). */
  readonly onPortsHeld?: (statuses: readonly PortStatus[]) => void;
  /** The capture backend (default AF_PACKET). */
  readonly openCapture?: LiveCaptureFactory;
  /**
   * A port's status changed between reloads (a decoy stopped listening, a
   * port was freed or taken): called with every status, after the filter
   * and detector were narrowed to the ports still held.
   */
  readonly onPortsChanged?: (statuses: readonly PortStatus[]) => void;
  /** Told once when the port check reads /proc/net/tcp* because netlink cannot be used (listening-table.ts). */
  readonly onListeningFallback?: (message: string) => void;
  /** How often the port holder looks again (default PORT_CHECK_MS). */
  readonly portCheckMs?: number;
  /** Port holder options for tests (bind addresses); the sensor sets the callbacks. */
  readonly bindAddresses?: { readonly tcp?: readonly string[]; readonly tcp6?: readonly string[] };
  /**
   * Runs once the ports are held and the filter narrowed, before the first
   * frame is handed to JavaScript (privilege-drop.ts). Throwing ends start().
   */
  readonly beforeFrames?: () => void;
}

export interface SensorStatus {
  readonly policy: Policy;
  readonly ports: readonly PortStatus[];
  readonly capture: CaptureCounters;
  readonly decode: Decoder['counters'];
  readonly detect: Detector['counters'];
  readonly trackedKeys: number;
  readonly connections: ReturnType<PortHolder['counters']>;
}

export class Sensor {
  private readonly pipeline: ProbePipeline;
  private readonly detector: Detector;
  /** ifindex → input index (a typed array: looked up for every captured segment). */
  private readonly ifaceInput: Int32Array;
  /** The one timer, armed for `wakeAtMs` (the nearest deadline) or undefined. */
  private wake: NodeJS.Timeout | undefined;
  private wakeAtMs = Infinity;
  private portCheck: NodeJS.Timeout | undefined;
  private checking = false;
  /** Reloads in progress: a port check must not narrow the filter under one (it widened it first). */
  private reloads = 0;
  private stopped = false;
  private ports: PortHolder | undefined;
  /** Ports released by a reload, still in the detector until the given Date.now(). */
  private retiring: { readonly port: PolicyPort; readonly untilMs: number }[] = [];
  /** Closed connections waiting for CONNECTION_DELAY_MS, oldest first. */
  private delayed: { readonly fact: ConnectionFact; readonly dueMs: number }[] = [];
  private readonly inputNames: readonly string[];

  private constructor(
    private policy: Policy,
    options: SensorOptions,
    private readonly capture: LiveCapture,
  ) {
    this.pipeline = new ProbePipeline(options.detection, { onAlarm: options.onAlarm, admitAll: false, followTunnels: false });
    this.detector = this.pipeline.detector;
    this.inputNames = [...options.interfaceTable.values()];
    const indexes = [...options.interfaceTable.keys()];
    // An interface that appeared after start is unknown (-1: named by none), never another's name.
    this.ifaceInput = new Int32Array(Math.max(0, ...indexes) + 1).fill(-1);
    indexes.forEach((ifindex, i) => { this.ifaceInput[ifindex] = i; });
  }

  /**
   * Starts capture with a filter covering every policy port, then holds the
   * ports (a port that cannot be held is reported, not fatal unless none
   * can be), then narrows the filter to the ports held. Rejects with
   * PortHoldError or the capture's error.
   */
  static async start(options: SensorOptions): Promise<Sensor> {
    const policy = options.detection.policy;
    const capture = (options.openCapture ?? openAfPacketCapture)({
      interfaces: options.interfaces,
      filter: { ports: policy.ports },
      ringBlockSize: options.ringBlockSize,
      ringBlockCount: options.ringBlockCount,
      blockTimeoutMs: BLOCK_TIMEOUT_MS,
      handoffWaitMs: HANDOFF_WAIT_MS,
      fullBlockPauseMs: FULL_BLOCK_PAUSE_MS,
      held: options.beforeFrames !== undefined,
    });
    const sensor = new Sensor(policy, options, capture);
    capture.start((batch) => {
      sensor.pipeline.feed(batch, sensor.ifaceInput);
      sensor.schedule();
    });
    try {
      sensor.ports = await PortHolder.open(policy, {
        ...(options.bindAddresses ? { addresses: options.bindAddresses } : {}),
        onConnection: (fact) => sensor.onConnection(fact),
        onListening: (key) => sensor.detector.admit(key.port, key.protocol),
        ...(options.onListeningFallback ? { listeningTable: { onFallback: options.onListeningFallback } } : {}),
      });
    } catch (err) {
      capture.close();
      throw err;
    }
    options.onPortsHeld?.(sensor.ports.statuses());
    sensor.narrow();
    if (options.beforeFrames) {
      try {
        options.beforeFrames();
      } catch (err) {
        await sensor.ports.close();
        capture.close();
        throw err;
      }
      capture.resume();
    }
    sensor.schedule();
    sensor.portCheck = setInterval(() => void sensor.checkPorts(options.onPortsChanged), options.portCheckMs ?? PORT_CHECK_MS);
    sensor.portCheck.unref();
    return sensor;
  }

  /** One periodic look at the ports; a change narrows filter and detector to what is still held. */
  private async checkPorts(onChanged: SensorOptions['onPortsChanged']): Promise<void> {
    if (this.checking || this.stopped || !this.ports) return;
    this.checking = true;
    try {
      // Under a reload the filter covers old ∪ new ports until its own narrow(), which reports every status anyway.
      if (!(await this.ports.check()) || this.stopped || this.reloads > 0) return;
      this.narrow();
      onChanged?.(this.ports.statuses());
    } catch {
      // The holder closed meanwhile (stop): nothing to report.
    } finally {
      this.checking = false;
    }
  }

  private onConnection(fact: ConnectionFact): void {
    if (this.delayed.length >= MAX_DELAYED_CONNECTIONS) this.releaseConnections(Infinity);
    this.delayed.push({ fact, dueMs: Date.now() + CONNECTION_DELAY_MS });
    this.schedule();
  }

  private releaseConnections(nowMs: number): void {
    let i = 0;
    for (; i < this.delayed.length && this.delayed[i]!.dueMs <= nowMs; i++) {
      const fact = this.delayed[i]!.fact;
      this.detector.observeConnection(fact, this.inputOfAddress(fact.destinationIp));
    }
    if (i > 0) this.delayed = this.delayed.slice(i);
  }

  /**
   * The input naming the interface that holds `ip` (where a connection whose
   * key is no longer tracked arrived), or -1 when none does (0.0.0.0, gone).
   */
  private inputOfAddress(ip: string): number {
    for (const [name, addresses] of Object.entries(networkInterfaces())) {
      if (addresses?.some((a) => a.address === ip || a.address.split('%')[0] === ip)) return this.inputNames.indexOf(name);
    }
    return -1;
  }

  /**
   * Arms the timer for the nearest deadline unless it is armed for an
   * earlier one already. Runs after every batch: O(1), and it allocates only
   * when it arms (new windows end after the ones already open).
   */
  private schedule(): void {
    if (this.stopped) return;
    let dueMs = this.detector.nextDeadlineMicros() / 1000;
    if (this.delayed.length > 0) dueMs = Math.min(dueMs, this.delayed[0]!.dueMs);
    // tick() ends a reload's retirement when every retiring port is due.
    if (this.retiring.length > 0) {
      let last = 0;
      for (const r of this.retiring) last = Math.max(last, r.untilMs);
      dueMs = Math.min(dueMs, last);
    }
    if (dueMs === Infinity || (this.wake !== undefined && dueMs >= this.wakeAtMs)) return;
    if (this.wake !== undefined) clearTimeout(this.wake);
    this.wakeAtMs = dueMs;
    // +1: setTimeout rounds to whole milliseconds; waking a little late closes the window, early would only re-arm.
    this.wake = setTimeout(this.onWake, Math.max(0, Math.ceil(dueMs - Date.now()) + 1));
  }

  private readonly onWake = (): void => {
    this.wake = undefined;
    this.wakeAtMs = Infinity;
    this.tick();
    this.schedule();
  };

  private tick(): void {
    const now = Date.now();
    this.releaseConnections(now);
    this.detector.advance(now * 1000);
    if (this.retiring.length > 0 && this.retiring.every((r) => r.untilMs <= now)) {
      this.retiring = [];
      this.detector.reconfigure(this.policy);
    }
  }

  get currentPolicy(): Policy {
    return this.policy;
  }

  /** Policy ports some listener of which listens now. */
  private heldPorts(): PolicyPort[] {
    const held = new Map<string, PolicyPort>();
    for (const s of this.ports?.statuses() ?? []) {
      if (s.state === 'listening') held.set(`${s.port}/${s.protocol}`, { port: s.port, protocol: s.protocol });
    }
    return [...held.values()];
  }

  /** Filter and detector admit exactly the ports held (after they were bound or released). */
  private narrow(): void {
    const held = this.heldPorts();
    for (const p of this.policy.ports) {
      this.detector.admit(p.port, p.protocol, held.some((h) => h.port === p.port && h.protocol === p.protocol));
    }
    this.capture.setFilter({ ports: held });
  }

  /**
   * Moves to a new policy without a restart, never leaving a listening port
   * unwatched: (1) the filter covers the ports held ∪ the new policy's; (2)
   * the detector moves to a transition policy (new ports, plus old ones
   * still held until they close); (3) the port holder closes removed ports,
   * then binds new ones, each admitted the moment it listens; (4) the
   * detector moves to the new policy (closing the removed ports' windows)
   * and the filter narrows to the ports held.
   */
  async reload(policy: Policy): Promise<readonly PortStatus[]> {
    this.reloads++;
    try {
      return await this.reloadNow(policy);
    } finally {
      this.reloads--;
    }
  }

  private async reloadNow(policy: Policy): Promise<readonly PortStatus[]> {
    const ports = this.ports!;
    const held = this.heldPorts();
    const same = (a: PolicyPort) => (b: PolicyPort): boolean => a.port === b.port && a.protocol === b.protocol;
    const leaving = held.filter((h) => !policy.ports.some(same(h)));
    // Ports released by an earlier reload whose frames may still be in the ring stay too
    // (the latest MAX_PORTS of them: with new and leaving ports, at most 30 bits of a source's port mask).
    const nowMs = Date.now();
    const stillRetiring = this.retiring
      .filter((r) => r.untilMs > nowMs && !policy.ports.some(same(r.port)) && !leaving.some(same(r.port)))
      .slice(-MAX_PORTS);
    const transition = [...policy.ports, ...leaving, ...stillRetiring.map((r) => r.port)];
    this.capture.setFilter({ ports: [...policy.ports, ...leaving] });
    this.detector.reconfigure({ ...policy, ports: transition });
    this.policy = policy;
    const statuses = await ports.apply(policy);
    // Closed by now: a probe captured later was refused by the kernel, not answered. A
    // backend that stamps frames on arrival in JavaScript says when the earlier ones are in.
    // Date.now() truncates to the millisecond: round up (admitting a refused probe is harmless).
    const releasedMs = (await this.capture.stampedBy()) + 1;
    for (const p of leaving) this.detector.retire(p.port, p.protocol, releasedMs * 1000);
    this.retiring = [...stillRetiring, ...leaving.map((port) => ({ port, untilMs: releasedMs + RETIRE_MS }))];
    if (this.retiring.length === 0) this.detector.reconfigure(policy);
    this.narrow();
    this.schedule();
    return statuses;
  }

  status(): SensorStatus {
    return {
      policy: this.policy,
      ports: this.ports?.statuses() ?? [],
      capture: this.capture.stats(),
      decode: this.pipeline.decodeCounters,
      detect: this.detector.counters,
      trackedKeys: this.detector.trackedKeys,
      connections: this.ports?.counters() ?? { accepted: 0, refusedOverLimit: 0, bytes: 0, active: 0, acceptErrors: 0 },
    };
  }

  /** Probes by port, protocol and kind since start (reloads keep them). */
  probeTotals(): ProbeTotal[] {
    return this.pipeline.probeTally.totals();
  }

  /** Releases the ports, then stops capture and flushes pending follow-ups. Idempotent. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    if (this.wake !== undefined) clearTimeout(this.wake);
    this.wake = undefined;
    if (this.portCheck) clearInterval(this.portCheck);
    await this.ports?.close();
    // Probes answered just before the ports closed may still be in a ring block.
    await new Promise((resolve) => setTimeout(resolve, STOP_DRAIN_MS));
    this.capture.close();
    this.releaseConnections(Infinity);
    this.detector.flush();
  }
}

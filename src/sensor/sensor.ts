/**
 * The live sensor: holds the policy's ports, captures probes of them with the
 * AF_PACKET core, and feeds the same decoder and detector as a replay.
 * Time is the clock: the kernel's frame timestamps for probes, and a ticker
 * that closes dedup windows when nothing arrives.
 */
import { AfPacketSource, type CaptureCounters } from '../capture/afpacket.js';
import { encode } from '../capture/bpf-program.js';
import { buildCaptureFilter } from '../capture/filter-builder.js';
import type { Alarm } from '../alarm/alarm.js';
import { Decoder } from '../decode/decoder.js';
import { DecodeStatus } from '../decode/segment.js';
import { Detector } from '../detect/detector.js';
import type { ParsedAddress } from '../net/address.js';
import type { Policy } from '../policy/policy.js';
import { PortHolder } from '../ports/port-holder.js';
import type { PortStatus } from '../ports/types.js';
import type { FrameBatch } from '../source/frame-batch.js';

const TICK_MS = 100;
/**
 * The kernel hands over a partly filled ring block after this long: the
 * upper bound it adds to alarm latency (8 ms measured a p99 of 9-12 ms at
 * idle against a 10 ms goal; 4 ms costs 250 wake-ups a second when idle).
 */
const BLOCK_TIMEOUT_MS = 4;
/**
 * A ring block waits this long for JavaScript (a burst of first alarms, a GC
 * pause) before its frames are dropped: the 64 MiB ring, not the 16 hand-off
 * slots, absorbs the pause. The live bench had 0.05-0.16% hand-off drops
 * with no wait.
 */
const HANDOFF_WAIT_MS = 500;

export interface SensorOptions {
  readonly policy: Policy;
  readonly interfaces: readonly string[];
  readonly windowMicros: number;
  readonly maxTrackedKeys: number;
  readonly newSourceRate: number;
  readonly serverAddresses: readonly ParsedAddress[];
  readonly ringBlockSize: number;
  readonly ringBlockCount: number;
  /** ifindex → interface name; alarms name inputs by their index in its values. */
  readonly interfaceTable: ReadonlyMap<number, string>;
  readonly onAlarm: (alarm: Alarm) => void;
  /** The ports' statuses once held, before capture starts (so they are reported even if capture fails). */
  readonly onPortsHeld?: (statuses: readonly PortStatus[]) => void;
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
  private detector: Detector;
  private readonly decoder = new Decoder();
  /** ifindex → input index (a typed array: looked up for every captured segment). */
  private readonly ifaceInput: Int32Array;
  private ticker: NodeJS.Timeout | undefined;
  private stopped = false;

  private constructor(
    private policy: Policy,
    private readonly options: SensorOptions,
    private readonly ports: PortHolder,
    private readonly capture: AfPacketSource,
  ) {
    this.detector = this.newDetector(policy);
    const indexes = [...options.interfaceTable.keys()];
    this.ifaceInput = new Int32Array(Math.max(0, ...indexes) + 1);
    indexes.forEach((ifindex, i) => { this.ifaceInput[ifindex] = i; });
  }

  /**
   * Holds the ports first (a port that cannot be held is reported, not fatal
   * unless none can be), then starts capture. Rejects with PortHoldError or
   * the capture's error.
   */
  static async start(options: SensorOptions): Promise<Sensor> {
    // The detector exists before any connection or frame can reach it.
    let sensor: Sensor | undefined;
    const ports = await PortHolder.open(options.policy, {
      onConnection: (fact) => sensor?.detector.observeConnection(fact),
    });
    options.onPortsHeld?.(ports.statuses());
    let capture: AfPacketSource;
    try {
      capture = new AfPacketSource({
        interfaces: options.interfaces,
        filter: encode(buildCaptureFilter(options.policy)),
        ringBlockSize: options.ringBlockSize,
        ringBlockCount: options.ringBlockCount,
        blockTimeoutMs: BLOCK_TIMEOUT_MS,
        handoffWaitMs: HANDOFF_WAIT_MS,
      });
      sensor = new Sensor(options.policy, options, ports, capture);
      const s = sensor;
      capture.start((batch) => s.onBatch(batch));
    } catch (err) {
      await ports.close();
      throw err;
    }
    sensor.ticker = setInterval(() => sensor!.tick(), TICK_MS);
    return sensor;
  }

  private newDetector(policy: Policy): Detector {
    return new Detector({
      policy,
      windowMicros: this.options.windowMicros,
      maxTrackedKeys: this.options.maxTrackedKeys,
      newSourceRate: this.options.newSourceRate,
      serverAddresses: this.options.serverAddresses,
      onAlarm: this.options.onAlarm,
    });
  }

  private onBatch(b: FrameBatch): void {
    const dec = this.decoder;
    const det = this.detector;
    const seg = dec.segment;
    const { data, offset, caplen, linktype, tsMicros, vlan, iface } = b;
    for (let i = 0; i < b.count; i++) {
      if (dec.decode(data, offset[i]!, caplen[i]!, linktype[i]!, tsMicros[i]!, vlan[i]!) === DecodeStatus.Segment) {
        det.observe(seg, this.ifaceInput[iface[i]!] ?? 0, b.firstIndex + i);
      }
    }
  }

  private tick(): void {
    this.detector.advance(Date.now() * 1000);
  }

  get currentPolicy(): Policy {
    return this.policy;
  }

  /**
   * Moves to a new policy without a restart: open windows are closed (their
   * follow-ups emitted) and a detector for the new policy takes over, then
   * ports are opened/closed, then the kernel filter is swapped. In that order
   * no probe of a port in both policies is missed; a probe of a new port
   * before its filter is in place was never promised.
   */
  async reload(policy: Policy): Promise<readonly PortStatus[]> {
    const old = this.detector;
    this.detector = this.newDetector(policy);
    old.flush();
    this.policy = policy;
    const statuses = await this.ports.apply(policy);
    this.capture.setFilter(encode(buildCaptureFilter(policy)));
    return statuses;
  }

  status(): SensorStatus {
    return {
      policy: this.policy,
      ports: this.ports.statuses(),
      capture: this.capture.stats(),
      decode: this.decoder.counters,
      detect: this.detector.counters,
      trackedKeys: this.detector.trackedKeys,
      connections: this.ports.counters(),
    };
  }

  /** Flushes pending follow-ups, stops capture, releases the ports. Idempotent. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    if (this.ticker) clearInterval(this.ticker);
    this.capture.close();
    this.detector.flush();
    await this.ports.close();
  }
}

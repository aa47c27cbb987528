/**
 * When the live sensor sends a state document: at start, on every reload,
 * on every port status change, every heartbeat interval, and once at the
 * stop with its reason. The heartbeat restarts with every document sent,
 * so silence longer than the interval always means a sensor that stopped
 * sending (the SIEM's rule: more than two intervals = a dead sensor).
 * After stop() nothing more is sent. The documents themselves come from
 * the snapshot function, taken at the moment each is sent.
 */
import type { SensorSnapshot, SensorState, StopReason } from './sensor-state.js';

export interface StateReporterOptions {
  /** Milliseconds between heartbeats; undefined: no heartbeat. */
  readonly heartbeatMs: number | undefined;
  readonly snapshot: () => SensorSnapshot;
  /** Hands one document to delivery (never blocks, never throws). */
  readonly publish: (state: SensorState) => void;
}

export class StateReporter {
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;

  constructor(private readonly o: StateReporterOptions) {}

  start(): void {
    this.send({ ...this.o.snapshot(), trigger: 'start' });
  }

  reload(): void {
    this.send({ ...this.o.snapshot(), trigger: 'reload' });
  }

  portsChanged(): void {
    this.send({ ...this.o.snapshot(), trigger: 'port-change' });
  }

  /** The sensor is stopping: no heartbeat until the stop document (the ports are being released). */
  stopping(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }

  /**
   * The last document. `at` overrides parts of the snapshot (the ports as
   * they were held until the stop released them). Only the first call sends.
   */
  stop(reason: StopReason, at: Partial<SensorSnapshot> = {}): void {
    if (this.stopped) return;
    this.send({ ...this.o.snapshot(), ...at, trigger: 'stop', reason });
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
  }

  private send(state: SensorState): void {
    if (this.stopped) return;
    this.o.publish(state);
    if (this.timer) clearTimeout(this.timer);
    if (this.o.heartbeatMs === undefined || state.trigger === 'stop') return;
    // Unref'd: a heartbeat never keeps an otherwise finished process alive.
    this.timer = setTimeout(() => this.send({ ...this.o.snapshot(), trigger: 'heartbeat' }), this.o.heartbeatMs);
    this.timer.unref();
  }
}

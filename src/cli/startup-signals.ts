/**
 * `honeyport run`'s signals from the moment the command begins (its options
 * parsed, before the policy is read) until the sensor runs. A SIGTERM or
 * SIGINT then is kept and carried out once the sensor runs, as a normal stop
 * with its stop document; a SIGHUP is kept as one reload. Without listeners
 * Node would end the process by the signal: its own start-up handler
 * re-raises SIGTERM/SIGINT with the default action, and SIGHUP has no handler.
 *
 * handOver() installs the running sensor's listeners before it removes these
 * (a signal's disposition must never fall back to the default in between),
 * then replays what was asked, in order.
 *
 * A stop asked for during start-up keeps the stop's deadline from the signal:
 * should the start-up itself hang, the process exits 1 when the deadline
 * passes (`onDeadline`), like a stop that hangs.
 *
 * Limit: before this object exists (Node's own start, loading the command
 * line's modules) a signal still ends the process by its default action;
 * nothing is opened by then.
 */

import { ExitCode } from './exit-codes.js';

/**
 * SIGTERM/SIGINT end the process within this (README "Signals"), counted from
 * the signal: sinks get a few seconds to deliver, then what is left is
 * spooled. Should the stop (or the start-up before it) hang, the process
 * exits 1 at the deadline.
 */
export const STOP_DEADLINE_MS = 10_000;

export type StopSignal = 'SIGTERM' | 'SIGINT';
const STOP_SIGNALS: readonly StopSignal[] = ['SIGTERM', 'SIGINT'];

/** Ends the process with `code`; never returns. */
export type Exit = (code: number) => never;

export interface RunningSignals {
  /** A stop; `askedAt` (ms since the epoch) is when the signal came, for the stop's deadline. */
  stop(signal: StopSignal, askedAt: number): void;
  reload(): void;
}

export class StartupSignals {
  private readonly stops: { signal: StopSignal; at: number }[] = [];
  private reloadAsked = false;
  private deadline: NodeJS.Timeout | undefined;
  private readonly listeners: Record<StopSignal | 'SIGHUP', () => void>;
  private hardExit: Exit = (code) => process.exit(code);

  constructor(
    private readonly deadlineMs: number,
    private readonly log: (line: string) => void,
  ) {
    this.listeners = {
      SIGTERM: () => this.asked('SIGTERM'),
      SIGINT: () => this.asked('SIGINT'),
      SIGHUP: () => {
        if (this.reloadAsked) return;
        this.reloadAsked = true;
        this.log('SIGHUP during start-up: reloading once started');
      },
    };
    for (const s of [...STOP_SIGNALS, 'SIGHUP'] as const) process.on(s, this.listeners[s]);
  }

  private asked(signal: StopSignal): void {
    this.stops.push({ signal, at: Date.now() });
    if (this.stops.length > 1) return;
    this.log(`${signal} during start-up: stopping once started`);
    // Not ref'd: a start-up that fails and has nothing left pending exits by itself.
    this.deadline = setTimeout(() => this.exitAtDeadline(), this.deadlineMs);
    this.deadline.unref();
  }

  /**
   * How a deadline ends the process once the native addon is loaded: its exitNow (_exit) does not wait, as
   * process.exit() does, for libuv's pool threads, one of which may be the very thing that hangs.
   */
  exitWith(exit: Exit): void {
    this.hardExit = exit;
  }

  /** Ends the process now, by the exit given to exitWith(). */
  exit(code: number): never {
    return this.hardExit(code);
  }

  /** The stop did not finish (or the start-up before it) within the deadline: one line, exit 1. */
  exitAtDeadline(): never {
    this.log(`stop did not finish within ${this.deadlineMs} ms; exiting`);
    return this.hardExit(ExitCode.FAILURE);
  }

  /** The running sensor takes over: its listeners first, then what was asked meanwhile. */
  handOver(running: RunningSignals): void {
    clearTimeout(this.deadline);
    process.on('SIGTERM', () => running.stop('SIGTERM', Date.now()));
    process.on('SIGINT', () => running.stop('SIGINT', Date.now()));
    process.on('SIGHUP', () => running.reload());
    for (const s of [...STOP_SIGNALS, 'SIGHUP'] as const) process.off(s, this.listeners[s]);
    // A stop makes the reload moot (the stop document carries the state).
    if (this.stops.length === 0 && this.reloadAsked) running.reload();
    for (const s of this.stops) running.stop(s.signal, s.at);
  }
}

/** Called first thing in the `run` command: from here on no signal ends the process by its default action. */
export function startupSignals(): StartupSignals {
  return new StartupSignals(STOP_DEADLINE_MS, (line) => void process.stderr.write(`honeyport: ${line}\n`));
}

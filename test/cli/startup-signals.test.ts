/**
 * StartupSignals without a live sensor: what is asked during start-up is
 * replayed in order at the hand-over, a signal never has zero listeners in
 * between, and a stop asked for during a start-up that does not finish ends
 * the process at the deadline by the exit given. Signals are emitted with
 * process.emit (the listeners are what is tested; the live suite
 * sensor-stop-startup.test.ts sends real ones).
 */
import assert from 'node:assert/strict';
import { StartupSignals, type StopSignal } from '../../src/cli/startup-signals.js';

const SIGNALS = ['SIGTERM', 'SIGINT', 'SIGHUP'] as const;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

describe('StartupSignals', () => {
  let before: Map<string, ((...a: unknown[]) => void)[]>;
  beforeEach(() => {
    before = new Map(SIGNALS.map((s) => [s, process.listeners(s) as ((...a: unknown[]) => void)[]]));
  });
  afterEach(() => {
    // Whatever the test added goes; what was there (mocha's own) stays.
    for (const s of SIGNALS) for (const l of process.listeners(s)) if (!before.get(s)!.includes(l as (...a: unknown[]) => void)) process.off(s, l);
  });

  function recorder(): { calls: string[]; running: { stop: (s: StopSignal, at: number) => void; reload: () => void } } {
    const calls: string[] = [];
    return { calls, running: { stop: (s) => void calls.push(s), reload: () => void calls.push('reload') } };
  }

  it('listens from construction; replays the stops in order at the hand-over, and no reload when a stop was asked', () => {
    const lines: string[] = [];
    const signals = new StartupSignals(10_000, (l) => void lines.push(l));
    for (const s of SIGNALS) assert.equal(process.listenerCount(s), before.get(s)!.length + 1, s);
    process.emit('SIGHUP');
    process.emit('SIGINT');
    process.emit('SIGTERM');
    const { calls, running } = recorder();
    signals.handOver(running);
    assert.deepEqual(calls, ['SIGINT', 'SIGTERM']);
    assert.deepEqual(lines, ['SIGHUP during start-up: reloading once started', 'SIGINT during start-up: stopping once started']);
    // The running listeners replaced the start-up ones, one each.
    for (const s of SIGNALS) assert.equal(process.listenerCount(s), before.get(s)!.length + 1, s);
    process.emit('SIGHUP');
    assert.deepEqual(calls, ['SIGINT', 'SIGTERM', 'reload']);
  });

  it('a SIGHUP alone is one reload at the hand-over, however many came', () => {
    const signals = new StartupSignals(10_000, () => undefined);
    process.emit('SIGHUP');
    process.emit('SIGHUP');
    const { calls, running } = recorder();
    signals.handOver(running);
    assert.deepEqual(calls, ['reload']);
  });

  it('never leaves a signal without a listener during the hand-over', () => {
    const signals = new StartupSignals(10_000, () => undefined);
    const seen: number[] = [];
    const off = process.off.bind(process);
    // Every removal during the hand-over leaves at least one listener of this module's.
    process.off = ((event: string, l: (...a: unknown[]) => void) => {
      off(event, l);
      if ((SIGNALS as readonly string[]).includes(event)) seen.push(process.listenerCount(event) - before.get(event)!.length);
      return process;
    }) as typeof process.off;
    try {
      signals.handOver(recorder().running);
    } finally {
      process.off = off;
    }
    assert.equal(seen.length, 3);
    assert.ok(seen.every((n) => n >= 1), `listeners left at each removal: ${seen.join(', ')}`);
  });

  it('a stop asked for during a start-up that does not finish: one line and exit 1 at the deadline, by the exit given', async () => {
    const lines: string[] = [];
    const exits: number[] = [];
    const signals = new StartupSignals(50, (l) => void lines.push(l));
    signals.exitWith(((code: number) => {
      exits.push(code);
    }) as (code: number) => never);
    process.emit('SIGTERM');
    await sleep(150);
    assert.deepEqual(exits, [1]);
    assert.deepEqual(lines, ['SIGTERM during start-up: stopping once started', 'stop did not finish within 50 ms; exiting']);
  });

  it('the hand-over disarms the start-up deadline (the running stop has its own)', async () => {
    const exits: number[] = [];
    const signals = new StartupSignals(50, () => undefined);
    signals.exitWith(((code: number) => {
      exits.push(code);
    }) as (code: number) => never);
    process.emit('SIGTERM');
    signals.handOver(recorder().running);
    await sleep(150);
    assert.deepEqual(exits, []);
  });
});

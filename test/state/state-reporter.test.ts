/**
 * When state documents are sent: at start, reload, port change, every
 * heartbeat interval after the last document (none with the heartbeat off),
 * and exactly one at the stop, carrying the reason and the ports as held
 * until then; nothing after it.
 */
import assert from 'node:assert/strict';
import type { SensorState } from '../../src/state/sensor-state.js';
import { StateReporter } from '../../src/state/state-reporter.js';
import { everyStatus, snapshot } from './states.js';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function reporter(heartbeatMs: number | undefined): { r: StateReporter; sent: SensorState[] } {
  const sent: SensorState[] = [];
  const r = new StateReporter({ heartbeatMs, snapshot: () => snapshot({ ports: [] }), publish: (s) => void sent.push(s) });
  return { r, sent };
}

describe('state documents: when they are sent', () => {
  it('start, reload, port change, then heartbeats at the interval; the stop is the last, with its reason', async () => {
    const { r, sent } = reporter(40);
    r.start();
    r.reload();
    r.portsChanged();
    await sleep(300);
    const beats = sent.filter((s) => s.trigger === 'heartbeat').length;
    // 40 ms apart over 300 ms is 7; a loaded machine may fire late, never early or not at all.
    assert.ok(beats >= 2 && beats <= 8, `${beats} heartbeats in 300 ms at 40 ms`);
    r.stop({ kind: 'signal', signal: 'SIGTERM' }, { ports: everyStatus });
    r.stop({ kind: 'fatal', message: 'second' });
    const n = sent.length;
    await sleep(150);
    assert.equal(sent.length, n, 'nothing after the stop');
    assert.deepEqual(sent.slice(0, 3).map((s) => s.trigger), ['start', 'reload', 'port-change']);
    const last = sent[sent.length - 1]!;
    assert.equal(last.trigger, 'stop');
    assert.deepEqual(last.trigger === 'stop' && last.reason, { kind: 'signal', signal: 'SIGTERM' });
    assert.equal(last.ports, everyStatus, 'the ports as held until the stop');
    assert.equal(sent.filter((s) => s.trigger === 'stop').length, 1);
  });

  it('with the heartbeat off, only the events', async () => {
    const { r, sent } = reporter(undefined);
    r.start();
    await sleep(120);
    r.stop({ kind: 'fatal', message: 'boom' });
    assert.deepEqual(sent.map((s) => s.trigger), ['start', 'stop']);
  });

  it('no heartbeat between the start of the stop and the stop document', async () => {
    const { r, sent } = reporter(30);
    r.start();
    r.stopping();
    await sleep(120);
    r.stop({ kind: 'signal', signal: 'SIGINT' });
    assert.deepEqual(sent.map((s) => s.trigger), ['start', 'stop']);
  });
});

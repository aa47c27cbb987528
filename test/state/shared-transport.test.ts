/**
 * A sink's alarms and its state documents share one opened transport: the
 * alarm side keeps its concurrency, a state send never overlaps an alarm
 * send (a file transport's reopen and rotation assume one sender), and the
 * transport is closed once, when both sides are closed.
 */
import assert from 'node:assert/strict';
import type { Transport } from '../../src/deliver/entry.js';
import { shareTransport } from '../../src/deliver/shared-transport.js';

class Recording implements Transport {
  active: string[] = [];
  overlaps: string[] = [];
  maxAlarmsAtOnce = 0;
  closes = 0;
  encode(): string {
    return '';
  }
  async open(): Promise<void> {}
  async send(records: readonly string[]): Promise<void> {
    const kind = records[0]!.startsWith('state') ? 'state' : 'alarm';
    if (kind === 'state' && this.active.length > 0) this.overlaps.push(`state during ${this.active.join(',')}`);
    if (kind === 'alarm' && this.active.includes('state')) this.overlaps.push('alarm during state');
    this.active.push(kind);
    this.maxAlarmsAtOnce = Math.max(this.maxAlarmsAtOnce, this.active.filter((k) => k === 'alarm').length);
    await new Promise((r) => setTimeout(r, 5 + Math.random() * 10));
    this.active.splice(this.active.indexOf(kind), 1);
  }
  async close(): Promise<void> {
    this.closes++;
  }
}

describe('state documents: one transport shared with the alarms', () => {
  it('alarm sends overlap each other as before; a state send overlaps none', async () => {
    const t = new Recording();
    const { alarms, states } = shareTransport(t);
    const sends: Promise<unknown>[] = [];
    for (let i = 0; i < 40; i++) {
      sends.push(alarms.send([`alarm ${i}`]), alarms.send([`alarm ${i}b`]));
      if (i % 5 === 0) sends.push(states.send([`state ${i}`]));
    }
    await Promise.all(sends);
    assert.deepEqual(t.overlaps, []);
    assert.ok(t.maxAlarmsAtOnce >= 2, 'alarm sends still run concurrently');
  });

  it('closes the transport once, after both sides closed it', async () => {
    const t = new Recording();
    const { alarms, states } = shareTransport(t);
    await alarms.close();
    await alarms.close();
    assert.equal(t.closes, 0, 'the state side still uses it');
    await states.close();
    assert.equal(t.closes, 1);
  });
});

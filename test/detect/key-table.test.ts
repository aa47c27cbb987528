import assert from 'node:assert/strict';
import { KeyTable } from '../../src/detect/key-table.js';

describe('key table', () => {
  it('behaves like a Map under random inserts and removals, and reports full', () => {
    const cap = 300;
    const t = new KeyTable(cap, 3, 12345);
    const model = new Map<string, number>();
    let seed = 1;
    const rnd = (n: number): number => ((seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0) % n);
    for (let step = 0; step < 50000; step++) {
      const k = [rnd(40), rnd(40), 7];
      t.probe.set(k);
      const name = k.join(',');
      const found = t.find();
      assert.equal(found >= 0, model.has(name), `step ${step}`);
      if (found >= 0) {
        assert.equal(found, model.get(name));
        if (rnd(2)) { t.remove(found); model.delete(name); }
      } else {
        const e = t.insert();
        if (model.size === cap) assert.equal(e, -1);
        else { assert.ok(e >= 0 && e < cap); model.set(name, e); }
      }
      assert.equal(t.size, model.size);
    }
    // every remembered key is still found at its entry
    for (const [name, e] of model) {
      t.probe.set(name.split(',').map(Number));
      assert.equal(t.find(), e);
    }
  });

  it('after many fills and removals every slot is free again: a miss still ends (no slot stays marked taken)', () => {
    const t = new KeyTable(150, 2, 99);
    let seed = 11;
    const rnd = (): number => (seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0);
    for (let round = 0; round < 200; round++) {
      const entries: number[] = [];
      while (!t.full) {
        t.probe[0] = rnd();
        t.probe[1] = round;
        if (t.find() < 0) entries.push(t.insert());
      }
      assert.equal(t.markedSlots, t.size);
      for (const e of entries) t.remove(e);
      assert.equal(t.markedSlots, 0, `round ${round}`);
    }
    assert.equal(t.size, 0);
    // A bit left set by remove() would make a miss walk on; with every bit set, it would never end.
    assert.equal(t.markedSlots, 0);
    for (let i = 0; i < 1000; i++) {
      t.probe[0] = rnd();
      t.probe[1] = 1e6;
      assert.equal(t.find(), -1);
    }
  });

  it('hashing a prefix fixed by the key (short IPv4-like keys, long IPv6-like ones) still behaves like a Map', () => {
    // Words: a, family, b, c; family 4 keys have b = c = 0 and hash 2 words, family 6 keys hash all 4.
    const cap = 200;
    const t = new KeyTable(cap, 4, 777);
    const model = new Map<string, number>();
    let seed = 5;
    const rnd = (n: number): number => ((seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0) % n);
    for (let step = 0; step < 40000; step++) {
      const v6 = rnd(2) === 1;
      const k = v6 ? [rnd(20), 6, rnd(3), rnd(3)] : [rnd(20), 4, 0, 0];
      const hashed = v6 ? 4 : 2;
      t.probe.set(k);
      const name = k.join(',');
      const found = t.find(hashed);
      assert.equal(found >= 0, model.has(name), `step ${step}`);
      if (found >= 0) {
        assert.equal(found, model.get(name));
        if (rnd(2)) { t.remove(found); model.delete(name); }
      } else {
        const e = t.insert(hashed);
        if (model.size === cap) assert.equal(e, -1);
        else model.set(name, e);
      }
    }
    for (const [name, e] of model) {
      const k = name.split(',').map(Number);
      t.probe.set(k);
      assert.equal(t.find(k[1] === 6 ? 4 : 2), e);
    }
  });
});

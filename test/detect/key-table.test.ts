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
});

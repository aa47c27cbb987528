/** The filter-swap de-duplication of the libpcap backend at its bound (swap-dedup.ts). */
import assert from 'node:assert/strict';
import { MAX_TRACKED, MAX_TRACKED_BYTES, SwapDedup } from '../../src/capture/swap-dedup.js';

const frame = (n: number): Buffer => {
  const b = Buffer.alloc(8);
  b.writeUInt32BE(n, 0);
  return b;
};

describe('filter swap de-duplication', () => {
  it('admits everything when no swap is in progress, allocating no state', () => {
    const d = new SwapDedup();
    assert.equal(d.active, false);
    for (let i = 0; i < 3; i++) assert.equal(d.admit(0, 1, frame(1), 8), true);
  });

  it('when the tracked frames are at the bound, new frames are delivered from every handle (counted), never missed', () => {
    const d = new SwapDedup();
    d.begin();
    for (let i = 0; i < MAX_TRACKED; i++) assert.equal(d.admit(0, 1, frame(i), 8), true);
    // A tracked frame is still de-duplicated ...
    assert.equal(d.admit(0, 2, frame(0), 8), false);
    // ... an untracked one is delivered by both handles rather than by none.
    assert.equal(d.admit(0, 1, frame(MAX_TRACKED), 8), true);
    assert.equal(d.admit(0, 2, frame(MAX_TRACKED), 8), true);
    assert.equal(d.untracked, 2);
    d.end();
    assert.equal(d.active, false);
  });

  it('whole 64 KiB frames (fragments a flood may send during a reload) are tracked up to a byte budget, then delivered untracked', () => {
    const d = new SwapDedup();
    d.begin();
    const big = Buffer.alloc(65_535);
    const fit = Math.floor(MAX_TRACKED_BYTES / big.length);
    for (let i = 0; i < fit; i++) {
      big.writeUInt32BE(i, 0);
      assert.equal(d.admit(0, 1, big, big.length), true);
    }
    assert.equal(d.untracked, 0);
    big.writeUInt32BE(fit, 0);
    assert.equal(d.admit(0, 1, big, big.length), true);
    assert.equal(d.admit(0, 2, big, big.length), true);
    assert.equal(d.untracked, 2, 'beyond the budget: delivered from both handles, counted');
  });

  it('three generations open at once (a reload widens, then narrows): each frame once', () => {
    const d = new SwapDedup();
    d.begin();
    const seen = [1, 2, 3].map((g) => d.admit(0, g, frame(9), 8));
    assert.deepEqual(seen, [true, false, false]);
  });
});

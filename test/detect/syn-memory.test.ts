/**
 * The SYN memory defers its remembers (syn-memory.ts): a question asked of
 * it must get the answer of a table that applied each SYN at once. A
 * reference memory applies its queue after every remember; random SYNs and
 * questions in both directions, with reordered times, bucket collisions
 * (few buckets) and expiry, must get the same answers and leave the same
 * ways. Dropping, reordering or re-timing a queued SYN fails here.
 */
import assert from 'node:assert/strict';
import { SYN_MEMORY_MICROS, SynDirection, SynMemory } from '../../src/detect/syn-memory.js';
import { seededRandom } from '../helpers/seeded-random.js';

type Inside = { ways: Float64Array; applyPending(): void };

describe('SYN memory: deferred remembers', () => {
  for (const buckets of [4, 64, 1 << 15]) {
    it(`answers as a table that remembers at once (${buckets} buckets)`, () => {
      const r = seededRandom(buckets);
      const deferred = new SynMemory(0x2545f491, buckets);
      const immediate = new SynMemory(0x2545f491, buckets);
      const words = new Uint32Array(11);
      let t = 1e12;
      let questions = 0;
      let yes = 0;
      for (let i = 0; i < 20_000; i++) {
        words[0] = Math.floor(r() * 300);
        words[1] = 0xc6120001;
        words[2] = (445 << 8) | 4;
        const port = 1024 + Math.floor(r() * 4);
        const direction = r() < 0.2 ? SynDirection.outbound : SynDirection.inbound;
        // Mostly forward in time, sometimes back (reordering), sometimes a jump past the memory's life.
        t += r() < 0.001 ? SYN_MEMORY_MICROS * 1.5 : Math.floor(r() * 2000) - 300;
        const at = { tsMicros: t };
        if (r() < 0.7) {
          deferred.remember(words, 3, port, direction, at);
          immediate.remember(words, 3, port, direction, at);
          (immediate as unknown as Inside).applyPending();
        } else {
          const a = deferred.belongs(words, 3, port, direction, at);
          assert.equal(a, immediate.belongs(words, 3, port, direction, at), `question ${questions}`);
          questions++;
          if (a) yes++;
        }
      }
      (deferred as unknown as Inside).applyPending();
      assert.ok(questions > 5000 && yes > 20 && yes < questions - 500, `${yes} of ${questions} belonged`);
      assert.deepEqual((deferred as unknown as Inside).ways, (immediate as unknown as Inside).ways);
      assert.equal(deferred.count(t), immediate.count(t));
    });
  }
});

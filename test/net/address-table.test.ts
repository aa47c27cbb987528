/**
 * The whitelist's fast in-place entry parser against parseAddressRange
 * (ipaddr.js) as the reference: on generated and mutated entries both must
 * accept the same texts with the same intervals.
 */
import assert from 'node:assert/strict';
import { AddressTable } from '../../src/net/address-table.js';
import { parseAddressRange } from '../../src/net/address-range.js';

function words(b: Uint8Array): number[] {
  const out: number[] = [];
  for (let i = 0; i < b.length; i += 4) out.push(((b[i]! << 24) | (b[i + 1]! << 16) | (b[i + 2]! << 8) | b[i + 3]!) >>> 0);
  return out;
}

function check(text: string): void {
  const ref = parseAddressRange(text);
  const t = new AddressTable();
  const problem = t.addText(text, 0, text.length);
  assert.equal(problem === undefined, ref.ok, `${JSON.stringify(text)}: ${problem ?? 'accepted'} vs ${ref.ok ? 'accepted' : ref.error}`);
  if (!ref.ok) { assert.equal(problem, ref.error); return; }
  const { family, low, high } = ref.range;
  if (family === 4) {
    assert.equal(t.count4, 1, text);
    assert.deepEqual([t.low4(0), t.high4(0)], [words(low)[0], words(high)[0]], text);
  } else {
    assert.equal(t.count6, 1, text);
    assert.deepEqual([0, 1, 2, 3].map((k) => t.low6(0, k)), words(low), text);
    assert.deepEqual([0, 1, 2, 3].map((k) => t.high6(0, k)), words(high), text);
  }
}

describe('address table: fast entry parser', () => {
  it('agrees with parseAddressRange on hand-picked edge cases', () => {
    for (const t of ['0.0.0.0', '255.255.255.255', '256.0.0.1', '01.2.3.4', '1.2.3', '1.2.3.4.5', '1..2.3', ' 10.0.0.1 ', '10.0.0.0/8', '10.0.0.1/8', '10.0.0.0/33',
      '10.0.0.0/008', '10.0.0.0/', '0.0.0.0/0', '1.2.3.4/32', '1.2.3.4-1.2.3.4', '1.2.3.5-1.2.3.4', '1.2.3.4 - 1.2.3.9', '1.2.3.4-', '-1.2.3.4',
      '::', '::1', '1::', '::ffff:1.2.3.4', '::1.2.3.4', '1:2:3:4:5:6:7:8', '1:2:3:4:5:6:7:8:9', '1:2:3:4:5:6:7::', '::2:3:4:5:6:7:8', '1::2::3',
      'FD00::AbC', '12345::', ':1::', '1:::2', 'fd00::/8', 'fd00::1/8', 'fd00::/129', '::/0', '2001:db8::/32', 'fe80::1%eth0', '1:2:3:4:5:6:1.2.3.4',
      '1:2:3:4:5:6:7:1.2.3.4', '::1.2.3.04', 'fd00::1-fd00::9', '::ffff:0:0/96', '1.2.3.4/', '/8', '', ' ', 'g::1', '1.2.3.4/-1']) check(t);
  });

  it('agrees with parseAddressRange on 50,000 generated and mutated entries (seeded)', () => {
    let seed = 12345;
    const rnd = (n: number): number => { seed = (Math.imul(seed, 1103515245) + 12345) >>> 0; return (seed >>> 8) % n; };
    const v4 = (): string => Array.from({ length: 4 }, () => String(rnd(10) === 0 ? rnd(300) : rnd(256))).join('.');
    const v6 = (): string => {
      const g = Array.from({ length: 8 }, () => (rnd(3) === 0 ? '0' : rnd(65536).toString(16)));
      const text = g.join(':');
      return rnd(2) ? text.replace(/(^|:)0(:0)+(:|$)/, '::') : text;
    };
    const alphabet = '0123456789abcdefABCDEF:./- ';
    for (let i = 0; i < 50_000; i++) {
      let s: string;
      switch (rnd(6)) {
        case 0: s = v4(); break;
        case 1: s = `${v4()}/${rnd(40)}`; break;
        case 2: s = `${v4()}-${v4()}`; break;
        case 3: s = v6(); break;
        case 4: s = `${v6()}/${rnd(140)}`; break;
        default: s = rnd(2) ? `::ffff:${v4()}` : `${v6().split(':').slice(0, 6).join(':')}:${v4()}`;
      }
      // Mutate a third of them: insert, delete or replace a character.
      if (rnd(3) === 0 && s.length > 0) {
        const at = rnd(s.length);
        const c = alphabet[rnd(alphabet.length)]!;
        s = rnd(3) === 0 ? s.slice(0, at) + s.slice(at + 1) : rnd(2) ? s.slice(0, at) + c + s.slice(at) : s.slice(0, at) + c + s.slice(at + 1);
      }
      check(s);
    }
  });
});

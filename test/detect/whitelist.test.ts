import assert from 'node:assert/strict';
import { parseAddress } from '../../src/net/address.js';
import { Whitelist } from '../../src/detect/whitelist.js';

function has(w: Whitelist, text: string): boolean {
  const a = parseAddress(text)!;
  const bytes = new Uint8Array(16);
  bytes.set(a.bytes);
  return w.contains(a.family, bytes);
}

describe('whitelist', () => {
  const w = new Whitelist(['198.18.1.3', 'fd00:18::3', '10.20.0.0/16', '10.9.0.1-10.9.0.40', '2001:db8::/32', '0.0.0.0/32']);

  it('matches addresses, CIDRs and ranges at their edges', () => {
    for (const yes of ['198.18.1.3', '10.20.0.0', '10.20.255.255', '10.9.0.1', '10.9.0.40', 'fd00:18::3', '2001:db8::', '2001:db8:ffff:ffff:ffff:ffff:ffff:ffff', '0.0.0.0']) {
      assert.ok(has(w, yes), yes);
    }
    for (const no of ['198.18.1.4', '10.19.255.255', '10.21.0.0', '10.9.0.0', '10.9.0.41', 'fd00:18::4', '2001:db9::', '255.255.255.255', '::']) {
      assert.ok(!has(w, no), no);
    }
  });

  it('matches IPv4-mapped IPv6 sources against IPv4 entries', () => {
    assert.ok(has(w, '::ffff:198.18.1.3'));
    assert.ok(has(w, '::ffff:10.20.1.1'));
    assert.ok(!has(w, '::ffff:198.18.1.4'));
  });

  it('merges overlapping entries and agrees with a linear scan over thousands of entries', () => {
    let seed = 7;
    const rnd = (): number => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) >>> 8);
    const ranges: Array<[number, number]> = [];
    for (let i = 0; i < 5000; i++) {
      const lo = rnd() << 8;
      ranges.push([lo >>> 0, (lo + (rnd() % 4096)) >>> 0]);
    }
    const text = (v: number): string => `${v >>> 24}.${(v >>> 16) & 255}.${(v >>> 8) & 255}.${v & 255}`;
    const big = new Whitelist(ranges.map(([a, b]) => `${text(a)}-${text(b)}`));
    for (let i = 0; i < 4000; i++) {
      const probe = (i % 2 ? ranges[i % ranges.length]![0] + (rnd() % 5000) : (rnd() << 8) + (rnd() & 255)) >>> 0;
      const expected = ranges.some(([a, b]) => probe >= a && probe <= b);
      assert.equal(has(big, text(probe)), expected, text(probe));
    }
  });
});

describe('whitelist: IPv4-mapped entries', () => {
  it('match IPv4 sources and IPv4-mapped IPv6 sources alike', () => {
    const w = new Whitelist(['::ffff:198.18.0.1', '::ffff:198.18.1.0/120', '::ffff:10.0.0.1-::ffff:10.0.0.5']);
    for (const yes of ['198.18.0.1', '::ffff:198.18.0.1', '198.18.1.0', '198.18.1.255', '::ffff:198.18.1.77', '10.0.0.1', '::ffff:10.0.0.5']) assert.ok(has(w, yes), yes);
    for (const no of ['198.18.0.2', '198.18.2.0', '10.0.0.6', '::ffff:10.0.0.0', '::198.18.0.1']) assert.ok(!has(w, no), no);
  });

  it('an IPv6 entry covering part of the mapped block matches those IPv4 sources too', () => {
    const all6 = new Whitelist(['::/0']);
    assert.ok(has(all6, '198.51.100.7'));
    assert.ok(has(all6, '::ffff:198.51.100.7'));
    const edge = new Whitelist(['::ffff:0:0-::ffff:0.0.0.9', '::ffff:255.255.255.250-::1:0:0:0']);
    assert.ok(has(edge, '0.0.0.9') && !has(edge, '0.0.0.10'));
    assert.ok(has(edge, '255.255.255.250') && !has(edge, '255.255.255.249'));
    assert.ok(has(edge, '::1:0:0:0') && !has(edge, '::1:0:0:1'));
  });
});

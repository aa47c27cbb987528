import assert from 'node:assert/strict';
import { formatIpv6, parseAddress } from '../../src/net/address.js';

describe('addresses', () => {
  it('formats IPv6 as RFC 5952', () => {
    const f = (t: string): string => formatIpv6(parseAddress(t)!.bytes);
    assert.equal(f('2001:0DB8:0000:0000:0000:0000:0000:0001'), '2001:db8::1');
    assert.equal(f('2001:db8:0:1:1:1:1:1'), '2001:db8:0:1:1:1:1:1'); // a single zero group is not compressed
    assert.equal(f('2001:0:0:1:0:0:0:1'), '2001:0:0:1::1'); // the longest run
    assert.equal(f('2001:db8:0:0:1:0:0:1'), '2001:db8::1:0:0:1'); // the first of equal runs
    assert.equal(f('::'), '::');
    assert.equal(f('::1'), '::1');
    assert.equal(f('fd00:18::'), 'fd00:18::');
    assert.equal(f('::ffff:198.18.0.3'), '::ffff:198.18.0.3');
  });

  it('rejects what is not an address', () => {
    for (const t of ['1.2.3', '1.2.3.256', '01.2.3.4x', 'fe80::1%eth0', '', 'banana', '1:2:3:4:5:6:7:8:9']) {
      assert.equal(parseAddress(t), undefined, t);
    }
  });

  it('reads "::a.b.c.d" as IPv4-compatible (::c612:1), not as IPv4-mapped as ipaddr.js does', () => {
    const hex = (t: string): string => Buffer.from(parseAddress(t)!.bytes).toString('hex');
    assert.equal(hex('::198.18.0.1'), '000000000000000000000000c6120001');
    assert.equal(hex('::ffff:198.18.0.1'), '00000000000000000000ffffc6120001');
    assert.equal(hex('::0:198.18.0.1'), '000000000000000000000000c6120001');
    assert.equal(parseAddress('::198.18.0.256'), undefined);
  });
});

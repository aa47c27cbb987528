import assert from 'node:assert/strict';
import { communityId } from '../../src/alarm/community-id.js';
import { parseAddress } from '../../src/net/address.js';

describe('community id', () => {
  const b = (t: string): Uint8Array => parseAddress(t)!.bytes;
  it('matches the spec baseline for TCP/IPv4 in both directions', () => {
    // Published baseline of the Community ID spec.
    assert.equal(communityId(4, b('128.232.110.120'), 34855, b('66.35.250.204'), 80), '1:LQU9qZlK+B5F3KDmev6m5PMibrg=');
    assert.equal(communityId(4, b('66.35.250.204'), 80, b('128.232.110.120'), 34855), '1:LQU9qZlK+B5F3KDmev6m5PMibrg=');
  });
  it('depends on the seed and is direction-free for IPv6', () => {
    const x = communityId(6, b('fd00:18::1'), 40000, b('fd00:18::2'), 445);
    assert.equal(x, communityId(6, b('fd00:18::2'), 445, b('fd00:18::1'), 40000));
    assert.notEqual(x, communityId(6, b('fd00:18::1'), 40000, b('fd00:18::2'), 445, 1));
    assert.match(x, /^1:[A-Za-z0-9+/]{27}=$/);
  });
});

/** `--metrics-listen HOST:PORT`: what is accepted, and a reason for everything else. */
import assert from 'node:assert/strict';
import { formatListenAddress, parseListenAddress } from '../../src/metrics/listen-address.js';

describe('metrics listen address', () => {
  it('accepts an IPv4 address or a bracketed IPv6 address, and a port 1-65535', () => {
    const good: [string, string, 4 | 6, number][] = [
      ['127.0.0.1:9417', '127.0.0.1', 4, 9417],
      ['0.0.0.0:1', '0.0.0.0', 4, 1],
      ['[::1]:9417', '::1', 6, 9417],
      ['[::]:65535', '::', 6, 65535],
      ['[fd00:18::2]:80', 'fd00:18::2', 6, 80],
      ['[::ffff:198.18.0.1]:9417', '::ffff:198.18.0.1', 6, 9417],
    ];
    for (const [text, host, family, port] of good) {
      const r = parseListenAddress(text);
      assert.deepEqual(r, { ok: true, address: { host, family, port } }, text);
      if (r.ok) assert.equal(formatListenAddress(r.address), text);
    }
  });

  it('refuses names, unbracketed IPv6, bracketed IPv4, zones, missing or bad ports, and junk', () => {
    const bad = [
      'localhost:9417', 'metrics.example:9417', '::1:9417', '::1', '[127.0.0.1]:9417', '[fe80::1%eth0]:9417',
      '127.0.0.1', '127.0.0.1:', ':9417', '127.0.0.1:0', '127.0.0.1:65536', '127.0.0.1:99999', '127.0.0.1:+80',
      '127.0.0.1:80 ', ' 127.0.0.1:80', '127.0.0.1:0x50', '256.0.0.1:80', '127.1:80', '[::1]', '[::1]:', '[[::1]]:80',
      '', '127.0.0.1:80\n', 'http://127.0.0.1:80', '127.0.0.1:80/metrics',
    ];
    for (const text of bad) {
      const r = parseListenAddress(text);
      assert.equal(r.ok, false, JSON.stringify(text));
      if (!r.ok) assert.doesNotMatch(r.problem, /\n/);
    }
    assert.deepEqual(parseListenAddress('127.0.0.1:70000'), { ok: false, problem: 'port 70000 is not from 1 to 65535' });
  });
});

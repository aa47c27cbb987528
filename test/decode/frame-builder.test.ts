/**
 * The frame builder is used to craft fixtures, so its output must be what a
 * real dissector expects: checked against tshark (checksums validated, IP
 * reassembly on) when tshark is installed.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { LinkType } from '../../src/source/frame-batch.js';
import { TcpFlag } from '../../src/decode/segment.js';
import { Decoder } from '../../src/decode/decoder.js';
import { ethernet, fragmentIpv4, fragmentIpv6, internetChecksum, ip6, ipv4, ipv6, mssOption, pcapFile, tcp } from '../helpers/frame-builder.js';
import { DecodeStatus } from './harness.js';

function hasTshark(): boolean {
  try {
    execFileSync('tshark', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

const syn = (port: number): Uint8Array => tcp({ srcPort: 40000 + port, dstPort: port, flags: TcpFlag.SYN, options: mssOption(1460), payload: 20 });
const frames: Uint8Array[] = [
  ethernet(ipv4({ src: '198.18.0.2', dst: '198.18.0.1', payload: syn(445) })),
  ethernet(ipv4({ src: '198.18.0.2', dst: '198.18.0.1', options: [0x94, 4, 0, 0], payload: syn(3389) }), { vlans: [10, 20] }),
  ethernet(ipv6({ src: 'fd00::2', dst: 'fd00::1', extensions: [{ type: 'hopByHop' }, { type: 'destination', options: [1, 0] }], payload: syn(22) })),
  ...fragmentIpv4(ipv4({ src: '198.18.0.3', dst: '198.18.0.1', id: 777, payload: syn(139) }), 8).map((f) => ethernet(f)),
  ...fragmentIpv6(ipv6({ src: 'fd00::3', dst: 'fd00::1', payload: syn(6379) }), 16).map((f) => ethernet(f)),
  ethernet(ipv4({ src: '198.18.0.2', dst: '198.18.0.1', payload: tcp({ srcPort: 1, dstPort: 2, flags: TcpFlag.ACK, payload: 9 }) })),
];

describe('frame builder', () => {
  it('parses addresses and computes valid checksums', () => {
    assert.deepEqual(Array.from(ip6('fd00::1:2')), [0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 2]);
    assert.throws(() => ip6('1::2::3'));
    const pkt = ipv4({ src: '10.0.0.1', dst: '10.0.0.2', payload: syn(80) });
    assert.equal(internetChecksum(pkt.subarray(0, 20)), 0, 'header sums to zero with its checksum');
  });

  it('writes captures that tshark dissects the same way (checksums good, fragments reassembled)', function () {
    if (!hasTshark()) {
      console.log('    (skipped: tshark not installed)');
      this.skip();
    }
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hp-fb-'));
    try {
      const file = path.join(dir, 'f.pcap');
      fs.writeFileSync(file, pcapFile(LinkType.ETHERNET, frames.map((data) => ({ data }))));
      const out = execFileSync(
        'tshark',
        ['-r', file, '-o', 'ip.check_checksum:TRUE', '-o', 'tcp.check_checksum:TRUE', '-Y', 'tcp', '-T', 'fields', '-e', 'tcp.dstport', '-e', 'tcp.flags', '-e', 'ip.checksum.status', '-e', 'tcp.checksum.status'],
        { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] },
      );
      const rows = out.trim().split('\n').map((l) => l.split('\t'));
      assert.deepEqual(rows.map((r) => Number(r[0])), [445, 3389, 22, 139, 6379, 2]);
      for (const r of rows) {
        assert.equal(r[3], '1', `TCP checksum good: ${r.join(' ')}`);
        if (r[2] !== '') assert.equal(r[2], '1', `IP checksum good: ${r.join(' ')}`);
      }
      const dec = new Decoder();
      const ours: number[] = [];
      for (const f of frames) {
        if (dec.decode(Buffer.from(f), 0, f.length, LinkType.ETHERNET, 0) === DecodeStatus.Segment) ours.push(dec.segment.dstPort);
      }
      assert.deepEqual(ours, [445, 3389, 22, 139, 6379, 2]);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

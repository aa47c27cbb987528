/** The default ring's geometry against the sensor's timing (ring-size.ts says why). */
import assert from 'node:assert/strict';
import { DEFAULT_RING_MIB, defaultRingMiB, ringGeometry } from '../../src/capture/ring-size.js';
import { BLOCK_TIMEOUT_MS, HANDOFF_WAIT_MS } from '../../src/sensor/sensor.js';

describe('capture ring size', () => {
  it('the default ring outlasts the hand-off wait even when every block is retired nearly empty', () => {
    const { blockCount } = ringGeometry(DEFAULT_RING_MIB);
    assert.ok(blockCount * BLOCK_TIMEOUT_MS >= HANDOFF_WAIT_MS, `${blockCount} blocks x ${BLOCK_TIMEOUT_MS} ms < ${HANDOFF_WAIT_MS} ms`);
  });

  it('blocks are whole pages and fill the ring exactly', () => {
    for (const mib of [1, DEFAULT_RING_MIB, 64, 4096]) {
      const { blockSize, blockCount } = ringGeometry(mib);
      assert.equal(blockSize % 4096, 0);
      assert.equal(blockSize * blockCount, mib * 2 ** 20);
    }
  });

  it('each backend gets its own default: libpcap keeps room for ~125 frames of its 64 KiB slots', () => {
    assert.equal(defaultRingMiB('afpacket'), DEFAULT_RING_MIB);
    // libpcap on Linux gives every frame a slot sized for the 65,535-byte snap length.
    assert.ok((defaultRingMiB('pcap') * 2 ** 20) / 65_536 >= 125, `${defaultRingMiB('pcap')} MiB`);
  });

  it('refuses a size that is not a positive whole number of MiB', () => {
    assert.throws(() => ringGeometry(0), RangeError);
    assert.throws(() => ringGeometry(1.5), RangeError);
  });
});

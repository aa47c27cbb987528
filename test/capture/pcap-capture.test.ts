/**
 * The libpcap backend's own logic with a stand-in for cap's Cap: frames
 * batched per event-loop turn, the receive buffers held for the capture's
 * life, the new filter opened before the old one closes, one-line errors.
 * (Live captures with real attacks: test/live/sensor-pcap.test.ts.)
 */
import assert from 'node:assert/strict';
import v8 from 'node:v8';
import { runInNewContext } from 'node:vm';
import { captureFactory } from '../../src/capture/capture-backend.js';
import type { LiveCaptureOptions } from '../../src/capture/live-capture.js';
import { PcapCapture } from '../../src/capture/pcap.js';
import { LinkType, type FrameBatch } from '../../src/source/frame-batch.js';

const log: string[] = [];
const open: FakeCap[] = [];

class FakeCap {
  static linkType = 'ETHERNET';
  buffer: Buffer | undefined;
  listener: ((n: number, t: boolean) => void) | undefined;
  closed = false;
  open(device: string, filter: string, _size: number, buffer: Buffer): string {
    this.buffer = buffer;
    log.push(`open ${device} ${filter.includes('445') ? '445' : '-'}${filter.includes('22') ? ' 22' : ''}`);
    open.push(this);
    return FakeCap.linkType;
  }
  on(_e: 'packet', l: (n: number, t: boolean) => void): void {
    this.listener = l;
  }
  close(): void {
    this.closed = true;
    log.push('close');
  }
  /** What cap does per packet: copy into the held buffer, emit. */
  deliver(bytes: number[]): void {
    Buffer.from(bytes).copy(this.buffer!);
    this.listener!(bytes.length, false);
  }
}

const options = (ports: number[]): LiveCaptureOptions => ({
  interfaces: ['eth-test'],
  filter: { ports: ports.map((port) => ({ port, protocol: 'tcp' as const })) },
  ringBlockSize: 4096,
  ringBlockCount: 4,
  blockTimeoutMs: 4,
  handoffWaitMs: 0,
});
const turn = (): Promise<void> => new Promise((r) => setImmediate(r));

describe('libpcap backend (stand-in cap)', () => {
  beforeEach(() => {
    log.length = 0;
    open.length = 0;
    FakeCap.linkType = 'ETHERNET';
  });

  it('hands the frames of one read loop to JS as one batch, bytes and link type intact', async () => {
    const c = new PcapCapture(options([445]), FakeCap);
    const seen: { count: number; frames: string[]; link: number }[] = [];
    c.start((b: FrameBatch) => {
      const frames = [];
      for (let i = 0; i < b.count; i++) frames.push(b.data.subarray(b.offset[i], b.offset[i]! + b.caplen[i]!).toString('hex'));
      seen.push({ count: b.count, frames, link: b.linktype[0]! });
    });
    open[0]!.deliver([1, 2, 3]);
    open[0]!.deliver([4, 5]);
    open[0]!.deliver([6]);
    assert.equal(seen.length, 0, 'nothing before the read loop ends');
    await turn();
    assert.deepEqual(seen, [{ count: 3, frames: ['010203', '0405', '06'], link: LinkType.ETHERNET }]);
    assert.equal(c.stats().delivered, 3);
    assert.equal(c.stats().batches, 1);
    c.close();
  });

  it('keeps every receive buffer referenced until closed, also across a filter swap', async () => {
    const c = new PcapCapture(options([445]), FakeCap);
    c.start(() => {});
    c.setFilter({ ports: [{ port: 22, protocol: 'tcp' }] });
    // The first handle is not closed yet: its buffer must still be the one cap writes to.
    assert.equal(open[0]!.closed, false);
    open[0]!.deliver([9, 9]);
    assert.equal(open[0]!.buffer![0], 9);
    c.close();
    assert.ok(open.every((h) => h.closed));
  });

  it('opens the new filter before the old one closes (never judged by none)', async () => {
    const c = new PcapCapture(options([445]), FakeCap);
    c.start(() => {});
    c.setFilter({ ports: [{ port: 22, protocol: 'tcp' }] });
    assert.deepEqual(log, ['open eth-test 445', 'open eth-test - 22']);
    await new Promise((r) => setTimeout(r, 300));
    assert.deepEqual(log, ['open eth-test 445', 'open eth-test - 22', 'close']);
    assert.equal(open[0]!.closed, true);
    assert.equal(open[1]!.closed, false);
    c.close();
  });

  it('a reload that does not change the expression keeps the open handles (no second handle, nothing delivered twice)', () => {
    const c = new PcapCapture(options([445]), FakeCap);
    c.start(() => {});
    c.setFilter({ ports: [{ port: 445, protocol: 'tcp' }] });
    assert.deepEqual(log, ['open eth-test 445']);
    c.close();
  });

  /** Frames delivered as hex strings, batch by batch. */
  function collect(c: PcapCapture): string[] {
    const seen: string[] = [];
    c.start((b: FrameBatch) => {
      for (let i = 0; i < b.count; i++) seen.push(b.data.subarray(b.offset[i], b.offset[i]! + b.caplen[i]!).toString('hex'));
    });
    return seen;
  }

  it('during a filter swap a frame both handles capture is delivered once, in whichever order they are read', async () => {
    const c = new PcapCapture(options([445]), FakeCap);
    const seen = collect(c);
    c.setFilter({ ports: [{ port: 445, protocol: 'tcp' }, { port: 22, protocol: 'tcp' }] });
    const [a, b] = open;
    a!.deliver([1, 1]); // old handle first
    b!.deliver([1, 1]);
    b!.deliver([2, 2]); // new handle first
    a!.deliver([2, 2]);
    b!.deliver([3, 3]); // only the new filter passes it (the new port)
    await turn();
    assert.deepEqual(seen.sort(), ['0101', '0202', '0303']);
    assert.equal(c.stats().delivered, 3);
    c.close();
  });

  it('during a swap, a byte-identical repeat on the wire is still counted (each handle saw it twice)', async () => {
    const c = new PcapCapture(options([445]), FakeCap);
    const seen = collect(c);
    c.setFilter({ ports: [{ port: 22, protocol: 'tcp' }, { port: 445, protocol: 'tcp' }] });
    const [a, b] = open;
    a!.deliver([7]);
    a!.deliver([7]);
    b!.deliver([7]);
    b!.deliver([7]);
    await turn();
    assert.deepEqual(seen, ['07', '07']);
    c.close();
  });

  it('a frame the old handle delivered just before it closed is not delivered again by the new one, read late', async () => {
    const c = new PcapCapture(options([445]), FakeCap);
    const seen = collect(c);
    c.setFilter({ ports: [{ port: 22, protocol: 'tcp' }, { port: 445, protocol: 'tcp' }] });
    const [a, b] = open;
    a!.deliver([5, 5]);
    await new Promise((r) => setTimeout(r, 250));
    assert.equal(a!.closed, true);
    b!.deliver([5, 5]); // the new handle's copy, read after the old one closed
    b!.deliver([6, 6]);
    await turn();
    assert.deepEqual(seen, ['0505', '0606']);
    // Once every handle has been read after the close, tracking ends: a repeat is a new frame.
    await new Promise((r) => setTimeout(r, 450));
    b!.deliver([5, 5]);
    await turn();
    assert.deepEqual(seen, ['0505', '0606', '0505']);
    c.close();
  });

  it('the same bytes on two devices are two frames, also during a swap', async () => {
    const c = new PcapCapture({ ...options([445]), interfaces: ['eth-a', 'eth-b'] }, FakeCap);
    const seen = collect(c);
    c.setFilter({ ports: [{ port: 22, protocol: 'tcp' }, { port: 445, protocol: 'tcp' }] });
    const [a1, a2, b1, b2] = open;
    a1!.deliver([8]);
    a2!.deliver([8]);
    b1!.deliver([8]);
    b2!.deliver([8]);
    await turn();
    assert.deepEqual(seen, ['08', '08']);
    c.close();
  });

  it('keeps every closed handle referenced (cap never closes its libuv poll handle: collecting one corrupts the loop)', async () => {
    const c = new PcapCapture(options([445]), FakeCap);
    c.start(() => {});
    c.setFilter({ ports: [{ port: 22, protocol: 'tcp' }] });
    const first = new WeakRef(open[0]!);
    await new Promise((r) => setTimeout(r, 250));
    assert.equal(open[0]!.closed, true);
    open.length = 0; // the test's own references go
    v8.setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as () => void;
    for (let i = 0; i < 3; i++) {
      gc();
      await turn();
    }
    assert.notEqual(first.deref(), undefined, 'a closed handle was garbage-collected');
    c.close();
  });

  it('delivers what is batched when closed, then nothing', async () => {
    const c = new PcapCapture(options([445]), FakeCap);
    let frames = 0;
    c.start((b) => { frames += b.count; });
    open[0]!.deliver([1]);
    c.close();
    assert.equal(frames, 1);
    await turn();
    assert.equal(frames, 1);
    assert.throws(() => c.setFilter({ ports: [] }), /closed/);
  });

  it('refuses a device whose link type the decoder cannot walk, in one line', () => {
    FakeCap.linkType = 'IEEE802_11_RADIO';
    const c = new PcapCapture(options([445]), FakeCap);
    assert.throws(() => c.start(() => {}), { message: 'pcap: device eth-test has link type IEEE802_11_RADIO, which the decoder cannot walk', code: 'EPCAP' });
    assert.equal(open[0]!.closed, true);
  });
});

describe('libpcap backend errors', () => {
  it('a device libpcap cannot open is one line naming it, code EPCAP (printed as is, exit 1)', () => {
    class Refusing extends FakeCap {
      override open(): string {
        throw new Error("eth9: No such device exists (SIOCGIFHWADDR: No such device)");
      }
    }
    const c = new PcapCapture(options([445]), Refusing);
    assert.throws(() => c.start(() => {}), { message: 'pcap: cannot capture on eth-test: eth9: No such device exists (SIOCGIFHWADDR: No such device)', code: 'EPCAP' });
  });
});

describe('capture backend choice', () => {
  it('refuses AF_PACKET off Linux, naming the alternative', async () => {
    await assert.rejects(captureFactory('afpacket', 'win32'), /needs Linux \(AF_PACKET\); use --capture pcap on win32/);
  });
  it('gives a factory for each backend on Linux', async function () {
    if (process.platform !== 'linux') this.skip();
    assert.equal(typeof (await captureFactory('afpacket')), 'function');
    assert.equal(typeof (await captureFactory('pcap')), 'function');
  });
});

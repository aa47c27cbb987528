/**
 * The sensor after a port status change between reloads (root: the decoy's
 * listening socket is destroyed with `ss -K` on loopback): the change is
 * reported with every status, the kernel filter (a fake capture backend,
 * its program run through the BPF interpreter) and the detector are narrowed
 * to the ports still held — a probe of the dead decoy no longer alarms — and
 * the other decoy keeps alarming.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import type { Alarm, ProbeAlarm } from '../../src/alarm/alarm.js';
import { buildCaptureFilter } from '../../src/capture/filter-builder.js';
import { BpfVm } from '../../src/capture/bpf-vm.js';
import type { CaptureCounters, CaptureFilterSpec, LiveCapture, LiveCaptureOptions, OnBatch } from '../../src/capture/live-capture.js';
import type { PortStatus } from '../../src/ports/types.js';
import { Sensor } from '../../src/sensor/sensor.js';
import { FrameBatch, LinkType } from '../../src/source/frame-batch.js';
import { ethernet, ipv4, tcp } from '../helpers/frame-builder.js';
import { freePorts, policyOf } from '../ports/helpers.js';

const synFrame = (port: number): Uint8Array => ethernet(ipv4({ src: '198.18.7.1', dst: '127.0.0.1', payload: tcp({ srcPort: 40000, dstPort: port, flags: 0x02 }) }));

class FilterRecorder implements LiveCapture {
  onBatch: OnBatch | undefined;
  constructor(public filter: CaptureFilterSpec) {}
  start(onBatch: OnBatch): void {
    this.onBatch = onBatch;
  }
  setFilter(filter: CaptureFilterSpec): void {
    this.filter = filter;
  }
  stampedBy(): Promise<number> {
    return Promise.resolve(Date.now());
  }
  resume(): void {}
  covers(port: number): boolean {
    const f = synFrame(port);
    return new BpfVm(buildCaptureFilter(this.filter)).run(f, 0, f.length) > 0;
  }
  stats(): CaptureCounters {
    return { received: 0, kernelDrops: 0, queueFreezes: 0, handoffDrops: 0, delivered: 0, batches: 0, blocks: 0, outgoingSkipped: 0, unsupportedLink: 0, overflow: 0, malformedBlocks: 0, socketErrors: 0 };
  }
  close(): void {}
  deliver(port: number, sourcePort: number): void {
    const f = synFrame(port);
    const b = new FrameBatch(1);
    b.data = Buffer.from(f);
    b.offset[0] = 0;
    b.caplen[0] = f.length;
    b.wirelen[0] = f.length;
    b.linktype[0] = LinkType.ETHERNET;
    b.tsMicros[0] = Date.now() * 1000;
    b.iface[0] = 1;
    b.count = 1;
    b.data.writeUInt16BE(sourcePort, 14 + 20);
    this.onBatch!(b);
  }
}

describe('the sensor after a decoy stopped listening', () => {
  let sensor: Sensor | undefined;
  afterEach(async () => {
    await sensor?.stop();
    sensor = undefined;
  });

  it('reports the change and narrows filter and detector to the ports still held', async function () {
    if (process.getuid?.() !== 0) {
      console.log('      skipped: needs root (ss -K: CAP_NET_ADMIN)');
      this.skip();
    }
    const [a, b] = (await freePorts(2)) as [number, number];
    let fake: FilterRecorder | undefined;
    const alarms: Alarm[] = [];
    const changes: (readonly PortStatus[])[] = [];
    sensor = await Sensor.start({
      detection: { policy: policyOf([{ port: a, protocol: 'tcp' }, { port: b, protocol: 'tcp' }]), windowMicros: 60e6, maxTrackedKeys: 100, newSourceRate: 100, serverAddresses: [] },
      interfaces: ['lo'],
      ringBlockSize: 4096,
      ringBlockCount: 4,
      interfaceTable: new Map([[1, 'lo']]),
      onAlarm: (x) => alarms.push(x),
      onPortsChanged: (s) => changes.push(s),
      portCheckMs: 50,
      bindAddresses: { tcp: ['127.0.0.1'], tcp6: ['::1'] },
      openCapture: (o: LiveCaptureOptions) => (fake = new FilterRecorder(o.filter)),
    });
    const f = fake!;
    assert.ok(f.covers(a) && f.covers(b), 'both decoys watched');
    execFileSync('ss', ['-K', '-t', 'state', 'listening', 'src', `127.0.0.1:${a}`], { stdio: 'pipe' });
    const until = Date.now() + 5000;
    while (changes.length === 0 && Date.now() < until) await new Promise((r) => setTimeout(r, 20));
    assert.equal(changes.length, 1, 'one report');
    assert.deepEqual(new Map(changes[0]!.map((s) => [s.port, s.state])), new Map([[a, 'free'], [b, 'listening']]));
    assert.equal(f.covers(a), false, 'the dead decoy left the kernel filter');
    assert.equal(f.covers(b), true);
    f.deliver(a, 41000);
    f.deliver(b, 41001);
    assert.deepEqual(alarms.map((x) => (x as ProbeAlarm).destinationPort), [b], 'no alarm for the port no longer held');
  });
});

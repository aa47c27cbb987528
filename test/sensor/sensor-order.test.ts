/**
 * The live sensor's order of operations, without root: a fake capture backend
 * (the LiveCapture interface) records, at every start and filter swap, which
 * ports the kernel filter would pass (run through the BPF interpreter) and
 * which decoy ports are in LISTEN right now (/proc/net/tcp). Real listeners
 * on loopback. Never answer unwatched: no port listens before capture
 * starts, and at every swap each listening port is covered by the filter
 * before and after it. Frames handed to the sensor through the fake capture
 * show that an occupied port never alarms and that counters survive reloads.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import type { Server } from 'node:net';

import type { Alarm, ProbeAlarm } from '../../src/alarm/alarm.js';
import { BpfVm } from '../../src/capture/bpf-vm.js';
import { buildCaptureFilter } from '../../src/capture/filter-builder.js';
import type { CaptureCounters, CaptureFilterSpec, LiveCapture, LiveCaptureOptions, OnBatch } from '../../src/capture/live-capture.js';
import { Sensor } from '../../src/sensor/sensor.js';
import { FrameBatch, LinkType } from '../../src/source/frame-batch.js';
import { ethernet, ipv4, tcp } from '../helpers/frame-builder.js';
import { closeServer, freePorts, listenOn, policyOf } from '../ports/helpers.js';

const SYN = 0x02;

function synFrame(port: number): Uint8Array {
  return ethernet(ipv4({ src: '198.18.7.1', dst: '127.0.0.1', payload: tcp({ srcPort: 40000, dstPort: port, flags: SYN }) }));
}

/** Local TCP ports in LISTEN on 127.0.0.1 now (read synchronously, so it is the state at this instant). */
function listening(): Set<number> {
  const out = new Set<number>();
  for (const line of readFileSync('/proc/net/tcp', 'utf8').split('\n').slice(1)) {
    const f = line.trim().split(/\s+/);
    if (f.length < 4 || f[3] !== '0A') continue;
    const [addr, port] = f[1]!.split(':');
    if (addr === '0100007F') out.add(parseInt(port!, 16));
  }
  return out;
}

interface Step {
  readonly what: 'start' | 'filter';
  readonly covered: readonly number[];
  readonly listening: readonly number[];
}

class FakeCapture implements LiveCapture {
  readonly steps: Step[] = [];
  onBatch: OnBatch | undefined;

  constructor(private filter: CaptureFilterSpec, private readonly candidates: readonly number[]) {}

  private record(what: Step['what']): void {
    const vm = new BpfVm(buildCaptureFilter(this.filter));
    const covered = this.candidates.filter((p) => {
      const f = synFrame(p);
      return vm.run(f, 0, f.length) > 0;
    });
    const now = listening();
    const byNumber = (x: number, y: number): number => x - y;
    this.steps.push({ what, covered: covered.sort(byNumber), listening: this.candidates.filter((p) => now.has(p)).sort(byNumber) });
  }

  start(onBatch: OnBatch): void {
    this.onBatch = onBatch;
    this.record('start');
  }

  setFilter(filter: CaptureFilterSpec): void {
    this.filter = filter;
    this.record('filter');
  }

  stats(): CaptureCounters {
    return { received: 0, kernelDrops: 0, queueFreezes: 0, handoffDrops: 0, delivered: 0, batches: 0, blocks: 0, outgoingSkipped: 0, unsupportedLink: 0, overflow: 0, malformedBlocks: 0, socketErrors: 0 };
  }

  stampedBy(): Promise<number> {
    return Promise.resolve(Date.now() + this.clockLagMs);
  }

  resumed = false;

  resume(): void {
    this.resumed = true;
  }
  /** How much later than capture this capture stamps its frames (0: in the kernel). */
  clockLagMs = 0;
  close(): void {}

  /** Hands one SYN to `port`, captured `laterMicros` from now, to the sensor, as the ring would. */
  deliver(port: number, laterMicros = 0): void {
    const f = synFrame(port);
    const b = new FrameBatch(1);
    b.data = Buffer.from(f);
    b.offset[0] = 0;
    b.caplen[0] = f.length;
    b.wirelen[0] = f.length;
    b.linktype[0] = LinkType.ETHERNET;
    b.tsMicros[0] = Date.now() * 1000 + laterMicros;
    b.iface[0] = 1;
    b.count = 1;
    this.onBatch!(b);
  }
}

describe('live sensor order of operations (fake capture, loopback listeners)', () => {
  let occupant: Server | undefined;
  let sensor: Sensor | undefined;

  afterEach(async () => {
    await sensor?.stop();
    sensor = undefined;
    if (occupant) await closeServer(occupant);
    occupant = undefined;
  });

  it('captures before listening at start and on reload, narrows to held ports, never alarms an occupied port, keeps counters', async function () {
    if (process.platform !== 'linux') this.skip();
    const [a, b, c, busy] = await freePorts(4);
    const all = [a!, b!, c!, busy!];
    occupant = await listenOn({ host: '127.0.0.1', port: busy! });
    let fake: FakeCapture | undefined;
    const alarms: Alarm[] = [];
    sensor = await Sensor.start({
      detection: { policy: policyOf([{ port: a!, protocol: 'tcp' }, { port: b!, protocol: 'tcp' }, { port: busy!, protocol: 'tcp' }]), windowMicros: 60e6, maxTrackedKeys: 100, newSourceRate: 100, serverAddresses: [] },
      interfaces: ['lo'],
      ringBlockSize: 4096,
      ringBlockCount: 4,
      interfaceTable: new Map([[1, 'lo']]),
      onAlarm: (x) => alarms.push(x),
      bindAddresses: { tcp: ['127.0.0.1'], tcp6: ['::1'] },
      openCapture: (o: LiveCaptureOptions) => (fake = new FakeCapture(o.filter, all)),
    });
    const f = fake!;
    const sorted = (x: readonly number[]): number[] => [...x].sort((p, q) => p - q);
    // Start: the filter covers every policy port before any of ours listens (busy is the occupant's).
    assert.deepEqual(f.steps[0], { what: 'start', covered: sorted([a!, b!, busy!]), listening: [busy!] });
    // Then narrowed to the ports held: a and b listen, busy is not ours.
    assert.deepEqual(f.steps.at(-1), { what: 'filter', covered: sorted([a!, b!]), listening: sorted([a!, b!, busy!]) });

    f.deliver(busy!);
    f.deliver(a!);
    assert.deepEqual(alarms.map((x) => (x as ProbeAlarm).destinationPort), [a], 'the occupied port never alarms');
    const before = sensor.status().detect;

    // Reload: drop a, add c.
    const mark = f.steps.length;
    await sensor.reload(policyOf([{ port: b!, protocol: 'tcp' }, { port: c!, protocol: 'tcp' }]));
    const during = f.steps.slice(mark);
    assert.deepEqual(during[0], { what: 'filter', covered: sorted([a!, b!, c!]), listening: sorted([a!, b!, busy!]) }, 'old ∪ new covered before c listens');
    assert.deepEqual(during.at(-1), { what: 'filter', covered: sorted([b!, c!]), listening: sorted([b!, c!, busy!]) }, 'a closed before it left the filter');
    for (const s of f.steps) {
      const mine = s.listening.filter((p) => p !== busy);
      assert.deepEqual(mine.filter((p) => !s.covered.includes(p)), [], `every listening decoy is covered at ${JSON.stringify(s)}`);
    }
    f.deliver(c!);
    assert.deepEqual(alarms.map((x) => (x as ProbeAlarm).destinationPort), [a, c]);
    const probes = before.probes;
    f.deliver(a!, 50_000); // captured after a was released: refused by the kernel, not a probe of a decoy
    assert.equal(sensor.status().detect.probes, probes);
    assert.equal(sensor.status().detect, before, 'one detector, one set of counters');
    assert.equal(before.alarms, 2);
  });

  it('a backend that stamps frames when JavaScript reads them: a probe answered before the release still counts', async function () {
    if (process.platform !== 'linux') this.skip();
    const [a, b] = await freePorts(2);
    let fake: FakeCapture | undefined;
    sensor = await Sensor.start({
      detection: { policy: policyOf([{ port: a!, protocol: 'tcp' }, { port: b!, protocol: 'tcp' }]), windowMicros: 60e6, maxTrackedKeys: 100, newSourceRate: 100, serverAddresses: [] },
      interfaces: ['lo'],
      ringBlockSize: 4096,
      ringBlockCount: 4,
      interfaceTable: new Map([[1, 'lo']]),
      onAlarm: () => {},
      bindAddresses: { tcp: ['127.0.0.1'], tcp6: ['::1'] },
      openCapture: (o: LiveCaptureOptions) => (fake = new FakeCapture(o.filter, [a!, b!])),
    });
    const f = fake!;
    f.deliver(a!);
    const probes = sensor.status().detect.probes;
    // libpcap through cap: frames read up to 40 ms after they were captured carry the later time.
    f.clockLagMs = 40;
    await sensor.reload(policyOf([{ port: b!, protocol: 'tcp' }]));
    // Captured (and answered) before a closed, read 20 ms after: within the lag.
    f.deliver(a!, 20_000);
    assert.equal(sensor.status().detect.probes, probes + 1, 'the probe read late was counted');
    f.deliver(a!, 200_000); // read long after the lag: captured after the release, refused
    assert.equal(sensor.status().detect.probes, probes + 1);
  });

  it('with beforeFrames (the privilege drop): capture opened held, ports bound and filter narrowed before it runs, frames handed over only after', async function () {
    if (process.platform !== 'linux') this.skip();
    const [a] = await freePorts(1);
    let fake: FakeCapture | undefined;
    let held: boolean | undefined;
    let seen: { steps: readonly Step[]; resumed: boolean } | undefined;
    sensor = await Sensor.start({
      detection: { policy: policyOf([{ port: a!, protocol: 'tcp' }]), windowMicros: 60e6, maxTrackedKeys: 100, newSourceRate: 100, serverAddresses: [] },
      interfaces: ['lo'],
      ringBlockSize: 4096,
      ringBlockCount: 4,
      interfaceTable: new Map([[1, 'lo']]),
      onAlarm: () => undefined,
      bindAddresses: { tcp: ['127.0.0.1'], tcp6: ['::1'] },
      openCapture: (o: LiveCaptureOptions) => {
        held = o.held;
        fake = new FakeCapture(o.filter, [a!]);
        return fake;
      },
      beforeFrames: () => {
        seen = { steps: [...fake!.steps], resumed: fake!.resumed };
      },
    });
    assert.equal(held, true, 'opened held');
    assert.deepEqual(seen, { steps: [{ what: 'start', covered: [a!], listening: [] }, { what: 'filter', covered: [a!], listening: [a!] }], resumed: false });
    assert.equal(fake!.resumed, true, 'frames handed over after beforeFrames');
  });

  it('a beforeFrames that throws ends start: ports released, capture closed, nothing handed over', async function () {
    if (process.platform !== 'linux') this.skip();
    const [a] = await freePorts(1);
    let fake: FakeCapture | undefined;
    await assert.rejects(Sensor.start({
      detection: { policy: policyOf([{ port: a!, protocol: 'tcp' }]), windowMicros: 60e6, maxTrackedKeys: 100, newSourceRate: 100, serverAddresses: [] },
      interfaces: ['lo'],
      ringBlockSize: 4096,
      ringBlockCount: 4,
      interfaceTable: new Map([[1, 'lo']]),
      onAlarm: () => undefined,
      bindAddresses: { tcp: ['127.0.0.1'], tcp6: ['::1'] },
      openCapture: (o: LiveCaptureOptions) => (fake = new FakeCapture(o.filter, [a!])),
      beforeFrames: () => {
        throw new Error('drop failed');
      },
    }), /drop failed/);
    assert.equal(fake!.resumed, false);
    assert.equal(listening().has(a!), false, 'the port was released');
  });
});

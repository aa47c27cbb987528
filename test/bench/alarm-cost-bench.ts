/**
 * What one alarm costs on the live path, cold, in process: the run command's
 * delivery (mode live: random event ids; a state-document sink beside the
 * alarm sink, sharing its transport; the real process.stdout), alarms
 * published at a flood's pace — `perGap` alarms every `gapMs` ms, as ring
 * blocks raise them — so batches are as small as under a live flood, where
 * after the promotion burst most 5 ms linger windows hold one alarm. Prints
 * CPU µs per alarm on stderr, the same paced loop without alarms subtracted.
 * A fresh process is the cold case a live sensor meets: its alarm code has
 * run at most a few thousand times when a flood comes.
 *
 *   node dist/test/bench/alarm-cost-bench.js [alarms=1600] [gapMs=3] [perGap=1] | cat >/dev/null
 *
 * stdout must be a pipe (as under systemd or the live bench), not a file or a tty.
 */
import type { ProbeAlarm } from '../../src/alarm/alarm.js';
import { deliveryConfigFromFlags } from '../../src/config/output-flag.js';
import { Delivery } from '../../src/deliver/delivery.js';
import type { FormatContext } from '../../src/deliver/format-ecs.js';

const alarms = Number(process.argv[2] ?? 1600);
const gapMs = Number(process.argv[3] ?? 3);
const perGap = Number(process.argv[4] ?? 1);

const ctx: FormatContext = { ruleName: 'honeyport-live-bench', observer: { hostname: 'sensor-bench', version: '0.0.0-bench' }, inputs: ['veth-hp0'], mode: 'live' };

/** A first alarm as a spoofed flood's new source raises it (fingerprinted, unknown stack). */
function alarm(i: number): ProbeAlarm {
  const t = 1_800_000_000_000_000 + i * 2_917;
  const port = 40_000 + ((i * 7919) % 20_000);
  return {
    action: 'honeypot-port-probe',
    ruleName: ctx.ruleName,
    phase: 'first',
    family: 4,
    source: new Uint8Array([198, 19, (i >> 8) & 255, i & 255]),
    destination: new Uint8Array([198, 18, 0, 1]),
    sourcePort: port,
    sourcePorts: [port],
    sourcePortsTruncated: false,
    destinationPort: 445,
    protocol: 'tcp',
    count: 1,
    startMicros: t,
    endMicros: t,
    kinds: 1,
    flags: 2,
    severity: 'medium',
    portsTouched: [445],
    reassembled: false,
    vlan: 0,
    innerVlan: 0,
    origin: { input: 0, packet: i, digest: i.toString(16).padStart(16, '0'), fingerprint: { label: 'unknown', name: 'unknown', match: 'none', signature: '4:64+0:0:0:512,0::df,seq-:0' } },
    handshakeCompleted: false,
  };
}

function paced(n: number, each: (i: number) => void): Promise<number> {
  return new Promise((resolve) => {
    const t = process.cpuUsage();
    let i = 0;
    const tick = (): void => {
      for (let k = 0; k < perGap && i < n; k++) each(i++);
      if (i < n) setTimeout(tick, gapMs);
      else {
        // The last batch's linger and write belong to the measurement.
        setTimeout(() => {
          const d = process.cpuUsage(t);
          resolve(d.user + d.system);
        }, 20);
      }
    };
    setTimeout(tick, gapMs);
  });
}

// Writes per alarm tell how small the batches were (one counter, next to ~100 µs a write costs).
let writes = 0;
const write = process.stdout.write.bind(process.stdout) as (...args: unknown[]) => boolean;
process.stdout.write = ((...args: unknown[]) => {
  writes++;
  return write(...args);
}) as typeof process.stdout.write;

const delivery = await Delivery.open(deliveryConfigFromFlags([]), ctx, { stateDocuments: true, onNotice: (m) => process.stderr.write(`${m}\n`) });
const idle = await paced(alarms, () => undefined);
const writesBefore = writes;
const busy = await paced(alarms, (i) => delivery.publish(alarm(i)));
const batches = writes - writesBefore;
await delivery.close(10_000);
const s = delivery.stats()[0]!;
process.stderr.write(`${((busy - idle) / alarms).toFixed(1)} µs CPU per alarm (${alarms} alarms, ${perGap} per ${gapMs} ms, ${batches} writes; delivered ${s.delivered}, dropped ${s.dropped})\n`);

/**
 * Child process for the restart tests: publishes alarms [from, from+count) to
 * a webhook sink with a disk spool, then prints "synced" once they are
 * delivered or durable. With --drain it waits until everything is delivered,
 * closes and prints its stats as JSON; otherwise it idles until killed.
 */
import { Delivery } from '../../src/deliver/delivery.js';
import { deliveryConfigFromFlags } from '../../src/config/output-flag.js';
import { ctx, probeAlarm } from './alarms.js';

const [url, spoolDir, from, count, mode] = process.argv.slice(2) as [string, string, string, string, string | undefined];
const base = deliveryConfigFromFlags([url], { spoolDir });
const config = {
  ...base,
  sinks: base.sinks.map((s) => ({ ...s, queue: { ...s.queue, batchRecords: 100, retryInitialMs: 20, retryMaxMs: 200 } })),
};
const delivery = await Delivery.open(config, ctx, { onNotice: (m) => process.stderr.write(`publisher: ${m}\n`) });
for (let i = Number(from); i < Number(from) + Number(count); i++) delivery.publish(probeAlarm(i));
await delivery.sync(2000);
process.stdout.write('synced\n');
if (mode === '--drain') {
  const deadline = Date.now() + 20_000;
  while (!delivery.idle && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
  await delivery.close(1000);
  process.stdout.write(`${JSON.stringify(delivery.stats())}\n`);
} else {
  setInterval(() => undefined, 1000);
}

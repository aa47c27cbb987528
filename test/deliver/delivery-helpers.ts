/** Shared by the delivery and state-delivery fault tests: polling for a condition, and fast retries. */
import type { DeliveryConfig, SinkConfig } from '../../src/config/sensor-config.js';

/** Polls `cond` every 10 ms; false once `timeoutMs` has passed without it. */
export async function until(cond: () => boolean, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) return false;
    await new Promise((r) => setTimeout(r, 10));
  }
  return true;
}

/** Every sink retries after 20 ms, backing off to `retryMaxMs`; `batchRecords` too when given. */
export function quickRetries(config: DeliveryConfig, batchRecords?: number, retryMaxMs = 100): DeliveryConfig {
  return {
    ...config,
    sinks: config.sinks.map((s): SinkConfig => ({ ...s, queue: { ...s.queue, ...(batchRecords !== undefined ? { batchRecords } : {}), retryInitialMs: 20, retryMaxMs } })),
  };
}

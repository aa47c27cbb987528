/**
 * `--metrics-listen` at start: refuses an address whose port is a decoy port
 * of the policy (the two would fight over the port, and the decoy would show
 * as occupied by the sensor itself), then listens. Every refusal is one
 * line for the user, a bad configuration (exit 2), before any port is held.
 */
import type { Policy } from '../policy/policy.js';
import { formatListenAddress, type ListenAddress } from './listen-address.js';
import { DEFAULT_METRICS_LIMITS, MetricsServer, type MetricsServerLimits } from './metrics-server.js';

export class MetricsListenError extends Error {
  override readonly name = 'MetricsListenError';
}

const REASONS: Record<string, string> = {
  EADDRINUSE: 'the address is in use',
  EADDRNOTAVAIL: 'no interface of this host has that address',
  EACCES: 'permission denied (ports below 1024 need CAP_NET_BIND_SERVICE)',
};

export async function openMetricsEndpoint(address: ListenAddress, policy: Pick<Policy, 'ports'>, limits: MetricsServerLimits = DEFAULT_METRICS_LIMITS): Promise<MetricsServer> {
  const where = `--metrics-listen ${formatListenAddress(address)}`;
  if (policy.ports.some((p) => p.port === address.port)) throw new MetricsListenError(`${where}: port ${address.port} is a decoy port of the policy; choose another`);
  try {
    return await MetricsServer.open(address, limits);
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    throw new MetricsListenError(`${where}: ${REASONS[e.code ?? ''] ?? e.message}${e.code ? ` (${e.code})` : ''}`);
  }
}

/**
 * The host the sensor runs on, as fleet policy selectors see it: its name
 * (os.hostname(), or the operator's --host) and its addresses from
 * os.networkInterfaces(), loopback left out (127.0.0.1 and ::1 are on every
 * host, so a selector covering them would claim the whole fleet). Read each
 * time it is asked for, so a SIGHUP reload sees addresses added since start.
 */
import { hostname, networkInterfaces } from 'node:os';
import { parseAddress, type ParsedAddress } from '../net/address.js';
import type { HostIdentity } from './server-selector.js';

export function thisHostAddresses(): ParsedAddress[] {
  const out: ParsedAddress[] = [];
  for (const list of Object.values(networkInterfaces())) {
    for (const info of list ?? []) {
      if (info.internal) continue;
      const a = parseAddress(info.address.replace(/%.*$/, ''));
      if (a) out.push(a);
    }
  }
  return out;
}

/** `name` overrides os.hostname() (run --host). */
export function thisHost(name?: string): HostIdentity {
  return { name: name ?? hostname(), addresses: thisHostAddresses() };
}

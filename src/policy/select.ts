/**
 * The policy a host gets from a policy file. A single-policy file applies to
 * every host. In a fleet file exactly one policy's `servers:` must match the
 * host: none, or more than one, is refused (PolicySelectionError: one line,
 * exit 2) rather than guessed, because a server has one policy and a wrong
 * guess would silently open the wrong decoys or whitelist the wrong sources.
 */
import { formatAddress } from '../net/address.js';
import { quoted } from '../validation/echo.js';
import type { FleetEntry, PolicyDocument } from './fleet.js';
import type { Policy } from './policy.js';
import { selectorMatches, type HostIdentity } from './server-selector.js';

export type { HostIdentity };

export class PolicySelectionError extends Error {
  override readonly name = 'PolicySelectionError';
}

export interface Selection {
  readonly policy: Policy;
  /** For a fleet file: which entry, and the selector that matched first. */
  readonly match?: { readonly index: number; readonly by: string };
}

/** Addresses named in a message; a host with hundreds is cut. */
const LISTED_ADDRESSES = 8;

export function describeHost(host: HostIdentity): string {
  const name = host.name === undefined ? '(no name)' : quoted(host.name, 80);
  const all = host.addresses.map((a) => formatAddress(a.family, a.bytes));
  const listed = all.slice(0, LISTED_ADDRESSES).join(', ');
  const more = all.length > LISTED_ADDRESSES ? ` and ${all.length - LISTED_ADDRESSES} more` : '';
  return `host ${name} (${all.length === 0 ? 'no addresses' : `addresses ${listed}${more}`})`;
}

function firstMatch(entry: FleetEntry, host: HostIdentity): string | undefined {
  return entry.servers.find((s) => selectorMatches(s, host))?.text;
}

type Fleet = Extract<PolicyDocument, { kind: 'fleet' }>;

export function selectPolicy(doc: Fleet, host: HostIdentity, source: string): Required<Selection>;
export function selectPolicy(doc: PolicyDocument, host: HostIdentity, source: string): Selection;
export function selectPolicy(doc: PolicyDocument, host: HostIdentity, source: string): Selection {
  if (doc.kind === 'single') return { policy: doc.policy };
  const matches: { entry: FleetEntry; by: string }[] = [];
  for (const entry of doc.entries) {
    const by = firstMatch(entry, host);
    if (by !== undefined) matches.push({ entry, by });
  }
  if (matches.length === 0) {
    const n = doc.entries.length;
    throw new PolicySelectionError(`${source}: no policy is for ${describeHost(host)}: add it to the servers: of ${n === 1 ? 'its one policy' : `one of its ${n} policies`}`);
  }
  if (matches.length > 1) {
    const named = matches.slice(0, 2).map(({ entry, by }) => `policies[${entry.index}] ${quoted(entry.policy.name)} (by ${quoted(by)})`);
    const more = matches.length > 2 ? ` and ${matches.length - 2} more` : '';
    const who = host.name === undefined ? describeHost(host) : `host ${quoted(host.name, 80)}`;
    throw new PolicySelectionError(`${source}: ${who} matches ${matches.length} policies: ${named.join(' and ')}${more}; a server has one policy: make their servers: disjoint`);
  }
  const { entry, by } = matches[0]!;
  return { policy: entry.policy, match: { index: entry.index, by } };
}

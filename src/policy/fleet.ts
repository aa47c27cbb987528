/**
 * The policy file that serves a fleet: a top-level `policies:` list whose
 * entries are normal policies plus `servers:` (server-selector.ts). Each
 * entry is validated by the single-policy schema; its problems keep their
 * field paths under `policies[i].`. Names are required and unique, so that
 * an alarm's rule.name says which of the file's policies raised it.
 *
 * Whitelists inside a fleet file go through the YAML parser (the large-list
 * fast path only reads a top-level `whitelist:`): ~13 µs per entry.
 */
import type { Policy } from './policy.js';
import { PolicyError } from './policy-error.js';
import { parsePolicy } from './schema.js';
import { parseServerSelector, type ServerSelector } from './server-selector.js';
import { MAX_LISTED_PROBLEMS } from '../validation/schema-problems.js';
import { quoted } from '../validation/echo.js';

export interface FleetEntry {
  /** Position in `policies:`, as error messages name it. */
  readonly index: number;
  readonly policy: Policy;
  /** At least one. */
  readonly servers: readonly ServerSelector[];
}

export type PolicyDocument =
  | { readonly kind: 'single'; readonly policy: Policy }
  | { readonly kind: 'fleet'; readonly entries: readonly FleetEntry[] };

export const MAX_FLEET_POLICIES = 10_000;
export const MAX_SERVERS = 10_000;

const PLAIN_KEY = /^[A-Za-z0-9_-]{1,64}$/;

function isMapping(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}

/** A document with a top-level `policies:` key is a fleet file; anything else is one policy. */
export function isFleetDocument(doc: unknown): boolean {
  return isMapping(doc) && Object.prototype.hasOwnProperty.call(doc, 'policies');
}

/** Problems as listed (the first few) and counted (all). */
class Problems {
  readonly listed: string[] = [];
  total = 0;
  add(problem: string): void {
    if (this.listed.length < MAX_LISTED_PROBLEMS) this.listed.push(problem);
    this.total++;
  }
}

/** An entry's own problem path put under `policies[i]`. */
function underEntry(at: string, problem: string): string {
  if (problem.startsWith('(policy)')) return `${at}${problem.slice('(policy)'.length)}`;
  return problem.startsWith('[') ? `${at}${problem}` : `${at}.${problem}`;
}

function parseServers(raw: unknown, at: string, problems: Problems): ServerSelector[] {
  if (raw === undefined) { problems.add(`${at}.servers: required: host name globs or CIDRs of the hosts this policy is for`); return []; }
  if (!Array.isArray(raw)) { problems.add(`${at}.servers: must be a list of host name globs and CIDRs`); return []; }
  if (raw.length === 0) { problems.add(`${at}.servers: must list at least one selector`); return []; }
  if (raw.length > MAX_SERVERS) { problems.add(`${at}.servers: must list at most ${MAX_SERVERS.toLocaleString('en-US')} selectors`); return []; }
  const out: ServerSelector[] = [];
  raw.forEach((s: unknown, j) => {
    if (typeof s !== 'string') { problems.add(`${at}.servers[${j}]: must be a host name glob or a CIDR (a string)`); return; }
    const r = parseServerSelector(s);
    if (r.ok) out.push(r.selector);
    else problems.add(`${at}.servers[${j}]: ${r.error.startsWith('host name glob: ') ? `host name glob ${quoted(s)}: ${r.error.slice(16)}` : r.error}`);
  });
  return out;
}

export function parseFleet(doc: Record<string, unknown>, source: string): PolicyDocument {
  const problems = new Problems();
  for (const key of Object.keys(doc)) {
    if (key !== 'policies') problems.add(`${PLAIN_KEY.test(key) ? key : `[${quoted(key, 40)}]`}: unknown key (a file of several policies holds only "policies:")`);
  }
  const list = doc.policies;
  if (!Array.isArray(list)) problems.add('policies: must be a list of policies');
  else if (list.length === 0) problems.add('policies: must list at least one policy');
  else if (list.length > MAX_FLEET_POLICIES) problems.add(`policies: must list at most ${MAX_FLEET_POLICIES.toLocaleString('en-US')} policies`);
  if (problems.total > 0 || !Array.isArray(list)) throw new PolicyError(source, problems.listed, problems.total);

  const entries: FleetEntry[] = [];
  const names = new Map<string, number>();
  list.forEach((raw: unknown, i) => {
    const at = `policies[${i}]`;
    if (!isMapping(raw)) { problems.add(`${at}: must be a policy (a mapping)`); return; }
    const { servers: rawServers, ...rest } = raw;
    if (rest.name === undefined) problems.add(`${at}.name: required in a file of several policies`);
    else if (typeof rest.name === 'string') {
      const first = names.get(rest.name);
      if (first !== undefined) problems.add(`${at}.name: ${quoted(rest.name)} is already the name of policies[${first}]`);
      else names.set(rest.name, i);
    }
    const servers = parseServers(rawServers, at, problems);
    try {
      const policy = parsePolicy(rest, source);
      if (servers.length > 0) entries.push({ index: i, policy, servers });
    } catch (err) {
      if (!(err instanceof PolicyError)) throw err;
      for (const p of err.problems) problems.add(underEntry(at, p));
      problems.total += err.total - err.problems.length; // counted beyond those listed
    }
  });
  if (problems.total > 0) throw new PolicyError(source, problems.listed, problems.total);
  return { kind: 'fleet', entries };
}

/**
 * The policy file's schema (zod) and its translation into a `Policy`.
 * Errors name the field path and the problem, one per line:
 *   ports[3].protocol: must be "tcp" or "tcp6"
 */
import { z } from 'zod';
import { AddressTable } from '../net/address-table.js';
import type { WhitelistSpans } from './whitelist-text.js';
import { MAX_LISTED_PROBLEMS, schemaProblems } from '../validation/schema-problems.js';
import { basename } from 'node:path';
import { MAX_PORTS, type OsType, type Policy, type ProtectedPort } from './policy.js';
import { PolicyError } from './policy-error.js';
import { RECOMMENDED_PORTS, defaultPolicyName } from './recommended.js';

export { PolicyError };

const portEntry = z.strictObject({
  port: z
    .number({ error: 'must be a number' })
    .int({ error: 'must be a whole number' })
    .min(1, { error: 'must be between 1 and 65535' })
    .max(65535, { error: 'must be between 1 and 65535' }),
  protocol: z.enum(['tcp', 'tcp6'], { error: 'must be "tcp" or "tcp6"' }),
});

// Entries are checked by the address table (one problem per entry, the
// first few listed): zod checks only that the list holds strings.
const whitelistEntry = z.string({ error: 'must be an address, CIDR or range (a string)' });

/**
 * `ports: recommended` is replaced by the OS type's set before validation, so
 * that a bad port list reports its own field paths (a union would hide them).
 */
function expandRecommended(doc: unknown): unknown {
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) return doc;
  const d = doc as Record<string, unknown>;
  if (d.ports !== 'recommended') return doc;
  const os = d.os === 'windows' ? 'windows' : 'linux'; // a bad os is reported on its own
  return { ...d, ports: RECOMMENDED_PORTS[os].map((p) => ({ ...p })) };
}

const NAME_PATTERN = /^[\w.@:+-]+$/;
const NAME_MAX = 128;

/**
 * The name of a policy that gives none, as alarms carry it in rule.name: the
 * recommended name only when the ports are the recommended set; otherwise
 * the file's base name (dmz-web.yaml → "dmz-web"), or honeyport-<os>-custom
 * when that is no valid name.
 */
function unnamedPolicyName(os: OsType, ports: readonly ProtectedPort[], source: string): string {
  const recommended = RECOMMENDED_PORTS[os];
  const isRecommended = ports.length === recommended.length &&
    recommended.every((r) => ports.some((p) => p.port === r.port && p.protocol === r.protocol));
  if (isRecommended) return defaultPolicyName(os);
  const base = basename(source).replace(/\.(ya?ml|json)$/i, '');
  return base.length <= NAME_MAX && NAME_PATTERN.test(base) ? base : `honeyport-${os}-custom`;
}

const policyObject = z
  .strictObject({
    name: z
      .string({ error: 'must be a string' })
      .min(1, { error: 'must not be empty' })
      .max(NAME_MAX, { error: `must be at most ${NAME_MAX} characters` })
      .regex(NAME_PATTERN, { error: 'may contain only letters, digits and _ . @ : + -' })
      .optional(),
    os: z.enum(['linux', 'windows'], { error: 'must be "linux" or "windows"' }),
    ports: z
      .array(portEntry, { error: 'must be a list of {port, protocol} or "recommended"' })
      .min(1, { error: 'must list at least one port' })
      .max(MAX_PORTS, { error: `must list at most ${MAX_PORTS} ports` }),
    whitelist: z.array(whitelistEntry, { error: 'must be a list of addresses, CIDRs or ranges' }).default([]),
  })
  .superRefine((policy, ctx) => {
    if (!Array.isArray(policy.ports)) return;
    const seen = new Map<number, number>();
    policy.ports.forEach((entry, i) => {
      const first = seen.get(entry.port);
      if (first !== undefined) {
        ctx.addIssue({
          code: 'custom',
          path: ['ports', i, 'port'],
          message: `port ${entry.port} is already listed at ports[${first}] (a port is bound to exactly one protocol)`,
        });
      } else seen.set(entry.port, i);
    });
  });

export const policySchema = z.preprocess(expandRecommended, policyObject);


/**
 * Validates a parsed YAML/JSON document; `source` names it in errors.
 * `spans` holds the whitelist when the loader cut it out of the text (the
 * document then says `whitelist: []`).
 */
export function parsePolicy(doc: unknown, source: string, spans?: { readonly text: string; readonly list: WhitelistSpans }): Policy {
  const result = policySchema.safeParse(doc);
  const problems = result.success ? [] : schemaProblems(result.error.issues, '(policy)');
  // Whitelist entries: parsed into typed arrays; only the first problems become text.
  const table = new AddressTable();
  let total = problems.length;
  const explain = (): boolean => problems.length < MAX_LISTED_PROBLEMS;
  const note = (i: number, problem: string | undefined): void => {
    if (problem === undefined) return;
    if (problems.length < MAX_LISTED_PROBLEMS) problems.push(`whitelist[${i}]: ${problem}`);
    total++;
  };
  if (spans) {
    const { text, list } = spans;
    for (let i = 0; i < list.count; i++) note(i, table.addText(text, list.start[i]!, list.end[i]!, explain()));
  } else if (result.success) {
    result.data.whitelist.forEach((w, i) => note(i, table.addText(w, 0, w.length, explain())));
  } else {
    const raw = (doc as { whitelist?: unknown } | null)?.whitelist;
    if (Array.isArray(raw)) raw.forEach((w, i) => { if (typeof w === 'string') note(i, table.addText(w, 0, w.length, explain())); });
  }
  if (!result.success || total > 0) throw new PolicyError(source, problems, total);
  const input = result.data;
  const ports = input.ports;
  return {
    name: input.name ?? unnamedPolicyName(input.os, ports, source),
    os: input.os,
    ports: [...ports].sort((a, b) => a.port - b.port).map((p) => ({ port: p.port, protocol: p.protocol })),
    whitelist: table,
  };
}

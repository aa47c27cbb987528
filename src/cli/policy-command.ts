/** `honeyport policy recommend|check`. */
import { stringify } from 'yaml';
import { loadPolicyDocument, recommendedPolicy } from '../policy/load.js';
import type { FleetEntry } from '../policy/fleet.js';
import type { OsType, Policy } from '../policy/policy.js';
import { describeHost, selectPolicy, type HostIdentity } from '../policy/select.js';
import { quoted } from '../validation/echo.js';

export function recommendCommand(os: OsType, name: string | undefined): string {
  const p = recommendedPolicy(os);
  // The recommended policy whitelists nothing: the site adds its own entries.
  return stringify({ name: name ?? p.name, os: p.os, ports: p.ports.map((x) => ({ port: x.port, protocol: x.protocol })), whitelist: [] }, { flow: false });
}

/** `linux, 2 ports: 445/tcp, 3389/tcp; 0 whitelist entries` */
function summary(p: Policy): string {
  const ports = p.ports.map((x) => `${x.port}/${x.protocol}`).join(', ');
  return `${p.ports.length} port${p.ports.length === 1 ? '' : 's'}: ${ports}; ${p.whitelist.length} whitelist entr${p.whitelist.length === 1 ? 'y' : 'ies'}`;
}

/** Selectors listed per policy; a policy for a thousand hosts is cut. */
const LISTED_SERVERS = 8;

function entryLine(e: FleetEntry): string {
  const servers = e.servers.slice(0, LISTED_SERVERS).map((s) => s.text).join(', ');
  const more = e.servers.length > LISTED_SERVERS ? ` and ${e.servers.length - LISTED_SERVERS} more` : '';
  return `  policies[${e.index}] "${e.policy.name}" (${e.policy.os}), ${summary(e.policy)}; servers: ${servers}${more}`;
}

/** Without a host: the file is valid, and what it holds. With one: the policy that host gets (a fleet file's refusals are thrown). */
export async function checkCommand(file: string, host?: HostIdentity): Promise<string> {
  const doc = await loadPolicyDocument(file);
  if (doc.kind === 'single') {
    const p = doc.policy;
    return `${file}: ok: policy "${p.name}" (${p.os}), ${summary(p)}${host ? ' (one policy: every host gets it)' : ''}`;
  }
  if (!host) return [`${file}: ok: ${doc.entries.length} policies`, ...doc.entries.map(entryLine)].join('\n');
  const { policy, match } = selectPolicy(doc, host, file);
  const who = host.addresses.length === 0 ? `host ${quoted(host.name ?? '', 80)}` : describeHost(host);
  return `${file}: ${who} gets policies[${match.index}] "${policy.name}" (by ${quoted(match.by)}): ${policy.os}, ${summary(policy)}`;
}

/** `honeyport policy recommend|check`. */
import { stringify } from 'yaml';
import { loadPolicyFile, recommendedPolicy } from '../policy/load.js';
import type { OsType } from '../policy/policy.js';

export function recommendCommand(os: OsType, name: string | undefined): string {
  const p = recommendedPolicy(os);
  // The recommended policy whitelists nothing: the site adds its own entries.
  return stringify({ name: name ?? p.name, os: p.os, ports: p.ports.map((x) => ({ port: x.port, protocol: x.protocol })), whitelist: [] }, { flow: false });
}

export async function checkCommand(file: string): Promise<string> {
  const p = await loadPolicyFile(file);
  const ports = p.ports.map((x) => `${x.port}/${x.protocol}`).join(', ');
  return `${file}: ok: policy "${p.name}" (${p.os}), ${p.ports.length} port${p.ports.length === 1 ? '' : 's'}: ${ports}; ${p.whitelist.length} whitelist entr${p.whitelist.length === 1 ? 'y' : 'ies'}`;
}

/**
 * Which policy `run` and `replay` use: the embedded default, the policy of a
 * single-policy file, or the one of a fleet file's policies that is for the
 * host. `run` asks for this host (re-read on every SIGHUP reload: a reload
 * re-selects); `replay` needs the host named, since the capture may come
 * from any server of the fleet and the analyst's workstation is none of them.
 */
import { loadPolicyDocument } from '../policy/load.js';
import type { Policy } from '../policy/policy.js';
import { defaultPolicy } from '../policy/recommended.js';
import { PolicySelectionError, selectPolicy, type HostIdentity } from '../policy/select.js';
import { thisHost } from '../policy/this-host.js';

export type HostChoice =
  /** The machine we run on; `name` overrides os.hostname(). */
  | { readonly kind: 'this-host'; readonly name?: string }
  | { readonly kind: 'given'; readonly host: HostIdentity }
  /** No host named: a fleet file is refused, naming the flag that is missing. */
  | { readonly kind: 'unnamed'; readonly command: string };

export async function policyFor(file: string | undefined, choice: HostChoice): Promise<Policy> {
  if (file === undefined) return defaultPolicy();
  const doc = await loadPolicyDocument(file);
  if (doc.kind === 'single') return doc.policy;
  if (choice.kind === 'unnamed') {
    const n = doc.entries.length;
    throw new PolicySelectionError(`${file} holds ${n} polic${n === 1 ? 'y' : 'ies'}: ${choice.command} needs --host NAME (and --address IP) of the host the capture is from`);
  }
  const host = choice.kind === 'given' ? choice.host : thisHost(choice.name);
  return selectPolicy(doc, host, file).policy;
}

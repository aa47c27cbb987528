/**
 * Reads a policy file — one policy, or a fleet's (fleet.ts) — from YAML (or
 * JSON), or gives the embedded default. Every failure of the file's content
 * is a PolicyError (one line, exit 2); only an unreadable file stays an OS
 * error (exit 1). Which of a fleet file's policies applies is select.ts's job.
 */
import type { Policy } from './policy.js';
import { PolicyError, parsePolicy } from './schema.js';
import { FileTooLargeError, readBoundedText } from '../validation/bounded-read.js';
import { readYamlDocument } from '../validation/yaml-document.js';
import { splitWhitelist } from './whitelist-text.js';
import { isFleetDocument, parseFleet, type PolicyDocument } from './fleet.js';

export { defaultPolicy, recommendedPolicy } from './recommended.js';

/**
 * Policies are small, but a whitelist of a million IPv6 CIDRs in block style
 * is ~50 MB: the limit leaves room for that and refuses what is no policy.
 */
export const MAX_POLICY_BYTES = 64 * 1024 * 1024;

export function parsePolicyDocumentText(text: string, source: string): PolicyDocument {
  // A large whitelist skips the YAML parser (see whitelist-text.ts); the meaning is the same.
  const list = splitWhitelist(text);
  const read = list ? readYamlDocument(list.rest, list.sourceLine) : readYamlDocument(text);
  if (!read.ok) throw new PolicyError(source, [read.problem]);
  if (read.doc === null || read.doc === undefined) throw new PolicyError(source, ['the file is empty']);
  // A top-level whitelist cut out of a fleet file is left as `whitelist: []`: an unknown key there.
  if (isFleetDocument(read.doc)) return parseFleet(read.doc as Record<string, unknown>, source);
  return { kind: 'single', policy: parsePolicy(read.doc, source, list ? { text, list } : undefined) };
}

/** One policy; a fleet file is refused (its policy depends on the host: see select.ts). */
export function parsePolicyText(text: string, source: string): Policy {
  return onlyPolicy(parsePolicyDocumentText(text, source), source);
}

function onlyPolicy(doc: PolicyDocument, source: string): Policy {
  if (doc.kind === 'single') return doc.policy;
  throw new PolicyError(source, ['policies: a file of several policies needs a host to choose one for']);
}

export async function loadPolicyFile(path: string): Promise<Policy> {
  return onlyPolicy(await loadPolicyDocument(path), path);
}

export async function loadPolicyDocument(path: string): Promise<PolicyDocument> {
  let text: string;
  try {
    text = await readBoundedText(path, MAX_POLICY_BYTES);
  } catch (err) {
    if (err instanceof FileTooLargeError) throw new PolicyError(path, [err.message]);
    throw err;
  }
  return parsePolicyDocumentText(text, path);
}

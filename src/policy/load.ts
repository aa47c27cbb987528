/**
 * Reads a policy from a YAML (or JSON) file, or gives the embedded default.
 * Every failure of the file's content is a PolicyError (one line, exit 2);
 * only an unreadable file stays an OS error (exit 1).
 */
import type { Policy } from './policy.js';
import { PolicyError, parsePolicy } from './schema.js';
import { FileTooLargeError, readBoundedText } from '../validation/bounded-read.js';
import { readYamlDocument } from '../validation/yaml-document.js';
import { splitWhitelist } from './whitelist-text.js';

export { defaultPolicy, recommendedPolicy } from './recommended.js';

/**
 * Policies are small, but a whitelist of a million IPv6 CIDRs in block style
 * is ~50 MB: the limit leaves room for that and refuses what is no policy.
 */
export const MAX_POLICY_BYTES = 64 * 1024 * 1024;

export function parsePolicyText(text: string, source: string): Policy {
  // A large whitelist skips the YAML parser (see whitelist-text.ts); the meaning is the same.
  const list = splitWhitelist(text);
  const read = list ? readYamlDocument(list.rest, list.sourceLine) : readYamlDocument(text);
  if (!read.ok) throw new PolicyError(source, [read.problem]);
  if (read.doc === null || read.doc === undefined) throw new PolicyError(source, ['the file is empty']);
  return parsePolicy(read.doc, source, list ? { text, list } : undefined);
}

export async function loadPolicyFile(path: string): Promise<Policy> {
  let text: string;
  try {
    text = await readBoundedText(path, MAX_POLICY_BYTES);
  } catch (err) {
    if (err instanceof FileTooLargeError) throw new PolicyError(path, [err.message]);
    throw err;
  }
  return parsePolicyText(text, path);
}

/** Reads a policy from a YAML (or JSON) file, or gives the embedded default. */
import { readFile } from 'node:fs/promises';
import { parse as parseYaml, YAMLParseError } from 'yaml';
import type { Policy } from './policy.js';
import { PolicyError, parsePolicy } from './schema.js';

export { defaultPolicy, recommendedPolicy } from './recommended.js';

export function parsePolicyText(text: string, source: string): Policy {
  let doc: unknown;
  try {
    doc = parseYaml(text, { prettyErrors: false, uniqueKeys: true });
  } catch (err) {
    if (err instanceof YAMLParseError) {
      const [line, col] = err.linePos?.[0] ? [err.linePos[0].line, err.linePos[0].col] : [0, 0];
      throw new PolicyError(source, [`line ${line}, column ${col}: ${err.message.split('\n')[0]}`]);
    }
    throw err;
  }
  if (doc === null || doc === undefined) throw new PolicyError(source, ['the file is empty']);
  return parsePolicy(doc, source);
}

export async function loadPolicyFile(path: string): Promise<Policy> {
  const text = await readFile(path, 'utf8');
  return parsePolicyText(text, path);
}

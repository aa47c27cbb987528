/**
 * zod issues → one line each, naming the field path the way an operator
 * reads a YAML file: `ports[3].protocol: must be "tcp" or "tcp6"`.
 * Shared by the policy and the sensor-config schemas.
 */
import type { z } from 'zod';

function formatPath(path: readonly PropertyKey[], root: string): string {
  let out = '';
  for (const part of path) {
    if (typeof part === 'number') out += `[${part}]`;
    else out += out === '' ? String(part) : `.${String(part)}`;
  }
  return out === '' ? root : out;
}

/** `root` names the whole document when an issue has no path, e.g. "(policy)". */
export function schemaProblems(issues: readonly z.core.$ZodIssue[], root: string): string[] {
  return issues.map((issue) =>
    // Unknown keys come as one issue on the parent; name each key instead.
    issue.code === 'unrecognized_keys'
      ? issue.keys.map((k) => `${formatPath([...issue.path, k], root)}: unknown key`).join('; ')
      : `${formatPath(issue.path, root)}: ${issue.message}`,
  );
}

/**
 * zod issues → one line each, naming the field path the way an operator
 * reads a YAML file: `ports[3].protocol: must be "tcp" or "tcp6"`.
 * Shared by the policy and the sensor-config schemas.
 */
import type { z } from 'zod';
import { escapeForMessage, quoted } from './echo.js';

/** Problems listed in one message; the rest are counted (a million bad entries must not make an 80 MB line). */
export const MAX_LISTED_PROBLEMS = 10;

const PLAIN_KEY = /^[A-Za-z0-9_-]{1,64}$/;

function formatPath(path: readonly PropertyKey[], root: string): string {
  let out = '';
  for (const part of path) {
    if (typeof part === 'number') out += `[${part}]`;
    else {
      // A key from the input is echoed; an odd one is quoted and escaped.
      const key = String(part);
      if (!PLAIN_KEY.test(key)) out += `[${quoted(key, 40)}]`;
      else out += out === '' ? key : `.${key}`;
    }
  }
  return out === '' ? root : out;
}

/** `root` names the whole document when an issue has no path, e.g. "(policy)". */
export function schemaProblems(issues: readonly z.core.$ZodIssue[], root: string): string[] {
  return issues.map((issue) =>
    // Unknown keys come as one issue on the parent; name each key instead.
    issue.code === 'unrecognized_keys'
      ? issue.keys.map((k) => `${formatPath([...issue.path, k], root)}: unknown key`).join('; ')
      : `${formatPath(issue.path, root)}: ${escapeForMessage(issue.message, 200)}`,
  );
}

/** The problems as one line: the first few, then how many more. */
export function joinProblems(problems: readonly string[], total = problems.length): string {
  const listed = Math.min(problems.length, MAX_LISTED_PROBLEMS);
  if (total <= listed) return problems.join('; ');
  const more = total - listed;
  return `${problems.slice(0, listed).join('; ')}; and ${more.toLocaleString('en-US')} more problems (${total.toLocaleString('en-US')} in all)`;
}

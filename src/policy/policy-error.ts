import { joinProblems } from '../validation/schema-problems.js';

/** An invalid policy: each problem names a field path (kept apart from the schema so it loads cheaply). */
export class PolicyError extends Error {
  constructor(readonly source: string, readonly problems: readonly string[]) {
    super(`${source}: invalid policy: ${joinProblems(problems)}`);
  }
}

import { joinProblems } from '../validation/schema-problems.js';

/** An invalid policy: each problem names a field path (kept apart from the schema so it loads cheaply). */
export class PolicyError extends Error {
  /** `total` counts problems beyond those listed (a million bad entries are counted, not kept). */
  constructor(readonly source: string, readonly problems: readonly string[], readonly total = problems.length) {
    super(`${source}: invalid policy: ${joinProblems(problems, total)}`);
  }
}

/** Process exit codes, documented in the README and `--help`. */
export const ExitCode = {
  OK: 0,
  /** Runtime failure: an input could not be opened, an output failed. */
  FAILURE: 1,
  /** Bad command line or invalid policy/configuration. */
  USAGE: 2,
  /** An input capture was damaged; everything before the damage was processed. */
  DAMAGED_INPUT: 3,
} as const;

/** An error that ends the command with a one-line message and a given exit code. */
export class CliError extends Error {
  constructor(message: string, readonly exitCode: number) {
    super(message);
  }
}

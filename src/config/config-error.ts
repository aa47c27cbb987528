/**
 * A configuration problem found at start-up (invalid sensor config, an
 * unreachable sink, a bad certificate, a missing credential). The message is
 * one line naming what is wrong, so the CLI can print it and exit 2.
 */
export class ConfigError extends Error {
  /** `subject` names the sink or file the problem belongs to, e.g. "syslog-tcp-127.0.0.1-514". */
  constructor(readonly subject: string, readonly problem: string) {
    super(`${subject}: ${problem}`);
    this.name = 'ConfigError';
  }
}

/**
 * The receiver did not answer at start (refused, timed out, no route): maybe
 * a mistake, maybe an outage. A sink with a disk spool starts anyway and
 * spools; without one it is a ConfigError like any other.
 */
export class UnreachableError extends ConfigError {}

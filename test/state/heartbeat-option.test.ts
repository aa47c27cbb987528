/** `--heartbeat`: a duration between 1 s and setTimeout's limit, or 0/off for none; anything else is a usage error (exit 2). */
import assert from 'node:assert/strict';
import { parseHeartbeat } from '../../src/cli/parse-options.js';
import { CliError, ExitCode } from '../../src/cli/exit-codes.js';

describe('state documents: --heartbeat', () => {
  it('reads durations, and 0 or off as no heartbeat', () => {
    assert.equal(parseHeartbeat('5m', '--heartbeat'), 300_000);
    assert.equal(parseHeartbeat('1s', '--heartbeat'), 1000);
    assert.equal(parseHeartbeat('0', '--heartbeat'), undefined);
    assert.equal(parseHeartbeat('OFF', '--heartbeat'), undefined);
  });

  it('refuses what is no duration, below 1 s or beyond a timer\'s reach, naming the option', () => {
    for (const bad of ['soon', '-5m', '10ms', '30d', '']) {
      assert.throws(() => parseHeartbeat(bad, '--heartbeat'), (e: unknown) => e instanceof CliError && e.exitCode === ExitCode.USAGE && /^--heartbeat: /.test(e.message), bad);
    }
  });
});

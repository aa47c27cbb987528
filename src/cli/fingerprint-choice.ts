/**
 * `--fingerprints FILE` / `--no-fingerprints` → the fingerprinter the
 * detection settings carry. A malformed file or an unreadable given one is
 * a configuration error (one line naming file:line, exit 2); a missing
 * default database is one notice line on stderr (see fingerprint/load).
 */
import { CliError, ExitCode } from './exit-codes.js';
import type { SynFingerprinter } from '../fingerprint/syn-fingerprinter.js';

/** commander's value: undefined (default database), a path, or false (--no-fingerprints). */
export async function fingerprintsFrom(flag: string | boolean | undefined): Promise<SynFingerprinter | undefined> {
  const { loadFingerprints, SignatureFileError } = await import('../fingerprint/load.js');
  try {
    const loaded = await loadFingerprints(flag === false ? { kind: 'off' } : typeof flag === 'string' ? { kind: 'file', path: flag } : { kind: 'default' });
    if (loaded.notice) process.stderr.write(`honeyport: ${loaded.notice}\n`);
    return loaded.fingerprinter;
  } catch (err) {
    if (err instanceof SignatureFileError) throw new CliError(`--fingerprints: ${err.message}`, ExitCode.USAGE);
    throw err;
  }
}

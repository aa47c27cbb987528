/**
 * Loads the signature database for `--fingerprints`: p0f's file (given, or
 * Debian's /etc/p0f/p0f.fp by default) followed by honeyport's own scanner
 * signatures, parsed as one stream. A missing default file is not an error:
 * the scanner signatures alone are used and the caller prints one notice. A
 * given file that cannot be read, or any malformed line, is a configuration
 * error naming `file:line` (exit 2).
 */
import { readBoundedText } from '../validation/bounded-read.js';
import { HONEYPORT_SIGNATURES, HONEYPORT_SIGNATURES_NAME } from './honeyport-signatures.js';
import { MAX_SIGNATURE_FILE_BYTES, parseSignatureFiles, SignatureFileError, type SignatureSource } from './signature-file.js';
import { SynFingerprinter } from './syn-fingerprinter.js';

export const DEFAULT_P0F_DATABASE = '/etc/p0f/p0f.fp';

export type FingerprintChoice =
  | { readonly kind: 'default' }
  | { readonly kind: 'file'; readonly path: string }
  | { readonly kind: 'off' };

export interface LoadedFingerprints {
  /** Undefined when fingerprinting is off. */
  readonly fingerprinter: SynFingerprinter | undefined;
  /** One line for stderr when the default database is missing. */
  readonly notice?: string;
}

export { SignatureFileError };

async function readDatabase(path: string, required: boolean): Promise<SignatureSource | undefined> {
  try {
    return { name: path, text: await readBoundedText(path, MAX_SIGNATURE_FILE_BYTES) };
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (!required && code === 'ENOENT') return undefined;
    throw new SignatureFileError(`${path}: cannot read the signature file (${code ?? (err as Error).message})`);
  }
}

/** Throws SignatureFileError (one line: `file:line: what`). */
export async function loadFingerprints(choice: FingerprintChoice, defaultPath = DEFAULT_P0F_DATABASE): Promise<LoadedFingerprints> {
  if (choice.kind === 'off') return { fingerprinter: undefined };
  const path = choice.kind === 'file' ? choice.path : defaultPath;
  const p0f = await readDatabase(path, choice.kind === 'file');
  const own: SignatureSource = { name: HONEYPORT_SIGNATURES_NAME, text: HONEYPORT_SIGNATURES };
  const db = parseSignatureFiles(p0f ? [p0f, own] : [own]);
  const fingerprinter = new SynFingerprinter(db);
  return p0f
    ? { fingerprinter }
    : { fingerprinter, notice: `${path} not found (Debian: apt install p0f): OS fingerprints off, honeyport's own ${db.syn.length} scanner signatures only` };
}

/** Parsers for command-line values; each throws a CliError naming the option. */
import { parseAddress, type ParsedAddress } from '../net/address.js';
import type { DetectionSettings } from '../pipeline/detection-settings.js';
import type { HostIdentity } from '../policy/server-selector.js';
import { CliError, ExitCode } from './exit-codes.js';

const UNIT_MICROS: Record<string, number> = { ms: 1e3, s: 1e6, m: 60e6, h: 3600e6 };

/** "60s", "5m", "1h", "250ms" or bare seconds → microseconds. */
export function parseDuration(text: string, option: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(text.trim());
  const micros = m ? Number(m[1]) * UNIT_MICROS[m[2] ?? 's']! : NaN;
  if (!(micros > 0) || !Number.isFinite(micros)) {
    throw new CliError(`${option}: "${text}" is not a positive duration (e.g. 60s, 5m, 1h, 500ms)`, ExitCode.USAGE);
  }
  return micros;
}

export function parsePositiveInt(text: string, option: string, max = 1e8): number {
  const n = Number(text);
  if (!/^\d+$/.test(text.trim()) || !Number.isSafeInteger(n) || n < 1 || n > max) {
    throw new CliError(`${option}: "${text}" is not a whole number from 1 to ${max}`, ExitCode.USAGE);
  }
  return n;
}

export function parseServerAddress(text: string, option: string): ParsedAddress {
  const a = parseAddress(text.trim());
  if (!a) throw new CliError(`${option}: "${text}" is not an IPv4 or IPv6 address`, ExitCode.USAGE);
  return a;
}

/** The detection options as commander hands them over (strings, as typed). */
export interface DetectionFlags {
  readonly window: string;
  readonly maxTrackedKeys: string;
  readonly newSourceRate: string;
  readonly serverAddress: readonly string[];
}

/** Parses the detection flags `replay` and `run` share; throws CliError (exit 2) naming the bad option. */
export function parseDetectionFlags(o: DetectionFlags): Omit<DetectionSettings, 'policy'> {
  return {
    windowMicros: parseDuration(o.window, '--window'),
    maxTrackedKeys: parsePositiveInt(o.maxTrackedKeys, '--max-tracked-keys', 50_000_000),
    newSourceRate: parsePositiveInt(o.newSourceRate, '--new-source-rate', 10_000_000),
    serverAddresses: o.serverAddress.map((a) => parseServerAddress(a, '--server-address')),
  };
}

/** A host name as --host gives it (matched case-insensitively by fleet policy globs). */
export function parseHostName(text: string, option: string): string {
  const name = text.trim();
  if (name.length === 0) throw new CliError(`${option}: must not be empty`, ExitCode.USAGE);
  if (name.length > 253) throw new CliError(`${option}: "${name.slice(0, 40)}…" is longer than a host name (253 characters)`, ExitCode.USAGE);
  return name;
}

/**
 * The host named by `--host NAME [--address IP]…` (replay, policy check), or
 * undefined when none is; --address alone is refused: the flags describe one
 * host, and a name-less host would silently match no name selector.
 */
export function parseNamedHost(o: { readonly host?: string; readonly address: readonly string[] }): HostIdentity | undefined {
  if (o.host === undefined) {
    if (o.address.length > 0) throw new CliError('--address needs --host: name the host the addresses belong to', ExitCode.USAGE);
    return undefined;
  }
  return { name: parseHostName(o.host, '--host'), addresses: o.address.map((a) => parseServerAddress(a, '--address')) };
}

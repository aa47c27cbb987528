/**
 * `replay` arguments → capture files. A directory stands for the regular
 * files directly in it (not hidden ones, not subdirectories), in natural
 * name order: digits compare as numbers, so tcpdump's rotations come out in
 * the order it wrote them — `-C` names `cap`, `cap1`, `cap2` … `cap10`, and
 * `-G` names carry the time. Files named on the command line keep the order
 * given. Only one level is read, so a link loop cannot make it run away.
 */
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { CliError, ExitCode } from './exit-codes.js';

/** Compares runs of digits by value (then by length: `01` after `1`), everything else by UTF-16 code unit. */
export function naturalCompare(a: string, b: string): number {
  const ra = a.match(/\d+|\D+/g) ?? [];
  const rb = b.match(/\d+|\D+/g) ?? [];
  for (let i = 0; i < Math.min(ra.length, rb.length); i++) {
    const x = ra[i]!;
    const y = rb[i]!;
    if (x === y) continue;
    const dx = x.charCodeAt(0) >= 48 && x.charCodeAt(0) <= 57;
    const dy = y.charCodeAt(0) >= 48 && y.charCodeAt(0) <= 57;
    if (dx && dy) {
      const vx = x.replace(/^0+(?=\d)/, '');
      const vy = y.replace(/^0+(?=\d)/, '');
      if (vx.length !== vy.length) return vx.length - vy.length;
      if (vx !== vy) return vx < vy ? -1 : 1;
      return x.length - y.length;
    }
    return x < y ? -1 : 1;
  }
  return ra.length - rb.length;
}

function isDirectory(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false; // not there or unreadable: the reader says so in its turn
  }
}

function isRegularFile(path: string): boolean {
  try {
    return statSync(path).isFile();
  } catch {
    return false;
  }
}

/** The capture files the arguments name, in replay order. */
export function expandCapturePaths(args: readonly string[]): string[] {
  const out: string[] = [];
  for (const arg of args) {
    if (arg === '-' || !isDirectory(arg)) {
      out.push(arg);
      continue;
    }
    let names: string[];
    try {
      names = readdirSync(arg);
    } catch (err) {
      throw new CliError(`${arg}: cannot list the directory: ${(err as Error).message}`, ExitCode.FAILURE);
    }
    const files = names.filter((n) => !n.startsWith('.')).sort(naturalCompare).map((n) => join(arg, n)).filter(isRegularFile);
    if (files.length === 0) throw new CliError(`${arg}: directory holds no files to replay`, ExitCode.USAGE);
    out.push(...files);
  }
  return out;
}

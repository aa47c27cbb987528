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

const isDigit = (c: number): boolean => c >= 48 && c <= 57;

/** Compares character by character, except that runs of digits compare by value (then by length: `01` after `1`). */
export function naturalCompare(a: string, b: string): number {
  let i = 0;
  let j = 0;
  while (i < a.length && j < b.length) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(j);
    if (isDigit(x) && isDigit(y)) {
      let ie = i;
      let je = j;
      while (ie < a.length && isDigit(a.charCodeAt(ie))) ie++;
      while (je < b.length && isDigit(b.charCodeAt(je))) je++;
      let zi = i;
      let zj = j;
      while (zi < ie - 1 && a.charCodeAt(zi) === 48) zi++;
      while (zj < je - 1 && b.charCodeAt(zj) === 48) zj++;
      const va = a.slice(zi, ie);
      const vb = b.slice(zj, je);
      if (va.length !== vb.length) return va.length - vb.length;
      if (va !== vb) return va < vb ? -1 : 1;
      if (ie - i !== je - j) return ie - i - (je - j);
      i = ie;
      j = je;
      continue;
    }
    if (x !== y) return x - y;
    i++;
    j++;
  }
  return a.length - i - (b.length - j);
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

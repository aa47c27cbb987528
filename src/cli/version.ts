import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { packageRoot } from '../package-root.js';

/** The package version, from the package root's package.json (the compiled tree and the bundle alike). */
export function packageVersion(): string {
  const root = packageRoot();
  if (root === undefined) throw new Error('cannot find package.json above the honeyport modules');
  return (JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version: string }).version;
}

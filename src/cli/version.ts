import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * The package version, from the nearest package.json above this module: the
 * compiled tree (dist/src/cli) and the bundle (dist/bundle) sit at different
 * depths, and both must name the same version.
 */
export function packageVersion(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const file = join(dir, 'package.json');
    if (existsSync(file)) return (JSON.parse(readFileSync(file, 'utf8')) as { version: string }).version;
    const up = dirname(dir);
    if (up === dir) throw new Error('cannot find package.json above the honeyport modules');
    dir = up;
  }
}

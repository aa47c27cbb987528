/**
 * The package root: the nearest directory above this module that holds
 * package.json — the repository, the npm package or /usr/lib/honeyport. The
 * compiled tree (dist/src/…) and the bundle (dist/bundle/) sit at different
 * depths, so it is found by walking up rather than by a fixed relative path.
 * Used for the version and to find the native addon.
 */
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** How far up to look: deeper than any layout above, short of wandering the filesystem. */
const MAX_DEPTH = 8;

export function packageRoot(): string | undefined {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let depth = 0; depth < MAX_DEPTH; depth += 1) {
    if (existsSync(join(dir, 'package.json'))) return dir;
    const parent = dirname(dir);
    if (parent === dir) break;
    dir = parent;
  }
  return undefined;
}

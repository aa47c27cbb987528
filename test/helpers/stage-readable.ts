/**
 * Stages what a child process run as another user (nobody) needs into a
 * fresh directory every user can read. The checkout itself may not be
 * readable to that user — root's clone under /root is mode 0700 — and the
 * tests must pass from any checkout location.
 *
 * Copies the given paths (relative to the repository root, e.g. dist/src)
 * and, when asked, the production dependencies named by package-lock.json
 * (the compiled CLI imports them; dev dependencies are left out). The copy
 * is a few MiB; `remove()` deletes it.
 */
import { chmodSync, cpSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Repository root, from dist/test/helpers/. */
const REPO_ROOT = fileURLToPath(new URL('../../../', import.meta.url));

export interface StagedCopy {
  /** The staged repository root: same layout as the checkout for what was copied. */
  readonly root: string;
  remove(): void;
}

function productionPackages(): string[] {
  const lock = JSON.parse(readFileSync(join(REPO_ROOT, 'package-lock.json'), 'utf8')) as { packages: Record<string, { dev?: boolean }> };
  // Only top-level folders: a nested node_modules travels inside its parent.
  return Object.entries(lock.packages)
    .filter(([key, meta]) => /^node_modules\/(@[^/]+\/)?[^/]+$/.test(key) && meta.dev !== true)
    .map(([key]) => key);
}

export function stageReadableCopy(paths: readonly string[], options: { dependencies?: boolean } = {}): StagedCopy {
  const root = mkdtempSync(join(tmpdir(), 'hp-stage-'));
  const remove = (): void => rmSync(root, { recursive: true, force: true });
  try {
    // package.json makes the .js files ESM; binding.gyp marks the root where the native addon is looked up.
    const wanted = ['package.json', 'binding.gyp', ...paths, ...(options.dependencies ? productionPackages() : [])];
    for (const rel of wanted) {
      const from = join(REPO_ROOT, rel);
      if (!existsSync(from)) throw new Error(`cannot stage ${rel}: not in the checkout`);
      cpSync(from, join(root, rel), { recursive: true });
    }
    // mkdtemp makes the directory 0700; everything inside keeps the checkout's modes (umask 022 at build).
    chmodSync(root, 0o755);
    return { root, remove };
  } catch (err) {
    remove();
    throw err;
  }
}

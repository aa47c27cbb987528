#!/usr/bin/env node
// Part of `npm run build`, after tsc: dist/bundle/, what bin/ and the .deb run.
//
//   honeyport.cjs       the command: a few lines that run program.cjs with
//                       V8's code cache (src/cli/code-cache-loader.ts)
//   program.cjs         the whole command line as one CommonJS script
//   program.cjs.cache   V8's code cache for it, written here by a replay of a
//                       fixture, so the functions a replay runs start compiled
//   replay-worker.js    the parallel replay's worker, one ES module
//
// Why (README "Benchmark" → "Replay"): a 10-packet replay from the compiled
// tree (dist/src, ~50 module files and their dependencies) spent ~40 ms of its
// ~120 ms resolving, reading and compiling modules. One script avoids the ES
// module loader, and Node 20 has no compile cache of its own for modules; a
// CommonJS script run through vm.Script can take V8's cached data.
// A cache from another Node or V8 is rejected by V8 and the script is
// compiled as usual: slower, never wrong.
//
// Left outside: `cap` (optional, native, loaded with createRequire only for
// --capture pcap) and the addon, which native-binding.ts finds through
// node-gyp-build under the package root at run time. import.meta.url (the
// package root, the worker's file) becomes the bundle's own file URL.
// Usage: node packaging/bundle.mjs  (expects dist/src from tsc).
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, rmSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildSync } from 'esbuild';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const src = join(root, 'dist', 'src');
const out = join(root, 'dist', 'bundle');
if (!existsSync(join(src, 'cli', 'main.js'))) {
  console.error('bundle: dist/src is missing: run tsc first');
  process.exit(1);
}
rmSync(out, { recursive: true, force: true });

const common = {
  bundle: true,
  platform: 'node',
  target: 'node20',
  external: ['cap'],
  // Whitespace and syntax only: names stay, so the one-line internal error
  // still says which function failed.
  minifyWhitespace: true,
  minifySyntax: true,
  legalComments: 'none',
  logLevel: 'warning',
};

const commonJs = {
  ...common,
  format: 'cjs',
  define: { 'import.meta.url': '__honeyportUrl' },
  banner: { js: 'var __honeyportUrl = require("node:url").pathToFileURL(__filename).href;' },
};
buildSync({ ...commonJs, entryPoints: [join(src, 'cli', 'main.js')], outfile: join(out, 'program.cjs') });
buildSync({ ...commonJs, entryPoints: [join(src, 'cli', 'code-cache-loader.js')], outfile: join(out, 'honeyport.cjs') });
buildSync({
  ...common,
  entryPoints: [join(src, 'pipeline', 'replay-worker.js')],
  outfile: join(out, 'replay-worker.js'),
  format: 'esm',
  // The CommonJS dependencies call require() for Node's built-in modules; an ES module has none of its own.
  banner: { js: "import { createRequire as __honeyportRequire } from 'node:module'; const require = __honeyportRequire(import.meta.url);" },
});
chmodSync(join(out, 'honeyport.cjs'), 0o755);

// The cache holds what V8 compiled by the end of a run: a replay of a scan
// compiles the replay path, the one whose start-up is measured.
const fixture = join(root, 'fixtures', 'live', 'nmap-sS.pcap');
const cache = join(out, 'program.cjs.cache');
const run = spawnSync(process.execPath, [join(out, 'honeyport.cjs'), 'replay', '-q', fixture], {
  env: { ...process.env, HONEYPORT_WRITE_CODE_CACHE: '1' },
  stdio: ['ignore', 'ignore', 'inherit'],
});
if (run.status !== 0 || !existsSync(cache)) {
  console.error(`bundle: the replay that writes the code cache failed (exit ${run.status})`);
  process.exit(1);
}
const sizes = ['program.cjs', 'program.cjs.cache', 'replay-worker.js'].map((f) => `${f} ${(statSync(join(out, f)).size / 1024).toFixed(0)} KiB`);
console.error(`bundle: ${sizes.join(', ')}`);


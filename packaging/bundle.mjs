#!/usr/bin/env node
// Part of `npm run build`, after tsc: dist/bundle/, the command line as a few
// ES module files instead of ~50 compiled modules and their dependencies.
//
// Why: a 10-packet replay spent ~40 ms of its ~120 ms resolving, reading and
// compiling module files (README "Benchmark" → "Replay"). esbuild joins them;
// code splitting keeps what a command loads on demand (zod and yaml for a
// policy file, the delivery sinks, prom-client, the live sensor) in chunks of
// their own, so a replay does not parse them. The replay worker is a second
// entry point beside the command's (parallel-source.ts starts
// `./replay-worker.js` next to the module that holds it).
//
// Left outside the bundle: `cap` (optional, native, loaded with createRequire
// only for --capture pcap) and the addon, which native-binding.ts finds
// through node-gyp-build under the package root at run time.
// Usage: node packaging/bundle.mjs  (expects dist/src from tsc).
import { chmodSync, existsSync, rmSync } from 'node:fs';
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
buildSync({
  entryPoints: { honeyport: join(src, 'cli', 'main.js'), 'replay-worker': join(src, 'pipeline', 'replay-worker.js') },
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  outdir: out,
  external: ['cap'],
  // Whitespace and syntax only: names stay, so the one-line internal error
  // still says which function failed.
  minifyWhitespace: true,
  minifySyntax: true,
  legalComments: 'none',
  logLevel: 'warning',
  // The CommonJS dependencies (commander, ipaddr.js, yaml…) call require()
  // for Node's built-in modules; an ES module has no require of its own.
  banner: { js: "import { createRequire as __honeyportRequire } from 'node:module'; const require = __honeyportRequire(import.meta.url);" },
});
// npm marks bin files executable at install; a checkout runs it directly too.
chmodSync(join(out, 'honeyport.js'), 0o755);

#!/usr/bin/env node
// `npm install` hook: builds the addon with node-gyp against LOCAL Node
// headers and never downloads any. node-gyp only looks locally when told a
// nodedir, so find one: npm's nodedir setting, then the running node's own
// prefix (Debian/NodeSource put headers in /usr/include/node, nvm and the
// official tarballs in <prefix>/include/node), then node-gyp's cache.
// Extra arguments are passed to node-gyp (e.g. --debug).
//
// Before building, as the node-gyp-build convention has it, a prebuilt addon
// under prebuilds/ that matches this platform, arch, libc and Node-API and
// actually loads makes the build unnecessary: that is how the npm tarball
// installs without a compiler. Only prebuilds count (a stale build/Release in
// a checkout is rebuilt); npm_config_build_from_source=true (`npm install
// --build-from-source`) always builds.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const version = process.versions.node;
const root = join(dirname(fileURLToPath(import.meta.url)), '..');

function loadablePrebuild() {
  // node-gyp-build reads PREBUILDS_ONLY when it is first loaded.
  process.env.PREBUILDS_ONLY = '1';
  let loader;
  try {
    loader = createRequire(import.meta.url)('node-gyp-build');
  } catch {
    return undefined; // not installed (yet): build
  }
  try {
    const path = loader.path(root);
    createRequire(import.meta.url)(path);
    return path;
  } catch {
    return undefined; // none for this platform, or it does not load here
  }
}

if (process.env.npm_config_build_from_source !== 'true') {
  const prebuilt = loadablePrebuild();
  if (prebuilt !== undefined) {
    console.error(`honeyport: using the prebuilt addon ${prebuilt}; nothing to compile`);
    process.exit(0);
  }
}

function headerVersion(dir) {
  try {
    const h = readFileSync(join(dir, 'include', 'node', 'node_version.h'), 'utf8');
    const part = (name) => h.match(new RegExp(`#define NODE_${name}_VERSION (\\d+)`))?.[1];
    return `${part('MAJOR')}.${part('MINOR')}.${part('PATCH')}`;
  } catch {
    return undefined;
  }
}

const candidates = [
  process.env.npm_config_nodedir,
  dirname(dirname(process.execPath)),
  join(process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'node-gyp', version),
].filter((d) => typeof d === 'string' && d !== '');

const nodedir = candidates.find((d) => headerVersion(d) === version);
if (nodedir === undefined) {
  console.error(
    `honeyport: no local headers for Node ${version} (looked in ${candidates.join(', ')}).\n` +
      `Install them (Debian: apt-get install nodejs with headers, or libnode-dev) or set\n` +
      `  npm config set nodedir <dir containing include/node>\n` +
      `This build never downloads headers.`,
  );
  process.exit(1);
}

// npm gives lifecycle scripts the path of its bundled node-gyp; run directly
// (e.g. by packaging/build-package.mjs), look for npm's copy beside this node.
const gyp = [
  process.env.npm_config_node_gyp,
  join(dirname(dirname(process.execPath)), 'lib', 'node_modules', 'npm', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js'),
].find((p) => p !== undefined && p !== '' && existsSync(p));
const [cmd, args] =
  gyp !== undefined
    ? [process.execPath, [gyp]]
    : ['node-gyp', []];
const result = spawnSync(cmd, [...args, 'rebuild', `--nodedir=${nodedir}`, ...process.argv.slice(2)], {
  cwd: root,
  stdio: 'inherit',
});
if (result.error) {
  console.error(`honeyport: cannot run node-gyp: ${result.error.message}`);
  process.exit(1);
}
process.exit(result.status ?? 1);

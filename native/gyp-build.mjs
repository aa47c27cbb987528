#!/usr/bin/env node
// `npm install` hook: builds the addon with node-gyp against LOCAL Node
// headers and never downloads any. node-gyp only looks locally when told a
// nodedir, so find one: npm's nodedir setting, then the running node's own
// prefix (Debian/NodeSource put headers in /usr/include/node, nvm and the
// official tarballs in <prefix>/include/node), then node-gyp's cache.
// Extra arguments are passed to node-gyp (e.g. --debug).
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const version = process.versions.node;

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

// npm gives lifecycle scripts the path of its bundled node-gyp.
const gyp = process.env.npm_config_node_gyp;
const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const [cmd, args] =
  gyp !== undefined && existsSync(gyp)
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

#!/usr/bin/env node
// `npm run package`: the release artefacts, built offline from this checkout.
//
//   <out>/honeyport-<version>.tgz        npm tarball: compiled JS, the native
//       sources, the production dependencies (bundled) and, under
//       prebuilds/linux-<arch>/, the addon prebuilt here;
//       its install hook (native/gyp-build.mjs) compiles only when no prebuild
//       loads, so `npm install -g` of it needs no compiler on glibc/<arch>.
//   <out>/honeyport_<version>_<debarch>.deb   Debian package: the same JS and
//       prebuild under /usr/lib/honeyport with production node_modules only,
//       /usr/bin/honeyport, the systemd unit, conffiles in /etc (policy,
//       sensor config, logrotate) and maintainer scripts (packaging/debian/).
//
// Needs what a developer machine has after .ci/setup (node, npm, dpkg-deb;
// strip is used when present) and never the network: node_modules is copied
// from the checkout and pruned with `npm prune --omit=dev --offline`. The
// addon is rebuilt (node-gyp, local headers) only when build/Release is older
// than its sources. Usage: node packaging/build-package.mjs [--out DIR]
// (default build/package). Expects `npm run build` first (the package script
// does it).
import { spawnSync } from 'node:child_process';
import {
  chmodSync, copyFileSync, cpSync, existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, readlinkSync, rmSync, statSync, writeFileSync,
} from 'node:fs';
import { arch } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const here = join(root, 'packaging');

function fail(message) {
  console.error(`package: ${message}`);
  process.exit(1);
}

function run(cmd, args, options = {}) {
  const r = spawnSync(cmd, args, { stdio: ['ignore', 'pipe', 'inherit'], encoding: 'utf8', ...options });
  if (r.error) fail(`cannot run ${cmd}: ${r.error.message}`);
  if (r.status !== 0) fail(`${cmd} ${args.join(' ')} failed (exit ${r.status})`);
  return r.stdout;
}

function parseArgs(argv) {
  let out = join(root, 'build', 'package');
  for (let i = 0; i < argv.length; i += 1) {
    if (argv[i] === '--out' && argv[i + 1]) out = resolve(argv[(i += 1)]);
    else fail(`unknown argument ${argv[i]} (usage: build-package.mjs [--out DIR])`);
  }
  return { out };
}

function newestMtime(paths) {
  let newest = 0;
  for (const p of paths) {
    const s = statSync(p);
    if (s.isDirectory()) newest = Math.max(newest, newestMtime(readdirSync(p).map((n) => join(p, n))));
    else newest = Math.max(newest, s.mtimeMs);
  }
  return newest;
}

/** The release addon, rebuilt first when its sources are newer. */
function releaseAddon() {
  const addon = join(root, 'build', 'Release', 'honeyport_native.node');
  const sources = newestMtime([join(root, 'native', 'src'), join(root, 'binding.gyp')]);
  if (!existsSync(addon) || statSync(addon).mtimeMs < sources) {
    console.error('package: building the native addon (node-gyp, local headers)');
    run(process.execPath, [join(root, 'native', 'gyp-build.mjs')], {
      stdio: ['ignore', 'inherit', 'inherit'],
      env: { ...process.env, npm_config_build_from_source: 'true' },
    });
  }
  return addon;
}

/** Highest GLIBC_x.y symbol version the addon needs: its libc6 dependency. */
function glibcFloor(file) {
  const text = readFileSync(file).toString('latin1');
  let best = [2, 17];
  for (const m of text.matchAll(/GLIBC_(\d+)\.(\d+)/g)) {
    const v = [Number(m[1]), Number(m[2])];
    if (v[0] > best[0] || (v[0] === best[0] && v[1] > best[1])) best = v;
  }
  return best.join('.');
}

function debArch() {
  return run('dpkg', ['--print-architecture']).trim();
}

/** Normalises modes: directories and executables 0755, other files 0644. */
function normaliseModes(dir) {
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    const s = lstatSync(p);
    if (s.isSymbolicLink()) continue;
    if (s.isDirectory()) {
      chmodSync(p, 0o755);
      normaliseModes(p);
    } else {
      chmodSync(p, s.mode & 0o111 ? 0o755 : 0o644);
    }
  }
}

function removeEmptyDirs(dir) {
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (lstatSync(p).isDirectory()) removeEmptyDirs(p);
  }
  if (readdirSync(dir).length === 0) rmSync(dir, { recursive: true });
}

/** Every symlink must stay inside the package: a link into this checkout would dangle on a server. */
function assertNoLinksOut(dir, top = dir) {
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    const s = lstatSync(p);
    if (s.isSymbolicLink()) fail(`${relative(top, p)} is a symlink (${readlinkSync(p)}); the package must hold files`);
    if (s.isDirectory()) assertNoLinksOut(p, top);
  }
}

function copyInto(from, to) {
  mkdirSync(dirname(to), { recursive: true });
  cpSync(from, to, { recursive: true, dereference: false });
}

const { out } = parseArgs(process.argv.slice(2));
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
if (!existsSync(join(root, 'dist', 'bundle', 'honeyport.cjs'))) fail('dist/ is missing: run `npm run build` first');
const nodeFloor = /^>=\s*(\d+\.\d+(?:\.\d+)?)$/.exec(pkg.engines?.node ?? '')?.[1];
if (nodeFloor === undefined) fail(`package.json engines.node must be ">=X.Y", not ${JSON.stringify(pkg.engines?.node)}`);

// First: `node-gyp rebuild` empties build/, where the default output goes.
const addon = releaseAddon();
const stage = join(out, 'stage');
rmSync(stage, { recursive: true, force: true });
mkdirSync(stage, { recursive: true });

// The prebuild, named as prebuildify names Node-API builds, so node-gyp-build matches it.
const prebuildRel = join('prebuilds', `linux-${arch()}`, 'node.napi.glibc.node');

// --- npm tarball: exactly the files `npm pack` would take, plus the prebuild
// and, bundled, the production dependencies: so that installing it needs no
// registry either (npm installs bundled dependencies from the tarball).
const npmStage = join(stage, 'npm');
const listing = JSON.parse(run('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], { cwd: root }));
for (const { path } of listing[0].files) copyInto(join(root, path), join(npmStage, path));
copyInto(addon, join(npmStage, prebuildRel));
spawnSync('strip', ['--strip-unneeded', join(npmStage, prebuildRel)], { stdio: 'ignore' }); // optional
// Production node_modules, offline: the checkout's own, pruned of dev dependencies.
copyInto(join(root, 'package-lock.json'), join(npmStage, 'package-lock.json'));
copyInto(join(root, 'node_modules'), join(npmStage, 'node_modules'));
run('npm', ['prune', '--omit=dev', '--offline', '--ignore-scripts', '--no-audit', '--no-fund'], { cwd: npmStage, stdio: ['ignore', 'ignore', 'inherit'] });
// .bin holds links into the checkout, and pruning leaves empty scope folders.
rmSync(join(npmStage, 'node_modules', '.bin'), { recursive: true, force: true });
rmSync(join(npmStage, 'node_modules', '.package-lock.json'), { force: true });
rmSync(join(npmStage, 'package-lock.json'));
removeEmptyDirs(join(npmStage, 'node_modules'));
const staged = JSON.parse(readFileSync(join(npmStage, 'package.json'), 'utf8'));
writeFileSync(join(npmStage, 'package.json'), `${JSON.stringify({ ...staged, bundleDependencies: Object.keys(staged.dependencies) }, null, 2)}\n`);
normaliseModes(npmStage);
mkdirSync(out, { recursive: true });
const tarball = run('npm', ['pack', '--ignore-scripts', '--loglevel=warn', '--pack-destination', out], { cwd: npmStage }).trim().split('\n').pop();

// --- .deb: the same tree, without what only a compile would need.
const debRoot = join(stage, 'deb');
const lib = join(debRoot, 'usr', 'lib', 'honeyport');
copyInto(join(root, 'package.json'), join(lib, 'package.json'));
for (const part of ['dist', 'prebuilds', 'node_modules']) copyInto(join(npmStage, part), join(lib, part));
// Headers for compiling the addon; the .deb never compiles.
rmSync(join(lib, 'node_modules', 'node-addon-api'), { recursive: true, force: true });
mkdirSync(join(debRoot, 'usr', 'bin'), { recursive: true });
writeFileSync(
  join(debRoot, 'usr', 'bin', 'honeyport'),
  '#!/bin/sh\n# honeyport command (Debian package): the Node program in /usr/lib/honeyport.\nexec /usr/bin/node /usr/lib/honeyport/dist/bundle/honeyport.cjs "$@"\n',
  { mode: 0o755 },
);
copyInto(join(here, 'honeyport.service'), join(debRoot, 'lib', 'systemd', 'system', 'honeyport.service'));
const policy = run(process.execPath, [join(root, 'dist', 'src', 'cli', 'main.js'), 'policy', 'recommend', '--os', 'linux']);
mkdirSync(join(debRoot, 'etc', 'honeyport'), { recursive: true });
writeFileSync(join(debRoot, 'etc', 'honeyport', 'policy.yaml'), policy);
copyInto(join(here, 'sensor.yaml'), join(debRoot, 'etc', 'honeyport', 'sensor.yaml'));
copyInto(join(here, 'logrotate'), join(debRoot, 'etc', 'logrotate.d', 'honeyport'));
copyInto(join(root, 'README.md'), join(debRoot, 'usr', 'share', 'doc', 'honeyport', 'README.md'));
assertNoLinksOut(debRoot);
normaliseModes(debRoot);

const control = join(debRoot, 'DEBIAN');
mkdirSync(control, { recursive: true });
for (const script of ['postinst', 'prerm', 'postrm']) {
  copyFileSync(join(here, 'debian', script), join(control, script));
  chmodSync(join(control, script), 0o755);
}
writeFileSync(join(control, 'conffiles'), ['/etc/honeyport/policy.yaml', '/etc/honeyport/sensor.yaml', '/etc/logrotate.d/honeyport', ''].join('\n'));
const installedKiB = Number(run('du', ['-sk', '--exclude=DEBIAN', debRoot]).split('\t')[0]);
const debArchName = debArch();
writeFileSync(
  join(control, 'control'),
  [
    'Package: honeyport',
    `Version: ${pkg.version}`,
    'Section: net',
    'Priority: optional',
    `Architecture: ${debArchName}`,
    // Debian's own nodejs is older than 20.17 before trixie: NodeSource's nodejs package fits too.
    `Depends: nodejs (>= ${nodeFloor}), libc6 (>= ${glibcFloor(addon)}), passwd`,
    'Recommends: logrotate',
    // p0f's database (/etc/p0f/p0f.fp) gives alarms OS fingerprints; without it only honeyport's own scanner signatures.
    'Suggests: p0f',
    `Installed-Size: ${installedKiB}`,
    'Maintainer: honeyport maintainers <honeyport@localhost>',
    `Description: ${pkg.description}`,
    ' Holds unused ports open as decoys and raises an ECS JSON alarm for every',
    ' probe (full connection or bare SYN of a half-open scan). The service is',
    ' installed but neither enabled nor started: systemctl enable --now honeyport.',
    '',
  ].join('\n'),
);
const deb = join(out, `honeyport_${pkg.version}_${debArchName}.deb`);
run('dpkg-deb', ['--root-owner-group', '--build', debRoot, deb], { stdio: ['ignore', 'ignore', 'inherit'] });
rmSync(stage, { recursive: true, force: true });

console.log(join(out, tarball));
console.log(deb);

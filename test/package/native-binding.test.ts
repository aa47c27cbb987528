/**
 * The addon is found the way node-gyp-build finds it: a local build first,
 * then a prebuild matching this platform, arch, libc and Node-API; the
 * HONEYPORT_NATIVE overrides still win. Each case builds a throw-away package
 * root holding a copy of the real addon, so what is loaded is a real addon.
 */
import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { arch, tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadNative } from '../../src/capture/native-binding.js';

describe('native addon loading through node-gyp-build', function () {
  let built = '';
  let root = '';

  before(function () {
    const here = loadNative({});
    if (!here.ok) {
      console.log(`      (skipped: ${here.reason})`);
      this.skip();
    }
    built = here.path;
  });

  beforeEach(() => {
    root = mkdtempSync(join(tmpdir(), 'hp-binding-'));
    writeFileSync(join(root, 'package.json'), '{"name":"honeyport","type":"module"}\n');
  });
  afterEach(() => rmSync(root, { recursive: true, force: true }));

  function put(relative: string): string {
    const path = join(root, relative);
    mkdirSync(join(path, '..'), { recursive: true });
    copyFileSync(built, path);
    return path;
  }

  it('loads the prebuild for linux-<arch> tagged node.napi.glibc when there is no local build', () => {
    const prebuild = put(`prebuilds/linux-${arch()}/node.napi.glibc.node`);
    const r = loadNative({}, root);
    assert.ok(r.ok, r.ok ? '' : r.reason);
    assert.equal(r.path, prebuild);
    assert.equal(typeof r.addon.open, 'function');
  });

  it('prefers a local build/Release over the prebuild', () => {
    put(`prebuilds/linux-${arch()}/node.napi.glibc.node`);
    const local = put('build/Release/honeyport_native.node');
    const r = loadNative({}, root);
    assert.ok(r.ok);
    assert.equal(r.path, local);
  });

  it('ignores prebuilds for another libc or arch, and says what it looked for', () => {
    put(`prebuilds/linux-${arch()}/node.napi.musl.node`);
    put(`prebuilds/linux-${arch() === 'arm64' ? 'x64' : 'arm64'}/node.napi.glibc.node`);
    const r = loadNative({}, root);
    assert.equal(r.ok, false);
    assert.match(r.ok ? '' : r.reason, new RegExp(`no prebuild in .*prebuilds for platform=linux arch=${arch()} .*libc=glibc`));
    assert.match(r.ok ? '' : r.reason, /npm install/);
  });

  it('HONEYPORT_NATIVE=<path> loads that file even when a prebuild exists', () => {
    put(`prebuilds/linux-${arch()}/node.napi.glibc.node`);
    const explicit = put('elsewhere/custom.node');
    const r = loadNative({ HONEYPORT_NATIVE: explicit }, root);
    assert.ok(r.ok);
    assert.equal(r.path, explicit);
  });

  it('HONEYPORT_NATIVE=asan names the sanitizer build and how to make it when it is missing', () => {
    put(`prebuilds/linux-${arch()}/node.napi.glibc.node`);
    const r = loadNative({ HONEYPORT_NATIVE: 'asan' }, root);
    assert.equal(r.ok, false);
    assert.match(r.ok ? '' : r.reason, /honeyport_native_asan\.node is missing; run `npm run build:native:asan`/);
  });
});

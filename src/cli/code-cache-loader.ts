#!/usr/bin/env node
/**
 * The command as installed (dist/bundle/honeyport.cjs, made from this file by
 * packaging/bundle.mjs): runs the one-script bundle beside it
 * (program.cjs) with V8's code cache (program.cjs.cache), so a short
 * replay does not spend its start-up compiling. Itself a CommonJS script
 * too: an ES module entry would start Node's ES module loader (~5 ms). Without a cache, or with one
 * V8 rejects (another Node), the script is compiled as usual.
 *
 * V8 takes a cache on trust: it checks its own version and flags and the
 * source's length, not a checksum (damaged bytes crashed V8 with "unreachable
 * code" in the test), and not the source's content. So the cache file starts
 * with a SHA-256 of the script and the cache data (~1 ms for both), and a
 * cache whose digest does not match is not handed to V8 at all.
 *
 * HONEYPORT_WRITE_CODE_CACHE=1 (the build only) writes the cache at exit,
 * from what the run compiled. A run never writes it otherwise: the package
 * directory is not the user's to write.
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire, Module } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Script } from 'node:vm';

const here = dirname(fileURLToPath(import.meta.url));
const file = join(here, 'program.cjs');
const cacheFile = `${file}.cache`;
const DIGEST = 32;

function digest(script: Buffer, data: Uint8Array): Buffer {
  return createHash('sha256').update(script).update(data).digest();
}

/** The V8 data of a cache file made for exactly this script, else why not. */
function cacheFor(script: Buffer): { data: Buffer } | { why: 'absent' | 'mismatched' } {
  if (!existsSync(cacheFile)) return { why: 'absent' };
  const stored = readFileSync(cacheFile);
  const data = stored.subarray(DIGEST);
  return stored.length > DIGEST && digest(script, data).equals(stored.subarray(0, DIGEST)) ? { data } : { why: 'mismatched' };
}

const writeCache = process.env.HONEYPORT_WRITE_CODE_CACHE === '1';
const bytes = readFileSync(file);
const cache = writeCache ? { why: 'absent' as const } : cacheFor(bytes);
// esbuild keeps the bundle's #! line, which is no JavaScript inside a function wrapper.
const source = bytes.toString('utf8').replace(/^#!.*/, '');
const script = new Script(Module.wrap(source), { filename: file, ...('data' in cache ? { cachedData: cache.data } : {}) });
if (process.env.HONEYPORT_DEBUG_CODE_CACHE === '1') {
  process.stderr.write(`honeyport: code cache ${'data' in cache ? (script.cachedDataRejected ? 'rejected' : 'used') : cache.why}\n`);
}
if (writeCache) {
  process.once('exit', () => {
    const data = script.createCachedData();
    writeFileSync(cacheFile, Buffer.concat([digest(bytes, data), data]));
  });
}
const wrapper = script.runInThisContext() as (exports: object, require: NodeJS.Require, module: object, filename: string, dirname: string) => void;
const module = new Module(file);
module.filename = file;
wrapper.call(module.exports, module.exports, createRequire(file), module, file, here);

/** The open-files limit check: parsing /proc/PID/limits and the verdict. */
import assert from 'node:assert/strict';
import { openFilesNeeded, openFilesProblem, parseOpenFilesLimit } from '../../src/sensor/open-files.js';

const limits = (soft: string): string =>
  `Limit                     Soft Limit           Hard Limit           Units     \nMax processes             96365                96365                processes \nMax open files            ${soft.padEnd(20)} 4096                 files     \n`;

describe('open-files limit', () => {
  it('reads the soft limit, "unlimited" as Infinity, and nothing from text without the line', () => {
    assert.equal(parseOpenFilesLimit(limits('64')), 64);
    assert.equal(parseOpenFilesLimit(limits('unlimited')), Infinity);
    assert.equal(parseOpenFilesLimit('Max processes 5 5 processes\n'), undefined);
  });

  it('needs room for every connection the port holder may hold, and one packet socket per interface', () => {
    assert.ok(openFilesNeeded(1) > 256);
    assert.equal(openFilesNeeded(3) - openFilesNeeded(1), 2);
  });

  it('names the limit and the need when the limit is lower, and says nothing otherwise', () => {
    const need = openFilesNeeded(1);
    assert.equal(openFilesProblem(need, limits(String(need - 1))), `the open-files limit is ${need - 1}; the sensor needs at least ${need} (raise \`ulimit -n\` or LimitNOFILE)`);
    assert.equal(openFilesProblem(need, limits(String(need))), undefined);
    assert.equal(openFilesProblem(need, limits('unlimited')), undefined);
  });
});

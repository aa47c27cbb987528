/**
 * Hostile captures for the reader: the structures that used to exhaust
 * memory (millions of interface descriptions) or crash formatting
 * (timestamps beyond what a Date or RFC 3339 can hold) are damage at their
 * byte offset, with every packet before them still delivered.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CaptureDamagedError, readCapture } from '../../src/source/capture-file.js';
import { MAX_INTERFACES_PER_SECTION } from '../../src/source/pcapng.js';
import { MAX_ALARM_MICROS, MIN_ALARM_MICROS } from '../../src/alarm/timestamp.js';
import { ticksFor, writePcapng, type PcapngBlock } from '../helpers/capture-writer.js';
import { drain, type Drained } from './collect.js';

const T0 = 1_700_000_000_123_456;
const data = Buffer.alloc(40, 0x45);

let dir = '';
let n = 0;
async function read(bytes: Buffer): Promise<Drained> {
  const p = join(dir, `h${n++}.pcapng`);
  writeFileSync(p, bytes);
  return drain(readCapture(p));
}

/** Offset of block `index` (0 = the SHB) in a one-section little-endian file. */
function blockOffset(bytes: Buffer, index: number): number {
  let pos = 0;
  for (let i = 0; i < index; i++) pos += bytes.readUInt32LE(pos + 4);
  return pos;
}

function assertDamage(d: Drained, offset: number, reason: RegExp): void {
  assert.ok(d.error instanceof CaptureDamagedError, `expected damage, got ${String(d.error)}`);
  assert.equal(d.error.offset, offset, d.error.message);
  assert.match(d.error.reason, reason);
}

describe('hostile captures', function () {
  this.timeout(30_000);
  before(() => { dir = mkdtempSync(join(tmpdir(), 'hp-hostile-cap-')); });
  after(() => rmSync(dir, { recursive: true, force: true }));

  describe('timestamps outside the range an alarm can carry', () => {
    const cases: Array<[string, PcapngBlock, bigint]> = [
      ['if_tsresol 0 (seconds) with a large high word', { type: 'idb', linktype: 1, tsresol: 0 }, 0xffff_ffffn << 32n],
      ['microseconds past the year 2255', { type: 'idb', linktype: 1 }, BigInt(MAX_ALARM_MICROS) + 1n],
      ['if_tsoffset of 2^62 seconds', { type: 'idb', linktype: 1, tsoffset: 1n << 62n }, 0n],
      ['a negative if_tsoffset before the year 1685', { type: 'idb', linktype: 1, tsoffset: -(1n << 40n) }, 0n],
    ];
    for (const [what, bad, ticks] of cases) {
      it(`is damage at the packet, after the packets before it: ${what}`, async () => {
        const bytes = writePcapng([{ blocks: [
          { type: 'idb', linktype: 1 },
          bad,
          { type: 'epb', iface: 0, ticks: BigInt(T0), data },
          { type: 'epb', iface: 1, ticks, data },
          { type: 'epb', iface: 0, ticks: BigInt(T0 + 1), data },
        ] }]);
        const d = await read(bytes);
        assert.deepEqual(d.frames.map((f) => f.tsMicros), [T0]);
        assertDamage(d, blockOffset(bytes, 4), /timestamp .* outside/);
      });
    }

    it('keeps the edges of the range, exactly', async () => {
      const bytes = writePcapng([{ blocks: [
        { type: 'idb', linktype: 1 },
        { type: 'epb', iface: 0, ticks: BigInt(MAX_ALARM_MICROS), data },
        { type: 'idb', linktype: 1, tsresol: 9, tsoffset: -(BigInt(-MIN_ALARM_MICROS) / 1_000_000n) },
        { type: 'epb', iface: 1, ticks: 0n, data },
        { type: 'idb', linktype: 1, tsresol: 0x80 | 20 },
        { type: 'epb', iface: 2, ticks: ticksFor(T0, 0x80 | 20), data },
      ] }]);
      const d = await read(bytes);
      assert.equal(d.error, undefined, String(d.error));
      assert.equal(d.frames[0]!.tsMicros, MAX_ALARM_MICROS);
      assert.ok(d.frames[1]!.tsMicros >= MIN_ALARM_MICROS);
    });
  });

  describe('interface descriptions', () => {
    it(`are capped at ${'MAX_INTERFACES_PER_SECTION'} per section: one more is damage at its offset`, async () => {
      const idbs: PcapngBlock[] = Array.from({ length: MAX_INTERFACES_PER_SECTION + 1 }, () => ({ type: 'idb', linktype: 1 }));
      const bytes = writePcapng([{ blocks: [{ type: 'idb', linktype: 1 }, { type: 'epb', iface: 0, ticks: BigInt(T0), data }, ...idbs.slice(1)] }]);
      const d = await read(bytes);
      assert.equal(d.frames.length, 1);
      assertDamage(d, blockOffset(bytes, MAX_INTERFACES_PER_SECTION + 2), /more than \d+ interfaces/);
    });

    it('start again from zero in every section', async () => {
      const idbs: PcapngBlock[] = Array.from({ length: MAX_INTERFACES_PER_SECTION }, () => ({ type: 'idb', linktype: 1 }));
      const bytes = writePcapng([{ blocks: idbs }, { blocks: [...idbs, { type: 'epb', iface: MAX_INTERFACES_PER_SECTION - 1, ticks: BigInt(T0), data }] }]);
      const d = await read(bytes);
      assert.equal(d.error, undefined, String(d.error));
      assert.equal(d.frames.length, 1);
    });
  });
});

import assert from 'node:assert/strict';
import { ProbeKind } from '../../src/alarm/alarm.js';
import { FLAG_RULE, flagRuleKind } from '../../src/detect/flag-rule.js';
import { probeKindOf } from '../../src/detect/probe-classifier.js';

/**
 * The rule as the issue words it, spelt out by names rather than masks, for
 * every one of the 256 flag bytes: the table and the classifier must agree.
 */
function byWords(flags: number): number {
  const has = (bit: number): boolean => (flags & bit) !== 0;
  const [fin, syn, rst, psh, ack, urg] = [1, 2, 4, 8, 16, 32].map(has) as [boolean, boolean, boolean, boolean, boolean, boolean];
  if (syn && !ack) return ProbeKind.syn;
  if (syn && rst) return ProbeKind.odd; // SYN+ACK+RST: no stack sends it
  if (rst) return 0;
  if (ack) return ProbeKind.ack; // SYN+ACK included
  if (!syn && fin && !psh && !urg) return ProbeKind.fin;
  if (!syn && !fin && !psh && !urg) return ProbeKind.null;
  if (!syn && fin && psh && urg) return ProbeKind.xmas;
  return ProbeKind.odd;
}

describe('flag rule', () => {
  it('the table, the classifier and the rule in words agree on all 256 flag bytes', () => {
    for (let flags = 0; flags < 256; flags++) {
      assert.equal(flagRuleKind(flags), byWords(flags), `flags 0x${flags.toString(16)}`);
      assert.equal(probeKindOf(flags), byWords(flags), `flags 0x${flags.toString(16)}`);
    }
  });

  it('names the kind of each scan nmap offers', () => {
    const F = { FIN: 1, SYN: 2, RST: 4, PSH: 8, ACK: 16, URG: 32 };
    const scans: Record<string, [number, keyof typeof ProbeKind | null]> = {
      '-sS': [F.SYN, 'syn'],
      '-sA / -sW': [F.ACK, 'ack'],
      '-sM': [F.FIN | F.ACK, 'ack'],
      '-sF': [F.FIN, 'fin'],
      '-sN': [0, 'null'],
      '-sX': [F.FIN | F.PSH | F.URG, 'xmas'],
      '--scanflags URG': [F.URG, 'odd'],
      '--scanflags PSH': [F.PSH, 'odd'],
      '--scanflags FINURG': [F.FIN | F.URG, 'odd'],
      '--scanflags FINPSH': [F.FIN | F.PSH, 'odd'],
      '--scanflags ALL': [0x3f, 'odd'],
      '--scanflags SYNACK': [F.SYN | F.ACK, 'ack'],
      '--scanflags FINACK': [F.FIN | F.ACK, 'ack'],
      'RST (backscatter)': [F.RST, null],
      'RST+ACK (teardown)': [F.RST | F.ACK, null],
    };
    for (const [scan, [flags, kind]] of Object.entries(scans)) {
      assert.equal(probeKindOf(flags), kind === null ? 0 : ProbeKind[kind], scan);
      assert.equal(probeKindOf(flags | 0xc0), kind === null ? 0 : ProbeKind[kind], `${scan} with ECE+CWR`);
    }
  });

  it('ends with a row that matches everything, so every byte has a kind or a "no"', () => {
    const last = FLAG_RULE[FLAG_RULE.length - 1]!;
    assert.deepEqual([last.mask, last.value], [0, 0]);
    for (const row of FLAG_RULE) assert.equal(row.value & ~row.mask, 0, 'a value outside its mask never matches');
  });
});

/**
 * Large whitelists: a policy of 1,000,000 entries (IPv4 addresses, IPv4
 * CIDRs, IPv6 addresses and CIDRs, some ranges) loaded by `policy check` and
 * by a replay of a small capture. Targets: <= 2 s and <= 200 MB each.
 */
import { writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { measure } from './measure.js';

const ENTRIES = Number(process.env.BENCH_WHITELIST ?? 1_000_000);
const here = fileURLToPath(new URL('.', import.meta.url));
const cli = join(here, '../../src/cli/main.js');
const capture = join(here, '../../../fixtures/live/nmap-sS.pcap');

function policyText(n: number): string {
  let seed = 99;
  const rnd = (m: number): number => { seed = (Math.imul(seed, 1103515245) + 12345) >>> 0; return (seed >>> 8) % m; };
  const lines = ['name: bench-whitelist', 'os: linux', 'ports: recommended', 'whitelist:'];
  for (let i = 0; i < n; i++) {
    const k = rnd(10);
    if (k < 5) lines.push(`  - 10.${rnd(256)}.${rnd(256)}.${rnd(256)}`);
    else if (k < 7) lines.push(`  - 172.${16 + rnd(16)}.${rnd(256)}.0/24`);
    else if (k < 8) { const a = rnd(256); lines.push(`  - 192.168.${a}.1-192.168.${a}.254`); }
    else if (k < 9) lines.push(`  - "fd00:${rnd(65536).toString(16)}:${rnd(65536).toString(16)}::${rnd(65536).toString(16)}"`);
    else lines.push(`  - "2001:db8:${rnd(65536).toString(16)}::/48"`);
  }
  return `${lines.join('\n')}\n`;
}

export function whitelistBenchTable(): string {
  const file = join(tmpdir(), `honeyport-bench-whitelist-${ENTRIES}.yaml`);
  writeFileSync(file, policyText(ENTRIES));
  const check = measure(process.execPath, [cli, 'policy', 'check', file]);
  const replay = measure(process.execPath, [cli, 'replay', '--quiet', '-p', file, capture]);
  for (const m of [check, replay]) if (m.exitCode !== 0) throw new Error(`whitelist bench: honeyport exited ${m.exitCode}`);
  const verdict = (wall: number, mib: number): string => (wall <= 2 && mib <= 200 / 1.048576 ? 'met' : 'NOT met');
  const r = (name: string, m: { wallSeconds: number; peakRssMiB: number }): string =>
    `| ${name.padEnd(36)} | ${m.wallSeconds.toFixed(2).padStart(6)} | ${m.peakRssMiB.toFixed(0).padStart(8)} | ${verdict(m.wallSeconds, m.peakRssMiB)}\n`;
  return `| ${ENTRIES.toLocaleString('en-US')} whitelist entries`.padEnd(39) + ' | wall s | peak MiB | target <= 2 s, 200 MB\n' +
    '|--------------------------------------|--------|----------|------\n' +
    r('honeyport policy check', check) + r('honeyport replay -p (start-up incl.)', replay);
}

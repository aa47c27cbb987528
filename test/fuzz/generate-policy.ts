/**
 * Policy and sensor-config texts for fuzzing: documents assembled from the
 * real keys with values from valid to hostile (bad ports, whitelist entries
 * of every form, IPv4-mapped ones, control characters, very long strings),
 * in block and flow styles, with anchors, aliases (up to alias bombs), deep
 * nesting, duplicate keys, tabs and comments; then byte-level mutations.
 */
import { Rng, mutateBytes } from './rng.js';

const HOSTILE_TEXT = ['\n', '\u001b[31m', '\r', '\u0000', '\u202e', '\t', '"', "'", '\\', '#', ': ', '- ', '&a ', '*a', '!!binary ', '? ', '[', '{', '%'];

function v4(rng: Rng): string { return `${rng.int(260)}.${rng.int(256)}.${rng.int(256)}.${rng.int(256)}`; }
function v6(rng: Rng): string { return rng.pick([`fd00:${rng.int(65536).toString(16)}::${rng.int(65536).toString(16)}`, `::ffff:${v4(rng)}`, '::', '::1', `2001:db8::${rng.int(9999)}`, `::${v4(rng)}`]); }

function entry(rng: Rng): string {
  switch (rng.int(9)) {
    case 0: return v4(rng);
    case 1: return `${v4(rng)}/${rng.int(40)}`;
    case 2: return `${v4(rng)}-${v4(rng)}`;
    case 3: return v6(rng);
    case 4: return `${v6(rng)}/${rng.int(140)}`;
    case 5: return `${v6(rng)}-${v6(rng)}`;
    case 6: return rng.pick(HOSTILE_TEXT) + v4(rng);
    case 7: return 'x'.repeat(rng.int(3000));
    default: return String(rng.u32());
  }
}

function scalar(rng: Rng, text: string): string {
  switch (rng.int(4)) {
    case 0: return JSON.stringify(text);
    case 1: return `'${text.replace(/'/g, "''")}'`;
    default: return text;
  }
}

function list(rng: Rng, items: string[]): string {
  if (items.length === 0) return rng.pick(['[]', '', '~']);
  if (rng.chance(0.5)) return `[${items.join(rng.pick([', ', ',', ',\n  ']))}]`;
  const indent = ' '.repeat(rng.int(4));
  return `\n${items.map((i) => `${indent}- ${i}${rng.chance(0.1) ? ' # note' : ''}`).join('\n')}`;
}

function aliasBomb(rng: Rng): string {
  const levels = 2 + rng.int(9);
  const width = 2 + rng.int(9);
  const lines = ['a0: &a0 [lol]'];
  for (let i = 1; i < levels; i++) lines.push(`a${i}: &a${i} [${Array.from({ length: width }, () => `*a${i - 1}`).join(', ')}]`);
  return `${lines.join('\n')}\n`;
}

function nesting(rng: Rng): string {
  const depth = rng.int(200);
  return rng.pick([`x: ${'['.repeat(depth)}${']'.repeat(rng.int(depth + 1))}\n`, `${'? '.repeat(depth)}x\n`, `x:\n  ${'- '.repeat(depth)}x\n`, `x: ${'{a: '.repeat(depth)}1${'}'.repeat(depth)}\n`]);
}

export function generatePolicy(rng: Rng): Buffer {
  const lines: string[] = [];
  if (rng.chance(0.7)) lines.push(`name: ${scalar(rng, rng.chance(0.8) ? `p-${rng.int(99)}` : rng.pick(HOSTILE_TEXT) + 'n')}`);
  if (rng.chance(0.95)) lines.push(`os: ${rng.pick(['linux', 'windows', 'solaris', '""', '[linux]'])}`);
  if (rng.chance(0.95)) {
    if (rng.chance(0.4)) lines.push('ports: recommended');
    else {
      const ports = Array.from({ length: rng.int(13) }, () => `{port: ${rng.pick([445, 22, 0, 65536, -1, 1.5, rng.int(70000)])}, protocol: ${rng.pick(['tcp', 'tcp6', 'udp'])}${rng.chance(0.05) ? ', mode: x' : ''}}`);
      lines.push(`ports: ${list(rng, ports)}`);
    }
  }
  if (rng.chance(0.8)) {
    const n = rng.chance(0.05) ? rng.int(20_000) : rng.int(30);
    lines.push(`whitelist: ${list(rng, Array.from({ length: n }, () => scalar(rng, entry(rng))))}`);
  }
  if (rng.chance(0.1)) lines.push(`${rng.pick(['colour', 'os', 'whitelist', '"k\\u001b"'])}: 1`);
  if (rng.chance(0.05)) lines.unshift(aliasBomb(rng));
  if (rng.chance(0.05)) lines.push(nesting(rng));
  if (rng.chance(0.03)) lines.push('\tports: recommended');
  for (let i = lines.length - 1; i > 0; i--) { const j = rng.int(i + 1); if (rng.chance(0.2)) [lines[i], lines[j]] = [lines[j]!, lines[i]!]; }
  let text: Buffer = Buffer.from(`${lines.join('\n')}\n`);
  if (rng.chance(0.3)) text = mutateBytes(rng, text);
  return text;
}

export function generateConfig(rng: Rng): Buffer {
  const sink = (): string => rng.pick([
    '{type: stdout}',
    `{type: file, path: /tmp/x${rng.int(9)}, rotate: {max_bytes: ${rng.pick(['100MiB', '-1', '1e99', 'x'])}, keep: ${rng.int(20)}}}`,
    `{type: syslog, transport: ${rng.pick(['udp', 'tcp', 'tls', 'sctp'])}, host: ${rng.pick(['127.0.0.1', '""', '::1'])}, port: ${rng.pick([514, 0, 70000])}}`,
    `{type: http, url: ${rng.pick(['"https://127.0.0.1:9/x"', 'ftp://x', '""'])}, preset: ${rng.pick(['webhook', 'splunk-hec', 'x'])}}`,
    `{type: ${rng.pick(['kafka', '1', '[]'])}}`,
  ]);
  const lines = [`sinks: ${list(rng, Array.from({ length: rng.int(5) }, sink))}`];
  if (rng.chance(0.5)) lines.push(`spool: {dir: ${rng.pick(['/tmp/s', '""'])}, max_bytes: ${rng.pick(['256MiB', '0', 'lots'])}}`);
  if (rng.chance(0.05)) lines.unshift(aliasBomb(rng));
  if (rng.chance(0.05)) lines.push(nesting(rng));
  let text: Buffer = Buffer.from(`${lines.join('\n')}\n`);
  if (rng.chance(0.3)) text = mutateBytes(rng, text);
  return text;
}

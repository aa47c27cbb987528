/**
 * Every field name the README shows is one honeyport really writes: dotted
 * names in backticks anywhere (`honeyport.flood_reason`, `event.type: allowed`
 * with its value), snake_case names in the Alarms section (`flow_id`), and
 * every member of the Alarms section's JSON example — checked against the
 * replay output of every fixture (ECS and EVE, with and without floods) and
 * the golden documents (live alarms, loss notices).
 */
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { fitJson } from '../../src/deliver/sinks/syslog/fit-message.js';
import { loadPolicyFile } from '../../src/policy/load.js';
import { ROOT, fixtureCaptures, fixturePolicy, replayDocs } from '../helpers/replay-docs.js';

interface Seen {
  /** Dotted paths of every member, objects included. */
  readonly paths: Map<string, Set<string>>;
  /** Every member name at any depth, and every scalar value. */
  readonly keys: Set<string>;
  readonly values: Set<string>;
  readonly roots: Set<string>;
}

function record(seen: Seen, v: unknown, path: string): void {
  if (v !== null && typeof v === 'object' && !Array.isArray(v)) {
    for (const [k, child] of Object.entries(v)) {
      seen.keys.add(k);
      if (!path) seen.roots.add(k);
      record(seen, child, path ? `${path}.${k}` : k);
    }
  }
  if (!path) return;
  const values = seen.paths.get(path) ?? new Set<string>();
  for (const x of Array.isArray(v) ? v : [v]) {
    if (typeof x === 'object' && x !== null) continue;
    values.add(String(x));
    seen.values.add(String(x));
  }
  seen.paths.set(path, values);
}

function section(readme: string, title: string): string {
  const start = readme.indexOf(`\n## ${title}\n`);
  assert.ok(start >= 0, `README has no "## ${title}" section`);
  const end = readme.indexOf('\n## ', start + 1);
  return readme.slice(start, end < 0 ? undefined : end);
}

const FENCE = /```([a-z]*)\n([\s\S]*?)```/g;
const DOTTED = /^([a-z@][a-z0-9_@]*(?:\.[a-z0-9_]+)+)(?::\s*(\S.*))?$/i;
const SNAKE = /^[a-z]+(?:_[a-z0-9]+)+$/;

/** What the README names that real output does not have (empty when true). */
function readmeProblems(readme: string, seen: Seen): string[] {
  const problems: string[] = [];
  const spans = (text: string): string[] => [...text.replace(FENCE, '').matchAll(/`([^`\n]+)`/g)].map((m) => m[1]!);
  for (const span of spans(readme)) {
    const m = DOTTED.exec(span);
    if (!m || !seen.roots.has(m[1]!.split('.')[0]!)) continue; // not a field name (a file, a package)
    const values = seen.paths.get(m[1]!);
    if (!values) problems.push(`\`${span}\`: no output has ${m[1]}`);
    else if (m[2] !== undefined && !values.has(m[2])) problems.push(`\`${span}\`: ${m[1]} is never ${m[2]}`);
  }
  const alarms = section(readme, 'Alarms');
  for (const span of spans(alarms)) if (SNAKE.test(span) && !seen.keys.has(span) && !seen.values.has(span)) problems.push(`\`${span}\`: no output has a member or value of that name`);
  for (const [, lang, block] of alarms.matchAll(FENCE)) {
    if (lang !== 'json') continue;
    let example: unknown;
    try {
      example = JSON.parse(block!);
    } catch {
      problems.push('JSON example: not valid JSON (elided members hide fields from this check)');
      continue;
    }
    const exampleSeen: Seen = { paths: new Map(), keys: new Set(), values: new Set(), roots: new Set() };
    record(exampleSeen, example, '');
    for (const path of exampleSeen.paths.keys()) if (!seen.paths.has(path)) problems.push(`JSON example: no output has ${path}`);
  }
  return problems;
}

describe('README field names', function () {
  this.timeout(60_000);
  const seen: Seen = { paths: new Map(), keys: new Set(), values: new Set(), roots: new Set() };

  before(async () => {
    const policy = await fixturePolicy();
    for (const file of fixtureCaptures()) {
      for (const limits of [{}, { maxTrackedKeys: 1 }]) {
        for (const d of await replayDocs([file], policy, limits)) {
          record(seen, d.ecs, '');
          record(seen, d.eve, '');
        }
      }
    }
    const golden = join(ROOT, 'test/golden');
    for (const f of readdirSync(golden)) record(seen, JSON.parse(readFileSync(join(golden, f), 'utf8')), '');
    // A UDP syslog sink shortens what does not fit its datagram (honeyport.shortened).
    const big = readFileSync(join(golden, 'live-connection.ecs.json'), 'utf8');
    const shortened = fitJson(JSON.stringify(JSON.parse(big)), 0, 1000);
    if (shortened) record(seen, JSON.parse(shortened), '');
  });

  it('every field the README names appears in real output', () => {
    assert.deepEqual(readmeProblems(readFileSync(join(ROOT, 'README.md'), 'utf8'), seen), []);
  });

  it('the Alarms section\'s example is the real first alarm of its replay (observer aside)', async () => {
    const alarms = section(readFileSync(join(ROOT, 'README.md'), 'utf8'), 'Alarms');
    const m = /`replay --policy (\S+) (\S+)`/.exec(alarms);
    assert.ok(m, 'the example names the replay it comes from');
    const [first] = await replayDocs([join(ROOT, m[2]!)], await loadPolicyFile(join(ROOT, m[1]!)));
    const example = JSON.parse([...alarms.matchAll(FENCE)].find(([, lang]) => lang === 'json')![2]!) as Record<string, unknown>;
    const observer = { hostname: 'h', version: 'v' };
    const norm = (doc: Record<string, unknown>): unknown => ({ ...doc, observer: { ...(doc.observer as object), ...observer } });
    assert.deepEqual(norm(example), norm(first!.ecs));
  });

  it('the check catches a wrong name, a wrong value and a wrong example member', () => {
    const fake = [
      '## Alarms',
      'The flood reason is in `honeyport.reason`; probes are `event.type: denied`; EVE has `flow_ident`.',
      '```json',
      '{"event":{"kind":"alert","counted":1}}',
      '```',
      '## Next',
      'Not a field: `ipaddr.js`, `token_env`.',
    ].join('\n');
    assert.deepEqual(readmeProblems(`\n${fake}\n`, seen), [
      '`honeyport.reason`: no output has honeyport.reason',
      '`event.type: denied`: event.type is never denied',
      '`flow_ident`: no output has a member or value of that name',
      'JSON example: no output has event.counted',
    ]);
  });
});

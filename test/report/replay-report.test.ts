/**
 * `replay --summary` and `replay --report FILE.html`, checked against the
 * run's own alarms: per source, the table's probes are the sum of its
 * alarms' event.count, its ports and times are theirs, whitelisted sources
 * add up to the run's whitelisted counter. The HTML page is rendered by
 * headless Chromium (skipped with a reason when absent): no console error
 * (and a page with a broken script shows that this check can fail), the
 * rendered table and counters hold the run's numbers, sorting works, nothing
 * can be fetched, and hostile values (file names, signature labels, a
 * policy name, a source) stay text.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { htmlReport } from '../../src/report/html-report.js';
import { RunCollector } from '../../src/report/run-collector.js';
import { CLI, FIXTURE_POLICY, ROOT } from '../helpers/replay-docs.js';

const CHROMIUM = '/usr/bin/chromium';
const FILES = ['fixtures/live/mixed-with-whitelist.pcapng', 'fixtures/live/nmap-sF-sN-sX.pcap', 'fixtures/scanners/masscan-4.pcap', 'fixtures/live/nmap-6-sS.pcapng'].map((f) => join(ROOT, f));

interface Doc {
  source: { ip: string };
  destination: { port: number };
  event: { count: number; action: string; start: string; end: string };
  honeyport: { protocol: string; fingerprint?: { name: string; match: string } };
}

interface Rendered {
  dom: string;
  consoleLines: string[];
}

/** Renders `file` (optionally with a #fragment) in headless Chromium: the DOM after scripts ran, and the console lines. */
function render(file: string, fragment = ''): Rendered {
  const r = spawnSync(CHROMIUM, ['--headless', '--no-sandbox', '--disable-gpu', '--enable-logging=stderr', '--v=0', '--dump-dom', `file://${file}${fragment}`], { encoding: 'utf8', timeout: 60_000 });
  assert.equal(r.status, 0, r.stderr);
  return { dom: r.stdout, consoleLines: r.stderr.split('\n').filter((l) => /:CONSOLE/.test(l)) };
}

/** The cells of the rendered #sources table, row by row (text, tags stripped, entities decoded). */
function sourceRows(dom: string): string[][] {
  const body = /<table id="sources"[^>]*>[\s\S]*?<tbody>([\s\S]*?)<\/tbody>/.exec(dom)?.[1] ?? '';
  const decode = (s: string): string => s.replace(/<[^>]+>/g, '').replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&quot;/g, '"').replace(/&#39;/g, "'").replace(/&amp;/g, '&');
  return [...body.matchAll(/<tr>([\s\S]*?)<\/tr>/g)].map((m) => [...m[1]!.matchAll(/<td[^>]*>([\s\S]*?)<\/td>/g)].map((c) => decode(c[1]!)));
}

function counter(dom: string, name: string): string | undefined {
  return new RegExp(`data-counter="${name}">([^<]*)<`).exec(dom)?.[1];
}

describe('replay --summary and --report', function () {
  this.timeout(120_000);
  let dir = '';
  let docs: Doc[] = [];
  let stderr = '';
  let report = '';
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'honeyport-report-'));
    report = join(dir, 'report.html');
    const r = spawnSync(process.execPath, [CLI, 'replay', '-p', FIXTURE_POLICY, '--summary', '--report', report, ...FILES], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    docs = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as Doc);
    stderr = r.stderr;
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  /** Per source, what the alarms say. */
  function fromAlarms(): Map<string, { probes: number; ports: Set<string>; alarms: number; first: string; last: string }> {
    const m = new Map<string, { probes: number; ports: Set<string>; alarms: number; first: string; last: string }>();
    for (const d of docs) {
      if (d.event.action !== 'honeypot-port-probe') continue;
      const s = m.get(d.source.ip) ?? { probes: 0, ports: new Set<string>(), alarms: 0, first: d.event.start, last: d.event.end };
      s.probes += d.event.count;
      s.alarms++;
      s.ports.add(`${d.destination.port}/${d.honeyport.protocol}`);
      if (d.event.start < s.first) s.first = d.event.start;
      if (d.event.end > s.last) s.last = d.event.end;
      m.set(d.source.ip, s);
    }
    return m;
  }

  it('--summary: one row per source whose numbers are its alarms\' (whitelisted sources: the whitelisted counter)', () => {
    const lines = stderr.split('\n');
    const start = lines.findIndex((l) => /^honeyport: \d+ sources probed decoy ports/.test(l));
    assert.ok(start >= 0, stderr);
    const rows = lines.slice(start + 2).filter((l) => /^ {2}\S/.test(l) && !l.startsWith('  and ') && !l.startsWith('  flood'));
    const expected = fromAlarms();
    let whitelisted = 0;
    for (const row of rows) {
      const [source, wl, ports, first, last] = row.trim().split(/\s{2,}/);
      const probes = [...row.matchAll(/\b(?:syn|fin|null|xmas)(?:\/\w+)* (\d+)/g)].reduce((n, m) => n + Number(m[1]), 0);
      if (wl === 'yes') {
        whitelisted += probes;
        assert.ok(!expected.has(source!), `${source} is whitelisted yet has alarms`);
        continue;
      }
      const e = expected.get(source!);
      assert.ok(e, `${source} has no alarm`);
      assert.equal(probes, e.probes, `${source}: probes`);
      assert.equal(ports, [...e.ports].sort((a, b) => Number.parseInt(a, 10) - Number.parseInt(b, 10)).join(','), `${source}: ports`);
      assert.equal(first, e.first);
      assert.equal(last, e.last);
      expected.delete(source!);
    }
    assert.deepEqual([...expected.keys()], [], 'every alarmed source has a row');
    assert.equal(whitelisted, Number(/, (\d+) whitelisted,/.exec(stderr)?.[1]), 'whitelisted probes add up to the run summary');
    assert.ok(whitelisted > 0, 'the capture has whitelisted probes');
    assert.match(stderr, /NMap SYN scan \(exact\)/);
  });

  it('writes a self-contained page: no resource to fetch, a CSP that allows none', () => {
    const html = readFileSync(report, 'utf8');
    assert.match(html, /<meta http-equiv="Content-Security-Policy" content="default-src 'none'/);
    assert.doesNotMatch(html, /\s(?:src|href)=|url\(|@import|<link|<iframe|<img/i);
  });

  describe('in headless Chromium', () => {
    before(function () {
      if (!existsSync(CHROMIUM)) {
        console.log(`      skipped: ${CHROMIUM} absent (apt install chromium)`);
        this.skip();
      }
    });

    it('renders with no console error, and its table and counters hold the run\'s numbers', () => {
      const { dom, consoleLines } = render(report);
      assert.deepEqual(consoleLines, []);
      assert.match(dom, /<body[^>]* data-ready="1"/, 'the script ran');
      const rows = sourceRows(dom);
      const expected = fromAlarms();
      const alarmed = rows.filter((r) => r[1] === 'no');
      assert.equal(alarmed.length, expected.size);
      for (const r of alarmed) {
        const e = expected.get(r[0]!)!;
        assert.equal(Number(r[5]), e.probes, `${r[0]} probes`);
        assert.equal(Number(r[7]), e.alarms, `${r[0]} alarms`);
      }
      const probeAlarms = docs.filter((d) => d.event.action === 'honeypot-port-probe');
      assert.equal(counter(dom, 'alarms'), String(docs.length));
      assert.equal(counter(dom, 'probes'), String(probeAlarms.reduce((n, d) => n + d.event.count, 0)), 'probes = sum of event.count');
      assert.equal(counter(dom, 'whitelisted'), /, (\d+) whitelisted,/.exec(stderr)?.[1]);
      assert.equal(counter(dom, 'packets'), /, (\d+) packets in/.exec(stderr)?.[1]);
      assert.equal((dom.match(/<rect class="mark"/g) ?? []).length, probeAlarms.filter((d) => d.event.count > 0).length, 'one timeline mark per alarm');
    });

    it('sorts the table by any column (#sort=probes&dir=asc, then by source)', () => {
      assert.match(render(report, '#sort=probes&dir=asc').dom, /<table id="sources" data-sorted="probes asc">/);
      const asc = sourceRows(render(report, '#sort=probes&dir=asc').dom).map((r) => Number(r[5]));
      assert.ok(asc.length >= 3);
      assert.deepEqual(asc, [...asc].sort((a, b) => a - b));
      assert.notDeepEqual(asc, [...asc].sort((a, b) => b - a), 'the default order (most probes first) was changed');
      const bySource = sourceRows(render(report, '#sort=source&dir=desc').dom).map((r) => r[0]!);
      assert.deepEqual(bySource, [...bySource].sort().reverse());
    });

    it('reports a broken script: the console check can fail', () => {
      const broken = join(dir, 'broken.html');
      writeFileSync(broken, readFileSync(report, 'utf8').replace('var t=document.getElementById', 'var t=document.getElementByIdd'));
      const { consoleLines, dom } = render(broken);
      assert.ok(consoleLines.some((l) => /Uncaught TypeError/.test(l)), consoleLines.join('\n'));
      assert.doesNotMatch(dom, /data-ready="1"/);
    });

    it('keeps hostile file names and signature labels as text (no script of theirs runs)', () => {
      // A file name cannot hold "/": no closing tag, but an element with a handler would run.
      const evil = join(dir, `<svg onload="document.title='pwned'">'".pcap`);
      copyFileSync(join(ROOT, 'fixtures/live/nmap-sS.pcap'), evil);
      const fp = join(dir, 'evil.fp');
      writeFileSync(fp, `[tcp:request]\nlabel = s:!:Evil:</td><script>document.title='pwned'</script><img src=x onerror="document.title='pwned'">\nsys = Linux\nsig = *:64-:0:1460:1024,0:mss::0\n`);
      const out = join(dir, 'evil.html');
      const r = spawnSync(process.execPath, [CLI, 'replay', '-q', '-p', FIXTURE_POLICY, '--fingerprints', fp, '--summary', '--report', out, evil], { encoding: 'utf8' });
      assert.equal(r.status, 0, r.stderr);
      assert.doesNotMatch(r.stderr, /[\u0000-\u0008\u000b-\u001f]/);
      const { dom, consoleLines } = render(out);
      assert.deepEqual(consoleLines, []);
      assert.match(dom, /<title>honeyport replay report<\/title>/);
      assert.equal((dom.match(/<script/g) ?? []).length, 1, 'only the page\'s own script');
      assert.doesNotMatch(dom, /<img/);
      assert.ok(sourceRows(dom).some((row) => row[8]!.includes(`</td><script>document.title='pwned'</script>`)), 'the label is shown as text');
      assert.match(dom, /id="inputs">&lt;svg onload="document\.title='pwned'"&gt;'"\.pcap</);
      assert.doesNotMatch(dom, /<svg onload/);
    });

    it('keeps a hostile policy name and source as text', () => {
      const c = new RunCollector();
      c.whitelistedProbe(`"><script>document.title='pwned'</script>`, '445/tcp', 1_700_000_000_000_000, 1);
      const out = join(dir, 'direct.html');
      writeFileSync(out, htmlReport(c, { policy: `<script>document.title='pwned'</script>`, inputs: ['a"b'], version: '0', counters: [['x<y', '<b>']] }));
      const { dom, consoleLines } = render(out);
      assert.deepEqual(consoleLines, []);
      assert.match(dom, /<title>honeyport replay report<\/title>/);
      assert.equal((dom.match(/<script/g) ?? []).length, 1);
      assert.equal(sourceRows(dom)[0]![0], `"><script>document.title='pwned'</script>`);
    });
  });

  it('a report that cannot be written: one line, exit 1, the alarms still written', () => {
    const r = spawnSync(process.execPath, [CLI, 'replay', '-q', '-p', FIXTURE_POLICY, '--report', join(dir, 'no/such/dir/r.html'), FILES[0]!], { encoding: 'utf8' });
    assert.equal(r.status, 1);
    assert.match(r.stderr, /^honeyport: --report .*r\.html: ENOENT: report not written\n$/);
    assert.ok(r.stdout.length > 0);
  });
});

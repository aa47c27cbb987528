/**
 * `replay --report FILE.html`: one self-contained page — inline CSS, one
 * inline script (table sorting), an inline SVG timeline — that fetches
 * nothing: its Content-Security-Policy allows no source but its own inline
 * style and script, so even a value that slipped through could not load
 * anything. Every value from the run (addresses, file names, policy name,
 * fingerprint labels from a signature file) is HTML-escaped; nothing is
 * put into the script.
 *
 * Contents: the run's counters, a timeline (one row per source, the
 * MAX_TIMELINE_ROWS with most probes; one mark per alarm, coloured by decoy
 * port), the sources table (sortable by any column: click a header, or
 * `#sort=<column>&dir=asc|desc` in the address), and the flood alarms.
 */
import { TimestampFormatter } from '../alarm/timestamp.js';
import { escapeForMessage } from '../validation/echo.js';
import type { RunCollector, SourceRow, TimelineMark } from './run-collector.js';
import { kindsCell } from './summary-table.js';

export const MAX_TIMELINE_ROWS = 60;

export interface ReportInfo {
  readonly policy: string;
  readonly inputs: readonly string[];
  readonly version: string;
  /** [label, value] pairs: the run's counters, in order. */
  readonly counters: readonly (readonly [string, number | string])[];
}

const ESC: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

/** Text or attribute value, escaped; control characters and line separators become visible escapes (as in messages). */
export function escapeHtml(text: string): string {
  return escapeForMessage(text, 4096).replace(/[&<>"']/g, (c) => ESC[c]!);
}

const PALETTE = ['#1f77b4', '#d62728', '#2ca02c', '#ff7f0e', '#9467bd', '#8c564b', '#e377c2', '#17becf', '#bcbd22', '#7f7f7f'];

const STYLE = `body{font:14px/1.4 system-ui,sans-serif;margin:1.5em;color:#222}
h1{font-size:1.4em}h2{font-size:1.15em;margin-top:1.6em}
table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:.25em .5em;text-align:left;vertical-align:top}
th{background:#f3f3f3}#sources th{cursor:pointer}#sources th[aria-sort=ascending]::after{content:" \\25B2"}#sources th[aria-sort=descending]::after{content:" \\25BC"}
td.n{text-align:right;font-variant-numeric:tabular-nums}.legend span{display:inline-block;margin-right:1em}.legend i{display:inline-block;width:.9em;height:.9em;margin-right:.3em;vertical-align:middle}
svg text{font:11px system-ui,sans-serif}`;

// Sorting: by the data-v value of each cell (numbers compare as numbers). No value from the run is in here.
const SCRIPT = `(function(){
var t=document.getElementById('sources');if(!t)return;var b=t.tBodies[0],hs=t.tHead.rows[0].cells;
function key(r,i){var c=r.cells[i],v=c.getAttribute('data-v');return v===null?c.textContent:v;}
function sort(i,dir){var rows=Array.prototype.slice.call(b.rows),num=hs[i].getAttribute('data-type')==='number';
rows.sort(function(x,y){var a=key(x,i),c=key(y,i),d=num?Number(a)-Number(c):(a<c?-1:a>c?1:0);return dir==='asc'?d:-d;});
rows.forEach(function(r){b.appendChild(r);});for(var j=0;j<hs.length;j++)hs[j].removeAttribute('aria-sort');
hs[i].setAttribute('aria-sort',dir==='asc'?'ascending':'descending');t.setAttribute('data-sorted',hs[i].getAttribute('data-col')+' '+dir);}
Array.prototype.forEach.call(hs,function(h,i){h.addEventListener('click',function(){sort(i,h.getAttribute('aria-sort')==='ascending'?'desc':'asc');});});
var m=/sort=([a-z_]+)(?:&dir=(asc|desc))?/.exec(location.hash);if(m)for(var i=0;i<hs.length;i++)if(hs[i].getAttribute('data-col')===m[1])sort(i,m[2]||'asc');
document.body.setAttribute('data-ready','1');})();`;

const COLUMNS: readonly [col: string, title: string, type: 'number' | 'text'][] = [
  ['source', 'source', 'text'],
  ['whitelisted', 'whitelisted', 'text'],
  ['ports', 'decoy ports', 'text'],
  ['first', 'first seen (UTC)', 'number'],
  ['last', 'last seen (UTC)', 'number'],
  ['probes', 'probes', 'number'],
  ['kinds', 'probes by kind', 'text'],
  ['alarms', 'alarms', 'number'],
  ['fingerprint', 'fingerprint', 'text'],
];

function sourceRow(r: SourceRow, t: TimestampFormatter): string {
  const td = (v: string, sortValue?: number, cls = ''): string => `<td${cls ? ` class="${cls}"` : ''}${sortValue !== undefined ? ` data-v="${sortValue}"` : ''}>${escapeHtml(v)}</td>`;
  return (
    `<tr>${td(r.source)}${td(r.whitelisted ? 'yes' : 'no')}${td(r.ports.join(', '))}` +
    `${td(t.format(r.firstMicros), r.firstMicros)}${td(t.format(r.lastMicros), r.lastMicros)}` +
    `${td(String(r.probes), r.probes, 'n')}${td(kindsCell(r))}${td(String(r.alarms), r.alarms, 'n')}${td(r.fingerprints.join('; ') || '-')}</tr>`
  );
}

function timeline(marks: readonly TimelineMark[], rows: readonly SourceRow[], t: TimestampFormatter): string {
  const drawn = rows.filter((r) => !r.whitelisted).slice(0, MAX_TIMELINE_ROWS);
  if (drawn.length === 0 || marks.length === 0) return '<p>No alarms: nothing to draw.</p>';
  const index = new Map(drawn.map((r, i) => [r.source, i]));
  const ports = [...new Set(marks.map((m) => m.port))].sort((a, b) => Number.parseInt(a, 10) - Number.parseInt(b, 10) || a.localeCompare(b));
  const color = new Map(ports.map((p, i) => [p, PALETTE[i % PALETTE.length]!]));
  let t0 = Infinity;
  let t1 = -Infinity;
  for (const m of marks) {
    t0 = Math.min(t0, m.startMicros);
    t1 = Math.max(t1, m.endMicros);
  }
  const left = 230;
  const width = 900;
  const rowH = 18;
  const span = Math.max(1, t1 - t0);
  const x = (us: number): number => left + ((us - t0) / span) * width;
  const height = drawn.length * rowH + 40;
  let body = '';
  drawn.forEach((r, i) => {
    body += `<text x="4" y="${i * rowH + 13}">${escapeHtml(r.source)}</text><line x1="${left}" x2="${left + width}" y1="${i * rowH + 9}" y2="${i * rowH + 9}" stroke="#eee"/>`;
  });
  for (const m of marks) {
    const i = index.get(m.source);
    if (i === undefined) continue;
    const x0 = x(m.startMicros);
    const w = Math.max(3, x(m.endMicros) - x0);
    const tip = `${m.source} → ${m.port}: ${m.count} ${m.kinds} probe${m.count === 1 ? '' : 's'}, ${t.format(m.startMicros)} – ${t.format(m.endMicros)}`;
    body += `<rect class="mark" x="${x0.toFixed(1)}" y="${i * rowH + 3}" width="${w.toFixed(1)}" height="12" fill="${color.get(m.port)}"><title>${escapeHtml(tip)}</title></rect>`;
  }
  const axisY = drawn.length * rowH + 20;
  body += `<text x="${left}" y="${axisY}">${escapeHtml(t.format(t0))}</text><text x="${left + width}" y="${axisY}" text-anchor="end">${escapeHtml(t.format(t1))}</text>`;
  const legend = ports.map((p) => `<span><i style="background:${color.get(p)}"></i>${escapeHtml(p)}</span>`).join('');
  const more = rows.filter((r) => !r.whitelisted).length - drawn.length;
  return (
    `<div class="legend">${legend}</div><svg id="timeline" xmlns="http://www.w3.org/2000/svg" width="${left + width + 10}" height="${height}" role="img" aria-label="alarms per source over time">${body}</svg>` +
    (more > 0 ? `<p>${more} more sources not drawn (fewer probes).</p>` : '')
  );
}

export function htmlReport(c: RunCollector, info: ReportInfo): string {
  const t = new TimestampFormatter();
  const rows = c.sources();
  const counters = info.counters.map(([k, v]) => `<tr><th>${escapeHtml(k)}</th><td class="n" data-counter="${escapeHtml(k)}">${escapeHtml(String(v))}</td></tr>`).join('');
  const head = COLUMNS.map(([col, title, type]) => `<th data-col="${col}" data-type="${type}">${escapeHtml(title)}</th>`).join('');
  const floods = c.floodRows();
  const floodTable = floods.length
    ? `<table id="floods"><thead><tr><th>decoy port</th><th>probes</th><th>alarms</th><th>reasons</th><th>first</th><th>last</th></tr></thead><tbody>${floods
        .map((f) => `<tr><td>${escapeHtml(f.port)}</td><td class="n">${f.probes}</td><td class="n">${f.alarms}</td><td>${escapeHtml(f.reasons.join(', '))}</td><td>${escapeHtml(t.format(f.firstMicros))}</td><td>${escapeHtml(t.format(f.lastMicros))}</td></tr>`)
        .join('')}</tbody></table>`
    : '<p>None.</p>';
  const beyond = c.sourcesNotListed ? `<p>${c.probesNotListed} probes from sources beyond the ${rows.length} tracked are in the counters but not in the table.</p>` : '';
  const marksBeyond = c.marksNotKept ? `<p>${c.marksNotKept} alarms beyond the first ${c.timeline().length} are not drawn.</p>` : '';
  return `<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'">
<meta name="referrer" content="no-referrer">
<title>honeyport replay report</title>
<style>${STYLE}</style></head>
<body>
<h1>honeyport replay report</h1>
<p>Policy <b id="policy">${escapeHtml(info.policy)}</b>; ${info.inputs.length} input${info.inputs.length === 1 ? '' : 's'}: <span id="inputs">${info.inputs.map(escapeHtml).join(', ')}</span>; honeyport ${escapeHtml(info.version)}.</p>
<h2>Run counters</h2>
<table id="counters"><tbody>${counters}</tbody></table>
<h2>Timeline of alarms per source</h2>
${timeline(c.timeline(), rows, t)}${marksBeyond}
<h2>Sources (${rows.length})</h2>
<table id="sources"><thead><tr>${head}</tr></thead><tbody>${rows.map((r) => sourceRow(r, t)).join('\n')}</tbody></table>
${beyond}<h2>Flood alarms</h2>
${floodTable}
<script>${SCRIPT}</script>
</body></html>
`;
}

/**
 * The fast path for large whitelists. YAML parsing costs ~13 µs and ~1 KB per
 * list item (a million entries: 13 s, 1 GB), so a top-level `whitelist:`
 * written as a plain list — block (`  - 10.0.0.1`) or flow (`[a, "b"]`), of
 * plain, single- or double-quoted scalars without escapes, with comments and
 * blank lines — is cut out of the text here and its entries located as spans.
 * The loader parses the rest (now `whitelist: []`, line numbers unchanged)
 * with the YAML parser and the spans with the address-table parser.
 *
 * Anything this scanner is not sure of (anchors, aliases, tags, escapes,
 * multi-line scalars, nested collections, odd indentation) makes it return
 * undefined, and the whole document goes through the YAML parser as before:
 * the fast path changes the speed, never the meaning.
 */

export interface WhitelistSpans {
  /** The document with the list replaced by `whitelist: []` on one line. */
  readonly rest: string;
  /** Line of the original text for a line of `rest`. */
  readonly sourceLine: (line: number) => number;
  readonly count: number;
  /** Entry i is text[start[i], end[i]). */
  readonly start: Uint32Array;
  readonly end: Uint32Array;
}

const KEY = 'whitelist:';
const LF = 0x0a;
const CR = 0x0d;
const SPACE = 0x20;
const TAB = 0x09;
const HASH = 0x23;

/** Characters that may not start a plain scalar we accept (YAML indicators). */
const BAD_FIRST = new Set([...'[]{}&*!|>%@`,?:#\'"'].map((c) => c.charCodeAt(0)));

class SpanList {
  start = new Uint32Array(1024);
  end = new Uint32Array(1024);
  count = 0;
  push(s: number, e: number): void {
    if (this.count === this.start.length) {
      const s2 = new Uint32Array(this.count * 2);
      const e2 = new Uint32Array(this.count * 2);
      s2.set(this.start);
      e2.set(this.end);
      this.start = s2;
      this.end = e2;
    }
    this.start[this.count] = s;
    this.end[this.count] = e;
    this.count++;
  }
}

function findKey(text: string): number {
  if (text.startsWith(KEY)) return 0;
  const at = text.indexOf(`\n${KEY}`);
  return at < 0 ? -1 : at + 1;
}

function skipBlanks(text: string, i: number): number {
  while (i < text.length) {
    const c = text.charCodeAt(i);
    if (c !== SPACE && c !== TAB) break;
    i++;
  }
  return i;
}

/** True when text[i..] up to the line end is blank or a comment; false otherwise. */
function restOfLineEmpty(text: string, i: number): boolean {
  i = skipBlanks(text, i);
  if (i >= text.length) return true;
  const c = text.charCodeAt(i);
  return c === LF || c === CR || c === HASH;
}

function lineEnd(text: string, i: number): number {
  const nl = text.indexOf('\n', i);
  return nl < 0 ? text.length : nl;
}

/**
 * A scalar at text[i] ending at the line end, a comment or (in flow) a
 * `,`/`]`: [start, end, next] of its content, or undefined when unsure.
 */
function scalar(text: string, i: number, flow: boolean): [number, number, number] | undefined {
  const c = text.charCodeAt(i);
  if (c === 0x22 || c === 0x27) {
    const close = text.indexOf(c === 0x22 ? '"' : "'", i + 1);
    if (close < 0) return undefined;
    const body = text.slice(i + 1, close);
    if (body.includes('\n') || body.includes('\\') || (c === 0x27 && text.charCodeAt(close + 1) === 0x27)) return undefined;
    return [i + 1, close, close + 1];
  }
  if (BAD_FIRST.has(c) || (c === 0x2d && (text.charCodeAt(i + 1) === SPACE || text.charCodeAt(i + 1) === TAB))) return undefined;
  let j = i;
  let end = i;
  while (j < text.length) {
    const d = text.charCodeAt(j);
    if (d === LF || d === CR) break;
    if (flow && (d === 0x2c || d === 0x5d)) break;
    if (d === HASH && (text.charCodeAt(j - 1) === SPACE || text.charCodeAt(j - 1) === TAB)) break;
    if (d === 0x5b || d === 0x7b || d === 0x7d || (flow && d === 0x5b)) return undefined;
    if (d === 0x3a && (j + 1 >= text.length || text.charCodeAt(j + 1) === SPACE || text.charCodeAt(j + 1) === LF)) return undefined; // a mapping
    if (d !== SPACE && d !== TAB) end = j + 1;
    j++;
  }
  if (end === i) return undefined;
  return [i, end, j];
}

function block(text: string, from: number, spans: SpanList): number | undefined {
  let pos = from; // start of the next line
  let indent = -1;
  while (pos < text.length) {
    const le = lineEnd(text, pos);
    const first = skipBlanks(text, pos);
    const c = text.charCodeAt(first);
    if (first >= le || c === CR || c === HASH) { pos = le + 1; continue; } // blank or comment line
    const col = first - pos;
    if (c !== 0x2d || !(text.charCodeAt(first + 1) === SPACE || text.charCodeAt(first + 1) === TAB)) {
      // The next top-level key (or ---) ends the list; `whitelist:` with no item is null, not [].
      if (col === 0) return spans.count > 0 ? pos : undefined;
      return undefined;
    }
    if (indent < 0) indent = col;
    else if (col !== indent) return undefined;
    const s = scalar(text, skipBlanks(text, first + 1), false);
    if (!s || !restOfLineEmpty(text, s[2])) return undefined;
    spans.push(s[0], s[1]);
    pos = le + 1;
  }
  return spans.count > 0 ? text.length : undefined;
}

function flowList(text: string, open: number, spans: SpanList): number | undefined {
  let i = open + 1;
  const skip = (): void => {
    for (;;) {
      i = skipBlanks(text, i);
      const c = text.charCodeAt(i);
      if (c === LF || c === CR) { i++; continue; }
      if (c === HASH) { i = lineEnd(text, i); continue; }
      return;
    }
  };
  skip();
  if (text.charCodeAt(i) === 0x5d) i++;
  else {
    for (;;) {
      const s = scalar(text, i, true);
      if (!s) return undefined;
      spans.push(s[0], s[1]);
      i = s[2];
      skip();
      const c = text.charCodeAt(i);
      i++;
      if (c === 0x5d) break;
      if (c !== 0x2c) return undefined;
      skip();
    }
  }
  if (!restOfLineEmpty(text, i)) return undefined;
  const le = lineEnd(text, i);
  return le < text.length ? le + 1 : le;
}

export function splitWhitelist(text: string): WhitelistSpans | undefined {
  const key = findKey(text);
  if (key < 0) return undefined;
  const spans = new SpanList();
  const value = skipBlanks(text, key + KEY.length);
  let regionEnd: number | undefined;
  if (text.charCodeAt(value) === 0x5b) regionEnd = flowList(text, value, spans);
  else if (restOfLineEmpty(text, value)) regionEnd = block(text, lineEnd(text, value) + 1, spans);
  if (regionEnd === undefined) return undefined;
  // The list becomes one line (a million blank lines would cost the YAML lexer a second).
  let newlines = 0;
  for (let i = text.indexOf('\n', key); i >= 0 && i < regionEnd; i = text.indexOf('\n', i + 1)) newlines++;
  let keyLine = 1;
  for (let i = text.indexOf('\n'); i >= 0 && i < key; i = text.indexOf('\n', i + 1)) keyLine++;
  const removed = Math.max(0, newlines - 1);
  const rest = `${text.slice(0, key)}whitelist: []${newlines > 0 ? '\n' : ''}${text.slice(regionEnd)}`;
  const sourceLine = (line: number): number => (line > keyLine ? line + removed : line);
  return { rest, sourceLine, count: spans.count, start: spans.start, end: spans.end };
}

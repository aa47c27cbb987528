/**
 * One YAML (or JSON) document from untrusted text, or one problem naming its
 * line and column. Shared by the policy and the sensor-config loaders.
 *
 * The `yaml` package is guarded on both sides:
 * - before it: nesting is bounded by a linear pre-scan, because the parser's
 *   cost grows much faster than linearly with depth (400 nested explicit keys
 *   `? ? ? …` take 9 s, 1,000 take minutes; 20,000 nested `- - - …` exhaust
 *   the heap, an abort no try/catch sees);
 * - after it: alias expansion is bounded (`maxAliasCount`), which refuses a
 *   "billion laughs" document, and its warnings are silenced (they would be
 *   extra, multi-line output on stderr).
 * Real policies and configs nest 3–5 levels; the limit is far above that.
 */
import { LineCounter, parseDocument } from 'yaml';
import { escapeForMessage } from './echo.js';

/** An upper bound of block + flow nesting, counted conservatively by `nestingTooDeep`. */
export const MAX_NESTING = 32;
/** Nodes an alias may expand to, summed over the document (yaml's own measure). */
const MAX_ALIAS_NODES = 100;

export type YamlRead = { readonly ok: true; readonly doc: unknown } | { readonly ok: false; readonly problem: string };

interface Position { readonly line: number; readonly col: number }

const SPACE = 0x20;
const TAB = 0x09;
const LF = 0x0a;

function isBlank(c: number): boolean {
  return c === SPACE || c === TAB || c === LF || c === 0x0d || Number.isNaN(c);
}

/**
 * Where the text first nests deeper than MAX_NESTING, or undefined. Counts, at
 * every point, the open flow brackets plus the stack of increasing block
 * indentations plus the compact indicators (`- `, `? `, `: `) leading the
 * line. Quoted scalars and comments are skipped. It overestimates in odd
 * cases (a bracket inside a plain scalar) and never underestimates by more
 * than a factor of two (a sequence may sit at its parent key's indentation).
 */
export function nestingTooDeep(text: string): Position | undefined {
  const indents: number[] = [];
  let flow = 0;
  let line = 1;
  let i = 0;
  const n = text.length;
  while (i < n) {
    // Start of a line: indentation and leading compact indicators.
    const lineStart = i;
    while (i < n && text.charCodeAt(i) === SPACE) i++;
    const indent = i - lineStart;
    let c = text.charCodeAt(i);
    const content = i < n && c !== LF && c !== 0x0d && c !== 0x23; // not blank, not a comment
    let inline = 0;
    if (content && flow === 0) {
      while (indents.length > 0 && indents[indents.length - 1]! >= indent) indents.pop();
      indents.push(indent);
      for (;;) {
        c = text.charCodeAt(i);
        if ((c === 0x2d || c === 0x3f || c === 0x3a) && isBlank(text.charCodeAt(i + 1))) {
          inline++;
          i++;
          while (i < n && (text.charCodeAt(i) === SPACE || text.charCodeAt(i) === TAB)) i++;
        } else break;
      }
    }
    if (flow + indents.length + inline > MAX_NESTING) return { line, col: i - lineStart + 1 };
    // The rest of the line: brackets, quotes, comments.
    let prev = SPACE;
    while (i < n) {
      c = text.charCodeAt(i);
      if (c === LF) break;
      if (c === 0x23 && isBlank(prev)) {
        while (i < n && text.charCodeAt(i) !== LF) i++;
        break;
      }
      const tokenStart = isBlank(prev) || prev === 0x5b || prev === 0x7b || prev === 0x2c || prev === 0x3a;
      if ((c === 0x22 || c === 0x27) && tokenStart) {
        // A quoted scalar, possibly over several lines.
        const q = c;
        i++;
        while (i < n) {
          const d = text.charCodeAt(i);
          if (d === LF) line++;
          else if (q === 0x22 && d === 0x5c) i++;
          else if (d === q) break;
          i++;
        }
        prev = q;
        i++;
        continue;
      }
      if (c === 0x5b || c === 0x7b) {
        flow++;
        if (flow + indents.length + inline > MAX_NESTING) return { line, col: i - lineStart + 1 };
      } else if ((c === 0x5d || c === 0x7d) && flow > 0) flow--;
      prev = c;
      i++;
    }
    i++; // the newline
    line++;
  }
  return undefined;
}

function firstLine(message: string): string {
  const nl = message.indexOf('\n');
  return escapeForMessage(nl < 0 ? message : message.slice(0, nl), 200);
}

/** `sourceLine` maps a line of `text` to the line of the file it came from (when a part was cut out). */
export function readYamlDocument(text: string, sourceLine: (line: number) => number = (l) => l): YamlRead {
  const deep = nestingTooDeep(text);
  if (deep) return { ok: false, problem: `line ${sourceLine(deep.line)}, column ${deep.col}: nested deeper than ${MAX_NESTING} levels` };
  const lineCounter = new LineCounter();
  try {
    const doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true, logLevel: 'silent' });
    const error = doc.errors[0];
    if (error) {
      const { line, col } = lineCounter.linePos(error.pos[0]);
      return { ok: false, problem: `line ${sourceLine(line)}, column ${col}: ${firstLine(error.message)}` };
    }
    return { ok: true, doc: doc.toJS({ maxAliasCount: MAX_ALIAS_NODES }) };
  } catch (err) {
    // Thrown, not listed in doc.errors: the alias limit (a ReferenceError) and
    // whatever else the parser trips on; either is the document's problem.
    const message = err instanceof Error ? err.message : String(err);
    if (/alias/i.test(message)) return { ok: false, problem: `aliases expand to more than ${MAX_ALIAS_NODES} nodes (an alias bomb?)` };
    return { ok: false, problem: `cannot be parsed: ${firstLine(message)}` };
  }
}

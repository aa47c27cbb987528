/**
 * Host name globs of a fleet policy's `servers:` list.
 *
 * Semantics (the whole name must match, case-insensitively, since DNS names
 * are; one trailing dot of the name is ignored):
 *   `*`      any run of characters, empty included, dots included
 *            (`web-*` matches `web-1` and `web-1.corp.example`)
 *   `?`      exactly one character
 *   `[abc]`, `[a-z0-9]`  one character of the class; `[!a-z]` or `[^a-z]`
 *            one character not in it; a `-` first or last is literal
 * Nothing else is special (no braces, no escapes). A glob is at most 253
 * characters (a DNS name's limit) of letters, digits and `- . _ * ? [ ] ! ^`.
 *
 * Matching is the iterative wildcard algorithm with one backtrack point, so a
 * glob built to backtrack (`*a*a*a…b`) costs O(name × glob), never
 * exponential time; no regular expression is built from file content.
 */

type Token =
  | { readonly kind: 'char'; readonly c: string }
  | { readonly kind: 'one' }
  | { readonly kind: 'star' }
  | { readonly kind: 'class'; readonly negated: boolean; readonly ranges: readonly (readonly [string, string])[] };

export interface HostGlob {
  readonly text: string;
  matches(name: string): boolean;
}

export const MAX_HOST_NAME = 253;
const GLOB_CHARS = /^[A-Za-z0-9._*?[\]!^-]+$/;

/** The name as globs see it: lowercase, without one trailing dot. */
export function normaliseHostName(name: string): string {
  const lower = name.toLowerCase();
  return lower.endsWith('.') ? lower.slice(0, -1) : lower;
}

function parseClass(glob: string, open: number): { token: Token; next: number } | string {
  let i = open + 1;
  let negated = false;
  if (glob[i] === '!' || glob[i] === '^') { negated = true; i++; }
  const close = glob.indexOf(']', i);
  if (close < 0) return `unterminated [ at character ${open + 1}`;
  const body = glob.slice(i, close);
  if (body.length === 0) return `empty [] at character ${open + 1}`;
  const ranges: (readonly [string, string])[] = [];
  for (let k = 0; k < body.length; k++) {
    const c = body[k]!;
    if (body[k + 1] === '-' && k + 2 < body.length) {
      const last = body[k + 2]!;
      if (last < c) return `range ${c}-${last} ends before it starts`;
      ranges.push([c, last]);
      k += 2;
    } else ranges.push([c, c]);
  }
  return { token: { kind: 'class', negated, ranges }, next: close + 1 };
}

/** The compiled glob, or the problem (one line, without the glob itself). */
export function compileHostGlob(text: string): HostGlob | string {
  if (text.length === 0) return 'must not be empty';
  if (text.length > MAX_HOST_NAME) return `must be at most ${MAX_HOST_NAME} characters (a host name's limit)`;
  if (!GLOB_CHARS.test(text)) return 'may contain only letters, digits and - . _ and the glob characters * ? [ ] ! ^';
  const glob = text.toLowerCase();
  const tokens: Token[] = [];
  for (let i = 0; i < glob.length; ) {
    const c = glob[i]!;
    if (c === '*') {
      // Runs of stars are one star: fewer backtrack points, same meaning.
      if (tokens[tokens.length - 1]?.kind !== 'star') tokens.push({ kind: 'star' });
      i++;
    } else if (c === '?') { tokens.push({ kind: 'one' }); i++; }
    else if (c === '[') {
      const r = parseClass(glob, i);
      if (typeof r === 'string') return r;
      tokens.push(r.token);
      i = r.next;
    } else if (c === ']' || c === '!' || c === '^') return `"${c}" at character ${i + 1} is outside a [...] class`;
    else { tokens.push({ kind: 'char', c }); i++; }
  }
  return { text, matches: (name) => matchTokens(tokens, normaliseHostName(name)) };
}

function matchOne(t: Token, c: string): boolean {
  switch (t.kind) {
    case 'char': return t.c === c;
    case 'one': return true;
    case 'class': return t.ranges.some(([lo, hi]) => c >= lo && c <= hi) !== t.negated;
    case 'star': return false;
  }
}

function matchTokens(tokens: readonly Token[], name: string): boolean {
  let t = 0;
  let n = 0;
  let starAt = -1; // token index after the last star seen
  let starName = 0; // name index that star is currently made to end at
  while (n < name.length) {
    const tok = tokens[t];
    if (tok?.kind === 'star') {
      starAt = ++t;
      starName = n;
    } else if (tok && matchOne(tok, name[n]!)) {
      t++;
      n++;
    } else if (starAt >= 0) {
      // Let the last star take one more character and retry from there.
      t = starAt;
      n = ++starName;
    } else return false;
  }
  while (tokens[t]?.kind === 'star') t++;
  return t === tokens.length;
}

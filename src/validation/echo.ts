/**
 * Input text echoed in an error message. Messages are one line on a terminal
 * or in a log, so nothing from the input may break the line or drive the
 * terminal: C0/C1 control characters, DEL, line and paragraph separators and
 * bidirectional overrides ("Trojan source") are written as escapes, and the
 * text is cut to a length a human reads (a million-character entry would
 * otherwise become a million-character line).
 */

/** Characters echoed as `\uXXXX` rather than themselves. */
function needsEscape(c: number): boolean {
  return c < 0x20 || (c >= 0x7f && c <= 0x9f) || c === 0x2028 || c === 0x2029 ||
    (c >= 0x202a && c <= 0x202e) || (c >= 0x2066 && c <= 0x2069) || c === 0x200e || c === 0x200f ||
    (c >= 0xd800 && c <= 0xdfff); // surrogates are escaped alone; a pair is kept whole below
}

const SHORT: Readonly<Record<number, string>> = { 0x0a: '\\n', 0x0d: '\\r', 0x09: '\\t' };

/**
 * `text` with every unsafe character escaped (and `\` doubled when `quote` is
 * set, so the result reads back as a JSON string body), cut after `max`
 * characters of input with a note of how many more there were.
 */
export function escapeForMessage(text: string, max = 80, quote = false): string {
  let out = '';
  const end = Math.min(text.length, max);
  let i = 0;
  for (; i < end; i++) {
    const c = text.charCodeAt(i);
    if (c >= 0xd800 && c <= 0xdbff && i + 1 < text.length) {
      const d = text.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) { out += text[i]! + text[i + 1]!; i++; continue; }
    }
    if (quote && (c === 0x22 || c === 0x5c)) out += `\\${text[i]!}`;
    else if (needsEscape(c)) out += SHORT[c] ?? `\\u${c.toString(16).padStart(4, '0')}`;
    else out += text[i]!;
  }
  if (i < text.length) out += `…(${text.length - i} more characters)`;
  return out;
}

/** `text` in double quotes, escaped and cut: what a message shows of one input value. */
export function quoted(text: string, max = 80): string {
  return `"${escapeForMessage(text, max, true)}"`;
}

/**
 * A parser for p0f v3's signature file format (`p0f.fp`), written from p0f's
 * documentation (README section 5) and checked against p0f 3.09b itself:
 * every file p0f loads parses, and the differential tests compare labels.
 *
 * Contract: `parseSignatureFiles` reads one or more texts as one stream (as
 * p0f would read them concatenated: `classes` of the first serve the rest)
 * and returns the SYN signatures (`[tcp:request]`) in file order, which is
 * the order matching tries them. Any line p0f would refuse is refused here
 * with `file:line: what` (SignatureFileError), so a database honeyport loads
 * is one p0f loads. Other sections (`[mtu]`, `[tcp:response]`, `[http:*]`)
 * are checked for their structure (labels, sys, where a sig may stand) but
 * their signatures are not interpreted: honeyport fingerprints SYNs only.
 *
 * Limits: at most MAX_SIGNATURE_FILE_BYTES per file (the Debian file is
 * ~30 KiB); lines are cut at 4096 characters for messages.
 */
import { quoted } from '../validation/echo.js';
import { coveringSignature } from './covered.js';
import { IPV4_ONLY_QUIRKS, IPV6_ONLY_QUIRKS, MAX_TCP_OPTIONS, Quirk, type QuirkName } from './quirks.js';

export const MAX_SIGNATURE_FILE_BYTES = 4 * 1024 * 1024;
/**
 * Longest label accepted (p0f.fp's longest is under 60 characters): alarms
 * carry the label, and a UDP syslog datagram has room for ~2 KB in all.
 */
export const MAX_LABEL_LENGTH = 200;

export class SignatureFileError extends Error {}

/** File text in a message: quoted, escaped, cut. */
const show = (text: string): string => quoted(text);

/** How a signature constrains the window size. */
export type WindowRule =
  | { readonly kind: 'any' }
  | { readonly kind: 'value'; readonly value: number }
  | { readonly kind: 'modulo'; readonly value: number }
  | { readonly kind: 'mss'; readonly value: number }
  | { readonly kind: 'mtu'; readonly value: number };

export interface SignatureLabel {
  /** The label as the file writes it: `s:!:NMap:SYN scan`. */
  readonly text: string;
  /** `g`: considered only when no specific signature matches. */
  readonly generic: boolean;
  /** Class `!`: a tool, not an OS; never matched fuzzily (p0f's rule). */
  readonly tool: boolean;
  /** What p0f prints for it: the name (as first spelt in the file) and the flavour. */
  readonly display: string;
}

export interface SynSignature {
  readonly label: SignatureLabel;
  /** `file:line` of the sig line: provenance in alarms. */
  readonly where: string;
  /** 4, 6, or 0 for `*`. */
  readonly version: 0 | 4 | 6;
  /** Initial TTL (with `ittl+dist` summed). */
  readonly ttl: number;
  /** `ittl-`: a tool that randomises the TTL below this maximum. */
  readonly randomTtl: boolean;
  readonly ipOptionsLength: number;
  /** -1: any. */
  readonly mss: number;
  readonly window: WindowRule;
  /** -1: any. */
  readonly scale: number;
  /** Option kinds in order (EOL included); compared whole. */
  readonly layout: readonly number[];
  readonly eolPad: number;
  readonly quirks: number;
  /** -1 any, 0 no payload, 1 payload. */
  readonly payload: -1 | 0 | 1;
}

export interface SignatureSource {
  /** Shown in messages and provenance (a path or a name). */
  readonly name: string;
  readonly text: string;
}

export interface SignatureDatabase {
  readonly syn: readonly SynSignature[];
  /** Every `sig` line of every section (what p0f's "Loaded N signatures" counts). */
  readonly total: number;
}

/** p0f's NAME_CHARS besides letters and digits. */
const NAME_CHAR = /^[A-Za-z0-9 ./\-_!?()]$/;
const OPTION_KIND: Record<string, number> = { nop: 1, mss: 2, ws: 3, sok: 4, sack: 5, ts: 8 };

type State = 'section' | 'label' | 'sys' | 'sig';
type Module = 'tcp' | 'http' | 'mtu';

class Reader {
  private state: State = 'section';
  private module: Module = 'tcp';
  private request = true;
  private readonly classes: string[] = [];
  /** Lower-case name → first spelling (p0f prints the first). */
  private readonly names = new Map<string, string>();
  private label: SignatureLabel | undefined;
  readonly syn: SynSignature[] = [];
  /** SYN+ACK signatures: only for p0f's "already covered" rule, which holds per direction. */
  private readonly synAck: SynSignature[] = [];
  total = 0;
  where = '';

  fail(what: string): never {
    throw new SignatureFileError(`${this.where}: ${what}`);
  }

  line(text: string): void {
    if (text.startsWith('[')) {
      this.section(text);
      return;
    }
    const m = /^([A-Za-z_]+)[ \t]*=[ \t]*(.*)$/s.exec(text);
    if (!m) this.fail(`unexpected statement ${show(text)} (want [section] or key = value)`);
    const [, key, value] = m as unknown as [string, string, string];
    switch (key) {
      case 'classes':
        if (this.state !== 'section') this.fail('"classes" must come before the first section');
        this.parseClasses(value);
        return;
      case 'ua_os':
        if (this.state !== 'label' || this.module !== 'http' || !this.request) this.fail('"ua_os" belongs at the start of [http:request]');
        for (const item of value.split(',')) {
          const m = /^([^=[\]]*)(?:=\[[^\]]*\])?$/.exec(item.trim());
          if (!m) this.fail(`bad ua_os entry ${show(item)} (name or name=[alias])`);
          this.checkName(m[1]!, 'ua_os name');
        }
        return;
      case 'label':
        if (this.state !== 'label' && this.state !== 'sig') this.fail('"label" outside a section, or a tool label without its "sys" line');
        this.parseLabel(value);
        this.state = this.module !== 'mtu' && this.label?.tool ? 'sys' : 'sig';
        return;
      case 'sys':
        if (this.state !== 'sys') this.fail('"sys" must follow a label of class "!"');
        this.parseSys(value);
        this.state = 'sig';
        return;
      case 'sig':
        if (this.state !== 'sig') this.fail(this.state === 'sys' ? 'a tool label (class "!") needs a "sys" line before its sigs' : '"sig" before any label');
        this.total++;
        if (this.module === 'tcp') {
          // SYN+ACK signatures are checked as p0f checks them, and not kept.
          const sig = this.parseSyn(value);
          const same = this.request ? this.syn : this.synAck;
          const covering = coveringSignature(sig, same);
          if (covering) this.fail(`signature already covered by ${covering.where}`);
          same.push(sig);
        } else if (this.module === 'mtu') {
          if (!/^\d{1,5}$/.test(value) || Number(value) < 1 || Number(value) > 65535) this.fail(`bad MTU ${show(value)} (1-65535)`);
        } else if (!/^[01*]:/.test(value)) this.fail(`bad HTTP version in ${show(value)} (0, 1 or *)`);
        return;
      default:
        this.fail(`unknown key ${show(key)}`);
    }
  }

  private section(text: string): void {
    const m = /^\[(tcp|http):(request|response)\]$/.exec(text);
    if (text === '[mtu]') this.module = 'mtu';
    else if (m) {
      this.module = m[1] as Module;
      this.request = m[2] === 'request';
    } else this.fail(`unknown section ${show(text)} (p0f 3 knows [tcp:request], [tcp:response], [http:request], [http:response], [mtu])`);
    this.state = 'label';
    this.label = undefined;
  }

  /**
   * A comma-separated list read as p0f reads it: blanks and commas before an
   * item are skipped (so `a,,b` is two items and an empty list none), an item
   * is a run of `ok` characters, and must end at a comma or the line's end.
   */
  private list(value: string, ok: (ch: string) => boolean, what: string): string[] {
    const out: string[] = [];
    let i = 0;
    while (i < value.length) {
      while (i < value.length && (value[i] === ' ' || value[i] === '\t' || value[i] === ',')) i++;
      const start = i;
      if (value[i] === '@') i++;
      while (i < value.length && ok(value[i]!)) i++;
      if (i === start || (i < value.length && value[i] !== ',')) this.fail(`bad ${what} in ${show(value)}`);
      out.push(value.slice(start, i));
    }
    return out;
  }

  private parseClasses(value: string): void {
    for (const c of this.list(value, (ch) => /[A-Za-z0-9]/.test(ch), 'class (letters and digits)')) {
      if (c.startsWith('@')) this.fail(`bad class ${show(c)} (letters and digits)`);
      this.classes.push(c.toLowerCase());
    }
  }

  private nameOf(text: string): string {
    const key = text.toLowerCase();
    let first = this.names.get(key);
    if (first === undefined) {
      first = text;
      this.names.set(key, text);
    }
    return first;
  }

  private checkName(name: string, what: string): void {
    if (name.length === 0 || ![...name].every((ch) => NAME_CHAR.test(ch))) this.fail(`bad ${what} ${show(name)} (letters, digits and " ./-_!?()")`);
  }

  private parseLabel(value: string): void {
    if (value.length > MAX_LABEL_LENGTH) this.fail(`label longer than ${MAX_LABEL_LENGTH} characters`);
    if (this.module === 'mtu') {
      if (value.length === 0) this.fail('empty MTU label');
      this.label = { text: value, generic: false, tool: false, display: value };
      return;
    }
    const m = /^([sg]):([^:]*):([^:]*):(.*)$/s.exec(value);
    if (!m) this.fail(`bad label ${show(value)} (want type:class:name:flavor, type s or g)`);
    const [, type, cls, name, flavor] = m as unknown as [string, string, string, string, string];
    const tool = cls === '!';
    if (!tool && !this.classes.includes(cls.toLowerCase())) this.fail(`unknown class ${show(cls)} (not in "classes")`);
    this.checkName(name, 'name');
    const shown = this.nameOf(name);
    this.label = { text: value, generic: type === 'g', tool, display: flavor ? `${shown} ${flavor}` : shown };
  }

  private parseSys(value: string): void {
    for (const s of this.list(value, (ch) => NAME_CHAR.test(ch), 'sys entry (names or @classes)')) {
      if (s.startsWith('@')) {
        if (!this.classes.includes(s.slice(1).toLowerCase())) this.fail(`unknown class ${show(s)} in sys`);
      } else {
        this.checkName(s, 'sys entry');
        this.nameOf(s);
      }
    }
  }

  private int(text: string, min: number, max: number, what: string): number {
    if (!/^\d{1,6}$/.test(text)) this.fail(`bad ${what} ${show(text)}`);
    const n = Number(text);
    if (n < min || n > max) this.fail(`${what} ${n} out of range ${min}-${max}`);
    return n;
  }

  /** olen after `ittl-`: p0f skips its first character, then reads digits (none: 0). */
  private skippedInt(olen: string): number {
    // p0f skips one byte: a character of several UTF-8 bytes leaves the rest behind, which it refuses.
    if (olen.length === 0 || olen.codePointAt(0)! > 0x7f) this.fail(`bad IP option length ${show(olen)}`);
    const rest = olen.slice(1);
    return rest === '' ? 0 : this.int(rest, 0, 255, 'IP option length');
  }

  private parseSyn(value: string): SynSignature {
    let f = value.split(':');
    // p0f reads `64-0` as TTL 64 then olen 0: a `-` not followed by `:` only ends the number.
    const glued = f.length === 7 ? /^(\d+)-([^:]+)$/.exec(f[1]!) : null;
    if (glued) f = [f[0]!, glued[1]!, glued[2]!, ...f.slice(2)];
    if (f.length !== 8) this.fail(`bad sig ${show(value)} (want ver:ittl:olen:mss:wsize,scale:olayout:quirks:pclass)`);
    const [ver, ittl, olen, mss, win, layout, quirks, pclass] = f as [string, string, string, string, string, string, string, string];
    if (ver !== '4' && ver !== '6' && ver !== '*') this.fail(`bad IP version ${show(ver)} (4, 6 or *)`);
    const version = ver === '*' ? 0 : ver === '4' ? 4 : 6;

    const t = /^(\d+)(-|\+(\d+))?$/.exec(ittl);
    if (!t) this.fail(`bad initial TTL ${show(ittl)}`);
    let ttl = this.int(t[1]!, 1, 255, 'initial TTL');
    if (t[3] !== undefined) ttl = this.int(String(ttl + Number(t[3])), 1, 255, 'initial TTL + distance');

    const w = /^(?:(\*)|%(\d+)|(mss|mtu)\*(\d+)|(\d+)),(\*|\d+)$/.exec(win);
    if (!w) this.fail(`bad window ${show(win)} (want wsize,scale)`);
    let window: WindowRule;
    if (w[1]) window = { kind: 'any' };
    else if (w[2] !== undefined) window = { kind: 'modulo', value: this.int(w[2], 2, 65535, "window '%'") };
    else if (w[3] !== undefined) window = { kind: w[3] as 'mss' | 'mtu', value: this.int(w[4]!, 1, 1000, 'window multiplier') };
    else window = { kind: 'value', value: this.int(w[5]!, 0, 65535, 'window size') };

    const opts: number[] = [];
    let eolPad = 0;
    const items = layout === '' ? [] : layout.split(',');
    items.forEach((o, i) => {
      if (opts.length >= MAX_TCP_OPTIONS) this.fail(`more than ${MAX_TCP_OPTIONS} TCP options`);
      const eol = /^eol\+(\d+)$/.exec(o);
      if (eol) {
        if (i !== items.length - 1) this.fail('eol must be the last option');
        eolPad = this.int(eol[1]!, 0, 255, 'EOL padding');
        opts.push(0);
      } else if (o in OPTION_KIND) opts.push(OPTION_KIND[o]!);
      else if (/^\?\d+$/.test(o)) opts.push(this.int(o.slice(1), 0, 255, 'option number'));
      else this.fail(`unknown TCP option ${show(o)}`);
    });

    let bits = 0;
    for (const q of quirks === '' ? [] : quirks.split(',')) {
      if (!Object.hasOwn(Quirk, q)) this.fail(`unknown quirk ${show(q)}`);
      const bit = Quirk[q as QuirkName];
      if (version === 6 && bit & IPV4_ONLY_QUIRKS) this.fail(`quirk "${q}" is not valid for IPv6`);
      if (version === 4 && bit & IPV6_ONLY_QUIRKS) this.fail(`quirk "${q}" is not valid for IPv4`);
      bits |= bit;
    }
    if (pclass !== '*' && pclass !== '0' && pclass !== '+') this.fail(`bad payload class ${show(pclass)} (*, 0 or +)`);
    if (!this.label) this.fail('"sig" before any label');
    return {
      label: this.label,
      where: this.where,
      version,
      ttl,
      randomTtl: t[2] === '-',
      // p0f 3.09b steps one character too far after `ittl-:`, so the first
      // character of olen is skipped there (p0f.fp's random-TTL signatures all
      // have olen 0, where this changes nothing); the same here, for parity.
      ipOptionsLength: t[2] === '-' ? this.skippedInt(olen) : this.int(olen, 0, 255, 'IP option length'),
      mss: mss === '*' ? -1 : this.int(mss, 0, 65535, 'MSS'),
      window,
      scale: w[6] === '*' ? -1 : this.int(w[6]!, 0, 255, 'window scale'),
      layout: opts,
      eolPad,
      quirks: bits,
      payload: pclass === '*' ? -1 : pclass === '0' ? 0 : 1,
    };
  }
}

/** Parses the texts as one p0f.fp stream; throws SignatureFileError (`name:line: what`). */
export function parseSignatureFiles(sources: readonly SignatureSource[]): SignatureDatabase {
  const r = new Reader();
  for (const src of sources) {
    if (src.text.length > MAX_SIGNATURE_FILE_BYTES) throw new SignatureFileError(`${src.name}: larger than ${MAX_SIGNATURE_FILE_BYTES} bytes`);
    const lines = src.text.split('\n');
    for (let i = 0; i < lines.length; i++) {
      // p0f skips leading blanks; like p0f, a CR (CRLF file) stays part of the line, and is refused where it lands.
      const text = lines[i]!.replace(/^[ \t]+/, '');
      if (text === '' || text.startsWith(';')) continue;
      r.where = `${src.name}:${i + 1}`;
      r.line(text.length > 4096 ? text.slice(0, 4096) : text);
    }
  }
  return { syn: r.syn, total: r.total };
}

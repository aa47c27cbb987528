/**
 * Takes the clean file pages of read-only private file mappings (the node
 * executable, the shared libraries, the addon) out of the process's resident
 * set once the sensor is idle; pages it touches again are mapped again.
 *
 * Why: ~41 MB of an idle sensor's ~75 MB RSS were pages of the node
 * executable that start-up touched (the kernel maps up to 64 KiB around each
 * page fault), almost none of which an idle or even a flooded sensor runs
 * again. MADV_DONTNEED on such a mapping drops the page-table entries only:
 * the mapping stays, the pages stay in the page cache (shared with every
 * other process of the same file), and a page touched again is mapped from
 * there (a minor fault, no disk read). So this lowers what RSS counts — the
 * number `ps`, `top` and monitoring agents show per process — not what the
 * host's page cache holds; it is no saving of anonymous memory (README
 * "Idle footprint" gives RSS, PSS and anonymous memory before and after).
 *
 * Safe only for pages equal to the file: in a private mapping a written page
 * is a private copy (relocations, a debugger's breakpoint), and dropping it
 * would put the file's bytes back under the process. So a mapping is taken
 * only when it is private, not writable, backed by a named regular file
 * (not deleted, not a device or memfd) and smaps counts no anonymous page in
 * it; mapping it writable later is something no code of this process does.
 * Locked mappings are left alone (madvise refuses them anyway).
 */

/** One mapping to advise: [start, end), page-aligned addresses (below 2^47 on x86-64 and arm64: exact as doubles). */
export interface PageRange {
  readonly start: number;
  readonly end: number;
  readonly path: string;
  /** Resident KiB in it when smaps was read. */
  readonly rssKiB: number;
}

const HEADER = /^([0-9a-f]+)-([0-9a-f]+) (\S{4}) [0-9a-f]+ \S+ (\d+)\s*(.*)$/;

interface Candidate {
  start: number;
  end: number;
  perms: string;
  inode: number;
  path: string;
  rssKiB: number;
  anonymousKiB: number;
  locked: boolean;
}

function eligible(c: Candidate): boolean {
  const [r, w, , p] = c.perms;
  return (
    r === 'r' &&
    w === '-' &&
    p === 'p' &&
    c.inode !== 0 &&
    c.path.startsWith('/') &&
    !c.path.startsWith('/dev/') &&
    !c.path.startsWith('/memfd:') &&
    !c.path.endsWith(' (deleted)') &&
    c.anonymousKiB === 0 &&
    !c.locked &&
    c.rssKiB > 0
  );
}

/**
 * The mappings of `smaps` (the text of /proc/PID/smaps) whose resident
 * pages are all clean file pages (see the header), in address order.
 * Anything it cannot read — a field missing, a malformed header — is not
 * taken.
 */
export function cleanFileRanges(smaps: string): PageRange[] {
  const out: PageRange[] = [];
  let c: Candidate | undefined;
  let seen = { rss: false, anonymous: false };
  const close = (): void => {
    if (c && seen.rss && seen.anonymous && eligible(c)) out.push({ start: c.start, end: c.end, path: c.path, rssKiB: c.rssKiB });
  };
  for (const line of smaps.split('\n')) {
    const h = HEADER.exec(line);
    if (h) {
      close();
      c = { start: Number.parseInt(h[1]!, 16), end: Number.parseInt(h[2]!, 16), perms: h[3]!, inode: Number(h[4]), path: h[5]!.trim(), rssKiB: 0, anonymousKiB: -1, locked: false };
      seen = { rss: false, anonymous: false };
      continue;
    }
    if (!c) continue;
    if (line.startsWith('Rss:')) {
      c.rssKiB = kib(line);
      seen.rss = true;
    } else if (line.startsWith('Anonymous:')) {
      c.anonymousKiB = kib(line);
      seen.anonymous = true;
    } else if (line.startsWith('Locked:')) {
      c.locked = c.locked || kib(line) !== 0;
    } else if (line.startsWith('VmFlags:')) {
      c.locked = c.locked || /\blo\b/.test(line);
    }
  }
  close();
  return out;
}

/** "Rss:   1234 kB" → 1234; a field it cannot read counts as NaN, which fails every test above. */
function kib(line: string): number {
  const m = /:\s+(\d+) kB/.exec(line);
  return m ? Number(m[1]) : Number.NaN;
}

/** What one drop did. */
export interface DropResult {
  readonly mappings: number;
  /** Resident KiB of the mappings taken, as smaps said just before. */
  readonly residentKiB: number;
}

/**
 * Reads smaps, then advises every clean file mapping (the addon's
 * adviseDontNeed: MADV_DONTNEED over [start, end) pairs). Throws what the
 * read or the addon throws; the caller decides that a failed drop is
 * harmless (memory-trim.ts).
 */
export function dropCleanFilePages(readSmaps: () => string, advise: (ranges: Float64Array) => number): DropResult {
  const ranges = cleanFileRanges(readSmaps());
  const pairs = new Float64Array(ranges.length * 2);
  let residentKiB = 0;
  ranges.forEach((r, i) => {
    pairs[2 * i] = r.start;
    pairs[2 * i + 1] = r.end;
    residentKiB += r.rssKiB;
  });
  if (ranges.length > 0) advise(pairs);
  return { mappings: ranges.length, residentKiB };
}

/**
 * The disk spool of one sink: append-only segment files of lines
 * `<alarm time µs>\t<record>\n`, fsync'd in group commits, read from a head
 * cursor that survives restarts (head.json). Bounded: when the segments exceed
 * maxBytes the oldest segment is dropped whole and reported through onLoss.
 *
 * Crash safety: a torn last line is cut off at open; the head file is written
 * by rename but not fsync'd, so a crash can only move the head back (records
 * are sent again: at-least-once, event.id dedupes).
 */
import { mkdir, open, readdir, readFile, rename, truncate, unlink, writeFile, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { ConfigError } from '../../config/config-error.js';
import { DirectoryBusyError, lockDirectory, type DirectoryLock } from '../../lock/dir-lock.js';
import type { Entry, LossInfo } from '../entry.js';
import { mergeLoss, type LossListener, type Spool, type SpoolChunk, type SpoolCursor } from './spool.js';

interface Segment {
  readonly id: number;
  bytes: number;
  count: number;
  firstMicros: number;
  lastMicros: number;
}

const READ_BYTES = 1 << 20;
const SCAN_BYTES = 4 << 20;
/** Group commit: appends within this window share one fsync. */
const FLUSH_DELAY_MS = 10;
const FLUSH_NOW_BYTES = 4 << 20;
const TAB = 9;
const NL = 10;

const segmentName = (id: number): string => `${String(id).padStart(12, '0')}.seg`;

export class DiskSpool implements Spool {
  private segments: Segment[] = [];
  private head: SpoolCursor = { segment: 1, offset: 0, index: 0 };
  private writer: FileHandle | undefined;
  private reader: { id: number; fh: FileHandle } | undefined;
  private unflushed: Entry[] = [];
  private unflushedBytes = 0;
  private durableCount = 0;
  /** Entries taken from `unflushed` by a write still in progress. */
  private writing = 0;
  private segmentBytesTotal = 0;
  private flushChain: Promise<void> = Promise.resolve();
  private flushTimer: NodeJS.Timeout | undefined;
  private headChain: Promise<void> = Promise.resolve();
  private headDirty = false;
  private closed = false;
  private dirLock: DirectoryLock | undefined;
  private readonly segmentBytes: number;

  private constructor(private readonly dir: string, private readonly maxBytes: number, private readonly onLoss: LossListener) {
    // Drops happen a segment at a time: small segments keep each loss small.
    this.segmentBytes = Math.max(64 * 1024, Math.floor(maxBytes / 8));
  }

  /** Opens (creating) `dir`, takes its lock and recovers what a previous run left. */
  static async open(dir: string, maxBytes: number, onLoss: LossListener, subject = dir): Promise<DiskSpool> {
    const spool = new DiskSpool(dir, maxBytes, onLoss);
    try {
      await mkdir(dir, { recursive: true, mode: 0o700 });
      await spool.lock();
    } catch (err) {
      if (err instanceof ConfigError) throw err;
      throw new ConfigError(subject, `spool directory ${dir}: ${(err as Error).message}`);
    }
    try {
      await spool.recover();
    } catch (err) {
      await spool.dirLock?.release();
      throw new ConfigError(subject, `spool directory ${dir}: cannot recover: ${(err as Error).message}`);
    }
    return spool;
  }

  get count(): number {
    return this.durableCount + this.writing + this.unflushed.length;
  }

  get bytes(): number {
    return this.segmentBytesTotal - this.head.offset + this.unflushedBytes;
  }

  private async lock(): Promise<void> {
    try {
      this.dirLock = await lockDirectory(this.dir);
    } catch (err) {
      if (err instanceof DirectoryBusyError) throw new ConfigError(this.dir, `spool directory ${err.message}`);
      throw err;
    }
    // A pid file from versions that locked that way means nothing now.
    await unlink(join(this.dir, 'lock')).catch(() => undefined);
  }

  private async recover(): Promise<void> {
    const ids = (await readdir(this.dir))
      .map((f) => /^(\d{12})\.seg$/.exec(f))
      .filter((m): m is RegExpExecArray => m !== null)
      .map((m) => Number(m[1]))
      .sort((a, b) => a - b);
    const saved = await readFile(join(this.dir, 'head.json'), 'utf8')
      .then((t) => JSON.parse(t) as SpoolCursor)
      .catch(() => undefined);
    let head: SpoolCursor = saved && Number.isSafeInteger(saved.segment) && Number.isSafeInteger(saved.offset) ? saved : { segment: ids[0] ?? 1, offset: 0, index: 0 };
    for (const id of ids) {
      if (id < head.segment) {
        await unlink(join(this.dir, segmentName(id)));
        continue;
      }
      const seg = await this.scan(id);
      if (seg.bytes === 0 && id !== ids[ids.length - 1]) {
        await unlink(join(this.dir, segmentName(id)));
        continue;
      }
      this.segments.push(seg);
    }
    if (this.segments.length === 0 || this.segments[0]!.id !== head.segment) {
      head = { segment: this.segments[0]?.id ?? Math.max(head.segment, (ids[ids.length - 1] ?? 0) + 1), offset: 0, index: 0 };
    } else {
      const first = this.segments[0]!;
      const offset = Math.min(head.offset, first.bytes);
      head = { segment: first.id, offset, index: await this.countLines(first.id, offset) };
    }
    this.head = head;
    if (this.segments.length === 0) this.segments.push({ id: head.segment, bytes: 0, count: 0, firstMicros: 0, lastMicros: 0 });
    for (const s of this.segments) {
      this.durableCount += s.count;
      this.segmentBytesTotal += s.bytes;
    }
    this.durableCount -= head.index;
    const last = this.segments[this.segments.length - 1]!;
    this.writer = await open(join(this.dir, segmentName(last.id)), 'a', 0o600);
    await syncDir(this.dir);
  }

  /** Counts a segment's lines and times, cutting off a torn last line. */
  private async scan(id: number): Promise<Segment> {
    const file = join(this.dir, segmentName(id));
    const fh = await open(file, 'r');
    const seg: Segment = { id, bytes: 0, count: 0, firstMicros: 0, lastMicros: 0 };
    try {
      const buf = Buffer.allocUnsafe(SCAN_BYTES);
      let pos = 0;
      let lastLineStart = -1;
      let end = 0; // just after the last newline
      for (;;) {
        const { bytesRead } = await fh.read(buf, 0, SCAN_BYTES, pos);
        if (bytesRead === 0) break;
        if (pos === 0) seg.firstMicros = leadingNumber(buf, 0, bytesRead);
        let at = 0;
        for (;;) {
          const nl = buf.indexOf(NL, at);
          if (nl < 0 || nl >= bytesRead) break;
          seg.count++;
          lastLineStart = end;
          end = pos + nl + 1;
          at = nl + 1;
        }
        pos += bytesRead;
      }
      if (lastLineStart >= 0) {
        const { bytesRead } = await fh.read(buf, 0, 32, lastLineStart);
        seg.lastMicros = leadingNumber(buf, 0, bytesRead);
      }
      seg.bytes = end;
      if (pos > end) await truncate(file, end);
    } finally {
      await fh.close();
    }
    return seg;
  }

  private async countLines(id: number, upTo: number): Promise<number> {
    if (upTo === 0) return 0;
    const fh = await open(join(this.dir, segmentName(id)), 'r');
    try {
      const buf = Buffer.allocUnsafe(SCAN_BYTES);
      let n = 0;
      for (let pos = 0; pos < upTo; ) {
        const { bytesRead } = await fh.read(buf, 0, Math.min(SCAN_BYTES, upTo - pos), pos);
        if (bytesRead === 0) break;
        for (let at = buf.indexOf(NL, 0); at >= 0 && at < bytesRead; at = buf.indexOf(NL, at + 1)) n++;
        pos += bytesRead;
      }
      return n;
    } finally {
      await fh.close();
    }
  }

  append(entries: readonly Entry[]): void {
    if (this.closed) throw new Error('spool is closed');
    for (const e of entries) {
      this.unflushed.push(e);
      this.unflushedBytes += e.record.length + 18;
    }
    if (this.unflushedBytes >= FLUSH_NOW_BYTES) {
      if (this.flushTimer) clearTimeout(this.flushTimer);
      this.flushTimer = undefined;
      void this.flush().catch(() => undefined);
    } else if (!this.flushTimer) {
      this.flushTimer = setTimeout(() => {
        this.flushTimer = undefined;
        void this.flush().catch(() => undefined);
      }, FLUSH_DELAY_MS);
    }
  }

  flush(): Promise<void> {
    const run = this.flushChain.then(() => this.writeOut());
    this.flushChain = run.catch(() => undefined);
    return run;
  }

  private async writeOut(): Promise<void> {
    const entries = this.unflushed;
    if (entries.length === 0) return;
    this.unflushed = [];
    this.unflushedBytes = 0;
    this.writing = entries.length;
    let i = 0;
    try {
      while (i < entries.length) {
        let seg = this.segments[this.segments.length - 1]!;
        if (seg.bytes >= this.segmentBytes) seg = await this.rotate();
        const parts: string[] = [];
        let approx = 0;
        const start = i;
        while (i < entries.length && (i === start || seg.bytes + approx < this.segmentBytes)) {
          const e = entries[i++]!;
          const line = `${e.timeMicros}\t${e.record}\n`;
          parts.push(line);
          approx += line.length;
        }
        const chunk = Buffer.from(parts.join(''));
        await this.writer!.write(chunk);
        if (seg.count === 0) seg.firstMicros = entries[start]!.timeMicros;
        seg.lastMicros = entries[i - 1]!.timeMicros;
        seg.count += i - start;
        seg.bytes += chunk.length;
        this.segmentBytesTotal += chunk.length;
        this.durableCount += i - start;
        this.writing -= i - start;
      }
      await this.writer!.datasync();
    } catch (err) {
      // Keep what was not written, in order, for the next attempt.
      this.writing = 0;
      this.unflushed = entries.slice(i).concat(this.unflushed);
      for (const e of this.unflushed) this.unflushedBytes += e.record.length + 18;
      throw err;
    }
    this.enforceBound();
  }

  private async rotate(): Promise<Segment> {
    const prev = this.segments[this.segments.length - 1]!;
    await this.writer!.datasync();
    await this.writer!.close();
    const seg: Segment = { id: prev.id + 1, bytes: 0, count: 0, firstMicros: 0, lastMicros: 0 };
    this.writer = await open(join(this.dir, segmentName(seg.id)), 'a', 0o600);
    this.segments.push(seg);
    await syncDir(this.dir);
    this.dropConsumed();
    return seg;
  }

  private enforceBound(): void {
    let loss: LossInfo | undefined;
    while (this.segmentBytesTotal - this.head.offset > this.maxBytes && this.segments.length > 1) {
      const s = this.segments[0]!;
      const lost = s.count - this.head.index;
      if (lost > 0) loss = mergeLoss(loss, { count: lost, firstMicros: s.firstMicros, lastMicros: s.lastMicros });
      this.durableCount -= lost;
      this.removeHeadSegment();
    }
    if (loss) this.onLoss(loss);
  }

  /** Drops the head segment (consumed or overflowing) and moves the head to the next one. */
  private removeHeadSegment(): void {
    const s = this.segments.shift()!;
    this.segmentBytesTotal -= s.bytes;
    this.head = { segment: this.segments[0]!.id, offset: 0, index: 0 };
    if (this.reader?.id === s.id) {
      void this.reader.fh.close().catch(() => undefined);
      this.reader = undefined;
    }
    void unlink(join(this.dir, segmentName(s.id))).catch(() => undefined);
    this.saveHead();
  }

  private dropConsumed(): void {
    while (this.segments.length > 1 && this.head.offset >= this.segments[0]!.bytes) this.removeHeadSegment();
  }

  async peek(max: number): Promise<SpoolChunk | undefined> {
    if (this.durableCount === 0 && this.unflushed.length + this.writing > 0) await this.flush();
    this.dropConsumed();
    if (this.durableCount === 0) return undefined;
    const seg = this.segments[0]!;
    const head = this.head;
    if (!this.reader || this.reader.id !== seg.id) {
      if (this.reader) await this.reader.fh.close().catch(() => undefined);
      this.reader = { id: seg.id, fh: await open(join(this.dir, segmentName(seg.id)), 'r') };
    }
    const fh = this.reader.fh;
    for (let want = READ_BYTES; ; want *= 2) {
      const len = Math.min(want, seg.bytes - head.offset);
      const buf = Buffer.allocUnsafe(len);
      const { bytesRead } = await fh.read(buf, 0, len, head.offset);
      const entries: Entry[] = [];
      let at = 0;
      while (entries.length < max) {
        const nl = buf.indexOf(NL, at);
        if (nl < 0 || nl >= bytesRead) break;
        const tab = buf.indexOf(TAB, at);
        const recStart = tab >= 0 && tab < nl ? tab + 1 : at;
        entries.push({ timeMicros: leadingNumber(buf, at, nl), record: buf.toString('utf8', recStart, nl) });
        at = nl + 1;
      }
      if (entries.length > 0) return { entries, cursor: { segment: seg.id, offset: head.offset + at, index: head.index + entries.length } };
      if (len >= seg.bytes - head.offset) return undefined; // cannot happen: segments end with a newline
    }
  }

  commit(cursor: SpoolCursor): void {
    if (cursor.segment !== this.head.segment || cursor.offset <= this.head.offset) return;
    this.durableCount -= cursor.index - this.head.index;
    this.head = cursor;
    this.dropConsumed();
    this.saveHead();
  }

  /** Coalesced: at most one write in flight and one pending. */
  private saveHead(): void {
    if (this.headDirty) return;
    this.headDirty = true;
    this.headChain = this.headChain.then(async () => {
      this.headDirty = false;
      const tmp = join(this.dir, 'head.json.tmp');
      await writeFile(tmp, JSON.stringify(this.head));
      await rename(tmp, join(this.dir, 'head.json'));
    }).catch(() => undefined);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    if (this.flushTimer) clearTimeout(this.flushTimer);
    this.flushTimer = undefined;
    await this.flush().catch(() => undefined);
    this.closed = true;
    this.saveHead();
    await this.headChain;
    await this.writer?.close().catch(() => undefined);
    await this.reader?.fh.close().catch(() => undefined);
    await this.dirLock?.release();
  }
}

function leadingNumber(buf: Buffer, from: number, to: number): number {
  let n = 0;
  for (let i = from; i < to; i++) {
    const c = buf[i]!;
    if (c < 48 || c > 57) break;
    n = n * 10 + (c - 48);
  }
  return n;
}

/** A new segment file must survive a crash too: fsync its directory entry. */
async function syncDir(dir: string): Promise<void> {
  const fh = await open(dir, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/**
 * The disk spool of one sink: append-only segment files of framed records
 * (record-frame.ts: length, CRC, sequence number), fsync'd in group commits,
 * read from a head cursor that survives restarts (head.json), with the loss
 * ledger beside them (losses.json).
 *
 * Bound: checked before every record, not after a batch. When the segment
 * files would exceed maxBytes, the oldest segments go whole, counted in the
 * ledger; the files never exceed maxBytes by more than one record. Segments
 * are maxBytes/16 (4 KiB to 8 MiB) so a drop costs at most a sixteenth of
 * what the spool holds.
 *
 * Write errors (ENOSPC, EIO …): the records of the failed write are counted
 * lost in the ledger and the segment is cut back to its last whole record;
 * later appends try again (a drained spool frees space).
 *
 * Crash safety: at open every segment is checked frame by frame. A torn tail
 * is cut off; damaged frames (CRC, length, NUL fill) are skipped and counted
 * lost — exactly, from the sequence numbers around them, or as one record per
 * frame start seen when nothing good follows — and the segment is rewritten
 * without them. head.json is written by rename but not fsync'd, so a crash
 * can only move the head back (records are sent again: at-least-once,
 * event.id dedupes).
 */
import { mkdir, open, readdir, readFile, rename, stat, unlink, writeFile, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { ConfigError } from '../../config/config-error.js';
import { DirectoryBusyError, lockDirectory, type DirectoryLock } from '../../lock/dir-lock.js';
import type { Entry, LossInfo } from '../entry.js';
import { describeError } from '../sinks/tls-options.js';
import { loss, LossLedger, mergeLoss } from './loss-ledger.js';
import { frameBytes, MAGIC, MAX_RECORD_BYTES, readFrame, writeFrame } from './record-frame.js';
import type { Spool, SpoolChunk, SpoolCursor } from './spool.js';

interface Segment {
  readonly id: number;
  bytes: number;
  count: number;
  firstMicros: number;
  lastMicros: number;
}

const READ_BYTES = 1 << 20;
/** Group commit: appends within this window share one fsync. */
const FLUSH_DELAY_MS = 10;
const FLUSH_NOW_BYTES = 4 << 20;
const MIN_SEGMENT = 4 << 10;
const MAX_SEGMENT = 8 << 20;
/** A segment file larger than this is not ours (or not intact): it is not read whole. */
const MAX_SEGMENT_FILE = MAX_SEGMENT + frameBytes(MAX_RECORD_BYTES);

const segmentName = (id: number): string => `${String(id).padStart(12, '0')}.seg`;

export class DiskSpool implements Spool {
  private segments: Segment[] = [];
  private head: SpoolCursor = { segment: 1, offset: 0, index: 0 };
  private seq = 0;
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
  /** The chunk in flight: its end, and its times. */
  private peeked: { segment: number; index: number; firstMicros: number; lastMicros: number } | undefined;
  /** Entries of the chunk in flight whose segment the bound evicted: delivered if it succeeds, lost if not. */
  private orphan: LossInfo | undefined;
  writeError: string | undefined;
  private readonly segmentBytes: number;
  losses: LossLedger = LossLedger.inMemory();

  private constructor(private readonly dir: string, private readonly maxBytes: number) {
    this.segmentBytes = Math.min(MAX_SEGMENT, Math.max(MIN_SEGMENT, Math.floor(maxBytes / 16)));
  }

  /** Opens (creating) `dir`, takes its lock and recovers what a previous run left. */
  static async open(dir: string, maxBytes: number, subject = dir): Promise<DiskSpool> {
    const spool = new DiskSpool(dir, maxBytes);
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
    return this.segmentBytesTotal + this.unflushedBytes;
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
    this.losses = await LossLedger.load(join(this.dir, 'losses.json'));
    const ids = (await readdir(this.dir))
      .map((f) => /^(\d{12})\.seg$/.exec(f))
      .filter((m): m is RegExpExecArray => m !== null)
      .map((m) => Number(m[1]))
      .sort((a, b) => a - b);
    const saved = await readFile(join(this.dir, 'head.json'), 'utf8')
      .then((t) => JSON.parse(t) as SpoolCursor)
      .catch(() => undefined);
    const headSeg = saved && Number.isSafeInteger(saved.segment) && Number.isSafeInteger(saved.offset) ? saved.segment : (ids[0] ?? 1);
    const headOffset = saved && headSeg === saved.segment ? saved.offset : 0;
    const damage = new DamageCounter();
    for (const id of ids) {
      if (id < headSeg) {
        await unlink(join(this.dir, segmentName(id)));
        continue;
      }
      const seg = await this.recoverSegment(id, id === headSeg ? headOffset : 0, damage);
      if (seg.count === 0 && id !== ids[ids.length - 1]) {
        await unlink(join(this.dir, segmentName(id)));
        continue;
      }
      this.segments.push(seg);
    }
    damage.end();
    if (damage.lost) this.losses.add(damage.lost);
    if (this.segments.length === 0) this.segments.push({ id: Math.max(headSeg, (ids[ids.length - 1] ?? 0) + 1), bytes: 0, count: 0, firstMicros: 0, lastMicros: 0 });
    this.head = { segment: this.segments[0]!.id, offset: 0, index: 0 };
    for (const s of this.segments) {
      this.durableCount += s.count;
      this.segmentBytesTotal += s.bytes;
    }
    this.seq = damage.nextSeq;
    const last = this.segments[this.segments.length - 1]!;
    this.writer = await open(join(this.dir, segmentName(last.id)), 'a', 0o600);
    await syncDir(this.dir);
  }

  /**
   * Checks every frame of a segment from `from` (the saved head) on. A segment
   * with anything else — delivered frames before the head, damage, a torn
   * tail — is rewritten to hold exactly its pending good frames, so the head
   * of a recovered segment is always at 0.
   */
  private async recoverSegment(id: number, headOffset: number, damage: DamageCounter): Promise<Segment> {
    let from = headOffset;
    const file = join(this.dir, segmentName(id));
    const size = (await stat(file)).size;
    const seg: Segment = { id, bytes: 0, count: 0, firstMicros: 0, lastMicros: 0 };
    if (size > MAX_SEGMENT_FILE) {
      damage.region(1);
      await writeFile(file, '');
      return seg;
    }
    let buf: Buffer = await readFile(file);
    const legacy = isLegacy(buf);
    if (legacy) {
      // A segment of the line format before framing (`<µs>\t<record>\n`): converted, not lost on upgrade.
      buf = await this.convertLegacy(buf, from);
      from = 0;
    }
    const keep: [number, number][] = [];
    let at = 0;
    while (at < buf.length) {
      const r = readFrame(buf, at, buf.length);
      if (r.kind === 'ok') {
        if (at >= from) {
          damage.good(r.seq, r.entry.timeMicros);
          keep.push([at, r.next]);
          if (seg.count === 0) seg.firstMicros = r.entry.timeMicros;
          seg.lastMicros = r.entry.timeMicros;
          seg.count++;
        } else damage.delivered(r.seq, r.entry.timeMicros);
        at = r.next;
        continue;
      }
      // Damaged, or cut short by the end of the file (a torn tail).
      const next = r.kind === 'damaged' ? r.next : buf.length;
      if (next > from) damage.region(countMagics(buf, at, next));
      at = next;
    }
    const total = keep.reduce((a, [s, e]) => a + e - s, 0);
    if (legacy || total !== buf.length) {
      const clean = Buffer.concat(keep.map(([s, e]) => buf.subarray(s, e)));
      const tmp = `${file}.tmp`;
      const fh = await open(tmp, 'w', 0o600);
      try {
        await fh.writeFile(clean);
        await fh.datasync();
      } finally {
        await fh.close();
      }
      await rename(tmp, file);
    }
    seg.bytes = total;
    return seg;
  }

  /** Frames the whole lines of a line-format segment from byte `from` on (a torn last line is dropped). */
  private async convertLegacy(buf: Buffer, from: number): Promise<Buffer> {
    const frames: Buffer[] = [];
    for (let at = from, nl = buf.indexOf(10, at); nl >= 0; at = nl + 1, nl = buf.indexOf(10, at)) {
      const tab = buf.indexOf(9, at);
      if (tab < 0 || tab > nl) continue;
      const e: Entry = { timeMicros: Number(buf.toString('latin1', at, tab)) || 0, record: buf.toString('utf8', tab + 1, nl) };
      const payload = Buffer.byteLength(e.record);
      if (payload === 0 || payload > MAX_RECORD_BYTES) continue;
      const f = Buffer.allocUnsafe(frameBytes(payload));
      writeFrame(f, 0, e, payload, this.seq);
      this.seq = (this.seq + 1) >>> 0;
      frames.push(f);
    }
    return Buffer.concat(frames);
  }

  append(entries: readonly Entry[]): void {
    if (this.closed) throw new Error('spool is closed');
    for (const e of entries) {
      this.unflushed.push(e);
      this.unflushedBytes += frameBytes(e.record.length);
    }
    if (this.unflushedBytes >= FLUSH_NOW_BYTES) {
      if (this.flushTimer) clearTimeout(this.flushTimer);
      this.flushTimer = undefined;
      void this.flush();
    } else if (!this.flushTimer) {
      this.flushTimer = setTimeout(() => {
        this.flushTimer = undefined;
        void this.flush();
      }, FLUSH_DELAY_MS);
    }
  }

  /** Never rejects: what cannot be written is counted lost (and writeError says why). */
  flush(): Promise<void> {
    const run = this.flushChain.then(() => this.writeOut());
    this.flushChain = run;
    return run;
  }

  private async writeOut(): Promise<void> {
    const entries = this.unflushed;
    if (entries.length === 0) return;
    this.unflushed = [];
    this.unflushedBytes = 0;
    this.writing = entries.length;
    let buf = Buffer.allocUnsafe(Math.min(FLUSH_NOW_BYTES * 2, Math.max(64 << 10, this.segmentBytes)));
    let used = 0;
    let framed: LossInfo | undefined; // the records in buf, for the loss count if the write fails
    const write = async (): Promise<void> => {
      if (used === 0) return;
      const seg = this.segments[this.segments.length - 1]!;
      const n = framed!.count;
      await this.writeAll(buf.subarray(0, used), seg.bytes);
      if (seg.count === 0) seg.firstMicros = framed!.firstMicros;
      seg.lastMicros = framed!.lastMicros;
      seg.count += n;
      seg.bytes += used;
      this.segmentBytesTotal += used;
      this.durableCount += n;
      this.writing -= n;
      used = 0;
      framed = undefined;
    };
    let i = 0;
    try {
      for (; i < entries.length; i++) {
        const e = entries[i]!;
        const payload = Buffer.byteLength(e.record);
        if (payload > MAX_RECORD_BYTES || payload === 0) {
          this.losses.add(loss('write_error', 1, e.timeMicros));
          this.writing--;
          continue;
        }
        const size = frameBytes(payload);
        // The bound, per record: make room by dropping the oldest segments before writing.
        const removals: Promise<void>[] = [];
        while (this.segmentBytesTotal + used + size > this.maxBytes && this.segments.length > 1) removals.push(this.evictHead());
        if (removals.length) await Promise.all(removals);
        const active = this.segments[this.segments.length - 1]!;
        if (active.bytes + used > 0 && active.bytes + used + size > this.segmentBytes) {
          await write();
          await this.rotate();
          // Evictions before this record counted the old active segment; check again with the new one.
          while (this.segmentBytesTotal + size > this.maxBytes && this.segments.length > 1) removals.push(this.evictHead());
          if (removals.length) await Promise.all(removals);
        }
        if (used + size > buf.length) {
          await write();
          if (size > buf.length) buf = Buffer.allocUnsafe(size);
        }
        used = writeFrame(buf, used, e, payload, this.seq);
        this.seq = (this.seq + 1) >>> 0;
        framed = mergeLoss(framed, loss('write_error', 1, e.timeMicros));
      }
      await write();
      await this.writer!.datasync();
      this.writeError = undefined;
    } catch (err) {
      // Everything not yet counted durable is lost: the records in buf, and entry i (a throw inside the loop comes before it is framed) and those after it.
      let lost = framed;
      for (let j = i; j < entries.length; j++) lost = mergeLoss(lost, loss('write_error', 1, entries[j]!.timeMicros));
      this.writing = 0;
      this.writeError = `writing ${this.dir}: ${describeError(err)}`;
      if (lost) this.losses.add({ ...lost, detail: this.writeError });
    }
  }

  /** Appends all of `chunk` to the active segment, or cuts the segment back to `size` and throws. */
  private async writeAll(chunk: Buffer, size: number): Promise<void> {
    try {
      let done = 0;
      while (done < chunk.length) {
        const { bytesWritten } = await this.writer!.write(chunk, done, chunk.length - done);
        if (bytesWritten <= 0) throw Object.assign(new Error('no space left on device'), { code: 'ENOSPC' });
        done += bytesWritten;
      }
    } catch (err) {
      await this.writer!.truncate(size).catch(() => undefined);
      throw err;
    }
  }

  private async rotate(): Promise<void> {
    const prev = this.segments[this.segments.length - 1]!;
    await this.writer!.datasync();
    await this.writer!.close();
    this.writer = undefined;
    const seg: Segment = { id: prev.id + 1, bytes: 0, count: 0, firstMicros: 0, lastMicros: 0 };
    this.segments.push(seg);
    this.writer = await open(join(this.dir, segmentName(seg.id)), 'a', 0o600);
    await syncDir(this.dir);
    await Promise.all(this.dropConsumed());
  }

  /** Drops the oldest segment for room; what it held that was not in flight is lost. */
  private evictHead(): Promise<void> {
    const s = this.segments[0]!;
    const pending = s.count - this.head.index;
    const p = this.peeked;
    const inflight = p && p.segment === s.id ? p.index - this.head.index : 0;
    if (inflight > 0) this.orphan = mergeLoss(this.orphan, loss('spool_full', inflight, p!.firstMicros, p!.lastMicros));
    if (pending - inflight > 0) this.losses.add(loss('spool_full', pending - inflight, inflight > 0 ? p!.lastMicros : s.firstMicros, s.lastMicros));
    this.durableCount -= pending;
    return this.removeHeadSegment();
  }

  /** Drops the head segment (consumed or evicted) and moves the head to the next one. */
  private removeHeadSegment(): Promise<void> {
    const s = this.segments.shift()!;
    this.segmentBytesTotal -= s.bytes;
    this.head = { segment: this.segments[0]!.id, offset: 0, index: 0 };
    if (this.reader?.id === s.id) {
      void this.reader.fh.close().catch(() => undefined);
      this.reader = undefined;
    }
    this.saveHead();
    return unlink(join(this.dir, segmentName(s.id))).catch(() => undefined);
  }

  private dropConsumed(): Promise<void>[] {
    const removals: Promise<void>[] = [];
    while (this.segments.length > 1 && this.head.index >= this.segments[0]!.count) removals.push(this.removeHeadSegment());
    return removals;
  }

  async peek(max: number): Promise<SpoolChunk | undefined> {
    if (this.orphan) this.losses.add(this.orphan); // the chunk in flight failed after the bound evicted it
    this.orphan = undefined;
    this.peeked = undefined;
    if (this.durableCount === 0 && this.unflushed.length + this.writing > 0) await this.flush();
    await Promise.all(this.dropConsumed());
    if (this.durableCount === 0) return undefined;
    const seg = this.segments[0]!;
    const head = this.head;
    // A write may evict this segment while we await: then start again from the new head.
    const moved = (): boolean => this.segments[0] !== seg || this.head !== head;
    if (!this.reader || this.reader.id !== seg.id) {
      if (this.reader) await this.reader.fh.close().catch(() => undefined);
      this.reader = undefined;
      let fh: FileHandle;
      try {
        fh = await open(join(this.dir, segmentName(seg.id)), 'r');
      } catch (err) {
        if (moved()) return this.peek(max);
        throw err;
      }
      if (moved()) {
        await fh.close();
        return this.peek(max);
      }
      this.reader = { id: seg.id, fh };
    }
    const fh = this.reader.fh;
    for (let want = READ_BYTES; ; want *= 2) {
      const len = Math.min(want, seg.bytes - head.offset);
      const buf = Buffer.allocUnsafe(len);
      const { bytesRead } = await fh.read(buf, 0, len, head.offset);
      if (moved()) return this.peek(max);
      const entries: Entry[] = [];
      let at = 0;
      let skipped = 0;
      while (entries.length < max && at < bytesRead) {
        const r = readFrame(buf, at, bytesRead);
        if (r.kind === 'short') break;
        if (r.kind === 'damaged') {
          // Changed on disk since it was checked at open: skip it, counted lost.
          skipped++;
          at = r.next;
          continue;
        }
        entries.push(r.entry);
        at = r.next;
      }
      const whole = len >= seg.bytes - head.offset;
      if (entries.length === 0 && skipped === 0) {
        if (!whole) continue; // one record larger than the window
        // Nothing readable where records should be (the file changed under us): the rest of the segment is lost.
        const rest = seg.count - head.index;
        if (rest > 0) this.losses.add(loss('damaged', rest, seg.firstMicros, seg.lastMicros));
        this.commitDamaged({ segment: seg.id, offset: seg.bytes, index: seg.count });
        await Promise.all(this.dropConsumed());
        return this.durableCount > 0 ? this.peek(max) : undefined;
      }
      const damaged = Math.min(skipped, seg.count - head.index - entries.length);
      if (damaged > 0) this.losses.add(loss('damaged', damaged, entries[0]?.timeMicros ?? seg.firstMicros, seg.lastMicros));
      const index = entries.length + damaged >= seg.count - head.index || at >= seg.bytes - head.offset ? seg.count : head.index + entries.length + damaged;
      const cursor = { segment: seg.id, offset: head.offset + at, index };
      if (entries.length === 0) {
        this.commitDamaged(cursor);
        return this.peek(max);
      }
      this.peeked = { segment: seg.id, index, firstMicros: entries[0]!.timeMicros, lastMicros: entries[entries.length - 1]!.timeMicros };
      return { entries, cursor };
    }
  }

  private commitDamaged(cursor: SpoolCursor): void {
    this.durableCount -= cursor.index - this.head.index;
    this.head = cursor;
    this.saveHead();
  }

  commit(cursor: SpoolCursor): void {
    this.peeked = undefined;
    if (this.orphan) {
      // The bound evicted this chunk's segment while it was in flight; it arrived after all.
      this.orphan = undefined;
      return;
    }
    if (cursor.segment !== this.head.segment || cursor.offset <= this.head.offset) return;
    this.durableCount -= cursor.index - this.head.index;
    this.head = cursor;
    void Promise.all(this.dropConsumed());
    this.saveHead();
  }

  checkpoint(): Promise<void> {
    return this.headChain;
  }

  /** Coalesced: at most one write in flight and one pending. */
  private saveHead(): void {
    if (this.headDirty) return;
    this.headDirty = true;
    this.headChain = this.headChain
      .then(async () => {
        this.headDirty = false;
        const tmp = join(this.dir, 'head.json.tmp');
        await writeFile(tmp, JSON.stringify(this.head));
        await rename(tmp, join(this.dir, 'head.json'));
      })
      .catch(() => undefined);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    if (this.flushTimer) clearTimeout(this.flushTimer);
    this.flushTimer = undefined;
    await this.flush();
    this.closed = true;
    if (this.orphan) this.losses.add(this.orphan);
    this.orphan = undefined;
    this.saveHead();
    await this.headChain;
    await this.losses.flush();
    await this.writer?.close().catch(() => undefined);
    await this.reader?.fh.close().catch(() => undefined);
    await this.dirLock?.release();
  }
}

/**
 * Counts the records lost to damage found at open: exactly from the sequence
 * numbers of the good frames around a damaged region; a region with no good
 * frame after it counts one record per frame start (magic) it holds, at least one.
 */
class DamageCounter {
  private lastSeq: number | undefined;
  private lastMicros = 0;
  /** Frame starts seen in damage since the last good frame; undefined: no damage pending. */
  private magics: number | undefined;
  lost: LossInfo | undefined;
  nextSeq = 0;

  good(seq: number, micros: number): void {
    if (this.magics !== undefined) {
      const gap = this.lastSeq === undefined ? 0 : (seq - this.lastSeq - 1) >>> 0;
      const n = gap > 0 && gap < 2 ** 31 ? gap : Math.max(1, this.magics);
      this.lost = mergeLoss(this.lost, loss('damaged', n, this.lastSeq === undefined ? micros : this.lastMicros, micros));
      this.magics = undefined;
    }
    this.delivered(seq, micros);
  }

  /** A good frame before the head: not pending, but it anchors the sequence. */
  delivered(seq: number, micros: number): void {
    this.lastSeq = seq;
    this.lastMicros = micros;
    this.nextSeq = (seq + 1) >>> 0;
  }

  region(magics: number): void {
    this.magics = (this.magics ?? 0) + magics;
  }

  end(): void {
    if (this.magics === undefined) return;
    this.lost = mergeLoss(this.lost, loss('damaged', Math.max(1, this.magics), this.lastMicros || Date.now() * 1000));
    this.magics = undefined;
  }
}

/** The line format's segments start with the alarm time in decimal; framed ones with the magic. */
function isLegacy(buf: Buffer): boolean {
  return buf.length > 0 && buf[0]! >= 0x30 && buf[0]! <= 0x39;
}

function countMagics(buf: Buffer, from: number, to: number): number {
  let n = 0;
  for (let at = buf.indexOf(MAGIC, from); at >= 0 && at < to; at = buf.indexOf(MAGIC, at + 1)) n++;
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

/**
 * JSON lines appended to a file. reopen() (SIGHUP) makes the next write open
 * the path afresh, as logrotate's default (rename, then HUP) expects; with
 * `rotate`, the sink renames path → path.1 … path.N itself at a size limit.
 */
import { open, rename, type FileHandle } from 'node:fs/promises';
import { ConfigError } from '../../../config/config-error.js';
import type { FileSinkConfig } from './index.js';
import type { Formatted, Transport } from '../../entry.js';
import { describeError } from '../tls-options.js';

export class FileTransport implements Transport {
  private fh: FileHandle | undefined;
  private size = 0;
  private reopenWanted = false;

  constructor(private readonly c: FileSinkConfig) {}

  encode(f: Formatted): string {
    return f.json;
  }

  async open(): Promise<void> {
    try {
      await this.openFile();
    } catch (err) {
      throw new ConfigError(this.c.name, `cannot open ${this.c.path} for appending: ${describeError(err)}`);
    }
  }

  private async openFile(): Promise<void> {
    this.fh = await open(this.c.path, 'a', 0o640);
    this.size = (await this.fh.stat()).size;
  }

  reopen(): void {
    this.reopenWanted = true;
  }

  async send(records: readonly string[]): Promise<void> {
    const chunk = `${records.join('\n')}\n`;
    const bytes = Buffer.byteLength(chunk);
    if (this.reopenWanted || !this.fh) {
      this.reopenWanted = false;
      await this.fh?.close().catch(() => undefined);
      this.fh = undefined;
      await this.openFile();
    }
    const r = this.c.rotate;
    if (r && this.size > 0 && this.size + bytes > r.maxBytes) await this.rotate(r.keep);
    try {
      await this.fh!.write(chunk);
    } catch (err) {
      // Reopen on the next attempt: the file may have been removed or the disk remounted.
      await this.fh?.close().catch(() => undefined);
      this.fh = undefined;
      throw err;
    }
    this.size += bytes;
  }

  private async rotate(keep: number): Promise<void> {
    await this.fh?.close();
    this.fh = undefined;
    const p = this.c.path;
    for (let i = keep - 1; i >= 1; i--) await rename(`${p}.${i}`, `${p}.${i + 1}`).catch(() => undefined);
    await rename(p, `${p}.1`).catch(() => undefined);
    await this.openFile();
  }

  async close(): Promise<void> {
    await this.fh?.close().catch(() => undefined);
    this.fh = undefined;
  }
}

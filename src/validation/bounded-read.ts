/**
 * Reads a small text file (policy, sensor config) with a size limit, so an
 * endless file (/dev/zero, a FIFO that never ends) or a huge one costs at most
 * the limit in memory instead of an allocation failure. A regular file over
 * the limit is refused from its size alone, without reading it.
 */
import { open } from 'node:fs/promises';

export class FileTooLargeError extends Error {
  constructor(readonly limitBytes: number) {
    super(`larger than the limit of ${Math.round(limitBytes / 1048576)} MiB`);
    this.name = 'FileTooLargeError';
  }
}

const CHUNK = 1 << 20;

/** UTF-8 text of `path`; throws FileTooLargeError beyond `limitBytes`, the OS error when it cannot be read. */
export async function readBoundedText(path: string, limitBytes: number): Promise<string> {
  const fh = await open(path, 'r');
  try {
    const st = await fh.stat();
    if (st.isFile() && st.size > limitBytes) throw new FileTooLargeError(limitBytes);
    const chunks: Buffer[] = [];
    let total = 0;
    for (;;) {
      // One byte past the limit tells "exactly at the limit" from "over it".
      const want = Math.min(CHUNK, limitBytes + 1 - total);
      const buf = Buffer.allocUnsafe(want);
      const { bytesRead } = await fh.read(buf, 0, want, null);
      if (bytesRead === 0) break;
      chunks.push(buf.subarray(0, bytesRead));
      total += bytesRead;
      if (total > limitBytes) throw new FileTooLargeError(limitBytes);
    }
    return Buffer.concat(chunks, total).toString('utf8');
  } finally {
    await fh.close();
  }
}

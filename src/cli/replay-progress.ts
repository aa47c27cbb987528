/** The replay progress line: where the run is over all its files, not just the one being read. */
import { basename } from 'node:path';
import type { ReplayProgress } from '../pipeline/replay.js';

export function progressText(p: ReplayProgress): string {
  const files = p.files > 1 ? ` (file ${p.fileIndex + 1} of ${p.files})` : '';
  const pct = p.totalBytes ? `${Math.min(100, (100 * p.bytesRead) / p.totalBytes).toFixed(0)}% ` : '';
  return `replay ${basename(p.file)}${files}: ${pct}${p.packets} packets`;
}

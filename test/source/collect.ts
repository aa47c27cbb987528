/** Test support: drains a capture reader into plain frames, keeping a thrown error. */
import type { CaptureSummary } from '../../src/source/capture-file.js';
import type { FrameBatch } from '../../src/source/frame-batch.js';

export interface ReadFrame {
  index: number;
  data: Buffer;
  tsMicros: number;
  wirelen: number;
  linktype: number;
  iface: number;
  vlan: number;
}

export interface Drained {
  frames: ReadFrame[];
  summary?: CaptureSummary;
  error?: unknown;
  batches: number;
}

export async function drain(gen: AsyncGenerator<FrameBatch, CaptureSummary>): Promise<Drained> {
  const frames: ReadFrame[] = [];
  let batches = 0;
  try {
    for (;;) {
      const r = await gen.next();
      if (r.done) return { frames, summary: r.value, batches };
      const b = r.value;
      batches++;
      if (b.firstIndex !== frames.length) throw new Error(`firstIndex ${b.firstIndex}, expected ${frames.length}`);
      for (let i = 0; i < b.count; i++) {
        frames.push({
          index: b.firstIndex + i,
          // Copied: the reader reuses its buffer for the next batch.
          data: Buffer.from(b.data.subarray(b.offset[i], b.offset[i] + b.caplen[i])),
          tsMicros: b.tsMicros[i],
          wirelen: b.wirelen[i],
          linktype: b.linktype[i],
          iface: b.iface[i],
          vlan: b.vlan[i],
        });
      }
    }
  } catch (error) {
    return { frames, error, batches };
  }
}

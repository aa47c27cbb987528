/** The file sink: JSON lines appended to a path, reopened on SIGHUP, optional size rotation. */
import { z } from 'zod';
import { cleanName, common, path, positiveInt, queueConfig, size, type SinkBase } from '../fields.js';
import type { SinkType } from '../sink-type.js';
import { badSpec, commonKeys, splitQuery } from '../spec-query.js';

export interface FileSinkConfig extends SinkBase {
  readonly type: 'file';
  readonly path: string;
  /** Rotate when the file would exceed maxBytes, keeping `keep` old files (path.1 … path.N). */
  readonly rotate?: { readonly maxBytes: number; readonly keep: number };
}

const schema = z.strictObject({
  type: z.literal('file'),
  ...common,
  path,
  rotate: z.strictObject({ max_bytes: size('rotate.max_bytes'), keep: positiveInt(1000).default(5) }).optional(),
});

export const fileSink: SinkType<z.output<typeof schema>, FileSinkConfig> = {
  type: 'file',
  schema,
  specForms: 'file:PATH',
  fromSpec(spec) {
    if (!spec.startsWith('file:')) return undefined;
    const [p, q] = splitQuery(spec.slice(5));
    if (!p) badSpec(spec, 'file: needs a path, e.g. file:/var/log/honeyport/alarms.json');
    return {
      type: 'file',
      path: p,
      ...commonKeys(q),
      ...(q.has('rotate') ? { rotate: { max_bytes: q.get('rotate'), ...(q.has('keep') ? { keep: Number(q.get('keep')) } : {}) } } : {}),
    };
  },
  defaultName: (raw) => `file-${cleanName(raw.path)}`,
  config: (raw, base) => ({
    ...base,
    type: 'file',
    queue: queueConfig(raw.queue, 4096),
    path: raw.path,
    ...(raw.rotate ? { rotate: { maxBytes: raw.rotate.max_bytes, keep: raw.rotate.keep } } : {}),
  }),
  transport: async (c) => new (await import('./transport.js')).FileTransport(c),
};

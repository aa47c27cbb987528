/** The stdout sink: JSON lines on the process's standard output. */
import { z } from 'zod';
import { common, queueConfig, type SinkBase } from '../fields.js';
import type { SinkType } from '../sink-type.js';
import { commonKeys, splitQuery } from '../spec-query.js';

export interface StdoutSinkConfig extends SinkBase {
  readonly type: 'stdout';
}

const schema = z.strictObject({ type: z.literal('stdout'), ...common });

export const stdoutSink: SinkType<z.output<typeof schema>, StdoutSinkConfig> = {
  type: 'stdout',
  schema,
  specForms: 'stdout',
  fromSpec: (spec) => (spec === 'stdout' || spec.startsWith('stdout?') ? { type: 'stdout', ...commonKeys(splitQuery(spec)[1]) } : undefined),
  defaultName: () => 'stdout',
  config: (raw, base) => ({ ...base, type: 'stdout', queue: queueConfig(raw.queue, 4096) }),
  transport: async (_c, env) => new (await import('./transport.js')).StreamTransport(env.stdout),
};

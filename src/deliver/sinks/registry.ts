/**
 * Every sink type honeyport knows. A new sink is a folder next to these
 * (schema, `--output` parser, transport: see sink-type.ts) and one line here.
 */
import { fileSink } from './file/index.js';
import { httpSink } from './http/index.js';
import type { SinkType } from './sink-type.js';
import { stdoutSink } from './stdout/index.js';
import { syslogSink } from './syslog/index.js';

export const SINK_TYPES = [stdoutSink, fileSink, syslogSink, httpSink] as const;

type ConfigOf<T> = T extends SinkType<infer _R, infer C> ? C : never;
/** The config of any sink: a union discriminated by `type`. */
export type SinkConfig = ConfigOf<(typeof SINK_TYPES)[number]>;

/** Erased for lookups by `type`: the entry found is always the one whose schema parsed the document. */
export type AnySinkType = SinkType<any, any>;

export function sinkType(type: string): AnySinkType {
  const t = SINK_TYPES.find((s) => s.type === type);
  if (!t) throw new Error(`unknown sink type ${type}`);
  return t as AnySinkType;
}

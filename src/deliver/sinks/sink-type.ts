/**
 * What a sink type is: its config document's schema, its `--output` spec
 * parser and its transport. Each type lives in its own folder under
 * src/deliver/sinks/ and is listed once in registry.ts; nothing else names it.
 */
import type { Writable } from 'node:stream';
import type { z } from 'zod';
import type { Transport } from '../entry.js';
import type { SinkBase } from './fields.js';

/** What every transport factory may need from its surroundings. */
export interface TransportEnv {
  readonly stdout: Writable;
}

export interface SinkType<Raw extends { readonly type: string; readonly name?: string | undefined; readonly format: SinkBase['format'] }, Config extends SinkBase & { readonly type: string }> {
  readonly type: Config['type'];
  /** The sink document in the config file (snake_case), `type` included. */
  readonly schema: z.ZodType<Raw>;
  /** How its `--output` specs look, for the error that lists them all. */
  readonly specForms: string;
  /** The raw document for an `--output` spec of this type; undefined when the spec is another type's. */
  fromSpec(spec: string): Record<string, unknown> | undefined;
  /** A stable default name, so a restart with the same config finds the same spool. */
  defaultName(raw: Raw): string;
  config(raw: Raw, base: Pick<SinkBase, 'name' | 'format'>): Config;
  /** Problems the schema cannot see field by field; `at` names the sink ("sinks[2]"). */
  crossCheck?(c: Config, at: string): string[];
  /** Loaded lazily: parsing a config does not load network stacks. */
  transport(c: Config, env: TransportEnv): Promise<Transport>;
}

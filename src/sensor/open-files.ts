/**
 * The open-files limit the live sensor needs, checked before anything is
 * loaded or opened: below it the sensor would die later with EMFILE from
 * inside a dependency (a module load, a sink, an accept()) instead of saying
 * what is wrong. The need is an upper bound from the sensor's own caps, so a
 * flood that fills every cap still fits.
 * Linux only (the limit is read from /proc/self/limits; Node has no getrlimit).
 */
import { readFileSync } from 'node:fs';
import { PORT_HOLDER_DEFAULTS } from '../ports/port-holder.js';
import { MAX_PORTS } from '../policy/policy.js';
import { MAX_STATUS_CLIENTS } from './control-socket.js';

/** Node itself, its libraries, stdio, the module loader's transient opens (idle sensor measured at ~25). */
const RUNTIME_FILES = 64;
/** Sinks with their sockets, files and spool files; generous, they are few. */
const DELIVERY_FILES = 64;

export function openFilesNeeded(interfaces: number): number {
  // Each policy port: an IPv4 or IPv6 listener; each interface: one packet socket; one for the host lock.
  return RUNTIME_FILES + DELIVERY_FILES + PORT_HOLDER_DEFAULTS.maxConnections + MAX_PORTS + interfaces + MAX_STATUS_CLIENTS + 1;
}

/** The soft "Max open files" of /proc/PID/limits text; Infinity for unlimited, undefined when absent. */
export function parseOpenFilesLimit(limitsText: string): number | undefined {
  const m = /^Max open files\s+(\S+)/m.exec(limitsText);
  if (!m) return undefined;
  if (m[1] === 'unlimited') return Infinity;
  const n = Number(m[1]);
  return Number.isSafeInteger(n) ? n : undefined;
}

/** A one-line problem when the soft limit is below `needed`; undefined when it suffices or cannot be read. */
export function openFilesProblem(needed: number, limitsText?: string): string | undefined {
  let text = limitsText;
  if (text === undefined) {
    try {
      text = readFileSync('/proc/self/limits', 'utf8');
    } catch {
      return undefined; // no /proc: nothing to judge by; the port holder still names EMFILE
    }
  }
  const limit = parseOpenFilesLimit(text);
  if (limit === undefined || limit >= needed) return undefined;
  return `the open-files limit is ${limit}; the sensor needs at least ${needed} (raise \`ulimit -n\` or LimitNOFILE)`;
}

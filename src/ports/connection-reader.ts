/**
 * Reads one accepted honeypot connection: up to `maxBytes` with an overall
 * deadline, then destroys it. Nothing is ever written to the peer. Memory per
 * connection is one `maxBytes` buffer plus at most one socket read chunk,
 * since the socket is destroyed as soon as the buffer is full.
 */
import type { Socket } from 'node:net';
import { escapeBytes } from './escape-bytes.js';
import type { ClosedBy, ConnectionFact } from './types.js';

export interface ReadLimits {
  readonly maxBytes: number;
  /** Deadline from accept, not an idle timeout: trickling bytes does not extend it. */
  readonly timeoutMs: number;
}

/** The parts of a fact known at accept time. */
export type ConnectionEnds = Omit<ConnectionFact, 'startMicros' | 'durationMs' | 'bytes' | 'firstBytes' | 'closedBy'>;

export interface HeldConnection {
  /** Ends the read now; the fact says `shutdown`. */
  stop(): void;
}

export function readConnection(
  socket: Socket,
  ends: ConnectionEnds,
  limits: ReadLimits,
  onBytes: (count: number) => void,
  onDone: (fact: ConnectionFact) => void,
): HeldConnection {
  const startMs = performance.now();
  const startMicros = Math.round((performance.timeOrigin + startMs) * 1000);
  const captured = Buffer.allocUnsafe(limits.maxBytes);
  let capturedLength = 0;
  let bytes = 0;
  let finished = false;

  const finish = (closedBy: ClosedBy): void => {
    if (finished) return;
    finished = true;
    clearTimeout(timer);
    socket.removeListener('data', onData);
    socket.destroy();
    onDone({
      ...ends,
      startMicros,
      durationMs: Math.round((performance.now() - startMs) * 1000) / 1000,
      bytes,
      firstBytes: escapeBytes(captured, capturedLength),
      closedBy,
    });
  };

  const onData = (chunk: Buffer): void => {
    bytes += chunk.length;
    onBytes(chunk.length);
    const room = limits.maxBytes - capturedLength;
    const take = Math.min(room, chunk.length);
    if (take > 0) capturedLength += chunk.copy(captured, capturedLength, 0, take);
    if (capturedLength >= limits.maxBytes) finish('limit');
  };

  const timer = setTimeout(() => finish('timeout'), limits.timeoutMs);
  // Resets and aborts by a scanner are normal here; 'close' follows and ends the read.
  socket.on('error', () => undefined);
  socket.on('data', onData);
  socket.on('end', () => finish('peer'));
  socket.on('close', () => finish('peer'));
  socket.resume();
  return { stop: () => finish('shutdown') };
}

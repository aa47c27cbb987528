/**
 * One opened transport used by two sinks: a sink's alarms and its state
 * documents (src/state/) go to the same destination through two Sinks, so
 * each has its own queue, spool, loss ledger and counters (a state document
 * is never counted as an alarm, nor evicted for one).
 *
 * Transports were written for one sink: a file transport's reopen and size
 * rotation, for one, must not run twice at once. So the two sides exclude
 * each other: the alarm side keeps its own concurrency (its sends may overlap
 * as before), a state send waits until no alarm send is in flight and holds
 * new ones back while it runs. State documents are rare (start, reload, a
 * port change, a heartbeat every few minutes), so alarms barely wait.
 * The underlying transport is closed when both sides have closed it.
 */
import type { Formatted, Transport } from './entry.js';

export interface SharedTransport {
  readonly alarms: Transport;
  readonly states: Transport;
}

export function shareTransport(t: Transport): SharedTransport {
  let alarmSends = 0;
  /** The state send in progress (it excludes alarm sends), if any. */
  let exclusive: Promise<unknown> | undefined;
  let idle: (() => void) | undefined;
  let open = 2;

  const alarmSent = (): void => {
    alarmSends--;
    if (alarmSends === 0) idle?.();
  };
  const countedAlarmSend = (records: readonly string[]): ReturnType<Transport['send']> => {
    alarmSends++;
    let sent: ReturnType<Transport['send']>;
    try {
      sent = t.send(records);
    } catch (err) {
      alarmSent();
      return Promise.reject(err);
    }
    return sent.then(
      (refused) => {
        alarmSent();
        return refused;
      },
      (err: unknown) => {
        alarmSent();
        throw err;
      },
    );
  };
  const alarmSendAfterState = async (records: readonly string[]): ReturnType<Transport['send']> => {
    while (exclusive) await exclusive.catch(() => undefined);
    return countedAlarmSend(records);
  };
  // Nearly every alarm send finds no state send running: it goes straight on, without an async wrapper's promise and await.
  const alarmSend = (records: readonly string[]): ReturnType<Transport['send']> => (exclusive ? alarmSendAfterState(records) : countedAlarmSend(records));

  const stateSend = async (records: readonly string[]): ReturnType<Transport['send']> => {
    while (exclusive) await exclusive.catch(() => undefined);
    const run = (async () => {
      while (alarmSends > 0) await new Promise<void>((resolve) => (idle = resolve));
      idle = undefined;
      return t.send(records);
    })();
    exclusive = run;
    try {
      return await run;
    } finally {
      if (exclusive === run) exclusive = undefined;
    }
  };

  const side = (send: Transport['send']): Transport => {
    let closed = false;
    return {
      encode: (f: Formatted) => t.encode(f),
      // Opened once, by Delivery, before it is shared.
      open: async () => undefined,
      send,
      reopen: () => t.reopen?.(),
      close: async () => {
        if (closed) return;
        closed = true;
        if (--open === 0) await t.close();
      },
    };
  };
  return { alarms: side(alarmSend), states: side(stateSend) };
}

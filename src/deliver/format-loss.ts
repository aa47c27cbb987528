/**
 * The record a sink sends when it lost alarms (full spool, full disk, damaged
 * spool records, receiver refusals): the loss is itself an alert, so the SOC
 * learns how many were lost, why and when. One per loss episode; its id comes
 * from the ledger, fixed at the first attempt, so a re-sent notice dedupes.
 */
import type { OutputFormat } from '../config/sensor-config.js';
import { isoMicros } from '../alarm/timestamp.js';
import type { Formatted, LossReason } from './entry.js';
import { ECS_VERSION, type FormatContext } from './format-ecs.js';
import type { LossNotice } from './spool/loss-ledger.js';

export const EVE_SID_LOSS = 9_300_001;

const WHY: Record<LossReason, string> = {
  spool_full: 'its spool was full',
  write_error: 'the spool could not be written',
  damaged: 'spool records were damaged',
  rejected: 'the receiver rejected them',
  undeliverable: 'they could not be delivered before exit',
};

/** "40 because its spool was full, 2 because spool records were damaged" */
export function lossReasons(reasons: LossNotice['reasons']): string {
  return (Object.entries(reasons) as [LossReason, number][]).map(([k, n]) => `${n} because ${WHY[k]}`).join(', ');
}

/** "its spool was full, the spool could not be written" */
export function lossCauses(reasons: LossNotice['reasons']): string {
  return (Object.keys(reasons) as LossReason[]).map((k) => WHY[k]).join(', ');
}

export function formatLoss(format: OutputFormat, sink: string, loss: LossNotice, ctx: FormatContext, nowMicros = Date.now() * 1000): Formatted {
  const id = loss.id;
  const now = isoMicros(nowMicros);
  const first = isoMicros(loss.firstMicros);
  const last = isoMicros(loss.lastMicros);
  const message = `${loss.count} alarms for sink ${sink} were lost (${lossReasons(loss.reasons)}); alarm times ${first} to ${last}`;
  const lost = { sink, count: loss.count, reasons: loss.reasons, first_alarm: first, last_alarm: last, reported_at: now };
  const doc =
    format === 'ecs'
      ? {
          '@timestamp': now,
          message,
          // An IDS's note about its own alarms: ECS allows "info" with intrusion_detection ("error" only with database and web).
          event: { kind: 'alert', category: ['intrusion_detection'], type: ['info'], action: 'honeyport-alarms-lost', id, severity: 73, dataset: 'honeyport.alarm', module: 'honeyport' },
          observer: { type: 'honeypot', vendor: 'honeyport', product: 'honeyport', version: ctx.observer.version, hostname: ctx.observer.hostname },
          rule: { name: ctx.ruleName, category: 'honeypot', ruleset: 'honeyport' },
          ecs: { version: ECS_VERSION },
          honeyport: { lost },
        }
      : {
          timestamp: now.replace(/Z$/, '+0000'),
          event_type: 'alert',
          host: ctx.observer.hostname,
          alert: {
            action: 'allowed', gid: 1, signature_id: EVE_SID_LOSS, rev: 1, signature: 'HONEYPORT alarms lost', category: 'Not Suspicious Traffic', severity: 1,
            // Suricata's schema allows no top-level extension; alert.metadata takes any member.
            metadata: { honeyport: { event_id: id, message, lost } },
          },
        };
  return { json: JSON.stringify(doc), id, timeMicros: nowMicros, severity: 'high', kind: 'loss' };
}

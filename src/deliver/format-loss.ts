/**
 * The record a sink sends when its full spool dropped alarms: the loss is
 * itself an alert, so the SOC learns how many were lost and when.
 */
import { randomUUID } from 'node:crypto';
import type { OutputFormat } from '../config/sensor-config.js';
import { isoMicros } from '../alarm/timestamp.js';
import type { Formatted, LossInfo } from './entry.js';
import { ECS_VERSION, type FormatContext } from './format-ecs.js';

export const EVE_SID_LOSS = 9_300_001;

export function formatLoss(format: OutputFormat, sink: string, loss: LossInfo, ctx: FormatContext, nowMicros = Date.now() * 1000): Formatted {
  const id = randomUUID();
  const now = isoMicros(nowMicros);
  const first = isoMicros(loss.firstMicros);
  const last = isoMicros(loss.lastMicros);
  const message = `${loss.count} alarms for sink ${sink} were dropped because its spool was full (alarm times ${first} to ${last})`;
  const lost = { sink, count: loss.count, first_alarm: first, last_alarm: last, dropped_at: now };
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
            action: 'allowed', gid: 1, signature_id: EVE_SID_LOSS, rev: 1, signature: 'HONEYPORT alarms lost: delivery spool full', category: 'Not Suspicious Traffic', severity: 1,
            // Suricata's schema allows no top-level extension; alert.metadata takes any member.
            metadata: { honeyport: { event_id: id, message, lost } },
          },
        };
  return { json: JSON.stringify(doc), id, timeMicros: nowMicros, severity: 'high', kind: 'loss' };
}

/**
 * Severity of a probe alarm. A single probe is `medium`; repeated probes of
 * a key (a follow-up that covers any) or a source that touched two or more
 * decoy ports is `high`. An alarm whose probes are all `ack` — an
 * unsolicited ACK or SYN-ACK, which a late segment of a connection the
 * sensor did not see start also is — is one level lower (`low` / `medium`):
 * a weaker sign of a scan than a SYN sweep. `odd` flag combinations, like
 * the stealth scans, are never sent by a working TCP stack: full weight.
 */
import { ProbeKind, type Severity } from '../alarm/alarm.js';

/** `strong`: repeated probes or two or more decoy ports touched. */
export function probeSeverity(kinds: number, strong: boolean): Severity {
  const weak = kinds === ProbeKind.ack;
  if (strong) return weak ? 'medium' : 'high';
  return weak ? 'low' : 'medium';
}

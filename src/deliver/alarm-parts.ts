/**
 * The parts of an alarm's record that ECS and EVE share — the message, the
 * `honeyport` object, timestamps — as JSON text built straight from the
 * Alarm, so neither format parses the other back. Tables of flag and kind
 * lists are built once; times reuse the last second's text (TimestampFormatter).
 */
import type { Alarm, FloodAlarm, ProbeAlarm } from '../alarm/alarm.js';
import { PROBE_KIND_NAMES, ProbeKind } from '../alarm/alarm.js';
import { TimestampFormatter } from '../alarm/timestamp.js';
import { formatAddress } from '../net/address.js';
import { tunnelIdName, type TunnelLayerSummary, type TunnelSummary } from '../decode/tunnel.js';
import type { Fingerprint } from '../fingerprint/fingerprint.js';

const FLAG_NAMES = ['FIN', 'SYN', 'RST', 'PSH', 'ACK', 'URG', 'ECE', 'CWR'] as const;

function stringList(items: readonly string[]): string {
  return items.length === 0 ? '[]' : `["${items.join('","')}"]`;
}

function kindNames(mask: number): string[] {
  return PROBE_KIND_NAMES.filter((k) => mask & ProbeKind[k]);
}

/** How a kind reads in a message ("odd" alone would not say what is odd). */
const KIND_WORD: Readonly<Record<string, string>> = { odd: 'odd-flag' };
// Every kinds mask (6 bits) and flags byte, as JSON lists and message words, built once.
const KIND_MASKS = 1 << PROBE_KIND_NAMES.length;
const KIND_JSON = Array.from({ length: KIND_MASKS }, (_, m) => stringList(kindNames(m)));
const KIND_WORDS = Array.from({ length: KIND_MASKS }, (_, m) => kindNames(m).map((k) => KIND_WORD[k] ?? k.toUpperCase()).join('/'));
const FLAG_JSON = Array.from({ length: 256 }, (_, m) => stringList(FLAG_NAMES.filter((_, bit) => m & (1 << bit))));

/** `,"fingerprint":{…}` for a fingerprint (see fingerprint/fingerprint.ts). */
function fingerprintJson(f: Fingerprint): string {
  const source = f.source === undefined ? '' : `,"source":${JSON.stringify(f.source)}`;
  return `,"fingerprint":{"label":${JSON.stringify(f.label)},"name":${JSON.stringify(f.name)},"match":"${f.match}","signature":${JSON.stringify(f.signature)}${source}}`;
}

function tunnelLayer(l: TunnelLayerSummary): string {
  const idName = tunnelIdName(l.type);
  const id = idName !== undefined && l.id !== undefined ? `,"${idName}":${l.id}` : '';
  return `"type":"${l.type}"${id},"source":{"ip":"${formatAddress(l.family, l.source)}"},"destination":{"ip":"${formatAddress(l.family, l.destination)}"}`;
}

/**
 * `,"tunnel":{…}` for a tunnelled probe: the outermost layer (the one on the
 * captured wire) at the top, the depth, and with two or more layers all of
 * them, outermost first. Empty when not tunnelled.
 */
function tunnelFields(t: TunnelSummary | undefined): string {
  if (t === undefined || t.layers.length === 0) return '';
  const layers = t.layers.length > 1 ? `,"layers":[${t.layers.map((l) => `{${tunnelLayer(l)}}`).join(',')}]` : '';
  return `,"tunnel":{${tunnelLayer(t.layers[0]!)},"depth":${t.layers.length}${layers}}`;
}

export interface PartsContext {
  /** Names of the run's inputs (replayed files or live interfaces), by ProbeOrigin.input. */
  readonly inputs: readonly string[];
  readonly mode: 'replay' | 'live';
}

export class AlarmParts {
  readonly time = new TimestampFormatter();
  /** Input names as JSON strings. */
  private readonly inputs: string[];
  /**
   * Fingerprint fields by the (immutable) Fingerprint they were written from:
   * the fingerprinter hands equal fingerprints out as one object, so a scan's
   * alarms write four JSON strings once, not each. Weak: gone with the object.
   */
  private readonly fingerprints = new WeakMap<Fingerprint, string>();

  constructor(private readonly ctx: PartsContext) {
    this.inputs = ctx.inputs.map((i) => JSON.stringify(i));
  }

  /** The input name (JSON text) of a probe alarm's origin, or undefined when it is unknown (a connection on an interface that appeared after start). */
  inputJson(a: ProbeAlarm): string | undefined {
    return a.origin.input >= 0 ? this.inputs[a.origin.input] ?? '""' : undefined;
  }

  /**
   * One line for people; plain text that needs no JSON escaping (addresses,
   * numbers, fixed words). `source`: the probe's source address as text, when the caller has it.
   */
  message(a: Alarm, source?: string): string {
    if (a.action === 'honeypot-flood') {
      const why = a.reason === 'tracked-keys-full' ? `from more sources than can be tracked (${a.trackedKeyLimit})` : `from new sources faster than ${a.newSourceRate}/s`;
      return `flood of ${a.count} probe${a.count === 1 ? '' : 's'} of honeypot port ${a.destinationPort}/${a.protocol} ${why}`;
    }
    const kindWords = KIND_WORDS[a.kinds & (KIND_MASKS - 1)]!;
    const what = a.count === 0 ? 'connection' : a.phase === 'first' ? 'probe' : `${a.count} more probe${a.count === 1 ? '' : 's'}`;
    return `${kindWords ? `${kindWords} ` : ''}${what} of honeypot port ${a.destinationPort}/${a.protocol} from ${source ?? formatAddress(a.family, a.source)}`;
  }

  /** The `honeyport` object's members (without braces); `extra` members go first. */
  honeyport(a: Alarm, extra = ''): string {
    return a.action === 'honeypot-flood' ? this.floodFields(a, extra) : this.probeFields(a, extra);
  }

  private probeFields(a: ProbeAlarm, extra: string): string {
    const o = a.origin;
    const input = this.inputJson(a);
    // A live connection whose interface is unknown names none rather than a wrong one.
    const where = this.ctx.mode === 'replay' ? `,"replay":{"file":${input ?? '""'},"packet":${o.packet}}` : `,"interface":${input ?? 'null'}`;
    const c = a.connection;
    const connection = c
      ? `,"connection":{"handshake_completed":true,"accepted":${c.connections},"bytes":${c.bytes},"first_bytes":${JSON.stringify(c.firstBytes)},"duration_ms":${c.durationMs},"closed_by":${JSON.stringify(c.closedBy)}}`
      : a.handshakeCompleted
        ? ',"connection":{"handshake_completed":true,"accepted":0}'
        : '';
    return (
      `${extra}"alarm":"${a.phase}","severity":"${a.severity}","kinds":${KIND_JSON[a.kinds & (KIND_MASKS - 1)]!},"tcp_flags":${FLAG_JSON[a.flags & 255]!},` +
      `"protocol":"${a.protocol}","source_ports":[${a.sourcePorts.join(',')}],${a.sourcePortsTruncated ? '"source_ports_truncated":true,' : ''}` +
      `"ports_touched":[${a.portsTouched.join(',')}],"reassembled":${a.reassembled}${this.fingerprintField(a)}${connection}${tunnelFields(a.tunnel)}${where}`
    );
  }

  /** `,"fingerprint":{…}` for a first alarm that has one, else nothing. */
  private fingerprintField(a: ProbeAlarm): string {
    const f = a.origin.fingerprint;
    if (!f) return '';
    let text = this.fingerprints.get(f);
    if (text === undefined) {
      text = fingerprintJson(f);
      this.fingerprints.set(f, text);
    }
    return text;
  }

  private floodFields(a: FloodAlarm, extra: string): string {
    return (
      `${extra}"alarm":"${a.phase}","severity":"${a.severity}","protocol":"${a.protocol}","flood_reason":"${a.reason}",` +
      `"tracked_key_limit":${a.trackedKeyLimit},"new_source_rate":${a.newSourceRate},"sample_sources":${stringList(a.sampleSources)}`
    );
  }
}

/**
 * Fits an alarm's JSON into a syslog-over-UDP datagram (RFC 5426: receivers
 * must take 480 bytes over IPv4 and 1180 over IPv6, and SHOULD take 2048).
 *
 * JSON is never cut mid-way. When the message is too large, optional fields
 * are dropped, in this order, until it fits:
 *   honeyport.connection.first_bytes, threat.*.reference,
 *   honeyport.source_ports and honeyport.ports_touched, threat,
 *   honeyport.connection, message, honeyport.message (EVE)
 * and `honeyport.shortened` lists what was dropped, so the SIEM knows the
 * alarm is not whole. What still does not fit is returned as is and refused
 * by the transport (counted as rejected, with a loss notice).
 *
 * This rare path parses and re-serialises the JSON; the common path (a
 * message that fits) costs one byte count.
 */
type Doc = Record<string, unknown>;

const obj = (x: unknown): Doc | undefined => (x && typeof x === 'object' && !Array.isArray(x) ? (x as Doc) : undefined);

/** Each step deletes one field (path); the label goes into honeyport.shortened. */
const STEPS: readonly (readonly string[])[] = [
  ['honeyport', 'connection', 'first_bytes'],
  ['threat', 'tactic', 'reference'],
  ['threat', 'technique', 'reference'],
  ['honeyport', 'source_ports'],
  ['honeyport', 'ports_touched'],
  ['threat'],
  ['honeyport', 'connection'],
  ['message'],
  ['honeyport', 'message'],
];

function remove(doc: Doc, path: readonly string[]): boolean {
  let at: Doc | undefined = doc;
  for (const key of path.slice(0, -1)) at = obj(at?.[key]);
  const last = path[path.length - 1]!;
  if (!at || !(last in at)) return false;
  delete at[last];
  return true;
}

/**
 * `json` shortened so that `overhead` + its UTF-8 length ≤ maxBytes, or
 * unchanged when it fits already or is not a JSON object.
 */
export function fitJson(json: string, overhead: number, maxBytes: number): string {
  if (overhead + Buffer.byteLength(json) <= maxBytes) return json;
  let doc: Doc | undefined;
  try {
    doc = obj(JSON.parse(json));
  } catch {
    return json;
  }
  if (!doc) return json;
  const hp = obj(doc.honeyport) ?? {};
  doc.honeyport = hp;
  const dropped: string[] = [];
  let out = json;
  for (const path of STEPS) {
    if (!remove(doc, path)) continue;
    const label = path.join('.');
    // A whole object gone makes the labels of its parts redundant (and the message shorter).
    for (let i = dropped.length - 1; i >= 0; i--) if (dropped[i]!.startsWith(`${label}.`)) dropped.splice(i, 1);
    dropped.push(label);
    hp.shortened = dropped;
    out = JSON.stringify(doc);
    if (overhead + Buffer.byteLength(out) <= maxBytes) return out;
  }
  return out;
}

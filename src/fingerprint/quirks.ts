/**
 * p0f v3's quirk names and their bits, in the order p0f prints them (the
 * order of a raw signature's quirk list). The bits are honeyport's own; only
 * the names and the order are p0f's.
 */
export const Quirk = {
  df: 1 << 0,
  'id+': 1 << 1,
  'id-': 1 << 2,
  ecn: 1 << 3,
  '0+': 1 << 4,
  flow: 1 << 5,
  'seq-': 1 << 6,
  'ack+': 1 << 7,
  'ack-': 1 << 8,
  'uptr+': 1 << 9,
  'urgf+': 1 << 10,
  'pushf+': 1 << 11,
  'ts1-': 1 << 12,
  'ts2+': 1 << 13,
  'opt+': 1 << 14,
  exws: 1 << 15,
  bad: 1 << 16,
} as const;

/** p0f's MAX_TCP_OPT: options recorded per signature and per packet. */
export const MAX_TCP_OPTIONS = 24;

export type QuirkName = keyof typeof Quirk;
export const QUIRK_NAMES = Object.keys(Quirk) as QuirkName[];

/** Quirks that only an IPv4 header can have, and the one only IPv6 can. */
export const IPV4_ONLY_QUIRKS = Quirk.df | Quirk['id+'] | Quirk['id-'] | Quirk['0+'];
export const IPV6_ONLY_QUIRKS = Quirk.flow;
/**
 * What p0f strips from a `*` signature's quirks when matching an IPv6 SYN:
 * df, id+ and id- — not 0+, though the file refuses 0+ on a 6: signature.
 */
export const IPV4_ID_QUIRKS = Quirk.df | Quirk['id+'] | Quirk['id-'];

/** The quirk list as p0f writes it: comma-separated, in p0f's order. */
export function quirkText(bits: number): string {
  let out = '';
  for (const name of QUIRK_NAMES) if (bits & Quirk[name]) out += out ? `,${name}` : name;
  return out;
}

/**
 * The layout of a deduplication key (source, destination, decoy port,
 * family) and of a source key in KeyTable words, shared by the per-key
 * windows, the per-source port masks and the alarm builder.
 *
 * Key words: src[0], dst[0], port << 8 | family, src[1..3], dst[1..3],
 * tunnel identity A, B. The first three are all of an untunnelled IPv4 key,
 * and the family is among them, so such a key hashes 3 words instead of 11
 * (KeyTable `hashed`). The tunnel words are 0 unless the probe came through
 * a tunnel (TunnelInfo.identityA is never 0 then), so the key's own content
 * says how much of it to hash.
 * Source words: src[0], family, src[1..3], tunnel A, B (untunnelled IPv4: the first two).
 *
 * The tunnel is part of the key because two overlays may reuse the same
 * inner addresses (two tenants' 10.0.0.5): keyed together, the second
 * host's probes would be summed into the first's alarm and hidden. Keyed
 * apart, the worst case is one scan seen through two tunnels raising two
 * sets of correct alarms.
 *
 * Filling runs for every probe: nothing here allocates.
 */

export const KEY_WORDS = 11;
export const KEY_PORT_FAMILY = 2;
const KEY_TUNNEL = 9;
export const SOURCE_WORDS = 7;
const SOURCE_TUNNEL = 5;

function loadWord(b: Uint8Array, at: number): number {
  return ((b[at]! << 24) | (b[at + 1]! << 16) | (b[at + 2]! << 8) | b[at + 3]!) >>> 0;
}

/** Fills a key: see the header. An IPv4 address has zero words 1..3 (TcpSegment), so they are not read. */
export function fillKey(probe: Uint32Array, family: number, src: Uint8Array, dst: Uint8Array, port: number, tunnelA: number, tunnelB: number): void {
  // Word 0 of each address spelled out: these run for every packet, where a call would not be inlined.
  probe[0] = (src[0]! << 24) | (src[1]! << 16) | (src[2]! << 8) | src[3]!;
  probe[1] = (dst[0]! << 24) | (dst[1]! << 16) | (dst[2]! << 8) | dst[3]!;
  probe[KEY_PORT_FAMILY] = (port << 8) | family;
  probe[KEY_TUNNEL] = tunnelA;
  probe[KEY_TUNNEL + 1] = tunnelB;
  if (family === 4) {
    probe[3] = 0; probe[4] = 0; probe[5] = 0; probe[6] = 0; probe[7] = 0; probe[8] = 0;
    return;
  }
  for (let k = 1; k < 4; k++) {
    probe[2 + k] = loadWord(src, k * 4);
    probe[5 + k] = loadWord(dst, k * 4);
  }
}

/** Fills a source key from a filled deduplication key. */
export function fillSourceFromKey(source: Uint32Array, key: Uint32Array, family: number): void {
  source[0] = key[0]!;
  source[1] = family;
  source[2] = key[3]!;
  source[3] = key[4]!;
  source[4] = key[5]!;
  source[SOURCE_TUNNEL] = key[KEY_TUNNEL]!;
  source[SOURCE_TUNNEL + 1] = key[KEY_TUNNEL + 1]!;
}

/** Words of the filled key `probe` to hash: all of a tunnelled key, the address words of its family otherwise. */
export const keyHashed = (probe: Uint32Array, family: number): number =>
  (probe[KEY_TUNNEL]! | probe[KEY_TUNNEL + 1]!) !== 0 ? KEY_WORDS : family === 4 ? 3 : 9;
/** Words of the filled source key `probe` to hash (see keyHashed). */
export const sourceHashed = (probe: Uint32Array, family: number): number =>
  (probe[SOURCE_TUNNEL]! | probe[SOURCE_TUNNEL + 1]!) !== 0 ? SOURCE_WORDS : family === 4 ? 2 : 5;

/** The family of the key stored at `keyBase`. */
export const keyFamily = (words: Uint32Array, keyBase: number): 4 | 6 => (words[keyBase + KEY_PORT_FAMILY]! & 0xff) as 4 | 6;

/** Writes an address of a key back as 16 bytes: word 0 at `first`, words 1..3 from `rest`. */
function storeAddress(words: Uint32Array, first: number, rest: number, out: Uint8Array): void {
  for (let k = 0; k < 4; k++) {
    const w = words[k === 0 ? first : rest + k - 1]!;
    out[k * 4] = w >>> 24;
    out[k * 4 + 1] = (w >>> 16) & 0xff;
    out[k * 4 + 2] = (w >>> 8) & 0xff;
    out[k * 4 + 3] = w & 0xff;
  }
}

/** The source address of the key at `keyBase`, as 16 bytes. */
export function keySource(words: Uint32Array, keyBase: number): Uint8Array {
  const out = new Uint8Array(16);
  storeAddress(words, keyBase, keyBase + 3, out);
  return out;
}

/** The destination address of the key at `keyBase`, as 16 bytes. */
export function keyDestination(words: Uint32Array, keyBase: number): Uint8Array {
  const out = new Uint8Array(16);
  storeAddress(words, keyBase + 1, keyBase + 6, out);
  return out;
}

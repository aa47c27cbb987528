/**
 * The layout of a deduplication key (source, destination, decoy port,
 * family) and of a source key in KeyTable words, shared by the per-key
 * windows, the per-source port masks and the alarm builder.
 *
 * Key words: src[0], dst[0], port << 8 | family, src[1..3], dst[1..3]. The
 * first three are all of an IPv4 key, and the family is among them, so an
 * IPv4 key hashes 3 words instead of 9 (KeyTable `hashed`).
 * Source words: src[0], family, src[1..3] (IPv4: the first two).
 *
 * Filling runs for every probe: nothing here allocates.
 */

export const KEY_WORDS = 9;
export const KEY_PORT_FAMILY = 2;
export const SOURCE_WORDS = 5;

function loadWord(b: Uint8Array, at: number): number {
  return ((b[at]! << 24) | (b[at + 1]! << 16) | (b[at + 2]! << 8) | b[at + 3]!) >>> 0;
}

/** Fills a key: see the header. An IPv4 address has zero words 1..3 (TcpSegment), so they are not read. */
export function fillKey(probe: Uint32Array, family: number, src: Uint8Array, dst: Uint8Array, port: number): void {
  // Word 0 of each address spelled out: these run for every packet, where a call would not be inlined.
  probe[0] = (src[0]! << 24) | (src[1]! << 16) | (src[2]! << 8) | src[3]!;
  probe[1] = (dst[0]! << 24) | (dst[1]! << 16) | (dst[2]! << 8) | dst[3]!;
  probe[KEY_PORT_FAMILY] = (port << 8) | family;
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
}

export const keyHashed = (family: number): number => (family === 4 ? 3 : KEY_WORDS);
export const sourceHashed = (family: number): number => (family === 4 ? 2 : SOURCE_WORDS);

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

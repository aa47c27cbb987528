/**
 * Frames travel from every source (pcap/pcapng file, AF_PACKET ring, libpcap)
 * to the decoder in batches: one buffer (or a few) plus parallel typed arrays
 * that locate each frame. Nothing is allocated per frame.
 *
 * A source owns its batch object and refills it for every batch it yields, so
 * the consumer must finish with a batch before asking for the next one.
 */

/** LINKTYPE_* values (tcpdump.org/linktypes.html) that the decoder walks. */
export const LinkType = {
  NULL: 0, // BSD loopback, host byte order AF_ value
  ETHERNET: 1,
  RAW: 101, // raw IPv4/IPv6, version nibble decides
  LOOP: 108, // OpenBSD loopback, network byte order AF_ value
  LINUX_SLL: 113,
  IPV4: 228,
  IPV6: 229,
  LINUX_SLL2: 276,
} as const;

export class FrameBatch {
  count = 0;
  /** Buffer holding frame i at [offset[i], offset[i] + caplen[i]). */
  data: Buffer = Buffer.alloc(0);
  offset: Uint32Array;
  caplen: Uint32Array;
  /** Length on the wire (>= caplen when the capture was cut by a snap length). */
  wirelen: Uint32Array;
  linktype: Uint16Array;
  /** Microseconds since the Unix epoch. */
  tsMicros: Float64Array;
  /** 802.1Q VLAN id the capture layer stripped (AF_PACKET metadata); 0 = none. */
  vlan: Uint16Array;
  /** Interface: pcapng interface id, or live ifindex. */
  iface: Int32Array;
  /** Index (0-based, in the source) of frame 0 of this batch. */
  firstIndex = 0;

  constructor(readonly capacity: number) {
    this.offset = new Uint32Array(capacity);
    this.caplen = new Uint32Array(capacity);
    this.wirelen = new Uint32Array(capacity);
    this.linktype = new Uint16Array(capacity);
    this.tsMicros = new Float64Array(capacity);
    this.vlan = new Uint16Array(capacity);
    this.iface = new Int32Array(capacity);
  }
}

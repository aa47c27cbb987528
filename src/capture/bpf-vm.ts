/**
 * A classic BPF interpreter with the Linux kernel's run-time semantics, so the
 * filter built from a policy can be tested (and used in user space) without
 * a socket or root:
 * - packet loads are big-endian; a load that reaches past the captured bytes
 *   ends the program with 0 (drop), as the kernel does;
 * - division or modulo by X == 0 returns 0 (constant zero divisors are refused
 *   when the program is built, see checkClassic);
 * - shifts by X use the low 5 bits (kernel interpreter and x86 JIT);
 * - `ld [SKF_AD_OFF + n]` reads skb metadata, here from a `BpfAncillary`;
 * - the result is the kernel's snap length: min(return value, wire length).
 * Not emulated (the program ends with 0, where the kernel would read a
 * value): loads relative to SKF_NET_OFF / SKF_LL_OFF, and the ancillary
 * fields BpfAncillary does not carry (mark, queue, rxhash, cpu, random, …).
 */

import {
  BPF_A, BPF_ABS, BPF_ADD, BPF_ALU, BPF_AND, BPF_B, BPF_DIV, BPF_H, BPF_IMM, BPF_IND, BPF_JA, BPF_JEQ, BPF_JGE,
  BPF_JGT, BPF_JMP, BPF_JSET, BPF_K, BPF_LD, BPF_LDX, BPF_LEN, BPF_LSH, BPF_MEM, BPF_MEMWORDS, BPF_MISC, BPF_MOD,
  BPF_MSH, BPF_MUL, BPF_NEG, BPF_OR, BPF_RET, BPF_RSH, BPF_ST, BPF_STX, BPF_SUB, BPF_TAX, BPF_TXA, BPF_W, BPF_X,
  BPF_XOR, BpfProgram, SKF_AD_HATYPE, SKF_AD_IFINDEX, SKF_AD_OFF, SKF_AD_PKTTYPE, SKF_AD_PROTOCOL, SKF_AD_VLAN_TAG,
  SKF_AD_VLAN_TAG_PRESENT, SKF_AD_VLAN_TPID,
} from './bpf-program.js';

/** The skb metadata a filter can read through ancillary loads. Missing fields read as 0 / false. */
export interface BpfAncillary {
  /** sll_pkttype: PacketType.HOST (0) … OUTGOING (4). */
  readonly pktType?: number;
  /** skb->protocol as a host-order EtherType (e.g. 0x0800). */
  readonly protocol?: number;
  readonly ifIndex?: number;
  /** The device's ARPHRD_* type (1 Ethernet, 772 loopback, 0xfffe none: tun, WireGuard). */
  readonly hatype?: number;
  /** VLAN TCI the NIC or the stack stripped from the frame. */
  readonly vlanTci?: number;
  readonly vlanPresent?: boolean;
  readonly vlanTpid?: number;
}

const NO_ANCILLARY: BpfAncillary = Object.freeze({});

const NOT_SUPPORTED = -1;

function ancillary(field: number, anc: BpfAncillary): number {
  switch (field) {
    case SKF_AD_PROTOCOL: return (anc.protocol ?? 0) & 0xffff;
    case SKF_AD_PKTTYPE: return (anc.pktType ?? 0) & 0x7;
    case SKF_AD_IFINDEX: return (anc.ifIndex ?? 0) >>> 0;
    case SKF_AD_HATYPE: return (anc.hatype ?? 0) & 0xffff;
    case SKF_AD_VLAN_TAG: return (anc.vlanTci ?? 0) & 0xffff;
    case SKF_AD_VLAN_TAG_PRESENT: return anc.vlanPresent ? 1 : 0;
    case SKF_AD_VLAN_TPID: return (anc.vlanTpid ?? 0) & 0xffff;
    default: return NOT_SUPPORTED;
  }
}

/**
 * A program prepared for repeated runs: instructions in typed arrays and its
 * own scratch memory, so `run` allocates nothing.
 */
export class BpfVm {
  private readonly code: Uint16Array;
  private readonly jt: Uint8Array;
  private readonly jf: Uint8Array;
  private readonly k: Uint32Array;
  private readonly mem = new Uint32Array(BPF_MEMWORDS);

  constructor(program: BpfProgram) {
    const n = program.length;
    this.code = new Uint16Array(n);
    this.jt = new Uint8Array(n);
    this.jf = new Uint8Array(n);
    this.k = new Uint32Array(n);
    program.instructions.forEach((ins, i) => {
      this.code[i] = ins.code;
      this.jt[i] = ins.jt;
      this.jf[i] = ins.jf;
      this.k[i] = ins.k;
    });
  }

  /**
   * Runs over the frame at `packet[offset, offset + length)` (the captured
   * bytes); `wireLength` (default `length`) is what `ld #pktlen` sees.
   * Returns the number of bytes to keep; 0 means drop.
   */
  run(packet: Uint8Array, offset: number, length: number, wireLength = length, anc: BpfAncillary = NO_ANCILLARY): number {
    const { code, jt, jf, k, mem } = this;
    mem.fill(0);
    const end = offset + length;
    let a = 0;
    let x = 0;
    let pc = 0;
    // The program was checked (BpfProgram), so every path ends in a RET within bounds.
    for (;;) {
      const c = code[pc]!;
      const kk = k[pc]!;
      switch (c) {
        // --- loads into A -------------------------------------------------
        case BPF_LD | BPF_W | BPF_ABS:
        case BPF_LD | BPF_H | BPF_ABS:
        case BPF_LD | BPF_B | BPF_ABS: {
          if (kk >= SKF_AD_OFF) {
            const v = ancillary(kk - SKF_AD_OFF, anc);
            if (v === NOT_SUPPORTED) return 0;
            a = v;
            break;
          }
          const v = load(packet, offset, end, kk, c & 0x18);
          if (v < 0) return 0;
          a = v;
          break;
        }
        case BPF_LD | BPF_W | BPF_IND:
        case BPF_LD | BPF_H | BPF_IND:
        case BPF_LD | BPF_B | BPF_IND: {
          // Kernel computes X + k as a signed 32-bit offset; negative ones are the unsupported regions.
          const at = (x + kk) | 0;
          if (at < 0) return 0;
          const v = load(packet, offset, end, at, c & 0x18);
          if (v < 0) return 0;
          a = v;
          break;
        }
        case BPF_LD | BPF_W | BPF_LEN: a = wireLength >>> 0; break;
        case BPF_LD | BPF_IMM: a = kk; break;
        case BPF_LD | BPF_MEM: a = mem[kk]!; break;
        // --- loads into X -------------------------------------------------
        case BPF_LDX | BPF_W | BPF_IMM: x = kk; break;
        case BPF_LDX | BPF_W | BPF_MEM: x = mem[kk]!; break;
        case BPF_LDX | BPF_W | BPF_LEN: x = wireLength >>> 0; break;
        case BPF_LDX | BPF_B | BPF_MSH: {
          if (kk >= SKF_AD_OFF || offset + kk >= end) return 0;
          x = (packet[offset + kk]! & 0xf) << 2;
          break;
        }
        case BPF_ST: mem[kk] = a; break;
        case BPF_STX: mem[kk] = x; break;
        // --- ALU (32-bit unsigned) ------------------------------------------
        case BPF_ALU | BPF_ADD | BPF_K: a = (a + kk) >>> 0; break;
        case BPF_ALU | BPF_ADD | BPF_X: a = (a + x) >>> 0; break;
        case BPF_ALU | BPF_SUB | BPF_K: a = (a - kk) >>> 0; break;
        case BPF_ALU | BPF_SUB | BPF_X: a = (a - x) >>> 0; break;
        case BPF_ALU | BPF_MUL | BPF_K: a = Math.imul(a, kk) >>> 0; break;
        case BPF_ALU | BPF_MUL | BPF_X: a = Math.imul(a, x) >>> 0; break;
        case BPF_ALU | BPF_DIV | BPF_K: a = Math.floor(a / kk) >>> 0; break;
        case BPF_ALU | BPF_DIV | BPF_X: if (x === 0) return 0; a = Math.floor(a / x) >>> 0; break;
        case BPF_ALU | BPF_MOD | BPF_K: a = a % kk; break;
        case BPF_ALU | BPF_MOD | BPF_X: if (x === 0) return 0; a = a % x; break;
        case BPF_ALU | BPF_OR | BPF_K: a = (a | kk) >>> 0; break;
        case BPF_ALU | BPF_OR | BPF_X: a = (a | x) >>> 0; break;
        case BPF_ALU | BPF_AND | BPF_K: a = (a & kk) >>> 0; break;
        case BPF_ALU | BPF_AND | BPF_X: a = (a & x) >>> 0; break;
        case BPF_ALU | BPF_XOR | BPF_K: a = (a ^ kk) >>> 0; break;
        case BPF_ALU | BPF_XOR | BPF_X: a = (a ^ x) >>> 0; break;
        case BPF_ALU | BPF_LSH | BPF_K: a = (a << kk) >>> 0; break;
        case BPF_ALU | BPF_LSH | BPF_X: a = (a << (x & 31)) >>> 0; break;
        case BPF_ALU | BPF_RSH | BPF_K: a = a >>> kk; break;
        case BPF_ALU | BPF_RSH | BPF_X: a = a >>> (x & 31); break;
        case BPF_ALU | BPF_NEG: a = -a >>> 0; break;
        // --- jumps ----------------------------------------------------------
        case BPF_JMP | BPF_JA: pc += kk; break;
        case BPF_JMP | BPF_JEQ | BPF_K: pc += a === kk ? jt[pc]! : jf[pc]!; break;
        case BPF_JMP | BPF_JEQ | BPF_X: pc += a === x ? jt[pc]! : jf[pc]!; break;
        case BPF_JMP | BPF_JGT | BPF_K: pc += a > kk ? jt[pc]! : jf[pc]!; break;
        case BPF_JMP | BPF_JGT | BPF_X: pc += a > x ? jt[pc]! : jf[pc]!; break;
        case BPF_JMP | BPF_JGE | BPF_K: pc += a >= kk ? jt[pc]! : jf[pc]!; break;
        case BPF_JMP | BPF_JGE | BPF_X: pc += a >= x ? jt[pc]! : jf[pc]!; break;
        case BPF_JMP | BPF_JSET | BPF_K: pc += (a & kk) !== 0 ? jt[pc]! : jf[pc]!; break;
        case BPF_JMP | BPF_JSET | BPF_X: pc += (a & x) !== 0 ? jt[pc]! : jf[pc]!; break;
        // --- return and register moves ----------------------------------------
        case BPF_RET | BPF_K: return Math.min(kk, wireLength);
        case BPF_RET | BPF_A: return Math.min(a, wireLength);
        case BPF_MISC | BPF_TAX: x = a; break;
        case BPF_MISC | BPF_TXA: a = x; break;
        default:
          // Unreachable for a checked program; drop rather than loop.
          return 0;
      }
      pc++;
    }
  }
}

/** Big-endian load of `size` at frame-relative `at`; -1 when past the captured bytes. */
function load(p: Uint8Array, offset: number, end: number, at: number, size: number): number {
  const i = offset + at;
  switch (size) {
    case BPF_W:
      if (i + 4 > end) return -1;
      return ((p[i]! << 24) | (p[i + 1]! << 16) | (p[i + 2]! << 8) | p[i + 3]!) >>> 0;
    case BPF_H:
      if (i + 2 > end) return -1;
      return (p[i]! << 8) | p[i + 1]!;
    default:
      if (i + 1 > end) return -1;
      return p[i]!;
  }
}

/**
 * One-shot convenience (allocates a BpfVm; use `new BpfVm(program)` when
 * running one program over many packets).
 */
export function runBpf(
  program: BpfProgram,
  packet: Uint8Array,
  offset = 0,
  length = packet.length - offset,
  wireLength = length,
  anc: BpfAncillary = NO_ANCILLARY,
): number {
  return new BpfVm(program).run(packet, offset, length, wireLength, anc);
}


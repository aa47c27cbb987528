/**
 * Classic BPF (cBPF) programs as the Linux kernel takes them through
 * SO_ATTACH_FILTER: an array of `struct sock_filter { u16 code; u8 jt; u8 jf; u32 k; }`.
 *
 * A `BpfProgram` can only be obtained from `BpfAssembler.assemble()` or
 * `BpfProgram.from()`, both of which run the same checks the kernel's
 * `bpf_check_classic()` runs, so every program in hand would be accepted by
 * the kernel and can be run by the interpreter without further checks.
 */

import { endianness } from 'node:os';

// --- opcode fields (linux/filter.h, linux/bpf_common.h) -------------------

export const BPF_LD = 0x00;
export const BPF_LDX = 0x01;
export const BPF_ST = 0x02;
export const BPF_STX = 0x03;
export const BPF_ALU = 0x04;
export const BPF_JMP = 0x05;
export const BPF_RET = 0x06;
export const BPF_MISC = 0x07;

export const BPF_W = 0x00;
export const BPF_H = 0x08;
export const BPF_B = 0x10;

export const BPF_IMM = 0x00;
export const BPF_ABS = 0x20;
export const BPF_IND = 0x40;
export const BPF_MEM = 0x60;
export const BPF_LEN = 0x80;
export const BPF_MSH = 0xa0;

export const BPF_ADD = 0x00;
export const BPF_SUB = 0x10;
export const BPF_MUL = 0x20;
export const BPF_DIV = 0x30;
export const BPF_OR = 0x40;
export const BPF_AND = 0x50;
export const BPF_LSH = 0x60;
export const BPF_RSH = 0x70;
export const BPF_NEG = 0x80;
export const BPF_MOD = 0x90;
export const BPF_XOR = 0xa0;

export const BPF_JA = 0x00;
export const BPF_JEQ = 0x10;
export const BPF_JGT = 0x20;
export const BPF_JGE = 0x30;
export const BPF_JSET = 0x40;

export const BPF_K = 0x00;
export const BPF_X = 0x08;
/** RET source: the accumulator (BPF_RVAL field). */
export const BPF_A = 0x10;

export const BPF_TAX = 0x00;
export const BPF_TXA = 0x80;

export const BPF_MEMWORDS = 16;
/** Kernel limit on program length (BPF_MAXINSNS). */
export const BPF_MAXINSNS = 4096;

export const bpfClass = (code: number): number => code & 0x07;
export const bpfSize = (code: number): number => code & 0x18;
export const bpfMode = (code: number): number => code & 0xe0;
export const bpfOp = (code: number): number => code & 0xf0;
export const bpfSrc = (code: number): number => code & 0x08;
export const bpfRval = (code: number): number => code & 0x18;
export const bpfMiscOp = (code: number): number => code & 0xf8;

// --- Linux ancillary data (linux/filter.h) --------------------------------

/** Loads at `SKF_AD_OFF + n` read skb metadata instead of packet bytes. As u32. */
export const SKF_AD_OFF = 0xfffff000; // -0x1000
export const SKF_AD_PROTOCOL = 0;
export const SKF_AD_PKTTYPE = 4;
export const SKF_AD_IFINDEX = 8;
/** The device's ARPHRD_* type: tells whether the frame starts with a link header. */
export const SKF_AD_HATYPE = 28;
export const SKF_AD_VLAN_TAG = 44;
export const SKF_AD_VLAN_TAG_PRESENT = 48;
export const SKF_AD_VLAN_TPID = 60;
/** One past the last ancillary field; the kernel refuses any other offset in [SKF_AD_OFF, 2^32). */
export const SKF_AD_MAX = 64;

/** linux/if_packet.h sll_pkttype values. */
export const PacketType = {
  HOST: 0,
  BROADCAST: 1,
  MULTICAST: 2,
  OTHERHOST: 3,
  OUTGOING: 4,
} as const;

// --- instructions and programs --------------------------------------------

export interface BpfInstruction {
  readonly code: number; // u16
  readonly jt: number; // u8
  readonly jf: number; // u8
  readonly k: number; // u32
}

/** BPF_STMT(code, k) */
export function stmt(code: number, k = 0): BpfInstruction {
  return { code, jt: 0, jf: 0, k: k >>> 0 };
}

/** BPF_JUMP(code, k, jt, jf) with numeric (already resolved) offsets. */
export function jump(code: number, k: number, jt: number, jf: number): BpfInstruction {
  return { code, jt, jf, k: k >>> 0 };
}

export class BpfProgramError extends Error {
  override name = 'BpfProgramError';
}

/** A program the kernel would accept. Immutable. */
export class BpfProgram {
  private constructor(readonly instructions: readonly BpfInstruction[]) {}

  get length(): number {
    return this.instructions.length;
  }

  /** Checks `instructions` like the kernel does and wraps them; throws BpfProgramError. */
  static from(instructions: readonly BpfInstruction[]): BpfProgram {
    const problem = checkClassic(instructions);
    if (problem !== null) throw new BpfProgramError(problem);
    return new BpfProgram(Object.freeze(instructions.map((i) => Object.freeze({ ...i }))));
  }
}

const VALID_CODES: ReadonlySet<number> = new Set([
  // loads into A
  BPF_LD | BPF_W | BPF_ABS, BPF_LD | BPF_H | BPF_ABS, BPF_LD | BPF_B | BPF_ABS,
  BPF_LD | BPF_W | BPF_IND, BPF_LD | BPF_H | BPF_IND, BPF_LD | BPF_B | BPF_IND,
  BPF_LD | BPF_W | BPF_LEN, BPF_LD | BPF_IMM, BPF_LD | BPF_MEM,
  // loads into X
  BPF_LDX | BPF_W | BPF_IMM, BPF_LDX | BPF_W | BPF_MEM, BPF_LDX | BPF_W | BPF_LEN,
  BPF_LDX | BPF_B | BPF_MSH,
  BPF_ST, BPF_STX,
  // ALU
  ...[BPF_ADD, BPF_SUB, BPF_MUL, BPF_DIV, BPF_OR, BPF_AND, BPF_LSH, BPF_RSH, BPF_MOD, BPF_XOR].flatMap(
    (op) => [BPF_ALU | op | BPF_K, BPF_ALU | op | BPF_X],
  ),
  BPF_ALU | BPF_NEG,
  // jumps
  BPF_JMP | BPF_JA,
  ...[BPF_JEQ, BPF_JGT, BPF_JGE, BPF_JSET].flatMap((op) => [BPF_JMP | op | BPF_K, BPF_JMP | op | BPF_X]),
  BPF_RET | BPF_K, BPF_RET | BPF_A,
  BPF_MISC | BPF_TAX, BPF_MISC | BPF_TXA,
]);

const isU = (v: number, bits: number): boolean => Number.isInteger(v) && v >= 0 && v < 2 ** bits;

/**
 * The checks of the kernel's bpf_check_classic(): known opcodes, scratch
 * memory index in range, no division or modulo by constant zero, no constant
 * shift >= 32, every jump lands inside the program (jumps only go forward),
 * last instruction is a return, ancillary loads name a known field. Returns
 * null when fine, else the first problem.
 * (The kernel additionally refuses a read of scratch memory that no path has
 * written; programs here are expected not to do that, the interpreter reads 0.)
 */
export function checkClassic(insns: readonly BpfInstruction[]): string | null {
  const n = insns.length;
  if (n === 0 || n > BPF_MAXINSNS) return `program length ${n} outside 1..${BPF_MAXINSNS}`;
  for (let pc = 0; pc < n; pc++) {
    const { code, jt, jf, k } = insns[pc]!;
    const at = `instruction ${pc}`;
    if (!isU(code, 16) || !isU(jt, 8) || !isU(jf, 8) || !isU(k, 32)) return `${at}: field out of range`;
    if (!VALID_CODES.has(code)) return `${at}: unknown opcode 0x${code.toString(16)}`;
    switch (code) {
      case BPF_LD | BPF_MEM:
      case BPF_LDX | BPF_W | BPF_MEM:
      case BPF_ST:
      case BPF_STX:
        if (k >= BPF_MEMWORDS) return `${at}: scratch memory index ${k} >= ${BPF_MEMWORDS}`;
        break;
      case BPF_ALU | BPF_DIV | BPF_K:
      case BPF_ALU | BPF_MOD | BPF_K:
        if (k === 0) return `${at}: division by constant zero`;
        break;
      case BPF_ALU | BPF_LSH | BPF_K:
      case BPF_ALU | BPF_RSH | BPF_K:
        if (k >= 32) return `${at}: shift by ${k}`;
        break;
      case BPF_JMP | BPF_JA:
        if (k >= n - pc - 1) return `${at}: ja out of program`;
        break;
      case BPF_LD | BPF_W | BPF_ABS:
      case BPF_LD | BPF_H | BPF_ABS:
      case BPF_LD | BPF_B | BPF_ABS:
        // Known fields are 0, 4, … 60 (SKF_AD_PROTOCOL … SKF_AD_VLAN_TPID).
        if (k >= SKF_AD_OFF && (k - SKF_AD_OFF >= SKF_AD_MAX || (k - SKF_AD_OFF) % 4 !== 0)) {
          return `${at}: unknown ancillary offset SKF_AD_OFF + ${k - SKF_AD_OFF}`;
        }
        break;
      default:
        if (bpfClass(code) === BPF_JMP && (pc + 1 + jt >= n || pc + 1 + jf >= n)) {
          return `${at}: conditional jump out of program`;
        }
    }
  }
  if (bpfClass(insns[n - 1]!.code) !== BPF_RET) return 'last instruction is not a return';
  return null;
}

// --- byte layout ----------------------------------------------------------

export const SOCK_FILTER_SIZE = 8;

/**
 * The `struct sock_filter[]` bytes for SO_ATTACH_FILTER's `sock_fprog.filter`:
 * 8 bytes per instruction, fields in host byte order (the kernel reads the
 * struct as-is; only the packet loads are big-endian).
 */
export function encode(program: BpfProgram, littleEndian = endianness() === 'LE'): Buffer {
  const out = Buffer.alloc(program.length * SOCK_FILTER_SIZE);
  program.instructions.forEach((ins, i) => {
    const o = i * SOCK_FILTER_SIZE;
    if (littleEndian) {
      out.writeUInt16LE(ins.code, o);
      out.writeUInt32LE(ins.k, o + 4);
    } else {
      out.writeUInt16BE(ins.code, o);
      out.writeUInt32BE(ins.k, o + 4);
    }
    out.writeUInt8(ins.jt, o + 2);
    out.writeUInt8(ins.jf, o + 3);
  });
  return out;
}

/** Inverse of `encode` (checked like `BpfProgram.from`). */
export function decode(bytes: Buffer, littleEndian = endianness() === 'LE'): BpfProgram {
  if (bytes.length % SOCK_FILTER_SIZE !== 0) {
    throw new BpfProgramError(`length ${bytes.length} is not a multiple of ${SOCK_FILTER_SIZE}`);
  }
  const insns: BpfInstruction[] = [];
  for (let o = 0; o < bytes.length; o += SOCK_FILTER_SIZE) {
    insns.push({
      code: littleEndian ? bytes.readUInt16LE(o) : bytes.readUInt16BE(o),
      jt: bytes[o + 2]!,
      jf: bytes[o + 3]!,
      k: littleEndian ? bytes.readUInt32LE(o + 4) : bytes.readUInt32BE(o + 4),
    });
  }
  return BpfProgram.from(insns);
}

/** Parses `tcpdump -ddd` output (count line, then "code jt jf k" lines), e.g. for cross-checks. */
export function fromTcpdumpDecimal(text: string): BpfProgram {
  const lines = text.trim().split('\n').map((l) => l.trim()).filter((l) => l.length > 0);
  const count = Number(lines[0]);
  const insns = lines.slice(1).map((l) => {
    const [code, jt, jf, k] = l.split(/\s+/).map(Number);
    return { code: code!, jt: jt!, jf: jf!, k: k! >>> 0 };
  });
  if (insns.length !== count) throw new BpfProgramError(`expected ${count} instructions, got ${insns.length}`);
  return BpfProgram.from(insns);
}

// --- listing --------------------------------------------------------------

const ALU_NAMES: Record<number, string> = {
  [BPF_ADD]: 'add', [BPF_SUB]: 'sub', [BPF_MUL]: 'mul', [BPF_DIV]: 'div', [BPF_OR]: 'or',
  [BPF_AND]: 'and', [BPF_LSH]: 'lsh', [BPF_RSH]: 'rsh', [BPF_MOD]: 'mod', [BPF_XOR]: 'xor',
};
const JMP_NAMES: Record<number, string> = { [BPF_JEQ]: 'jeq', [BPF_JGT]: 'jgt', [BPF_JGE]: 'jge', [BPF_JSET]: 'jset' };
const SIZE_SUFFIX: Record<number, string> = { [BPF_W]: '', [BPF_H]: 'h', [BPF_B]: 'b' };
const ANCILLARY_NAMES: Record<number, string> = {
  [SKF_AD_PROTOCOL]: 'proto', [SKF_AD_PKTTYPE]: 'type', [SKF_AD_IFINDEX]: 'ifidx', [SKF_AD_HATYPE]: 'hatype',
  [SKF_AD_VLAN_TAG]: 'vlan_tci', [SKF_AD_VLAN_TAG_PRESENT]: 'vlan_avail', [SKF_AD_VLAN_TPID]: 'vlan_tpid',
};
const hex = (k: number): string => `#0x${k.toString(16)}`;

function describe(ins: BpfInstruction): [string, string] {
  const { code, k } = ins;
  switch (bpfClass(code)) {
    case BPF_LD: {
      const op = `ld${SIZE_SUFFIX[bpfSize(code)]}`;
      switch (bpfMode(code)) {
        case BPF_ABS:
          if (k >= SKF_AD_OFF) return [op, `#${ANCILLARY_NAMES[k - SKF_AD_OFF] ?? `anc${k - SKF_AD_OFF}`}`];
          return [op, `[${k | 0}]`];
        case BPF_IND: return [op, `[x + ${k | 0}]`];
        case BPF_LEN: return [op, '#pktlen'];
        case BPF_MEM: return [op, `M[${k}]`];
        default: return [op, hex(k)];
      }
    }
    case BPF_LDX:
      switch (bpfMode(code)) {
        case BPF_MSH: return ['ldxb', `4*([${k}]&0xf)`];
        case BPF_LEN: return ['ldx', '#pktlen'];
        case BPF_MEM: return ['ldx', `M[${k}]`];
        default: return ['ldx', hex(k)];
      }
    case BPF_ST: return ['st', `M[${k}]`];
    case BPF_STX: return ['stx', `M[${k}]`];
    case BPF_ALU:
      if (bpfOp(code) === BPF_NEG) return ['neg', ''];
      return [ALU_NAMES[bpfOp(code)] ?? '?', bpfSrc(code) === BPF_X ? 'x' : hex(k)];
    case BPF_JMP:
      if (bpfOp(code) === BPF_JA) return ['ja', `${k}`];
      return [JMP_NAMES[bpfOp(code)] ?? '?', bpfSrc(code) === BPF_X ? 'x' : hex(k)];
    case BPF_RET: return ['ret', bpfRval(code) === BPF_A ? 'a' : `#${k}`];
    default: return [bpfMiscOp(code) === BPF_TXA ? 'txa' : 'tax', ''];
  }
}

/** A listing in the style of `tcpdump -d` (ancillary loads shown as `#type`, `#proto`, …). */
export function toTcpdumpStyle(program: BpfProgram): string {
  return program.instructions
    .map((ins, pc) => {
      const [op, operand] = describe(ins);
      const head = `(${String(pc).padStart(3, '0')}) ${op.padEnd(8)} ${operand}`;
      if (bpfClass(ins.code) === BPF_JMP && bpfOp(ins.code) !== BPF_JA) {
        return `${head.padEnd(32)}jt ${pc + 1 + ins.jt}\tjf ${pc + 1 + ins.jf}`;
      }
      if (bpfClass(ins.code) === BPF_JMP) return `(${String(pc).padStart(3, '0')}) ${op.padEnd(8)} ${pc + 1 + ins.k}`;
      return head.trimEnd();
    })
    .join('\n');
}

// --- label-based assembler ------------------------------------------------

/** A jump target; create with `asm.label()`, bind with `asm.place()`. */
export class Label {
  /** @internal position in the item list, set by place() */
  item = -1;
  constructor(readonly name: string) {}
}

type Item =
  | { readonly kind: 'stmt'; readonly code: number; readonly k: number }
  | { readonly kind: 'ja'; readonly target: Label }
  | { readonly kind: 'jcond'; readonly code: number; readonly k: number; readonly jt: Label | null; readonly jf: Label | null };

const MAX_COND_OFFSET = 255;

/**
 * Emits instructions with symbolic forward jumps. `assemble()` resolves them;
 * a conditional branch farther than 255 instructions goes through a `ja`
 * trampoline placed right after it (ja has a 32-bit offset), so the generator
 * never has to think about distances. `null` as a branch target means "the
 * next instruction".
 */
export class BpfAssembler {
  private readonly items: Item[] = [];
  private readonly labels: Label[] = [];

  label(name = `L${this.labels.length}`): Label {
    const l = new Label(name);
    this.labels.push(l);
    return l;
  }

  /** Binds `label` to the next emitted instruction. */
  place(label: Label): this {
    if (label.item !== -1) throw new BpfProgramError(`label ${label.name} placed twice`);
    label.item = this.items.length;
    return this;
  }

  stmt(code: number, k = 0): this {
    this.items.push({ kind: 'stmt', code, k: k >>> 0 });
    return this;
  }

  ja(target: Label): this {
    this.items.push({ kind: 'ja', target });
    return this;
  }

  /** Conditional jump: `code` is BPF_JMP|op|src. */
  jump(code: number, k: number, jt: Label | null, jf: Label | null = null): this {
    this.items.push({ kind: 'jcond', code, k: k >>> 0, jt, jf });
    return this;
  }

  // Readable shorthands for what the generator uses.
  ldAbs(size: number, offset: number): this { return this.stmt(BPF_LD | size | BPF_ABS, offset); }
  ldInd(size: number, offset: number): this { return this.stmt(BPF_LD | size | BPF_IND, offset); }
  ldAncillary(field: number): this { return this.stmt(BPF_LD | BPF_W | BPF_ABS, SKF_AD_OFF + field); }
  ldxImm(k: number): this { return this.stmt(BPF_LDX | BPF_W | BPF_IMM, k); }
  ldxMsh(offset: number): this { return this.stmt(BPF_LDX | BPF_B | BPF_MSH, offset); }
  alu(op: number, k: number): this { return this.stmt(BPF_ALU | op | BPF_K, k); }
  aluX(op: number): this { return this.stmt(BPF_ALU | op | BPF_X); }
  tax(): this { return this.stmt(BPF_MISC | BPF_TAX); }
  txa(): this { return this.stmt(BPF_MISC | BPF_TXA); }
  ret(k: number): this { return this.stmt(BPF_RET | BPF_K, k); }
  jeq(k: number, jt: Label | null, jf: Label | null = null): this { return this.jump(BPF_JMP | BPF_JEQ | BPF_K, k, jt, jf); }
  jgt(k: number, jt: Label | null, jf: Label | null = null): this { return this.jump(BPF_JMP | BPF_JGT | BPF_K, k, jt, jf); }
  jge(k: number, jt: Label | null, jf: Label | null = null): this { return this.jump(BPF_JMP | BPF_JGE | BPF_K, k, jt, jf); }
  jset(k: number, jt: Label | null, jf: Label | null = null): this { return this.jump(BPF_JMP | BPF_JSET | BPF_K, k, jt, jf); }

  assemble(): BpfProgram {
    for (const l of this.labels) {
      if (l.item === -1) continue; // never placed: only an error if used, checked below
      if (l.item >= this.items.length) throw new BpfProgramError(`label ${l.name} placed after the last instruction`);
    }
    const n = this.items.length;
    // Per conditional item: does its true / false branch need a trampoline?
    const viaT = new Uint8Array(n);
    const viaF = new Uint8Array(n);
    const pos = new Int32Array(n + 1);
    const extra = (i: number): number => viaT[i]! + viaF[i]!;
    const layout = (): void => {
      let p = 0;
      for (let i = 0; i < n; i++) {
        pos[i] = p;
        p += 1 + extra(i);
      }
      pos[n] = p;
    };
    const targetOf = (i: number, l: Label | null): number => {
      if (l === null) return pos[i + 1]!;
      if (l.item === -1) throw new BpfProgramError(`label ${l.name} used but never placed`);
      if (l.item <= i) throw new BpfProgramError(`jump from item ${i} to label ${l.name} is not forward`);
      return pos[l.item]!;
    };
    // Adding trampolines only lengthens distances, so iterate to a fixpoint (at most 2n rounds).
    for (let changed = true; changed; ) {
      changed = false;
      layout();
      for (let i = 0; i < n; i++) {
        const it = this.items[i]!;
        if (it.kind === 'ja') targetOf(i, it.target);
        if (it.kind !== 'jcond') continue;
        const from = pos[i]! + 1;
        if (!viaT[i] && targetOf(i, it.jt) - from > MAX_COND_OFFSET) { viaT[i] = 1; changed = true; }
        if (!viaF[i] && targetOf(i, it.jf) - from > MAX_COND_OFFSET) { viaF[i] = 1; changed = true; }
      }
    }
    const out: BpfInstruction[] = [];
    for (let i = 0; i < n; i++) {
      const it = this.items[i]!;
      const from = pos[i]! + 1;
      if (it.kind === 'stmt') out.push(stmt(it.code, it.k));
      else if (it.kind === 'ja') out.push(stmt(BPF_JMP | BPF_JA, targetOf(i, it.target) - from));
      else {
        const t = targetOf(i, it.jt);
        const f = targetOf(i, it.jf);
        // Trampolines sit right after the jump: true's first, then false's.
        const jt = viaT[i] ? 0 : t - from;
        const jf = viaF[i] ? viaT[i]! : f - from;
        out.push(jump(it.code, it.k, jt, jf));
        if (viaT[i]) out.push(stmt(BPF_JMP | BPF_JA, t - (out.length + 1)));
        if (viaF[i]) out.push(stmt(BPF_JMP | BPF_JA, f - (out.length + 1)));
      }
    }
    return BpfProgram.from(out);
  }
}

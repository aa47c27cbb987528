import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import {
  BPF_A, BPF_ABS, BPF_ADD, BPF_ALU, BPF_AND, BPF_B, BPF_DIV, BPF_H, BPF_IMM, BPF_IND, BPF_JA, BPF_JEQ, BPF_JGE,
  BPF_JGT, BPF_JMP, BPF_JSET, BPF_K, BPF_LD, BPF_LDX, BPF_LEN, BPF_LSH, BPF_MEM, BPF_MISC, BPF_MOD, BPF_MSH,
  BPF_MUL, BPF_NEG, BPF_OR, BPF_RET, BPF_RSH, BPF_ST, BPF_STX, BPF_SUB, BPF_TAX, BPF_TXA, BPF_W, BPF_X, BPF_XOR,
  BpfAssembler, BpfProgram, BpfProgramError, PacketType, SKF_AD_IFINDEX, SKF_AD_OFF, SKF_AD_PKTTYPE,
  SKF_AD_PROTOCOL, SKF_AD_VLAN_TAG, SKF_AD_VLAN_TAG_PRESENT, checkClassic, decode, encode, fromTcpdumpDecimal,
  jump, stmt, toTcpdumpStyle, type BpfInstruction,
} from '../../src/capture/bpf-program.js';
import { BpfVm, runBpf, type BpfAncillary } from '../../src/capture/bpf-vm.js';
import { buildCaptureFilter } from '../../src/capture/filter-builder.js';
import type { ProtectedPort } from '../../src/policy/policy.js';
import { EtherType, Proto, ethernet, fragmentIpv4, ipv4, ipv6, tcp } from '../helpers/frame-builder.js';

const prog = (...insns: BpfInstruction[]): BpfProgram => BpfProgram.from(insns);
const RET_A = stmt(BPF_RET | BPF_A);
const BIG = 0xffffffff;
/** Runs with a large wire length so `ret a` is not clamped. */
const run = (p: BpfProgram, pkt: Uint8Array = new Uint8Array(0), anc?: BpfAncillary): number =>
  runBpf(p, pkt, 0, pkt.length, BIG, anc);
/** Result of an ALU op: A = a, X = x, then `op`, return A. */
const alu = (a: number, x: number, op: BpfInstruction): number =>
  run(prog(stmt(BPF_LDX | BPF_W | BPF_IMM, x), stmt(BPF_LD | BPF_IMM, a), op, RET_A));

const PKT = Uint8Array.from([0x01, 0x02, 0x03, 0x04, 0x85, 0x06, 0x07, 0x08, 0x49, 0xaa]);

describe('bpf-vm: loads', () => {
  it('ld/ldh/ldb abs read big-endian at absolute offsets', () => {
    assert.equal(run(prog(stmt(BPF_LD | BPF_W | BPF_ABS, 1), RET_A), PKT), 0x02030485);
    assert.equal(run(prog(stmt(BPF_LD | BPF_H | BPF_ABS, 4), RET_A), PKT), 0x8506);
    assert.equal(run(prog(stmt(BPF_LD | BPF_B | BPF_ABS, 9), RET_A), PKT), 0xaa);
  });

  it('ld ind adds X to k', () => {
    const p = prog(stmt(BPF_LDX | BPF_W | BPF_IMM, 3), stmt(BPF_LD | BPF_H | BPF_IND, 2), RET_A);
    assert.equal(run(p, PKT), 0x0607);
  });

  it('a load past the captured bytes ends with 0, even inside the buffer and with a larger wire length', () => {
    assert.equal(run(prog(stmt(BPF_LD | BPF_W | BPF_ABS, 7), stmt(BPF_RET | BPF_K, 9)), PKT), 0);
    assert.equal(run(prog(stmt(BPF_LD | BPF_H | BPF_ABS, 9), stmt(BPF_RET | BPF_K, 9)), PKT), 0);
    assert.equal(run(prog(stmt(BPF_LD | BPF_B | BPF_ABS, 10), stmt(BPF_RET | BPF_K, 9)), PKT), 0);
    assert.equal(run(prog(stmt(BPF_LD | BPF_B | BPF_ABS, 9), stmt(BPF_RET | BPF_K, 9)), PKT), 9);
    // The frame is bytes 2..6 of a larger buffer: byte 5 of the frame exists in the buffer but not in the frame.
    const p = prog(stmt(BPF_LD | BPF_B | BPF_ABS, 4), RET_A);
    assert.equal(runBpf(p, PKT, 2, 5, 100), 0x07);
    assert.equal(runBpf(p, PKT, 2, 4, 100), 0);
    const ind = prog(stmt(BPF_LDX | BPF_W | BPF_IMM, 8), stmt(BPF_LD | BPF_H | BPF_IND, 1), stmt(BPF_RET | BPF_K, 1));
    assert.equal(run(ind, PKT), 0);
  });

  it('negative indirect offsets (X + k < 0) end with 0', () => {
    const p = prog(stmt(BPF_LDX | BPF_W | BPF_IMM, 0xfffffffe), stmt(BPF_LD | BPF_B | BPF_IND, 1), stmt(BPF_RET | BPF_K, 1));
    assert.equal(run(p, PKT), 0);
    // ... while a wrap-around that lands inside the frame is an ordinary load
    const q = prog(stmt(BPF_LDX | BPF_W | BPF_IMM, 0xfffffffe), stmt(BPF_LD | BPF_B | BPF_IND, 3), RET_A);
    assert.equal(run(q, PKT), 0x02);
  });

  it('ld len / ldx len read the wire length, ld imm and ldx imm the constant', () => {
    const p = prog(stmt(BPF_LD | BPF_W | BPF_LEN), RET_A);
    assert.equal(runBpf(p, PKT, 0, 10, 1500), 1500);
    const q = prog(stmt(BPF_LDX | BPF_W | BPF_LEN), stmt(BPF_MISC | BPF_TXA), stmt(BPF_ALU | BPF_SUB | BPF_K, 1), RET_A);
    assert.equal(runBpf(q, PKT, 0, 10, 1500), 1499);
    assert.equal(run(prog(stmt(BPF_LD | BPF_IMM, 77), RET_A)), 77);
  });

  it('ldx msh gives 4 * (low nibble) and ends with 0 past the end', () => {
    const p = prog(stmt(BPF_LDX | BPF_B | BPF_MSH, 4), stmt(BPF_MISC | BPF_TXA), RET_A);
    assert.equal(run(p, PKT), 4 * 5);
    assert.equal(run(prog(stmt(BPF_LDX | BPF_B | BPF_MSH, 10), stmt(BPF_RET | BPF_K, 1)), PKT), 0);
  });

  it('st/stx/ld mem/ldx mem use 16 scratch words, zeroed for each run', () => {
    const p = prog(
      stmt(BPF_LD | BPF_IMM, 11), stmt(BPF_ST, 15),
      stmt(BPF_LDX | BPF_W | BPF_IMM, 22), stmt(BPF_STX, 0),
      stmt(BPF_LD | BPF_MEM, 0), // A = 22
      stmt(BPF_LDX | BPF_W | BPF_MEM, 15), // X = 11
      stmt(BPF_ALU | BPF_MUL | BPF_X), // 242
      RET_A,
    );
    assert.equal(run(p), 242);
    const vm = new BpfVm(prog(stmt(BPF_LD | BPF_MEM, 3), stmt(BPF_ALU | BPF_ADD | BPF_K, 1), stmt(BPF_ST, 3), RET_A));
    assert.equal(vm.run(PKT, 0, 10, BIG), 1);
    assert.equal(vm.run(PKT, 0, 10, BIG), 1, 'memory of a previous run leaked');
  });

  it('ancillary loads read the metadata passed in, unknown ones drop', () => {
    const anc = (field: number): BpfProgram => prog(stmt(BPF_LD | BPF_W | BPF_ABS, SKF_AD_OFF + field), RET_A);
    const meta: BpfAncillary = { pktType: PacketType.OUTGOING, protocol: 0x86dd, vlanTci: 0x2064, vlanPresent: true, ifIndex: 7 };
    assert.equal(run(anc(SKF_AD_PKTTYPE), PKT, meta), 4);
    assert.equal(run(anc(SKF_AD_PROTOCOL), PKT, meta), 0x86dd);
    assert.equal(run(anc(SKF_AD_VLAN_TAG), PKT, meta), 0x2064);
    assert.equal(run(anc(SKF_AD_VLAN_TAG_PRESENT), PKT, meta), 1);
    assert.equal(run(anc(SKF_AD_VLAN_TAG_PRESENT), PKT), 0);
    assert.equal(run(anc(SKF_AD_IFINDEX), PKT, meta), 7);
    assert.equal(run(prog(stmt(BPF_LD | BPF_B | BPF_ABS, SKF_AD_OFF + SKF_AD_PKTTYPE), RET_A), PKT, meta), 4);
    // a field the kernel knows (SKF_AD_MARK) but the interpreter does not carry: drop, never a made-up value
    assert.equal(run(prog(stmt(BPF_LD | BPF_W | BPF_ABS, SKF_AD_OFF + 20), stmt(BPF_RET | BPF_K, 5)), PKT, meta), 0);
    // SKF_NET_OFF-relative loads are not supported: drop, never a wrong value
    assert.equal(run(prog(stmt(BPF_LD | BPF_B | BPF_ABS, -0x100000 + 0), stmt(BPF_RET | BPF_K, 5)), PKT), 0);
  });
});

describe('bpf-vm: ALU', () => {
  const K = (op: number, k: number): BpfInstruction => stmt(BPF_ALU | op | BPF_K, k);
  const X = (op: number): BpfInstruction => stmt(BPF_ALU | op | BPF_X);
  const cases: [string, number, number, number, number][] = [
    // name, op, a, x(=k), expected
    ['add wraps', BPF_ADD, 0xffffffff, 2, 1],
    ['sub wraps', BPF_SUB, 1, 2, 0xffffffff],
    ['mul is 32-bit', BPF_MUL, 0x10001, 0x10001, 0x20001],
    ['div is unsigned', BPF_DIV, 0xfffffffe, 2, 0x7fffffff],
    ['mod', BPF_MOD, 17, 5, 2],
    ['or', BPF_OR, 0xf0f0f0f0, 0x0f0f0f0f, 0xffffffff],
    ['and', BPF_AND, 0xf0f0f0f0, 0x3c3c3c3c, 0x30303030],
    ['xor', BPF_XOR, 0xff00ff00, 0xffff0000, 0x00ffff00],
    ['lsh', BPF_LSH, 0x80000001, 4, 0x00000010],
    ['rsh is logical', BPF_RSH, 0x80000000, 31, 1],
  ];
  for (const [name, op, a, x, want] of cases) {
    it(`${name} (K and X)`, () => {
      assert.equal(alu(a, 0, K(op, x)), want);
      assert.equal(alu(a, x, X(op)), want);
    });
  }

  it('neg', () => {
    assert.equal(alu(1, 0, stmt(BPF_ALU | BPF_NEG)), 0xffffffff);
    assert.equal(alu(0, 0, stmt(BPF_ALU | BPF_NEG)), 0);
  });

  it('division and modulo by X == 0 end the program with 0', () => {
    assert.equal(alu(10, 0, X(BPF_DIV)), 0);
    assert.equal(alu(10, 0, X(BPF_MOD)), 0);
    assert.equal(alu(10, 3, X(BPF_DIV)), 3);
  });

  it('shifts by X use its low 5 bits', () => {
    assert.equal(alu(1, 33, X(BPF_LSH)), 2);
    assert.equal(alu(4, 33, X(BPF_RSH)), 2);
  });

  it('tax / txa move between A and X', () => {
    const p = prog(stmt(BPF_LD | BPF_IMM, 9), stmt(BPF_MISC | BPF_TAX), stmt(BPF_LD | BPF_IMM, 1), stmt(BPF_MISC | BPF_TXA), RET_A);
    assert.equal(run(p), 9);
  });
});

describe('bpf-vm: jumps and returns', () => {
  /** A = a, X = x, then the jump; returns 1 on true, 2 on false. */
  const branch = (a: number, x: number, code: number, k = 0): number =>
    run(prog(
      stmt(BPF_LDX | BPF_W | BPF_IMM, x), stmt(BPF_LD | BPF_IMM, a),
      jump(code, k, 0, 1), stmt(BPF_RET | BPF_K, 1), stmt(BPF_RET | BPF_K, 2),
    ));

  it('jeq / jgt / jge / jset with K compare unsigned', () => {
    assert.equal(branch(5, 0, BPF_JMP | BPF_JEQ | BPF_K, 5), 1);
    assert.equal(branch(6, 0, BPF_JMP | BPF_JEQ | BPF_K, 5), 2);
    assert.equal(branch(0xffffffff, 0, BPF_JMP | BPF_JGT | BPF_K, 1), 1);
    assert.equal(branch(1, 0, BPF_JMP | BPF_JGT | BPF_K, 1), 2);
    assert.equal(branch(1, 0, BPF_JMP | BPF_JGE | BPF_K, 1), 1);
    assert.equal(branch(0, 0, BPF_JMP | BPF_JGE | BPF_K, 1), 2);
    assert.equal(branch(0x12, 0, BPF_JMP | BPF_JSET | BPF_K, 0x02), 1);
    assert.equal(branch(0x10, 0, BPF_JMP | BPF_JSET | BPF_K, 0x02), 2);
  });

  it('jeq / jgt / jge / jset with X', () => {
    assert.equal(branch(5, 5, BPF_JMP | BPF_JEQ | BPF_X), 1);
    assert.equal(branch(5, 4, BPF_JMP | BPF_JEQ | BPF_X), 2);
    assert.equal(branch(0x80000000, 1, BPF_JMP | BPF_JGT | BPF_X), 1);
    assert.equal(branch(1, 0x80000000, BPF_JMP | BPF_JGT | BPF_X), 2);
    assert.equal(branch(7, 7, BPF_JMP | BPF_JGE | BPF_X), 1);
    assert.equal(branch(0x0f, 0xf0, BPF_JMP | BPF_JSET | BPF_X), 2);
  });

  it('ja skips k instructions', () => {
    const p = prog(stmt(BPF_JMP | BPF_JA, 1), stmt(BPF_RET | BPF_K, 1), stmt(BPF_RET | BPF_K, 2));
    assert.equal(run(p), 2);
  });

  it('ret is clamped to the wire length (the kernel keeps min(result, skb->len))', () => {
    const p = prog(stmt(BPF_RET | BPF_K, 0xffffffff));
    assert.equal(runBpf(p, PKT, 0, 10, 60), 60);
    assert.equal(runBpf(prog(stmt(BPF_RET | BPF_K, 0)), PKT), 0);
  });
});

describe('bpf-program: checks, encoding, listing', () => {
  it('refuses what the kernel refuses', () => {
    const ret = stmt(BPF_RET | BPF_K, 1);
    assert.match(checkClassic([])!, /length/);
    assert.match(checkClassic([stmt(BPF_LD | BPF_IMM, 1)])!, /not a return/);
    assert.match(checkClassic([stmt(BPF_LD | BPF_MEM, 16), ret])!, /scratch/);
    assert.match(checkClassic([stmt(BPF_ST, 16), ret])!, /scratch/);
    assert.match(checkClassic([stmt(BPF_ALU | BPF_DIV | BPF_K, 0), ret])!, /zero/);
    assert.match(checkClassic([stmt(BPF_ALU | BPF_MOD | BPF_K, 0), ret])!, /zero/);
    assert.match(checkClassic([stmt(BPF_ALU | BPF_LSH | BPF_K, 32), ret])!, /shift/);
    assert.match(checkClassic([jump(BPF_JMP | BPF_JEQ | BPF_K, 0, 0, 1), ret])!, /out of program/);
    assert.match(checkClassic([stmt(BPF_JMP | BPF_JA, 1), ret])!, /out of program/);
    assert.match(checkClassic([stmt(0x07 | 0x10), ret])!, /unknown opcode/);
    assert.match(checkClassic([stmt(BPF_RET | BPF_X)])!, /unknown opcode/);
    assert.match(checkClassic([stmt(BPF_LD | BPF_B | BPF_ABS, SKF_AD_OFF + 2), ret])!, /ancillary/);
    assert.match(checkClassic([stmt(BPF_LD | BPF_W | BPF_ABS, SKF_AD_OFF + 64), ret])!, /ancillary/);
    assert.equal(checkClassic([stmt(BPF_LD | BPF_W | BPF_ABS, SKF_AD_OFF + 60), ret]), null);
    assert.match(checkClassic(Array.from({ length: 4097 }, () => ret))!, /length/);
    assert.equal(checkClassic([ret]), null);
    assert.throws(() => BpfProgram.from([]), BpfProgramError);
  });

  it('encodes struct sock_filter: u16 code, u8 jt, u8 jf, u32 k in host order', () => {
    const p = prog(stmt(BPF_LD | BPF_H | BPF_ABS, 12), jump(BPF_JMP | BPF_JEQ | BPF_K, 0x86dd, 0, 1), stmt(BPF_RET | BPF_K, 0x40000), stmt(BPF_RET | BPF_K, 0));
    const le = encode(p, true);
    assert.equal(le.toString('hex'), '280000000c000000' + '15000001dd860000' + '0600000000000400' + '0600000000000000');
    const be = encode(p, false);
    assert.equal(be.subarray(0, 8).toString('hex'), '002800000000000c');
    assert.deepEqual(decode(le, true).instructions, p.instructions);
    assert.deepEqual(decode(be, false).instructions, p.instructions);
    assert.deepEqual(decode(encode(p)).instructions, p.instructions); // host default
    assert.throws(() => decode(le.subarray(0, 7)), BpfProgramError);
  });

  it('lists in the tcpdump -d style', () => {
    const p = prog(
      stmt(BPF_LD | BPF_W | BPF_ABS, SKF_AD_OFF + SKF_AD_PKTTYPE),
      jump(BPF_JMP | BPF_JEQ | BPF_K, 4, 3, 0),
      stmt(BPF_LDX | BPF_B | BPF_MSH, 14),
      stmt(BPF_LD | BPF_B | BPF_IND, 27),
      stmt(BPF_JMP | BPF_JA, 0),
      stmt(BPF_RET | BPF_K, 0),
    );
    assert.equal(toTcpdumpStyle(p), [
      '(000) ld       #type',
      '(001) jeq      #0x4             jt 5\tjf 2',
      '(002) ldxb     4*([14]&0xf)',
      '(003) ldb      [x + 27]',
      '(004) ja       5',
      '(005) ret      #0',
    ].join('\n'));
  });

  const tcpdumpFile = '/work/shared/pcaps/esnet_nmap_80_vanilla.pcap';
  const haveTcpdump = ((): boolean => {
    try {
      execFileSync('tcpdump', ['--version'], { stdio: 'ignore' });
      return existsSync(tcpdumpFile);
    } catch {
      return false;
    }
  })();

  it('matches tcpdump -d listings of libpcap-compiled programs', function () {
    if (!haveTcpdump) {
      console.log(`      skipped: needs tcpdump and ${tcpdumpFile}`);
      this.skip();
    }
    for (const expr of ['tcp[13] & 2 != 0 and not tcp[13] & 16 != 0', 'ip6 and tcp dst port 22', 'vlan and (ip[6:2] & 0x3fff != 0)', 'len > 100 or ip[0] & 0xf > 5']) {
      const args = ['-r', tcpdumpFile, expr];
      const dec = execFileSync('tcpdump', ['-ddd', ...args], { stdio: ['ignore', 'pipe', 'ignore'] }).toString();
      const listing = execFileSync('tcpdump', ['-d', ...args], { stdio: ['ignore', 'pipe', 'ignore'] }).toString();
      assert.equal(toTcpdumpStyle(fromTcpdumpDecimal(dec)), listing.trimEnd(), expr);
    }
  });
});

describe('bpf-program: assembler', () => {
  it('resolves forward labels and "next"', () => {
    const asm = new BpfAssembler();
    const yes = asm.label('yes');
    asm.ldAbs(BPF_B, 0).jeq(1, yes).jeq(2, null, yes).ret(3).place(yes).ret(4);
    const p = asm.assemble();
    assert.equal(run(p, Uint8Array.of(1)), 4);
    assert.equal(run(p, Uint8Array.of(2)), 3);
    assert.equal(run(p, Uint8Array.of(5)), 4);
  });

  it('reaches targets beyond 255 instructions through ja trampolines', () => {
    for (const both of [false, true]) {
      const asm = new BpfAssembler();
      const far = asm.label('far');
      const farther = asm.label('farther');
      asm.ldAbs(BPF_B, 0);
      if (both) asm.jeq(1, far, farther); else asm.jeq(1, far);
      // 300 instructions that must run on the near path: X counts them
      asm.ldxImm(0);
      for (let i = 0; i < 150; i++) asm.txa().alu(BPF_ADD, 1).tax().txa();
      asm.ret(7);
      asm.place(far).ret(1);
      asm.place(farther).ret(2);
      const p = asm.assemble();
      for (const ins of p.instructions) assert.ok(ins.jt <= 255 && ins.jf <= 255);
      assert.equal(run(p, Uint8Array.of(1)), 1, `both=${both}`);
      assert.equal(run(p, Uint8Array.of(0)), both ? 2 : 7, `both=${both}`);
      assert.ok(p.length > 600);
    }
  });

  it('refuses backward, unplaced and doubly placed labels', () => {
    const a = new BpfAssembler();
    const back = a.label('back');
    a.place(back).ldAbs(BPF_B, 0).jeq(1, back).ret(0);
    assert.throws(() => a.assemble(), /not forward/);
    const b = new BpfAssembler();
    b.ja(b.label('nowhere')).ret(0);
    assert.throws(() => b.assemble(), /never placed/);
    const c = new BpfAssembler();
    const l = c.label('x');
    c.place(l);
    assert.throws(() => c.place(l), /twice/);
  });

  it('the assembler emits the opcodes its names say', () => {
    const asm = new BpfAssembler();
    asm.ldAbs(BPF_H, 12).ldInd(BPF_W, 2).ldxMsh(14).ldxImm(3).alu(BPF_AND, 0xf).aluX(BPF_SUB).tax().txa()
      .ldAncillary(SKF_AD_PKTTYPE).ret(1);
    assert.deepEqual(asm.assemble().instructions.map((i) => i.code), [
      BPF_LD | BPF_H | BPF_ABS, BPF_LD | BPF_W | BPF_IND, BPF_LDX | BPF_B | BPF_MSH, BPF_LDX | BPF_W | BPF_IMM,
      BPF_ALU | BPF_AND | BPF_K, BPF_ALU | BPF_SUB | BPF_X, BPF_MISC | BPF_TAX, BPF_MISC | BPF_TXA,
      BPF_LD | BPF_W | BPF_ABS, BPF_RET | BPF_K,
    ]);
  });
});


/**
 * Differential test against the running kernel, no root needed: each random
 * program is attached (SO_ATTACH_FILTER) to a loopback UDP socket, where the
 * kernel runs it over the UDP header + payload and trims the datagram to the
 * result (at least the 8-byte header) or drops it on 0. A marker datagram
 * sent after each test datagram (accepted by a prefix the interpreter does
 * not run) tells "dropped" from "not yet arrived" without any timeout.
 */
const KERNEL_HARNESS = String.raw`
import ctypes, socket, struct, sys, json
SO_ATTACH_FILTER = 26; SO_NO_CHECK = 11
cases = json.load(sys.stdin)
rx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); rx.bind(('127.0.0.1', 0)); rx.settimeout(10)
tx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); tx.bind(('127.0.0.1', 0))
tx.setsockopt(socket.SOL_SOCKET, SO_NO_CHECK, 1)
prefix = (struct.pack('<HBBI', 0x30, 0, 0, 8) + struct.pack('<HBBI', 0x15, 0, 1, 0xff)
          + struct.pack('<HBBI', 0x06, 0, 0, 0xffff) + struct.pack('<HBBI', 0x00, 0, 0, 0))
out = {'sport': tx.getsockname()[1], 'dport': rx.getsockname()[1], 'ifindex': socket.if_nametoindex('lo'), 'results': []}
for c in cases:
    prog = prefix + bytes.fromhex(c['prog'])
    buf = ctypes.create_string_buffer(prog, len(prog))
    try:
        rx.setsockopt(socket.SOL_SOCKET, SO_ATTACH_FILTER, struct.pack('HL', len(prog) // 8, ctypes.addressof(buf)))
    except OSError:
        out['results'].append('refused'); continue
    tx.sendto(bytes.fromhex(c['payload']), rx.getsockname())
    tx.sendto(b'\xff', rx.getsockname())
    got = -1
    while True:
        d = rx.recv(70000)
        if d == b'\xff': break
        got = len(d)
    out['results'].append(got)
json.dump(out, sys.stdout)
`;

/** mulberry32: a small seeded PRNG so failures reproduce. */
function prng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A random program the kernel must accept: scratch words 0..3 written first, forward jumps only. */
function randomProgram(rnd: () => number, packetLength: number): BpfInstruction[] {
  const int = (n: number): number => Math.floor(rnd() * n);
  const pick = <T>(xs: readonly T[]): T => xs[int(xs.length)]!;
  const offset = (): number => int(packetLength + 6);
  const value = (): number => pick([0, 1, 2, 7, 8, 0x7f, 0x80, 0xff, 0x100, 0xffff, 0x80000000, 0xffffffff, int(2 ** 32), int(64)]);
  const size = (): number => pick([BPF_W, BPF_H, BPF_B]);
  const body = 3 + int(30);
  const insns: BpfInstruction[] = [0, 1, 2, 3].map((i) => stmt(BPF_ST, i));
  const n = insns.length + body + 1;
  const aluOps = [BPF_ADD, BPF_SUB, BPF_MUL, BPF_DIV, BPF_OR, BPF_AND, BPF_LSH, BPF_RSH, BPF_MOD, BPF_XOR];
  while (insns.length < n - 1) {
    const left = n - insns.length - 1; // instructions after this one
    switch (int(12)) {
      case 0: insns.push(stmt(BPF_LD | size() | BPF_ABS, rnd() < 0.8 ? offset() : SKF_AD_OFF + pick([SKF_AD_PROTOCOL, SKF_AD_PKTTYPE, SKF_AD_IFINDEX, SKF_AD_VLAN_TAG_PRESENT]))); break;
      case 1: insns.push(stmt(BPF_LD | size() | BPF_IND, offset())); break;
      case 2: insns.push(stmt(pick([BPF_LD | BPF_W | BPF_LEN, BPF_LDX | BPF_W | BPF_LEN, BPF_MISC | BPF_TAX, BPF_MISC | BPF_TXA, BPF_ALU | BPF_NEG]))); break;
      case 3: insns.push(stmt(pick([BPF_LD | BPF_IMM, BPF_LDX | BPF_W | BPF_IMM]), rnd() < 0.5 ? offset() : value())); break;
      case 4: insns.push(stmt(pick([BPF_LD | BPF_MEM, BPF_LDX | BPF_W | BPF_MEM, BPF_ST, BPF_STX]), int(4))); break;
      case 5: insns.push(stmt(BPF_LDX | BPF_B | BPF_MSH, offset())); break;
      case 6:
      case 7: {
        const op = pick(aluOps);
        if (rnd() < 0.5) insns.push(stmt(BPF_ALU | op | BPF_X));
        else {
          let k = value();
          if ((op === BPF_DIV || op === BPF_MOD) && k === 0) k = 3;
          if (op === BPF_LSH || op === BPF_RSH) k &= 31;
          insns.push(stmt(BPF_ALU | op | BPF_K, k));
        }
        break;
      }
      case 8:
      case 9:
      case 10: insns.push(jump(BPF_JMP | pick([BPF_JEQ, BPF_JGT, BPF_JGE, BPF_JSET]) | pick([BPF_K, BPF_X]), value(), int(Math.min(left, 256)), int(Math.min(left, 256)))); break;
      default: insns.push(rnd() < 0.5 ? stmt(BPF_JMP | BPF_JA, int(left)) : stmt(BPF_RET | BPF_K, pick([0, 1, 9, 20, 0xffffffff]))); break;
    }
  }
  insns.push(rnd() < 0.6 ? stmt(BPF_RET | BPF_A) : stmt(BPF_RET | BPF_K, pick([0, 5, 12, 30, 0xffffffff])));
  return insns;
}

interface KernelRun { sport: number; dport: number; ifindex: number; results: (number | 'refused')[] }

/** Runs each (program bytes, payload) in the kernel; null when the harness cannot run here. */
function runInKernel(cases: readonly { prog: Buffer; payload: Uint8Array }[]): KernelRun | string {
  try {
    const input = JSON.stringify(cases.map((c) => ({ prog: c.prog.toString('hex'), payload: Buffer.from(c.payload).toString('hex') })));
    return JSON.parse(execFileSync('python3', ['-c', KERNEL_HARNESS], { input, stdio: ['pipe', 'pipe', 'pipe'] }).toString()) as KernelRun;
  } catch (e) {
    return (e as Error).message.split('\n')[0]!;
  }
}

/** The bytes the kernel's filter sees for `payload`: the UDP header, then the payload. */
function datagram(run: KernelRun, payload: Uint8Array): Buffer {
  const header = Buffer.alloc(8);
  header.writeUInt16BE(run.sport, 0);
  header.writeUInt16BE(run.dport, 2);
  header.writeUInt16BE(8 + payload.length, 4); // checksum 0: SO_NO_CHECK
  return Buffer.concat([header, payload]);
}

/** What the harness reports for a filter result: dropped, or the payload bytes left after trimming. */
const kernelView = (r: number): number => (r === 0 ? -1 : Math.max(8, r) - 8);

const rawEncode = (insns: readonly BpfInstruction[]): Buffer =>
  Buffer.concat(insns.map((i) => {
    const b = Buffer.alloc(8);
    b.writeUInt16LE(i.code, 0);
    b[2] = i.jt;
    b[3] = i.jf;
    b.writeUInt32LE(i.k >>> 0, 4);
    return b;
  }));

describe('bpf-vm and checkClassic agree with the running kernel', function () {
  this.timeout(60000);

  it('on 400 random programs over random datagrams (loopback UDP socket, no root)', function () {
    const rnd = prng(20240607);
    const cases = Array.from({ length: 400 }, () => {
      const payload = Uint8Array.from({ length: 1 + Math.floor(rnd() * 60) }, () => Math.floor(rnd() * 256));
      if (payload[0] === 0xff) payload[0] = 0; // 0xff marks the harness's marker datagram
      return { program: BpfProgram.from(randomProgram(rnd, 8 + payload.length)), payload };
    });
    const out = runInKernel(cases.map((c) => ({ prog: encode(c.program), payload: c.payload })));
    if (typeof out === 'string') {
      console.log(`      skipped: the python3 harness could not run (${out})`);
      this.skip();
    }
    let dropped = 0;
    cases.forEach((c, i) => {
      const pkt = datagram(out, c.payload);
      const r = new BpfVm(c.program).run(pkt, 0, pkt.length, pkt.length, { protocol: 0x0800, pktType: PacketType.HOST, ifIndex: out.ifindex });
      if (r === 0) dropped++;
      assert.equal(out.results[i], kernelView(r), `case ${i}:\n${toTcpdumpStyle(c.program)}\npacket ${pkt.toString('hex')}`);
    });
    console.log(`      ${cases.length} programs, ${dropped} dropped by both`);
    assert.ok(dropped > 20 && dropped < cases.length - 20, 'random cases are too one-sided to compare');
  });

  it('refuses the programs checkClassic refuses', function () {
    const ret = stmt(BPF_RET | BPF_K, 1);
    const invalid: BpfInstruction[][] = [
      [stmt(BPF_LD | BPF_IMM, 1)],
      [stmt(BPF_LD | BPF_MEM, 16), ret],
      [stmt(BPF_ST, 16), ret],
      [stmt(BPF_ALU | BPF_DIV | BPF_K, 0), ret],
      [stmt(BPF_ALU | BPF_MOD | BPF_K, 0), ret],
      [stmt(BPF_ALU | BPF_LSH | BPF_K, 32), ret],
      [jump(BPF_JMP | BPF_JEQ | BPF_K, 0, 0, 1), ret],
      [stmt(BPF_JMP | BPF_JA, 1), ret],
      [stmt(0x07 | 0x10), ret],
      [stmt(BPF_RET | BPF_X)],
      [stmt(BPF_LD | BPF_B | BPF_ABS, SKF_AD_OFF + 2), ret],
      [stmt(BPF_LD | BPF_W | BPF_ABS, SKF_AD_OFF + 64), ret],
    ];
    for (const insns of invalid) assert.notEqual(checkClassic(insns), null);
    const valid = [[stmt(BPF_LD | BPF_W | BPF_ABS, SKF_AD_OFF + 60), ret], [stmt(BPF_ALU | BPF_RSH | BPF_K, 31), ret]];
    const out = runInKernel([...invalid, ...valid].map((insns) => ({ prog: rawEncode(insns), payload: Uint8Array.of(1) })));
    if (typeof out === 'string') {
      console.log(`      skipped: the python3 harness could not run (${out})`);
      this.skip();
    }
    invalid.forEach((insns, i) => assert.equal(out.results[i], 'refused', `invalid ${i}: ${JSON.stringify(insns)}`));
    valid.forEach((_, i) => assert.notEqual(out.results[invalid.length + i], 'refused', `valid ${i}`));
  });

  it('runs the generated capture filter over crafted frames with the interpreter\'s verdicts', function () {
    // The kernel sees [UDP header][frame bytes 8..]: the header stands in for the first 8 bytes
    // (destination MAC and half the source MAC), which the Ethernet filter never reads.
    const ports: ProtectedPort[] = [{ port: 22, protocol: 'tcp' }, { port: 445, protocol: 'tcp' }, { port: 8080, protocol: 'tcp6' }];
    const program = buildCaptureFilter({ ports });
    const vm = new BpfVm(program);
    const frames: Uint8Array[] = [];
    for (const flags of [0x02, 0xc2, 0x03, 0x12, 0x10, 0x04, 0x01, 0x00, 0x29, 0x18]) {
      for (const dport of [22, 445, 8080, 80]) {
        const seg = tcp({ srcPort: 40000, dstPort: dport, flags, payload: 300 });
        const p4 = ipv4({ src: '198.18.0.2', dst: '198.18.0.1', payload: seg, options: dport === 445 ? [1, 1, 1, 1] : [] });
        const p6 = ipv6({ src: 'fd00::2', dst: 'fd00::1', payload: seg });
        frames.push(ethernet(p4), ethernet(p6), ethernet(p4, { vlans: [{ id: 1, tpid: EtherType.QINQ }, 2] }));
      }
    }
    const big = ipv4({ src: '198.18.0.2', dst: '198.18.0.1', payload: tcp({ srcPort: 1, dstPort: 80, flags: 0x10, payload: 200 }) });
    for (const f of fragmentIpv4(big, 64)) frames.push(ethernet(f));
    const syn6 = tcp({ srcPort: 1, dstPort: 8080, flags: 0x02 });
    frames.push(ethernet(ipv6({ src: 'fd00::2', dst: 'fd00::1', payload: syn6, extensions: [{ type: 'hopByHop' }, { type: 'fragment' }] })));
    frames.push(ethernet(ipv6({ src: 'fd00::2', dst: 'fd00::1', nextHeader: Proto.ICMPV6, payload: new Uint8Array(40) })));
    for (const f of frames) assert.notEqual(f[8], 0xff);
    const out = runInKernel(frames.map((f) => ({ prog: encode(program), payload: f.subarray(8) })));
    if (typeof out === 'string') {
      console.log(`      skipped: the python3 harness could not run (${out})`);
      this.skip();
    }
    let passed = 0;
    frames.forEach((f, i) => {
      const seen = datagram(out, f.subarray(8));
      const onFrame = vm.run(f, 0, f.length, f.length);
      assert.equal(vm.run(seen, 0, seen.length, seen.length), onFrame, `frame ${i}: the first 8 bytes mattered`);
      assert.equal(out.results[i], kernelView(onFrame), `frame ${i}: kernel and interpreter disagree`);
      if (onFrame > 0) passed++;
    });
    console.log(`      ${frames.length} frames, ${passed} passed in both`);
    assert.ok(passed > 20 && passed < frames.length - 20);
  });
});

//! Programs with the verdict of this machine's kernel recorded next to each;
//! our verifier must reach the same verdict, and where bpf(2) works the
//! kernel is asked again so the record cannot go stale.

mod common;

use common::*;
use ebee_isa::{AluOp::*, Imm64Kind, Insn, JmpCond::*, Size::*};
use ebee_verifier::{verify, MapInfo, Maps, Options, Program, ProgramType};

const SF: u32 = 1;
const TC: u32 = 3;
const XDP: u32 = 6;
const CG: u32 = 8;
const KP: u32 = 2;

/// Maps every case may use, by index.
fn fixture_maps() -> Vec<MapInfo> {
    let m = |map_type, key_size, value_size, max_entries| MapInfo {
        map_type,
        key_size,
        value_size,
        max_entries,
        flags: 0,
        spin_lock_offset: None,
    };
    vec![
        m(2, 4, 8, 4),     // 0: array, 8-byte values
        m(1, 4, 8, 16),    // 1: hash
        m(27, 0, 0, 4096), // 2: ring buffer
        m(3, 4, 4, 4),     // 3: program array
        m(2, 4, 64, 1),    // 4: array, one 64-byte value
    ]
}

struct Case {
    name: &'static str,
    prog_type: u32,
    insns: Vec<Insn>,
    /// The kernel's verdict, recorded from loading this program.
    kernel_accepts: bool,
}

fn case(name: &'static str, prog_type: u32, kernel_accepts: bool, insns: Vec<Insn>) -> Case {
    Case {
        name,
        prog_type,
        insns,
        kernel_accepts,
    }
}

/// Key 0 on the stack at fp-4, r2 = fp-4, r1 = map idx.
fn lookup(map: u32) -> Vec<Insn> {
    prog![
        st(W, 10, -4, 0),
        movr(2, 10),
        alu(Add, 2, -4),
        ld_map(1, map),
        call(1)
    ]
}

/// r2 = data, r3 = data_end (XDP).
fn xdp_pkt() -> Vec<Insn> {
    prog![ldx(W, 2, 1, 0), ldx(W, 3, 1, 4)]
}

/// r2 = data, r3 = data_end (tc).
fn tc_pkt() -> Vec<Insn> {
    prog![ldx(W, 2, 1, 76), ldx(W, 3, 1, 80)]
}

fn cases() -> Vec<Case> {
    vec![
        // ---- accepted ----
        case("return 0", SF, true, prog![mov(0, 0), exit()]),
        case("xdp pass", XDP, true, prog![mov(0, 2), exit()]),
        case(
            "stack store then load",
            SF,
            true,
            prog![st(DW, 10, -8, 7), ldx(DW, 0, 10, -8), exit()],
        ),
        case(
            "spill and fill ctx pointer",
            SF,
            true,
            prog![
                stx(DW, 10, -8, 1),
                ldx(DW, 1, 10, -8),
                ldx(W, 0, 1, 0),
                exit()
            ],
        ),
        case("read skb len", SF, true, prog![ldx(W, 0, 1, 0), exit()]),
        case(
            "narrow read of skb protocol",
            SF,
            true,
            prog![ldx(H, 0, 1, 16), exit()],
        ),
        case(
            "write skb cb",
            SF,
            true,
            prog![st(W, 1, 48, 1), mov(0, 0), exit()],
        ),
        case(
            "8-byte write of skb cb",
            SF,
            true,
            prog![mov(2, 5), stx(DW, 1, 56, 2), mov(0, 0), exit()],
        ),
        case(
            "tc writes mark",
            TC,
            true,
            prog![mov(2, 1), stx(W, 1, 8, 2), mov(0, 0), exit()],
        ),
        case(
            "lookup with null check, read value",
            SF,
            true,
            prog![
                lookup(0),
                jmp(Eq, 0, 0, 1),
                ldx(DW, 0, 0, 0),
                mov(0, 0),
                exit()
            ],
        ),
        case(
            "lookup in hash, write last byte",
            SF,
            true,
            prog![
                lookup(1),
                jmp(Eq, 0, 0, 1),
                st(B, 0, 7, 1),
                mov(0, 0),
                exit()
            ],
        ),
        case(
            "null check through a copy",
            SF,
            true,
            prog![
                lookup(0),
                movr(6, 0),
                jmp(Ne, 0, 0, 2),
                mov(0, 0),
                exit(),
                ldx(DW, 0, 6, 0),
                exit()
            ],
        ),
        case(
            "bounded index into map value",
            SF,
            true,
            prog![
                lookup(4),
                jmp(Eq, 0, 0, 5),
                ldx(DW, 1, 0, 0),
                alu(And, 1, 63),
                alur(Add, 0, 1),
                ldx(B, 0, 0, 0),
                exit(),
                mov(0, 0),
                exit()
            ],
        ),
        case(
            "index bounded by branch",
            SF,
            true,
            prog![
                lookup(4),
                jmp(Eq, 0, 0, 5),
                ldx(DW, 1, 0, 0),
                jmp(Gt, 1, 56, 3),
                alur(Add, 0, 1),
                ldx(DW, 0, 0, 0),
                exit(),
                mov(0, 0),
                exit()
            ],
        ),
        case(
            "index bounded through linked copy",
            SF,
            true,
            prog![
                lookup(4),
                jmp(Eq, 0, 0, 6),
                ldx(DW, 1, 0, 0),
                movr(2, 1),
                jmp(Gt, 2, 56, 3),
                alur(Add, 0, 1),
                ldx(DW, 0, 0, 0),
                exit(),
                mov(0, 0),
                exit()
            ],
        ),
        case(
            "32-bit bound then 64-bit use",
            SF,
            true,
            prog![
                lookup(4),
                jmp(Eq, 0, 0, 6),
                ldx(W, 1, 0, 0),
                jmp32(Gt, 1, 56, 3),
                alur(Add, 0, 1),
                ldx(DW, 0, 0, 0),
                exit(),
                mov(0, 0),
                exit()
            ],
        ),
        case(
            "xdp packet read after bounds check",
            XDP,
            true,
            prog![
                xdp_pkt(),
                movr(4, 2),
                alu(Add, 4, 14),
                jmpr(Gt, 4, 3, 1),
                ldx(B, 0, 2, 12),
                mov(0, 2),
                exit()
            ],
        ),
        case(
            "xdp packet check with end on the left",
            XDP,
            true,
            prog![
                xdp_pkt(),
                movr(4, 2),
                alu(Add, 4, 14),
                jmpr(Lt, 3, 4, 1),
                ldx(H, 0, 2, 12),
                mov(0, 2),
                exit()
            ],
        ),
        case(
            "xdp packet check with >=",
            XDP,
            true,
            prog![
                xdp_pkt(),
                movr(4, 2),
                alu(Add, 4, 8),
                jmpr(Ge, 4, 3, 1),
                ldx(DW, 0, 2, 0),
                mov(0, 2),
                exit()
            ],
        ),
        case(
            "xdp packet write after check",
            XDP,
            true,
            prog![
                xdp_pkt(),
                movr(4, 2),
                alu(Add, 4, 4),
                jmpr(Gt, 4, 3, 1),
                st(W, 2, 0, 0),
                mov(0, 2),
                exit()
            ],
        ),
        case(
            "tc packet read after check",
            TC,
            true,
            prog![
                tc_pkt(),
                movr(4, 2),
                alu(Add, 4, 20),
                jmpr(Gt, 4, 3, 1),
                ldx(W, 0, 2, 16),
                mov(0, 0),
                exit()
            ],
        ),
        case(
            "bounded loop",
            SF,
            true,
            prog![
                mov(1, 0),
                alu(Add, 1, 1),
                jmp(Lt, 1, 10, -2),
                mov(0, 0),
                exit()
            ],
        ),
        case(
            "bounded loop 32-bit",
            SF,
            true,
            prog![
                mov(1, 0),
                alu32(Add, 1, 1),
                jmp32(Lt, 1, 100, -2),
                mov(0, 0),
                exit()
            ],
        ),
        case("ktime helper", SF, true, prog![call(5), exit()]),
        case(
            "prandom bounded",
            SF,
            true,
            prog![call(7), alu(And, 0, 1), exit()],
        ),
        case(
            "trace_printk of stack string",
            SF,
            true,
            prog![
                st(DW, 10, -8, 0x6968),
                movr(1, 10),
                alu(Add, 1, -8),
                mov(2, 8),
                call(6),
                mov(0, 0),
                exit()
            ],
        ),
        case(
            "array lookup with constant key needs no null check",
            SF,
            true,
            prog![lookup(0), ldx(DW, 0, 0, 0), exit()],
        ),
        case(
            "array lookup with key out of range needs a null check",
            SF,
            false,
            prog![
                st(W, 10, -4, 4),
                movr(2, 10),
                alu(Add, 2, -4),
                ld_map(1, 0),
                call(1),
                ldx(DW, 0, 0, 0),
                exit()
            ],
        ),
        case(
            "ringbuf reserve and submit",
            SF,
            true,
            prog![
                ld_map(1, 2),
                mov(2, 8),
                mov(3, 0),
                call(131),
                jmp(Eq, 0, 0, 4),
                st(DW, 0, 0, 1),
                movr(1, 0),
                mov(2, 0),
                call(132),
                mov(0, 0),
                exit()
            ],
        ),
        case(
            "ringbuf reserve and discard",
            SF,
            true,
            prog![
                ld_map(1, 2),
                mov(2, 16),
                mov(3, 0),
                call(131),
                jmp(Ne, 0, 0, 2),
                mov(0, 0),
                exit(),
                movr(1, 0),
                mov(2, 0),
                call(133),
                mov(0, 0),
                exit()
            ],
        ),
        case(
            "ringbuf output from stack",
            SF,
            true,
            prog![
                st(DW, 10, -8, 1),
                ld_map(1, 2),
                movr(2, 10),
                alu(Add, 2, -8),
                mov(3, 8),
                mov(4, 0),
                call(130),
                mov(0, 0),
                exit()
            ],
        ),
        case(
            "map update from stack",
            SF,
            true,
            prog![
                st(W, 10, -4, 0),
                st(DW, 10, -16, 0),
                ld_map(1, 1),
                movr(2, 10),
                alu(Add, 2, -4),
                movr(3, 10),
                alu(Add, 3, -16),
                mov(4, 0),
                call(2),
                mov(0, 0),
                exit()
            ],
        ),
        case(
            "map delete",
            SF,
            true,
            prog![
                st(W, 10, -4, 0),
                ld_map(1, 1),
                movr(2, 10),
                alu(Add, 2, -4),
                call(3),
                mov(0, 0),
                exit()
            ],
        ),
        case(
            "skb_load_bytes into stack",
            SF,
            true,
            prog![
                movr(2, 10),
                alu(Add, 2, -16),
                movr(3, 2),
                mov(2, 0),
                mov(4, 16),
                call(26),
                ldx(DW, 0, 10, -16),
                exit()
            ],
        ),
        case(
            "tail call",
            SF,
            true,
            prog![ld_map(2, 3), mov(3, 0), call(12), mov(0, 0), exit()],
        ),
        case(
            "local call",
            SF,
            true,
            prog![call_local(1), exit(), mov(0, 1), exit()],
        ),
        case(
            "local call passes stack pointer",
            SF,
            true,
            prog![
                st(DW, 10, -8, 3),
                movr(1, 10),
                alu(Add, 1, -8),
                call_local(1),
                exit(),
                ldx(DW, 0, 1, 0),
                exit()
            ],
        ),
        case(
            "callee-saved registers survive a call",
            SF,
            true,
            prog![mov(6, 4), call(5), movr(0, 6), exit()],
        ),
        case(
            "division by unknown register",
            SF,
            true,
            prog![call(7), movr(1, 0), mov(0, 100), alur(Div, 0, 1), exit()],
        ),
        case(
            "sign-extending load",
            SF,
            true,
            prog![st(DW, 10, -8, -1), ldxs(B, 0, 10, -8), exit()],
        ),
        case(
            "read of uninitialized stack (privileged)",
            SF,
            true,
            prog![ldx(DW, 0, 10, -8), exit()],
        ),
        case(
            "return a pointer (privileged)",
            SF,
            true,
            prog![movr(0, 10), exit()],
        ),
        case(
            "pointer comparison (privileged)",
            SF,
            true,
            prog![movr(2, 10), jmpr(Eq, 1, 2, 0), mov(0, 0), exit()],
        ),
        case(
            "pointer difference (privileged)",
            SF,
            true,
            prog![movr(0, 10), alu(Add, 0, -8), alur(Sub, 0, 10), exit()],
        ),
        case(
            "dead branch not explored",
            SF,
            true,
            prog![
                mov(1, 5),
                jmp(Gt, 1, 4, 1),
                ldx(DW, 0, 9, 0),
                mov(0, 0),
                exit()
            ],
        ),
        case(
            "direct map value",
            SF,
            true,
            prog![
                [
                    Insn::LdImm64 {
                        dst: r(1),
                        kind: Imm64Kind::MapIdxValue,
                        imm: 8i64 << 32 | 4
                    },
                    Insn::LdImm64Tail
                ],
                ldx(DW, 0, 1, 0),
                exit()
            ],
        ),
        case(
            "variable stack offset read (privileged)",
            SF,
            true,
            prog![
                st(DW, 10, -8, 0),
                st(DW, 10, -16, 0),
                call(7),
                alu(And, 0, 8),
                movr(1, 10),
                alu(Add, 1, -16),
                alur(Add, 1, 0),
                ldx(DW, 0, 1, 0),
                exit()
            ],
        ),
        case(
            "atomic add on stack",
            SF,
            true,
            prog![
                st(DW, 10, -8, 0),
                mov(1, 1),
                Insn::Atomic {
                    size: DW,
                    op: ebee_isa::AtomicOp::Add { fetch: false },
                    dst: r(10),
                    src: r(1),
                    off: -8
                },
                ldx(DW, 0, 10, -8),
                exit()
            ],
        ),
        case(
            "ld_abs in socket filter",
            SF,
            true,
            prog![
                movr(6, 1),
                Insn::LdPacket {
                    size: B,
                    index: None,
                    imm: 0
                },
                exit()
            ],
        ),
        case(
            "csum_diff of stack bytes",
            TC,
            true,
            prog![
                st(DW, 10, -8, 0),
                movr(1, 10),
                alu(Add, 1, -8),
                mov(2, 8),
                mov(3, 0),
                mov(4, 0),
                mov(5, 0),
                call(28),
                exit()
            ],
        ),
        case(
            "32-bit copy of a pointer is a number (privileged)",
            SF,
            true,
            prog![
                Insn::Alu {
                    width: ebee_isa::Width::W32,
                    op: Mov,
                    dst: r(0),
                    src: ebee_isa::Operand::Reg(r(10))
                },
                exit()
            ],
        ),
        case(
            "store a pointer into a map value (privileged)",
            SF,
            true,
            prog![lookup(0), stx(DW, 0, 0, 10), mov(0, 0), exit()],
        ),
        case(
            "narrow store of a constant keeps the slot readable",
            SF,
            true,
            prog![
                st(W, 10, -8, 1),
                st(W, 10, -4, 2),
                ldx(DW, 0, 10, -8),
                exit()
            ],
        ),
        case(
            "fill of a spilled scalar with a narrow load",
            SF,
            true,
            prog![mov(1, 7), stx(DW, 10, -8, 1), ldx(W, 0, 10, -8), exit()],
        ),
        case(
            "jmp32 narrows the low half",
            SF,
            true,
            prog![
                lookup(4),
                jmp(Eq, 0, 0, 6),
                ldx(DW, 1, 0, 0),
                alu(And, 1, 0xff),
                jmp32(Sgt, 1, 56, 3),
                alur(Add, 0, 1),
                ldx(DW, 0, 0, 0),
                exit(),
                mov(0, 0),
                exit()
            ],
        ),
        case(
            "arsh keeps the sign",
            SF,
            true,
            prog![
                lookup(4),
                jmp(Eq, 0, 0, 6),
                ldxs(B, 1, 0, 0),
                alu(Arsh, 1, 4),
                alu(Add, 1, 8),
                alur(Add, 0, 1),
                ldx(B, 0, 0, 0),
                exit(),
                mov(0, 0),
                exit()
            ],
        ),
        case(
            "xor of two bounded numbers stays bounded",
            SF,
            true,
            prog![
                lookup(4),
                jmp(Eq, 0, 0, 8),
                ldx(B, 1, 0, 0),
                ldx(B, 2, 0, 1),
                alu(And, 1, 31),
                alu(And, 2, 31),
                alur(Xor, 1, 2),
                alur(Add, 0, 1),
                ldx(DW, 0, 0, 0),
                exit(),
                mov(0, 0),
                exit()
            ],
        ),
        case(
            "mod tracks no range, as in Linux",
            SF,
            false,
            prog![
                lookup(4),
                jmp(Eq, 0, 0, 5),
                ldx(DW, 1, 0, 0),
                alu(Mod, 1, 57),
                alur(Add, 0, 1),
                ldx(DW, 0, 0, 0),
                exit(),
                mov(0, 0),
                exit()
            ],
        ),
        case(
            "packet pointer with variable offset after a second check",
            XDP,
            true,
            prog![
                xdp_pkt(),
                movr(4, 2),
                alu(Add, 4, 1),
                jmpr(Gt, 4, 3, 7),
                ldx(B, 5, 2, 0),
                alu(And, 5, 15),
                alur(Add, 2, 5),
                movr(4, 2),
                alu(Add, 4, 4),
                jmpr(Gt, 4, 3, 1),
                ldx(W, 0, 2, 0),
                mov(0, 2),
                exit()
            ],
        ),
        case(
            "array lookup with a nonzero constant key spilled narrow",
            SF,
            true,
            prog![
                st(W, 10, -8, 3),
                movr(2, 10),
                alu(Add, 2, -8),
                ld_map(1, 0),
                call(1),
                ldx(DW, 0, 0, 0),
                exit()
            ],
        ),
        case(
            "narrow spill of a constant reads back exactly",
            SF,
            true,
            prog![
                lookup(4),
                jmp(Eq, 0, 0, 6),
                st(W, 10, -16, 56),
                ldx(W, 1, 10, -16),
                movr(2, 0),
                alur(Add, 2, 1),
                ldx(DW, 0, 2, 0),
                exit(),
                mov(0, 0),
                exit()
            ],
        ),
        case("cgroup_skb returns 1", CG, true, prog![mov(0, 1), exit()]),
        case(
            "cgroup_skb returns a masked number",
            CG,
            true,
            prog![ldx(W, 0, 1, 0), alu(And, 0, 1), exit()],
        ),
        case(
            "cgroup_skb reads the packet after a check",
            CG,
            true,
            prog![
                tc_pkt(),
                movr(4, 2),
                alu(Add, 4, 1),
                jmpr(Gt, 4, 3, 1),
                ldx(B, 5, 2, 0),
                mov(0, 1),
                exit()
            ],
        ),
        case(
            "cgroup_skb reads remote_port",
            CG,
            true,
            prog![ldx(W, 2, 1, 132), mov(0, 1), exit()],
        ),
        case(
            "cgroup_skb writes mark",
            CG,
            true,
            prog![st(W, 1, 8, 3), mov(0, 1), exit()],
        ),
        case(
            "xdp returns any number",
            XDP,
            true,
            prog![mov(0, 100), exit()],
        ),
        case(
            "xdp returns a pointer (privileged)",
            XDP,
            true,
            prog![movr(0, 1), exit()],
        ),
        case(
            "kprobe reads a pt_regs field",
            KP,
            true,
            prog![ldx(DW, 0, 1, 112), exit()],
        ),
        case(
            "kprobe narrow read of pt_regs",
            KP,
            true,
            prog![ldx(W, 0, 1, 80), exit()],
        ),
        case(
            "kprobe probe_read_kernel into the stack",
            KP,
            true,
            prog![
                movr(1, 10),
                alu(Add, 1, -8),
                mov(2, 8),
                mov(3, 0),
                call(113),
                mov(0, 0),
                exit()
            ],
        ),
        case(
            "kprobe get_current_pid_tgid",
            KP,
            true,
            prog![call(14), exit()],
        ),
        case(
            "may_goto loop with a growing counter",
            SF,
            true,
            prog![
                mov(0, 0),
                Insn::MayGoto { off: 2 },
                alu(Add, 0, 1),
                ja(-3),
                alu(And, 0, 1),
                exit()
            ],
        ),
        case(
            "may_goto loop around a bounded stack write",
            SF,
            true,
            prog![
                mov(1, 0),
                Insn::MayGoto { off: 6 },
                movr(2, 1),
                alu(And, 2, 7),
                movr(3, 10),
                alu(Add, 3, -8),
                st(B, 3, 0, 1),
                ja(-8),
                mov(0, 0),
                exit()
            ],
        ),
        // ---- rejected ----
        case(
            "may_goto loop with an unbounded stack index",
            SF,
            false,
            prog![
                mov(1, 0),
                Insn::MayGoto { off: 6 },
                alu(Add, 1, 1),
                movr(3, 10),
                alu(Add, 3, -8),
                alur(Add, 3, 1),
                st(B, 3, 0, 1),
                ja(-7),
                mov(0, 0),
                exit()
            ],
        ),
        case(
            "kprobe writes pt_regs",
            KP,
            false,
            prog![st(DW, 1, 112, 0), mov(0, 0), exit()],
        ),
        case(
            "kprobe reads past pt_regs",
            KP,
            false,
            prog![ldx(DW, 0, 1, 168), exit()],
        ),
        case(
            "kprobe misaligned pt_regs read",
            KP,
            false,
            prog![ldx(DW, 0, 1, 4), exit()],
        ),
        case("cgroup_skb returns 2", CG, false, prog![mov(0, 2), exit()]),
        case(
            "cgroup_skb returns an unbounded number",
            CG,
            false,
            prog![ldx(W, 0, 1, 0), exit()],
        ),
        case(
            "cgroup_skb returns a pointer",
            CG,
            false,
            prog![movr(0, 1), exit()],
        ),
        case(
            "cgroup_skb writes the packet",
            CG,
            false,
            prog![
                tc_pkt(),
                movr(4, 2),
                alu(Add, 4, 1),
                jmpr(Gt, 4, 3, 1),
                st(B, 2, 0, 0),
                mov(0, 1),
                exit()
            ],
        ),
        case(
            "cgroup_skb reads data_meta",
            CG,
            false,
            prog![ldx(W, 2, 1, 140), mov(0, 1), exit()],
        ),
        case(
            "cgroup_skb writes tc_index",
            CG,
            false,
            prog![st(W, 1, 44, 3), mov(0, 1), exit()],
        ),
        case(
            "array lookup with constant key out of range spilled narrow",
            SF,
            false,
            prog![
                st(W, 10, -8, 4),
                movr(2, 10),
                alu(Add, 2, -8),
                ld_map(1, 0),
                call(1),
                ldx(DW, 0, 0, 0),
                exit()
            ],
        ),
        case(
            "narrow spill of a constant too large for the value",
            SF,
            false,
            prog![
                lookup(4),
                jmp(Eq, 0, 0, 6),
                st(W, 10, -16, 57),
                ldx(W, 1, 10, -16),
                movr(2, 0),
                alur(Add, 2, 1),
                ldx(DW, 0, 2, 0),
                exit(),
                mov(0, 0),
                exit()
            ],
        ),
        case(
            "negation of a pointer (privileged)",
            SF,
            true,
            prog![
                movr(0, 10),
                Insn::Neg {
                    width: ebee_isa::Width::W64,
                    dst: r(0)
                },
                exit()
            ],
        ),
        case(
            "byte swap of a pointer (privileged)",
            SF,
            true,
            prog![
                movr(0, 10),
                Insn::Endian {
                    order: ebee_isa::ByteOrder::Be,
                    bits: 64,
                    dst: r(0)
                },
                exit()
            ],
        ),
        case(
            "mod bound off by one",
            SF,
            false,
            prog![
                lookup(4),
                jmp(Eq, 0, 0, 5),
                ldx(DW, 1, 0, 0),
                alu(Mod, 1, 58),
                alur(Add, 0, 1),
                ldx(DW, 0, 0, 0),
                exit(),
                mov(0, 0),
                exit()
            ],
        ),
        case(
            "packet pointer with variable offset without a second check",
            XDP,
            false,
            prog![
                xdp_pkt(),
                movr(4, 2),
                alu(Add, 4, 1),
                jmpr(Gt, 4, 3, 6),
                ldx(B, 5, 2, 0),
                alu(And, 5, 15),
                alur(Add, 2, 5),
                ldx(B, 0, 2, 0),
                mov(0, 2),
                exit(),
                mov(0, 2),
                exit()
            ],
        ),
        case(
            "store through a number",
            SF,
            false,
            prog![mov(1, 0), st(DW, 1, 0, 0), mov(0, 0), exit()],
        ),
        case(
            "uninitialized register",
            SF,
            false,
            prog![movr(0, 2), exit()],
        ),
        case("r0 not set at exit", SF, false, prog![exit()]),
        case(
            "write to r10",
            SF,
            false,
            prog![mov(10, 0), mov(0, 0), exit()],
        ),
        case(
            "hash map value without null check",
            SF,
            false,
            prog![lookup(1), ldx(DW, 0, 0, 0), exit()],
        ),
        case(
            "map value read past the end",
            SF,
            false,
            prog![
                lookup(0),
                jmp(Eq, 0, 0, 1),
                ldx(DW, 0, 0, 4),
                mov(0, 0),
                exit()
            ],
        ),
        case(
            "map value negative offset",
            SF,
            false,
            prog![
                lookup(0),
                jmp(Eq, 0, 0, 1),
                ldx(B, 0, 0, -1),
                mov(0, 0),
                exit()
            ],
        ),
        case(
            "unbounded index into map value",
            SF,
            false,
            prog![
                lookup(4),
                jmp(Eq, 0, 0, 4),
                ldx(DW, 1, 0, 0),
                alur(Add, 0, 1),
                ldx(B, 0, 0, 0),
                exit(),
                mov(0, 0),
                exit()
            ],
        ),
        case(
            "index bound off by one",
            SF,
            false,
            prog![
                lookup(4),
                jmp(Eq, 0, 0, 5),
                ldx(DW, 1, 0, 0),
                jmp(Gt, 1, 57, 3),
                alur(Add, 0, 1),
                ldx(DW, 0, 0, 0),
                exit(),
                mov(0, 0),
                exit()
            ],
        ),
        case(
            "packet read without check",
            XDP,
            false,
            prog![xdp_pkt(), ldx(B, 0, 2, 0), exit()],
        ),
        case(
            "packet read beyond the checked range",
            XDP,
            false,
            prog![
                xdp_pkt(),
                movr(4, 2),
                alu(Add, 4, 14),
                jmpr(Gt, 4, 3, 1),
                ldx(B, 0, 2, 14),
                mov(0, 2),
                exit()
            ],
        ),
        case(
            "packet read on the failing side",
            XDP,
            false,
            prog![
                xdp_pkt(),
                movr(4, 2),
                alu(Add, 4, 14),
                jmpr(Gt, 4, 3, 2),
                mov(0, 2),
                exit(),
                ldx(B, 0, 2, 0),
                exit()
            ],
        ),
        case(
            "packet end dereference",
            XDP,
            false,
            prog![xdp_pkt(), ldx(B, 0, 3, 0), exit()],
        ),
        case(
            "packet pointer after adjust_head",
            XDP,
            false,
            prog![
                movr(6, 1),
                xdp_pkt(),
                movr(4, 2),
                alu(Add, 4, 14),
                jmpr(Gt, 4, 3, 5),
                movr(7, 2),
                movr(1, 6),
                mov(2, 0),
                call(44),
                ldx(B, 0, 7, 0),
                mov(0, 2),
                exit()
            ],
        ),
        case("infinite loop", SF, false, prog![mov(0, 0), ja(-1)]),
        case(
            "loop without progress",
            SF,
            false,
            prog![call(7), alu(Add, 0, 1), jmp(Ne, 0, 0, -2), exit()],
        ),
        case(
            "division by zero immediate",
            SF,
            false,
            prog![mov(0, 1), alu(Div, 0, 0), exit()],
        ),
        case(
            "modulo by zero immediate 32-bit",
            SF,
            false,
            prog![mov(0, 1), alu32(Mod, 0, 0), exit()],
        ),
        case(
            "shift by 64",
            SF,
            false,
            prog![mov(0, 1), alu(Lsh, 0, 64), exit()],
        ),
        case(
            "shift by 32 in 32-bit",
            SF,
            false,
            prog![mov(0, 1), alu32(Rsh, 0, 32), exit()],
        ),
        case(
            "stack write out of bounds",
            SF,
            false,
            prog![st(DW, 10, -520, 0), mov(0, 0), exit()],
        ),
        case(
            "stack write above the frame",
            SF,
            false,
            prog![st(DW, 10, 0, 0), mov(0, 0), exit()],
        ),
        case(
            "misaligned stack access",
            SF,
            false,
            prog![st(W, 10, -6, 0), mov(0, 0), exit()],
        ),
        case(
            "partial pointer spill",
            SF,
            false,
            prog![stx(W, 10, -8, 1), mov(0, 0), exit()],
        ),
        case(
            "write of skb len",
            SF,
            false,
            prog![mov(2, 0), stx(W, 1, 0, 2), mov(0, 0), exit()],
        ),
        case(
            "socket filter reads data",
            SF,
            false,
            prog![ldx(W, 0, 1, 76), exit()],
        ),
        case(
            "8-byte read of a 4-byte field",
            SF,
            false,
            prog![ldx(DW, 0, 1, 0), exit()],
        ),
        case(
            "immediate store into ctx",
            SF,
            true,
            prog![mov(0, 0), st(W, 1, 48, 1), exit()],
        ),
        case(
            "xdp ctx write",
            XDP,
            false,
            prog![mov(2, 0), stx(W, 1, 12, 2), mov(0, 2), exit()],
        ),
        case(
            "modified ctx access",
            SF,
            false,
            prog![alu(Add, 1, 4), ldx(W, 0, 1, 0), exit()],
        ),
        case(
            "ringbuf reservation leaked",
            SF,
            false,
            prog![
                ld_map(1, 2),
                mov(2, 8),
                mov(3, 0),
                call(131),
                mov(0, 0),
                exit()
            ],
        ),
        case(
            "ringbuf reservation used unchecked",
            SF,
            false,
            prog![
                ld_map(1, 2),
                mov(2, 8),
                mov(3, 0),
                call(131),
                st(DW, 0, 0, 1),
                movr(1, 0),
                mov(2, 0),
                call(132),
                mov(0, 0),
                exit()
            ],
        ),
        case(
            "ringbuf write past the reservation",
            SF,
            false,
            prog![
                ld_map(1, 2),
                mov(2, 8),
                mov(3, 0),
                call(131),
                jmp(Eq, 0, 0, 4),
                st(DW, 0, 4, 1),
                movr(1, 0),
                mov(2, 0),
                call(132),
                mov(0, 0),
                exit()
            ],
        ),
        case(
            "ringbuf reserve with unknown size",
            SF,
            false,
            prog![
                call(7),
                movr(2, 0),
                ld_map(1, 2),
                mov(3, 0),
                call(131),
                mov(0, 0),
                exit()
            ],
        ),
        case(
            "unknown helper",
            SF,
            false,
            prog![call(10000), mov(0, 0), exit()],
        ),
        case(
            "xdp helper in socket filter",
            SF,
            false,
            prog![mov(2, 0), call(44), mov(0, 0), exit()],
        ),
        case(
            "argument registers clobbered by call",
            SF,
            false,
            prog![mov(1, 1), call(5), movr(0, 1), exit()],
        ),
        case(
            "arithmetic on map value or null",
            SF,
            false,
            prog![lookup(1), alu(Add, 0, 4), mov(0, 0), exit()],
        ),
        case(
            "32-bit pointer arithmetic",
            SF,
            false,
            prog![movr(2, 10), alu32(Add, 2, -8), mov(0, 0), exit()],
        ),
        case(
            "bitwise and on pointer",
            SF,
            false,
            prog![movr(2, 10), alu(And, 2, -8), mov(0, 0), exit()],
        ),
        case(
            "subtraction from stack pointer",
            SF,
            false,
            prog![
                movr(2, 10),
                alu(Sub, 2, 8),
                st(DW, 2, 0, 0),
                mov(0, 0),
                exit()
            ],
        ),
        case(
            "unreachable instruction",
            SF,
            false,
            prog![mov(0, 0), exit(), mov(0, 1), exit()],
        ),
        case(
            "jump out of range",
            SF,
            false,
            prog![ja(5), mov(0, 0), exit()],
        ),
        case("falls off the end", SF, false, prog![mov(0, 0)]),
        case(
            "lookup with uninitialized key (privileged)",
            SF,
            true,
            prog![
                movr(2, 10),
                alu(Add, 2, -4),
                ld_map(1, 0),
                call(1),
                mov(0, 0),
                exit()
            ],
        ),
        case(
            "lookup in a program array",
            SF,
            false,
            prog![lookup(3), mov(0, 0), exit()],
        ),
        case(
            "lookup with a number as key",
            SF,
            false,
            prog![mov(2, 0), ld_map(1, 0), call(1), mov(0, 0), exit()],
        ),
        case(
            "tail call with a hash map",
            SF,
            false,
            prog![ld_map(2, 1), mov(3, 0), call(12), mov(0, 0), exit()],
        ),
        case(
            "helper size may be zero",
            SF,
            false,
            prog![
                call(7),
                movr(2, 0),
                alu(And, 2, 7),
                movr(1, 10),
                alu(Add, 1, -8),
                st(DW, 10, -8, 0),
                call(6),
                mov(0, 0),
                exit()
            ],
        ),
        case(
            "helper reads beyond the stack",
            SF,
            false,
            prog![
                st(DW, 10, -8, 0),
                movr(1, 10),
                alu(Add, 1, -8),
                mov(2, 16),
                call(6),
                mov(0, 0),
                exit()
            ],
        ),
        case(
            "function returns a pointer",
            SF,
            false,
            prog![call_local(1), exit(), movr(0, 10), exit()],
        ),
        case(
            "call stack too deep",
            SF,
            false,
            prog![
                call_local(1),
                exit(),
                call_local(1),
                exit(),
                call_local(1),
                exit(),
                call_local(1),
                exit(),
                call_local(1),
                exit(),
                call_local(1),
                exit(),
                call_local(1),
                exit(),
                call_local(1),
                exit(),
                mov(0, 0),
                exit()
            ],
        ),
        case(
            "recursion",
            SF,
            false,
            prog![call_local(1), exit(), call_local(-1), exit()],
        ),
        case(
            "combined stack too large",
            SF,
            false,
            prog![
                st(DW, 10, -304, 0),
                call_local(2),
                mov(0, 0),
                exit(),
                st(DW, 10, -304, 0),
                mov(0, 0),
                exit()
            ],
        ),
        case(
            "ld_abs in xdp",
            XDP,
            false,
            prog![
                movr(6, 1),
                Insn::LdPacket {
                    size: B,
                    index: None,
                    imm: 0
                },
                exit()
            ],
        ),
        case(
            "pointer plus unbounded number",
            SF,
            false,
            prog![call(7), movr(1, 10), alur(Add, 1, 0), mov(0, 0), exit()],
        ),
        case(
            "read of a callee-saved register in a function",
            SF,
            false,
            prog![mov(6, 1), call_local(1), exit(), movr(0, 6), exit()],
        ),
    ]
}

fn to_kernel(insns: &[Insn], fds: &[kernel::Fd]) -> Vec<Insn> {
    insns
        .iter()
        .map(|i| match *i {
            Insn::LdImm64 {
                dst,
                kind: Imm64Kind::MapIdx,
                imm,
            } => Insn::LdImm64 {
                dst,
                kind: Imm64Kind::MapFd,
                imm: fds[imm as usize].0 as i64,
            },
            Insn::LdImm64 {
                dst,
                kind: Imm64Kind::MapIdxValue,
                imm,
            } => Insn::LdImm64 {
                dst,
                kind: Imm64Kind::MapValue,
                imm: (imm & !0xffff_ffff) | fds[(imm & 0xffff_ffff) as usize].0 as i64,
            },
            i => i,
        })
        .collect()
}

#[test]
fn verdicts_agree_with_the_kernel() {
    let infos = fixture_maps();
    let maps = Maps::from_indexed(&infos);
    let kernel_ok = kernel::available();
    let fds: Option<Vec<kernel::Fd>> = match &kernel_ok {
        Ok(()) => Some(
            infos
                .iter()
                .map(|m| kernel::create_map(m).expect("map create"))
                .collect(),
        ),
        Err(e) => {
            println!("skipped: kernel comparison (bpf(2) unavailable: {e})");
            None
        }
    };
    let (mut agree, mut total, mut kernel_checked) = (0, 0, 0);
    let mut failures = vec![];
    for c in cases() {
        total += 1;
        let pt = ProgramType::from_kernel(c.prog_type).unwrap();
        let v = verify(&Program::new(&c.insns, &pt, &maps), &Options::default());
        let ours = v.verdict.is_accepted();
        let why = v
            .verdict
            .rejection()
            .map(|r| r.to_string())
            .unwrap_or_default();
        if let Some(fds) = &fds {
            kernel_checked += 1;
            let bytes = ebee_isa::encode(&to_kernel(&c.insns, fds));
            let k = kernel::load(c.prog_type, &bytes);
            if std::env::var_os("EBEE_SHOW").is_some() {
                println!("{}\n  kernel: {:?}\n  ours:   {}", c.name, k, why);
            }
            if k.is_ok() != c.kernel_accepts {
                failures.push(format!(
                    "{}: recorded kernel verdict {} but the kernel now says {:?}",
                    c.name, c.kernel_accepts, k
                ));
            }
        }
        if ours == c.kernel_accepts {
            agree += 1;
        } else {
            failures.push(format!(
                "{}: kernel {} but we {} {}",
                c.name,
                if c.kernel_accepts {
                    "accepts"
                } else {
                    "rejects"
                },
                if ours { "accept" } else { "reject" },
                why
            ));
        }
    }
    println!("agreement with the kernel: {agree}/{total} (kernel re-checked {kernel_checked})");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

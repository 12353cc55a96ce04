//! The legacy packet loads (`ldabs`/`ldind`, Linux's `BPF_LD | BPF_ABS/IND`)
//! compared with the kernel as `sched_cls` programs, whose `skb->data` is
//! the start of the test packet, so an offset means the same byte in the
//! kernel and in ebee's `mem`.
//!
//! Each program keeps a fold of every loaded value in r9 (r0-r5 are
//! scratched by each load in Linux) and returns it folded to 32 bits, the
//! width of the kernel's test-run return value. Offsets range over the
//! packet, its edges and beyond (where both end the program with r0 = 0).
//! Not generated: offsets in Linux's special negative ranges
//! (`SKF_LL_OFF` = -0x200000, `SKF_NET_OFF` = -0x100000 and up), which
//! address an skb's link/network headers and have no meaning for a plain
//! buffer.

use ebee_isa::{AluOp, Insn, Operand, Reg, Size, Width};
use ebee_kernel::{KernelProgram, LoadOptions, ProgramType, TestRun};

use crate::rng::Rng;

const FOLD_MUL: i32 = 0x0100_0193;

fn alu64(op: AluOp, dst: Reg, src: Operand) -> Insn {
    Insn::Alu {
        width: Width::W64,
        op,
        dst,
        src,
    }
}

/// An offset or index near the packet of `len` bytes, past it, or far away.
fn offset(rng: &mut Rng, len: usize) -> i32 {
    match rng.below(40) {
        0 => -(rng.below(64) as i32) - 1,
        1..=2 => (len + rng.below(16)) as i32 - 8,
        3 => rng.pick(&[i32::MAX, 0x7fff_fff0, 0x10_0000, 65535]),
        _ => rng.below(len) as i32,
    }
}

/// A random program and packet.
fn generate(seed: u64) -> (Vec<Insn>, Vec<u8>) {
    let mut rng = Rng::new(seed);
    let len = 14 + rng.below(115);
    let mut packet: Vec<u8> = (0..len).map(|_| rng.next_u64() as u8).collect();
    // EtherType 0x88b5 (IEEE local experimental): the kernel parses IPv4
    // and IPv6 headers of a test packet and refuses truncated ones (EINVAL).
    packet[12..14].copy_from_slice(&[0x88, 0xb5]);
    // The index registers' values, tracked so an indexed load can aim at
    // a chosen offset (the kernel adds index and immediate at 32 bits).
    let mut r7 = rng.next_u64() as i32;
    let r8 = rng.below(len) as i32;
    let mut insns = vec![
        alu64(AluOp::Mov, Reg::R6, Operand::Reg(Reg::R1)),
        alu64(AluOp::Mov, Reg::R7, Operand::Imm(r7)),
        alu64(AluOp::Mov, Reg::R8, Operand::Imm(r8)),
        alu64(AluOp::Mov, Reg::R9, Operand::Imm(rng.next_u64() as i32)),
    ];
    for _ in 0..1 + rng.below(8) {
        let size = rng.pick(&[Size::B, Size::H, Size::W]);
        let index = match rng.below(3) {
            0 => None,
            1 => Some(Reg::R7),
            _ => Some(Reg::R8),
        };
        let target = offset(&mut rng, len);
        let imm = match index {
            None => target,
            Some(Reg::R7) => target.wrapping_sub(r7),
            Some(_) => target.wrapping_sub(r8),
        };
        insns.push(Insn::LdPacket { size, index, imm });
        insns.push(alu64(AluOp::Mul, Reg::R9, Operand::Imm(FOLD_MUL)));
        insns.push(alu64(AluOp::Xor, Reg::R9, Operand::Reg(Reg::R0)));
        if rng.chance(1, 3) {
            let step = rng.next_u64() as i32;
            r7 = r7.wrapping_add(step);
            // A 32-bit add: the kernel uses the index's low 32 bits.
            insns.push(Insn::Alu {
                width: Width::W32,
                op: AluOp::Add,
                dst: Reg::R7,
                src: Operand::Imm(step),
            });
        }
    }
    // r0 = r9 ^ (r9 >> 32)
    insns.push(alu64(AluOp::Mov, Reg::R0, Operand::Reg(Reg::R9)));
    insns.push(alu64(AluOp::Rsh, Reg::R9, Operand::Imm(32)));
    insns.push(alu64(AluOp::Xor, Reg::R0, Operand::Reg(Reg::R9)));
    insns.push(Insn::Exit);
    (insns, packet)
}

#[test]
fn legacy_packet_loads_match_kernel() {
    if let Err(reason) = ebee_kernel::probe() {
        println!("skipped: {reason}");
        return;
    }
    let base = crate::env_u64("EBEE_DIFF_SEED", 0);
    let count = crate::env_u64("EBEE_DIFF_PROGRAMS", 3000) / 3;
    let start = std::time::Instant::now();
    let mut out_of_bounds = 0;
    for seed in base..base + count {
        let (insns, packet) = generate(seed);
        let prog = KernelProgram::load(
            ProgramType::SchedCls,
            &insns,
            "GPL",
            &LoadOptions::default(),
        )
        .unwrap_or_else(|e| {
            panic!(
                "seed {seed}: the kernel rejected a generated program (a generator bug):\n{e}\n{}",
                crate::listing(&insns)
            )
        });
        let kernel = prog
            .test_run(&TestRun::new(&packet))
            .unwrap_or_else(|e| panic!("seed {seed}: {e} on packet {packet:02x?}"))
            .retval;
        let vm = ebee_runtime::Vm::new(insns.clone()).expect("ebee loads the program");
        let mut mem = packet.clone();
        let ebee = vm.run(&mut mem).unwrap_or_else(|e| {
            panic!("seed {seed}: ebee failed: {e}\n{}", crate::listing(&insns))
        });
        if kernel == 0 {
            out_of_bounds += 1;
        }
        // The kernel reports the low 32 bits of r0; the fold put all of
        // r9's bits there.
        assert_eq!(
            kernel,
            ebee as u32,
            "seed {seed}: ebee and the kernel disagree on a {}-byte packet {packet:02x?}\n{}",
            packet.len(),
            crate::listing(&insns)
        );
    }
    println!(
        "{count} ldabs/ldind programs compared with the kernel in {:?} ({out_of_bounds} ended by an out-of-packet load)",
        start.elapsed()
    );
    assert!(
        out_of_bounds > 0 && out_of_bounds < count,
        "the offsets should hit both cases"
    );
}

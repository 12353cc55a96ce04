//! The verifier never panics and finishes quickly, whatever it is given.

use std::time::{Duration, Instant};

use ebee_isa::*;
use ebee_verifier::{verify, MapInfo, Maps, Options, Program, ProgramType};
use proptest::prelude::*;

fn reg() -> impl Strategy<Value = Reg> {
    (0u8..=10).prop_map(|n| Reg::new(n).unwrap())
}

fn size() -> impl Strategy<Value = Size> {
    prop_oneof![Just(Size::B), Just(Size::H), Just(Size::W), Just(Size::DW)]
}

fn alu_op() -> impl Strategy<Value = AluOp> {
    prop_oneof![
        Just(AluOp::Add),
        Just(AluOp::Sub),
        Just(AluOp::Mul),
        Just(AluOp::Div),
        Just(AluOp::SDiv),
        Just(AluOp::Or),
        Just(AluOp::And),
        Just(AluOp::Lsh),
        Just(AluOp::Rsh),
        Just(AluOp::Mod),
        Just(AluOp::SMod),
        Just(AluOp::Xor),
        Just(AluOp::Mov),
        Just(AluOp::MovSx8),
        Just(AluOp::MovSx16),
        Just(AluOp::Arsh),
    ]
}

fn width() -> impl Strategy<Value = Width> {
    prop_oneof![Just(Width::W32), Just(Width::W64)]
}

fn operand() -> impl Strategy<Value = Operand> {
    prop_oneof![
        reg().prop_map(Operand::Reg),
        prop_oneof![-8i32..70, any::<i32>()].prop_map(Operand::Imm)
    ]
}

fn cond() -> impl Strategy<Value = JmpCond> {
    (0usize..11).prop_map(|i| JmpCond::ALL[i])
}

fn insn() -> impl Strategy<Value = Insn> {
    prop_oneof![
        4 => (width(), alu_op(), reg(), operand()).prop_map(|(width, op, dst, src)| Insn::Alu { width, op, dst, src }),
        2 => (size(), reg(), reg(), -520i16..80).prop_map(|(size, dst, src, off)| Insn::Load { size, signed: false, dst, src, off }),
        2 => (size(), reg(), -520i16..80, operand()).prop_map(|(size, dst, off, src)| Insn::Store { size, dst, off, src }),
        2 => (width(), cond(), reg(), operand(), -6i16..6).prop_map(|(width, cond, dst, src, off)| Insn::Jump { width, cond, dst, src, off }),
        1 => (-6i32..6).prop_map(|off| Insn::Ja { off, long: false }),
        1 => prop_oneof![Just(1), Just(2), Just(5), Just(7), Just(12), Just(26), Just(131), Just(132)].prop_map(|id| Insn::Call(CallTarget::Helper(id))),
        1 => (-4i32..4).prop_map(|off| Insn::Call(CallTarget::Local(off))),
        1 => Just(Insn::Exit),
    ]
}

fn maps() -> Maps {
    let m = |map_type, key_size, value_size, max_entries| MapInfo {
        map_type,
        key_size,
        value_size,
        max_entries,
        flags: 0,
        spin_lock_offset: None,
    };
    Maps::from_indexed(&[
        m(2, 4, 8, 4),
        m(1, 4, 16, 8),
        m(27, 0, 0, 4096),
        m(3, 4, 4, 4),
    ])
}

/// Insert a few map loads so helper calls have something to work with.
fn with_map_loads(mut body: Vec<Insn>, picks: &[(usize, u8, u32)]) -> Vec<Insn> {
    for &(at, r, idx) in picks {
        let at = at.min(body.len());
        let dst = Reg::new(r % 10).unwrap();
        body.insert(at, Insn::LdImm64Tail);
        body.insert(
            at,
            Insn::LdImm64 {
                dst,
                kind: Imm64Kind::MapIdx,
                imm: idx as i64 % 4,
            },
        );
    }
    body.push(Insn::Alu {
        width: Width::W64,
        op: AluOp::Mov,
        dst: Reg::R0,
        src: Operand::Imm(0),
    });
    body.push(Insn::Exit);
    body
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, ..ProptestConfig::default() })]

    #[test]
    fn never_panics_and_terminates(
        body in proptest::collection::vec(insn(), 1..40),
        picks in proptest::collection::vec((0usize..40, 1u8..10, 0u32..4), 0..3),
        pt in 0usize..4,
    ) {
        let insns = with_map_loads(body, &picks);
        let types = [ProgramType::socket_filter(), ProgramType::xdp(), ProgramType::sched_cls(), ProgramType::buffer(64)];
        let maps = maps();
        let opts = Options { max_insns: 100_000, ..Options::default() };
        let start = Instant::now();
        let v = verify(&Program::new(&insns, &types[pt], &maps), &opts);
        prop_assert!(start.elapsed() < Duration::from_secs(10), "took {:?}", start.elapsed());
        if let Some(r) = v.verdict.rejection() {
            prop_assert!(r.pc < insns.len());
            prop_assert!(!r.message.is_empty());
        }
    }

    #[test]
    fn arbitrary_bytes_never_panic(words in proptest::collection::vec(any::<u64>(), 1..30)) {
        let bytes: Vec<u8> = words.iter().flat_map(|w| w.to_le_bytes()).collect();
        if let Ok(insns) = ebee_isa::decode(&bytes) {
            let pt = ProgramType::socket_filter();
            let maps = maps();
            let opts = Options { max_insns: 100_000, ..Options::default() };
            let _ = verify(&Program::new(&insns, &pt, &maps), &opts);
        }
    }
}

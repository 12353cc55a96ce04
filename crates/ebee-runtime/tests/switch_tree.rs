//! Decision trees (the compare-and-branch binary search clang emits for a
//! `switch`), which the interpreter runs by one table lookup: every value,
//! inside and outside the table, leads where the kernel's run of the same
//! bytecode leads; the budget counts them exactly as op-by-op execution
//! does; a jump into the middle of a tree runs the rest of it.

mod common;

use common::*;
use ebee_isa::{Insn, JmpCond, Width};
use ebee_kernel::{KernelProgram, LoadOptions, ProgramType, TestRun};
use ebee_runtime::{ExecError, Vm};

/// A program with symbolic jump targets, resolved by [`Asm::finish`].
#[derive(Default)]
struct Asm {
    items: Vec<Item>,
    labels: Vec<Option<usize>>,
}

enum Item {
    Plain(Insn),
    Jump(Width, JmpCond, i32, usize),
    Ja(usize),
}

impl Asm {
    fn label(&mut self) -> usize {
        self.labels.push(None);
        self.labels.len() - 1
    }

    fn here(&mut self, label: usize) {
        self.labels[label] = Some(self.pc());
    }

    fn pc(&self) -> usize {
        self.items
            .iter()
            .map(|i| match i {
                Item::Plain(Insn::LdImm64 { .. }) => 2,
                _ => 1,
            })
            .sum()
    }

    fn plain(&mut self, insns: &[Insn]) {
        self.items.extend(
            insns
                .iter()
                .filter(|i| !matches!(i, Insn::LdImm64Tail))
                .map(|&i| Item::Plain(i)),
        );
    }

    fn finish(&self) -> Vec<Insn> {
        let mut out = Vec::new();
        for item in &self.items {
            let pc = out.len() as i64;
            let off = |label: usize| (self.labels[label].unwrap() as i64 - pc - 1) as i16;
            match *item {
                Item::Plain(insn @ Insn::LdImm64 { .. }) => {
                    out.push(insn);
                    out.push(Insn::LdImm64Tail);
                }
                Item::Plain(insn) => out.push(insn),
                Item::Jump(Width::W64, cond, k, l) => out.push(jmp(cond, 6, imm(k), off(l))),
                Item::Jump(Width::W32, cond, k, l) => out.push(jmp32(cond, 6, imm(k), off(l))),
                Item::Ja(l) => out.push(ja(off(l) as i32)),
            }
        }
        out
    }
}

/// A binary search on r6 over the cases `lo..hi`, each level comparing in
/// another way (signed, 32-bit, unsigned, a bit test), the leaves by
/// equality; case `k` returns `10 + k`, no case 99.
fn tree(asm: &mut Asm, lo: i32, hi: i32, depth: usize, cases: &[usize], default: usize) {
    if hi - lo <= 2 {
        for k in lo..hi {
            asm.items
                .push(Item::Jump(Width::W64, JmpCond::Eq, k, cases[k as usize]));
        }
        asm.items.push(Item::Ja(default));
        return;
    }
    let mid = (lo + hi) / 2;
    let right = asm.label();
    let (width, cond, k) = match depth % 4 {
        0 => (Width::W64, JmpCond::Sgt, mid - 1),
        1 => (Width::W32, JmpCond::Gt, mid - 1),
        2 => (Width::W64, JmpCond::Ge, mid),
        // Not a range split: both halves still test every case.
        _ => (Width::W64, JmpCond::Set, 1),
    };
    asm.items.push(Item::Jump(width, cond, k, right));
    if cond == JmpCond::Set {
        tree(asm, lo, hi, depth + 1, cases, default);
        asm.here(right);
        tree(asm, lo, hi, depth + 1, cases, default);
    } else {
        tree(asm, lo, mid, depth + 1, cases, default);
        asm.here(right);
        tree(asm, mid, hi, depth + 1, cases, default);
    }
}

/// `prefix` no-op instructions, `r6 = value`, then a 24-case tree.
/// Returns the program and the pc of the tree's root.
fn program(value: u64, prefix: usize) -> (Vec<Insn>, usize) {
    let mut asm = Asm::default();
    asm.plain(&vec![alu64(ebee_isa::AluOp::Add, 9, imm(0)); prefix]);
    asm.plain(&lddw(6, value));
    let root = asm.pc();
    let cases: Vec<usize> = (0..24).map(|_| asm.label()).collect();
    let default = asm.label();
    tree(&mut asm, 0, 24, 0, &cases, default);
    for (k, &l) in cases.iter().enumerate() {
        asm.here(l);
        asm.plain(&[mov(0, 10 + k as i32), exit()]);
    }
    asm.here(default);
    asm.plain(&[mov(0, 99), exit()]);
    (asm.finish(), root)
}

/// Values inside the table (0 to 23 and the bit test's immediate), next to
/// it, and those whose low 32 bits are inside it but not the whole value.
fn values() -> Vec<u64> {
    let mut v: Vec<u64> = (0..30).collect();
    v.extend([
        u64::MAX,
        u64::MAX - 5,
        1 << 32,
        (1 << 32) | 3,
        (1 << 32) | 13,
        (1 << 63) | 7,
        0xffff_ffff,
        0x8000_0010,
    ]);
    v
}

fn run_checked_and_unchecked(vm: &Vm) -> Result<u64, ExecError> {
    let checked = vm.run(&mut []);
    // SAFETY: the program touches no memory.
    let unchecked = unsafe { vm.run_unchecked(&mut []) };
    assert_eq!(checked, unchecked, "checked and unchecked modes disagree");
    checked
}

#[test]
fn every_value_leads_where_the_kernel_leads() {
    let kernel = match ebee_kernel::probe() {
        Ok(()) => true,
        Err(reason) => {
            println!("skipped the kernel comparison: {reason}");
            false
        }
    };
    for value in values() {
        let (insns, _) = program(value, 0);
        let got = run_checked_and_unchecked(&Vm::new(insns.clone()).unwrap()).unwrap();
        // Op by op (a run of 255 instructions first makes the whole
        // program run in precise budget mode, which never uses the table).
        let (slow, _) = program(value, 300);
        let op_by_op = run_checked_and_unchecked(&Vm::new(slow).unwrap()).unwrap();
        assert_eq!(got, op_by_op, "value {value:#x}");
        if kernel {
            let prog = KernelProgram::load(
                ProgramType::SocketFilter,
                &insns,
                "GPL",
                &LoadOptions::default(),
            )
            .unwrap_or_else(|e| panic!("kernel refused: {e}"));
            let out = prog.test_run(&TestRun::new(&[0u8; 64])).unwrap();
            assert_eq!(got, u64::from(out.retval), "value {value:#x} vs kernel");
        }
    }
}

/// For every budget up to the program's length, the error names the same
/// instruction as op-by-op execution, and the smallest budget that
/// succeeds is the same.
#[test]
fn budget_counts_every_jump_of_the_tree() {
    const PREFIX: usize = 300;
    for value in values() {
        let (insns, _) = program(value, 0);
        let (slow_insns, _) = program(value, PREFIX);
        let mut vm = Vm::new(insns).unwrap();
        let mut slow = Vm::new(slow_insns).unwrap();
        let mut succeeded = false;
        for budget in 0..40u64 {
            vm.set_budget(budget);
            slow.set_budget(budget + PREFIX as u64);
            let fast = run_checked_and_unchecked(&vm);
            let reference = run_checked_and_unchecked(&slow);
            match (fast, reference) {
                (Ok(a), Ok(b)) => {
                    assert_eq!(a, b);
                    succeeded = true;
                }
                (
                    Err(ExecError::BudgetExhausted { pc, .. }),
                    Err(ExecError::BudgetExhausted { pc: slow_pc, .. }),
                ) => {
                    assert_eq!(pc + PREFIX, slow_pc, "value {value:#x}, budget {budget}");
                }
                (a, b) => panic!("value {value:#x}, budget {budget}: {a:?} vs {b:?}"),
            }
        }
        assert!(
            succeeded,
            "value {value:#x}: 40 instructions were not enough"
        );
    }
}

/// A jump to an inner node of the tree runs the rest of the tree from
/// there (the table only serves entries at the root), as in the kernel.
#[test]
fn jumping_into_the_middle_of_a_tree_runs_its_rest() {
    if let Err(reason) = ebee_kernel::probe() {
        println!("skipped: {reason}");
        return;
    }
    let (tree_only, root) = program(0, 0);
    assert_eq!(root, 2);
    // The inner nodes right after the root: the left subtree's levels.
    for inner in root + 1..root + 4 {
        for value in values() {
            // r6 = value; r7 = 0x5555; if r6 == r7 goto root; goto inner
            // (the root stays reachable, as the kernel requires).
            let mut insns = lddw(6, value).to_vec();
            insns.push(mov(7, 0x5555));
            insns.push(jmp(JmpCond::Eq, 6, r(7), 1));
            insns.push(ja((inner + 2 - 5) as i32));
            insns.extend_from_slice(&tree_only[2..]);
            let got = run_checked_and_unchecked(&Vm::new(insns.clone()).unwrap()).unwrap();
            let prog = KernelProgram::load(
                ProgramType::SocketFilter,
                &insns,
                "GPL",
                &LoadOptions::default(),
            )
            .unwrap_or_else(|e| panic!("kernel refused: {e}"));
            let out = prog.test_run(&TestRun::new(&[0u8; 64])).unwrap();
            assert_eq!(
                got,
                u64::from(out.retval),
                "entering at {inner}, value {value:#x}"
            );
        }
    }
}

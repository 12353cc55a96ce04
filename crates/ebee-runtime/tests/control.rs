//! Control flow: bpf-to-bpf calls and their frames, helper calls, tail
//! calls, the instruction budget, `may_goto`, and falling off the end.

mod common;
use common::*;
use ebee_isa::{AluOp, Insn, JmpCond, Size};
use ebee_runtime::{
    ExecError, HelperRegistry, Vm, MAX_CALL_FRAMES, MAX_TAIL_CALL_CNT, MAY_GOTO_LIMIT,
};
use std::sync::{Arc, OnceLock};

fn vm(insns: Vec<Insn>) -> Vm {
    Vm::new(insns).expect("load")
}

#[test]
fn local_calls_pass_arguments_and_restore_callee_saved_registers() {
    let program = vm(vec![
        mov(1, 20),
        mov(2, 22),
        mov(6, 100),
        mov(9, 900),
        call_local(3),
        alu64(AluOp::Add, 0, r(6)), // + 100: r6 restored
        alu64(AluOp::Add, 0, r(9)), // + 900: r9 restored
        exit(),
        // f(r1, r2) = r1 + r2, clobbering r6 and r9.
        mov(6, 1),
        mov(9, 1),
        movr(0, 1),
        alu64(AluOp::Add, 0, r(2)),
        exit(),
    ]);
    assert_eq!(run_both(&program, &[]).unwrap(), 1042);
}

#[test]
fn each_call_gets_a_fresh_frame() {
    // The caller stores 7 at r10-8; the callee stores 9 at its own r10-8
    // and returns its frame pointer minus the caller's (= -512).
    let program = vm(vec![
        store_imm(Size::DW, 10, -8, 7),
        movr(6, 10),
        call_local(3),
        load(Size::DW, 1, 10, -8), // still 7
        alu64(AluOp::Add, 0, r(1)),
        exit(),
        // callee
        store_imm(Size::DW, 10, -8, 9),
        movr(0, 10),
        alu64(AluOp::Sub, 0, r(6)),
        exit(),
    ]);
    assert_eq!(run_both(&program, &[]).unwrap(), (-512i64 + 7) as u64);
}

#[test]
fn a_new_frame_reads_zero_then_keeps_what_the_last_call_left() {
    // Two calls of f, which returns *(r10 - 8) and then stores 5 there:
    // the first sees a zeroed frame, the second what the first left (as in
    // Linux, frames are not cleared between calls; runs are deterministic).
    let program = vm(vec![
        call_local(4),
        movr(6, 0),
        call_local(2),
        alu64(AluOp::Add, 0, r(6)),
        exit(),
        // f
        load(Size::DW, 0, 10, -8),
        store_imm(Size::DW, 10, -8, 5),
        exit(),
    ]);
    assert_eq!(run_both(&program, &[]).unwrap(), 5);
    assert_eq!(run_both(&program, &[]).unwrap(), 5);
}

#[test]
fn callee_may_use_the_callers_stack_but_not_a_dead_frame() {
    // Caller passes a pointer to its stack; callee writes through it.
    let ok = vm(vec![
        movr(1, 10),
        alu64(AluOp::Add, 1, imm(-8)),
        call_local(2),
        load(Size::DW, 0, 10, -8),
        exit(),
        store_imm(Size::DW, 1, 0, 55),
        exit(),
    ]);
    assert_eq!(run_both(&ok, &[]).unwrap(), 55);
    // Callee returns a pointer into its own frame; after the return that
    // frame is dead.
    let dead = vm(vec![
        call_local(2),
        load(Size::DW, 0, 0, -8),
        exit(),
        movr(0, 10),
        exit(),
    ]);
    match dead.run(&mut []) {
        Err(ExecError::OutOfBounds { pc: 1, region, .. }) => {
            assert!(region.contains("stack"), "{region}")
        }
        other => panic!("{other:?}"),
    }
}

/// A chain of `calls` nested calls, each `call +1` into the next.
fn nested(calls: usize) -> Vm {
    let mut p: Vec<Insn> = (0..calls).map(|_| call_local(0)).collect();
    p.push(mov(0, 3));
    p.push(exit());
    vm(p)
}

#[test]
fn call_depth_is_limited_to_eight_frames() {
    assert_eq!(MAX_CALL_FRAMES, 8);
    // 7 calls: 8 frames, fine.
    assert_eq!(run_both(&nested(7), &[]).unwrap(), 3);
    // 8 calls: the eighth would be frame 9.
    assert_eq!(
        nested(8).run(&mut []),
        Err(ExecError::CallDepth { pc: 7, max: 8 })
    );
}

#[test]
fn unbounded_recursion_is_a_call_depth_error() {
    let program = vm(vec![call_local(-1), exit()]);
    assert_eq!(
        program.run(&mut []),
        Err(ExecError::CallDepth { pc: 0, max: 8 })
    );
}

#[test]
fn falling_off_the_end_is_an_error() {
    assert_eq!(
        vm(vec![mov(0, 1)]).run(&mut []),
        Err(ExecError::FellOffEnd { pc: 0 })
    );
    // Also from a conditional jump to the last instruction that isn't exit.
    let program = vm(vec![mov(0, 0), jmp(JmpCond::Eq, 0, imm(0), 0), mov(0, 1)]);
    assert_eq!(program.run(&mut []), Err(ExecError::FellOffEnd { pc: 2 }));
}

#[test]
fn budget_stops_runaway_loops() {
    let mut program = vm(vec![mov(0, 0), alu64(AluOp::Add, 0, imm(1)), ja(-2)]);
    program.set_budget(100);
    // 100 instructions: mov, then 33 x (add, ja) = 67, then add = 100;
    // the 101st (ja at pc 2) exceeds.
    assert_eq!(
        program.run(&mut []),
        Err(ExecError::BudgetExhausted { pc: 2, budget: 100 })
    );
    // The default budget is finite.
    let default = vm(vec![ja(-1)]);
    assert!(matches!(
        default.run(&mut []),
        Err(ExecError::BudgetExhausted { pc: 0, .. })
    ));
    // An exact budget suffices.
    let mut exact = vm(vec![mov(0, 1), exit()]);
    exact.set_budget(2);
    assert_eq!(exact.run(&mut []).unwrap(), 1);
    exact.set_budget(1);
    assert!(exact.run(&mut []).is_err());
}

#[test]
fn may_goto_falls_through_until_the_loop_limit() {
    // loop: may_goto out; r0 += 1; goto loop; out: exit
    let mut program = vm(vec![
        mov(0, 0),
        Insn::MayGoto { off: 2 },
        alu64(AluOp::Add, 0, imm(1)),
        ja(-3),
        exit(),
    ]);
    program.set_budget(4 * MAY_GOTO_LIMIT);
    assert_eq!(program.run(&mut []).unwrap(), MAY_GOTO_LIMIT);
}

fn helpers_5_and_more() -> HelperRegistry {
    let mut h = HelperRegistry::new();
    h.register(5, "identity", |a| Ok(a[0]));
    h.register(6, "sum", |a| Ok(a.iter().sum()));
    h.register(7, "fails", |_| Err("no such key".into()));
    h.register(8, "panics", |_| panic!("helper bug"));
    h
}

#[test]
fn helper_calls_return_r0_and_keep_r1_to_r5() {
    let mut program = vm(vec![
        mov(1, 1),
        mov(2, 2),
        mov(3, 3),
        mov(4, 4),
        mov(5, 5),
        call_helper(6),
        // r0 = 15; add r1..r5 again: + 15
        alu64(AluOp::Add, 0, r(1)),
        alu64(AluOp::Add, 0, r(2)),
        alu64(AluOp::Add, 0, r(3)),
        alu64(AluOp::Add, 0, r(4)),
        alu64(AluOp::Add, 0, r(5)),
        exit(),
    ]);
    program.set_helpers(helpers_5_and_more());
    assert_eq!(run_both(&program, &[]).unwrap(), 30);
}

#[test]
fn callx_calls_the_helper_named_by_a_register() {
    let mut program = vm(vec![
        mov(1, 41),
        mov(8, 5),
        Insn::CallX { reg: reg(8) },
        exit(),
    ]);
    program.set_helpers(helpers_5_and_more());
    assert_eq!(run_both(&program, &[]).unwrap(), 41);
    let mut bad = vm(vec![mov(8, 99), Insn::CallX { reg: reg(8) }, exit()]);
    bad.set_helpers(helpers_5_and_more());
    assert_eq!(
        bad.run(&mut []),
        Err(ExecError::UnknownHelper { pc: 1, id: 99 })
    );
    let mut huge = vm(prog(&[
        &lddw(8, 1 << 40),
        &[Insn::CallX { reg: reg(8) }, exit()],
    ]));
    huge.set_helpers(helpers_5_and_more());
    assert_eq!(
        huge.run(&mut []),
        Err(ExecError::UnknownHelper { pc: 2, id: 1 << 40 })
    );
}

#[test]
fn helper_failures_stop_the_run() {
    let run = |id: i32| {
        let mut program = vm(vec![call_helper(id), exit()]);
        program.set_helpers(helpers_5_and_more());
        program.run(&mut [])
    };
    assert_eq!(run(1), Err(ExecError::UnknownHelper { pc: 0, id: 1 }));
    assert_eq!(
        run(7),
        Err(ExecError::HelperFailed {
            pc: 0,
            id: 7,
            name: "fails".into(),
            message: "no such key".into()
        })
    );
    match run(8) {
        Err(ExecError::HelperFailed { message, .. }) => assert!(message.contains("panicked")),
        other => panic!("{other:?}"),
    }
    // Negative ids are looked up as such.
    assert!(matches!(
        run(-3),
        Err(ExecError::UnknownHelper { pc: 0, .. })
    ));
}

const TAIL_CALL: i32 = 12; // BPF_FUNC_tail_call
const TAIL_CALL_FAILED: u64 = (-2i64) as u64; // -ENOENT

/// Registers helper 12 on `program`: tail call to whatever `target` holds.
fn tail_call_helper(program: &mut Vm, target: Arc<OnceLock<Arc<Vm>>>) {
    program
        .helpers_mut()
        .register_with_context(TAIL_CALL, "tail_call", move |ctx, _args| {
            let t = target.get().ok_or("no target")?.clone();
            Ok(match ctx.tail_call(t) {
                Ok(()) => 0,
                Err(_) => TAIL_CALL_FAILED,
            })
        });
}

#[test]
fn tail_call_chain_stops_after_33() {
    // Increments the u32 at ctx[0], then tail-calls itself.
    let mut program = vm(vec![
        movr(6, 1),
        load(Size::W, 0, 6, 0),
        alu64(AluOp::Add, 0, imm(1)),
        store(Size::W, 6, 0, 0),
        call_helper(TAIL_CALL),
        // Only reached when the tail call fails: r0 is its error.
        exit(),
    ]);
    let target = Arc::new(OnceLock::new());
    tail_call_helper(&mut program, target.clone());
    let program = Arc::new(program);
    target.set(program.clone()).unwrap();
    let mut mem = [0u8; 4];
    assert_eq!(program.run(&mut mem).unwrap(), TAIL_CALL_FAILED);
    // The first run plus 33 tail calls.
    assert_eq!(u32::from_le_bytes(mem), 1 + MAX_TAIL_CALL_CNT);
    // SAFETY: the same program, run checked above, on the same input.
    let unchecked = unsafe { program.run_unchecked(&mut [0u8; 4]) };
    assert_eq!(unchecked, Ok(TAIL_CALL_FAILED));
}

#[test]
fn tail_call_keeps_the_frame_and_passes_the_context() {
    // Q: r0 = *(u64 *)(r10 - 8) + *(u8 *)(r1 + 0)
    let q = Arc::new(vm(vec![
        load(Size::DW, 0, 10, -8),
        load(Size::B, 2, 1, 0),
        alu64(AluOp::Add, 0, r(2)),
        exit(),
    ]));
    // P: *(r10 - 8) = 1000; r1 = ctx; tail call Q; r0 = 1; exit
    let mut p = vm(vec![
        store_imm(Size::DW, 10, -8, 1000),
        call_helper(TAIL_CALL),
        mov(0, 1),
        exit(),
    ]);
    tail_call_helper(&mut p, Arc::new(OnceLock::from(q)));
    assert_eq!(run_both(&p, &[5]).unwrap(), 1005);
}

#[test]
fn tail_call_from_a_subprogram_returns_to_its_caller() {
    let q = Arc::new(vm(vec![mov(0, 1), mov(6, 66), exit()]));
    let mut p = vm(vec![
        mov(6, 600),
        call_local(2),
        alu64(AluOp::Add, 0, r(6)), // r6 restored to 600 across the call
        exit(),
        // subprogram: tail call Q (replaces it)
        call_helper(TAIL_CALL),
        mov(0, 5),
        exit(),
    ]);
    tail_call_helper(&mut p, Arc::new(OnceLock::from(q)));
    assert_eq!(run_both(&p, &[]).unwrap(), 601);
}

#[test]
fn tail_call_targets_use_their_own_helpers() {
    let mut q = vm(vec![call_helper(6), exit()]);
    q.helpers_mut().register(6, "seven", |_| Ok(7));
    let mut p = vm(vec![call_helper(TAIL_CALL), exit()]);
    tail_call_helper(&mut p, Arc::new(OnceLock::from(Arc::new(q))));
    assert_eq!(run_both(&p, &[]).unwrap(), 7);
}

#[test]
fn budget_spans_the_tail_call_chain() {
    let mut program = vm(vec![call_helper(TAIL_CALL), exit()]);
    program.set_budget(10);
    let target = Arc::new(OnceLock::new());
    tail_call_helper(&mut program, target.clone());
    let program = Arc::new(program);
    target.set(program.clone()).unwrap();
    assert!(matches!(
        program.run(&mut []),
        Err(ExecError::BudgetExhausted { pc: 0, budget: 10 })
    ));
}

//! Callbacks in raw bytecode (`r2 = func(label) ll`, the `BPF_PSEUDO_FUNC`
//! form) on the JIT, against the interpreter: results, and the errors a
//! callback can end in (a fault, the call-depth limit through recursion,
//! the budget), message for message.

use std::sync::Arc;

use ebee_jit::{ExecError, JitOptions, JitProgram};
use ebee_runtime::helpers::{standard_helpers, HelperEnv};
use ebee_runtime::Vm;

fn vm(src: &str, budget: Option<u64>) -> Vm {
    let insns = ebee_isa::assemble(src).unwrap_or_else(|e| panic!("{e}"));
    let mut vm = Vm::new(insns).unwrap();
    vm.set_helpers(standard_helpers(&Arc::new(HelperEnv::default())));
    if let Some(b) = budget {
        vm.set_budget(b);
    }
    vm
}

/// The interpreter's and the checked JIT's results of `src` on 16 bytes.
fn both(src: &str, budget: Option<u64>) -> (Result<u64, ExecError>, Result<u64, ExecError>) {
    let vm = vm(src, budget);
    let jit = JitProgram::compile(&vm, JitOptions::CHECKED).unwrap();
    // One buffer for both, so that messages naming its address agree.
    let mut mem = [0u8; 16];
    let interp = vm.run(&mut mem);
    (interp, jit.run(&mut mem))
}

/// bpf_loop(10, cb, &sum, 0) where cb adds i to sum and stops at i = 6:
/// r0 = the loop's result << 32 | sum.
const SUM: &str = "
    r1 = 10
    r2 = func(cb) ll
    r3 = r10
    r3 += -8
    *(u64 *)(r10 - 8) = 0
    r4 = 0
    call 181
    r1 = *(u64 *)(r10 - 8)
    r0 <<= 32
    r0 |= r1
    exit
cb:
    r3 = *(u64 *)(r2 + 0)
    r3 += r1
    *(u64 *)(r2 + 0) = r3
    r0 = 0
    if r1 != 6 goto out
    r0 = 1
out:
    exit
";

#[test]
fn raw_bpf_loop_runs_on_both_engines() {
    let (interp, jit) = both(SUM, None);
    assert_eq!(interp, Ok(7 << 32 | 21), "7 calls, 0 + 1 + ... + 6");
    assert_eq!(jit, interp);
    let vm = vm(SUM, None);
    let verified = JitProgram::compile(&vm, JitOptions::VERIFIED).unwrap();
    // SAFETY: the program only touches its own stack through the callback's
    // pointer to it, which stays inside the caller's live frame.
    assert_eq!(unsafe { verified.run_unchecked(&mut [0u8; 16]) }, interp);
}

#[test]
fn a_fault_in_a_callback_is_reported_alike() {
    // The callback reads 4 KiB past the caller's frame.
    let src = "
        r1 = 3
        r2 = func(cb) ll
        r3 = r10
        r4 = 0
        call 181
        exit
    cb:
        r0 = *(u64 *)(r2 + 4096)
        exit
    ";
    let (interp, jit) = both(src, None);
    let e = interp.clone().unwrap_err();
    let msg = e.to_string();
    assert!(
        msg.contains("helper 181 (loop) failed: in the callback at 7: instruction 7"),
        "{msg}"
    );
    assert_eq!(jit, interp);
}

#[test]
fn recursive_callbacks_hit_the_call_depth_limit_alike() {
    let src = "
        r1 = 1
        r2 = func(cb) ll
        r3 = 0
        r4 = 0
        call 181
        exit
    cb:
        r1 = 1
        r2 = func(cb) ll
        r3 = 0
        r4 = 0
        call 181
        exit
    ";
    let (interp, jit) = both(src, None);
    let msg = interp.clone().unwrap_err().to_string();
    assert!(msg.contains("call depth exceeds 8 frames"), "{msg}");
    assert_eq!(jit, interp);
}

#[test]
fn callbacks_share_the_budget() {
    // Each call runs 3 instructions; 1000 calls need more than 2000.
    let src = "
        r1 = 1000
        r2 = func(cb) ll
        r3 = 0
        r4 = 0
        call 181
        exit
    cb:
        r0 = 1
        r0 -= 1
        exit
    ";
    let (interp, jit) = both(src, Some(2000));
    let failed = |r: &Result<u64, ExecError>| match r {
        Err(ExecError::HelperFailed {
            id: 181, message, ..
        }) => message.contains("instruction budget of 2000 exhausted"),
        _ => false,
    };
    assert!(failed(&interp), "{interp:?}");
    assert!(failed(&jit), "{jit:?}");
    let (interp, jit) = both(src, Some(10_000));
    assert_eq!(interp, Ok(1000));
    assert_eq!(jit, interp);
}

#[test]
fn a_handle_of_no_referenced_function_runs_alike() {
    // 0xebeef000_00000007 is the handle of pc 7, which no `func(...)`
    // names: the JIT compiles it when the helper first calls it.
    let src = "
        r1 = 3
        r2 = 0xebeef00000000007 ll
        r3 = 0
        r4 = 0
        call 181
        exit
        r0 = 0
        exit
    ";
    let (interp, jit) = both(src, None);
    assert_eq!(interp, Ok(3));
    assert_eq!(jit, interp);
    // A handle of the second slot of an lddw: the interpreter stops there.
    let (interp, jit) = both(&src.replace("00000007", "00000002"), None);
    assert!(interp.is_err());
    assert!(jit.is_err(), "{jit:?}");
}

/// A callback runs a frame deeper than its caller, in a frame no local call
/// reaches: it reads as zero there on the first run and after a run that
/// left bytes in it, as in the interpreter (which zeroes every frame).
#[test]
fn a_callback_frame_reads_as_zero() {
    // The callback returns 1 (stop) after folding its frame's unwritten
    // slot into *ctx, then dirties that slot for the next run.
    let src = "
        r1 = 1
        r2 = func(cb) ll
        r3 = r10
        r3 += -8
        *(u64 *)(r10 - 8) = 5
        r4 = 0
        call 181
        r0 = *(u64 *)(r10 - 8)
        exit
    cb:
        r4 = *(u64 *)(r10 - 16)
        r5 = *(u64 *)(r2 + 0)
        r5 += r4
        *(u64 *)(r2 + 0) = r5
        r4 = 0x7777
        *(u64 *)(r10 - 16) = r4
        r0 = 1
        exit
    ";
    // The same callback through a computed handle (pc 10), which no `lddw`
    // names: the program alone needs one frame.
    let forged = src.replace("func(cb) ll", "0xebeef0000000000a ll");
    for src in [src, forged.as_str()] {
        let vm = vm(src, None);
        let jit = JitProgram::compile(&vm, JitOptions::CHECKED).unwrap();
        for _ in 0..3 {
            let mut mem = [0u8; 16];
            assert_eq!(vm.run(&mut mem), Ok(5));
            assert_eq!(jit.run(&mut mem), Ok(5));
        }
    }
}

/// Compiling for another target handles callbacks too: the aarch64 code
/// has one function more than the program without its `lddw rX, func`
/// reference, the callback's.
#[test]
fn callbacks_compile_for_aarch64() {
    let insns = ebee_isa::assemble(SUM).unwrap();
    for checked in [false, true] {
        let with = ebee_jit::compile_for_target(&insns, "aarch64", checked).unwrap();
        assert!(with.iter().all(|f| !f.is_empty()));
        // The same program calling helper 181 with a plain constant.
        let plain = ebee_isa::assemble(&SUM.replace("func(cb) ll", "0 ll")).unwrap();
        let without = ebee_jit::compile_for_target(&plain, "aarch64", checked).unwrap();
        assert_eq!(with.len(), without.len() + 1, "checked={checked}");
    }
}

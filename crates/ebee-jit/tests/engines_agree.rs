//! The runtime features beyond plain instructions, each compared with the
//! interpreter: bpf-to-bpf calls (register hand-back, caller frames, dead
//! frames, depth limit), helpers (unknown ids, `callx`, regions they add,
//! failures), tail calls, the instruction budget, legacy packet loads,
//! `may_goto`, misaligned atomics.

use ebee_isa::assemble;
use ebee_jit::{JitOptions, JitProgram};
use ebee_runtime::{ExecError, HelperError, Region, Vm};
use std::sync::Arc;

fn vm(text: &str) -> Vm {
    Vm::new(assemble(text).expect("assembles")).expect("loads")
}

/// An error without host addresses (the engines' stacks live in different
/// places): the message with every hex number blanked, and the kind.
fn portable(r: &Result<u64, ExecError>) -> Result<u64, String> {
    r.clone().map_err(|e| {
        let text = e.to_string();
        let mut out = String::new();
        let mut rest = text.as_str();
        while let Some(i) = rest.find("0x") {
            out.push_str(&rest[..i]);
            out.push_str("0x_");
            rest = rest[i + 2..].trim_start_matches(|c: char| c.is_ascii_hexdigit());
        }
        out.push_str(rest);
        out
    })
}

/// Runs `vm` on the interpreter and on the JIT in checked mode (and, when
/// the interpreter ran cleanly, verified mode) over `mem`; all must agree.
fn agree(vm: &Vm, mem: &[u8]) -> Result<u64, ExecError> {
    agree_in(vm, mem, true)
}

/// [`agree`]; `verifiable` says whether the program is one a verifier
/// could accept (so that verified mode may run it).
fn agree_in(vm: &Vm, mem: &[u8], verifiable: bool) -> Result<u64, ExecError> {
    let want = vm.run(&mut mem.to_vec());
    let checked = JitProgram::compile(vm, JitOptions::CHECKED).expect("compiles");
    let got = checked.run(&mut mem.to_vec());
    assert_eq!(
        portable(&got),
        portable(&want),
        "checked JIT vs interpreter"
    );
    if want.is_ok() && verifiable {
        let verified = JitProgram::compile(vm, JitOptions::VERIFIED).expect("compiles");
        // SAFETY: the checked interpreter ran this program on this input
        // without a fault (and the programs here are deterministic).
        let got = unsafe { verified.run_unchecked(&mut mem.to_vec()) };
        assert_eq!(got, want, "verified JIT vs interpreter");
    }
    want
}

#[test]
fn callee_hands_back_r1_to_r5_and_keeps_r6_to_r9() {
    // Reading r1 after a call is something only unverified programs do,
    // so this is about checked mode.
    let v = vm("
        r6 = 6
        r1 = 1
        call pc+3
        r0 += r1
        r0 += r6
        exit
        r1 = 40
        r6 = 99
        r0 = 0
        exit
    ");
    assert_eq!(agree_in(&v, &[], false), Ok(46));
}

#[test]
fn callee_writes_through_a_pointer_into_the_caller_frame() {
    let v = vm("
        *(u64 *)(r10 - 8) = 7
        r1 = r10
        r1 += -8
        call pc+2
        r0 = *(u64 *)(r10 - 8)
        exit
        *(u64 *)(r1 + 0) = 42
        exit
    ");
    assert_eq!(agree(&v, &[]), Ok(42));
}

#[test]
fn a_dead_frame_is_out_of_bounds() {
    // The callee returns a pointer into its own frame; after the return that
    // frame is no longer live.
    let v = vm("
        call pc+2
        r0 = *(u64 *)(r0 + 0)
        exit
        r0 = r10
        r0 += -8
        exit
    ");
    assert!(matches!(
        agree(&v, &[]),
        Err(ExecError::OutOfBounds { pc: 1, .. })
    ));
}

#[test]
fn recursion_stops_at_the_frame_limit() {
    let v = vm("
        call pc-1
        exit
    ");
    assert!(matches!(
        agree(&v, &[]),
        Err(ExecError::CallDepth { pc: 0, .. })
    ));
}

#[test]
fn unknown_helpers_and_callx() {
    let v = vm("
        call 999
        exit
    ");
    assert!(matches!(
        agree(&v, &[]),
        Err(ExecError::UnknownHelper { id: 999, .. })
    ));
    let mut v = vm("
        r1 = 20
        r2 = 7
        call r2
        exit
    ");
    v.helpers_mut().register(7, "double", |a| Ok(a[0] * 2));
    assert_eq!(agree(&v, &[]), Ok(40));
}

#[test]
fn helper_failures_are_reported() {
    let mut v = vm("
        call 7
        exit
    ");
    v.helpers_mut()
        .register(7, "refuse", |_| Err(HelperError::from("no")));
    assert!(matches!(
        agree(&v, &[]),
        Err(ExecError::HelperFailed { pc: 0, id: 7, .. })
    ));
}

#[test]
fn helper_regions_are_accessible_and_bounded() {
    // A helper hands out a 16-byte buffer, as map lookups hand out values.
    let buffer: &'static mut [u64; 2] = Box::leak(Box::new([5, 0]));
    let addr = buffer.as_mut_ptr() as u64;
    let with_helper = |text: &str| {
        let mut v = vm(text);
        v.helpers_mut()
            .register_with_context(1, "lookup", move |ctx, _| {
                // SAFETY: the buffer is leaked, so valid for every run.
                unsafe { ctx.add_region(Region::new(addr, 16, true, "map value")) };
                Ok(addr)
            });
        v
    };
    let ok = with_helper(
        "
        call 1
        r1 = *(u64 *)(r0 + 0)
        r1 += 1
        *(u64 *)(r0 + 8) = r1
        r0 = *(u64 *)(r0 + 8)
        exit
    ",
    );
    assert_eq!(agree(&ok, &[]), Ok(6));
    let past_end = with_helper(
        "
        call 1
        r0 = *(u64 *)(r0 + 12)
        exit
    ",
    );
    assert!(matches!(
        agree(&past_end, &[]),
        Err(ExecError::OutOfBounds { pc: 1, .. })
    ));
}

/// Makes helper 12 of `v` tail-call `target`.
fn tail_calls_into(v: &mut Vm, target: &Arc<Vm>) {
    let t = target.clone();
    v.helpers_mut()
        .register_with_context(12, "tail_call", move |ctx, _| {
            ctx.tail_call(t.clone())
                .map_err(|e| HelperError(e.to_string()))?;
            Ok(0)
        });
}

#[test]
fn tail_calls_replace_the_program() {
    let target = Arc::new(vm("
        r0 = r1
        r0 += 100
        exit
    "));
    let mut v = vm("
        r1 = 5
        call 12
        r0 = 1
        exit
    ");
    tail_calls_into(&mut v, &target);
    assert_eq!(agree(&v, &[]), Ok(105));
}

#[test]
fn tail_calls_are_limited() {
    // A program that tail-calls itself: the 34th request fails, the helper
    // returns -1, and the program exits with the number of calls it saw.
    let slot: Arc<std::sync::OnceLock<Arc<Vm>>> = Arc::default();
    let mut v = vm("
        call 12
        exit
    ");
    let s = slot.clone();
    v.helpers_mut()
        .register_with_context(12, "tail_call", move |ctx, _| {
            match ctx.tail_call(s.get().expect("set").clone()) {
                Ok(()) => Ok(0),
                Err(_) => Ok(ctx.tail_call_count() as u64),
            }
        });
    let v = Arc::new(v);
    slot.set(v.clone()).ok();
    assert_eq!(agree(&v, &[]), Ok(ebee_runtime::MAX_TAIL_CALL_CNT as u64));
}

#[test]
fn endless_loops_exhaust_the_budget() {
    let mut v = vm("
        r0 = 0
        r0 += 1
        goto -2
    ");
    v.set_budget(10_000);
    assert!(matches!(
        agree(&v, &[]),
        Err(ExecError::BudgetExhausted { .. })
    ));
}

#[test]
fn a_budget_that_suffices_is_not_exhausted() {
    // 1 + 3 * 100 + 1 instructions: exactly the budget.
    let mut v = vm("
        r0 = 100
        r0 -= 1
        if r0 != 0 goto -2
        exit
    ");
    v.set_budget(2 + 2 * 100);
    assert_eq!(agree(&v, &[]), Ok(0));
}

#[test]
fn packet_loads_read_big_endian_and_stop_outside() {
    let packet = [0x12, 0x34, 0x56, 0x78, 0x9a];
    let v = vm("
        r6 = r1
        r0 = *(u32 *)skb[1]
        exit
    ");
    assert_eq!(agree(&v, &packet), Ok(0x3456789a));
    let outside = vm("
        r6 = r1
        r7 = 3
        r0 = *(u32 *)skb[r7 + 0]
        r0 = 1
        exit
    ");
    assert_eq!(agree(&outside, &packet), Ok(0));
}

#[test]
fn may_goto_falls_through() {
    let v = vm("
        r0 = 1
        may_goto +1
        r0 = 2
        exit
    ");
    assert_eq!(agree(&v, &[]), Ok(2));
}

#[test]
fn misaligned_atomics_fail() {
    let v = vm("
        r1 = 1
        lock *(u64 *)(r10 - 12) += r1
        exit
    ");
    assert!(matches!(
        agree(&v, &[]),
        Err(ExecError::MisalignedAtomic { pc: 1, .. })
    ));
}

#[test]
fn invocations_with_read_only_input_and_extra_regions() {
    use ebee_runtime::Invocation;
    // Raw pointers only: the programs write through them too.
    let ctx_addr = Box::into_raw(Box::new([11u64, 0])) as u64;
    let extra_ptr = Box::into_raw(Box::new(31u64));
    let extra_addr = extra_ptr as u64;
    // SAFETY: `extra_ptr` is leaked, valid and only accessed by one run or
    // this thread at a time.
    let set_extra = |v: u64| unsafe { extra_ptr.write(v) };
    // SAFETY: as above.
    let extra = || unsafe { extra_ptr.read() };
    let mut inv = Invocation::new([ctx_addr, extra_addr, 0, 0, 0]);
    // SAFETY: both buffers are leaked, so valid for every run.
    unsafe {
        inv.set_input(Region::new(ctx_addr, 16, false, "ctx"));
        inv.add_region(Region::new(extra_addr, 8, true, "extra"));
    }
    let reads = vm("
        r0 = *(u64 *)(r1 + 0)
        r3 = *(u64 *)(r2 + 0)
        r0 += r3
        *(u64 *)(r2 + 0) = r0
        exit
    ");
    let writes_ctx = vm("
        *(u64 *)(r1 + 8) = 1
        exit
    ");
    for (v, expect_ok) in [(reads, true), (writes_ctx, false)] {
        set_extra(31);
        let want = v.run_with(&inv);
        set_extra(31);
        let jit = JitProgram::compile(&v, JitOptions::CHECKED).expect("compiles");
        let got = jit.run_with(&inv);
        assert_eq!(portable(&got), portable(&want));
        assert_eq!(want.is_ok(), expect_ok, "{want:?}");
        if expect_ok {
            assert_eq!(extra(), 42, "the JIT run stored r0 = 11 + 31");
        }
    }
}

#[test]
fn programs_can_be_shared_between_threads() {
    fn shareable<T: Send + Sync>() {}
    shareable::<JitProgram>();
    let v = vm("
        r0 = r2
        exit
    ");
    let prog = Arc::new(JitProgram::compile(&v, JitOptions::CHECKED).expect("compiles"));
    let handles: Vec<_> = (0..4u8)
        .map(|i| {
            let p = prog.clone();
            std::thread::spawn(move || p.run(&mut vec![0; i as usize + 1]))
        })
        .collect();
    let lens: Vec<_> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    assert_eq!(lens, vec![Ok(1), Ok(2), Ok(3), Ok(4)]);
}

/// W^X: after compiling (and running) programs, no mapping of the process
/// is writable and executable at once (Linux: read from /proc/self/maps).
#[test]
fn code_is_never_writable_and_executable() {
    let v = vm("
        r0 = 1
        exit
    ");
    let progs: Vec<_> = [JitOptions::CHECKED, JitOptions::VERIFIED]
        .into_iter()
        .map(|o| JitProgram::compile(&v, o).expect("compiles"))
        .collect();
    assert_eq!(progs[0].run(&mut []), Ok(1));
    let Ok(maps) = std::fs::read_to_string("/proc/self/maps") else {
        println!("skipped: no /proc/self/maps");
        return;
    };
    let wx: Vec<&str> = maps
        .lines()
        .filter(|l| {
            let perms = l.split_whitespace().nth(1).unwrap_or("");
            perms.contains('w') && perms.contains('x')
        })
        .collect();
    assert!(wx.is_empty(), "writable and executable mappings: {wx:#?}");
}

/// Frames are zeroed as in the interpreter although a run zeroes only the
/// frames its call graph reaches: a callee three calls deep reads its
/// uninitialised frame (zero), after the caller filled its own.
#[test]
fn deeper_frames_read_as_zero() {
    let v = vm("
        r1 = -1
        *(u64 *)(r10 - 8) = r1
        call f
        exit
    f:
        *(u64 *)(r10 - 16) = r1
        call g
        exit
    g:
        call h
        exit
    h:
        r0 = *(u64 *)(r10 - 8)
        r1 = *(u64 *)(r10 - 512)
        r0 |= r1
        exit
    ");
    assert_eq!(agree(&v, &[]), Ok(0));
}

/// A tail-call target that calls deeper than its caller ever does runs on
/// zeroed frames too (they are zeroed when the tail call starts).
#[test]
fn tail_call_targets_get_zeroed_frames() {
    let target = Arc::new(vm("
        call f
        exit
    f:
        call g
        exit
    g:
        r0 = *(u64 *)(r10 - 8)
        r1 = *(u64 *)(r10 - 256)
        r0 |= r1
        exit
    "));
    let mut v = vm("
        r1 = -1
        *(u64 *)(r10 - 8) = r1
        call 12
        r0 = 1
        exit
    ");
    tail_calls_into(&mut v, &target);
    assert_eq!(agree(&v, &[]), Ok(0));
}

/// Stack slots kept in registers (`stack_slots.rs`) stay exact where other
/// code sees the frame's bytes: a function called twice at the same depth
/// reads, before writing, what its first call left (the interpreter does
/// not re-zero frames between calls), and sign-extending and narrow loads
/// of promoted slots read what was stored.
#[test]
fn promoted_stack_slots_keep_the_frame_exact() {
    let v = vm("
        r1 = 7
        call f
        r6 = r0
        r1 = 9
        call f
        r0 <<= 8
        r0 |= r6
        exit
    f:
        r0 = *(u64 *)(r10 - 8)
        *(u64 *)(r10 - 8) = r1
        r2 = -2
        *(u8 *)(r10 - 9) = r2
        r3 = *(s8 *)(r10 - 9)
        r4 = *(u8 *)(r10 - 9)
        r3 += r4
        r0 += r3
        exit
    ");
    // First call: 0 + (-2 + 254) = 252; second: 7 + 252 = 259.
    assert_eq!(agree(&v, &[]), Ok(259 << 8 | 252));
}

/// A tail-call target whose slots are promoted starts from the bytes its
/// caller left in the shared frame, as in the interpreter.
#[test]
fn a_tail_call_target_reads_its_callers_slots() {
    let target = Arc::new(vm("
        r0 = *(u64 *)(r10 - 8)
        r1 = *(u32 *)(r10 - 16)
        r0 += r1
        exit
    "));
    let mut v = vm("
        r1 = 40
        *(u64 *)(r10 - 8) = r1
        *(u32 *)(r10 - 16) = 2
        call 12
        r0 = 1
        exit
    ");
    tail_calls_into(&mut v, &target);
    assert_eq!(agree(&v, &[]), Ok(42));
}

#[test]
fn a_tail_call_in_a_subprogram_hands_back_the_targets_registers() {
    // The target's exit returns to the subprogram's caller, which (checked
    // mode, as in the interpreter's shared register file) reads the
    // target's r1-r5 after the call.
    let target = Arc::new(vm("
        r1 = 40
        r2 = 2
        r0 = 1
        exit
    "));
    let mut v = vm("
        call sub
        r0 = r1
        r0 += r2
        exit
    sub:
        call 12
        r0 = 7
        exit
    ");
    tail_calls_into(&mut v, &target);
    // (Reading r1 after a call: checked mode only.)
    assert_eq!(agree_in(&v, &[], false), Ok(42));
}

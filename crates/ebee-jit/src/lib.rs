//! Native code for eBPF programs through Cranelift, in two modes:
//!
//! - **verified** ([`JitOptions::VERIFIED`]): no run-time checks, for
//!   programs the verifier proved safe; run with
//!   [`JitProgram::run_unchecked`].
//! - **checked** ([`JitOptions::CHECKED`], the default): every memory
//!   access is checked against the regions the program may touch and an
//!   instruction budget is enforced, so unverified programs cannot escape
//!   or hang; run with [`JitProgram::run`] / [`JitProgram::run_with`].
//!
//! A [`JitProgram`] is compiled from the interpreter's [`ebee_runtime::Vm`]
//! and behaves like it: same helpers ([`ebee_runtime::HelperRegistry`]),
//! same budget, same regions ([`ebee_runtime::MemoryRegions`]), same faults
//! ([`ExecError`], naming the same pc, address and region). The interpreter
//! defines every instruction's meaning; the tests compare the two on the
//! conformance corpus, on random programs and feature by feature.
//!
//! ```
//! use ebee_jit::{JitOptions, JitProgram};
//! // r0 = r2 (the input length); exit
//! let bytes = [0xbf, 0x20, 0, 0, 0, 0, 0, 0, 0x95, 0, 0, 0, 0, 0, 0, 0];
//! let prog = JitProgram::from_bytes(&bytes, JitOptions::CHECKED).unwrap();
//! assert_eq!(prog.run(&mut [0u8; 7]).unwrap(), 7);
//! ```
//!
//! # How programs are compiled
//!
//! - **One native function per eBPF function** (pc 0 and every local call
//!   target), each holding every instruction reachable from its entry, so
//!   even jumps between subprograms compile. bpf-to-bpf calls are native
//!   calls passing `(ctx, frame_top, r0..r9)`; `r6`–`r9` live on in the
//!   caller, and in checked mode the callee hands `r1`–`r5` back, as the
//!   interpreter's shared register file does.
//! - **Registers are Cranelift variables**, kept in machine registers by
//!   the SSA builder and the register allocator.
//! - **Frames**: the interpreter's layout, eight 512-byte frames growing down
//!   from the entry frame (`r10` = its top); the callee's frame top is the
//!   caller's minus 512, which doubles as the depth counter. A run zeroes
//!   only the frames its call graph reaches (`frames.rs`).
//! - **Checked accesses**: an inline compare against the current frame or the
//!   input buffer (bounds kept in registers), proven statically for `r10`
//!   plus a constant when the function never writes `r10`; anything else
//!   goes through a `preserve_all` stub into Rust, which asks
//!   [`ebee_runtime::MemoryRegions`] (live caller frames, helper regions,
//!   invocation regions, read-only input).
//! - **Loop versioning** (checked mode, `loop_shape.rs`,
//!   `translate/versioned_loop.rs`): a loop that is a straight line with
//!   side exits is compiled twice. A guard in front proves from the
//!   registers at the loop entry that the trip count is below 2^32, that
//!   the budget covers every pass, and that every access whose address
//!   moves linearly with an induction variable stays in the input buffer
//!   at the first and the last pass; then the copy without those checks
//!   (and without budget tests) runs. Otherwise the checked copy runs and
//!   faults exactly where the interpreter does.
//! - **Stack slots in registers** (`stack_slots.rs`): in a function whose
//!   frame never escapes (`r10` only the base of constant-offset loads and
//!   stores), each slot is a variable, so reloads of spilled values read a
//!   register; stores still write through and the slots start from the
//!   frame's bytes, so whoever reads the frame later (a call at the same
//!   depth, a tail-call target) sees what the interpreter would.
//! - **Selects** (`translate/select.rs`): a short forward branch around at
//!   most four ALU operations becomes a `select` (`cmov`), the budget charge
//!   too; data-dependent branches no longer mispredict.
//! - **Switch tables** (verified mode, `translate/switch.rs`): clang's
//!   compare tree for a `switch` on a just-masked register (`rX &= 63`,
//!   then single-compare blocks) becomes one `br_table` over the mask's
//!   values, each entry the block the tree reaches for that value; the
//!   compares only the tree reaches are not compiled.
//! - **Exit tails** (verified mode, `translate/exit_tail.rs`): a block of
//!   at most two ALU operations and `exit` is copied into each jump that
//!   reaches it, so a loop's exit test falls through into its own return
//!   instead of ending in `jcc exit; jmp header`.
//! - **Budget** (checked mode): each basic block subtracts its instruction
//!   count on entry; the sign is tested at block ends (except on an edge
//!   into a block with no other predecessor), exits, and before calls,
//!   stores outside the frame and reported faults. The error names the
//!   instruction the interpreter stops at: the one whose index in its
//!   block is the budget the block started with, traced back along the
//!   untested edges (`control_flow::budget_pc`). No helper, call or store
//!   outside the frame happens past that point, and a callee gets the
//!   budget without the caller's rest of the block. Verified mode has no
//!   budget: verified programs terminate.
//! - **Array-map lookups** (`translate/map_lookup.rs`): `bpf_map_lookup_elem`
//!   on an array the program names with a constant (`lddw r1, map` in the
//!   call's block) and the `Vm` declares ([`ebee_runtime::Vm::inline_arrays`])
//!   is a bounds check and `base + key * stride` in native code.
//! - **Helpers and tail calls** go through a Rust trampoline into the
//!   `Vm`'s registry; a tail call compiles its target on first use (in the
//!   caller's mode, cached) and runs it in the caller's frame.
//! - **Callbacks** (`bpf_loop`, `bpf_for_each_map_elem`): every function
//!   the program loads the address of (`lddw rX, func`, which
//!   [`ebee_runtime::Vm::new`] turns into a handle and lists in
//!   [`ebee_runtime::Vm::function_refs`]) is compiled as a native function
//!   too. The helper calls it back through the trampoline's
//!   [`ebee_runtime::RunAccess`]: `r1`–`r5` its arguments, a new frame
//!   below the helper caller's (the call-depth limit applies), the run's
//!   budget, regions and tail-call state, and the interpreter's errors
//!   (`in the callback at PC: ...`). A handle an unverified program
//!   computes for a pc no `lddw` names is compiled when first called.
//! - **Division** never traps (guarded divisors, results selected);
//!   atomics are host atomics, misaligned ones fail as in the interpreter.
//! - **Constant blinding** ([`JitOptions::blind_constants`], `blinding.rs`):
//!   immediates are emitted XORed with a random per-compile key and
//!   un-XORed at run time, as the kernel's `bpf_jit_harden`.
//! - **Code memory** is written while mapped read-write and switched to
//!   read-execute before it runs (`cranelift-jit`); never both at once.
//!
//! # Objects
//!
//! [`JitEngine`] is the JIT as the runtime loader's engine
//! ([`ebee_runtime::loader::LoadOptions::engine`]): a loaded object's
//! programs, with their maps, helpers, tail calls and packet contexts,
//! run as native code, verified programs in verified mode.

#![warn(missing_docs)]

mod blinding;
mod code_memory;
mod compiler;
mod context;
mod control_flow;
mod engine;
mod error;
mod frames;
mod loop_shape;
mod program;
mod run_state;
mod runtime_calls;
mod stack_slots;
mod translate;

pub use ebee_runtime::ExecError;
pub use engine::JitEngine;
pub use error::JitError;
pub use program::{JitOptions, JitProgram};

/// Compiles `insns` for the Cranelift target called `isa_name` (e.g.
/// `"aarch64"`) down to machine code, one byte vector per eBPF function,
/// without linking or running it: how the JIT is tested on targets other
/// than the host. The program is loaded as [`ebee_runtime::Vm::new`] loads
/// it (the same errors); callback targets get functions of their own.
pub fn compile_for_target(
    insns: &[ebee_isa::Insn],
    isa_name: &str,
    checked: bool,
) -> Result<Vec<Vec<u8>>, JitError> {
    let options = if checked {
        JitOptions::CHECKED
    } else {
        JitOptions::VERIFIED
    };
    compile_for_target_with(insns, isa_name, options)
}

/// [`compile_for_target`] with every option: checked or verified mode and
/// constant blinding (under a fresh random key; the code reads the key from
/// an address that is only valid in a real compile, so these bytes are for
/// inspection, not for running). `optimize` is ignored: these compiles are
/// always optimised, like the ones that run.
pub fn compile_for_target_with(
    insns: &[ebee_isa::Insn],
    isa_name: &str,
    options: JitOptions,
) -> Result<Vec<Vec<u8>>, JitError> {
    let isa = compiler::isa_by_name(isa_name)?;
    let blind = options.blind_constants.then(|| blinding::Blinding {
        key: blinding::random_key(),
        key_addr: 0,
    });
    // As for a run: the interpreter's loading rules, and `lddw rX, func`
    // callbacks become handles whose targets compile as functions.
    let vm = ebee_runtime::Vm::new(insns.to_vec())?;
    compiler::compile_to_bytes(
        (vm.insns(), &translate::InlineArrays::new()),
        vm.function_refs(),
        translate::TranslateMode {
            checked: options.checked,
            optimize: true,
            blind,
            tail_target: false,
        },
        &*isa,
    )
}

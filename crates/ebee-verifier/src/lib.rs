//! Static safety proof of eBPF programs, with diagnostics people can act on.
//!
//! The verifier follows the Linux verifier's model for privileged programs:
//! it explores every path through the program with an abstract state per
//! register and stack slot (numbers as known bits plus signed and unsigned
//! ranges, pointers as a region plus an offset), checks every memory access
//! against the region it may touch, every helper call against the helper's
//! prototype and every exit against the program type, and proves that loops
//! terminate by exploring them until their states repeat or are covered.
//!
//! # What is checked
//!
//! - Structure ([`cfg`](mod@cfg)): jump targets inside the program and not into
//!   `lddw`, functions found from local calls and function addresses, no jump
//!   leaving its function, each function ending in `exit` or `goto`, no
//!   unreachable instruction.
//! - Registers: no read before write, r10 read-only, r1-r5 unreadable after a
//!   call, r6-r9 preserved across local calls, r0 written before `exit`.
//! - Arithmetic: division/modulo by an immediate 0 and immediate shifts
//!   beyond the width rejected; pointer arithmetic only where Linux allows it
//!   (64-bit add/sub of a bounded number; no arithmetic on NULL-able
//!   pointers, the packet end, maps or function addresses; no subtraction
//!   from the frame pointer); offsets limited to ±2^29.
//! - Memory: stack accesses inside the 512-byte frame and naturally aligned,
//!   spills of pointers only whole, uninitialized stack reads only when
//!   [`Options::allow_uninit_stack`]; map values within `value_size`
//!   (writes not to read-only maps, never to a spin lock); packet accesses
//!   only inside the range proven by a comparison with the packet end (or
//!   the data start, for metadata); helper memory within its size; context
//!   fields per program type; atomics aligned and only on stack, map values
//!   and helper memory.
//! - Branches: both sides refined at 32 and 64 bits for every condition,
//!   dead sides not explored, NULL checks applied to every copy of a pointer,
//!   number copies narrowed together.
//! - Helpers ([`helpers`]): availability per program type, argument types
//!   (maps and map types, keys and values of the map's sizes, initialized
//!   input buffers, bounded sizes, constant allocation sizes, context,
//!   callbacks), return types (NULL-able map values, ring buffer memory
//!   holding a reference), packet pointers invalidated by helpers that move
//!   the packet, references released on every path, spin locks.
//! - Calls: at most 8 frames, combined stack of a call chain at most 512
//!   bytes, functions return numbers, callbacks return 0 or 1.
//! - Termination: loops are explored until their states repeat (rejected as
//!   infinite) or are covered by verified states; at most 1,000,000
//!   instructions processed and 8192 pending branches, as in Linux.
//! - Pruning ([`precision`]): a remembered state covers a new one when every
//!   register and stack slot the rest of the program reads covers the new
//!   one's; numbers count only by kind unless a later check relied on their
//!   value (precision tracking, as in Linux), and finished states that keep
//!   failing to cover are forgotten.
//!
//! # Not yet
//!
//! BTF-typed pointers and kfuncs, global (BTF-described) functions verified
//! on their own, dynptrs, iterators, timers, kptrs, `may_goto` loop budgets
//! beyond plain exploration, per-program-type return ranges beyond
//! cgroup_skb, cgroup_sock and sock_ops, and program types other than socket filter, kprobe, tc, XDP,
//! cgroup_skb, cgroup_sock (socket creation), tracepoint, perf_event,
//! sock_ops, raw_tracepoint and the userspace ones; reading `struct
//! bpf_map` fields through a map pointer.
//!
//! The layout follows PREVAIL: [`cfg`](mod@cfg) (structure), [`tnum`] and [`scalar`]
//! (the numeric domain), [`reg_state`], [`stack`] and [`state`] (the machine
//! state), [`semantics`] (what each instruction does), [`explore`] (paths,
//! pruning, loops), [`precision`] (which numbers pruning must compare), [`helpers`] and [`context`] (what the kernel offers each
//! program type) and [`diagnostic`] (verdicts).
//!
//! ```
//! use ebee_isa::{AluOp, Insn, Operand, Reg, Width};
//! use ebee_verifier::{verify, Maps, Options, Program, ProgramType};
//!
//! let insns = [
//!     Insn::Alu { width: Width::W64, op: AluOp::Mov, dst: Reg::R0, src: Operand::Imm(0) },
//!     Insn::Exit,
//! ];
//! let pt = ProgramType::socket_filter();
//! let maps = Maps::new();
//! let v = verify(&Program::new(&insns, &pt, &maps), &Options::default());
//! assert!(v.verdict.is_accepted());
//! ```

#![warn(missing_docs)]

pub mod cfg;
pub mod context;
pub mod diagnostic;
pub mod explore;
pub mod from_object;
pub mod helpers;
pub mod liveness;
pub mod maps;
pub mod precision;
pub mod reg_state;
pub mod scalar;
pub mod semantics;
pub mod stack;
pub mod state;
pub mod tnum;

use ebee_isa::Insn;

pub use context::{Access, ContextKind, ContextLayout, CtxField, FieldKind, ProgramType};
pub use diagnostic::{BranchStep, Rejection, SourceLine, Stats, Verdict};
pub use from_object::{FromObjectError, ObjectProgram};
pub use helpers::HelperGroups;
pub use maps::{MapInfo, MapRef, Maps};

/// Verifier settings.
#[derive(Debug, Clone)]
pub struct Options {
    /// Instructions processed over all paths before giving up (Linux: 1,000,000).
    pub max_insns: u64,
    /// Allow reading stack bytes never written (they read as unknown
    /// numbers). Linux allows it for privileged programs; turn it off when
    /// the runtime does not clear the stack between runs.
    pub allow_uninit_stack: bool,
    /// Produce a kernel-style log of the state before every instruction.
    pub log: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            max_insns: 1_000_000,
            allow_uninit_stack: true,
            log: false,
        }
    }
}

/// What is verified: instructions, program type, maps, optional line info.
#[derive(Debug, Clone, Copy)]
pub struct Program<'a> {
    /// The decoded program, one entry per slot (index == pc).
    pub insns: &'a [Insn],
    /// Its program type.
    pub prog_type: &'a ProgramType,
    /// The maps its `lddw` instructions may name.
    pub maps: &'a Maps,
    /// Source lines by pc, ascending; a line applies from its pc to the next entry's.
    pub lines: Option<&'a [(usize, SourceLine)]>,
}

impl<'a> Program<'a> {
    /// A program without line info.
    pub fn new(insns: &'a [Insn], prog_type: &'a ProgramType, maps: &'a Maps) -> Self {
        Program {
            insns,
            prog_type,
            maps,
            lines: None,
        }
    }
}

/// The verdict and, if requested, the log.
#[derive(Debug, Clone)]
pub struct Verification {
    /// Accepted with statistics, or rejected with a reason.
    pub verdict: Verdict,
    /// What the exploration measured (also when the program is rejected).
    pub stats: Stats,
    /// Kernel-style log (empty unless [`Options::log`]).
    pub log: String,
}

/// Prove `program` safe, or say why it cannot be.
pub fn verify(program: &Program, opts: &Options) -> Verification {
    let cfg = match cfg::Cfg::build(program.insns) {
        Ok(c) => c,
        Err(e) => {
            return Verification {
                verdict: Verdict::Rejected(Rejection {
                    pc: e.pc,
                    insn: program
                        .insns
                        .get(e.pc)
                        .map(diagnostic::insn_text)
                        .unwrap_or_default(),
                    message: e.message,
                    registers: vec![],
                    trail: vec![],
                    source: None,
                }),
                log: String::new(),
                stats: Stats::default(),
            }
        }
    };
    let mut env = semantics::Env {
        insns: program.insns,
        cfg: &cfg,
        prog: program.prog_type,
        maps: program.maps,
        map_table: vec![],
        opts,
        next_id: 0,
        stack_depth: vec![0; cfg.subprogs.len()],
        live: liveness::live_in(program.insns, &cfg),
    };
    let mut out = explore::explore(&mut env, program.lines);
    if opts.log {
        use std::fmt::Write as _;
        let s = &out.stats;
        let _ = writeln!(
            out.log,
            "processed {} insns (limit {}) total_states {} peak_states {} pruned {}",
            s.insns_processed, opts.max_insns, s.states_stored, s.peak_states, s.pruned
        );
    }
    Verification {
        stats: out.stats,
        verdict: match out.rejection {
            Some(r) => Verdict::Rejected(r),
            None => Verdict::Accepted(out.stats),
        },
        log: out.log,
    }
}

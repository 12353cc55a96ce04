//! Path exploration: run the abstract semantics depth-first from the entry,
//! following both sides of every undecided branch, remembering states at
//! prune points so that a later path covered by a verified state stops
//! early, and recognising loops that make no progress.
//!
//! Bookkeeping follows the kernel's design: every remembered state counts
//! the paths still running below it; only finished states (count 0) may
//! prune, and reaching a state equal to an unfinished ancestor at the same
//! pc means the loop cannot be shown to terminate. Each remembered state
//! also records which of its numbers later checks relied on
//! ([`crate::precision`]); only those must cover the new state's.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::time::Instant;

use ebee_isa::{CallTarget, Insn};

use crate::diagnostic::{insn_text, BranchStep, Rejection, SourceLine, Stats};
use crate::precision::{backtrack, demands, mark, record, Demand, FrameMask, Hist, Precision};
use crate::semantics::{step, Env, Fault, Step};
use crate::state::State;

const TRAIL_LEN: usize = 24;
/// Branches waiting to be explored before the program counts as too
/// complex (Linux's BPF_COMPLEXITY_LIMIT_JMP_SEQ).
const MAX_PENDING: usize = 8192;
/// States remembered per pc; beyond this, paths are still checked against
/// the remembered ones but no more are added (bounds the cost of pruning
/// in long loops; non-terminating loops then hit the instruction limit).
const MAX_STATES_PER_PC: usize = 1024;
/// A finished state missing more than this many times per hit (plus as
/// many) is forgotten.
const EVICT_RATIO: u32 = 3;
/// History entries (24 bytes each) recorded or copied over one
/// verification before precision tracking gives way to comparing every
/// number: bounds its memory (about 100 MB).
const HIST_BUDGET: usize = 4 << 20;
const LOG_LIMIT: usize = 16 << 20;

struct Path {
    state: State,
    pc: usize,
    anc: Option<usize>,
    trail: Vec<BranchStep>,
    /// Instructions run since `anc` was remembered.
    hist: Vec<Hist>,
}

struct Stored {
    state: State,
    fingerprint: u64,
    branches: u32,
    parent: Option<usize>,
    /// Instructions run from the parent to this state.
    hist: Vec<Hist>,
    /// Its numbers later decisions relied on.
    prec: Precision,
    /// States it covered.
    hits: u32,
    /// States compared with it that it did not cover.
    misses: u32,
}

/// A finished state compared often and rarely covering.
fn useless(s: &Stored) -> bool {
    s.misses > s.hits * EVICT_RATIO + EVICT_RATIO
}

/// Precision tracking stops (its history grew past [`HIST_BUDGET`]):
/// every state compares all numbers from now on, and the histories go.
fn precision_off(stored: &mut [Stored], waiting: &mut [Path], cur: &mut Path) {
    for s in stored.iter_mut() {
        s.prec.all = true;
        s.hist = Vec::new();
    }
    for p in waiting.iter_mut() {
        p.hist = Vec::new();
    }
    cur.hist = Vec::new();
}

/// Every number of `cur` and its ancestors becomes precise.
fn give_up(stored: &mut [Stored], mut cur: Option<usize>) {
    while let Some(i) = cur {
        if stored[i].prec.all {
            break;
        }
        stored[i].prec.all = true;
        cur = stored[i].parent;
    }
}

/// Make `set` (needed after `hist`, the path's instructions since `anc`)
/// precise in the remembered states it comes from.
fn demand(env: &Env, stored: &mut [Stored], hist: &[Hist], anc: Option<usize>, mut set: Demand) {
    for h in hist.iter().rev() {
        if backtrack(env.insns, h, &mut set).is_err() {
            give_up(stored, anc);
            return;
        }
    }
    let mut cur = anc;
    while let Some(i) = cur {
        if set.iter().all(|m| m.regs == 0 && m.slots == 0) {
            return;
        }
        let Stored { state, prec, .. } = &mut stored[i];
        if !mark(state, prec, &mut set) {
            return;
        }
        for k in (0..stored[i].hist.len()).rev() {
            let h = stored[i].hist[k];
            if backtrack(env.insns, &h, &mut set).is_err() {
                give_up(stored, stored[i].parent);
                return;
            }
        }
        cur = stored[i].parent;
    }
}

/// The explorer's result.
pub struct Outcome {
    /// Statistics, also on rejection.
    pub stats: Stats,
    /// The rejection, if any.
    pub rejection: Option<Rejection>,
    /// The kernel-style log, if requested.
    pub log: String,
}

fn finish(stored: &mut [Stored], mut cur: Option<usize>) {
    while let Some(i) = cur {
        stored[i].branches -= 1;
        if stored[i].branches > 0 {
            break;
        }
        cur = stored[i].parent;
    }
}

fn log_state(log: &mut String, st: &State) {
    for (fi, f) in st.frames.iter().enumerate() {
        if st.frames.len() > 1 {
            let _ = write!(log, " frame{fi}:");
        }
        for (i, r) in f.regs.iter().enumerate() {
            if r.is_init() {
                let _ = write!(log, " R{i}={r}");
            }
        }
        for (i, s) in f.stack.slots().iter().enumerate() {
            if let Some(sp) = &s.spill {
                let _ = write!(log, " fp-{}={sp}", (i + 1) * 8);
            }
        }
    }
    for r in &st.refs {
        let _ = write!(log, " refs={}", r.id);
    }
    log.push('\n');
}

/// Explore every path of the program.
pub fn explore(env: &mut Env, lines: Option<&[(usize, SourceLine)]>) -> Outcome {
    let start = Instant::now();
    let mut stats = Stats::default();
    let mut log = String::new();
    let mut stored: Vec<Stored> = vec![];
    // History entries precision tracking may still record (appended or
    // copied to a waiting path); past it, every state compares all numbers.
    let mut hist_budget = HIST_BUDGET;
    let mut precision_on = true;
    let mut at_pc: HashMap<usize, Vec<usize>> = HashMap::new();
    let initial = env.initial_state();
    let mut stack = vec![Path {
        state: initial,
        pc: 0,
        anc: None,
        trail: vec![],
        hist: vec![],
    }];
    let uninit_ok = env.opts.allow_uninit_stack;
    let reject = |pc: usize, f: Fault, st: &State, trail: &[BranchStep], env: &Env| -> Rejection {
        let registers = f
            .regs
            .iter()
            .map(|r| (format!("r{r}"), st.reg(*r).describe()))
            .collect();
        let source = lines.and_then(|l| {
            let i = l.partition_point(|(p, _)| *p <= pc);
            (i > 0).then(|| l[i - 1].1.clone())
        });
        Rejection {
            pc,
            insn: env.insns.get(pc).map(insn_text).unwrap_or_default(),
            message: f.message,
            registers,
            trail: trail.to_vec(),
            source,
        }
    };
    'paths: while let Some(mut path) = stack.pop() {
        if env.opts.log && log.len() < LOG_LIMIT {
            match path.trail.last() {
                Some(b) => {
                    let _ = write!(log, "from {} to {}:", b.pc, path.pc);
                }
                None => {
                    let _ = write!(log, "{}:", path.pc);
                }
            }
            log_state(&mut log, &path.state);
        }
        loop {
            let pc = path.pc;
            stats.insns_processed += 1;
            if stats.insns_processed > env.opts.max_insns {
                let f = Fault {
                    message: format!(
                        "the program is too complex: more than {} instructions processed without finishing every path",
                        env.opts.max_insns
                    ),
                    regs: vec![],
                };
                let r = reject(pc, f, &path.state, &path.trail, env);
                stats.time_us = start.elapsed().as_micros() as u64;
                return Outcome {
                    stats,
                    rejection: Some(r),
                    log,
                };
            }
            if env.cfg.prune_point[pc] {
                // Loops whose termination the runtime guarantees (may_goto's
                // budget, a helper calling back a bounded number of times)
                // may prune against their own unfinished earlier states.
                let may_goto = match env.insns[pc] {
                    Insn::MayGoto { .. } => true,
                    Insn::Call(CallTarget::Helper(id)) => {
                        crate::helpers::helper(id).is_some_and(|h| h.callback.is_some())
                    }
                    _ => false,
                };
                let mut pruned = None;
                // Ids do not enter the fingerprint, so the state need not be
                // normalized to compute it.
                let live = live_masks(env, &path.state, pc);
                let fingerprint = path.state.fingerprint(&live);
                let mut evict = false;
                if let Some(ids) = at_pc.get(&pc) {
                    for &sid in ids.iter().rev() {
                        let s = &mut stored[sid];
                        if s.branches == 0 || may_goto {
                            // An unfinished state's precision is not known
                            // yet: compare every number.
                            let prec = (s.branches == 0).then_some(&s.prec);
                            if s.state.subsumes_with(&path.state, false, uninit_ok, prec) {
                                s.hits += 1;
                                pruned = Some(sid);
                                break;
                            }
                            s.misses += 1;
                            evict |= s.branches == 0 && useless(s);
                        } else if s.fingerprint == fingerprint
                            && same_callback_rounds(&s.state, &path.state)
                            && {
                                let mut snap = path.state.clone();
                                snap.clean_dead(&live);
                                snap.clear_singular_scalar_ids();
                                s.state.subsumes(&snap, true, uninit_ok)
                            }
                        {
                            let f = Fault {
                                message: "infinite loop detected: this state repeats without progress, so the loop cannot be shown to terminate".into(),
                                regs: vec![],
                            };
                            let r = reject(pc, f, &path.state, &path.trail, env);
                            stats.time_us = start.elapsed().as_micros() as u64;
                            return Outcome {
                                stats,
                                rejection: Some(r),
                                log,
                            };
                        }
                    }
                }
                if evict {
                    // Finished states that keep failing to cover new ones
                    // only cost time (Linux frees them the same way).
                    if let Some(ids) = at_pc.get_mut(&pc) {
                        ids.retain(|&sid| {
                            let s = &stored[sid];
                            !(s.branches == 0 && useless(s)) || Some(sid) == pruned
                        });
                    }
                }
                if let Some(sid) = pruned {
                    // What the covering state's paths relied on, this
                    // path's history must provide too.
                    if stored[sid].branches > 0 || stored[sid].prec.all {
                        give_up(&mut stored, path.anc);
                    } else {
                        let set = stored[sid].prec.frames.clone();
                        if precision_on {
                            demand(env, &mut stored, &path.hist, path.anc, set);
                        }
                    }
                    stats.pruned += 1;
                    if env.opts.log && log.len() < LOG_LIMIT {
                        let _ = writeln!(log, "{pc}: safe");
                    }
                    finish(&mut stored, path.anc);
                    continue 'paths;
                }
                let full = at_pc.get(&pc).is_some_and(|v| v.len() >= MAX_STATES_PER_PC);
                if !full {
                    if may_goto {
                        // Re-entering a runtime-bounded loop: widen what
                        // changed since the last visit so iterations converge.
                        let prev = at_pc
                            .get(&pc)
                            .and_then(|v| v.iter().rev().find(|&&sid| stored[sid].branches > 0))
                            .map(|&sid| stored[sid].state.clone());
                        if let Some(prev) = prev {
                            path.state.widen_from(&prev);
                        }
                    }
                    let mut snap = path.state.clone();
                    snap.clean_dead(&live);
                    snap.clear_singular_scalar_ids();
                    stored.push(Stored {
                        state: snap,
                        fingerprint,
                        branches: 1,
                        parent: path.anc,
                        hist: std::mem::take(&mut path.hist),
                        prec: Precision {
                            all: !precision_on,
                            ..Precision::default()
                        },
                        hits: 0,
                        misses: 0,
                    });
                    let id = stored.len() - 1;
                    at_pc.entry(pc).or_default().push(id);
                    path.anc = Some(id);
                    stats.states_stored += 1;
                    stats.peak_states = stats
                        .peak_states
                        .max(stored.len() as u64 + stack.len() as u64);
                }
            }
            if env.opts.log && log.len() < LOG_LIMIT {
                let _ = write!(log, "{pc}: {} ;", insn_text(&env.insns[pc]));
                log_state(&mut log, &path.state);
            }
            let (now, if_decided) = demands(env, &path.state, pc);
            if path.anc.is_some() && precision_on {
                if let Some(set) = now {
                    demand(env, &mut stored, &path.hist, path.anc, set);
                }
            }
            let depth = path.state.frames.len();
            if precision_on {
                if hist_budget == 0 {
                    precision_on = false;
                    precision_off(&mut stored, &mut stack, &mut path);
                } else {
                    hist_budget -= 1;
                    path.hist.push(record(env.insns, &path.state, pc));
                }
            }
            match step(env, &mut path.state, pc) {
                Err(f) => {
                    let r = reject(pc, f, &path.state, &path.trail, env);
                    stats.time_us = start.elapsed().as_micros() as u64;
                    return Outcome {
                        stats,
                        rejection: Some(r),
                        log,
                    };
                }
                Ok(Step::Next(n)) => path.pc = n,
                Ok(Step::Exit) => {
                    finish(&mut stored, path.anc);
                    continue 'paths;
                }
                Ok(Step::Branch(mut succs)) => {
                    if succs.len() < 2 && if_decided != 0 && path.anc.is_some() && precision_on {
                        // Only one side was possible: the operands decided it.
                        let mut set = vec![FrameMask::default(); depth];
                        set[depth - 1].regs = if_decided;
                        demand(env, &mut stored, &path.hist, path.anc, set);
                    }
                    let decided = succs.len() > 1;
                    // Continue with the fall-through side; the other waits.
                    succs.sort_by_key(|(_, _, taken)| !*taken);
                    let Some((npc, nstate, ntaken)) = succs.pop() else {
                        finish(&mut stored, path.anc);
                        continue 'paths;
                    };
                    for (opc, ostate, otaken) in succs {
                        let mut trail = path.trail.clone();
                        if decided {
                            trail.push(BranchStep { pc, taken: otaken });
                            if trail.len() > TRAIL_LEN {
                                trail.remove(0);
                            }
                        }
                        if stack.len() >= MAX_PENDING {
                            let f = Fault {
                                message: format!("the program is too complex: more than {MAX_PENDING} branches wait to be explored"),
                                regs: vec![],
                            };
                            let r = reject(pc, f, &path.state, &path.trail, env);
                            stats.time_us = start.elapsed().as_micros() as u64;
                            return Outcome {
                                stats,
                                rejection: Some(r),
                                log,
                            };
                        }
                        if let Some(a) = path.anc {
                            stored[a].branches += 1;
                        }
                        let hist = if precision_on && path.hist.len() <= hist_budget {
                            hist_budget -= path.hist.len();
                            path.hist.clone()
                        } else {
                            if precision_on {
                                precision_on = false;
                                precision_off(&mut stored, &mut stack, &mut path);
                            }
                            vec![]
                        };
                        stack.push(Path {
                            state: ostate,
                            pc: opc,
                            anc: path.anc,
                            trail,
                            hist,
                        });
                    }
                    if decided {
                        path.trail.push(BranchStep { pc, taken: ntaken });
                        if path.trail.len() > TRAIL_LEN {
                            path.trail.remove(0);
                        }
                    }
                    path.pc = npc;
                    path.state = nstate;
                    stats.peak_states = stats
                        .peak_states
                        .max(stored.len() as u64 + stack.len() as u64);
                }
            }
        }
    }
    // Combined stack of the deepest call chain.
    let depth = combined_stack(env);
    stats.stack_depth = depth.0;
    stats.time_us = start.elapsed().as_micros() as u64;
    let rejection = depth.1.map(|(pc, msg)| Rejection {
        pc,
        insn: insn_text(&env.insns[pc]),
        message: msg,
        registers: vec![],
        trail: vec![],
        source: None,
    });
    Outcome {
        stats,
        rejection,
        log,
    }
}

/// Whether the two states are in the same round of every callback they
/// run: a state repeating in a later round (the helper calling the callback
/// again) is no infinite loop, as Linux compares `callback_unroll_depth`.
fn same_callback_rounds(a: &State, b: &State) -> bool {
    a.frames
        .iter()
        .map(|f| f.callback_rounds)
        .eq(b.frames.iter().map(|f| f.callback_rounds))
}

/// The live registers of each frame of `st` at `pc`: the running frame's
/// from the liveness analysis, a caller's those its code reads after the
/// call returns (callee-saved r6-r9), or, for a helper that may call its
/// callback again, also the call's arguments.
fn live_masks(env: &Env, st: &State, pc: usize) -> Vec<u16> {
    let n = st.frames.len();
    let mut out = vec![0u16; n];
    out[n - 1] = env.live[pc];
    for (slot, callee) in out.iter_mut().zip(&st.frames[1..]) {
        let site = callee.callsite.unwrap_or(0);
        let after = env.live.get(site + 1).copied().unwrap_or(0) & 0b11_1100_0000;
        *slot = after
            | (1 << 10)
            | if callee.is_callback {
                env.live[site]
            } else {
                0
            };
    }
    out
}

/// The largest total stack of a chain of calls (each frame rounded up to
/// 16 bytes, as the kernel counts for JIT-compiled programs), and a rejection if it exceeds 512.
fn combined_stack(env: &Env) -> (u64, Option<(usize, String)>) {
    let subs = &env.cfg.subprogs;
    let n = subs.len();
    let round = |d: i64| -> u64 { (d.max(1) as u64).div_ceil(16) * 16 };
    // Memoised depth-first over the call graph (recursion was already
    // rejected by the call-depth limit during exploration).
    fn go(
        i: usize,
        env: &Env,
        memo: &mut Vec<Option<u64>>,
        round: &dyn Fn(i64) -> u64,
        guard: usize,
    ) -> u64 {
        if let Some(v) = memo[i] {
            return v;
        }
        let subs = &env.cfg.subprogs;
        let start = subs[i];
        let end = subs.get(i + 1).copied().unwrap_or(env.insns.len());
        let mut best = 0;
        if guard < 16 {
            for pc in start..end {
                if let Insn::Call(CallTarget::Local(_)) = env.insns[pc] {
                    let t = env.insns[pc].branch_target(pc).unwrap_or(0) as usize;
                    let j = env.cfg.func_of(t);
                    best = best.max(go(j, env, memo, round, guard + 1));
                }
            }
        }
        let v = round(env.stack_depth[i]) + best;
        memo[i] = Some(v);
        v
    }
    let mut memo = vec![None; n];
    let total = go(0, env, &mut memo, &round, 0);
    let used = if n == 1 {
        env.stack_depth[0] as u64
    } else {
        total
    };
    if n > 1 && total > 512 {
        return (
            total,
            Some((0, format!("the combined stack of the deepest chain of calls is {total} bytes, more than 512"))),
        );
    }
    (used, None)
}

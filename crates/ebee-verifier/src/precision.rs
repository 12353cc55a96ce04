//! Precision tracking: which numbers a path's decisions depended on.
//!
//! A number is *precise* in a remembered state when something after it
//! relied on its exact range: a branch only one side of which was possible,
//! pointer arithmetic, a helper argument, a checked return value, a
//! constant map key. Everything else only flowed from number to number, so
//! a later state whose imprecise numbers differ is covered all the same:
//! pruning then compares precise numbers by range and imprecise ones only
//! by kind. This is the Linux verifier's idea (mark_chain_precision), built
//! on our own exploration.
//!
//! Each path keeps the instructions it ran since its last remembered state
//! ([`Hist`]); a demand walks them backwards ([`backtrack`]), turning "r3
//! must be precise here" into the registers and stack slots it came from,
//! marks those in the remembered state, and continues through that state's
//! own history to its parent, until nothing new is marked. Anything the walk
//! cannot follow (a variable-offset stack read, an atomic on the stack)
//! makes every number of every state on the chain precise, which is what
//! the verifier did before precision existed.

use ebee_isa::{AluOp, CallTarget, Insn, Operand};

use crate::helpers::Arg;
use crate::reg_state::{PtrKind, RegState};
use crate::semantics::Env;
use crate::state::State;

/// Registers and stack slots of one frame (bit `n` of `regs` is `rn`, bit
/// `i` of `slots` the 8 bytes at `-8(i+1)..-8i`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FrameMask {
    /// Registers.
    pub regs: u16,
    /// Stack slots.
    pub slots: u64,
}

impl FrameMask {
    fn is_empty(&self) -> bool {
        self.regs == 0 && self.slots == 0
    }
}

/// The precise numbers of a remembered state.
#[derive(Debug, Clone, Default)]
pub struct Precision {
    /// Per frame (index = frame number).
    pub frames: Vec<FrameMask>,
    /// Every number is precise (the walk could not follow a dependency).
    pub all: bool,
}

impl Precision {
    /// Whether register `r` of frame `f` is precise.
    pub fn reg(&self, f: usize, r: usize) -> bool {
        self.all || self.frames.get(f).is_some_and(|m| m.regs & (1 << r) != 0)
    }

    /// Whether stack slot `i` of frame `f` is precise.
    pub fn slot(&self, f: usize, i: usize) -> bool {
        self.all || (i < 64 && self.frames.get(f).is_some_and(|m| m.slots & (1 << i) != 0))
    }
}

/// What an executed instruction touched that its opcode alone does not say.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Aux {
    /// Nothing more.
    None,
    /// A stack access at a known offset: frame, slots `lo..=hi`, and
    /// whether it covered exactly one whole slot.
    Stack {
        /// Frame number of the stack accessed.
        frame: u8,
        /// Lowest slot index.
        lo: u8,
        /// Highest slot index.
        hi: u8,
        /// An 8-byte access of one whole slot.
        full: bool,
    },
    /// A stack access at a variable offset.
    StackVar,
    /// An atomic operation on the stack.
    StackAtomic,
    /// A comparison of numbers linked to others by id (the branch narrows
    /// the copies too): the running frame's registers and slots holding a
    /// copy, and whether another frame holds one.
    Linked {
        /// Registers holding a copy.
        regs: u16,
        /// Stack slots holding a copy.
        slots: u64,
        /// Another frame holds a copy.
        elsewhere: bool,
    },
    /// The exit of a function called by a helper (its result does not flow
    /// to the caller).
    CallbackExit,
}

/// One instruction a path executed.
#[derive(Debug, Clone, Copy)]
pub struct Hist {
    /// Its pc.
    pub pc: u32,
    /// Frames on the call stack when it ran.
    pub depth: u8,
    /// What it touched.
    pub aux: Aux,
}

/// The walk hit a dependency it cannot follow.
#[derive(Debug)]
pub struct GiveUp;

/// A set of registers and slots per frame, being walked backwards.
pub type Demand = Vec<FrameMask>;

fn stack_slots(st: &State, base: &RegState, off: i64, size: i64) -> Aux {
    let RegState::Ptr(p) = base else {
        return Aux::None;
    };
    let PtrKind::Stack { frame } = p.kind else {
        return Aux::None;
    };
    if (frame as usize) >= st.frames.len() {
        return Aux::None;
    }
    match p.const_offset() {
        Some(o) => {
            let lo_b = o + off;
            let hi_b = lo_b + size - 1;
            if lo_b < -512 || hi_b >= 0 {
                return Aux::None;
            }
            let idx = |b: i64| ((-b - 1) / 8) as u8;
            Aux::Stack {
                frame,
                lo: idx(hi_b),
                hi: idx(lo_b),
                full: size == 8 && lo_b % 8 == 0,
            }
        }
        None => Aux::StackVar,
    }
}

/// The history entry for the instruction at `pc`, from the state before it.
pub fn record(insns: &[Insn], st: &State, pc: usize) -> Hist {
    let aux = match insns[pc] {
        Insn::Load { size, src, off, .. } => {
            stack_slots(st, st.reg(src.index()), off as i64, size.bytes() as i64)
        }
        Insn::Store { size, dst, off, .. } => {
            stack_slots(st, st.reg(dst.index()), off as i64, size.bytes() as i64)
        }
        Insn::Atomic { dst, .. } => match st.reg(dst.index()) {
            RegState::Ptr(p) if matches!(p.kind, PtrKind::Stack { .. }) => Aux::StackAtomic,
            _ => Aux::None,
        },
        Insn::Jump { dst, src, .. } => {
            let id_of = |r: &RegState| match r {
                RegState::Scalar { id, .. } if *id != 0 => Some(*id),
                _ => None,
            };
            let ids: Vec<u32> = std::iter::once(dst.index())
                .chain(match src {
                    Operand::Reg(r) => Some(r.index()),
                    Operand::Imm(_) => None,
                })
                .filter_map(|r| id_of(st.reg(r)))
                .collect();
            if ids.is_empty() {
                Aux::None
            } else {
                let linked = |r: &RegState| id_of(r).is_some_and(|i| ids.contains(&i));
                let n = st.frames.len();
                let (mut regs, mut slots, mut elsewhere) = (0u16, 0u64, false);
                for (fi, fr) in st.frames.iter().enumerate() {
                    for (r, reg) in fr.regs.iter().enumerate() {
                        if linked(reg) {
                            if fi == n - 1 {
                                regs |= 1 << r;
                            } else {
                                elsewhere = true;
                            }
                        }
                    }
                    for (i, sl) in fr.stack.slots().iter().enumerate() {
                        if sl.spill.as_ref().is_some_and(linked) {
                            if fi == n - 1 && i < 64 {
                                slots |= 1 << i;
                            } else {
                                elsewhere = true;
                            }
                        }
                    }
                }
                Aux::Linked {
                    regs,
                    slots,
                    elsewhere,
                }
            }
        }
        Insn::Exit if st.frames.len() > 1 && st.cur().is_callback => Aux::CallbackExit,
        _ => Aux::None,
    };
    Hist {
        pc: pc as u32,
        depth: st.frames.len() as u8,
        aux,
    }
}

/// What the instruction at `pc` needs precise before it runs, as a demand
/// on the state `st`; and the registers it needs precise if it turns out to
/// be a branch only one side of which is possible.
pub fn demands(env: &Env, st: &State, pc: usize) -> (Option<Demand>, u16) {
    let insns = env.insns;
    let return_checked = env.prog.return_range.is_some();
    let f = st.frames.len() - 1;
    let mut d: Demand = vec![FrameMask::default(); st.frames.len()];
    let scalar = |r: u8| matches!(st.reg(r), RegState::Scalar { .. });
    let ptr = |r: u8| matches!(st.reg(r), RegState::Ptr(_));
    let mut if_decided = 0u16;
    match insns[pc] {
        Insn::Alu { op, dst, src, .. }
            if !matches!(
                op,
                AluOp::Mov | AluOp::MovSx8 | AluOp::MovSx16 | AluOp::MovSx32
            ) =>
        {
            let dr = dst.index();
            let sr = match src {
                Operand::Reg(r) => Some(r.index()),
                Operand::Imm(_) => None,
            };
            if ptr(dr) || sr.is_some_and(ptr) {
                for r in std::iter::once(dr).chain(sr) {
                    if scalar(r) {
                        d[f].regs |= 1 << r;
                    }
                }
            }
        }
        Insn::Jump { dst, src, .. } => {
            let dr = dst.index();
            let sr = match src {
                Operand::Reg(r) => Some(r.index()),
                Operand::Imm(_) => None,
            };
            let any_ptr = ptr(dr) || sr.is_some_and(ptr);
            for r in std::iter::once(dr).chain(sr) {
                if scalar(r) {
                    if any_ptr {
                        // A number compared with a pointer: whether it is
                        // zero decides a NULL check.
                        d[f].regs |= 1 << r;
                    } else {
                        if_decided |= 1 << r;
                    }
                }
            }
        }
        Insn::Call(CallTarget::Helper(id)) => {
            let proto = crate::helpers::helper(id);
            // A callback receives some arguments as its own: their values
            // flow where the walk does not follow.
            let all = proto.is_none_or(|h| h.callback.is_some());
            let mut key_size = 8i64;
            for r in 1..=5u8 {
                let arg = proto.and_then(|h| h.args.get(r as usize - 1).copied());
                if proto.is_some() && arg.is_none() {
                    break;
                }
                match st.reg(r) {
                    // The checks of every argument kind but `Anything`
                    // look at the number (a size, NULL or not).
                    RegState::Scalar { .. } if all || arg != Some(Arg::Anything) => {
                        d[f].regs |= 1 << r
                    }
                    RegState::Ptr(p) if arg == Some(Arg::Map) => {
                        if let PtrKind::Map { map, .. } = p.kind {
                            if (map as usize) < env.map_table.len() {
                                key_size = env.map(map).key_size as i64;
                            }
                        }
                    }
                    // A constant key on the stack can decide the result.
                    RegState::Ptr(p) if arg == Some(Arg::MapKey) => {
                        if let (PtrKind::Stack { frame }, Some(o)) = (p.kind, p.const_offset()) {
                            if (frame as usize) < d.len() {
                                for b in o.max(-512)..(o + key_size.max(1)).min(0) {
                                    d[frame as usize].slots |= 1 << ((-b - 1) / 8);
                                }
                            }
                        }
                    }
                    _ => {}
                }
            }
        }
        Insn::Exit => {
            let checked = if st.frames.len() > 1 {
                st.cur().is_callback
            } else {
                return_checked
            };
            if checked && scalar(0) {
                d[f].regs |= 1;
            }
        }
        _ => {}
    }
    let any = d.iter().any(|m| !m.is_empty());
    (any.then_some(d), if_decided)
}

fn ensure(set: &mut Demand, n: usize) {
    if set.len() < n {
        set.resize(n, FrameMask::default());
    }
}

/// Walk one executed instruction backwards: replace what `set` needs after
/// it by what it needs before it.
pub fn backtrack(insns: &[Insn], h: &Hist, set: &mut Demand) -> Result<(), GiveUp> {
    let depth = h.depth.max(1) as usize;
    let f = depth - 1;
    ensure(set, depth);
    let has = |set: &Demand, r: u8| set[f].regs & (1 << r) != 0;
    let Some(insn) = insns.get(h.pc as usize) else {
        return Err(GiveUp);
    };
    match *insn {
        Insn::Alu { op, dst, src, .. } => {
            let d = dst.index();
            let mov = matches!(
                op,
                AluOp::Mov | AluOp::MovSx8 | AluOp::MovSx16 | AluOp::MovSx32
            );
            if has(set, d) {
                if mov {
                    set[f].regs &= !(1 << d);
                }
                if let Operand::Reg(s) = src {
                    set[f].regs |= 1 << s.index();
                }
            }
        }
        Insn::Neg { .. } | Insn::Endian { .. } | Insn::LdImm64Tail => {}
        Insn::LdImm64 { dst, .. } => set[f].regs &= !(1 << dst.index()),
        Insn::Load { dst, .. } => {
            let d = dst.index();
            if has(set, d) {
                set[f].regs &= !(1 << d);
                match h.aux {
                    Aux::Stack { frame, lo, hi, .. } => {
                        ensure(set, frame as usize + 1);
                        for i in lo..=hi.min(63) {
                            set[frame as usize].slots |= 1 << i;
                        }
                    }
                    Aux::StackVar => return Err(GiveUp),
                    _ => {}
                }
            }
        }
        Insn::Store { src, .. } => {
            if let Aux::Stack {
                frame,
                lo,
                hi,
                full,
            } = h.aux
            {
                ensure(set, frame as usize + 1);
                let mut mask = 0u64;
                for i in lo..=hi.min(63) {
                    mask |= 1 << i;
                }
                if set[frame as usize].slots & mask != 0 {
                    if full {
                        set[frame as usize].slots &= !mask;
                    }
                    if let Operand::Reg(s) = src {
                        set[f].regs |= 1 << s.index();
                    }
                }
            }
        }
        Insn::Atomic { .. } => {
            if h.aux == Aux::StackAtomic && set.iter().any(|m| !m.is_empty()) {
                return Err(GiveUp);
            }
        }
        Insn::LdPacket { .. } => set[f].regs &= !0b11_1111,
        Insn::Ja { .. } | Insn::MayGoto { .. } => {}
        Insn::Jump { dst, src, .. } => {
            let d = dst.index();
            let s = match src {
                Operand::Reg(r) => Some(r.index()),
                Operand::Imm(_) => None,
            };
            let involved = has(set, d) || s.is_some_and(|s| has(set, s));
            let linked = match h.aux {
                Aux::Linked {
                    regs,
                    slots,
                    elsewhere,
                } => {
                    set[f].regs & regs != 0
                        || set[f].slots & slots != 0
                        || (elsewhere
                            && set.iter().enumerate().any(|(i, m)| i != f && !m.is_empty()))
                }
                _ => false,
            };
            if involved || linked {
                set[f].regs |= 1 << d;
                if let Some(s) = s {
                    set[f].regs |= 1 << s;
                }
            }
        }
        Insn::Call(CallTarget::Helper(_)) => {
            // The arguments were demanded when the call ran; the results
            // (r0, a callback's arguments) come from the helper.
            set[f].regs &= !0b11_1111;
            set.truncate(depth);
        }
        Insn::Call(_) | Insn::CallX { .. } => {
            if let Some(callee) = set.get(depth).copied() {
                set[f].regs |= callee.regs & 0b11_1110;
            }
            set.truncate(depth);
        }
        Insn::Exit => {
            if f == 0 {
                return Ok(());
            }
            let caller = f - 1;
            set[f] = FrameMask::default();
            if h.aux == Aux::CallbackExit {
                set[caller].regs &= !1;
            } else {
                if set[caller].regs & 1 != 0 {
                    set[f].regs |= 1;
                }
                set[caller].regs &= !0b11_1111;
            }
        }
    }
    Ok(())
}

/// Mark `set` precise in `prec` (of `state`), adding the numbers linked by
/// id to a marked one. Returns whether anything was new; `set` grows by the
/// linked numbers and loses the frames `state` does not have.
pub fn mark(state: &State, prec: &mut Precision, set: &mut Demand) -> bool {
    let n = state.frames.len();
    set.truncate(n);
    ensure(set, n);
    if prec.frames.len() < n {
        prec.frames.resize(n, FrameMask::default());
    }
    // Ids of the precise-to-be numbers that link others.
    let mut ids: Vec<u32> = vec![];
    for (fi, fr) in state.frames.iter().enumerate() {
        for (r, reg) in fr.regs.iter().enumerate() {
            if set[fi].regs & (1 << r) != 0 {
                if let RegState::Scalar { id, .. } = reg {
                    if *id != 0 && !ids.contains(id) {
                        ids.push(*id);
                    }
                }
            }
        }
        for (i, s) in fr.stack.slots().iter().enumerate().take(64) {
            if set[fi].slots & (1 << i) != 0 {
                if let Some(RegState::Scalar { id, .. }) = &s.spill {
                    if *id != 0 && !ids.contains(id) {
                        ids.push(*id);
                    }
                }
            }
        }
    }
    if !ids.is_empty() {
        for (fi, fr) in state.frames.iter().enumerate() {
            for (r, reg) in fr.regs.iter().enumerate() {
                if matches!(reg, RegState::Scalar { id, .. } if ids.contains(id)) {
                    set[fi].regs |= 1 << r;
                }
            }
            for (i, s) in fr.stack.slots().iter().enumerate().take(64) {
                if matches!(&s.spill, Some(RegState::Scalar { id, .. }) if ids.contains(id)) {
                    set[fi].slots |= 1 << i;
                }
            }
        }
    }
    let mut new = false;
    for (m, s) in prec.frames.iter_mut().zip(set.iter()) {
        if (s.regs & !m.regs) != 0 || (s.slots & !m.slots) != 0 {
            new = true;
        }
        m.regs |= s.regs;
        m.slots |= s.slots;
    }
    new && !prec.all
}

//! The whole abstract machine state on one path: the call stack of frames
//! (registers and stack of each function) and the references held.

use crate::precision::Precision;
use crate::reg_state::{Pointer, PtrKind, RegState};
use crate::stack::{ByteKind, Frame};

/// One function activation.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct FuncState {
    /// r0..r10.
    pub regs: [RegState; 11],
    /// The function's stack frame.
    pub stack: Frame,
    /// The pc of the call that created this frame (`None` for the main program).
    pub callsite: Option<usize>,
    /// The first pc of the function.
    pub entry: usize,
    /// Whether this frame runs a helper's callback (its exit returns to the helper call).
    pub is_callback: bool,
    /// How many times the callback this frame's helper call runs has been
    /// called again (Linux's `callback_unroll_depth`): states of different
    /// rounds are not an infinite loop. Not compared when pruning.
    pub callback_rounds: u32,
}

impl FuncState {
    /// A fresh frame numbered `frame` whose function starts at `entry`.
    pub fn new(frame: u8, entry: usize, callsite: Option<usize>) -> FuncState {
        let mut regs = [RegState::NotInit; 11];
        regs[10] = RegState::ptr(PtrKind::Stack { frame });
        FuncState {
            regs,
            stack: Frame::default(),
            callsite,
            entry,
            is_callback: false,
            callback_rounds: 0,
        }
    }
}

/// An acquired resource that must be released before exit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Reference {
    /// Its id (pointers holding it carry it as `ref_id`).
    pub id: u32,
    /// The pc that acquired it.
    pub pc: usize,
}

/// Everything known at one point of one path.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct State {
    /// Call stack; the last frame is the running function.
    pub frames: Vec<FuncState>,
    /// References held.
    pub refs: Vec<Reference>,
    /// The spin lock held, if any: the map and the id of the map value
    /// pointer it was taken through (0 for a direct map value).
    pub lock: Option<(u32, u32)>,
}

impl State {
    /// The running function.
    pub fn cur(&self) -> &FuncState {
        self.frames.last().expect("a state always has a frame")
    }

    /// The running function, mutably.
    pub fn cur_mut(&mut self) -> &mut FuncState {
        self.frames.last_mut().expect("a state always has a frame")
    }

    /// Register `r` of the running function.
    pub fn reg(&self, r: u8) -> &RegState {
        &self.cur().regs[r as usize]
    }

    /// Set register `r` of the running function.
    pub fn set_reg(&mut self, r: u8, v: RegState) {
        self.cur_mut().regs[r as usize] = v;
    }

    /// Every register and spilled register of every frame, mutably.
    pub fn for_each_reg_mut(&mut self, mut f: impl FnMut(&mut RegState)) {
        for fr in self.frames.iter_mut() {
            for r in fr.regs.iter_mut() {
                f(r);
            }
            for r in fr.stack.spills_mut() {
                f(r);
            }
        }
    }

    /// Drop ids that only one register carries: they link nothing, and
    /// keeping them would make otherwise equal states differ.
    pub fn clear_singular_scalar_ids(&mut self) {
        let mut count: Vec<(u32, u32)> = vec![];
        self.for_each_reg_mut(|r| {
            if let RegState::Scalar { id, .. } = r {
                if *id != 0 {
                    match count.iter_mut().find(|(i, _)| i == id) {
                        Some((_, n)) => *n += 1,
                        None => count.push((*id, 1)),
                    }
                }
            }
        });
        if count.is_empty() {
            return;
        }
        self.for_each_reg_mut(|r| {
            if let RegState::Scalar { id, value } = r {
                let single = count.iter().any(|(i, n)| i == id && *n == 1);
                if *id != 0 && (single || value.as_const().is_some()) {
                    *id = 0;
                }
            }
        });
    }

    /// Widen numbers that changed since `old` (an earlier state at the same
    /// loop point) to any value. Used where the runtime bounds the loop
    /// (callbacks, may_goto): it over-approximates, so it stays sound, and
    /// lets counters that grow each iteration converge.
    pub fn widen_from(&mut self, old: &State) {
        if old.frames.len() != self.frames.len() {
            return;
        }
        let widen = |c: &mut RegState, o: &RegState| {
            if let (RegState::Scalar { value: vc, .. }, RegState::Scalar { value: vo, .. }) =
                (&*c, o)
            {
                if !vo.contains(vc) {
                    *c = RegState::UNKNOWN;
                }
            }
        };
        for (fc, fo) in self.frames.iter_mut().zip(&old.frames) {
            for (rc, ro) in fc.regs.iter_mut().zip(&fo.regs) {
                widen(rc, ro);
            }
            let n = fc.stack.slots().len();
            for i in 0..n {
                if let Some(ro) = fo.stack.slot(i).spill {
                    fc.stack.widen_spill(i, |rc| widen(rc, &ro));
                }
            }
        }
    }

    /// Forget registers no path from here reads: `live[i]` is the live set
    /// of frame `i`.
    pub fn clean_dead(&mut self, live: &[u16]) {
        for (f, mask) in self.frames.iter_mut().zip(live) {
            for (i, r) in f.regs.iter_mut().enumerate() {
                if mask & (1 << i) == 0 {
                    *r = RegState::NotInit;
                }
            }
        }
    }

    /// A hash of everything but the ids: equal states (up to renaming of
    /// ids) have equal fingerprints, so it filters candidates cheaply.
    pub fn fingerprint(&self, live: &[u16]) -> u64 {
        use std::hash::{Hash, Hasher};
        let mut h = std::collections::hash_map::DefaultHasher::new();
        let reg = |r: &RegState, h: &mut std::collections::hash_map::DefaultHasher| match r {
            RegState::NotInit => 0u8.hash(h),
            RegState::Scalar { value, .. } => {
                1u8.hash(h);
                value.hash(h);
            }
            RegState::Ptr(p) => {
                2u8.hash(h);
                p.kind.hash(h);
                p.off.hash(h);
                p.var.hash(h);
                p.range.hash(h);
            }
        };
        self.frames.len().hash(&mut h);
        self.refs.len().hash(&mut h);
        self.lock.map(|l| l.0).hash(&mut h);
        for (fi, f) in self.frames.iter().enumerate() {
            f.callsite.hash(&mut h);
            let mask = live.get(fi).copied().unwrap_or(u16::MAX);
            for (i, r) in f.regs.iter().enumerate() {
                if mask & (1 << i) != 0 {
                    reg(r, &mut h);
                }
            }
            let slots = f.stack.slots();
            let used = slots
                .iter()
                .rposition(|s| s.bytes != [ByteKind::Invalid; 8])
                .map_or(0, |i| i + 1);
            for s in &slots[..used] {
                s.bytes.hash(&mut h);
                s.spill_size.hash(&mut h);
                if let Some(r) = &s.spill {
                    reg(r, &mut h);
                }
            }
        }
        h.finish()
    }

    /// Whether every execution from `cur` is covered by the already verified
    /// `self` (`exact`: the states are the same, used to detect loops that
    /// make no progress).
    pub fn subsumes(&self, cur: &State, exact: bool, uninit_stack_ok: bool) -> bool {
        self.subsumes_with(cur, exact, uninit_stack_ok, None)
    }

    /// [`State::subsumes`] where only the numbers `prec` marks precise
    /// (all when `None`) must contain the current ones; the others only
    /// need to be numbers in `cur` too, linked the same way.
    pub fn subsumes_with(
        &self,
        cur: &State,
        exact: bool,
        uninit_stack_ok: bool,
        prec: Option<&Precision>,
    ) -> bool {
        if self.frames.len() != cur.frames.len()
            || self.refs.len() != cur.refs.len()
            || self.lock.is_some() != cur.lock.is_some()
        {
            return false;
        }
        let mut ids = IdMap::default();
        for (o, c) in self.refs.iter().zip(&cur.refs) {
            if !ids.check(o.id, c.id) {
                return false;
            }
        }
        if let (Some((mo, io)), Some((mc, ic))) = (self.lock, cur.lock) {
            if mo != mc || !ids.check(io, ic) {
                return false;
            }
        }
        for (fi, (fo, fc)) in self.frames.iter().zip(&cur.frames).enumerate() {
            if fo.callsite != fc.callsite
                || fo.entry != fc.entry
                || fo.is_callback != fc.is_callback
            {
                return false;
            }
            for (r, (ro, rc)) in fo.regs.iter().zip(&fc.regs).enumerate() {
                let precise = prec.is_none_or(|p| p.reg(fi, r));
                if !reg_subsumes(ro, rc, exact, precise, &mut ids) {
                    return false;
                }
            }
            let slot_precise = |i: usize| prec.is_none_or(|p| p.slot(fi, i));
            if !stack_subsumes(
                &fo.stack,
                &fc.stack,
                exact,
                uninit_stack_ok,
                &slot_precise,
                &mut ids,
            ) {
                return false;
            }
        }
        true
    }
}

/// A consistent renaming of the ids of one state into another's (a few
/// pairs at most, so a vector beats a map).
#[derive(Default)]
struct IdMap {
    pairs: Vec<(u32, u32)>,
}

impl IdMap {
    fn check(&mut self, old: u32, cur: u32) -> bool {
        if old == 0 && cur == 0 {
            return true;
        }
        if old == 0 || cur == 0 {
            return false;
        }
        for &(o, c) in &self.pairs {
            if o == old || c == cur {
                return o == old && c == cur;
            }
        }
        self.pairs.push((old, cur));
        true
    }
}

fn ptr_subsumes(o: &Pointer, c: &Pointer, exact: bool, ids: &mut IdMap) -> bool {
    if o.kind != c.kind || o.off != c.off {
        return false;
    }
    let var_ok = if exact {
        o.var == c.var
    } else {
        o.var.contains(&c.var)
    };
    let range_ok = if exact {
        o.range == c.range
    } else {
        o.range <= c.range
    };
    var_ok && range_ok && ids.check(o.id, c.id) && ids.check(o.ref_id, c.ref_id)
}

fn reg_subsumes(o: &RegState, c: &RegState, exact: bool, precise: bool, ids: &mut IdMap) -> bool {
    match (o, c) {
        (RegState::NotInit, RegState::NotInit) => true,
        (RegState::NotInit, _) => !exact,
        (RegState::Scalar { value: vo, id: io }, RegState::Scalar { value: vc, id: ic }) => {
            let v_ok = if exact {
                vo == vc
            } else {
                // Nothing after the old state relied on an imprecise number's range.
                !precise || vo.contains(vc)
            };
            // An old id links registers whose narrowing the old path relied on;
            // the current state must link the same registers.
            let id_ok = if *io == 0 && !exact {
                true
            } else {
                ids.check(*io, *ic)
            };
            v_ok && id_ok
        }
        (RegState::Ptr(po), RegState::Ptr(pc)) => ptr_subsumes(po, pc, exact, ids),
        _ => false,
    }
}

fn stack_subsumes(
    o: &Frame,
    c: &Frame,
    exact: bool,
    uninit_ok: bool,
    precise: &dyn Fn(usize) -> bool,
    ids: &mut IdMap,
) -> bool {
    let n = o.slots().len().max(c.slots().len());
    for i in 0..n {
        let so = o.slot(i);
        let sc = c.slot(i);
        if exact {
            if so.bytes != sc.bytes {
                return false;
            }
            if so.spill_size != sc.spill_size {
                return false;
            }
            if let (Some(ro), Some(rc)) = (&so.spill, &sc.spill) {
                if !reg_subsumes(ro, rc, true, true, ids) {
                    return false;
                }
            } else if so.spill.is_some() != sc.spill.is_some() {
                return false;
            }
            continue;
        }
        let c_scalar_spill = matches!(sc.spill, Some(RegState::Scalar { .. }));
        if !precise(i) && numbers_only(so, uninit_ok) && numbers_only(sc, uninit_ok) {
            // The slot holds numbers in both states and nothing after the
            // old state relied on their values: whatever bytes the current
            // state holds (zeros, some number, a spilled number) read the
            // same way as far as any later check is concerned.
            continue;
        }
        for b in 0..8 {
            let ok = match (so.bytes[b], sc.bytes[b]) {
                // Without uninitialized reads the old path never read this byte.
                (ByteKind::Invalid, _) if !uninit_ok => true,
                (ByteKind::Invalid | ByteKind::Misc, k) => k != ByteKind::Spill || c_scalar_spill,
                (ByteKind::Zero, ByteKind::Zero) => true,
                (ByteKind::Zero, ByteKind::Spill) => {
                    matches!(sc.spill, Some(RegState::Scalar { value, .. }) if value.is_zero())
                }
                (ByteKind::Spill, ByteKind::Spill) => true,
                _ => false,
            };
            if !ok {
                return false;
            }
        }
        if so.spill.is_some() {
            if so.spill_size != sc.spill_size {
                return false;
            }
            match (&so.spill, &sc.spill) {
                (Some(ro), Some(rc)) => {
                    if !reg_subsumes(ro, rc, false, precise(i), ids) {
                        return false;
                    }
                }
                _ => return false,
            }
        }
    }
    true
}

/// Whether every byte of `s` reads as a number: written with one, zero,
/// part of a spilled number, or (when uninitialized reads are allowed)
/// never written.
fn numbers_only(s: &crate::stack::Slot, uninit_ok: bool) -> bool {
    !matches!(s.spill, Some(RegState::Ptr(_)))
        && s.bytes.iter().all(|b| *b != ByteKind::Invalid || uninit_ok)
}

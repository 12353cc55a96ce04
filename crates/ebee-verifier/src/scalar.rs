//! The abstract value of a number: known bits plus signed and unsigned
//! ranges at 64 and 32 bits, kept consistent with each other.
//!
//! Every operation first computes each component on its own and then
//! [`Scalar::sync`] lets each component tighten the others (the tnum bounds
//! the ranges, a range that does not cross the sign boundary bounds the
//! other signedness, a 64-bit range whose upper half is fixed bounds the
//! 32-bit one and back). This is the idea behind Linux's `reg_bounds_sync`.

use std::fmt;

use ebee_isa::{AluOp, ByteOrder, JmpCond, Width};

use crate::tnum::Tnum;

const HI: u64 = 0xffff_ffff_0000_0000;

/// A set of possible 64-bit values.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Scalar {
    /// Known bits.
    pub var: Tnum,
    /// Signed 64-bit minimum.
    pub smin: i64,
    /// Signed 64-bit maximum.
    pub smax: i64,
    /// Unsigned 64-bit minimum.
    pub umin: u64,
    /// Unsigned 64-bit maximum.
    pub umax: u64,
    /// Signed minimum of the low 32 bits.
    pub s32min: i32,
    /// Signed maximum of the low 32 bits.
    pub s32max: i32,
    /// Unsigned minimum of the low 32 bits.
    pub u32min: u32,
    /// Unsigned maximum of the low 32 bits.
    pub u32max: u32,
}

impl Scalar {
    /// Any value.
    pub const UNKNOWN: Scalar = Scalar {
        var: Tnum::UNKNOWN,
        smin: i64::MIN,
        smax: i64::MAX,
        umin: 0,
        umax: u64::MAX,
        s32min: i32::MIN,
        s32max: i32::MAX,
        u32min: 0,
        u32max: u32::MAX,
    };

    /// Exactly `v`.
    pub const fn constant(v: u64) -> Scalar {
        Scalar {
            var: Tnum::constant(v),
            smin: v as i64,
            smax: v as i64,
            umin: v,
            umax: v,
            s32min: v as u32 as i32,
            s32max: v as u32 as i32,
            u32min: v as u32,
            u32max: v as u32,
        }
    }

    /// Any value in `min..=max` (unsigned).
    pub fn urange(min: u64, max: u64) -> Scalar {
        let mut s = Scalar {
            umin: min,
            umax: max,
            ..Scalar::UNKNOWN
        };
        s.sync();
        s
    }

    /// Any value in `min..=max` (signed).
    pub fn srange(min: i64, max: i64) -> Scalar {
        let mut s = Scalar {
            smin: min,
            smax: max,
            ..Scalar::UNKNOWN
        };
        s.sync();
        s
    }

    /// The value, if only one is possible.
    pub fn as_const(&self) -> Option<u64> {
        self.var.is_const().then_some(self.var.value)
    }

    /// Whether 0 is a possible value.
    pub fn may_be_zero(&self) -> bool {
        self.umin == 0 && self.var.contains_value(0)
    }

    /// Whether the set is exactly {0}.
    pub fn is_zero(&self) -> bool {
        self.as_const() == Some(0)
    }

    /// Whether every value of `other` is one of ours.
    pub fn contains(&self, other: &Scalar) -> bool {
        self.var.contains(other.var)
            && self.smin <= other.smin
            && self.smax >= other.smax
            && self.umin <= other.umin
            && self.umax >= other.umax
            && self.s32min <= other.s32min
            && self.s32max >= other.s32max
            && self.u32min <= other.u32min
            && self.u32max >= other.u32max
    }

    /// The low 32 bits, zero-extended.
    pub fn zext32(&self) -> Scalar {
        let mut s = Scalar {
            var: self.var.subreg(),
            umin: self.u32min as u64,
            umax: self.u32max as u64,
            smin: self.u32min as i64,
            smax: self.u32max as i64,
            s32min: self.s32min,
            s32max: self.s32max,
            u32min: self.u32min,
            u32max: self.u32max,
        };
        s.sync();
        s
    }

    /// The low 32 bits, sign-extended to 64.
    pub fn sext32(&self) -> Scalar {
        let t = self.var.subreg();
        let var = if t.mask & 0x8000_0000 != 0 {
            Tnum {
                value: t.value,
                mask: t.mask | HI,
            }
        } else if t.value & 0x8000_0000 != 0 {
            Tnum {
                value: t.value | HI,
                mask: t.mask,
            }
        } else {
            t
        };
        let mut s = Scalar {
            var,
            smin: self.s32min as i64,
            smax: self.s32max as i64,
            ..Scalar::UNKNOWN
        };
        s.sync();
        s
    }

    /// Keep only the low `bytes` bytes (zero-extended), as a narrow load or
    /// a 32-bit operation does.
    pub fn truncate(&self, bytes: u32) -> Scalar {
        if bytes >= 8 {
            return *self;
        }
        let limit = (1u64 << (bytes * 8)) - 1;
        let (umin, umax) = if self.umax <= limit {
            (self.umin, self.umax)
        } else if self.umin >> (bytes * 8) == self.umax >> (bytes * 8) {
            (self.umin & limit, self.umax & limit)
        } else {
            (0, limit)
        };
        let mut s = Scalar {
            var: self.var.truncate(bytes),
            umin,
            umax,
            smin: umin as i64,
            smax: umax as i64,
            ..Scalar::UNKNOWN
        };
        s.sync();
        s
    }

    /// Sign-extend from the low `bytes` bytes.
    pub fn sign_extend(&self, bytes: u32) -> Scalar {
        if bytes >= 8 {
            return *self;
        }
        if let Some(v) = self.as_const() {
            let sh = 64 - bytes * 8;
            return Scalar::constant((((v << sh) as i64) >> sh) as u64);
        }
        let t = self.truncate(bytes);
        let half = 1u64 << (bytes * 8 - 1);
        if t.umax < half {
            t
        } else {
            Scalar::srange(-(half as i64), half as i64 - 1)
        }
    }

    /// Let each component tighten the others. Returns false if the set is
    /// empty (the components contradict each other).
    pub fn sync(&mut self) -> bool {
        for _ in 0..2 {
            // Known bits bound the ranges.
            self.umin = self.umin.max(self.var.umin());
            self.umax = self.umax.min(self.var.umax());
            self.smin = self.smin.max(self.var.smin());
            self.smax = self.smax.min(self.var.smax());
            let t = self.var.subreg();
            self.u32min = self.u32min.max(t.value as u32);
            self.u32max = self.u32max.min((t.value | t.mask) as u32);
            self.s32min = self
                .s32min
                .max((t.value | (t.mask & 0x8000_0000)) as u32 as i32);
            self.s32max = self
                .s32max
                .min((t.value | (t.mask & 0x7fff_ffff)) as u32 as i32);
            // Signed and unsigned bound each other when the range stays on one
            // side of the sign boundary.
            if self.smin >= 0 || self.smax < 0 {
                self.umin = self.umin.max(self.smin as u64);
                self.umax = self.umax.min(self.smax as u64);
            }
            if (self.umin as i64) <= (self.umax as i64) {
                self.smin = self.smin.max(self.umin as i64);
                self.smax = self.smax.min(self.umax as i64);
            }
            if self.s32min >= 0 || self.s32max < 0 {
                self.u32min = self.u32min.max(self.s32min as u32);
                self.u32max = self.u32max.min(self.s32max as u32);
            }
            if (self.u32min as i32) <= (self.u32max as i32) {
                self.s32min = self.s32min.max(self.u32min as i32);
                self.s32max = self.s32max.min(self.u32max as i32);
            }
            // 64 -> 32: a fixed upper half makes the low half a range too.
            if self.umin >> 32 == self.umax >> 32 {
                self.u32min = self.u32min.max(self.umin as u32);
                self.u32max = self.u32max.min(self.umax as u32);
                if (self.umin as u32 as i32) <= (self.umax as u32 as i32) {
                    self.s32min = self.s32min.max(self.umin as u32 as i32);
                    self.s32max = self.s32max.min(self.umax as u32 as i32);
                }
            }
            if self.smin >> 32 == self.smax >> 32 {
                self.u32min = self.u32min.max(self.smin as u32);
                self.u32max = self.u32max.min(self.smax as u32);
                if (self.smin as i32) <= (self.smax as i32) {
                    self.s32min = self.s32min.max(self.smin as i32);
                    self.s32max = self.s32max.min(self.smax as i32);
                }
            }
            // 32 -> 64 with a fixed upper half.
            if self.umin >> 32 == self.umax >> 32 && self.u32min <= self.u32max {
                self.umin = self.umin.max((self.umin & HI) | self.u32min as u64);
                self.umax = self.umax.min((self.umax & HI) | self.u32max as u64);
            }
            if self.smin >> 32 == self.smax >> 32 && self.u32min <= self.u32max {
                self.smin = self
                    .smin
                    .max(((self.smin as u64 & HI) | self.u32min as u64) as i64);
                self.smax = self
                    .smax
                    .min(((self.smax as u64 & HI) | self.u32max as u64) as i64);
            }
            if !self.ranges_ok() {
                return false;
            }
            // Ranges bound the known bits.
            match self.var.intersect(Tnum::range(self.umin, self.umax)) {
                Some(t) => self.var = t,
                None => return false,
            }
            let low = self.var.subreg();
            match low.intersect(Tnum::range(self.u32min as u64, self.u32max as u64)) {
                Some(t) => self.var = self.var.with_subreg(t),
                None => return false,
            }
        }
        self.ranges_ok()
            && self.var.umin() <= self.umax
            && self.var.umax() >= self.umin
            && self.var.contains_value(self.var.value)
    }

    fn ranges_ok(&self) -> bool {
        self.umin <= self.umax
            && self.smin <= self.smax
            && self.u32min <= self.u32max
            && self.s32min <= self.s32max
    }

    /// `self op src` at `width`. Division and modulo by a possibly-zero
    /// value follow the instruction set (x / 0 = 0, x % 0 = x).
    pub fn alu(&self, op: AluOp, width: Width, src: &Scalar) -> Scalar {
        match width {
            Width::W64 => alu64(op, self, src),
            Width::W32 => {
                let a = self.zext32();
                let b = src.zext32();
                let r = match op {
                    AluOp::Arsh => match b.as_const() {
                        Some(k) if k < 32 => {
                            let sx = self.sext32();
                            let mut r = Scalar {
                                var: sx.var.arshift(k as u32, 64),
                                smin: sx.smin >> k,
                                smax: sx.smax >> k,
                                ..Scalar::UNKNOWN
                            };
                            r.sync();
                            r
                        }
                        _ => Scalar::UNKNOWN,
                    },
                    AluOp::Lsh | AluOp::Rsh if b.as_const().is_none_or(|k| k >= 32) => {
                        Scalar::UNKNOWN
                    }
                    AluOp::Div | AluOp::Mod | AluOp::SDiv | AluOp::SMod => Scalar::UNKNOWN,
                    AluOp::MovSx8 => self.sign_extend(1),
                    AluOp::MovSx16 => self.sign_extend(2),
                    _ => alu64(op, &a, &b),
                };
                r.truncate(4)
            }
        }
    }

    /// `-self` at `width`.
    pub fn neg(&self, width: Width) -> Scalar {
        Scalar::constant(0).alu(AluOp::Sub, width, self)
    }

    /// A byte-order conversion of the low `bits`.
    pub fn endian(&self, order: ByteOrder, bits: u8) -> Scalar {
        let bytes = bits as u32 / 8;
        let swap = match order {
            ByteOrder::Le => cfg!(target_endian = "big"),
            ByteOrder::Be => cfg!(target_endian = "little"),
            ByteOrder::Swap => true,
        };
        if !swap {
            return self.truncate(bytes);
        }
        match self.as_const() {
            Some(v) => Scalar::constant(match bits {
                16 => (v as u16).swap_bytes() as u64,
                32 => (v as u32).swap_bytes() as u64,
                _ => v.swap_bytes(),
            }),
            None if bytes >= 8 => Scalar::UNKNOWN,
            None => Scalar::urange(0, (1u64 << bits) - 1),
        }
    }

    /// Whether values of `self` satisfy `cond` against `other` always
    /// (`Some(true)`), never (`Some(false)`), or sometimes (`None`).
    pub fn compare(&self, cond: JmpCond, width: Width, other: &Scalar) -> Option<bool> {
        let t = refine(self, cond, width, other, true).is_some();
        let f = refine(self, cond, width, other, false).is_some();
        match (t, f) {
            (true, false) => Some(true),
            (false, true) => Some(false),
            _ => None,
        }
    }
}

fn checked_pair<T: Copy>(a: Option<T>, b: Option<T>, full: (T, T)) -> (T, T) {
    match (a, b) {
        (Some(a), Some(b)) => (a, b),
        _ => full,
    }
}

fn alu64(op: AluOp, a: &Scalar, b: &Scalar) -> Scalar {
    let mut r = Scalar::UNKNOWN;
    match op {
        AluOp::Mov => return *b,
        AluOp::MovSx8 => return b.sign_extend(1),
        AluOp::MovSx16 => return b.sign_extend(2),
        AluOp::MovSx32 => return b.sign_extend(4),
        AluOp::Add => {
            r.var = a.var.add(b.var);
            (r.smin, r.smax) = checked_pair(
                a.smin.checked_add(b.smin),
                a.smax.checked_add(b.smax),
                (i64::MIN, i64::MAX),
            );
            (r.umin, r.umax) = checked_pair(
                a.umin.checked_add(b.umin),
                a.umax.checked_add(b.umax),
                (0, u64::MAX),
            );
        }
        AluOp::Sub => {
            r.var = a.var.sub(b.var);
            (r.smin, r.smax) = checked_pair(
                a.smin.checked_sub(b.smax),
                a.smax.checked_sub(b.smin),
                (i64::MIN, i64::MAX),
            );
            if a.umin >= b.umax {
                r.umin = a.umin - b.umax;
                r.umax = a.umax - b.umin;
            }
        }
        AluOp::Mul => {
            r.var = a.var.mul(b.var);
            if a.umax <= u32::MAX as u64 && b.umax <= u32::MAX as u64 {
                r.umin = a.umin * b.umin;
                r.umax = a.umax * b.umax;
            }
            if a.smin >= 0 && b.smin >= 0 && a.umax <= u32::MAX as u64 && b.umax <= u32::MAX as u64
            {
                r.smin = r.umin as i64;
                r.smax = r.umax as i64;
            }
        }
        AluOp::And => {
            r.var = a.var.and(b.var);
            r.umin = r.var.umin();
            r.umax = a.umax.min(b.umax);
            if a.smin >= 0 || b.smin >= 0 {
                r.smin = 0;
                r.smax = if a.smin >= 0 && b.smin >= 0 {
                    a.smax.min(b.smax)
                } else if a.smin >= 0 {
                    a.smax
                } else {
                    b.smax
                };
            }
        }
        AluOp::Or => {
            r.var = a.var.or(b.var);
            r.umin = a.umin.max(b.umin);
            r.umax = r.var.umax();
        }
        AluOp::Xor => {
            r.var = a.var.xor(b.var);
            r.umin = r.var.umin();
            r.umax = r.var.umax();
        }
        AluOp::Lsh | AluOp::Rsh | AluOp::Arsh => match b.as_const() {
            Some(k) if k < 64 => {
                let k = k as u32;
                match op {
                    AluOp::Lsh => {
                        r.var = a.var.lshift(k);
                        if a.umax.leading_zeros() >= k {
                            r.umin = a.umin << k;
                            r.umax = a.umax << k;
                        }
                    }
                    AluOp::Rsh => {
                        r.var = a.var.rshift(k);
                        r.umin = a.umin >> k;
                        r.umax = a.umax >> k;
                    }
                    _ => {
                        r.var = a.var.arshift(k, 64);
                        r.smin = a.smin >> k;
                        r.smax = a.smax >> k;
                    }
                }
            }
            _ => {}
        },
        AluOp::Div | AluOp::Mod | AluOp::SDiv | AluOp::SMod => {
            // Linux tracks nothing through division and modulo (not even of
            // constants); doing the same keeps our verdicts its verdicts.
            return Scalar::UNKNOWN;
        }
    }
    if !r.sync() {
        return Scalar::UNKNOWN;
    }
    r
}

/// One width's view of a scalar: unsigned and signed bounds, and known bits.
#[derive(Clone, Copy)]
struct View {
    umin: u64,
    umax: u64,
    smin: i64,
    smax: i64,
    var: Tnum,
}

impl View {
    fn of(s: &Scalar, width: Width) -> View {
        match width {
            Width::W64 => View {
                umin: s.umin,
                umax: s.umax,
                smin: s.smin,
                smax: s.smax,
                var: s.var,
            },
            Width::W32 => View {
                umin: s.u32min as u64,
                umax: s.u32max as u64,
                smin: s.s32min as i64,
                smax: s.s32max as i64,
                var: s.var.subreg(),
            },
        }
    }

    fn store(self, s: &mut Scalar, width: Width) {
        match width {
            Width::W64 => {
                s.umin = self.umin;
                s.umax = self.umax;
                s.smin = self.smin;
                s.smax = self.smax;
                s.var = self.var;
            }
            Width::W32 => {
                s.u32min = self.umin as u32;
                s.u32max = self.umax as u32;
                s.s32min = self.smin as i32;
                s.s32max = self.smax as i32;
                s.var = s.var.with_subreg(self.var);
            }
        }
    }

    fn ucst(&self) -> Option<u64> {
        (self.umin == self.umax).then_some(self.umin)
    }

    fn ok(&self) -> bool {
        self.umin <= self.umax && self.smin <= self.smax
    }
}

/// The condition that holds when `cond` does not.
pub fn negate(cond: JmpCond) -> Option<JmpCond> {
    Some(match cond {
        JmpCond::Eq => JmpCond::Ne,
        JmpCond::Ne => JmpCond::Eq,
        JmpCond::Gt => JmpCond::Le,
        JmpCond::Le => JmpCond::Gt,
        JmpCond::Ge => JmpCond::Lt,
        JmpCond::Lt => JmpCond::Ge,
        JmpCond::Sgt => JmpCond::Sle,
        JmpCond::Sle => JmpCond::Sgt,
        JmpCond::Sge => JmpCond::Slt,
        JmpCond::Slt => JmpCond::Sge,
        JmpCond::Set => return None,
    })
}

/// The condition with its operands swapped (`a < b` is `b > a`).
pub fn swap(cond: JmpCond) -> JmpCond {
    match cond {
        JmpCond::Gt => JmpCond::Lt,
        JmpCond::Lt => JmpCond::Gt,
        JmpCond::Ge => JmpCond::Le,
        JmpCond::Le => JmpCond::Ge,
        JmpCond::Sgt => JmpCond::Slt,
        JmpCond::Slt => JmpCond::Sgt,
        JmpCond::Sge => JmpCond::Sle,
        JmpCond::Sle => JmpCond::Sge,
        c => c,
    }
}

/// Narrow `a` and `b` to the values for which `a cond b` is `taken` at
/// `width`. `None` if no values satisfy it (the branch is dead).
pub fn refine(
    a: &Scalar,
    cond: JmpCond,
    width: Width,
    b: &Scalar,
    taken: bool,
) -> Option<(Scalar, Scalar)> {
    let (cond, set_negated) = match (taken, negate(cond)) {
        (true, _) => (cond, false),
        (false, Some(n)) => (n, false),
        (false, None) => (JmpCond::Set, true),
    };
    let mut x = View::of(a, width);
    let mut y = View::of(b, width);
    let (smin_lim, smax_lim) = match width {
        Width::W64 => (i64::MIN, i64::MAX),
        Width::W32 => (i32::MIN as i64, i32::MAX as i64),
    };
    let umax_lim = match width {
        Width::W64 => u64::MAX,
        Width::W32 => u32::MAX as u64,
    };
    match cond {
        JmpCond::Eq => {
            let umin = x.umin.max(y.umin);
            let umax = x.umax.min(y.umax);
            let smin = x.smin.max(y.smin);
            let smax = x.smax.min(y.smax);
            let var = x.var.intersect(y.var)?;
            x = View {
                umin,
                umax,
                smin,
                smax,
                var,
            };
            y = x;
        }
        JmpCond::Ne => {
            if let (Some(p), Some(q)) = (x.ucst(), y.ucst()) {
                if p == q {
                    return None;
                }
            }
            let (x0, y0) = (x, y);
            for (v, c) in [(&mut x, y0), (&mut y, x0)] {
                if let Some(k) = c.ucst() {
                    let ks = c.smin;
                    if v.umin == k {
                        v.umin = v.umin.checked_add(1)?;
                    }
                    if v.umax == k {
                        v.umax = v.umax.checked_sub(1)?;
                    }
                    if v.smin == ks {
                        v.smin = v.smin.checked_add(1)?;
                    }
                    if v.smax == ks {
                        v.smax = v.smax.checked_sub(1)?;
                    }
                }
            }
        }
        JmpCond::Lt | JmpCond::Le | JmpCond::Gt | JmpCond::Ge => {
            let (lo, hi, strict) = match cond {
                JmpCond::Lt => (&mut x, &mut y, true),
                JmpCond::Le => (&mut x, &mut y, false),
                JmpCond::Gt => (&mut y, &mut x, true),
                _ => (&mut y, &mut x, false),
            };
            let d = strict as u64;
            let hi_max = hi.umax.checked_sub(d)?;
            let lo_min = lo.umin.checked_add(d).filter(|v| *v <= umax_lim)?;
            lo.umax = lo.umax.min(hi_max);
            hi.umin = hi.umin.max(lo_min);
        }
        JmpCond::Slt | JmpCond::Sle | JmpCond::Sgt | JmpCond::Sge => {
            let (lo, hi, strict) = match cond {
                JmpCond::Slt => (&mut x, &mut y, true),
                JmpCond::Sle => (&mut x, &mut y, false),
                JmpCond::Sgt => (&mut y, &mut x, true),
                _ => (&mut y, &mut x, false),
            };
            let d = strict as i64;
            let hi_max = hi.smax.checked_sub(d).filter(|v| *v >= smin_lim)?;
            let lo_min = lo.smin.checked_add(d).filter(|v| *v <= smax_lim)?;
            lo.smax = lo.smax.min(hi_max);
            hi.smin = hi.smin.max(lo_min);
        }
        JmpCond::Set => {
            if set_negated {
                // a & b == 0
                if x.var.value & y.var.value != 0 {
                    return None;
                }
                if let Some(c) = y.ucst() {
                    x.var.mask &= !c;
                }
                if let Some(c) = x.ucst() {
                    y.var.mask &= !c;
                }
            } else {
                // a & b != 0
                if x.var.umax() & y.var.umax() == 0 {
                    return None;
                }
                if let Some(c) = y.ucst() {
                    if c.is_power_of_two() {
                        x.var.value |= c;
                        x.var.mask &= !c;
                    }
                }
                if let Some(c) = x.ucst() {
                    if c.is_power_of_two() {
                        y.var.value |= c;
                        y.var.mask &= !c;
                    }
                }
            }
        }
    }
    if !x.ok() || !y.ok() {
        return None;
    }
    let mut ra = *a;
    let mut rb = *b;
    x.store(&mut ra, width);
    y.store(&mut rb, width);
    if !ra.sync() || !rb.sync() {
        return None;
    }
    Some((ra, rb))
}

impl fmt::Debug for Scalar {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl fmt::Display for Scalar {
    /// Kernel-log style: the constant, or the bounds that are not trivial.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(v) = self.as_const() {
            return write!(f, "{}", v as i64);
        }
        let mut parts = vec![];
        if self.smin != i64::MIN {
            parts.push(format!("smin={}", self.smin));
        }
        if self.smax != i64::MAX {
            parts.push(format!("smax={}", self.smax));
        }
        if self.umin != 0 {
            parts.push(format!("umin={}", self.umin));
        }
        if self.umax != u64::MAX {
            parts.push(format!("umax={}", self.umax));
        }
        if self.s32min != i32::MIN && self.s32min as i64 != self.smin {
            parts.push(format!("smin32={}", self.s32min));
        }
        if self.s32max != i32::MAX && self.s32max as i64 != self.smax {
            parts.push(format!("smax32={}", self.s32max));
        }
        if self.u32min != 0 && self.u32min as u64 != self.umin {
            parts.push(format!("umin32={}", self.u32min));
        }
        if self.u32max != u32::MAX && self.u32max as u64 != self.umax {
            parts.push(format!("umax32={}", self.u32max));
        }
        if self.var != Tnum::UNKNOWN {
            parts.push(format!("var_off={:?}", self.var));
        }
        write!(f, "scalar({})", parts.join(","))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn constants_fold() {
        let a = Scalar::constant(10);
        let b = Scalar::constant(3);
        assert_eq!(a.alu(AluOp::Add, Width::W64, &b).as_const(), Some(13));
        assert_eq!(a.alu(AluOp::Sub, Width::W64, &b).as_const(), Some(7));
        assert_eq!(
            b.alu(AluOp::Sub, Width::W64, &a).as_const(),
            Some(-7i64 as u64)
        );
        assert_eq!(
            b.alu(AluOp::Sub, Width::W32, &a).as_const(),
            Some((-7i32) as u32 as u64)
        );
        assert_eq!(a.alu(AluOp::Mul, Width::W64, &b).as_const(), Some(30));
        assert_eq!(a.alu(AluOp::Div, Width::W64, &b), Scalar::UNKNOWN);
        assert_eq!(a.alu(AluOp::Lsh, Width::W64, &b).as_const(), Some(80));
        let m = Scalar::constant(-16i64 as u64);
        assert_eq!(
            m.alu(AluOp::Arsh, Width::W64, &Scalar::constant(2))
                .as_const(),
            Some(-4i64 as u64)
        );
        assert_eq!(
            m.alu(AluOp::Arsh, Width::W32, &Scalar::constant(2))
                .as_const(),
            Some((-4i32) as u32 as u64)
        );
    }

    #[test]
    fn and_bounds_the_result() {
        let x = Scalar::UNKNOWN.alu(AluOp::And, Width::W64, &Scalar::constant(0xff));
        assert_eq!((x.umin, x.umax, x.smin, x.smax), (0, 255, 0, 255));
    }

    #[test]
    fn branch_refinement_both_sides() {
        let x = Scalar::urange(0, 100);
        let ten = Scalar::constant(10);
        let (t, _) = refine(&x, JmpCond::Gt, Width::W64, &ten, true).unwrap();
        assert_eq!((t.umin, t.umax), (11, 100));
        let (f, _) = refine(&x, JmpCond::Gt, Width::W64, &ten, false).unwrap();
        assert_eq!((f.umin, f.umax), (0, 10));
        assert!(refine(&x, JmpCond::Gt, Width::W64, &Scalar::constant(100), true).is_none());
        assert_eq!(
            x.compare(JmpCond::Le, Width::W64, &Scalar::constant(100)),
            Some(true)
        );
        let (w, _) = refine(&Scalar::UNKNOWN, JmpCond::Lt, Width::W32, &ten, true).unwrap();
        assert_eq!((w.u32min, w.u32max), (0, 9));
        let (s, _) = refine(
            &Scalar::UNKNOWN,
            JmpCond::Sgt,
            Width::W64,
            &Scalar::constant(-1i64 as u64),
            true,
        )
        .unwrap();
        assert_eq!(s.smin, 0);
        assert_eq!(s.umax, i64::MAX as u64);
    }

    #[test]
    fn sync_detects_contradiction() {
        let mut s = Scalar {
            var: Tnum::constant(5),
            umin: 6,
            ..Scalar::UNKNOWN
        };
        assert!(!s.sync());
    }
}

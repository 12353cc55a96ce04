//! Known bits ("tristate numbers"): for each of the 64 bits, whether it is
//! known to be 0, known to be 1, or unknown.
//!
//! A `Tnum { value, mask }` stands for every `x` with `x & !mask == value`:
//! bits set in `mask` are unknown, the others equal the bit in `value`
//! (which is always 0 where `mask` is 1). The arithmetic below follows the
//! published construction (Vishwanathan et al., "Sound, Precise, and Fast
//! Abstract Interpretation with Tristate Numbers", CGO 2022) that the Linux
//! verifier also uses.

use std::fmt;

/// A set of 64-bit values described by which bits are known.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Tnum {
    /// The known bits' values (0 wherever `mask` is 1).
    pub value: u64,
    /// The unknown bits.
    pub mask: u64,
}

#[allow(clippy::should_implement_trait)]
impl Tnum {
    /// Every value.
    pub const UNKNOWN: Tnum = Tnum {
        value: 0,
        mask: u64::MAX,
    };

    /// Exactly `v`.
    pub const fn constant(v: u64) -> Tnum {
        Tnum { value: v, mask: 0 }
    }

    /// The smallest tnum containing every value in `min..=max`.
    pub fn range(min: u64, max: u64) -> Tnum {
        let chi = min ^ max;
        let bits = 64 - chi.leading_zeros();
        if bits > 63 {
            return Tnum::UNKNOWN;
        }
        let delta = (1u64 << bits) - 1;
        Tnum {
            value: min & !delta,
            mask: delta,
        }
    }

    /// Whether every bit is known.
    pub const fn is_const(self) -> bool {
        self.mask == 0
    }

    /// Whether this is exactly `v`.
    pub const fn equals_const(self, v: u64) -> bool {
        self.mask == 0 && self.value == v
    }

    /// Whether every value of `other` is in `self`.
    pub const fn contains(self, other: Tnum) -> bool {
        if other.mask & !self.mask != 0 {
            return false;
        }
        other.value & !self.mask == self.value
    }

    /// Whether `v` is one of the values.
    pub const fn contains_value(self, v: u64) -> bool {
        v & !self.mask == self.value
    }

    /// `self + other`.
    pub fn add(self, other: Tnum) -> Tnum {
        let sm = self.mask.wrapping_add(other.mask);
        let sv = self.value.wrapping_add(other.value);
        let sigma = sm.wrapping_add(sv);
        let chi = sigma ^ sv;
        let mu = chi | self.mask | other.mask;
        Tnum {
            value: sv & !mu,
            mask: mu,
        }
    }

    /// `self - other`.
    pub fn sub(self, other: Tnum) -> Tnum {
        let dv = self.value.wrapping_sub(other.value);
        let alpha = dv.wrapping_add(self.mask);
        let beta = dv.wrapping_sub(other.mask);
        let chi = alpha ^ beta;
        let mu = chi | self.mask | other.mask;
        Tnum {
            value: dv & !mu,
            mask: mu,
        }
    }

    /// `-self`.
    pub fn neg(self) -> Tnum {
        Tnum::constant(0).sub(self)
    }

    /// `self & other`.
    pub fn and(self, other: Tnum) -> Tnum {
        let alpha = self.value | self.mask;
        let beta = other.value | other.mask;
        let v = self.value & other.value;
        Tnum {
            value: v,
            mask: alpha & beta & !v,
        }
    }

    /// `self | other`.
    pub fn or(self, other: Tnum) -> Tnum {
        let v = self.value | other.value;
        let mu = self.mask | other.mask;
        Tnum {
            value: v,
            mask: mu & !v,
        }
    }

    /// `self ^ other`.
    pub fn xor(self, other: Tnum) -> Tnum {
        let v = self.value ^ other.value;
        let mu = self.mask | other.mask;
        Tnum {
            value: v & !mu,
            mask: mu,
        }
    }

    /// `self * other` (shift-and-add over the bits of `self`).
    pub fn mul(self, other: Tnum) -> Tnum {
        let mut a = self;
        let mut b = other;
        let acc_v = a.value.wrapping_mul(b.value);
        let mut acc_m = Tnum::constant(0);
        while a.value != 0 || a.mask != 0 {
            if a.value & 1 != 0 {
                acc_m = acc_m.add(Tnum {
                    value: 0,
                    mask: b.mask,
                });
            } else if a.mask & 1 != 0 {
                acc_m = acc_m.add(Tnum {
                    value: 0,
                    mask: b.value | b.mask,
                });
            }
            a = a.rshift(1);
            b = b.lshift(1);
        }
        Tnum::constant(acc_v).add(acc_m)
    }

    /// `self << n` (n < 64).
    pub fn lshift(self, n: u32) -> Tnum {
        Tnum {
            value: self.value << n,
            mask: self.mask << n,
        }
    }

    /// Logical `self >> n` (n < 64).
    pub fn rshift(self, n: u32) -> Tnum {
        Tnum {
            value: self.value >> n,
            mask: self.mask >> n,
        }
    }

    /// Arithmetic `self >> n` at `bits` width (32 or 64), n < bits; the
    /// result is zero-extended from `bits`.
    pub fn arshift(self, n: u32, bits: u32) -> Tnum {
        if bits == 32 {
            let v = ((self.value as u32 as i32) >> n) as u32 as u64;
            let m = ((self.mask as u32 as i32) >> n) as u32 as u64;
            Tnum { value: v, mask: m }
        } else {
            Tnum {
                value: ((self.value as i64) >> n) as u64,
                mask: ((self.mask as i64) >> n) as u64,
            }
        }
    }

    /// The values both tnums allow, or `None` if they contradict.
    pub fn intersect(self, other: Tnum) -> Option<Tnum> {
        let known_both = !self.mask & !other.mask;
        if (self.value ^ other.value) & known_both != 0 {
            return None;
        }
        let v = self.value | other.value;
        let mu = self.mask & other.mask;
        Some(Tnum {
            value: v & !mu,
            mask: mu,
        })
    }

    /// The smallest tnum containing both.
    pub fn union(self, other: Tnum) -> Tnum {
        let mu = self.mask | other.mask | (self.value ^ other.value);
        Tnum {
            value: self.value & !mu,
            mask: mu,
        }
    }

    /// The low `bytes` bytes, zero-extended.
    pub fn truncate(self, bytes: u32) -> Tnum {
        if bytes >= 8 {
            return self;
        }
        let m = (1u64 << (bytes * 8)) - 1;
        Tnum {
            value: self.value & m,
            mask: self.mask & m,
        }
    }

    /// The low 32 bits (zero-extended).
    pub fn subreg(self) -> Tnum {
        self.truncate(4)
    }

    /// Replace the low 32 bits by those of `low`.
    pub fn with_subreg(self, low: Tnum) -> Tnum {
        let hi = 0xffff_ffff_0000_0000u64;
        Tnum {
            value: (self.value & hi) | (low.value & 0xffff_ffff),
            mask: (self.mask & hi) | (low.mask & 0xffff_ffff),
        }
    }

    /// The smallest value, as unsigned.
    pub const fn umin(self) -> u64 {
        self.value
    }

    /// The largest value, as unsigned.
    pub const fn umax(self) -> u64 {
        self.value | self.mask
    }

    /// The smallest value, as signed.
    pub const fn smin(self) -> i64 {
        let sign = 1u64 << 63;
        (self.value | (self.mask & sign)) as i64
    }

    /// The largest value, as signed.
    pub const fn smax(self) -> i64 {
        let sign = 1u64 << 63;
        (self.value | (self.mask & !sign)) as i64
    }
}

impl fmt::Debug for Tnum {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "({:#x}; {:#x})", self.value, self.mask)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn members(t: Tnum) -> Vec<u64> {
        // Only for small masks.
        let mut out = vec![];
        let bits: Vec<u32> = (0..64).filter(|b| t.mask >> b & 1 == 1).collect();
        for i in 0..(1u64 << bits.len()) {
            let mut v = t.value;
            for (j, b) in bits.iter().enumerate() {
                if i >> j & 1 == 1 {
                    v |= 1 << b;
                }
            }
            out.push(v);
        }
        out
    }

    #[test]
    fn operations_are_sound_on_small_sets() {
        let samples = [
            Tnum::constant(5),
            Tnum { value: 4, mask: 3 },
            Tnum {
                value: 0,
                mask: 0x11,
            },
            Tnum {
                value: 0x80,
                mask: 0x6,
            },
            Tnum::range(3, 9),
            Tnum {
                value: u64::MAX - 7,
                mask: 5,
            },
        ];
        for a in samples {
            for b in samples {
                for x in members(a) {
                    for y in members(b) {
                        assert!(a.add(b).contains_value(x.wrapping_add(y)));
                        assert!(a.sub(b).contains_value(x.wrapping_sub(y)));
                        assert!(a.mul(b).contains_value(x.wrapping_mul(y)));
                        assert!(a.and(b).contains_value(x & y));
                        assert!(a.or(b).contains_value(x | y));
                        assert!(a.xor(b).contains_value(x ^ y));
                        assert!(a.union(b).contains_value(x));
                        assert!(a.union(b).contains_value(y));
                    }
                }
            }
        }
    }

    #[test]
    fn range_covers_its_bounds() {
        let t = Tnum::range(3, 9);
        for v in 3..=9 {
            assert!(t.contains_value(v));
        }
        assert_eq!(Tnum::range(0, u64::MAX), Tnum::UNKNOWN);
        assert_eq!(Tnum::range(7, 7), Tnum::constant(7));
    }

    #[test]
    fn intersect_detects_contradiction() {
        assert!(Tnum::constant(1)
            .intersect(Tnum {
                value: 0,
                mask: 0xe
            })
            .is_none());
        assert_eq!(
            Tnum { value: 0, mask: 3 }.intersect(Tnum { value: 1, mask: 2 }),
            Some(Tnum { value: 1, mask: 2 })
        );
    }
}

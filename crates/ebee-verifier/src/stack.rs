//! One function's 512-byte stack frame, slot by slot: which bytes are
//! uninitialized, hold some number, hold zero, or hold a spilled register.

use crate::reg_state::RegState;
use crate::scalar::Scalar;

/// Size of one frame in bytes.
pub const STACK_SIZE: i64 = 512;

/// What one byte of a slot holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ByteKind {
    /// Never written.
    Invalid,
    /// Some number.
    Misc,
    /// Zero.
    Zero,
    /// Part of a spilled register (the slot's `spill`).
    Spill,
}

/// Eight bytes at an 8-aligned offset.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Slot {
    /// Byte kinds, index 0 is the lowest address.
    pub bytes: [ByteKind; 8],
    /// The register stored by a spill (an 8-byte store of a register, or
    /// a narrower store of a number at the slot's start).
    pub spill: Option<RegState>,
    /// Bytes the spill covers, from the slot's lowest address (0: no spill).
    pub spill_size: u8,
}

impl Slot {
    const EMPTY: Slot = Slot {
        bytes: [ByteKind::Invalid; 8],
        spill: None,
        spill_size: 0,
    };
}

/// One stack frame. Slot 0 holds bytes -8..-1 relative to the frame pointer.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct Frame {
    slots: Vec<Slot>,
}

/// Slot index and byte index within it of the byte at frame offset `off` (-512..-1).
fn locate(off: i64) -> (usize, usize) {
    let below = (-off - 1) as usize; // 0 for -1
    let slot = below / 8;
    let byte = 7 - below % 8;
    (slot, byte)
}

impl Frame {
    /// The slots written so far (deeper ones are all invalid).
    pub fn slots(&self) -> &[Slot] {
        &self.slots
    }

    fn slot_mut(&mut self, i: usize) -> &mut Slot {
        if self.slots.len() <= i {
            self.slots.resize(i + 1, Slot::EMPTY);
        }
        &mut self.slots[i]
    }

    /// The slot at index `i` (may be beyond the written ones).
    pub fn slot(&self, i: usize) -> &Slot {
        self.slots.get(i).unwrap_or(&Slot::EMPTY)
    }

    /// The kind of the byte at `off`.
    pub fn byte(&self, off: i64) -> ByteKind {
        let (s, b) = locate(off);
        self.slot(s).bytes[b]
    }

    /// If `off..off+8` is exactly one slot holding a spilled register, it.
    pub fn spilled(&self, off: i64) -> Option<&RegState> {
        if off % 8 != 0 {
            return None;
        }
        let (s, _) = locate(off);
        let slot = self.slot(s);
        if slot.spill_size == 8 && slot.bytes.iter().all(|b| *b == ByteKind::Spill) {
            slot.spill.as_ref()
        } else {
            None
        }
    }

    /// If a number of exactly `size` bytes was spilled at `off` (the start
    /// of a slot), it.
    pub fn spilled_narrow(&self, off: i64, size: u8) -> Option<&RegState> {
        if off % 8 != 0 {
            return None;
        }
        let (s, _) = locate(off);
        let slot = self.slot(s);
        (slot.spill_size == size
            && slot.bytes[..size as usize]
                .iter()
                .all(|b| *b == ByteKind::Spill))
        .then_some(slot.spill.as_ref())
        .flatten()
    }

    /// Whether any byte of `off..off+size` is part of a spilled pointer.
    pub fn overlaps_spilled_pointer(&self, off: i64, size: i64) -> bool {
        (off..off + size).any(|o| {
            let (s, b) = locate(o);
            let slot = self.slot(s);
            slot.bytes[b] == ByteKind::Spill && matches!(slot.spill, Some(RegState::Ptr(_)))
        })
    }

    /// Store register `value` with an 8-byte aligned write: a spill.
    pub fn spill(&mut self, off: i64, value: RegState) {
        let (s, _) = locate(off);
        let slot = self.slot_mut(s);
        slot.bytes = [ByteKind::Spill; 8];
        slot.spill = Some(value);
        slot.spill_size = 8;
    }

    /// Store a number of `size` (< 8) bytes at `off`, the start of a slot,
    /// remembering its value as Linux does for privileged programs.
    pub fn spill_narrow(&mut self, off: i64, value: RegState, size: u8) {
        self.write_bytes(off, size as i64, false);
        let (s, _) = locate(off);
        let slot = self.slot_mut(s);
        for b in slot.bytes[..size as usize].iter_mut() {
            *b = ByteKind::Spill;
        }
        slot.spill = Some(value);
        slot.spill_size = size;
    }

    /// Mark `off..off+size` as written with a number (zero if `zero`).
    /// A partially overwritten spill turns into bytes of some number, even
    /// when the spilled number was zero, as in Linux (which then rejects
    /// what relies on them being zero).
    pub fn write_bytes(&mut self, off: i64, size: i64, zero: bool) {
        for o in off..off + size {
            let (s, b) = locate(o);
            let slot = self.slot_mut(s);
            if slot.spill.is_some() {
                for k in slot.bytes.iter_mut() {
                    if *k == ByteKind::Spill {
                        *k = ByteKind::Misc;
                    }
                }
                slot.spill = None;
                slot.spill_size = 0;
            }
            slot.bytes[b] = if zero { ByteKind::Zero } else { ByteKind::Misc };
        }
    }

    /// Forget what `off..off+size` may hold after a write we cannot place
    /// exactly (variable offset, helper output): every byte becomes a number.
    pub fn clobber(&mut self, off: i64, size: i64) {
        self.write_bytes(off, size, false)
    }

    /// Read `off..off+size` as a number: `None` if a byte is invalid (and
    /// `allow_uninit` is false), else the value (zero if all bytes are zero).
    pub fn read_scalar(&self, off: i64, size: i64, allow_uninit: bool) -> Option<Scalar> {
        let mut all_zero = true;
        for o in off..off + size {
            match self.byte(o) {
                ByteKind::Invalid if !allow_uninit => return None,
                ByteKind::Zero => {}
                ByteKind::Spill => {
                    let (s, _) = locate(o);
                    match self.slot(s).spill {
                        Some(RegState::Scalar { value, .. }) if value.is_zero() => {}
                        _ => all_zero = false,
                    }
                }
                _ => all_zero = false,
            }
        }
        Some(if all_zero {
            Scalar::constant(0)
        } else {
            Scalar::UNKNOWN
        })
    }

    /// Lowest offset written so far (0 if none).
    pub fn depth(&self) -> i64 {
        -(self.slots.len() as i64 * 8)
    }

    /// Apply `f` to the register spilled in slot `i`, if any.
    pub fn widen_spill(&mut self, i: usize, f: impl FnOnce(&mut RegState)) {
        if let Some(r) = self.slots.get_mut(i).and_then(|s| s.spill.as_mut()) {
            f(r);
        }
    }

    /// Every spilled register, mutably (to update copies after a check).
    pub fn spills_mut(&mut self) -> impl Iterator<Item = &mut RegState> {
        self.slots.iter_mut().filter_map(|s| s.spill.as_mut())
    }

    /// Every spilled register.
    pub fn spills(&self) -> impl Iterator<Item = &RegState> {
        self.slots.iter().filter_map(|s| s.spill.as_ref())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bytes_and_spills() {
        let mut f = Frame::default();
        assert_eq!(f.read_scalar(-8, 8, false), None);
        f.write_bytes(-8, 4, true);
        assert_eq!(f.read_scalar(-8, 4, false), Some(Scalar::constant(0)));
        assert_eq!(f.read_scalar(-8, 8, false), None);
        f.spill(-16, RegState::constant(7));
        assert_eq!(f.spilled(-16), Some(&RegState::constant(7)));
        f.write_bytes(-12, 1, false);
        assert_eq!(f.spilled(-16), None);
        assert_eq!(f.byte(-12), ByteKind::Misc);
        assert_eq!(f.byte(-16), ByteKind::Misc);
        assert_eq!(f.depth(), -16);
    }
}

//! The Rust side of one run: the memory regions, the helpers and the fault
//! that stopped the run, reached from native code through `JitContext::host`.

use crate::context::FRAME_SIZE;
use crate::error::ExecError;
use crate::helpers::Helpers;
use crate::runtime_calls::{AccessKind, FaultCode};
use ebee_isa::Insn;

/// A memory range a run may access.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Region {
    pub lo: u64,
    pub len: u64,
    pub writable: bool,
}

impl Region {
    fn contains(&self, addr: u64, size: u64) -> bool {
        self.len >= size && addr.wrapping_sub(self.lo) <= self.len - size
    }
}

pub(crate) struct RunState<'a> {
    pub insns: &'a [Insn],
    pub helpers: &'a Helpers,
    /// The whole frame area.
    pub stack: Region,
    /// The input buffer.
    pub input: Region,
    pub budget: u64,
    pub max_frames: usize,
    pub fault: Option<ExecError>,
}

impl RunState<'_> {
    pub fn record_fault(&mut self, code: FaultCode, pc: usize, _value: u64) {
        self.fault = Some(match code {
            FaultCode::FellOffEnd => ExecError::FellOffEnd { pc },
            FaultCode::CallDepth => ExecError::CallDepth {
                pc,
                max: self.max_frames,
            },
            FaultCode::Kfunc => ExecError::Kfunc { pc },
        });
    }

    pub fn check_access(&mut self, addr: u64, size: u64, pc: usize, kind: AccessKind) -> bool {
        let write = kind == AccessKind::Write;
        let ok = [self.stack, self.input]
            .iter()
            .any(|r| r.contains(addr, size) && (!write || r.writable));
        if !ok {
            self.fault = Some(ExecError::OutOfBounds {
                pc,
                addr,
                size,
                write,
            });
        }
        ok
    }

    pub fn budget_exhausted(&mut self, block_start: usize, left: u64) {
        // The instruction that would exceed the budget is `left` instructions
        // into the block (a `lddw` counts once).
        let mut pc = block_start;
        for _ in 0..left {
            pc += self.insns.get(pc).map_or(1, |i| i.slots().max(1));
        }
        self.fault = Some(ExecError::BudgetExhausted {
            pc,
            budget: self.budget,
        });
    }

    pub fn packet_load(&mut self, offset: u64, size: u64, pc: usize) -> Option<u64> {
        let input = self.input;
        if !input.contains(input.lo.wrapping_add(offset), size) {
            self.fault = Some(ExecError::PacketOutOfBounds { pc, offset, size });
            return None;
        }
        // SAFETY: `contains` checked that the `size` bytes lie inside the
        // input buffer, which the run borrows mutably for its duration.
        let bytes =
            unsafe { std::slice::from_raw_parts((input.lo + offset) as *const u8, size as usize) };
        Some(bytes.iter().fold(0u64, |v, b| v << 8 | *b as u64))
    }

    pub fn call_helper(&mut self, id: u64, args: [u64; 5], pc: usize) -> Option<u64> {
        let Some(f) = self.helpers.get(id) else {
            self.fault = Some(ExecError::UnknownHelper { pc, id });
            return None;
        };
        match f(args) {
            Ok(r0) => Some(r0),
            Err(message) => {
                self.fault = Some(ExecError::HelperFailed { pc, id, message });
                None
            }
        }
    }

    pub fn helper_panicked(&mut self, id: u64, pc: usize) {
        self.fault = Some(ExecError::HelperFailed {
            pc,
            id,
            message: "the helper panicked".into(),
        });
    }
}

/// Bytes in a frame area of `frames` frames.
pub(crate) fn frame_area_len(frames: usize) -> usize {
    frames * FRAME_SIZE as usize
}

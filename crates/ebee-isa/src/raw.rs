//! The 8-byte wire format of one instruction slot (`struct bpf_insn`).

/// One 8-byte instruction slot as it is on the wire, fields unvalidated.
///
/// Layout (little-endian): `code:8 dst:4 src:4 off:16 imm:32`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct RawInsn {
    /// The opcode byte.
    pub code: u8,
    /// Destination register field (0–15 as encoded).
    pub dst: u8,
    /// Source register field (0–15 as encoded).
    pub src: u8,
    /// Signed 16-bit offset.
    pub off: i16,
    /// Signed 32-bit immediate.
    pub imm: i32,
}

impl RawInsn {
    /// Size of one slot in bytes.
    pub const SIZE: usize = 8;

    /// A slot from its fields.
    pub const fn new(code: u8, dst: u8, src: u8, off: i16, imm: i32) -> RawInsn {
        RawInsn {
            code,
            dst,
            src,
            off,
            imm,
        }
    }

    /// Reads one slot from 8 little-endian bytes.
    pub fn from_bytes(b: [u8; 8]) -> RawInsn {
        RawInsn {
            code: b[0],
            dst: b[1] & 0x0f,
            src: b[1] >> 4,
            off: i16::from_le_bytes([b[2], b[3]]),
            imm: i32::from_le_bytes([b[4], b[5], b[6], b[7]]),
        }
    }

    /// The 8 little-endian bytes of this slot.
    pub fn to_bytes(self) -> [u8; 8] {
        let off = self.off.to_le_bytes();
        let imm = self.imm.to_le_bytes();
        [
            self.code,
            (self.dst & 0x0f) | (self.src << 4),
            off[0],
            off[1],
            imm[0],
            imm[1],
            imm[2],
            imm[3],
        ]
    }

    /// The slot as one 64-bit word, as `-- raw` sections and objdump show it
    /// (byte 0 in the low bits).
    pub fn to_u64(self) -> u64 {
        u64::from_le_bytes(self.to_bytes())
    }

    /// A slot from one 64-bit word (byte 0 in the low bits).
    pub fn from_u64(w: u64) -> RawInsn {
        RawInsn::from_bytes(w.to_le_bytes())
    }

    /// The instruction class (low 3 bits of the opcode).
    pub const fn class(self) -> u8 {
        self.code & 0x07
    }
}

/// Splits bytes into slots; `None` if the length is not a multiple of 8.
pub fn slots_from_bytes(bytes: &[u8]) -> Option<Vec<RawInsn>> {
    if !bytes.len().is_multiple_of(RawInsn::SIZE) {
        return None;
    }
    Some(
        bytes
            .chunks_exact(RawInsn::SIZE)
            .map(|c| RawInsn::from_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]))
            .collect(),
    )
}

/// Joins slots into their wire bytes.
pub fn slots_to_bytes(slots: &[RawInsn]) -> Vec<u8> {
    slots.iter().flat_map(|s| s.to_bytes()).collect()
}

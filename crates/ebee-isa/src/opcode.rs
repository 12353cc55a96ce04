//! The numbers of the wire format: instruction classes, operation codes,
//! sizes, modes and the special immediates, exactly as Linux's
//! `include/uapi/linux/bpf.h` and RFC 9669 define them.
//!
//! These constants are the single place where encoding numbers live; the
//! typed [`Insn`](crate::Insn) is built from and turned back into them.

/// Instruction classes (the low 3 bits of the opcode).
pub mod class {
    /// Non-standard loads: `lddw` and the legacy packet loads.
    pub const LD: u8 = 0x00;
    /// Loads from memory into a register.
    pub const LDX: u8 = 0x01;
    /// Stores of an immediate into memory.
    pub const ST: u8 = 0x02;
    /// Stores of a register into memory, and atomics.
    pub const STX: u8 = 0x03;
    /// 32-bit arithmetic.
    pub const ALU: u8 = 0x04;
    /// 64-bit jumps, calls and exit.
    pub const JMP: u8 = 0x05;
    /// 32-bit jumps (and `gotol`).
    pub const JMP32: u8 = 0x06;
    /// 64-bit arithmetic.
    pub const ALU64: u8 = 0x07;
}

/// The source bit of arithmetic and jump opcodes.
pub mod source {
    /// The operand is the 32-bit immediate.
    pub const K: u8 = 0x00;
    /// The operand is the source register.
    pub const X: u8 = 0x08;
}

/// Arithmetic operation codes (the high 4 bits of an ALU/ALU64 opcode).
pub mod alu {
    /// `dst += src`
    pub const ADD: u8 = 0x00;
    /// `dst -= src`
    pub const SUB: u8 = 0x10;
    /// `dst *= src`
    pub const MUL: u8 = 0x20;
    /// `dst /= src` (offset 1: signed)
    pub const DIV: u8 = 0x30;
    /// `dst |= src`
    pub const OR: u8 = 0x40;
    /// `dst &= src`
    pub const AND: u8 = 0x50;
    /// `dst <<= src`
    pub const LSH: u8 = 0x60;
    /// `dst >>= src` (logical)
    pub const RSH: u8 = 0x70;
    /// `dst = -dst`
    pub const NEG: u8 = 0x80;
    /// `dst %= src` (offset 1: signed)
    pub const MOD: u8 = 0x90;
    /// `dst ^= src`
    pub const XOR: u8 = 0xa0;
    /// `dst = src` (offset 8/16/32: sign-extending)
    pub const MOV: u8 = 0xb0;
    /// `dst >>= src` (arithmetic)
    pub const ARSH: u8 = 0xc0;
    /// Byte order conversion.
    pub const END: u8 = 0xd0;
}

/// Jump operation codes (the high 4 bits of a JMP/JMP32 opcode).
pub mod jmp {
    /// Unconditional jump.
    pub const JA: u8 = 0x00;
    /// `==`
    pub const JEQ: u8 = 0x10;
    /// unsigned `>`
    pub const JGT: u8 = 0x20;
    /// unsigned `>=`
    pub const JGE: u8 = 0x30;
    /// `dst & src != 0`
    pub const JSET: u8 = 0x40;
    /// `!=`
    pub const JNE: u8 = 0x50;
    /// signed `>`
    pub const JSGT: u8 = 0x60;
    /// signed `>=`
    pub const JSGE: u8 = 0x70;
    /// Function call.
    pub const CALL: u8 = 0x80;
    /// Return.
    pub const EXIT: u8 = 0x90;
    /// unsigned `<`
    pub const JLT: u8 = 0xa0;
    /// unsigned `<=`
    pub const JLE: u8 = 0xb0;
    /// signed `<`
    pub const JSLT: u8 = 0xc0;
    /// signed `<=`
    pub const JSLE: u8 = 0xd0;
    /// Conditional pseudo jumps (`may_goto`).
    pub const JCOND: u8 = 0xe0;
}

/// Access sizes of loads and stores (bits 3–4 of the opcode).
pub mod size {
    /// 4 bytes.
    pub const W: u8 = 0x00;
    /// 2 bytes.
    pub const H: u8 = 0x08;
    /// 1 byte.
    pub const B: u8 = 0x10;
    /// 8 bytes.
    pub const DW: u8 = 0x18;
}

/// Addressing modes of loads and stores (bits 5–7 of the opcode).
pub mod mode {
    /// 64-bit immediate (`lddw`).
    pub const IMM: u8 = 0x00;
    /// Legacy packet load at an absolute offset.
    pub const ABS: u8 = 0x20;
    /// Legacy packet load at a register-relative offset.
    pub const IND: u8 = 0x40;
    /// Regular memory access.
    pub const MEM: u8 = 0x60;
    /// Sign-extending memory load.
    pub const MEMSX: u8 = 0x80;
    /// Atomic operation.
    pub const ATOMIC: u8 = 0xc0;
}

/// Immediates of atomic instructions.
pub mod atomic {
    /// Flag: the old value is returned in the source register.
    pub const FETCH: i32 = 0x01;
    /// Atomic add.
    pub const ADD: i32 = 0x00;
    /// Atomic or.
    pub const OR: i32 = 0x40;
    /// Atomic and.
    pub const AND: i32 = 0x50;
    /// Atomic xor.
    pub const XOR: i32 = 0xa0;
    /// Atomic exchange (always fetches).
    pub const XCHG: i32 = 0xe0 | FETCH;
    /// Atomic compare-and-exchange against r0 (always fetches).
    pub const CMPXCHG: i32 = 0xf0 | FETCH;
    /// Load-acquire.
    pub const LOAD_ACQ: i32 = 0x100;
    /// Store-release.
    pub const STORE_REL: i32 = 0x110;
}

/// Source-register values of `lddw` (Linux's `BPF_PSEUDO_*`).
pub mod pseudo {
    /// `imm` is a plain 64-bit constant.
    pub const IMM: u8 = 0;
    /// `imm` is a map file descriptor.
    pub const MAP_FD: u8 = 1;
    /// `imm` is a map file descriptor, the second slot an offset into its value.
    pub const MAP_VALUE: u8 = 2;
    /// `imm` is a BTF id of a kernel variable.
    pub const BTF_ID: u8 = 3;
    /// `imm` is the instruction offset of a function.
    pub const FUNC: u8 = 4;
    /// `imm` is an index into the program's map array.
    pub const MAP_IDX: u8 = 5;
    /// `imm` is a map index, the second slot an offset into its value.
    pub const MAP_IDX_VALUE: u8 = 6;
    /// `call` source register: a helper by id.
    pub const CALL_HELPER: u8 = 0;
    /// `call` source register: a local (bpf-to-bpf) function.
    pub const CALL_LOCAL: u8 = 1;
    /// `call` source register: a kernel function by BTF id.
    pub const CALL_KFUNC: u8 = 2;
}

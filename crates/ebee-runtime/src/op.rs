//! The interpreter's internal instruction form: 16 bytes per slot, one
//! opcode per (operation, width, operand kind), jump targets resolved to
//! absolute pcs, immediates pre-extended to the width they are used at.
//!
//! Built once by [`crate::lower`]; the dispatch loop (`interpreter.rs`) is
//! one `match` on [`OpCode`].

use ebee_isa::{AtomicOp, Size};

/// The operation of one [`Op`]. `Imm` forms take their operand from
/// [`Op::imm`], `Reg` forms from register [`Op::src`].
#[allow(missing_docs)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub(crate) enum OpCode {
    // 64-bit arithmetic
    Add64Imm,
    Add64Reg,
    Sub64Imm,
    Sub64Reg,
    Mul64Imm,
    Mul64Reg,
    Div64Imm,
    Div64Reg,
    SDiv64Imm,
    SDiv64Reg,
    Mod64Imm,
    Mod64Reg,
    SMod64Imm,
    SMod64Reg,
    Or64Imm,
    Or64Reg,
    And64Imm,
    And64Reg,
    Xor64Imm,
    Xor64Reg,
    Lsh64Imm,
    Lsh64Reg,
    Rsh64Imm,
    Rsh64Reg,
    Arsh64Imm,
    Arsh64Reg,
    Mov64Imm,
    Mov64Reg,
    MovSx8To64,
    MovSx16To64,
    MovSx32To64,
    Neg64,
    // 32-bit arithmetic (results zero-extended)
    Add32Imm,
    Add32Reg,
    Sub32Imm,
    Sub32Reg,
    Mul32Imm,
    Mul32Reg,
    Div32Imm,
    Div32Reg,
    SDiv32Imm,
    SDiv32Reg,
    Mod32Imm,
    Mod32Reg,
    SMod32Imm,
    SMod32Reg,
    Or32Imm,
    Or32Reg,
    And32Imm,
    And32Reg,
    Xor32Imm,
    Xor32Reg,
    Lsh32Imm,
    Lsh32Reg,
    Rsh32Imm,
    Rsh32Reg,
    Arsh32Imm,
    Arsh32Reg,
    Mov32Reg,
    MovSx8To32,
    MovSx16To32,
    Neg32,
    /// `lddw`: `dst = imm`, then skip the second slot.
    LdDw,
    // byte order
    Le16,
    Le32,
    Le64,
    Be16,
    Be32,
    Be64,
    Swap16,
    Swap32,
    Swap64,
    // memory
    LdxB,
    LdxH,
    LdxW,
    LdxDw,
    LdxsB,
    LdxsH,
    LdxsW,
    StxB,
    StxH,
    StxW,
    StxDw,
    StB,
    StH,
    StW,
    StDw,
    /// `imm` packs the size and operation ([`pack_atomic`]).
    Atomic,
    // If-conversions (see [`crate::lower`]'s `fuse_skips`): a conditional
    // jump over the next one or two register moves, as one op that does
    // the moves unless the jump's condition holds, choosing the result
    // with a conditional move instead of a host branch. `dst`, `src` and
    // `imm` are the jump's, `off` its condition as a [`CondMask`]; the
    // moves are read from the slots after this.
    /// Skips `dst = imm` (the next slot, a `Mov64Imm`).
    SkipMovImm,
    /// Skips `dst = src` (the next slot, a `Mov64Reg`).
    SkipMovReg,
    /// Skips `a = b; a op= imm` (a `Mov64Reg` and a 64-bit ALU op with an
    /// immediate on the same register, see [`alu64_imm`]).
    SkipMovAlu,
    /// `dst = imm` fused with the `SkipMov*` op after it (the idiom
    /// `x = a; if c goto +1; x = b`): `off` is the number of slots that op
    /// covers. In precise budget mode only the move.
    MovImmSkip,
    /// `dst = src` fused with the `SkipMov*` op after it, as
    /// [`OpCode::MovImmSkip`].
    MovRegSkip,
    /// Legacy packet load: `off` the size in bytes, negated when `src` is
    /// an index register (`ldind`) rather than unused (`ldabs`); `imm` the
    /// offset.
    LdPacket,
    // control flow (kept last: `Op::ends_run` relies on it)
    Ja,
    JeqImm,
    JeqReg,
    JgtImm,
    JgtReg,
    JgeImm,
    JgeReg,
    JsetImm,
    JsetReg,
    JneImm,
    JneReg,
    JsgtImm,
    JsgtReg,
    JsgeImm,
    JsgeReg,
    JltImm,
    JltReg,
    JleImm,
    JleReg,
    JsltImm,
    JsltReg,
    JsleImm,
    JsleReg,
    Jeq32Imm,
    Jeq32Reg,
    Jgt32Imm,
    Jgt32Reg,
    Jge32Imm,
    Jge32Reg,
    Jset32Imm,
    Jset32Reg,
    Jne32Imm,
    Jne32Reg,
    Jsgt32Imm,
    Jsgt32Reg,
    Jsge32Imm,
    Jsge32Reg,
    Jlt32Imm,
    Jlt32Reg,
    Jle32Imm,
    Jle32Reg,
    Jslt32Imm,
    Jslt32Reg,
    Jsle32Imm,
    Jsle32Reg,
    /// Local call to `target`.
    CallLocal,
    /// Helper call; `imm` is the id.
    CallHelper,
    /// Helper call; register `src` holds the id.
    CallX,
    MayGoto,
    Exit,
    /// The root of a decision tree (see [`crate::lower`]'s `build_switches`):
    /// a conditional jump on register `dst` with an immediate, followed by
    /// further such jumps on the same register, replaced by one table
    /// lookup. `imm` is the lowest value in the table, `off` the index of
    /// its [`SwitchTable`] block after the program.
    Switch,
    /// A slot of a [`SwitchTable`] block: data, never executed.
    Data,
    /// The second slot of `lddw`: never reached (jumps into it are rejected
    /// at load), an error if it ever were.
    Imm64Tail,
    /// One past the last instruction: falling into it is an error.
    FellOffEnd,
}

/// A register index, 0 to 15. An enum rather than a `u8` so that the
/// compiler knows its range: indexing the 16-entry register file with it
/// needs neither a bounds check nor a mask (only 0 to 10 are ever built).
#[allow(missing_docs)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub(crate) enum RegIndex {
    R0,
    R1,
    R2,
    R3,
    R4,
    R5,
    R6,
    R7,
    R8,
    R9,
    R10,
    R11,
    R12,
    R13,
    R14,
    R15,
}

impl RegIndex {
    /// The index of register `n`, taken modulo 16.
    pub const fn new(n: u8) -> RegIndex {
        use RegIndex::*;
        match n & 15 {
            0 => R0,
            1 => R1,
            2 => R2,
            3 => R3,
            4 => R4,
            5 => R5,
            6 => R6,
            7 => R7,
            8 => R8,
            9 => R9,
            10 => R10,
            11 => R11,
            12 => R12,
            13 => R13,
            14 => R14,
            _ => R15,
        }
    }

    /// As an array index.
    #[inline(always)]
    pub const fn get(self) -> usize {
        self as usize
    }
}

/// One instruction in internal form.
#[derive(Debug, Clone, Copy)]
#[repr(C)]
pub(crate) struct Op {
    pub code: OpCode,
    pub dst: RegIndex,
    pub src: RegIndex,
    /// How many instructions run straight from this one: this one and the
    /// following ones up to and including the next control-flow op (a
    /// `lddw` counts once). The interpreter charges the budget this much
    /// when control arrives here by a jump, call, return or program start.
    /// [`LONG_RUN`] when the run is that long or longer.
    pub run: u8,
    /// Memory offset (sign-extended), or absolute jump/call target.
    pub off: i32,
    /// Immediate, extended to the width of the operation.
    pub imm: u64,
}

impl Op {
    pub const fn new(code: OpCode, dst: u8, src: u8, off: i32, imm: u64) -> Op {
        Op {
            code,
            dst: RegIndex::new(dst),
            src: RegIndex::new(src),
            run: 1,
            off,
            imm,
        }
    }

    /// Whether control may leave the straight line after this op (a
    /// jump, call, exit, `may_goto`, legacy packet load or end marker):
    /// the op after it is charged on its own.
    pub fn ends_run(&self) -> bool {
        // Every opcode from `Ja` on is control flow (the enum keeps them last).
        self.code == OpCode::LdPacket || self.code as u8 >= OpCode::Ja as u8
    }

    /// How many instructions this op stands for (2 for `lddw`, counted
    /// as one instruction, is the number of slots instead: see
    /// [`Op::slots`]).
    pub fn insns(&self) -> u8 {
        match self.code {
            OpCode::SkipMovImm | OpCode::SkipMovReg => 2,
            OpCode::SkipMovAlu => 3,
            OpCode::MovImmSkip | OpCode::MovRegSkip => 1 + self.off as u8,
            _ => 1,
        }
    }

    /// How many slots this op covers: the next op on the straight line is
    /// this many slots on.
    pub fn slots(&self) -> usize {
        match self.code {
            OpCode::LdDw | OpCode::SkipMovImm | OpCode::SkipMovReg => 2,
            OpCode::SkipMovAlu => 3,
            OpCode::MovImmSkip | OpCode::MovRegSkip => 1 + self.off as usize,
            _ => 1,
        }
    }

    /// The jump or call target.
    #[inline(always)]
    pub fn target(&self) -> usize {
        self.off as u32 as usize
    }
}

const _: () = assert!(std::mem::size_of::<Op>() == 16);

/// The slots after the program that hold one [`OpCode::Switch`]'s table,
/// starting at the index in the switch's `off`: the original root jump
/// (executed when the value is outside the table, or in precise budget
/// mode); a header whose `imm` is the number of entries; then one entry per
/// value from the switch's `imm` up, whose `off` is the pc where the tree
/// leads for that value and `imm` how many more instructions (jumps after
/// the root) the tree executes on the way.
pub(crate) struct SwitchTable;

impl SwitchTable {
    /// Slots before the first entry: the original jump and the header.
    pub const HEADER_SLOTS: usize = 2;
}

/// Whether the conditional jump `code` is taken with `a` in its `dst`
/// register and `b` as its second operand (the immediate or `src`); `None`
/// for any other op. (The interpreter's handlers inline the same
/// conditions; a test checks they agree.)
pub(crate) fn jump_holds(code: OpCode, a: u64, b: u64) -> Option<bool> {
    use OpCode::*;
    let (a32, b32) = (a as u32, b as u32);
    Some(match code {
        JeqImm | JeqReg => a == b,
        JgtImm | JgtReg => a > b,
        JgeImm | JgeReg => a >= b,
        JsetImm | JsetReg => a & b != 0,
        JneImm | JneReg => a != b,
        JsgtImm | JsgtReg => (a as i64) > b as i64,
        JsgeImm | JsgeReg => (a as i64) >= b as i64,
        JltImm | JltReg => a < b,
        JleImm | JleReg => a <= b,
        JsltImm | JsltReg => (a as i64) < b as i64,
        JsleImm | JsleReg => (a as i64) <= b as i64,
        Jeq32Imm | Jeq32Reg => a32 == b32,
        Jgt32Imm | Jgt32Reg => a32 > b32,
        Jge32Imm | Jge32Reg => a32 >= b32,
        Jset32Imm | Jset32Reg => a32 & b32 != 0,
        Jne32Imm | Jne32Reg => a32 != b32,
        Jsgt32Imm | Jsgt32Reg => (a32 as i32) > b32 as i32,
        Jsge32Imm | Jsge32Reg => (a32 as i32) >= b32 as i32,
        Jlt32Imm | Jlt32Reg => a32 < b32,
        Jle32Imm | Jle32Reg => a32 <= b32,
        Jslt32Imm | Jslt32Reg => (a32 as i32) < (b32 as i32),
        Jsle32Imm | Jsle32Reg => (a32 as i32) <= (b32 as i32),
        _ => return None,
    })
}

/// A conditional jump's condition in a form evaluated without a host
/// branch: bits 0-15 say, for each combination of the four comparison
/// flags (equal, unsigned less, signed less, any common bit set; index
/// `eq | ult << 1 | slt << 2 | set << 3`), whether the jump is taken; bit
/// 16 marks a 32-bit comparison, bit 17 a register operand.
pub(crate) struct CondMask;

impl CondMask {
    const W32: i32 = 1 << 16;
    const REG: i32 = 1 << 17;

    /// The mask of conditional jump `code`; `None` for other ops.
    pub fn of(code: OpCode) -> Option<i32> {
        // Every condition is a function of the four flags: its mask is
        // read off `jump_holds` on operands producing each combination.
        use OpCode::*;
        let is_reg = is_cond_jump(code) && !is_imm_jump(code);
        let w32 = matches!(
            code,
            Jeq32Imm
                | Jeq32Reg
                | Jgt32Imm
                | Jgt32Reg
                | Jge32Imm
                | Jge32Reg
                | Jset32Imm
                | Jset32Reg
                | Jne32Imm
                | Jne32Reg
                | Jsgt32Imm
                | Jsgt32Reg
                | Jsge32Imm
                | Jsge32Reg
                | Jlt32Imm
                | Jlt32Reg
                | Jle32Imm
                | Jle32Reg
                | Jslt32Imm
                | Jslt32Reg
                | Jsle32Imm
                | Jsle32Reg
        );
        // Operand pairs giving every possible combination of flags, in
        // the whole values and in their low halves (equal with and without
        // bits set; less and greater with the same signs; less unsigned
        // but greater signed and the reverse; each with and without a
        // common bit).
        const H: u64 = 1 << 63;
        const M: u64 = u64::MAX;
        const H32: u64 = 1 << 31;
        const M32: u64 = 0xffff_ffff;
        let pairs: [(u64, u64); 14] = [
            (0, 0),
            (5, 5),
            (1, 2),
            (1, 3),
            (2, 1),
            (3, 1),
            (1, M),
            (0, M),
            (M, 1),
            (H, 1),
            (1, M32),
            (0, M32),
            (M32, 1),
            (H32, 1),
        ];
        let shift = if w32 { 32 } else { 0 };
        let mut mask = 0i32;
        for (a, b) in pairs {
            if jump_holds(code, a, b)? {
                mask |= 1 << CondMask::index(a, b, shift);
            }
        }
        Some(mask | if w32 { CondMask::W32 } else { 0 } | if is_reg { CondMask::REG } else { 0 })
    }

    /// The flag combination of operands `a` and `b` shifted left by
    /// `shift` (32 for a 32-bit comparison: the low halves then compare
    /// as the whole values do).
    #[inline(always)]
    pub fn index(a: u64, b: u64, shift: u32) -> u32 {
        let (a, b) = (a << shift, b << shift);
        (a == b) as u32
            | ((a < b) as u32) << 1
            | (((a as i64) < (b as i64)) as u32) << 2
            | ((a & b != 0) as u32) << 3
    }

    /// Whether the jump with mask `mask` is taken with `a` in its `dst` and
    /// `b` as its operand.
    #[inline(always)]
    pub fn holds(mask: i32, a: u64, b: u64) -> bool {
        let shift = ((mask & CondMask::W32) >> 11) as u32; // 32 or 0
        mask >> CondMask::index(a, b, shift) & 1 == 1
    }

    /// Whether the operand is register `src` rather than `imm`.
    #[inline(always)]
    pub fn is_reg(mask: i32) -> bool {
        mask & CondMask::REG != 0
    }
}

/// `a op imm` for the 64-bit ALU ops with an immediate that
/// [`OpCode::SkipMovAlu`] fuses (`imm` as lowering extended it); `None`
/// for other ops.
#[inline(always)]
pub(crate) fn alu64_imm(code: OpCode, a: u64, imm: u64) -> Option<u64> {
    use OpCode::*;
    Some(match code {
        Add64Imm => a.wrapping_add(imm),
        Sub64Imm => a.wrapping_sub(imm),
        And64Imm => a & imm,
        Or64Imm => a | imm,
        Xor64Imm => a ^ imm,
        Lsh64Imm => a << (imm & 63),
        Rsh64Imm => a >> (imm & 63),
        Arsh64Imm => ((a as i64) >> (imm & 63)) as u64,
        _ => return None,
    })
}

/// Whether `code` is a conditional jump (either operand kind).
pub(crate) fn is_cond_jump(code: OpCode) -> bool {
    jump_holds(code, 0, 0).is_some()
}

/// Whether `code` is a conditional jump comparing with an immediate.
pub(crate) fn is_imm_jump(code: OpCode) -> bool {
    use OpCode::*;
    matches!(
        code,
        JeqImm
            | JgtImm
            | JgeImm
            | JsetImm
            | JneImm
            | JsgtImm
            | JsgeImm
            | JltImm
            | JleImm
            | JsltImm
            | JsleImm
            | Jeq32Imm
            | Jgt32Imm
            | Jge32Imm
            | Jset32Imm
            | Jne32Imm
            | Jsgt32Imm
            | Jsge32Imm
            | Jlt32Imm
            | Jle32Imm
            | Jslt32Imm
            | Jsle32Imm
    )
}

/// [`Op::run`] of a run of this many instructions or more: the interpreter
/// counts such runs one instruction at a time.
pub(crate) const LONG_RUN: u8 = u8::MAX;

/// Packs an atomic's size and operation into an immediate.
pub(crate) fn pack_atomic(size: Size, op: AtomicOp) -> u64 {
    let op = match op {
        AtomicOp::Add { fetch } => fetch as u64,
        AtomicOp::Or { fetch } => 2 | fetch as u64,
        AtomicOp::And { fetch } => 4 | fetch as u64,
        AtomicOp::Xor { fetch } => 6 | fetch as u64,
        AtomicOp::Xchg => 8,
        AtomicOp::CmpXchg => 9,
        AtomicOp::LoadAcquire => 10,
        AtomicOp::StoreRelease => 11,
    };
    (op << 8) | size.bytes() as u64
}

/// The inverse of [`pack_atomic`].
pub(crate) fn unpack_atomic(imm: u64) -> (Size, AtomicOp) {
    let size = Size::from_bytes((imm & 0xff) as u32).unwrap_or(Size::DW);
    let fetch = imm >> 8 & 1 == 1;
    let op = match imm >> 8 {
        0 | 1 => AtomicOp::Add { fetch },
        2 | 3 => AtomicOp::Or { fetch },
        4 | 5 => AtomicOp::And { fetch },
        6 | 7 => AtomicOp::Xor { fetch },
        8 => AtomicOp::Xchg,
        9 => AtomicOp::CmpXchg,
        10 => AtomicOp::LoadAcquire,
        _ => AtomicOp::StoreRelease,
    };
    (size, op)
}

//! The typed instruction: what one eBPF instruction means, independent of
//! how its bits are laid out.
//!
//! Every consumer (assembler, disassembler, interpreter, verifier, JIT)
//! matches on [`Insn`]; only `decode.rs` and `encode.rs` know the bits.

use std::fmt;

/// A register, `r0` to `r10`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Reg(u8);

impl Reg {
    /// Return value, and the exit value of a program.
    pub const R0: Reg = Reg(0);
    /// First argument.
    pub const R1: Reg = Reg(1);
    /// Second argument.
    pub const R2: Reg = Reg(2);
    /// Third argument.
    pub const R3: Reg = Reg(3);
    /// Fourth argument.
    pub const R4: Reg = Reg(4);
    /// Fifth argument.
    pub const R5: Reg = Reg(5);
    /// Callee-saved.
    pub const R6: Reg = Reg(6);
    /// Callee-saved.
    pub const R7: Reg = Reg(7);
    /// Callee-saved.
    pub const R8: Reg = Reg(8);
    /// Callee-saved.
    pub const R9: Reg = Reg(9);
    /// The read-only frame pointer.
    pub const R10: Reg = Reg(10);
    /// The frame pointer under its usual name.
    pub const FP: Reg = Reg(10);

    /// The register with number `n`, if `n` is at most 10.
    pub const fn new(n: u8) -> Option<Reg> {
        if n <= 10 {
            Some(Reg(n))
        } else {
            None
        }
    }

    /// The register's number, 0 to 10.
    pub const fn index(self) -> u8 {
        self.0
    }
}

impl fmt::Display for Reg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "r{}", self.0)
    }
}

/// The width an arithmetic or jump instruction works at.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Width {
    /// 32 bits (`ALU`, `JMP32`): operands are truncated, results zero-extended.
    W32,
    /// 64 bits (`ALU64`, `JMP`).
    W64,
}

/// The second operand of an arithmetic, jump or store instruction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Operand {
    /// A register (`BPF_X`).
    Reg(Reg),
    /// The 32-bit immediate (`BPF_K`), sign-extended to 64 bits where used at 64.
    Imm(i32),
}

/// A binary arithmetic operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AluOp {
    /// `+`
    Add,
    /// `-`
    Sub,
    /// `*`
    Mul,
    /// unsigned `/` (division by zero gives 0)
    Div,
    /// signed `/` (division by zero gives 0, `MIN / -1` gives `MIN`)
    SDiv,
    /// `|`
    Or,
    /// `&`
    And,
    /// `<<` (shift amount masked to the width)
    Lsh,
    /// logical `>>`
    Rsh,
    /// unsigned `%` (modulo by zero leaves dst)
    Mod,
    /// signed `%` (modulo by zero leaves dst, `MIN % -1` gives 0)
    SMod,
    /// `^`
    Xor,
    /// `=`
    Mov,
    /// `= (s8)src`
    MovSx8,
    /// `= (s16)src`
    MovSx16,
    /// `= (s32)src` (64-bit only)
    MovSx32,
    /// arithmetic `>>`
    Arsh,
}

/// Byte order conversions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ByteOrder {
    /// To little-endian (`le16/32/64`): on a little-endian host a truncation.
    Le,
    /// To big-endian (`be16/32/64`).
    Be,
    /// Unconditional byte swap (`bswap16/32/64`, `ALU64 | END`).
    Swap,
}

/// The size of a memory access.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Size {
    /// 1 byte.
    B,
    /// 2 bytes.
    H,
    /// 4 bytes.
    W,
    /// 8 bytes.
    DW,
}

impl Size {
    /// The access size in bytes.
    pub const fn bytes(self) -> u32 {
        match self {
            Size::B => 1,
            Size::H => 2,
            Size::W => 4,
            Size::DW => 8,
        }
    }

    /// The size of `n` bytes, if it is 1, 2, 4 or 8.
    pub const fn from_bytes(n: u32) -> Option<Size> {
        match n {
            1 => Some(Size::B),
            2 => Some(Size::H),
            4 => Some(Size::W),
            8 => Some(Size::DW),
            _ => None,
        }
    }
}

/// The condition of a conditional jump.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum JmpCond {
    /// `==`
    Eq,
    /// unsigned `>`
    Gt,
    /// unsigned `>=`
    Ge,
    /// `dst & src != 0`
    Set,
    /// `!=`
    Ne,
    /// signed `>`
    Sgt,
    /// signed `>=`
    Sge,
    /// unsigned `<`
    Lt,
    /// unsigned `<=`
    Le,
    /// signed `<`
    Slt,
    /// signed `<=`
    Sle,
}

impl JmpCond {
    /// Every condition, in opcode order.
    pub const ALL: [JmpCond; 11] = [
        JmpCond::Eq,
        JmpCond::Gt,
        JmpCond::Ge,
        JmpCond::Set,
        JmpCond::Ne,
        JmpCond::Sgt,
        JmpCond::Sge,
        JmpCond::Lt,
        JmpCond::Le,
        JmpCond::Slt,
        JmpCond::Sle,
    ];
}

/// An atomic read-modify-write, load-acquire or store-release.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AtomicOp {
    /// `lock *(dst + off) += src`; with `fetch`, src receives the old value.
    Add {
        /// Return the old value in the source register.
        fetch: bool,
    },
    /// `lock *(dst + off) |= src`
    Or {
        /// Return the old value in the source register.
        fetch: bool,
    },
    /// `lock *(dst + off) &= src`
    And {
        /// Return the old value in the source register.
        fetch: bool,
    },
    /// `lock *(dst + off) ^= src`
    Xor {
        /// Return the old value in the source register.
        fetch: bool,
    },
    /// `src = xchg(dst + off, src)`
    Xchg,
    /// `r0 = cmpxchg(dst + off, r0, src)`
    CmpXchg,
    /// `dst = load_acquire(src + off)`
    LoadAcquire,
    /// `store_release(dst + off, src)`
    StoreRelease,
}

/// What the 64-bit immediate of `lddw` refers to (its source register).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Imm64Kind {
    /// A plain constant.
    Imm,
    /// A map by file descriptor (low 32 bits; high bits zero).
    MapFd,
    /// A map's value: low 32 bits the map fd, high 32 bits the offset.
    MapValue,
    /// A kernel variable by BTF id.
    BtfId,
    /// The address of a function: low 32 bits its pc relative to the next instruction.
    Func,
    /// A map by index in the program's map array.
    MapIdx,
    /// A map's value by map index: low 32 bits the index, high 32 bits the offset.
    MapIdxValue,
}

impl Imm64Kind {
    /// The kind encoded by source register value `src`.
    pub const fn from_src(src: u8) -> Option<Imm64Kind> {
        Some(match src {
            0 => Imm64Kind::Imm,
            1 => Imm64Kind::MapFd,
            2 => Imm64Kind::MapValue,
            3 => Imm64Kind::BtfId,
            4 => Imm64Kind::Func,
            5 => Imm64Kind::MapIdx,
            6 => Imm64Kind::MapIdxValue,
            _ => return None,
        })
    }

    /// The source register value encoding this kind.
    pub const fn src(self) -> u8 {
        match self {
            Imm64Kind::Imm => 0,
            Imm64Kind::MapFd => 1,
            Imm64Kind::MapValue => 2,
            Imm64Kind::BtfId => 3,
            Imm64Kind::Func => 4,
            Imm64Kind::MapIdx => 5,
            Imm64Kind::MapIdxValue => 6,
        }
    }
}

/// What a `call` calls.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CallTarget {
    /// A helper by its id (source register 0).
    Helper(i32),
    /// A local function at `pc + 1 + offset` (source register 1).
    Local(i32),
    /// A kernel function by BTF id; `module` is the index of the BTF fd
    /// array entry holding it, 0 for vmlinux (source register 2).
    Kfunc {
        /// BTF id of the function.
        btf_id: i32,
        /// Index into the fd array of the module BTF, 0 for vmlinux.
        module: i16,
    },
}

/// One eBPF instruction, decoded.
///
/// A program is a sequence of 8-byte slots; [`Insn::LdImm64`] takes two and
/// is followed in decoded programs by an [`Insn::LdImm64Tail`] placeholder,
/// so that the index of an instruction in a decoded program is always its
/// pc (the index jumps, verifier logs and the kernel count in).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Insn {
    /// `dst = dst op src` at 32 or 64 bits.
    Alu {
        /// 32 or 64 bits.
        width: Width,
        /// The operation.
        op: AluOp,
        /// Destination (and first operand).
        dst: Reg,
        /// Second operand.
        src: Operand,
    },
    /// `dst = -dst`
    Neg {
        /// 32 or 64 bits.
        width: Width,
        /// The register negated.
        dst: Reg,
    },
    /// Byte order conversion of the low `bits` of `dst` (zero-extended).
    Endian {
        /// Target order, or unconditional swap.
        order: ByteOrder,
        /// 16, 32 or 64.
        bits: u8,
        /// The register converted.
        dst: Reg,
    },
    /// `dst = imm` (64-bit, two slots).
    LdImm64 {
        /// Destination.
        dst: Reg,
        /// What the immediate refers to.
        kind: Imm64Kind,
        /// Low 32 bits from the first slot, high 32 bits from the second.
        imm: i64,
    },
    /// The second slot of an [`Insn::LdImm64`]; never executed, never a jump target.
    LdImm64Tail,
    /// `dst = *(size *)(src + off)`, sign-extended when `signed`.
    Load {
        /// Access size.
        size: Size,
        /// Sign-extend (`MEMSX`) rather than zero-extend.
        signed: bool,
        /// Destination.
        dst: Reg,
        /// Base address register.
        src: Reg,
        /// Offset added to the base.
        off: i16,
    },
    /// `*(size *)(dst + off) = src`
    Store {
        /// Access size.
        size: Size,
        /// Base address register.
        dst: Reg,
        /// Offset added to the base.
        off: i16,
        /// Value stored: a register (`STX`) or immediate (`ST`).
        src: Operand,
    },
    /// Atomic operation on `*(size *)(dst + off)` (for load-acquire, `src + off`).
    Atomic {
        /// Access size (W or DW; any size for acquire/release).
        size: Size,
        /// The operation.
        op: AtomicOp,
        /// Base address register (destination for load-acquire).
        dst: Reg,
        /// Value register (base address for load-acquire).
        src: Reg,
        /// Offset added to the base.
        off: i16,
    },
    /// Legacy packet load: `r0 = ntoh(*(size *)(skb->data + [src +] imm))`.
    LdPacket {
        /// Access size (B, H or W).
        size: Size,
        /// `None` for `LD_ABS`, the index register for `LD_IND`.
        index: Option<Reg>,
        /// Offset.
        imm: i32,
    },
    /// `goto pc + 1 + off`; `long` for `gotol` (JMP32 | JA, offset in imm).
    Ja {
        /// Jump offset in slots, relative to the next instruction.
        off: i32,
        /// Encoded as `gotol` (32-bit offset in the immediate).
        long: bool,
    },
    /// `if dst cond src goto pc + 1 + off`
    Jump {
        /// Compare 32 (JMP32) or 64 bits.
        width: Width,
        /// The condition.
        cond: JmpCond,
        /// Left operand.
        dst: Reg,
        /// Right operand.
        src: Operand,
        /// Jump offset in slots, relative to the next instruction.
        off: i16,
    },
    /// A call of a helper, local function or kfunc.
    Call(CallTarget),
    /// Call the helper whose id is in `reg` (`callx`).
    CallX {
        /// The register holding the helper id.
        reg: Reg,
    },
    /// `may_goto pc + 1 + off`: falls through until the loop budget runs out.
    MayGoto {
        /// Jump offset in slots, relative to the next instruction.
        off: i16,
    },
    /// Return r0 to the caller.
    Exit,
}

impl Insn {
    /// Number of 8-byte slots this instruction occupies in the wire format
    /// (2 for `lddw`, 0 for its tail placeholder, 1 otherwise).
    pub const fn slots(&self) -> usize {
        match self {
            Insn::LdImm64 { .. } => 2,
            Insn::LdImm64Tail => 0,
            _ => 1,
        }
    }

    /// The pc this instruction at `pc` may jump or call to, if any
    /// (jumps, `may_goto`, local calls and `lddw` of a function).
    pub fn branch_target(&self, pc: usize) -> Option<i64> {
        let next = pc as i64 + 1;
        match *self {
            Insn::Ja { off, .. } => Some(next + off as i64),
            Insn::Jump { off, .. } | Insn::MayGoto { off } => Some(next + off as i64),
            Insn::Call(CallTarget::Local(imm)) => Some(next + imm as i64),
            Insn::LdImm64 {
                kind: Imm64Kind::Func,
                imm,
                ..
            } => Some(next + imm as i32 as i64),
            _ => None,
        }
    }
}

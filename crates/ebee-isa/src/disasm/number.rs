//! Number formats shared by both syntaxes.

/// `0x1f`, or `-0x1f` for negative values (as llvm-objdump prints immediates).
pub(crate) fn signed_hex(v: i64) -> String {
    if v < 0 {
        format!("-{:#x}", v.unsigned_abs())
    } else {
        format!("{v:#x}")
    }
}

/// A relative offset with an explicit sign: `+3`, `-3`, `+0`.
pub(crate) fn signed_dec(v: i64) -> String {
    if v < 0 {
        format!("{v}")
    } else {
        format!("+{v}")
    }
}

/// ` + 0x8` or ` - 0x8`: the displacement of a Linux memory operand.
pub(crate) fn displacement(off: i64) -> String {
    if off < 0 {
        format!(" - {:#x}", off.unsigned_abs())
    } else {
        format!(" + {off:#x}")
    }
}

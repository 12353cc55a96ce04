//! `bpf_strncmp`, `bpf_strtol`, `bpf_strtoul`, as the kernel implements
//! them (`strncmp` returning -1/0/1; `__bpf_strtoull`'s parsing: leading
//! spaces, a `-`, the `0x`/`0` radix prefixes, at most 63 characters).

use super::{add, neg, read_vec, EINVAL, ERANGE};
use crate::helper::{HelperError, HelperRegistry};

/// Linux's `strncmp(s1, s2, n)`.
fn strncmp(s1: &[u8], s2: &[u8], n: usize) -> i64 {
    for i in 0..n {
        let c1 = s1.get(i).copied().unwrap_or(0);
        let c2 = s2.get(i).copied().unwrap_or(0);
        if c1 != c2 {
            return if c1 < c2 { -1 } else { 1 };
        }
        if c1 == 0 {
            break;
        }
    }
    0
}

const BASE_MASK: u64 = 0x1f;

/// `__bpf_strtoull`: (characters consumed, value, negative) or `-errno`.
fn strtoull(buf: &[u8], flags: u64) -> Result<(u64, u64, bool), i32> {
    let mut base = (flags & BASE_MASK) as u32;
    if buf.is_empty() || !matches!(base, 0 | 8 | 10 | 16) || flags & !BASE_MASK != 0 {
        return Err(EINVAL);
    }
    let mut i = 0;
    while i < buf.len() && matches!(buf[i], b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r') {
        i += 1;
    }
    let negative = i < buf.len() && buf[i] == b'-';
    if negative {
        i += 1;
    }
    let consumed = i;
    if consumed == buf.len() {
        return Err(EINVAL);
    }
    // Copied into a 64-byte NUL-terminated buffer, as the kernel does.
    let s: Vec<u8> = buf[i..].iter().copied().take(63).collect();
    let at = |j: usize| s.get(j).copied().unwrap_or(0);
    let mut j = 0;
    if base == 0 {
        base = if at(0) == b'0' {
            if at(1).eq_ignore_ascii_case(&b'x') && at(2).is_ascii_hexdigit() {
                16
            } else {
                8
            }
        } else {
            10
        };
    }
    if base == 16 && at(0) == b'0' && at(1).eq_ignore_ascii_case(&b'x') {
        j = 2;
    }
    let start = j;
    let mut value: u64 = 0;
    let mut overflow = false;
    loop {
        let c = at(j);
        let d = match c {
            b'0'..=b'9' => u32::from(c - b'0'),
            b'a'..=b'f' => u32::from(c - b'a') + 10,
            b'A'..=b'F' => u32::from(c - b'A') + 10,
            _ => break,
        };
        if d >= base {
            break;
        }
        match value
            .checked_mul(u64::from(base))
            .and_then(|v| v.checked_add(u64::from(d)))
        {
            Some(v) => value = v,
            None => overflow = true,
        }
        j += 1;
    }
    if overflow {
        return Err(ERANGE);
    }
    if j == start {
        return Err(EINVAL);
    }
    Ok(((consumed + j) as u64, value, negative))
}

fn result_ptr(ctx: &mut crate::helper::HelperContext<'_>, addr: u64) -> Result<(), HelperError> {
    ctx.check(addr, 8, true)
}

pub(super) fn register(reg: &mut HelperRegistry) {
    add(reg, "strncmp", |ctx, a| {
        let n = a[1] as u32 as u64;
        let s1 = read_vec(ctx, a[0], n)?;
        let s2 = super::read_cstr(ctx, a[2], n as usize)
            .ok_or_else(|| HelperError(format!("string at {:#x} is not readable", a[2])))?;
        Ok(strncmp(&s1, &s2, n as usize) as u64)
    });
    add(reg, "strtol", |ctx, a| {
        let buf = read_vec(ctx, a[0], a[1] as u32 as u64)?;
        result_ptr(ctx, a[3])?;
        let (n, v, negative) = match strtoull(&buf, a[2]) {
            Ok(r) => r,
            Err(e) => return Ok(neg(e)),
        };
        let r = if negative {
            let r = v.wrapping_neg() as i64;
            if r > 0 {
                return Ok(neg(ERANGE));
            }
            r
        } else {
            if (v as i64) < 0 {
                return Ok(neg(ERANGE));
            }
            v as i64
        };
        ctx.write(a[3], &r.to_ne_bytes())?;
        Ok(n)
    });
    add(reg, "strtoul", |ctx, a| {
        let buf = read_vec(ctx, a[0], a[1] as u32 as u64)?;
        result_ptr(ctx, a[3])?;
        let (n, v, negative) = match strtoull(&buf, a[2]) {
            Ok(r) => r,
            Err(e) => return Ok(neg(e)),
        };
        if negative {
            return Ok(neg(EINVAL));
        }
        ctx.write(a[3], &v.to_ne_bytes())?;
        Ok(n)
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strtoull_follows_the_kernel() {
        assert_eq!(strtoull(b"  -123x", 0), Ok((6, 123, true)));
        assert_eq!(strtoull(b"0x1f", 0), Ok((4, 31, false)));
        assert_eq!(strtoull(b"017", 0), Ok((3, 15, false)));
        assert_eq!(strtoull(b"abc", 10), Err(EINVAL));
        assert_eq!(strtoull(b"99999999999999999999", 10), Err(ERANGE));
        assert_eq!(strncmp(b"abc", b"abd", 3), -1);
        assert_eq!(strncmp(b"abc", b"abc", 3), 0);
    }
}

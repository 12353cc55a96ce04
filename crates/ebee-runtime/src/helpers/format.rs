//! The `printf` dialect of `bpf_trace_printk` and `bpf_snprintf`: what the
//! kernel's `bpf_bprintf_prepare` accepts, formatted as its `vsnprintf`
//! formats it.
//!
//! Accepted: `%%`; flags `0 + - space` and a width; `%d %i %u %x %X` with
//! an optional `l` or `ll` (without one the argument is a 32-bit int);
//! `%c`; `%s`, `%pks`, `%pus` (a string read from the run's memory; an
//! unreadable one prints as empty, like the kernel); `%p`, `%px`, `%pK`,
//! `%ps`, `%pS`, `%pB` (the value as 16 hex digits; the kernel hashes plain
//! `%p` and symbolizes `%pS`/`%pB`, which userspace cannot); `%pI4 %pi4
//! %pI6 %pi6` (an address read from memory). Anything else, non-printable
//! characters, and more conversions than arguments are `-EINVAL`.

/// Why a format string is refused (the helper returns `-EINVAL`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FormatError(pub String);

/// The kernel's limit on the formatted text and copied strings (`MAX_BPRINTF_BUF`).
pub const MAX_BPRINTF_BUF: usize = 1024;

#[derive(Default, Clone, Copy)]
struct Spec {
    left: bool,
    zero: bool,
    plus: bool,
    space: bool,
    width: usize,
}

fn pad(out: &mut Vec<u8>, body: &[u8], sign: &[u8], spec: Spec, numeric: bool) {
    let len = body.len() + sign.len();
    let fill = spec.width.saturating_sub(len);
    if spec.left {
        out.extend_from_slice(sign);
        out.extend_from_slice(body);
        out.extend(std::iter::repeat_n(b' ', fill));
    } else if spec.zero && numeric {
        out.extend_from_slice(sign);
        out.extend(std::iter::repeat_n(b'0', fill));
        out.extend_from_slice(body);
    } else {
        out.extend(std::iter::repeat_n(b' ', fill));
        out.extend_from_slice(sign);
        out.extend_from_slice(body);
    }
}

/// Formats `fmt` (up to its NUL, if any) with `args`; `read` gives the
/// bytes at an address (`None`: not readable), `read_str` the
/// NUL-terminated string there (at most the given length).
pub fn format_printf(
    fmt: &[u8],
    args: &[u64],
    read: &mut dyn FnMut(u64, usize) -> Option<Vec<u8>>,
    read_str: &mut dyn FnMut(u64, usize) -> Option<Vec<u8>>,
) -> Result<Vec<u8>, FormatError> {
    let fmt = match fmt.iter().position(|&b| b == 0) {
        Some(n) => &fmt[..n],
        None => fmt,
    };
    let at = |i: usize| fmt.get(i).copied().unwrap_or(0);
    let bad = |what: String| Err(FormatError(what));
    let mut out = Vec::new();
    let mut next_arg = 0usize;
    let mut i = 0;
    while i < fmt.len() {
        let c = fmt[i];
        if !(c.is_ascii_graphic() || c == b' ' || (b'\t'..=b'\r').contains(&c)) {
            return bad(format!("byte {c:#x} at {i} is not printable"));
        }
        if c != b'%' {
            out.push(c);
            i += 1;
            continue;
        }
        if at(i + 1) == b'%' {
            out.push(b'%');
            i += 2;
            continue;
        }
        if next_arg >= args.len() {
            return bad(format!(
                "more conversions than the {} arguments",
                args.len()
            ));
        }
        let arg = args[next_arg];
        next_arg += 1;
        i += 1;
        let mut spec = Spec::default();
        loop {
            match at(i) {
                b'0' => spec.zero = true,
                b'+' => spec.plus = true,
                b'-' => spec.left = true,
                b' ' => spec.space = true,
                _ => break,
            }
            i += 1;
        }
        if (b'1'..=b'9').contains(&at(i)) {
            while at(i).is_ascii_digit() {
                spec.width = spec
                    .width
                    .saturating_mul(10)
                    .saturating_add(usize::from(at(i) - b'0'))
                    .min(MAX_BPRINTF_BUF);
                i += 1;
            }
        }
        let ends_word = |b: u8| b == 0 || b.is_ascii_whitespace() || b.is_ascii_punctuation();
        match at(i) {
            b'p' => {
                let n = at(i + 1);
                if ends_word(n) {
                    i += 1;
                    pad(&mut out, format!("{arg:016x}").as_bytes(), b"", spec, false);
                } else if (n == b'k' || n == b'u') && at(i + 2) == b's' {
                    if !ends_word(at(i + 3)) {
                        return bad(format!(
                            "%p{}s followed by {:?}",
                            n as char,
                            at(i + 3) as char
                        ));
                    }
                    i += 3;
                    let s = read_str(arg, MAX_BPRINTF_BUF).unwrap_or_default();
                    pad(&mut out, &s, b"", spec, false);
                } else if matches!(n, b'K' | b'x' | b's' | b'S' | b'B') {
                    i += 2;
                    pad(&mut out, format!("{arg:016x}").as_bytes(), b"", spec, false);
                } else if matches!(n, b'i' | b'I') && matches!(at(i + 2), b'4' | b'6') {
                    let v6 = at(i + 2) == b'6';
                    i += 3;
                    let bytes = read(arg, if v6 { 16 } else { 4 }).unwrap_or_default();
                    let text = ip_text(&bytes, v6, n == b'i');
                    pad(&mut out, text.as_bytes(), b"", spec, false);
                } else {
                    return bad(format!("unsupported %p{}", n as char));
                }
            }
            b's' => {
                if !ends_word(at(i + 1)) {
                    return bad(format!("%s followed by {:?}", at(i + 1) as char));
                }
                i += 1;
                let s = read_str(arg, MAX_BPRINTF_BUF).unwrap_or_default();
                pad(&mut out, &s, b"", spec, false);
            }
            b'c' => {
                i += 1;
                pad(&mut out, &[arg as u8], b"", spec, false);
            }
            _ => {
                let mut long = false;
                if at(i) == b'l' {
                    long = true;
                    i += 1;
                }
                if at(i) == b'l' {
                    i += 1;
                }
                let conv = at(i);
                i += 1;
                let (body, sign): (String, &[u8]) = match conv {
                    b'd' | b'i' => {
                        let v = if long { arg as i64 } else { arg as i32 as i64 };
                        let sign: &[u8] = if v < 0 {
                            b"-"
                        } else if spec.plus {
                            b"+"
                        } else if spec.space {
                            b" "
                        } else {
                            b""
                        };
                        (v.unsigned_abs().to_string(), sign)
                    }
                    b'u' => {
                        let v = if long { arg } else { arg as u32 as u64 };
                        (v.to_string(), b"")
                    }
                    b'x' | b'X' => {
                        let v = if long { arg } else { arg as u32 as u64 };
                        let s = if conv == b'x' {
                            format!("{v:x}")
                        } else {
                            format!("{v:X}")
                        };
                        (s, b"")
                    }
                    other => {
                        return bad(format!("unsupported conversion {:?}", other as char));
                    }
                };
                pad(&mut out, body.as_bytes(), sign, spec, true);
            }
        }
    }
    Ok(out)
}

fn ip_text(b: &[u8], v6: bool, padded: bool) -> String {
    if v6 {
        if b.len() < 16 {
            return String::new();
        }
        let groups: Vec<String> = b
            .chunks(2)
            .map(|g| format!("{:02x}{:02x}", g[0], g[1]))
            .collect();
        groups.join(if padded { "" } else { ":" })
    } else {
        if b.len() < 4 {
            return String::new();
        }
        let parts: Vec<String> = b[..4]
            .iter()
            .map(|x| {
                if padded {
                    format!("{x:03}")
                } else {
                    x.to_string()
                }
            })
            .collect();
        parts.join(".")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f(fmt: &str, args: &[u64]) -> Result<String, FormatError> {
        format_printf(fmt.as_bytes(), args, &mut |_, _| None, &mut |_, _| None)
            .map(|v| String::from_utf8(v).unwrap())
    }

    #[test]
    fn integers_follow_the_kernel_widths() {
        assert_eq!(
            f("%d %u %x", &[u64::MAX, u64::MAX, u64::MAX]).unwrap(),
            "-1 4294967295 ffffffff"
        );
        assert_eq!(
            f("%lld %llu %llx", &[u64::MAX, u64::MAX, 255]).unwrap(),
            "-1 18446744073709551615 ff"
        );
        assert_eq!(
            f("[%5d|%-5d|%05d|%+d]", &[42, 42, 42, 42]).unwrap(),
            "[   42|42   |00042|+42]"
        );
        assert_eq!(f("%05d", &[(-42i64) as u64]).unwrap(), "-0042");
        assert!(f("%#x", &[1]).is_err());
        assert!(f("%d %d", &[1]).is_err());
        assert!(f("%.2d", &[1]).is_err());
    }
}

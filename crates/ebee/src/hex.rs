//! Hex text as the conformance suite and `--mem-hex` write it: pairs of hex
//! digits, optionally separated by white space.

/// Parses hex byte pairs, ignoring white space; an error names the first bad character.
pub fn parse_hex(text: &str) -> Result<Vec<u8>, String> {
    let mut out = Vec::with_capacity(text.len() / 2);
    let mut high: Option<u8> = None;
    for (i, c) in text.char_indices() {
        if c.is_whitespace() {
            if high.is_some() {
                return Err(format!("odd hex digit before position {i}"));
            }
            continue;
        }
        let d = c
            .to_digit(16)
            .ok_or_else(|| format!("invalid hex character {c:?} at position {i}"))?
            as u8;
        match high.take() {
            None => high = Some(d),
            Some(h) => out.push(h << 4 | d),
        }
    }
    if high.is_some() {
        return Err("odd number of hex digits".to_string());
    }
    Ok(out)
}

/// Formats bytes as space-separated hex pairs.
pub fn to_hex(bytes: &[u8]) -> String {
    let mut s = String::with_capacity(bytes.len() * 3);
    for (i, b) in bytes.iter().enumerate() {
        if i > 0 {
            s.push(' ');
        }
        s.push_str(&format!("{b:02x}"));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_spaced_and_packed() {
        assert_eq!(parse_hex("b7 00 0a").unwrap(), vec![0xb7, 0, 0x0a]);
        assert_eq!(parse_hex("b7000a\n").unwrap(), vec![0xb7, 0, 0x0a]);
        assert!(parse_hex("b7 0").is_err());
        assert!(parse_hex("zz").is_err());
        assert_eq!(to_hex(&[1, 0xab]), "01 ab");
    }
}

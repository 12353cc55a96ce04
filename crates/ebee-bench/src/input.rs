//! Input buffers: the bytes `r1` points to when a program runs.
//!
//! Layout (see `programs/bench_input.h`): a little-endian u64 size parameter
//! `n`, then the data. The contents are pseudo-random but fixed, so every
//! run of every engine sees the same bytes.

/// Bytes before the data: the u64 size parameter.
pub const HEADER_LEN: usize = 8;

/// A buffer of `HEADER_LEN + data_len` bytes with `n` in the header and
/// zeroed data.
pub fn with_header(n: u64, data_len: usize) -> Vec<u8> {
    let mut buf = vec![0u8; HEADER_LEN + data_len];
    buf[..HEADER_LEN].copy_from_slice(&n.to_le_bytes());
    buf
}

/// The size parameter stored in a buffer's header (0 if the buffer is
/// shorter than the header).
pub fn header_n(buf: &[u8]) -> u64 {
    match buf.get(..HEADER_LEN) {
        Some(header) => u64::from_le_bytes(header.try_into().expect("8 bytes")),
        None => 0,
    }
}

/// A small deterministic generator (xorshift64*) for input contents.
#[derive(Debug, Clone)]
pub struct InputRng(u64);

impl InputRng {
    /// A generator with a fixed, non-zero state derived from `seed`.
    pub fn new(seed: u64) -> InputRng {
        InputRng(seed ^ 0x9e37_79b9_7f4a_7c15 | 1)
    }

    /// The next 64 pseudo-random bits.
    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
}

/// Input of the prime counter: only the bound.
pub fn primes(bound: u64) -> Vec<u8> {
    with_header(bound, 0)
}

/// Input of the byte copy: `n` random source bytes, then `n` zero bytes the
/// program copies them to.
pub fn byte_copy(n: u64) -> Vec<u8> {
    let len = n as usize;
    let mut buf = with_header(n, 2 * len);
    let mut rng = InputRng::new(1);
    for byte in &mut buf[HEADER_LEN..HEADER_LEN + len] {
        *byte = rng.next_u64() as u8;
    }
    buf
}

/// Input of strcmp: two strings of `n - 1` letters and a NUL each; when
/// `differ` is set the second one differs from the first 16 bytes before
/// its end (or at its first byte if it is shorter than that).
pub fn strcmp(n: u64, differ: bool) -> Vec<u8> {
    let len = n as usize;
    let mut buf = with_header(n, 2 * len);
    for half in 0..2 {
        let start = HEADER_LEN + half * len;
        let string = &mut buf[start..start + len];
        for (i, byte) in string.iter_mut().enumerate() {
            *byte = b'a' + (i % 26) as u8;
        }
        if let Some(last) = string.last_mut() {
            *last = 0;
        }
    }
    if differ && len >= 2 {
        let at = HEADER_LEN + len + (len - 1).saturating_sub(16);
        buf[at] = buf[at].to_ascii_uppercase();
    }
    buf
}

/// Input of the 64-way switch: `n` random u32 elements.
pub fn switch64(n: u64) -> Vec<u8> {
    let mut buf = with_header(n, 4 * n as usize);
    let mut rng = InputRng::new(2);
    for chunk in buf[HEADER_LEN..].chunks_exact_mut(4) {
        chunk.copy_from_slice(&(rng.next_u64() as u32).to_le_bytes());
    }
    buf
}

/// Input of log2: `n` u64 elements with magnitudes spread over all 64 bit
/// positions (and some zeros).
pub fn log2(n: u64) -> Vec<u8> {
    let mut buf = with_header(n, 8 * n as usize);
    let mut rng = InputRng::new(3);
    for chunk in buf[HEADER_LEN..].chunks_exact_mut(8) {
        let bits = rng.next_u64();
        let value = bits >> (bits & 63);
        chunk.copy_from_slice(&value.to_le_bytes());
    }
    buf
}

/// Input of the XDP parser: `n / 64` packets in 64-byte slots, a mix the
/// parser must tell apart: TCP and UDP over IPv4 with and without IP
/// options, to the dropped ports from inside and outside 10/8, IPv6 and
/// ARP frames, a bad IP version, and an IHL pointing past the slot.
pub fn xdp_packets(n: u64) -> Vec<u8> {
    let len = n as usize;
    let mut buf = with_header(n, len);
    let mut rng = InputRng::new(7);
    for slot in buf[HEADER_LEN..].chunks_exact_mut(64) {
        let bits = rng.next_u64();
        for b in slot.iter_mut() {
            *b = rng.next_u64() as u8;
        }
        let ethertype: u16 = match bits % 8 {
            0 => 0x86dd,
            1 => 0x0806,
            _ => 0x0800,
        };
        slot[12..14].copy_from_slice(&ethertype.to_be_bytes());
        let ihl = match (bits >> 8) % 8 {
            0 => 6,
            1 => 15, // 60 bytes of header: the L4 header is past the slot
            _ => 5,
        };
        let version = if (bits >> 16).is_multiple_of(16) {
            6
        } else {
            4
        };
        slot[14] = version << 4 | ihl;
        slot[14 + 9] = if (bits >> 20).is_multiple_of(2) {
            6
        } else {
            17
        };
        slot[14 + 12] = if (bits >> 24).is_multiple_of(2) {
            10
        } else {
            192
        };
        let l4 = 14 + 4 * ihl as usize;
        let dport: u16 = match (bits >> 28) % 4 {
            0 => 22,
            1 => 53,
            _ => (bits >> 32) as u16,
        };
        if l4 + 4 <= slot.len() {
            slot[l4 + 2..l4 + 4].copy_from_slice(&dport.to_be_bytes());
        }
    }
    buf
}

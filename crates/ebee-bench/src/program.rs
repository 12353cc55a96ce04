//! The clang-built benchmark programs, embedded as eBPF bytecode.
//!
//! `build.rs` compiles `programs/<name>.c` with `clang -O2 -target bpf
//! -mcpu=v3` and extracts the function's `.text`; every engine runs these
//! exact bytes.

/// Bytecode of one program in the wire format (8 bytes per slot).
#[derive(Debug, Clone, Copy)]
pub struct Program {
    /// File stem of the C source in `programs/`.
    pub name: &'static str,
    /// The instructions, as clang emitted them.
    pub bytecode: &'static [u8],
}

macro_rules! program {
    ($name:literal) => {
        Program {
            name: $name,
            bytecode: include_bytes!(concat!(env!("OUT_DIR"), "/", $name, ".bpf")),
        }
    };
}

/// Trial-division prime counter (`programs/primes.c`).
pub const PRIMES: Program = program!("primes");
/// Byte-by-byte copy with checksum (`programs/byte_copy.c`).
pub const BYTE_COPY: Program = program!("byte_copy");
/// Byte loop string compare (`programs/strcmp.c`).
pub const STRCMP: Program = program!("strcmp");
/// 64-way switch over u32 elements (`programs/switch64.c`).
pub const SWITCH64: Program = program!("switch64");
/// Integer log2 over u64 elements (`programs/log2.c`).
pub const LOG2: Program = program!("log2");
/// The XDP parser on the benchmark input (`programs/xdp_parse.c`).
pub const XDP_PARSE: Program = program!("xdp_parse");
/// The XDP parser as a kernel XDP program (`programs/xdp_parse_kernel.c`,
/// section `xdp`).
pub const XDP_PARSE_KERNEL: Program = program!("xdp_parse_kernel");

impl Program {
    /// Number of 8-byte instruction slots.
    pub fn slots(&self) -> usize {
        self.bytecode.len() / 8
    }
}

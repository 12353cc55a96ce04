//! The clang-built benchmark programs, embedded as eBPF bytecode.
//!
//! `build.rs` compiles `programs/<name>.c` with `clang -O2 -target bpf
//! -mcpu=v3` and extracts the function's `.text`; every engine runs these
//! exact bytes. Programs with maps stay whole ELF objects
//! ([`ObjectProgram`]), which each engine loads through its object loader.

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
/// About 1,000 instructions of clang output, for the JIT compile time
/// (`programs/unrolled_mix.c`; not a table row).
pub const UNROLLED_MIX: Program = program!("unrolled_mix");
/// The XDP parser as a kernel XDP program (`programs/xdp_parse_kernel.c`,
/// section `xdp`).
pub const XDP_PARSE_KERNEL: Program = program!("xdp_parse_kernel");

impl Program {
    /// Number of 8-byte instruction slots.
    pub fn slots(&self) -> usize {
        self.bytecode.len() / 8
    }
}

/// A clang-built ELF object with maps (and BTF), and the program of it a
/// run starts in.
#[derive(Debug, Clone, Copy)]
pub struct ObjectProgram {
    /// File stem of the C source in `programs/`.
    pub name: &'static str,
    /// The object file, as clang emitted it.
    pub object: &'static [u8],
    /// The entry program's function name.
    pub entry: &'static str,
}

macro_rules! object_program {
    ($name:literal, $entry:literal) => {
        ObjectProgram {
            name: $name,
            object: include_bytes!(concat!(env!("OUT_DIR"), "/", $name, ".o")),
            entry: $entry,
        }
    };
}

/// The hash-map heavy counter (`programs/hash_count.c`).
pub const HASH_COUNT: ObjectProgram = object_program!("hash_count", "hash_count");
/// The tail-call chain (`programs/tail_chain.c`).
pub const TAIL_CHAIN: ObjectProgram = object_program!("tail_chain", "tail_chain");

impl ObjectProgram {
    /// The parsed object.
    pub fn parse(&self) -> Result<ebee_object::Object, String> {
        // Copied: the ELF reader wants the file aligned as a heap buffer
        // (as `std::fs::read` gives it), which `include_bytes!` is not.
        let data = self.object.to_vec();
        ebee_object::Object::parse(&data).map_err(|e| format!("{}.o: {e}", self.name))
    }

    /// Instruction slots of the entry program (0 if it does not parse).
    pub fn slots(&self) -> usize {
        self.parse()
            .ok()
            .and_then(|o| o.program(self.entry).map(|p| p.insns.len()))
            .unwrap_or(0)
    }
}

/// What a benchmark runs: raw bytecode or an object with maps.
#[derive(Debug, Clone, Copy)]
pub enum Code {
    /// One self-contained function, run on the input buffer.
    Raw(Program),
    /// An ELF object loaded with its maps; its entry program runs with
    /// `r1` = the input buffer (the programs only hand it on).
    Object(ObjectProgram),
}

impl Code {
    /// Instruction slots of the program a run starts in.
    pub fn slots(&self) -> usize {
        match self {
            Code::Raw(p) => p.slots(),
            Code::Object(o) => o.slots(),
        }
    }

    /// The raw bytecode, for engines that cannot load objects.
    pub fn raw(&self) -> Option<&'static [u8]> {
        match self {
            Code::Raw(p) => Some(p.bytecode),
            Code::Object(_) => None,
        }
    }
}

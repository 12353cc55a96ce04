//! [`Benchmark`]: a program, the input it runs on, and its native twin.

use crate::input;
use crate::native;
use crate::native_maps;
use crate::program::{self, Code, Program};

/// How big an input to build.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scale {
    /// The size the benchmark is timed at.
    Full,
    /// A few hundred iterations: for checking that engines agree.
    Tiny,
}

/// One row of the table.
#[derive(Debug, Clone, Copy)]
pub struct Benchmark {
    /// Row name; the command-line filter matches it.
    pub name: &'static str,
    /// What one run does, for the table's legend.
    pub description: &'static str,
    /// The eBPF program.
    pub program: Code,
    /// Size parameter (header `n`) at [`Scale::Full`].
    pub full_n: u64,
    /// Size parameter at [`Scale::Tiny`].
    pub tiny_n: u64,
    /// Builds the input buffer for a size parameter.
    pub make_input: fn(u64) -> Vec<u8>,
    /// Data bytes (after the header) the program reads or writes for a
    /// size parameter; `None` if that overflows. Engines without run-time
    /// checks refuse buffers shorter than this.
    pub data_len: fn(u64) -> Option<u64>,
    /// The same computation in native Rust.
    pub native: fn(&mut [u8]) -> u64,
    /// The same computation as a kernel XDP program, for the kernel JIT
    /// column: it runs on the data bytes (after the header) as its packet.
    /// `None` where the program's input convention has no kernel form (a
    /// size in memory and unbounded loops the kernel verifier refuses).
    /// Object programs ([`Code::Object`]) need none: the kernel loads the
    /// same object.
    pub kernel_xdp: Option<Program>,
}

const MIB: u64 = 1 << 20;

impl Benchmark {
    /// Whether `mem` holds everything the program touches for the size in
    /// its header: the condition for running it without run-time checks.
    pub fn fits(&self, mem: &[u8]) -> bool {
        let needed = (self.data_len)(input::header_n(mem))
            .and_then(|len| len.checked_add(input::HEADER_LEN as u64));
        matches!(needed, Some(needed) if needed <= mem.len() as u64)
    }

    /// The input buffer at `scale`.
    pub fn input(&self, scale: Scale) -> Vec<u8> {
        (self.make_input)(match scale {
            Scale::Full => self.full_n,
            Scale::Tiny => self.tiny_n,
        })
    }
}

/// Every benchmark, in table order.
pub fn all() -> Vec<Benchmark> {
    vec![
        Benchmark {
            name: "primes",
            description: "count primes below 30,000 by trial division (64-bit %)",
            program: Code::Raw(program::PRIMES),
            full_n: 30_000,
            tiny_n: 200,
            make_input: input::primes,
            data_len: |_| Some(0),
            kernel_xdp: None,
            native: native::primes,
        },
        Benchmark {
            name: "byte_copy",
            description: "copy 1 MiB byte by byte, return the byte sum",
            program: Code::Raw(program::BYTE_COPY),
            full_n: MIB,
            tiny_n: 300,
            make_input: input::byte_copy,
            data_len: |n| n.checked_mul(2),
            kernel_xdp: None,
            native: native::byte_copy,
        },
        Benchmark {
            name: "strcmp_equal",
            description: "strcmp of two equal 1 MiB strings",
            program: Code::Raw(program::STRCMP),
            full_n: MIB,
            tiny_n: 300,
            make_input: |n| input::strcmp(n, false),
            data_len: |n| n.checked_mul(2),
            kernel_xdp: None,
            native: native::strcmp,
        },
        Benchmark {
            name: "strcmp_differ",
            description: "strcmp of 1 MiB strings differing 16 bytes before the end",
            program: Code::Raw(program::STRCMP),
            full_n: MIB,
            tiny_n: 300,
            make_input: |n| input::strcmp(n, true),
            data_len: |n| n.checked_mul(2),
            kernel_xdp: None,
            native: native::strcmp,
        },
        Benchmark {
            name: "switch64",
            description: "64-way switch on x & 63 over 256 Ki u32 elements (1 MiB)",
            program: Code::Raw(program::SWITCH64),
            full_n: MIB / 4,
            tiny_n: 300,
            make_input: input::switch64,
            data_len: |n| n.checked_mul(4),
            kernel_xdp: None,
            native: native::switch64,
        },
        Benchmark {
            name: "log2",
            description: "integer log2 by shifts over 128 Ki u64 elements (1 MiB)",
            program: Code::Raw(program::LOG2),
            full_n: MIB / 8,
            tiny_n: 300,
            make_input: input::log2,
            data_len: |n| n.checked_mul(8),
            kernel_xdp: None,
            native: native::log2,
        },
        Benchmark {
            name: "xdp_parse",
            description: "XDP parser: Ethernet/IPv4/TCP/UDP with bounds checks, drop/pass \
                          per packet, over 32 packets of 64 bytes",
            program: Code::Raw(program::XDP_PARSE),
            full_n: 32 * 64,
            tiny_n: 32 * 64,
            make_input: input::xdp_packets,
            data_len: Some,
            kernel_xdp: Some(program::XDP_PARSE_KERNEL),
            native: native::xdp_parse,
        },
        Benchmark {
            name: "hash_count",
            description: "hash-map counter: 1,024 lookup-or-insert-and-increment of 256 keys \
                          in a BPF_MAP_TYPE_HASH (helper calls; rbpf n/a: no maps)",
            program: Code::Object(program::HASH_COUNT),
            full_n: native_maps::HASH_N,
            tiny_n: native_maps::HASH_N,
            make_input: native_maps::object_input,
            data_len: |_| Some(native_maps::PACKET_LEN),
            kernel_xdp: None,
            native: native_maps::hash_count,
        },
        Benchmark {
            name: "tail_chain",
            description: "tail-call chain: 32 bpf_tail_call through a BPF_MAP_TYPE_PROG_ARRAY, \
                          a depth counter in an array map (rbpf n/a: no tail calls)",
            program: Code::Object(program::TAIL_CHAIN),
            full_n: native_maps::TAIL_DEPTH,
            tiny_n: native_maps::TAIL_DEPTH,
            make_input: native_maps::object_input,
            data_len: |_| Some(native_maps::PACKET_LEN),
            kernel_xdp: None,
            native: native_maps::tail_chain,
        },
    ]
}

//! The Linux backend: bpf(2) program load, maps, attach and test runs through raw syscalls.
//!
//! Talks to the kernel through `libc::syscall(SYS_bpf, ...)` directly, with
//! its own `#[repr(C)]` attribute structures ([`sys`]); everything above that
//! layer is safe code. The kernel is also ebee's test oracle: load the same
//! bytecode here and in ebee's runtime, run both, compare.
//!
//! ```no_run
//! use ebee_kernel::{KernelProgram, LoadOptions, ProgramType, TestRun};
//!
//! if let Err(reason) = ebee_kernel::probe() {
//!     println!("skipped: {reason}");
//!     return;
//! }
//! let insns = ebee_isa::decode(&[
//!     0xb7, 0x00, 0, 0, 2, 0, 0, 0, // r0 = 2 (XDP_PASS)
//!     0x95, 0x00, 0, 0, 0, 0, 0, 0, // exit
//! ])
//! .unwrap();
//! let prog = KernelProgram::load(ProgramType::Xdp, &insns, "GPL", &LoadOptions::default())
//!     .unwrap_or_else(|e| panic!("{e}")); // shows the end of the verifier log
//! println!("{} insns verified in {:?}", prog.verified_insns(), prog.load_duration());
//! let out = prog.test_run(&TestRun::new(&[0u8; 64]).repeat(100)).unwrap();
//! assert_eq!(out.retval, 2);
//! println!("{} ns per run", out.duration_ns);
//! ```
//!
//! A whole clang-built object: its BTF, maps (with their initial contents)
//! and programs, then runs and map reads:
//!
//! ```no_run
//! use ebee_kernel::{LoadedObject, ObjectLoadOptions, TestRun};
//!
//! let obj = ebee_object::Object::parse(&std::fs::read("xdp.o").unwrap()).unwrap();
//! let loaded = LoadedObject::load(&obj, &ObjectLoadOptions::default())
//!     .unwrap_or_else(|e| panic!("{e}")); // names the map or program, shows the log
//! let out = loaded.program("bounce").unwrap().test_run(&TestRun::new(&[0u8; 64])).unwrap();
//! println!("returned {}", out.retval);
//! let counts = loaded.map("counts").unwrap();
//! for key in counts.keys() {
//!     let key = key.unwrap();
//!     println!("{key:?} -> {:?}", counts.lookup(&key).unwrap());
//! }
//! ```
//!
//! Layout: [`sys`] is the syscall layer; [`prog`] loads programs, [`map`]
//! creates and operates maps, [`ringbuf`] reads ring buffers, [`btf`]
//! loads BTF, [`loaded_object`] puts an `ebee_object::Object` in the
//! kernel with all of them.

#![warn(missing_docs)]

pub mod btf;
pub mod error;
mod kconfig;
pub mod loaded_object;
pub mod map;
pub mod probe;
pub mod prog;
pub mod ringbuf;
pub mod sys;
pub mod test_run;
pub mod verifier_log;

pub use btf::{BtfLoadError, KernelBtf};
pub use ebee_object::AttachType;
pub use ebee_object::MapType;
pub use ebee_object::ProgramType;
pub use error::{errno_name, LoadError, TestRunError};
pub use loaded_object::{LoadedObject, ObjectLoadError, ObjectLoadOptions};
pub use map::{
    lpm_key, possible_cpus, KernelMap, MapError, MapInfo, MapKeys, MapSpec, BPF_ANY, BPF_EXIST,
    BPF_F_LOCK, BPF_F_NO_PREALLOC, BPF_NOEXIST,
};
pub use probe::{probe, probe_program_type};
pub use prog::{KernelProgram, LoadOptions, ProgramBtf};
pub use ringbuf::RingBufReader;
pub use test_run::{TestRun, TestRunOutput};
pub use verifier_log::{LogLevel, VerifierLog, VerifierStats};

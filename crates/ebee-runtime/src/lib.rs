//! Userspace execution of eBPF: interpreter, memory regions, helpers, maps, program types.

#![warn(missing_docs)]

//! The Linux backend: bpf(2) program load, maps, attach and test runs through raw syscalls.

#![warn(missing_docs)]

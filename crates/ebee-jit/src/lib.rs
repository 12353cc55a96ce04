//! Native code for eBPF programs through Cranelift, verified and checked modes.

#![warn(missing_docs)]

//! Static safety proof of eBPF programs, with diagnostics people can act on.

#![warn(missing_docs)]

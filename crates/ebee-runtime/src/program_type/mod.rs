//! Program types: the context a program of each kind receives, the
//! helpers it may call, and a runner that builds the [`crate::Invocation`].
//!
//! - [`xdp`]: `struct xdp_md`, packet in a low-4-GiB [`LowFrame`].
//! - [`skb`]: `struct __sk_buff` for socket filters and tc.
//! - [`sock_ops`]: `struct bpf_sock_ops` for TCP socket callbacks.
//! - [`tracing`]: `pt_regs` for kprobes, `bpf_perf_event_data` for perf events.
//! - [`custom`]: types the embedder defines (context layout + helpers).
//! - [`mod@btf`]: the BTF of each type's context, CO-RE's target in userspace.

pub mod btf;
mod csum;
pub mod custom;
mod frame;
pub mod skb;
pub mod sock_ops;
pub mod tracing;
pub mod xdp;

pub use btf::context_btf;
pub use csum::{
    csum_add, csum_diff, csum_fold, csum_partial, csum_replace2, csum_replace4,
    csum_replace_by_diff, fold16,
};
pub use frame::LowFrame;

use crate::helper::HelperRegistry;

/// Registers every helper of `from` into `into`, replacing those with the
/// same id: how a program type's helpers join a program's own.
pub fn merge_helpers(into: &mut HelperRegistry, from: &HelperRegistry) {
    for id in from.ids() {
        if let Some(h) = from.get(id as i64 as u64) {
            let h = h.clone();
            let name = h.name().to_string();
            into.register_with_context(id, &name, move |ctx, a| h.call(ctx, a));
        }
    }
}

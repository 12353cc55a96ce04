//! The BTF socket casts `bpf_skc_to_tcp6_sock` (136), `_tcp_sock` (137),
//! `_tcp_timewait_sock` (138), `_tcp_request_sock` (139), `_udp6_sock`
//! (140), `_unix_sock` (178) and `_mptcp_sock` (196): userspace has no
//! kernel sockets, so whatever the argument, it is not one of the asked
//! kind and the answer is NULL, the kernel's answer for a socket of
//! another kind or a null pointer.
//!
//! The verifier does not know them (their argument and result are
//! BTF-typed kernel pointers, which it does not model), so only programs
//! loaded unverified (the BTF-typed tracing programs that call them,
//! e.g. fentry) reach them.

use super::add;
use crate::helper::HelperRegistry;

pub(super) fn register(reg: &mut HelperRegistry) {
    for name in [
        "skc_to_tcp6_sock",
        "skc_to_tcp_sock",
        "skc_to_tcp_timewait_sock",
        "skc_to_tcp_request_sock",
        "skc_to_udp6_sock",
        "skc_to_unix_sock",
        "skc_to_mptcp_sock",
    ] {
        add(reg, name, |_, _| Ok(0));
    }
}

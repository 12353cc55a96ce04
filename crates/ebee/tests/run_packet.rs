//! `ebee run OBJ.o --packet-hex`: XDP and tc programs of a clang-built
//! object run on a packet; the action is printed by name and the changed
//! packet in hex (checked against the MAC swap + TTL decrement by hand).

use std::path::Path;
use std::process::Command;

fn compile(name: &str) -> std::path::PathBuf {
    let src =
        Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("../ebee-runtime/tests/c/{name}.c"));
    ebee_corpus::clang::compile_bpf(&src, Path::new(env!("CARGO_TARGET_TMPDIR")), &[])
        .unwrap_or_else(|e| panic!("{e}"))
}

fn ebee(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_ebee"))
        .args(args)
        .output()
        .unwrap()
}

const PACKET: &str = "00112233445566778899aabb0800450000280000000040060000c0a80001c0a80002040000500000000000000000500200000000000011";

#[test]
fn xdp_action_and_changed_packet() {
    let obj = compile("prog_type_xdp");
    let o = ebee(&[
        "run",
        obj.to_str().unwrap(),
        "--program",
        "xdp_swap",
        "--unverified",
        "--packet-hex",
        PACKET,
    ]);
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(
        o.status.success(),
        "{out}{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(out.contains("action = XDP_TX (r0 = 3)"), "{out}");
    // MACs swapped, TTL 0x40 -> 0x3f, checksum 0x0000 -> 0x0100.
    assert!(
        out.contains("packet (55 bytes): 66778899aabb001122334455080045000028000000003f060100"),
        "{out}"
    );
}

#[test]
fn tc_action_redirect_and_fields() {
    let obj = compile("prog_type_skb");
    let o = ebee(&[
        "run",
        obj.to_str().unwrap(),
        "--program",
        "tc_rewrite",
        "--unverified",
        "--packet-hex",
        PACKET,
    ]);
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(
        o.status.success(),
        "{out}{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(out.contains("action = TC_ACT_REDIRECT (r0 = 7)"), "{out}");
    assert!(out.contains("redirect: ifindex 1 flags 0x1"), "{out}");
    let o = ebee(&[
        "run",
        obj.to_str().unwrap(),
        "--program",
        "sock_udp",
        "--packet-hex",
        "0011",
    ]);
    assert!(!o.status.success());
}

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

/// Runs `ebee`, asserts it succeeded (showing both streams if not) and
/// returns its stdout.
fn ebee_ok(args: &[&str]) -> String {
    let o = ebee(args);
    let out = String::from_utf8_lossy(&o.stdout).into_owned();
    assert!(
        o.status.success(),
        "{out}{}",
        String::from_utf8_lossy(&o.stderr)
    );
    out
}

const PACKET: &str = "00112233445566778899aabb0800450000280000000040060000c0a80001c0a80002040000500000000000000000500200000000000011";

#[test]
fn a_packet_program_without_a_packet_says_how_to_give_one() {
    let obj = compile("prog_type_xdp");
    let o = ebee(&["run", obj.to_str().unwrap(), "--program", "xdp_swap"]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success());
    assert!(
        err.contains("is an XDP program: give it a packet with --packet FILE or --packet-hex HEX"),
        "{err}"
    );
}

#[test]
fn xdp_action_and_changed_packet() {
    let obj = compile("prog_type_xdp");
    let out = ebee_ok(&[
        "run",
        obj.to_str().unwrap(),
        "--program",
        "xdp_swap",
        "--unverified",
        "--packet-hex",
        PACKET,
    ]);
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
    let out = ebee_ok(&[
        "run",
        obj.to_str().unwrap(),
        "--program",
        "tc_rewrite",
        "--unverified",
        "--packet-hex",
        PACKET,
    ]);
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

/// `struct ebee_pkt_hdr` with `value` moved from offset 4 to 8, as raw BTF.
fn shifted_btf_file() -> std::path::PathBuf {
    use ebee_object::btf::{BtfBuilder, Field};
    let mut b = BtfBuilder::new();
    let u32_t = b.int("unsigned int", 4, false);
    b.add_struct(
        "ebee_pkt_hdr",
        &[
            Field::new("magic", u32_t),
            Field::new("version", u32_t),
            Field::new("value", u32_t),
        ],
    );
    let path = Path::new(env!("CARGO_TARGET_TMPDIR")).join("ebee_pkt_hdr.btf");
    std::fs::write(&path, b.build().unwrap().to_bytes()).unwrap();
    path
}

/// magic 0xeb, then 0x11 at offset 4 (the local `value`) and 0x22 at 8.
const SHIFTED: &str = "eb000000110000002200000000000000000000000000000000";

#[test]
fn btf_option_is_the_core_target() {
    let obj = compile("core_shifted");
    let btf = shifted_btf_file();
    let out = ebee_ok(&[
        "run",
        obj.to_str().unwrap(),
        "--btf",
        btf.to_str().unwrap(),
        "--packet-hex",
        SHIFTED,
    ]);
    assert!(out.contains("(r0 = 34)"), "{out}");
    // Without it the XDP context BTF has no such type: the verifier finds
    // the poisoned access (exit 5, the relocation named).
    let o = ebee(&["run", obj.to_str().unwrap(), "--packet-hex", SHIFTED]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(5), "{err}");
    assert!(
        err.contains("poisoned by CO-RE") && err.contains("`0:0`"),
        "{err}"
    );
    // The same target in the kernel.
    if ebee_kernel::probe().is_ok() {
        let o = ebee(&[
            "run",
            "--kernel",
            obj.to_str().unwrap(),
            "--btf",
            btf.to_str().unwrap(),
            "--mem-hex",
            SHIFTED,
        ]);
        let out = String::from_utf8_lossy(&o.stdout);
        assert!(
            o.status.success(),
            "{out}{}",
            String::from_utf8_lossy(&o.stderr)
        );
        assert!(out.contains("r0 = 34"), "{out}");
    } else {
        println!("skipped: the kernel half: no bpf(2)");
    }
    // An ELF file's .BTF works as the target too: the object's own, where
    // `value` is where the program expects it (0x11).
    let out = ebee_ok(&[
        "run",
        obj.to_str().unwrap(),
        "--btf",
        obj.to_str().unwrap(),
        "--packet-hex",
        SHIFTED,
    ]);
    assert!(out.contains("(r0 = 17)"), "{out}");
    // Garbage is a clear error.
    let o = ebee(&[
        "run",
        obj.to_str().unwrap(),
        "--btf",
        "/etc/hostname",
        "--packet-hex",
        SHIFTED,
    ]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(3), "{err}");
    assert!(
        err.contains("--btf") && err.contains("neither raw BTF"),
        "{err}"
    );
}

//! The individual forms of both syntaxes, their aliases, listings pasted
//! from llvm-objdump and the verifier log, syntax detection, and errors.

use ebee_isa::asm::{assemble, assemble_as, detect_syntax, Syntax};
use ebee_isa::disasm::{format_insn, Syntax as DisasmSyntax};
use ebee_isa::*;

fn r(n: u8) -> Reg {
    Reg::new(n).unwrap()
}

fn linux(text: &str) -> Vec<Insn> {
    assemble_as(text, Syntax::Linux).unwrap_or_else(|e| panic!("`{text}`: {e}"))
}

fn ubpf(text: &str) -> Vec<Insn> {
    assemble_as(text, Syntax::Ubpf).unwrap_or_else(|e| panic!("`{text}`: {e}"))
}

fn one(insns: Vec<Insn>) -> Insn {
    insns[0]
}

fn linux_err(text: &str) -> String {
    assemble_as(text, Syntax::Linux)
        .expect_err(text)
        .to_string()
}

fn ubpf_err(text: &str) -> String {
    assemble_as(text, Syntax::Ubpf).expect_err(text).to_string()
}

#[test]
fn disasm_reexports_the_same_syntax() {
    assert_eq!(DisasmSyntax::Ubpf, Syntax::Ubpf);
}

#[test]
fn helper_calls_by_id_and_name() {
    let want = Insn::Call(CallTarget::Helper(1));
    for text in [
        "call 1",
        "call 0x1",
        "call bpf_map_lookup_elem",
        "call map_lookup_elem",
        "call bpf_map_lookup_elem#1",
    ] {
        assert_eq!(one(linux(text)), want, "{text}");
    }
    for text in [
        "call 1",
        "call helper 1",
        "call map_lookup_elem",
        "call bpf_map_lookup_elem",
    ] {
        assert_eq!(one(ubpf(text)), want, "{text}");
    }
    assert_eq!(format_insn(&want, Syntax::Linux), "call 1");
}

#[test]
fn local_calls_kfuncs_and_callx() {
    assert_eq!(one(linux("call pc+3")), Insn::Call(CallTarget::Local(3)));
    assert_eq!(one(linux("call pc-2")), Insn::Call(CallTarget::Local(-2)));
    assert_eq!(
        linux("call f\nexit\nf:\nr0 = 0\nexit")[0],
        Insn::Call(CallTarget::Local(1))
    );
    assert_eq!(
        ubpf("call local f\nexit\nf:\nmov %r0, 0\nexit")[0],
        Insn::Call(CallTarget::Local(1))
    );
    assert_eq!(
        one(ubpf("call local -1")),
        Insn::Call(CallTarget::Local(-1))
    );
    let kf = Insn::Call(CallTarget::Kfunc {
        btf_id: 7,
        module: 2,
    });
    assert_eq!(one(linux("call kfunc(7, 2)")), kf);
    assert_eq!(one(ubpf("call kfunc 7, 2")), kf);
    assert_eq!(
        one(ubpf("call runtime 7")),
        Insn::Call(CallTarget::Kfunc {
            btf_id: 7,
            module: 0
        })
    );
    assert_eq!(one(linux("callx r2")), Insn::CallX { reg: r(2) });
    assert_eq!(one(ubpf("call %r2")), Insn::CallX { reg: r(2) });
    assert_eq!(one(ubpf("callx %r2")), Insn::CallX { reg: r(2) });
}

#[test]
fn linux_memory_forms_and_their_spellings() {
    let load = Insn::Load {
        size: Size::W,
        signed: false,
        dst: r(1),
        src: r(10),
        off: -4,
    };
    for text in [
        "r1 = *(u32 *)(r10 - 4)",
        "r1 = *(u32 *)(r10 - 0x4)",
        "r1 = *(u32 *)(r10 -4)",
        "w1 = *(u32 *)(r10 + -4)",
    ] {
        assert_eq!(one(linux(text)), load, "{text}");
    }
    assert_eq!(
        one(linux("r1 = *(s16 *)(r2 + 0x2)")),
        Insn::Load {
            size: Size::H,
            signed: true,
            dst: r(1),
            src: r(2),
            off: 2
        }
    );
    assert_eq!(
        one(linux("*(u32 *)(r10 - 8) = 5")),
        Insn::Store {
            size: Size::W,
            dst: r(10),
            off: -8,
            src: Operand::Imm(5)
        }
    );
    assert_eq!(
        one(linux("*(u8 *)(r10 - 8) = w3")),
        Insn::Store {
            size: Size::B,
            dst: r(10),
            off: -8,
            src: Operand::Reg(r(3))
        }
    );
    assert_eq!(
        one(linux("r0 = *(u16 *)skb[r1 + 0x4]")),
        Insn::LdPacket {
            size: Size::H,
            index: Some(r(1)),
            imm: 4
        }
    );
}

#[test]
fn kernel_log_atomic_spellings() {
    let fetch_add = Insn::Atomic {
        size: Size::DW,
        op: AtomicOp::Add { fetch: true },
        dst: r(1),
        src: r(2),
        off: 0,
    };
    assert_eq!(
        one(linux("r2 = atomic_fetch_add((u64 *)(r1 + 0x0), r2)")),
        fetch_add
    );
    assert_eq!(
        one(linux("r2 = atomic64_fetch_add((u64 *)(r1 +0), r2)")),
        fetch_add
    );
    let cmpxchg = Insn::Atomic {
        size: Size::W,
        op: AtomicOp::CmpXchg,
        dst: r(1),
        src: r(2),
        off: 8,
    };
    assert_eq!(one(linux("w0 = cmpxchg32_32(r1 + 0x8, w0, w2)")), cmpxchg);
    assert_eq!(
        one(linux("r0 = atomic_cmpxchg((u32 *)(r1 +8), r0, r2)")),
        cmpxchg
    );
    assert_eq!(
        one(linux("r0 = load_acquire((u64 *)(r1 + 0x0))")),
        Insn::Atomic {
            size: Size::DW,
            op: AtomicOp::LoadAcquire,
            dst: r(0),
            src: r(1),
            off: 0
        }
    );
}

#[test]
fn lddw_kinds_in_both_syntaxes() {
    let cases = [
        (
            "r1 = map_fd(5) ll",
            "lddw %r1, map_fd(5)",
            Imm64Kind::MapFd,
            5,
        ),
        (
            "r1 = map_value(5) + 16 ll",
            "lddw %r1, map_value(5)+16",
            Imm64Kind::MapValue,
            5 | (16 << 32),
        ),
        (
            "r1 = btf_id(7) ll",
            "lddw %r1, btf_id(7)",
            Imm64Kind::BtfId,
            7,
        ),
        (
            "r1 = map_idx(0) ll",
            "lddw %r1, map_idx(0)",
            Imm64Kind::MapIdx,
            0,
        ),
        (
            "r1 = map_idx_value(1) - 8 ll",
            "lddw %r1, map_idx_value(1)-8",
            Imm64Kind::MapIdxValue,
            1 | ((-8i64) << 32),
        ),
        ("r1 = func(+3) ll", "lddw %r1, func(+3)", Imm64Kind::Func, 3),
    ];
    for (l, u, kind, imm) in cases {
        let want = Insn::LdImm64 {
            dst: r(1),
            kind,
            imm,
        };
        assert_eq!(linux(l), vec![want, Insn::LdImm64Tail], "{l}");
        assert_eq!(ubpf(u), vec![want, Insn::LdImm64Tail], "{u}");
        assert_eq!(format_insn(&want, Syntax::Linux), l);
        assert_eq!(format_insn(&want, Syntax::Ubpf), u);
    }
    // A function address by label, and LLVM's ld_pseudo form.
    assert_eq!(
        linux("r1 = func(cb) ll\nexit\ncb:\nexit")[0],
        Insn::LdImm64 {
            dst: r(1),
            kind: Imm64Kind::Func,
            imm: 2
        }
    );
    assert_eq!(
        one(linux("ld_pseudo r1, 2, 0x5")),
        Insn::LdImm64 {
            dst: r(1),
            kind: Imm64Kind::MapValue,
            imm: 5
        }
    );
    // The verifier log writes lddw without `ll`.
    assert_eq!(
        one(linux("7: (18) r1 = 0x123456789abcdef")),
        Insn::LdImm64 {
            dst: r(1),
            kind: Imm64Kind::Imm,
            imm: 0x123456789abcdef
        }
    );
}

#[test]
fn ubpf_forms_the_corpus_does_not_cover() {
    assert_eq!(
        one(ubpf("ldabsb 0x10")),
        Insn::LdPacket {
            size: Size::B,
            index: None,
            imm: 16
        }
    );
    assert_eq!(
        one(ubpf("ldindw %r1, 4")),
        Insn::LdPacket {
            size: Size::W,
            index: Some(r(1)),
            imm: 4
        }
    );
    assert_eq!(
        one(ubpf("ldxsw %r0, [%r1-8]")),
        Insn::Load {
            size: Size::W,
            signed: true,
            dst: r(0),
            src: r(1),
            off: -8
        }
    );
    assert_eq!(
        one(ubpf("ldxacqdw %r0, [%r1+8]")),
        Insn::Atomic {
            size: Size::DW,
            op: AtomicOp::LoadAcquire,
            dst: r(0),
            src: r(1),
            off: 8
        }
    );
    assert_eq!(
        one(ubpf("stxrelb [%r1], %r2")),
        Insn::Atomic {
            size: Size::B,
            op: AtomicOp::StoreRelease,
            dst: r(1),
            src: r(2),
            off: 0
        }
    );
    assert_eq!(one(ubpf("may_goto +3")), Insn::MayGoto { off: 3 });
    assert_eq!(one(ubpf("mov64 %r0, %r1")), one(ubpf("mov %r0, %r1")));
    assert_eq!(one(ubpf("swap16 %r0")), one(ubpf("bswap16 %r0")));
    // `exit` names the first exit unless a label says otherwise.
    assert_eq!(
        ubpf("ja exit\nmov %r0, 1\nexit\nexit")[0],
        Insn::Ja {
            off: 1,
            long: false
        }
    );
    assert_eq!(
        ubpf("ja32 far\nexit\nfar:\nexit")[0],
        Insn::Ja { off: 1, long: true }
    );
}

#[test]
fn comments_labels_and_listings() {
    let want = vec![
        Insn::Alu {
            width: Width::W64,
            op: AluOp::Mov,
            dst: r(0),
            src: Operand::Imm(1),
        },
        Insn::Exit,
    ];
    let texts = [
        "r0 = 1 ; comment\n// whole line\nexit # another",
        "start: r0 = 1\n  \n# note\nexit",
        // The verifier log, with state comments.
        "func#0 @0\n0: R1=ctx() R10=fp0\n0: (b7) r0 = 1                 ; R0_w=1\n1: (95) exit\n",
    ];
    for t in &texts[..2] {
        assert_eq!(linux(t), want, "{t}");
    }
    // State lines of the verifier log are not instructions.
    assert!(assemble_as(texts[2], Syntax::Linux).is_err());
    let insn_lines: String = texts[2]
        .lines()
        .filter(|l| l.contains(": ("))
        .map(|l| format!("{l}\n"))
        .collect();
    assert_eq!(linux(&insn_lines), want);
    // A whole llvm-objdump listing.
    let listing = "\nprog.o:\tfile format elf64-bpf\n\nDisassembly of section .text:\n\n\
                   0000000000000000 <f>:\n       0:\tb7 00 00 00 01 00 00 00\tr0 = 0x1\n\
                   \t\t0000000000000000:  R_BPF_64_64\tmap\n       1:\t95 00 00 00 00 00 00 00\texit\n";
    assert_eq!(linux(listing), want);
    assert_eq!(assemble(listing).unwrap(), want);
    // `--no-leading-addr` listings.
    assert_eq!(
        linux("\tb7 00 00 00 01 00 00 00\tr0 = 0x1\n\t95 00 00 00 00 00 00 00\texit"),
        want
    );
    assert_eq!(ubpf("mov %r0, 1 # one\n; semicolon\nexit"), want);
    // A line LLVM could not decode is an error, not silence.
    let e = linux_err("       0:\tb7 00 00 00 01 00 00 00\t<unknown>");
    assert!(e.contains("<"), "{e}");
}

#[test]
fn syntax_detection() {
    assert_eq!(detect_syntax("mov %r0, 1\nexit"), Syntax::Ubpf);
    assert_eq!(detect_syntax("# c\nexit\nlddw %r0, 1"), Syntax::Ubpf);
    assert_eq!(detect_syntax("label:\n  ja label"), Syntax::Ubpf);
    assert_eq!(detect_syntax("lock add [r1], r2"), Syntax::Ubpf);
    assert_eq!(detect_syntax("call local f"), Syntax::Ubpf);
    assert_eq!(detect_syntax("r0 = 1\nexit"), Syntax::Linux);
    assert_eq!(detect_syntax("exit\nif r1 > r2 goto +1"), Syntax::Linux);
    assert_eq!(detect_syntax("lock *(u64 *)(r1 + 0) += r2"), Syntax::Linux);
    assert_eq!(detect_syntax("*(u64 *)(r10 - 8) = r1"), Syntax::Linux);
    assert_eq!(detect_syntax("w0 += w1"), Syntax::Linux);
    assert_eq!(detect_syntax("call kfunc(5)"), Syntax::Linux);
    assert_eq!(detect_syntax("exit"), Syntax::Linux);
    assert_eq!(detect_syntax("0: (b7) r0 = 1"), Syntax::Linux);
    assert_eq!(
        detect_syntax("       0:\tb7 00 00 00 01 00 00 00\tmov %r0, 0x1"),
        Syntax::Ubpf
    );
}

#[test]
fn linux_errors_say_what_is_wrong() {
    for (text, words) in [
        ("w0 = r1", "mixed register widths"),
        ("r0 = -r1", "in place"),
        ("r0 = be16 r1", "in place"),
        ("r1 = *(u8 *)skb[0x10]", "r0"),
        ("r1 = cmpxchg_64(r1 + 0x0, r0, r2)", "r0"),
        (
            "r3 = atomic_fetch_add((u64 *)(r1 + 0x0), r2)",
            "value register",
        ),
        ("lock *(u8 *)(r1 + 0x0) += r2", "u32 or u64"),
        ("w0 = (s32)w1", "(s32)"),
        ("r0 = *(s64 *)(r1 + 0)", "64-bit load"),
        ("r11 = 1", "invalid register `r11`"),
        ("r0 = 1 ll extra", "unexpected `extra`"),
        ("if r1 ~ r2 goto +1", "unexpected character"),
        ("if r1 = r2 goto +1", "not a comparison"),
        ("goto +40000", "16-bit"),
        ("frobnicate r1", "unknown instruction `frobnicate`"),
        ("r0 = 12ab", "invalid number"),
        ("*(s32 *)(r1 + 0) = 1", "only loads"),
    ] {
        let e = linux_err(text);
        assert!(e.contains(words), "`{text}`: `{e}` does not say `{words}`");
    }
}

#[test]
fn ubpf_errors_say_what_is_wrong() {
    for (text, words) in [
        ("movsx832 %r0, 5", "register"),
        ("ldxsdw %r0, [%r1]", "invalid mnemonic"),
        ("lock nand [%r1], %r2", "invalid atomic operation"),
        ("jeq %r1, 0", "takes 3, found 2"),
        ("exit %r0", "takes 0, found 1"),
        ("mov %r0, 4294967295", "32-bit range"),
        ("mov %r0, 0xffffffff", ""),
        ("call local nowhere", "undefined label `nowhere`"),
        ("ja +32768", "16-bit"),
        ("stw [%r1-32769], 1", "16-bit"),
        ("a:\na:\nexit", "defined twice"),
        ("ja end\nexit\nend:", "after the last instruction"),
    ] {
        match assemble_as(text, Syntax::Ubpf) {
            Err(e) => assert!(
                e.to_string().contains(words),
                "`{text}`: `{e}` does not say `{words}`"
            ),
            Ok(_) => assert!(words.is_empty(), "`{text}` was accepted"),
        }
    }
    let e = ubpf_err("mov %r0, 1\n  jne %r1, 0x5, +70000");
    assert!(e.starts_with("line 2, column 17:"), "{e}");
}

mod never_panics {
    use super::*;
    use proptest::prelude::*;

    const VOCABULARY: &[&str] = &[
        "r1",
        "w2",
        "%r3",
        "%r99",
        "r10",
        "=",
        "+=",
        "s>>=",
        "(",
        ")",
        "*",
        "u32",
        "s8",
        "u64",
        "skb",
        "[",
        "]",
        "goto",
        "gotol",
        "if",
        "call",
        "callx",
        "lock",
        "ll",
        "0x10",
        "-",
        "+",
        "5",
        "-0x8000",
        "99999999999999999999",
        ":",
        "#",
        ";",
        "//",
        "\t",
        "b7",
        "00",
        "<f+0x1>",
        "map_value",
        "func",
        "kfunc",
        ",",
        "exit",
        "ja32",
        "lddw",
        "mov32",
        "ldxw",
        "stxdw",
        "lock",
        "fetch",
        "xchg",
        "cmpxchg32",
        "pc",
        "é",
        "1:",
        "(b7)",
        "atomic_fetch_or",
        "load_acquire",
        "store_release",
        "be16",
        "movsx832",
        "ld_pseudo",
        "label",
        "\n",
        " ",
    ];

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]

        #[test]
        fn token_soup_gives_a_result_or_a_positioned_error(
            words in proptest::collection::vec(proptest::sample::select(VOCABULARY), 0..24),
            glue in proptest::collection::vec(proptest::sample::select(&[" ", "", "\n"][..]), 24),
        ) {
            let text: String = words.iter().zip(&glue).map(|(w, g)| format!("{w}{g}")).collect();
            for syntax in [Syntax::Linux, Syntax::Ubpf] {
                if let Err(e) = assemble_as(&text, syntax) {
                    prop_assert!(e.line >= 1 && e.column >= 1, "{}", e);
                    prop_assert!(!e.message.is_empty());
                }
            }
            let _ = assemble(&text);
        }

        #[test]
        fn arbitrary_text_never_panics(text in any::<String>()) {
            let _ = assemble_as(&text, Syntax::Linux);
            let _ = assemble_as(&text, Syntax::Ubpf);
            let _ = detect_syntax(&text);
        }
    }
}

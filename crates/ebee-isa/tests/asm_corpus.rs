//! The assembler against the bpf_conformance corpus: every `-- asm` section
//! assembles (uBPF syntax) to exactly the bytes the upstream assembler
//! produced for it, and every `negative/invalid_*.data` is rejected with a
//! line, a column and a message naming what is wrong.

use ebee_corpus::data_file;
use ebee_isa::asm::{assemble, assemble_as, detect_syntax, Syntax};

/// The `-- asm` section of a `.data` file (an unknown directive stays in,
/// for the assembler to reject).
fn asm_section(text: &str) -> Option<String> {
    data_file::parse(text).expect("data file").asm
}

#[test]
fn every_asm_section_assembles_to_the_reference_bytes() {
    let Some(dir) = ebee_corpus::conformance_dir() else {
        return;
    };
    let (mut checked, mut failures) = (0, Vec::new());
    for case in ebee_corpus::conformance::cases(&dir) {
        let file = case.file.as_str();
        let want = ebee_corpus::to_hex(&case.program);
        let text = std::fs::read_to_string(dir.join("tests").join(file)).unwrap();
        let Some(asm) = asm_section(&text) else {
            continue;
        };
        assert_eq!(
            detect_syntax(&asm),
            Syntax::Ubpf,
            "{file}: syntax detection"
        );
        match assemble_as(&asm, Syntax::Ubpf) {
            Ok(insns) => {
                let got = ebee_corpus::to_hex(&ebee_isa::encode(&insns));
                if got != want {
                    failures.push(format!("{file}: got {got}, want {want}"));
                }
                // Detection agrees.
                assert_eq!(assemble(&asm).unwrap(), insns, "{file}");
            }
            Err(e) => failures.push(format!("{file}: {e}")),
        }
        checked += 1;
    }
    assert!(
        failures.is_empty(),
        "{} of {checked} differ:\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert!(checked >= 200, "only {checked} programs checked");
    println!("{checked} corpus programs assemble to the reference bytes");
}

#[test]
fn every_invalid_program_is_rejected_with_a_position() {
    let Some(dir) = ebee_corpus::conformance_dir() else {
        return;
    };
    // What each rejection must mention (from the corpus' parser notes).
    let expect: &[(&str, &[&str])] = &[
        (
            "invalid_imm32_dec_range.data",
            &["out of 32-bit range", "2147483648"],
        ),
        (
            "invalid_imm32_hex_range.data",
            &["out of 32-bit range", "0x100000000"],
        ),
        ("invalid_label.data", &["label", "NOT_A_LABEL"]),
        ("invalid_lock.data", &["number of operands", "lock or"]),
        ("invalid_lock2.data", &["number of operands", "lock"]),
        ("invalid_mnemonic.data", &["mnemonic", "ldxq"]),
        ("invalid_offset.data", &["memory operand", "%r1"]),
        (
            "invalid_offset_range.data",
            &["out of 16-bit range", "0x10000"],
        ),
        (
            "invalid_operand_count.data",
            &["number of operands", "lddw"],
        ),
        ("invalid_register.data", &["invalid register", "%r50"]),
        ("invalid_unknown_directive.data", &["`-`"]),
    ];
    let mut seen = 0;
    for entry in std::fs::read_dir(dir.join("negative")).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_str().unwrap().to_string();
        if !name.starts_with("invalid_") {
            continue;
        }
        let (_, words) = expect
            .iter()
            .find(|(f, _)| *f == name)
            .unwrap_or_else(|| panic!("no expectation for new negative test {name}"));
        let asm = asm_section(&std::fs::read_to_string(&path).unwrap()).unwrap();
        let err = assemble_as(&asm, Syntax::Ubpf).expect_err(&name);
        assert!(err.line >= 1 && err.column >= 1, "{name}: {err}");
        for w in *words {
            assert!(
                err.message.contains(w),
                "{name}: `{}` does not mention `{w}`",
                err.message
            );
        }
        println!("{name}: {err}");
        seen += 1;
    }
    assert_eq!(seen, expect.len());
}

#[test]
fn error_positions_point_at_the_offending_token() {
    let e = assemble_as("mov %r0, 1\nor %r0, %r50\nexit", Syntax::Ubpf).unwrap_err();
    assert_eq!((e.line, e.column), (2, 9), "{e}");
    assert_eq!(e.to_string(), format!("line 2, column 9: {}", e.message));
    let e = assemble_as("  ja NOT_A_LABEL\nexit", Syntax::Ubpf).unwrap_err();
    assert_eq!((e.line, e.column), (1, 6), "{e}");
    let e = assemble_as("r0 = 1\nif r1 > 0x5 goto nowhere\nexit", Syntax::Linux).unwrap_err();
    assert_eq!((e.line, e.column), (2, 18), "{e}");
    let e = assemble_as("r0 = 0x100000000\nexit", Syntax::Linux).unwrap_err();
    assert_eq!((e.line, e.column), (1, 6), "{e}");
    assert!(e.message.contains("ll"), "{e}");
    let e = assemble_as("w0 = r1", Syntax::Linux).unwrap_err();
    assert_eq!((e.line, e.column), (1, 6), "{e}");
    let e = assemble_as("r0 = *(u32 *)(r1 + 0x8000)", Syntax::Linux).unwrap_err();
    assert!(e.message.contains("16-bit"), "{e}");
    let e = assemble_as("x:\nx:\nexit", Syntax::Linux).unwrap_err();
    assert_eq!((e.line, e.column), (2, 1), "{e}");
    let e = assemble_as("", Syntax::Linux).unwrap_err();
    assert!(e.message.contains("no instructions"), "{e}");
    let e = assemble_as("call no_such_thing", Syntax::Linux).unwrap_err();
    assert!(e.message.contains("no_such_thing"), "{e}");
}

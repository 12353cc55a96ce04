//! Decoding against the bpf_conformance corpus: every assembled test decodes
//! and re-encodes to the same bytes; every encoding with a non-zero unused
//! field is rejected.

#[test]
fn assembled_tests_round_trip() {
    let Some(dir) = ebee_corpus::conformance_dir() else {
        return;
    };
    let cases = ebee_corpus::conformance::cases(&dir);
    for case in &cases {
        let insns =
            ebee_isa::decode(&case.program).unwrap_or_else(|e| panic!("{}: {e}", case.file));
        assert_eq!(ebee_isa::encode(&insns), case.program, "{}", case.file);
    }
    assert!(cases.len() >= 200, "only {} tests read", cases.len());
}

#[test]
fn unused_fields_are_rejected() {
    let Some(dir) = ebee_corpus::conformance_dir() else {
        return;
    };
    let cases = ebee_corpus::conformance::unused_field_cases(&dir);
    for (file, bytes) in &cases {
        let err = ebee_isa::decode(bytes).expect_err(file);
        assert_eq!(err.pc, 0, "{file}: {err}");
    }
    assert_eq!(cases.len(), 45);
}

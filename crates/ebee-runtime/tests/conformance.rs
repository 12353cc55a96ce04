//! The bpf_conformance corpus on the interpreter, in checked and unchecked
//! mode: every program must return exactly the expected `r0` (and fail
//! where an error is expected). Helper 5 is registered by the harness, as
//! the suite's plugin protocol requires; it returns its first argument.

use ebee_runtime::Vm;

struct Case {
    file: String,
    program: Vec<u8>,
    mem: Vec<u8>,
    expected: Option<u64>,
}

fn hex(s: &str) -> Vec<u8> {
    (0..s.len() / 2)
        .map(|i| u8::from_str_radix(&s[2 * i..2 * i + 2], 16).expect("hex"))
        .collect()
}

fn parse_result(s: &str) -> u64 {
    let s = s.trim();
    if let Some(h) = s.strip_prefix("0x") {
        u64::from_str_radix(h, 16).expect("hex result")
    } else if let Some(d) = s.strip_prefix('-') {
        d.parse::<u64>().expect("result").wrapping_neg()
    } else {
        s.parse().expect("result")
    }
}

fn cases() -> Vec<Case> {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../../shared/corpora/bpf_conformance/assembled_tests.jsonl"
    );
    let text = std::fs::read_to_string(path).expect("conformance corpus");
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).expect("json line");
            let s = |k: &str| v[k].as_str().unwrap_or("").to_string();
            let error = s("expected_error");
            Case {
                file: s("file"),
                program: hex(&s("program_hex")),
                mem: hex(&s("mem_hex")),
                expected: error
                    .is_empty()
                    .then(|| parse_result(&s("expected_result"))),
            }
        })
        .filter(|c| !c.program.is_empty())
        .collect()
}

fn vm(program: &[u8]) -> Result<Vm, String> {
    let mut vm = Vm::from_bytes(program).map_err(|e| e.to_string())?;
    vm.helpers_mut()
        .register(5, "conformance_helper", |args| Ok(args[0]));
    Ok(vm)
}

fn run_all(checked: bool) {
    let cases = cases();
    assert!(
        cases.len() > 200,
        "corpus has only {} programs",
        cases.len()
    );
    let mut failures = Vec::new();
    for case in &cases {
        let mut mem = case.mem.clone();
        let result = vm(&case.program).and_then(|vm| {
            if checked {
                vm.run(&mut mem).map_err(|e| e.to_string())
            } else {
                // SAFETY: the corpus programs are valid: they only access
                // their input and stack (the checked run proves it for
                // these inputs).
                unsafe { vm.run_unchecked(&mut mem) }.map_err(|e| e.to_string())
            }
        });
        match (case.expected, result) {
            (Some(want), Ok(got)) if want == got => {}
            (None, Err(_)) => {}
            (want, got) => failures.push(format!("{}: want {want:x?}, got {got:x?}", case.file)),
        }
    }
    println!(
        "{} mode: {}/{} passed",
        if checked { "checked" } else { "unchecked" },
        cases.len() - failures.len(),
        cases.len()
    );
    assert!(failures.is_empty(), "failures:\n{}", failures.join("\n"));
}

#[test]
fn conformance_checked() {
    run_all(true);
}

#[test]
fn conformance_unchecked() {
    // The unchecked runs rely on the checked ones passing.
    run_all(true);
    run_all(false);
}

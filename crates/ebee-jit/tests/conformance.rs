//! The bpf_conformance corpus on the JIT, in verified and checked mode:
//! every program must return exactly the expected `r0` (and fail where an
//! error is expected). Helper 5 must exist and return normally.

use ebee_jit::{JitOptions, JitProgram};
use ebee_runtime::Vm;

struct Case {
    file: String,
    program: Vec<u8>,
    mem: Vec<u8>,
    expected: Option<u64>,
}

fn hex(s: &str) -> Vec<u8> {
    (0..s.len() / 2)
        .map(|i| u8::from_str_radix(&s[2 * i..2 * i + 2], 16).unwrap())
        .collect()
}

fn parse_result(s: &str) -> u64 {
    let s = s.trim();
    if let Some(h) = s.strip_prefix("0x") {
        u64::from_str_radix(h, 16).unwrap()
    } else if let Some(d) = s.strip_prefix('-') {
        (d.parse::<i64>().unwrap()).wrapping_neg() as u64
    } else {
        s.parse().unwrap()
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
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            let s = |k: &str| v[k].as_str().unwrap_or("").to_string();
            let error = s("expected_error");
            Case {
                file: s("file"),
                program: hex(&s("program_hex")),
                mem: hex(&s("mem_hex")),
                expected: if error.is_empty() {
                    Some(parse_result(&s("expected_result")))
                } else {
                    None
                },
            }
        })
        .collect()
}

/// The interpreter program for a case, with helper 5 (returns 0).
fn vm(case: &Case) -> Result<Vm, String> {
    let mut vm = Vm::from_bytes(&case.program).map_err(|e| e.to_string())?;
    vm.helpers_mut()
        .register(5, "conformance_helper", |_| Ok(0));
    Ok(vm)
}

fn run_case(case: &Case, options: JitOptions) -> Result<u64, String> {
    let checked = options.checked;
    let prog = JitProgram::compile(
        &vm(case)?,
        JitOptions {
            checked,
            optimize: true,
        },
    )
    .map_err(|e| e.to_string())?;
    let mut mem = case.mem.clone();
    let r = if checked {
        prog.run(&mut mem)
    } else {
        // SAFETY: the conformance programs only touch their stack and input.
        unsafe { prog.run_unchecked(&mut mem) }
    };
    r.map_err(|e| e.to_string())
}

fn check_mode(options: JitOptions) {
    let cases = cases();
    assert!(cases.len() >= 200, "corpus has {} cases", cases.len());
    let mut failures = Vec::new();
    let mut passed = 0;
    for case in &cases {
        let got = run_case(case, options);
        // The interpreter is the definition: same r0, same error.
        let interpreted =
            vm(case).and_then(|vm| vm.run(&mut case.mem.clone()).map_err(|e| e.to_string()));
        let ok = match (case.expected, &got) {
            (Some(want), Ok(r0)) => want == *r0,
            (None, Err(_)) => true,
            _ => false,
        } && got == interpreted;
        if ok {
            passed += 1;
        } else {
            failures.push(format!(
                "{}: expected {:?}, got {:?}",
                case.file, case.expected, got
            ));
        }
    }
    println!(
        "conformance ({}{} mode): {passed}/{} passed",
        if options.checked {
            "checked"
        } else {
            "verified"
        },
        if options.optimize {
            ""
        } else {
            ", unoptimised"
        },
        cases.len()
    );
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn conformance_verified_mode() {
    check_mode(JitOptions::VERIFIED);
}

#[test]
fn conformance_checked_mode() {
    check_mode(JitOptions::CHECKED);
}

#[test]
fn conformance_unoptimised() {
    check_mode(JitOptions {
        checked: true,
        optimize: false,
    });
}

/// Every conformance program compiles to aarch64 machine code (not run).
#[test]
fn conformance_compiles_for_aarch64() {
    let mut compiled = 0;
    for case in cases() {
        let insns = ebee_isa::decode(&case.program).expect("corpus programs decode");
        for checked in [false, true] {
            let code = ebee_jit::compile_for_target(&insns, "aarch64", checked)
                .unwrap_or_else(|e| panic!("{}: {e}", case.file));
            assert!(code.iter().all(|f| !f.is_empty()), "{}", case.file);
        }
        compiled += 1;
    }
    println!("aarch64: {compiled} programs compiled in both modes");
    assert_eq!(compiled, cases().len());
}

//! The bpf_conformance corpus on the JIT, in verified and checked mode:
//! every program must return exactly the expected `r0` (and fail where an
//! error is expected). Helper 5 must exist and return normally.

use ebee_jit::{JitOptions, JitProgram};
use ebee_runtime::Vm;

use ebee_corpus::conformance::Case;

fn cases() -> Vec<Case> {
    let dir = ebee_corpus::conformance_dir().expect("conformance corpus");
    ebee_corpus::conformance::cases(&dir)
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
    let prog = JitProgram::compile(&vm(case)?, options).map_err(|e| e.to_string())?;
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
        "conformance ({}{}{} mode): {passed}/{} passed",
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
        if options.blind_constants {
            ", blinded"
        } else {
            ""
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
        optimize: false,
        ..JitOptions::CHECKED
    });
}

#[test]
fn conformance_blinded_verified_mode() {
    check_mode(JitOptions::VERIFIED.blind_constants(true));
}

#[test]
fn conformance_blinded_checked_mode() {
    check_mode(JitOptions::CHECKED.blind_constants(true));
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

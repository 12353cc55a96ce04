//! The verifier's public interface: program types for embedders, options,
//! the log, source lines in rejections. Programs are written in the kernel
//! log's assembly syntax.

use ebee_verifier::{
    verify, Access, ContextLayout, CtxField, FieldKind, HelperGroups, Maps, Options, Program,
    ProgramType, SourceLine,
};

fn asm(text: &str) -> Vec<ebee_isa::Insn> {
    ebee_isa::assemble(text).unwrap_or_else(|e| panic!("{e}\n{text}"))
}

fn check(pt: &ProgramType, text: &str, opts: &Options) -> Result<(), String> {
    let insns = asm(text);
    let maps = Maps::new();
    match verify(&Program::new(&insns, pt, &maps), opts)
        .verdict
        .rejection()
    {
        None => Ok(()),
        Some(r) => Err(r.to_string()),
    }
}

#[test]
fn buffer_program_type() {
    let pt = ProgramType::buffer(16);
    let o = Options::default();
    assert_eq!(check(&pt, "r0 = *(u64 *)(r1 + 8)\nexit", &o), Ok(()));
    let e = check(&pt, "r0 = *(u64 *)(r1 + 9)\nexit", &o).unwrap_err();
    assert!(e.contains("outside the memory region (16 bytes)"), "{e}");
    // r2 holds the length.
    assert_eq!(check(&pt, "r0 = r2\nexit", &o), Ok(()));
    // The exit value must be a number.
    let e = check(&pt, "r0 = r1\nexit", &o).unwrap_err();
    assert!(e.contains("must return a number"), "{e}");
}

#[test]
fn packet_buffer_program_type_needs_a_bounds_check() {
    let pt = ProgramType::packet_buffer();
    let o = Options::default();
    let ok = "r3 = r1\nr3 += 4\nif r3 > r2 goto +2\nr0 = *(u32 *)(r1 + 0)\nexit\nr0 = 0\nexit";
    assert_eq!(check(&pt, ok, &o), Ok(()));
    let bad = "r0 = *(u32 *)(r1 + 0)\nexit";
    assert!(check(&pt, bad, &o)
        .unwrap_err()
        .contains("not proven inside the packet"));
}

#[test]
fn embedder_defined_context() {
    let layout = ContextLayout {
        name: "request",
        size: 16,
        fields: vec![
            CtxField {
                name: "id",
                offset: 0,
                size: 8,
                read: Access::Exact,
                write: Access::Denied,
                kind: FieldKind::Scalar,
            },
            CtxField {
                name: "flags",
                offset: 8,
                size: 4,
                read: Access::Narrow,
                write: Access::Exact,
                kind: FieldKind::Scalar,
            },
        ],
    };
    let pt = ProgramType::custom("request", layout, HelperGroups::BASE);
    let o = Options::default();
    assert_eq!(check(&pt, "r0 = *(u64 *)(r1 + 0)\nexit", &o), Ok(()));
    assert_eq!(check(&pt, "r0 = *(u8 *)(r1 + 8)\nexit", &o), Ok(()));
    assert_eq!(
        check(&pt, "r2 = 1\n*(u32 *)(r1 + 8) = r2\nr0 = 0\nexit", &o),
        Ok(())
    );
    let e = check(&pt, "r2 = 1\n*(u64 *)(r1 + 0) = r2\nr0 = 0\nexit", &o).unwrap_err();
    assert!(e.contains("request.id may not be written"), "{e}");
    let e = check(&pt, "r0 = *(u32 *)(r1 + 12)\nexit", &o).unwrap_err();
    assert!(e.contains("no field of request covers offset 12"), "{e}");
    // Helpers outside the offered groups are refused.
    let e = check(&pt, "call 6\nr0 = 0\nexit", &o).unwrap_err();
    assert!(e.contains("may not call bpf_trace_printk"), "{e}");
}

#[test]
fn strict_stack_option() {
    let pt = ProgramType::socket_filter();
    let prog = "r0 = *(u64 *)(r10 - 8)\nexit";
    assert_eq!(check(&pt, prog, &Options::default()), Ok(()));
    let strict = Options {
        allow_uninit_stack: false,
        ..Options::default()
    };
    let e = check(&pt, prog, &strict).unwrap_err();
    assert!(e.contains("never written"), "{e}");
}

#[test]
fn rejection_paragraph_names_pc_insn_state_path_and_source() {
    let insns = asm("r6 = r1\ncall 7\nif r0 > 10 goto +2\nr0 = *(u32 *)(r6 + 0)\nexit\nr0 = *(u32 *)(r0 + 0)\nexit");
    let lines = vec![
        (
            0,
            SourceLine {
                file: "prog.c".into(),
                line: 3,
                text: "int x = rand();".into(),
            },
        ),
        (
            5,
            SourceLine {
                file: "prog.c".into(),
                line: 7,
                text: "return *(int *)x;".into(),
            },
        ),
    ];
    let pt = ProgramType::socket_filter();
    let maps = Maps::new();
    let p = Program {
        lines: Some(&lines),
        ..Program::new(&insns, &pt, &maps)
    };
    let v = verify(&p, &Options::default());
    let r = v.verdict.rejection().expect("rejected");
    assert_eq!(r.pc, 5);
    assert_eq!(r.insn, "r0 = *(u32 *)(r0 + 0x0)");
    assert_eq!(r.source.as_ref().map(|s| s.line), Some(7));
    let text = r.to_string();
    assert!(text.contains("prog.c:7"), "{text}");
    assert!(text.contains("r0 is a number in [11,"), "{text}");
    assert!(text.contains("jumped at 2"), "{text}");
}

#[test]
fn log_shows_state_before_each_instruction() {
    let insns = asm("r2 = 5\nr3 = r10\nr3 += -8\n*(u64 *)(r3 + 0) = r2\nr0 = 0\nexit");
    let pt = ProgramType::socket_filter();
    let maps = Maps::new();
    let v = verify(
        &Program::new(&insns, &pt, &maps),
        &Options {
            log: true,
            ..Options::default()
        },
    );
    assert!(v.verdict.is_accepted());
    assert!(
        v.log.contains("0: r2 = 0x5 ; R1=ctx() R10=fp0"),
        "{}",
        v.log
    );
    assert!(v.log.contains("R3=fp-8"), "{}", v.log);
    assert!(v.log.contains("fp-8=5"), "{}", v.log);
    let ebee_verifier::Verdict::Accepted(stats) = v.verdict else {
        unreachable!()
    };
    assert_eq!(stats.insns_processed, 6);
    assert_eq!(stats.stack_depth, 8);
}

#[test]
fn complexity_limit() {
    let pt = ProgramType::socket_filter();
    // A loop of 10000 iterations is fine with the default budget, not with 1000.
    let prog = "r1 = 0\nr1 += 1\nif r1 < 10000 goto -2\nr0 = 0\nexit";
    assert_eq!(check(&pt, prog, &Options::default()), Ok(()));
    let e = check(
        &pt,
        prog,
        &Options {
            max_insns: 1000,
            ..Options::default()
        },
    )
    .unwrap_err();
    assert!(e.contains("too complex"), "{e}");
}

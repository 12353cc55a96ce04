//! The eBPF conformance suite's programs (which all run correctly on their
//! input buffer) through the verifier as "buffer" programs: no panics,
//! every rejection names an instruction of the program, and the programs
//! that only compute on registers are all accepted.

use ebee_verifier::{verify, Maps, Options, Program, ProgramType};

fn hex(s: &str) -> Vec<u8> {
    (0..s.len() / 2)
        .map(|i| u8::from_str_radix(&s[2 * i..2 * i + 2], 16).unwrap())
        .collect()
}

fn field<'a>(line: &'a str, key: &str) -> &'a str {
    let pat = format!("\"{key}\":\"");
    let start = line.find(&pat).map(|i| i + pat.len()).unwrap_or(0);
    let end = line[start..].find('"').map(|i| start + i).unwrap_or(start);
    &line[start..end]
}

#[test]
fn conformance_programs() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../../shared/corpora/bpf_conformance/assembled_tests.jsonl"
    );
    let Ok(text) = std::fs::read_to_string(path) else {
        println!("skipped: conformance corpus not found at {path}");
        return;
    };
    let maps = Maps::new();
    let (mut total, mut accepted, mut register_only, mut register_only_accepted) = (0, 0, 0, 0);
    let mut unexpected = vec![];
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let name = field(line, "file");
        let code = hex(field(line, "program_hex"));
        let mem = hex(field(line, "mem_hex"));
        let Ok(insns) = ebee_isa::decode(&code) else {
            continue;
        };
        total += 1;
        let pt = ProgramType::buffer(mem.len() as u32);
        let v = verify(&Program::new(&insns, &pt, &maps), &Options::default());
        if let Some(r) = v.verdict.rejection() {
            assert!(
                r.pc < insns.len(),
                "{name}: rejection pc {} out of range",
                r.pc
            );
            if std::env::var_os("EBEE_SHOW").is_some() {
                println!("{name}: {r}");
            }
        } else {
            accepted += 1;
        }
        // Programs of plain arithmetic on constants, no memory, no calls,
        // no division by an immediate zero: nothing can go wrong in them.
        let plain = insns.iter().all(|i| match i {
            ebee_isa::Insn::Alu { op, src, .. } => {
                !(matches!(
                    op,
                    ebee_isa::AluOp::Div
                        | ebee_isa::AluOp::Mod
                        | ebee_isa::AluOp::SDiv
                        | ebee_isa::AluOp::SMod
                        | ebee_isa::AluOp::Lsh
                        | ebee_isa::AluOp::Rsh
                        | ebee_isa::AluOp::Arsh
                ) && matches!(src, ebee_isa::Operand::Imm(_)))
            }
            ebee_isa::Insn::Neg { .. } | ebee_isa::Insn::Endian { .. } | ebee_isa::Insn::Exit => {
                true
            }
            ebee_isa::Insn::LdImm64 {
                kind: ebee_isa::Imm64Kind::Imm,
                ..
            }
            | ebee_isa::Insn::LdImm64Tail => true,
            _ => false,
        }) && insns
            .first()
            .is_some_and(|i| !matches!(i, ebee_isa::Insn::Exit));
        if plain {
            register_only += 1;
            match v.verdict.rejection() {
                None => register_only_accepted += 1,
                Some(r) if r.message.contains("read before anything was written") => {
                    register_only_accepted += 1
                }
                Some(r) => unexpected.push(format!("{name}: {r}")),
            }
        }
    }
    println!("conformance: {accepted}/{total} accepted; register-only programs {register_only_accepted}/{register_only}");
    assert!(total > 200, "corpus too small: {total}");
    assert!(unexpected.is_empty(), "{}", unexpected.join("\n"));
}

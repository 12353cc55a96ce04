//! Constant blinding: the program's immediates are in the machine code
//! without it and nowhere in it with it, and results do not change (the
//! whole conformance corpus and the random-program differential also run
//! blinded, in `conformance.rs` and `differential.rs`).

use ebee_jit::{compile_for_target_with, JitOptions, JitProgram};
use ebee_runtime::Vm;

/// Distinctive immediates of each kind the kernel blinds: a 32-bit ALU
/// operand, a 64-bit `lddw`, a store immediate, a jump operand and a
/// legacy packet-load offset.
const ALU_IMM: u32 = 0x1357_9bdf;
const LDDW_IMM: u64 = 0x1122_3344_5566_7788;
const STORE_IMM: u32 = 0x0bad_f00d;
const JUMP_IMM: u32 = 0x2468_ace0;
const LD_ABS_IMM: u32 = 0x3c1d_5e7f;

/// Reads the input so nothing folds away at compile time; `r5 = r10`
/// keeps the stack slot in memory (a frame whose address is taken is not
/// promoted to registers), so the stored immediate is not forwarded into
/// the compare and every immediate stays visible in unblinded code.
fn program() -> Vec<ebee_isa::Insn> {
    let src = format!(
        "r0 = *(u32 *)(r1 + 0)\n\
         r5 = r10\n\
         r0 += {ALU_IMM:#x}\n\
         r3 = {LDDW_IMM:#x} ll\n\
         r0 ^= r3\n\
         *(u32 *)(r10 - 8) = {STORE_IMM:#x}\n\
         r4 = *(u32 *)(r10 - 8)\n\
         r0 += r4\n\
         if w0 == {JUMP_IMM:#x} goto +1\n\
         r0 += 1\n\
         exit"
    );
    ebee_isa::assemble(&src).expect("test program assembles")
}

/// The byte patterns (little-endian, as x86-64 encodes immediates) that
/// must not be in blinded code.
fn patterns() -> Vec<(&'static str, Vec<u8>)> {
    vec![
        ("alu imm32", ALU_IMM.to_le_bytes().to_vec()),
        ("lddw imm64", LDDW_IMM.to_le_bytes().to_vec()),
        ("store imm32", STORE_IMM.to_le_bytes().to_vec()),
        ("jump imm32", JUMP_IMM.to_le_bytes().to_vec()),
    ]
}

fn contains(code: &[u8], pattern: &[u8]) -> bool {
    code.windows(pattern.len()).any(|w| w == pattern)
}

#[test]
fn immediates_are_absent_from_blinded_code() {
    let insns = program();
    for base in [JitOptions::VERIFIED, JitOptions::CHECKED] {
        // The packet load, alone (it fails at run time; only its code counts).
        let ld_abs =
            ebee_isa::assemble(&format!("r0 = *(u8 *)skb[{LD_ABS_IMM:#x}]\nexit")).unwrap();
        let pattern = LD_ABS_IMM.to_le_bytes();
        let plain = compile_for_target_with(&ld_abs, "x86_64", base)
            .unwrap()
            .concat();
        let blinded = compile_for_target_with(&ld_abs, "x86_64", base.blind_constants(true))
            .unwrap()
            .concat();
        assert!(contains(&plain, &pattern), "ld_abs offset in plain code");
        assert!(
            !contains(&blinded, &pattern),
            "ld_abs offset in blinded code"
        );

        let plain = compile_for_target_with(&insns, "x86_64", base)
            .unwrap()
            .concat();
        let blinded = compile_for_target_with(&insns, "x86_64", base.blind_constants(true))
            .unwrap()
            .concat();
        for (what, pattern) in patterns() {
            assert!(
                contains(&plain, &pattern),
                "checked={}: {what} should be in unblinded code",
                base.checked
            );
            assert!(
                !contains(&blinded, &pattern),
                "checked={}: {what} found in blinded code",
                base.checked
            );
        }
        println!(
            "checked={}: {} bytes plain, {} bytes blinded; 4 immediates found, then gone",
            base.checked,
            plain.len(),
            blinded.len()
        );
    }
}

/// Each compile draws its own key: two blinded compiles of one program
/// differ, two plain ones do not.
#[test]
fn each_compile_has_its_own_key() {
    let insns = program();
    let blinded = JitOptions::VERIFIED.blind_constants(true);
    let a = compile_for_target_with(&insns, "x86_64", blinded).unwrap();
    let b = compile_for_target_with(&insns, "x86_64", blinded).unwrap();
    assert_ne!(a, b);
    let p = compile_for_target_with(&insns, "x86_64", JitOptions::VERIFIED).unwrap();
    let q = compile_for_target_with(&insns, "x86_64", JitOptions::VERIFIED).unwrap();
    assert_eq!(p, q);
}

/// The blinded program computes what the interpreter does, on inputs that
/// take the jump and ones that do not, in both modes.
#[test]
fn blinded_program_matches_the_interpreter() {
    let vm = Vm::new(program()).unwrap();
    // The input that makes w0 hit JUMP_IMM at the compare (the low 32
    // bits of add, xor, add depend only on the low 32 bits).
    let hit = (JUMP_IMM as u64).wrapping_sub(STORE_IMM as u64) ^ LDDW_IMM;
    let hit = (hit.wrapping_sub(ALU_IMM as u64) as u32).to_le_bytes();
    for input in [hit, [0, 0, 0, 0], [0xff; 4], [1, 2, 3, 4]] {
        let want = vm.run(&mut input.clone()).unwrap();
        for base in [JitOptions::VERIFIED, JitOptions::CHECKED] {
            let prog = JitProgram::compile(&vm, base.blind_constants(true)).unwrap();
            let mut mem = input;
            let got = if base.checked {
                prog.run(&mut mem).unwrap()
            } else {
                // SAFETY: the program reads 4 bytes of its 4-byte input and
                // 4 bytes of its stack frame.
                unsafe { prog.run_unchecked(&mut mem).unwrap() }
            };
            assert_eq!(got, want, "input {input:?}, checked={}", base.checked);
        }
        // The first input takes the jump (skipping `r0 += 1`), the others
        // do not.
        assert_eq!(want as u32 == JUMP_IMM, input == hit, "input {input:?}");
    }
}

/// Blinded legacy packet loads read the same bytes as the interpreter, and
/// fail the same way past the packet's end.
#[test]
fn blinded_packet_loads_match_the_interpreter() {
    for src in [
        "r0 = *(u8 *)skb[0x2]\nexit",
        "r6 = 1\nr0 = *(u16 *)skb[r6+0x1]\nexit",
        "r0 = *(u32 *)skb[0x7]\nexit",
    ] {
        let vm = Vm::new(ebee_isa::assemble(src).unwrap()).unwrap();
        let input = [1u8, 2, 3, 4, 5, 6];
        let want = vm.run(&mut input.clone()).map_err(|e| e.to_string());
        let prog = JitProgram::compile(&vm, JitOptions::CHECKED.blind_constants(true)).unwrap();
        let got = prog.run(&mut input.clone()).map_err(|e| e.to_string());
        assert_eq!(got, want, "{src}");
    }
}

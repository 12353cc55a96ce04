//! Reading a program the way users hand it to us: raw bytecode (the 8-byte
//! wire format) or assembly text in either syntax, told apart by content.

use crate::failure::Failure;
use ebee_isa::asm::{self, Syntax};
use ebee_isa::Insn;
use std::path::Path;

/// The form a program was given in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProgramForm {
    /// Raw 8-byte instructions.
    Bytecode,
    /// Assembly text in the given syntax.
    Assembly(Syntax),
}

/// A program read from a file, decoded or assembled.
#[derive(Debug, Clone)]
pub struct ProgramText {
    /// One instruction per 8-byte slot, as `ebee_isa::decode` gives.
    pub insns: Vec<Insn>,
    /// What the input was.
    pub form: ProgramForm,
}

const ELF_MAGIC: &[u8] = b"\x7fELF";

/// Whether `bytes` look like assembly text rather than bytecode: valid UTF-8
/// without NUL bytes (every real instruction stream has zero bytes).
pub fn looks_like_text(bytes: &[u8]) -> bool {
    !bytes.contains(&0) && std::str::from_utf8(bytes).is_ok()
}

/// Decodes or assembles `bytes`, named `name` in errors.
pub fn parse_program(bytes: &[u8], name: &str) -> Result<ProgramText, Failure> {
    if bytes.starts_with(ELF_MAGIC) {
        return Err(Failure::Input(format!(
            "{name}: is an ELF object; this command takes bytecode or assembly"
        )));
    }
    if looks_like_text(bytes) {
        let text = std::str::from_utf8(bytes).expect("checked above");
        let syntax = asm::detect_syntax(text);
        let insns =
            asm::assemble_as(text, syntax).map_err(|e| Failure::Input(format!("{name}: {e}")))?;
        if insns.is_empty() {
            return Err(Failure::Input(format!("{name}: no instructions")));
        }
        return Ok(ProgramText {
            insns,
            form: ProgramForm::Assembly(syntax),
        });
    }
    let insns = ebee_isa::decode(bytes).map_err(|e| Failure::Input(format!("{name}: {e}")))?;
    Ok(ProgramText {
        insns,
        form: ProgramForm::Bytecode,
    })
}

/// Reads and parses the program in file `path`.
pub fn read_program(path: &Path) -> Result<ProgramText, Failure> {
    let bytes = read_file(path)?;
    parse_program(&bytes, &path.display().to_string())
}

/// Reads a whole file, with the path in the error.
pub fn read_file(path: &Path) -> Result<Vec<u8>, Failure> {
    std::fs::read(path).map_err(|e| Failure::Input(format!("{}: {e}", path.display())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tells_forms_apart() {
        let raw = ebee_isa::encode(&[Insn::Exit]);
        assert_eq!(
            parse_program(&raw, "x").unwrap().form,
            ProgramForm::Bytecode
        );
        let ubpf = parse_program(b"mov %r0, 1\nexit\n", "x").unwrap();
        assert_eq!(ubpf.form, ProgramForm::Assembly(Syntax::Ubpf));
        let linux = parse_program(b"r0 = 1\nexit\n", "x").unwrap();
        assert_eq!(linux.form, ProgramForm::Assembly(Syntax::Linux));
        assert_eq!(ubpf.insns, linux.insns);
        assert!(matches!(
            parse_program(b"\x7fELF\x02\x01", "x"),
            Err(Failure::Input(_))
        ));
        let bad = parse_program(&[0xff; 8], "bad.bin").unwrap_err();
        assert!(bad.message().contains("bad.bin"), "{bad}");
    }
}

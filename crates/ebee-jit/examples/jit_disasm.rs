//! Writes the x86-64 machine code the JIT makes for a raw eBPF program
//! (8 bytes per slot, as in an ELF `.text`) to files, one per native
//! function, for `objdump -D -b binary -mi386:x86-64`:
//! `cargo run --release -p ebee-jit --example jit_disasm -- PROG.bpf OUT_PREFIX [checked]`.

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    if args.len() < 3 {
        return Err("usage: jit_disasm PROG.bpf OUT_PREFIX [checked]".into());
    }
    let bytes = std::fs::read(&args[1])?;
    let insns = ebee_isa::decode(&bytes)?;
    let checked = args.get(3).map(|s| s == "checked").unwrap_or(false);
    let funcs = ebee_jit::compile_for_target(&insns, "x86_64", checked)?;
    for (i, code) in funcs.iter().enumerate() {
        let path = format!("{}.{i}.bin", args[2]);
        std::fs::write(&path, code)?;
        println!("{path}: {} bytes", code.len());
    }
    Ok(())
}

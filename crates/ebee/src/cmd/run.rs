//! `ebee run PROG [--mem FILE | --mem-hex HEX] [--engine jit|interp] [--repeat N] [--json]`;
//! `PROG` may be a clang-built ELF object ([`super::run_object`]).

use ebee::input::{read_file, read_program};
use ebee::Failure;
use ebee_runtime::Vm;
use std::path::PathBuf;
use std::time::Instant;

/// Arguments of `ebee run`.
#[derive(clap::Args)]
pub struct Args {
    /// The program: raw bytecode, assembly in either syntax (detected), or
    /// an ELF object (its maps are created and printed after the run).
    prog: PathBuf,
    /// For an object: the program's section.
    #[arg(long, conflicts_with = "program")]
    section: Option<String>,
    /// For an object: the program's function name.
    #[arg(long)]
    program: Option<String>,
    /// For an object: skip the verifier (the program runs with runtime checks).
    #[arg(long)]
    unverified: bool,
    /// File whose bytes are the input memory (r1 points to it, r2 holds its length).
    #[arg(long, conflicts_with = "mem_hex")]
    mem: Option<PathBuf>,
    /// The input memory as hex bytes.
    #[arg(long)]
    mem_hex: Option<String>,
    /// For an object's XDP, socket or tc program: a packet file to run it on.
    #[arg(long, conflicts_with = "packet_hex")]
    packet: Option<PathBuf>,
    /// The packet as hex bytes.
    #[arg(long)]
    packet_hex: Option<String>,
    /// Run N times on the same memory and report the average time per run.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u64).range(1..))]
    repeat: u64,
    /// Instruction budget per run (stops runaway loops).
    #[arg(long)]
    budget: Option<u64>,
    /// Print the memory after the run, as hex.
    #[arg(long)]
    dump_mem: bool,
    /// Machine-readable output.
    #[arg(long)]
    json: bool,
    /// The engine: the JIT or the interpreter. Raw programs run checked;
    /// an object's verified programs run compiled without checks.
    #[arg(long, value_enum, default_value_t = ebee::Engine::Jit)]
    engine: ebee::Engine,
    /// Constant blinding in the JIT (as the kernel's bpf_jit_harden): no
    /// immediate of the program appears in the machine code. For raw
    /// programs on the JIT engine.
    #[arg(long)]
    blind: bool,
    /// For an object: load it into the running kernel and run it with
    /// BPF_PROG_TEST_RUN (the memory is the packet), maps read back.
    #[arg(long, conflicts_with_all = ["packet", "packet_hex"])]
    kernel: bool,
    /// For an object: the BTF its CO-RE relocations resolve against (a
    /// raw BTF file or an ELF file with a .BTF section), instead of the
    /// program type's context BTF (userspace) or the kernel's (--kernel).
    #[arg(long)]
    btf: Option<PathBuf>,
}

/// Runs `ebee run`.
pub fn run(args: Args) -> Result<(), Failure> {
    let mut memory = match (&args.mem, &args.mem_hex) {
        (Some(path), _) => read_file(path)?,
        (None, Some(hex)) => {
            ebee::hex::parse_hex(hex).map_err(|e| Failure::Input(format!("--mem-hex: {e}")))?
        }
        (None, None) => Vec::new(),
    };
    let bytes = read_file(&args.prog)?;
    if args.blind && (args.engine != ebee::Engine::Jit || args.kernel) {
        return Err(Failure::Input(
            "--blind applies to ebee's JIT (--engine jit, not --kernel)".to_string(),
        ));
    }
    if bytes.starts_with(b"\x7fELF") {
        let r = super::run_object::ObjectRun {
            bytes: &bytes,
            section: args.section.as_deref(),
            program: args.program.as_deref(),
            unverified: args.unverified,
            budget: args.budget,
            repeat: args.repeat,
            json: args.json,
            packet: match (&args.packet, &args.packet_hex) {
                (Some(f), _) => Some(read_file(f)?),
                (None, Some(h)) => Some(
                    ebee::hex::parse_hex(h)
                        .map_err(|e| Failure::Input(format!("--packet-hex: {e}")))?,
                ),
                (None, None) => None,
            },
            kernel: args.kernel,
            btf: match &args.btf {
                Some(path) => Some(
                    ebee_object::btf::Btf::parse_file(&read_file(path)?)
                        .map_err(|e| Failure::Input(format!("--btf {}: {e}", path.display())))?,
                ),
                None => None,
            },
            engine: args.engine,
            blind: args.blind,
        };
        return super::run_object::run(r, &mut memory);
    }
    if args.section.is_some()
        || args.program.is_some()
        || args.unverified
        || args.packet.is_some()
        || args.packet_hex.is_some()
        || args.kernel
        || args.btf.is_some()
    {
        return Err(Failure::Input(
            "--section, --program, --unverified, --packet, --kernel and --btf apply to ELF objects"
                .to_string(),
        ));
    }
    let program = read_program(&args.prog)?;
    let mut vm = Vm::new(program.insns).map_err(|e| Failure::Input(e.to_string()))?;
    if let Some(b) = args.budget {
        vm.set_budget(b);
    }
    let runner = args.engine.prepare_blinded(vm, args.blind)?;
    let start = Instant::now();
    let mut r0 = 0;
    for _ in 0..args.repeat {
        r0 = runner
            .run(&mut memory)
            .map_err(|e| Failure::Exec(e.to_string()))?;
    }
    let per_run_ns = start.elapsed().as_nanos() / args.repeat as u128;
    if args.json {
        let mut obj = serde_json::json!({
            "r0": r0,
            "r0_hex": format!("{r0:#x}"),
            "runs": args.repeat,
            "duration_ns": per_run_ns as u64,
        });
        if args.dump_mem {
            obj["memory_hex"] = ebee::hex::to_hex(&memory).into();
        }
        println!("{obj}");
    } else {
        println!("r0 = {r0} ({r0:#x})");
        if args.repeat > 1 {
            println!(
                "duration (average): {per_run_ns} ns over {} runs",
                args.repeat
            );
        }
        if args.dump_mem {
            println!("memory: {}", ebee::hex::to_hex(&memory));
        }
    }
    Ok(())
}

//! `ebee verify OBJ|PROG [--section S] [--program NAME] [--type T] [--log] [--json]`

use clap::ValueEnum;
use ebee::input::{parse_program, read_file};
use ebee::Failure;
use ebee_verifier::{verify, Maps, ObjectProgram, Options, Program, ProgramType, Verification};
use serde_json::json;
use std::path::PathBuf;

/// `--type` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum TypeArg {
    /// `BPF_PROG_TYPE_SOCKET_FILTER` (`struct __sk_buff` context).
    SocketFilter,
    /// `BPF_PROG_TYPE_KPROBE` (`struct pt_regs` context).
    Kprobe,
    /// `BPF_PROG_TYPE_SCHED_CLS` (tc).
    Tc,
    /// `BPF_PROG_TYPE_XDP` (`struct xdp_md` context).
    Xdp,
    /// `BPF_PROG_TYPE_CGROUP_SKB`.
    CgroupSkb,
    /// ebee's raw-memory type: r1 = a buffer of `--mem-size` bytes, r2 = its length.
    Buffer,
}

impl TypeArg {
    fn program_type(self, mem_size: u32) -> ProgramType {
        match self {
            TypeArg::SocketFilter => ProgramType::socket_filter(),
            TypeArg::Kprobe => ProgramType::kprobe(),
            TypeArg::Tc => ProgramType::sched_cls(),
            TypeArg::Xdp => ProgramType::xdp(),
            TypeArg::CgroupSkb => ProgramType::cgroup_skb(),
            TypeArg::Buffer => ProgramType::buffer(mem_size),
        }
    }
}

/// Arguments of `ebee verify`.
#[derive(clap::Args)]
pub struct Args {
    /// An ELF object, raw bytecode, or assembly.
    input: PathBuf,
    /// Only the programs of this ELF section.
    #[arg(long)]
    section: Option<String>,
    /// Only the program (function) with this name.
    #[arg(long)]
    program: Option<String>,
    /// The program type (objects: default from the section name; bytecode/assembly: default `buffer`).
    #[arg(long = "type", value_enum)]
    prog_type: Option<TypeArg>,
    /// Size of the input buffer for `--type buffer`.
    #[arg(long, default_value_t = 0)]
    mem_size: u32,
    /// Print the verifier's state log (kernel log style).
    #[arg(long)]
    log: bool,
    /// Machine-readable output, one JSON object per program.
    #[arg(long)]
    json: bool,
}

struct Outcome {
    name: String,
    section: Option<String>,
    prog_type: &'static str,
    insns: usize,
    verification: Verification,
}

fn report(o: &Outcome, args: &Args) {
    let v = &o.verification;
    let s = &v.stats;
    if args.json {
        let mut j = json!({
            "program": o.name,
            "section": o.section,
            "type": o.prog_type,
            "insns": o.insns,
            "accepted": v.verdict.is_accepted(),
            "insns_processed": s.insns_processed,
            "states": s.states_stored,
            "peak_states": s.peak_states,
            "time_us": s.time_us,
            "stack_depth": s.stack_depth,
        });
        if let Some(r) = v.verdict.rejection() {
            j["rejection"] = json!({ "pc": r.pc, "insn": r.insn, "message": r.to_string() });
        }
        if args.log {
            j["log"] = v.log.clone().into();
        }
        println!("{j}");
        return;
    }
    if args.log && !v.log.is_empty() {
        println!("{}", v.log.trim_end());
    }
    let place = match &o.section {
        Some(sec) => format!("{} (section {sec}, {})", o.name, o.prog_type),
        None => format!("{} ({})", o.name, o.prog_type),
    };
    let stats = format!(
        "{} insns, {} processed, {} states (peak {}), stack {} bytes, {} µs",
        o.insns, s.insns_processed, s.states_stored, s.peak_states, s.stack_depth, s.time_us
    );
    match v.verdict.rejection() {
        None => println!("{place}: accepted — {stats}"),
        Some(r) => println!("{place}: REJECTED — {stats}\n  {r}"),
    }
}

fn options(args: &Args) -> Options {
    Options {
        log: args.log,
        ..Options::default()
    }
}

fn verify_object(args: &Args, bytes: &[u8]) -> Result<Vec<Outcome>, Failure> {
    let name = args.input.display().to_string();
    let obj =
        ebee_object::Object::parse(bytes).map_err(|e| Failure::Input(format!("{name}: {e}")))?;
    let mut out = Vec::new();
    for p in obj.entry_programs() {
        if args.section.as_ref().is_some_and(|s| *s != p.section)
            || args.program.as_ref().is_some_and(|n| *n != p.name)
        {
            continue;
        }
        let prepared = match args.prog_type {
            Some(t) => ObjectProgram::with_type(p, obj.maps(), t.program_type(args.mem_size)),
            None => ObjectProgram::new(p, obj.maps()),
        }
        .map_err(|e| Failure::Input(format!("{name}: {e}")))?;
        let verification = verify(&prepared.program(), &options(args));
        out.push(Outcome {
            name: p.name.clone(),
            section: Some(p.section.clone()),
            prog_type: prepared.prog_type.name,
            insns: prepared.insns.len(),
            verification,
        });
    }
    if out.is_empty() {
        return Err(Failure::Input(format!("{name}: no program matches")));
    }
    Ok(out)
}

/// Runs `ebee verify`.
pub fn run(args: Args) -> Result<(), Failure> {
    let bytes = read_file(&args.input)?;
    let outcomes = if bytes.starts_with(b"\x7fELF") {
        verify_object(&args, &bytes)?
    } else {
        let name = args.input.display().to_string();
        let program = parse_program(&bytes, &name)?;
        let prog_type = args
            .prog_type
            .unwrap_or(TypeArg::Buffer)
            .program_type(args.mem_size);
        let maps = Maps::new();
        let verification = verify(
            &Program::new(&program.insns, &prog_type, &maps),
            &options(&args),
        );
        vec![Outcome {
            name,
            section: None,
            prog_type: prog_type.name,
            insns: program.insns.len(),
            verification,
        }]
    };
    let mut rejected = 0;
    for o in &outcomes {
        report(o, &args);
        rejected += usize::from(!o.verification.verdict.is_accepted());
    }
    if rejected > 0 {
        return Err(Failure::Rejected(format!(
            "{rejected} of {} programs rejected",
            outcomes.len()
        )));
    }
    Ok(())
}

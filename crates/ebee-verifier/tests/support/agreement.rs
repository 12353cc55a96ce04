//! The agreement table: every program of the shared sample corpus
//! (`PREVAIL_EXPECTATIONS.tsv`) judged by this machine's kernel (loaded
//! with its maps created for real) and by ebee's verifier, with PREVAIL's
//! recorded verdict alongside. Shared by `examples/agreement.rs` and the
//! `corpus_agreement` test.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use ebee_kernel::{AttachType, KernelProgram, LoadError, LoadOptions, LogLevel};
use ebee_object::{MapBinding, MapDef, Object};
use ebee_verifier::{verify, ObjectProgram, Options};

/// The corpus root, relative to this crate.
pub fn corpus_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/corpora/ebpf-samples")
}

/// One row of `PREVAIL_EXPECTATIONS.tsv`.
#[derive(Debug, Clone)]
pub struct Expectation {
    /// Directory under the corpus root.
    pub project: String,
    /// Object file name.
    pub object: String,
    /// ELF section.
    pub section: String,
    /// Function (or section name for old objects).
    pub function: String,
    /// PREVAIL's verdict: pass, reject, reject_load, expected_failure.
    pub prevail: String,
    /// Whether the object is in the snapshot.
    pub on_disk: bool,
}

/// Read the expectations file.
pub fn expectations(root: &Path) -> Result<Vec<Expectation>, String> {
    let text = std::fs::read_to_string(root.join("PREVAIL_EXPECTATIONS.tsv"))
        .map_err(|e| format!("PREVAIL_EXPECTATIONS.tsv: {e}"))?;
    Ok(text
        .lines()
        .filter(|l| !l.starts_with('#') && !l.starts_with("project\t"))
        .filter_map(|l| {
            let f: Vec<&str> = l.split('\t').collect();
            (f.len() >= 9).then(|| Expectation {
                project: f[0].into(),
                object: f[1].into(),
                section: f[2].into(),
                function: f[3].into(),
                prevail: f[4].into(),
                on_disk: f[8] == "present",
            })
        })
        .collect())
}

/// What the kernel made of a program.
#[derive(Debug, Clone)]
pub enum KernelVerdict {
    /// Loaded.
    Accepted,
    /// Its verifier refused the program as unsafe (the log's last words).
    Unsafe(String),
    /// It could not judge: a map type, helper, program type or attribute
    /// this kernel lacks, an old ABI, an object that does not link.
    CantLoad(String),
}

/// What ebee made of a program.
#[derive(Debug, Clone)]
pub enum EbeeVerdict {
    /// Proved safe.
    Accepted,
    /// Rejected (the rejection, one line).
    Rejected(String),
    /// The object or program type is outside what ebee verifies (counted
    /// as a rejection: ebee does not accept it).
    Unsupported(String),
}

/// Both verdicts for one program.
#[derive(Debug, Clone)]
pub struct Row {
    /// The expectation row.
    pub exp: Expectation,
    /// The kernel's verdict.
    pub kernel: KernelVerdict,
    /// The kernel's `processed N insns`, when it printed one.
    pub kernel_insns: Option<u64>,
    /// The kernel's `verification time`.
    pub kernel_time: Option<Duration>,
    /// ebee's verdict.
    pub ebee: EbeeVerdict,
    /// ebee's processed instructions.
    pub ebee_insns: u64,
    /// ebee's wall-clock verification time.
    pub ebee_time: Duration,
}

impl Row {
    /// `project/object section function`.
    pub fn name(&self) -> String {
        format!(
            "{}/{} {} {}",
            self.exp.project, self.exp.object, self.exp.section, self.exp.function
        )
    }
    /// Whether the kernel judged it (accepted or rejected as unsafe).
    pub fn kernel_judged(&self) -> bool {
        !matches!(self.kernel, KernelVerdict::CantLoad(_))
    }
    /// ebee accepted it.
    pub fn ebee_accepts(&self) -> bool {
        matches!(self.ebee, EbeeVerdict::Accepted)
    }
}

/// Judge every present row of the corpus, ebee with `opts`. `Err` when
/// the corpus or bpf(2) is missing.
pub fn run(root: &Path, opts: &Options) -> Result<Vec<Row>, String> {
    run_only(root, opts, "")
}

/// [`run`] over the rows whose name contains `only` (all when empty).
pub fn run_only(root: &Path, opts: &Options, only: &str) -> Result<Vec<Row>, String> {
    ebee_kernel::probe().map_err(|e| format!("bpf(2) unavailable: {e}"))?;
    let exps = expectations(root)?;
    let vmlinux = std::fs::read("/sys/kernel/btf/vmlinux")
        .ok()
        .and_then(|b| ebee_object::Btf::parse(&b).ok());
    let mut rows = vec![];
    let mut objects: BTreeMap<PathBuf, Result<Object, String>> = BTreeMap::new();
    for exp in exps.into_iter().filter(|e| e.on_disk) {
        if !only.is_empty()
            && !format!(
                "{}/{} {} {}",
                exp.project, exp.object, exp.section, exp.function
            )
            .contains(only)
        {
            continue;
        }
        let path = root.join(&exp.project).join(&exp.object);
        let obj = objects.entry(path.clone()).or_insert_with(|| {
            let bytes = std::fs::read(&path).map_err(|e| format!("read: {e}"))?;
            let mut obj = Object::parse(&bytes).map_err(|e| format!("parse: {e}"))?;
            if let Some(target) = &vmlinux {
                // A CO-RE failure stays in the instructions (poisoned) or
                // in the error; both are judged below.
                let _ = obj.relocate_core(target);
            }
            Ok(obj)
        });
        rows.push(judge(exp, obj, opts));
    }
    Ok(rows)
}

fn judge(exp: Expectation, obj: &Result<Object, String>, opts: &Options) -> Row {
    let mut row = Row {
        exp,
        kernel: KernelVerdict::CantLoad(String::new()),
        kernel_insns: None,
        kernel_time: None,
        ebee: EbeeVerdict::Unsupported(String::new()),
        ebee_insns: 0,
        ebee_time: Duration::ZERO,
    };
    let obj = match obj {
        Ok(o) => o,
        Err(e) => {
            row.kernel = KernelVerdict::CantLoad(format!("object: {e}"));
            row.ebee = EbeeVerdict::Rejected(format!("object: {e}"));
            return row;
        }
    };
    let Some(prog) = find_program(obj, &row.exp) else {
        row.kernel = KernelVerdict::CantLoad("program not found in the object".into());
        row.ebee = EbeeVerdict::Rejected("program not found in the object".into());
        return row;
    };

    // ebee.
    match ObjectProgram::new(prog, obj.maps()) {
        Ok(p) => {
            let start = Instant::now();
            let v = verify(&p.program(), opts);
            row.ebee_time = start.elapsed();
            row.ebee_insns = v.stats.insns_processed;
            row.ebee = match v.verdict.rejection() {
                None => EbeeVerdict::Accepted,
                Some(r) => EbeeVerdict::Rejected(r.to_string()),
            };
        }
        Err(e) => row.ebee = EbeeVerdict::Unsupported(e.to_string()),
    }

    // The kernel.
    let maps = match create_maps(obj.maps()) {
        Ok(m) => m,
        Err(e) => {
            row.kernel = KernelVerdict::CantLoad(e);
            return row;
        }
    };
    let fds: Vec<i32> = maps.iter().map(|m| m.as_raw_fd()).collect();
    let insns = match prog.bind_maps(MapBinding::Fds(&fds)) {
        Ok(i) => i,
        Err(e) => {
            row.kernel = KernelVerdict::CantLoad(format!("bind maps: {e}"));
            return row;
        }
    };
    let number = match prog.program_type().number() {
        0 => 3, // tc loads sections no rule names (`2/1`, `from-container`).
        n => n,
    };
    let Some(pt) = ebee_kernel::ProgramType::from_number(number) else {
        row.kernel = KernelVerdict::CantLoad(format!("program type {number}"));
        return row;
    };
    let opts = LoadOptions {
        log_level: LogLevel::STATS,
        expected_attach_type: prog
            .kind
            .attach_type
            .and_then(|a| AttachType::from_number(a as u32)),
        ..LoadOptions::default()
    };
    let license = obj.license().unwrap_or("GPL");
    match KernelProgram::load(pt, &insns, license, &opts) {
        Ok(k) => {
            row.kernel = KernelVerdict::Accepted;
            if let Some(s) = k.verifier_stats() {
                row.kernel_insns = Some(s.insns_processed);
                row.kernel_time = s.verification_time;
            }
        }
        Err(e) => {
            if let Some(s) = e.log().and_then(|l| l.stats.clone()) {
                row.kernel_insns = Some(s.insns_processed);
                row.kernel_time = s.verification_time;
            }
            row.kernel = classify(&e);
        }
    }
    row
}

fn find_program<'a>(obj: &'a Object, exp: &Expectation) -> Option<&'a ebee_object::Program> {
    obj.program_in(&exp.section, &exp.function).or_else(|| {
        let mut in_section = obj.programs().iter().filter(|p| p.section == exp.section);
        match (in_section.next(), in_section.next()) {
            (Some(p), None) => Some(p),
            _ => None,
        }
    })
}

/// Log phrases that mean the kernel refused to judge the program rather
/// than judging it unsafe: something this kernel lacks or an old ABI.
const CANT_LOAD: &[&str] = &[
    "unknown func",
    "invalid func unknown",
    "cannot call GPL-restricted",
    "attach_btf_id",
    "btf_id",
    "BTF is required",
    "missing btf",
    "invalid map type",
    "unsupported",
    "not supported",
    "kernel subsystem misconfigured",
];

/// Helpers the kernel offers only with a build option or outside lockdown:
/// "cannot use helper" for them says nothing about the program.
const CONFIG_HELPERS: &[&str] = &[
    "bpf_probe_write_user#36", // lockdown (integrity) forbids it
    "bpf_override_return#58",  // CONFIG_BPF_KPROBE_OVERRIDE
];

fn classify(e: &LoadError) -> KernelVerdict {
    let errno = e.errno().unwrap_or(0);
    let lines: Vec<String> = e
        .log()
        .map(|l| {
            l.last_meaningful_lines(2)
                .into_iter()
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default();
    let text = lines.join(" | ");
    let why = format!("{}: {text}", ebee_kernel::errno_name(errno));
    let config_helper = CONFIG_HELPERS
        .iter()
        .any(|h| text.contains("cannot use helper") && text.contains(h));
    if text.is_empty()
        || config_helper
        || matches!(errno, libc::E2BIG | libc::EOPNOTSUPP | 524 | libc::EPERM)
        || CANT_LOAD.iter().any(|p| text.contains(p))
    {
        KernelVerdict::CantLoad(why)
    } else {
        KernelVerdict::Unsafe(why)
    }
}

/// Create the object's maps in the kernel, in order (a map-in-map after
/// its inner template).
fn create_maps(defs: &[MapDef]) -> Result<Vec<OwnedFd>, String> {
    let mut fds: Vec<OwnedFd> = vec![];
    for d in defs {
        let inner = match (&d.inner, d.inner_index) {
            (Some(inner), _) => Some(create_map(inner, None)?),
            (None, Some(i)) => match defs.get(i) {
                Some(t) => Some(create_map(t, None)?),
                None => return Err(format!("map {}: inner map #{i} missing", d.name)),
            },
            (None, None) if d.map_type.is_map_in_map() => {
                return Err(format!("map {}: map-in-map without inner map", d.name))
            }
            _ => None,
        };
        let fd = create_map(d, inner.as_ref().map(|f| f.as_raw_fd()))?;
        if let Some(data) = &d.data {
            update(&fd, 0, data).map_err(|e| format!("map {}: initial value: {e}", d.name))?;
            if d.frozen {
                freeze(&fd).map_err(|e| format!("map {}: freeze: {e}", d.name))?;
            }
        }
        fds.push(fd);
    }
    Ok(fds)
}

const BPF_MAP_CREATE: i64 = 0;
const BPF_MAP_UPDATE_ELEM: i64 = 2;
const BPF_MAP_FREEZE: i64 = 22;

fn bpf(cmd: i64, attr: &mut [u8; 128]) -> i64 {
    // SAFETY: `attr` is a valid, writable buffer of the size we pass; the
    // kernel reads at most that many bytes, and the pointers it holds (set
    // by the callers) point to live buffers of the sizes given.
    unsafe { libc::syscall(libc::SYS_bpf, cmd, attr.as_mut_ptr(), attr.len() as u32) }
}

fn put32(a: &mut [u8; 128], off: usize, v: u32) {
    a[off..off + 4].copy_from_slice(&v.to_ne_bytes());
}
fn put64(a: &mut [u8; 128], off: usize, v: u64) {
    a[off..off + 8].copy_from_slice(&v.to_ne_bytes());
}

fn create_map(d: &MapDef, inner_fd: Option<i32>) -> Result<OwnedFd, String> {
    let m = ebee_verifier::from_object::map_info(d);
    let mut a = [0u8; 128];
    put32(&mut a, 0, m.map_type);
    put32(&mut a, 4, m.key_size);
    put32(&mut a, 8, m.value_size);
    put32(&mut a, 12, m.max_entries);
    put32(&mut a, 16, m.flags);
    put32(&mut a, 20, inner_fd.unwrap_or(0) as u32);
    put32(&mut a, 24, d.numa_node);
    let fd = bpf(BPF_MAP_CREATE, &mut a);
    if fd < 0 {
        return Err(format!(
            "map {} (type {}): {}",
            d.name,
            d.map_type.number(),
            std::io::Error::last_os_error()
        ));
    }
    // SAFETY: the kernel just returned this new descriptor; we own it.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as i32) })
}

fn update(fd: &OwnedFd, key: u32, value: &[u8]) -> std::io::Result<()> {
    let key = key.to_ne_bytes();
    let mut a = [0u8; 128];
    put32(&mut a, 0, fd.as_raw_fd() as u32);
    put64(&mut a, 8, key.as_ptr() as u64);
    put64(&mut a, 16, value.as_ptr() as u64);
    if bpf(BPF_MAP_UPDATE_ELEM, &mut a) < 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}

fn freeze(fd: &OwnedFd) -> std::io::Result<()> {
    let mut a = [0u8; 128];
    put32(&mut a, 0, fd.as_raw_fd() as u32);
    if bpf(BPF_MAP_FREEZE, &mut a) < 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}

/// Totals of one project (or of everything).
#[derive(Debug, Clone, Default)]
pub struct Totals {
    /// Programs.
    pub programs: usize,
    /// Kernel: accepted, rejected as unsafe, could not load.
    pub k_accept: usize,
    /// See `k_accept`.
    pub k_unsafe: usize,
    /// See `k_accept`.
    pub k_cant: usize,
    /// ebee: accepted, rejected (including unsupported).
    pub e_accept: usize,
    /// See `e_accept`.
    pub e_reject: usize,
    /// Of which unsupported.
    pub e_unsupported: usize,
    /// Kernel-judged programs, and how many of them ebee agrees on.
    pub judged: usize,
    /// See `judged`.
    pub agree: usize,
    /// Kernel accepts that ebee also accepts.
    pub both_accept: usize,
    /// Unsafe accepts: the kernel rejects as unsafe, ebee accepts.
    pub unsound: usize,
    /// PREVAIL's verdicts.
    pub p_pass: usize,
    /// See `p_pass`.
    pub p_reject: usize,
    /// See `p_pass`.
    pub p_reject_load: usize,
    /// See `p_pass`.
    pub p_xfail: usize,
    /// ebee accepts among PREVAIL's expected failures.
    pub e_accept_xfail: usize,
    /// ebee accepts among PREVAIL's rejects (should be 0).
    pub e_accept_p_reject: usize,
    /// Summed verification times where both verified the program.
    pub ebee_time: Duration,
    /// See `ebee_time`.
    pub kernel_time: Duration,
    /// Summed verification times where both accepted the program.
    pub ebee_time_accepted: Duration,
    /// See `ebee_time_accepted`.
    pub kernel_time_accepted: Duration,
}

impl Totals {
    fn add(&mut self, r: &Row) {
        self.programs += 1;
        match r.kernel {
            KernelVerdict::Accepted => self.k_accept += 1,
            KernelVerdict::Unsafe(_) => self.k_unsafe += 1,
            KernelVerdict::CantLoad(_) => self.k_cant += 1,
        }
        match r.ebee {
            EbeeVerdict::Accepted => self.e_accept += 1,
            EbeeVerdict::Rejected(_) => self.e_reject += 1,
            EbeeVerdict::Unsupported(_) => {
                self.e_reject += 1;
                self.e_unsupported += 1
            }
        }
        let k_acc = matches!(r.kernel, KernelVerdict::Accepted);
        if r.kernel_judged() {
            self.judged += 1;
            if k_acc == r.ebee_accepts() {
                self.agree += 1;
            }
            if k_acc && r.ebee_accepts() {
                self.both_accept += 1;
            }
            if !k_acc && r.ebee_accepts() {
                self.unsound += 1;
            }
        }
        match r.exp.prevail.as_str() {
            "pass" => self.p_pass += 1,
            "reject" => {
                self.p_reject += 1;
                if r.ebee_accepts() {
                    self.e_accept_p_reject += 1
                }
            }
            "reject_load" => self.p_reject_load += 1,
            "expected_failure" => {
                self.p_xfail += 1;
                if r.ebee_accepts() {
                    self.e_accept_xfail += 1
                }
            }
            _ => {}
        }
        if let (Some(kt), false) = (r.kernel_time, matches!(r.ebee, EbeeVerdict::Unsupported(_))) {
            self.ebee_time += r.ebee_time;
            self.kernel_time += kt;
            if k_acc && r.ebee_accepts() {
                self.ebee_time_accepted += r.ebee_time;
                self.kernel_time_accepted += kt;
            }
        }
    }

    /// Per cent of kernel accepts that ebee accepts.
    pub fn accept_rate(&self) -> f64 {
        if self.k_accept == 0 {
            100.0
        } else {
            100.0 * self.both_accept as f64 / self.k_accept as f64
        }
    }

    /// ebee time / kernel time.
    pub fn time_ratio(&self) -> f64 {
        self.ebee_time.as_secs_f64() / self.kernel_time.as_secs_f64().max(1e-9)
    }

    /// ebee time / kernel time over the programs both accept.
    pub fn time_ratio_accepted(&self) -> f64 {
        self.ebee_time_accepted.as_secs_f64() / self.kernel_time_accepted.as_secs_f64().max(1e-9)
    }
}

/// Totals per project, then over everything (last, named `total`).
pub fn totals(rows: &[Row]) -> Vec<(String, Totals)> {
    let mut by: BTreeMap<String, Totals> = BTreeMap::new();
    let mut all = Totals::default();
    for r in rows {
        by.entry(r.exp.project.clone()).or_default().add(r);
        all.add(r);
    }
    let mut out: Vec<(String, Totals)> = by.into_iter().collect();
    out.push(("total".into(), all));
    out
}

/// The table, plain or Markdown.
pub fn table(rows: &[Row], markdown: bool) -> String {
    let head = [
        "project",
        "progs",
        "k acc",
        "k unsafe",
        "k can't",
        "ebee acc",
        "ebee rej (n/a)",
        "agree/judged",
        "ebee acc / k acc",
        "PREVAIL pass/rej/rej_load/xfail",
        "ebee acc xfail",
        "time ebee/k (all)",
        "time ebee/k (both accept)",
    ];
    let mut lines: Vec<Vec<String>> = vec![head.iter().map(|s| s.to_string()).collect()];
    for (name, t) in totals(rows) {
        lines.push(vec![
            name,
            t.programs.to_string(),
            t.k_accept.to_string(),
            t.k_unsafe.to_string(),
            t.k_cant.to_string(),
            t.e_accept.to_string(),
            format!("{} ({})", t.e_reject, t.e_unsupported),
            format!("{}/{}", t.agree, t.judged),
            format!("{}/{} ({:.1}%)", t.both_accept, t.k_accept, t.accept_rate()),
            format!(
                "{}/{}/{}/{}",
                t.p_pass, t.p_reject, t.p_reject_load, t.p_xfail
            ),
            format!("{}/{}", t.e_accept_xfail, t.p_xfail),
            format!(
                "{:.2} ({:.1}/{:.1} ms)",
                t.time_ratio(),
                t.ebee_time.as_secs_f64() * 1e3,
                t.kernel_time.as_secs_f64() * 1e3
            ),
            format!(
                "{:.2} ({:.1}/{:.1} ms)",
                t.time_ratio_accepted(),
                t.ebee_time_accepted.as_secs_f64() * 1e3,
                t.kernel_time_accepted.as_secs_f64() * 1e3
            ),
        ]);
    }
    let mut out = String::new();
    if markdown {
        for (i, l) in lines.iter().enumerate() {
            let _ = writeln!(out, "| {} |", l.join(" | "));
            if i == 0 {
                let _ = writeln!(out, "|{}", "---|".repeat(l.len()));
            }
        }
    } else {
        let widths: Vec<usize> = (0..head.len())
            .map(|c| lines.iter().map(|l| l[c].len()).max().unwrap_or(0))
            .collect();
        for l in &lines {
            let cells: Vec<String> = l
                .iter()
                .zip(&widths)
                .map(|(c, w)| format!("{c:<w$}"))
                .collect();
            let _ = writeln!(out, "{}", cells.join("  ").trim_end());
        }
    }
    out
}

/// The rows where ebee and the kernel (or PREVAIL's reject) disagree,
/// one line each, unsafe accepts first.
pub fn disagreements(rows: &[Row]) -> Vec<String> {
    let mut unsound = vec![];
    let mut imprecise = vec![];
    for r in rows {
        let short = |s: &str| s.chars().take(240).collect::<String>();
        match (&r.kernel, &r.ebee) {
            (KernelVerdict::Unsafe(k), EbeeVerdict::Accepted) => {
                unsound.push(format!("UNSAFE ACCEPT {}: kernel: {}", r.name(), short(k)))
            }
            (KernelVerdict::Accepted, EbeeVerdict::Rejected(e) | EbeeVerdict::Unsupported(e)) => {
                imprecise.push(format!("false reject {}: {}", r.name(), short(e)))
            }
            _ => {}
        }
        if r.exp.prevail == "reject" && r.ebee_accepts() {
            unsound.push(format!(
                "ACCEPTS PREVAIL REJECT {} (kernel: {:?})",
                r.name(),
                r.kernel
            ));
        }
    }
    unsound.extend(imprecise);
    unsound
}

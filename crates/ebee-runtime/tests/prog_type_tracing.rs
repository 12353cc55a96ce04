//! kprobe and perf_event programs of the Linux samples in the userspace
//! runtime: `tracex7_kern.o`'s `bpf_override_return(ctx, -ENOMEM)` is
//! reported to the host and written to `ax`, as the kernel's
//! `regs_set_return_value` does (and refused by the verifier like this
//! kernel, built without `CONFIG_BPF_KPROBE_OVERRIDE`, refuses it);
//! `trace_event_kern.o`'s `bpf_perf_prog_read_value` reads the perf
//! counter the host attached (a task clock, whose enabled time only
//! grows), and fails with `-EINVAL` and a zeroed buffer without one or
//! with a wrong size.

use std::path::{Path, PathBuf};

use ebee_object::Object;
use ebee_runtime::helpers::SharedBuffer;
use ebee_runtime::loader::{LoadOptions, LoadedObject, ObjectLoadError};
use ebee_runtime::map::PerfCounter;
use ebee_runtime::program_type::tracing::{Kprobe, PerfEvent, PtRegs};

fn sample(rel: &str) -> Option<Object> {
    let p: PathBuf = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/corpora/ebpf-samples")
        .join(rel);
    match std::fs::read(&p) {
        Ok(b) => Some(Object::parse(&b).expect("sample parses")),
        Err(e) => {
            println!("skipped: {}: {e}", p.display());
            None
        }
    }
}

#[test]
fn override_return_reaches_the_host() {
    for rel in ["linux/tracex7_kern.o", "new_linux/tracex7_kern.o"] {
        let Some(obj) = sample(rel) else { return };
        match LoadedObject::load(&obj, &LoadOptions::new()) {
            Err(ObjectLoadError::Rejected { diagnostic, .. }) => assert!(
                diagnostic.contains("may not call bpf_override_return#58"),
                "{diagnostic}"
            ),
            other => panic!("{rel}: the verifier should refuse as the kernel does: {other:?}"),
        }
        let loaded = LoadedObject::load(&obj, &LoadOptions::new().unverified()).unwrap();
        let prog = &loaded.programs()[0];
        let mut regs = PtRegs {
            ax: 7,
            di: 1,
            ..PtRegs::default()
        };
        let out = Kprobe::run_loaded(prog, &mut regs).unwrap();
        assert_eq!(out.ret, 0);
        assert_eq!(out.override_return, Some(-12i64 as u64), "{rel}");
        assert_eq!(regs.ax, -12i64 as u64);
        assert_eq!(regs.di, 1);
        // Outside a kprobe run the helper has no registers to change.
        let e = prog.run(&mut [0u8; 168]).unwrap_err();
        assert!(e.to_string().contains("outside"), "{e}");
    }
}

#[test]
fn perf_prog_read_value_reads_the_attached_counter() {
    let Some(obj) = sample("linux/trace_event_kern.o") else {
        return;
    };
    let loaded = LoadedObject::load(&obj, &LoadOptions::new()).expect("verified load");
    let prog = loaded.program("perf_event").unwrap();
    assert!(prog.verified());
    let out = SharedBuffer::default();
    loaded.env().trace().set(Box::new(out.clone()));
    let text = |b: &SharedBuffer| String::from_utf8_lossy(&b.0.lock().unwrap()).to_string();

    let mut ev = PerfEvent::default();
    // The sample ignores periods below 10000 ("warmup").
    ev.data.sample_period = 100_000;
    assert_eq!(ev.run_loaded(prog).expect("perf_event run"), 0);
    assert!(
        text(&out).contains("Get Time Failed, ErrCode: -22"),
        "{}",
        text(&out)
    );

    let counter = match PerfCounter::open(1, 1) {
        Ok(c) => c,
        Err(e) => {
            println!("skipped: perf_event_open: {e}");
            return;
        }
    };
    ev.counter = Some(counter);
    out.0.lock().unwrap().clear();
    let before = ev.counter.as_ref().unwrap().read().unwrap();
    assert_eq!(ev.run_loaded(prog).expect("perf_event run"), 0);
    let after = ev.counter.as_ref().unwrap().read().unwrap();
    let line = text(&out);
    let enabled: u64 = line
        .split("Time Enabled: ")
        .nth(1)
        .and_then(|r| r.split(',').next())
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or_else(|| panic!("no enabled time in {line:?}"));
    assert!(
        before[1] <= enabled && enabled <= after[1],
        "{before:?} <= {enabled} <= {after:?}"
    );
}

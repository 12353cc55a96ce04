//! C test programs compiled for BPF the one way every crate's tests do:
//! `clang-19 -O2 -g -target bpf -mcpu=v3`, with Debian's multiarch headers,
//! into a fresh file per call (tests of one binary run in parallel).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};

/// Compiles the C file `src` (with `extra` arguments, e.g. `-DNAME=1`) into
/// an object under `out_dir`, and returns the object's path. The error holds
/// clang's diagnostics, or why clang could not be started.
pub fn compile_bpf(src: &Path, out_dir: &Path, extra: &[&str]) -> Result<PathBuf, String> {
    static SEQ: AtomicUsize = AtomicUsize::new(0);
    std::fs::create_dir_all(out_dir).map_err(|e| format!("{}: {e}", out_dir.display()))?;
    let stem = src.file_stem().and_then(|s| s.to_str()).unwrap_or("prog");
    let out = out_dir.join(format!(
        "{stem}-{}-{}.o",
        std::process::id(),
        SEQ.fetch_add(1, Ordering::Relaxed)
    ));
    let o = Command::new("clang-19")
        .args(["-O2", "-g", "-target", "bpf", "-mcpu=v3"])
        .arg("-I/usr/include/x86_64-linux-gnu")
        .args(extra)
        .arg("-c")
        .arg(src)
        .arg("-o")
        .arg(&out)
        .output()
        .map_err(|e| format!("running clang-19: {e}"))?;
    if !o.status.success() {
        return Err(format!(
            "clang-19 failed on {}:\n{}",
            src.display(),
            String::from_utf8_lossy(&o.stderr)
        ));
    }
    Ok(out)
}

//! `cgroup_array`: cgroups (v2) for `bpf_current_task_under_cgroup` and
//! `bpf_skb_under_cgroup`. In the kernel user space stores a cgroup
//! directory's fd; here the host stores the directory itself
//! ([`super::Map::set_cgroup`]), checked to be a cgroup of the unified
//! hierarchy, and the helpers compare it with the running thread's cgroup
//! from `/proc/thread-self/cgroup`.

use std::path::{Path, PathBuf};

/// `CGROUP2_SUPER_MAGIC`: the file system type of the unified hierarchy.
const CGROUP2_SUPER_MAGIC: i64 = 0x6367_7270;

/// Where the unified (v2) hierarchy is mounted (`/sys/fs/cgroup` on a
/// pure v2 system, `/sys/fs/cgroup/unified` on a hybrid one), from
/// `/proc/self/mounts`.
pub fn cgroup2_root() -> Option<PathBuf> {
    let mounts = std::fs::read_to_string("/proc/self/mounts").ok()?;
    mounts.lines().find_map(|l| {
        let mut f = l.split_whitespace();
        let (_, dir, fstype) = (f.next()?, f.next()?, f.next()?);
        (fstype == "cgroup2").then(|| PathBuf::from(dir))
    })
}

/// Is `dir` on a cgroup2 file system?
fn on_cgroup2(dir: &Path) -> bool {
    use std::os::unix::ffi::OsStrExt;
    let Ok(c) = std::ffi::CString::new(dir.as_os_str().as_bytes()) else {
        return false;
    };
    // SAFETY: `c` is a NUL-terminated path; `st` is written by statfs.
    let mut st: libc::statfs = unsafe { std::mem::zeroed() };
    // SAFETY: as above.
    let r = unsafe { libc::statfs(c.as_ptr(), &mut st) };
    r == 0 && st.f_type as i64 == CGROUP2_SUPER_MAGIC
}

/// A cgroup of the unified hierarchy, by its path below the root (`/` for
/// the root itself), as `/proc/<pid>/cgroup` names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cgroup {
    path: PathBuf,
}

impl Cgroup {
    /// The cgroup whose directory is `dir` (under [`cgroup2_root`]):
    /// `None` if it is not a directory of the v2 hierarchy.
    pub fn from_dir(dir: &Path) -> Option<Cgroup> {
        let dir = dir.canonicalize().ok()?;
        if !dir.is_dir() || !on_cgroup2(&dir) {
            return None;
        }
        let root = cgroup2_root()?.canonicalize().ok()?;
        let rel = dir.strip_prefix(&root).ok()?;
        Some(Cgroup {
            path: Path::new("/").join(rel),
        })
    }

    /// The cgroup path below the root.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The cgroup's directory (below [`cgroup2_root`]).
    pub fn dir(&self) -> Option<PathBuf> {
        Some(cgroup2_root()?.join(self.path.strip_prefix("/").unwrap_or(&self.path)))
    }

    /// The running thread's cgroup (`0::/path` in
    /// `/proc/thread-self/cgroup`), if it has one in the v2 hierarchy.
    pub fn of_current_thread() -> Option<Cgroup> {
        let text = std::fs::read_to_string("/proc/thread-self/cgroup").ok()?;
        let path = text.lines().find_map(|l| l.strip_prefix("0::"))?;
        Some(Cgroup {
            path: PathBuf::from(path),
        })
    }

    /// `cgroup_is_descendant`: is `self` `ancestor` or below it?
    pub fn is_under(&self, ancestor: &Cgroup) -> bool {
        self.path.starts_with(&ancestor.path)
    }
}

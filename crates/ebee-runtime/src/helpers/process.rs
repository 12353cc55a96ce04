//! `bpf_get_current_pid_tgid`, `_uid_gid`, `_comm`,
//! `bpf_get_smp_processor_id`, `bpf_get_numa_node_id`,
//! `bpf_get_prandom_u32`.

use super::{add, HelperEnv};
use crate::helper::HelperRegistry;
use std::sync::Arc;

/// The task the `bpf_get_current_*` helpers describe.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProcessIdentity {
    /// Thread group id (the process id). `None`: the calling thread's.
    pub tgid: Option<u32>,
    /// Thread id. `None`: the calling thread's.
    pub pid: Option<u32>,
    /// User id.
    pub uid: u32,
    /// Group id.
    pub gid: u32,
    /// Command name (at most 15 bytes are reported). `None`: the calling
    /// thread's.
    pub comm: Option<Vec<u8>>,
}

impl ProcessIdentity {
    /// This process, as the kernel would see its threads run a program.
    pub fn current() -> ProcessIdentity {
        // SAFETY: getuid/getgid have no preconditions.
        let (uid, gid) = unsafe { (libc::getuid(), libc::getgid()) };
        ProcessIdentity {
            tgid: None,
            pid: None,
            uid,
            gid,
            comm: None,
        }
    }
}

/// The calling thread's name (`/proc/thread-self/comm`).
fn thread_comm() -> Vec<u8> {
    let mut name = std::fs::read("/proc/thread-self/comm").unwrap_or_default();
    if name.last() == Some(&b'\n') {
        name.pop();
    }
    name
}

pub(super) fn register(reg: &mut HelperRegistry, env: &Arc<HelperEnv>) {
    let e = Arc::clone(env);
    add(reg, "get_current_pid_tgid", move |_, _| {
        let id = e.identity();
        let tgid = id.tgid.unwrap_or_else(std::process::id);
        // SAFETY: gettid has no preconditions.
        let tid = id.pid.unwrap_or_else(|| unsafe { libc::gettid() } as u32);
        Ok((u64::from(tgid) << 32) | u64::from(tid))
    });
    let e = Arc::clone(env);
    add(reg, "get_current_uid_gid", move |_, _| {
        let id = e.identity();
        Ok((u64::from(id.gid) << 32) | u64::from(id.uid))
    });
    let e = Arc::clone(env);
    add(reg, "get_current_comm", move |ctx, a| {
        let size = a[1] as u32 as usize;
        if size == 0 {
            return Ok(0);
        }
        ctx.check(a[0], size as u64, true)?;
        let comm = e.identity().comm.unwrap_or_else(thread_comm);
        let mut buf = vec![0u8; size];
        let n = comm.len().min(15).min(size - 1);
        buf[..n].copy_from_slice(&comm[..n]);
        ctx.write(a[0], &buf)?;
        Ok(0)
    });
    add(reg, "get_smp_processor_id", |_, _| {
        Ok(crate::map::current_cpu() as u32 as u64)
    });
    add(reg, "get_numa_node_id", |_, _| Ok(0));
    let e = Arc::clone(env);
    add(
        reg,
        "get_prandom_u32",
        move |_, _| Ok(e.next_random() >> 32),
    );
}

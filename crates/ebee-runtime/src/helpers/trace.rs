//! `bpf_trace_printk` (to a host-settable [`TraceSink`], stderr by
//! default) and `bpf_snprintf`, in the kernel's printf dialect
//! ([`super::format`]).

use super::format::{format_printf, MAX_BPRINTF_BUF};
use super::{add, neg, read_cstr, read_vec, HelperEnv, EINVAL};
use crate::helper::{HelperContext, HelperError, HelperRegistry};
use std::fmt;
use std::io::Write;
use std::sync::{Arc, Mutex};

/// Where `bpf_trace_printk` lines go.
pub struct TraceSink {
    out: Mutex<Box<dyn Write + Send>>,
}

impl fmt::Debug for TraceSink {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("TraceSink")
    }
}

impl TraceSink {
    /// Lines to this process's stderr.
    pub fn stderr() -> TraceSink {
        TraceSink {
            out: Mutex::new(Box::new(std::io::stderr())),
        }
    }

    /// Sends the lines to `w` from now on.
    pub fn set(&self, w: Box<dyn Write + Send>) {
        *self.out.lock().unwrap_or_else(|e| e.into_inner()) = w;
    }

    /// Writes one line (a newline is added if the text has none).
    pub fn line(&self, text: &[u8]) {
        let mut out = self.out.lock().unwrap_or_else(|e| e.into_inner());
        let _ = out.write_all(text);
        if text.last() != Some(&b'\n') {
            let _ = out.write_all(b"\n");
        }
        let _ = out.flush();
    }
}

/// A shared buffer usable as a sink, for embedders collecting the lines.
#[derive(Debug, Clone, Default)]
pub struct SharedBuffer(pub Arc<Mutex<Vec<u8>>>);

impl Write for SharedBuffer {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Formats with memory reads through `ctx`.
fn format(ctx: &mut HelperContext<'_>, fmt: &[u8], args: &[u64]) -> Option<Vec<u8>> {
    let cell = std::cell::RefCell::new(ctx);
    let mut read = |addr: u64, len: usize| read_vec(&mut cell.borrow_mut(), addr, len as u64).ok();
    let mut read_str = |addr: u64, max: usize| read_cstr(&mut cell.borrow_mut(), addr, max);
    format_printf(fmt, args, &mut read, &mut read_str).ok()
}

/// The format string: `size` bytes at `addr` that must hold a NUL.
fn fmt_arg(
    ctx: &mut HelperContext<'_>,
    addr: u64,
    size: u64,
) -> Result<Option<Vec<u8>>, HelperError> {
    let fmt = read_vec(ctx, addr, size)?;
    Ok(fmt.contains(&0).then_some(fmt))
}

pub(super) fn register(reg: &mut HelperRegistry, env: &Arc<HelperEnv>) {
    let e = Arc::clone(env);
    add(reg, "trace_printk", move |ctx, a| {
        let Some(fmt) = fmt_arg(ctx, a[0], u64::from(a[1] as u32))? else {
            return Ok(neg(EINVAL));
        };
        let Some(mut text) = format(ctx, &fmt, &a[2..5]) else {
            return Ok(neg(EINVAL));
        };
        let n = text.len();
        text.truncate(MAX_BPRINTF_BUF - 1);
        e.trace().line(&text);
        Ok(n as u64)
    });
    add(reg, "snprintf", |ctx, a| {
        let (str_addr, str_size, fmt_addr, data, data_len) = (
            a[0],
            u64::from(a[1] as u32),
            a[2],
            a[3],
            u64::from(a[4] as u32),
        );
        if data_len % 8 != 0 || data_len > 12 * 8 || (data_len != 0 && data == 0) {
            return Ok(neg(EINVAL));
        }
        let raw = read_vec(ctx, data, data_len)?;
        let args: Vec<u64> = raw
            .chunks_exact(8)
            .map(|c| u64::from_ne_bytes(c.try_into().unwrap_or([0; 8])))
            .collect();
        let Some(fmt) = read_cstr(ctx, fmt_addr, 1 << 16) else {
            return Err(HelperError(format!(
                "format string at {fmt_addr:#x} is not readable"
            )));
        };
        let Some(text) = format(ctx, &fmt, &args) else {
            return Ok(neg(EINVAL));
        };
        if str_size > 0 {
            let n = text.len().min(str_size as usize - 1);
            let mut out = text[..n].to_vec();
            out.push(0);
            ctx.write(str_addr, &out)?;
        }
        Ok(text.len() as u64 + 1)
    });
}

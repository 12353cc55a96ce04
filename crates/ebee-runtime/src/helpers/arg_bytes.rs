//! Copies of the program memory a helper takes as arguments: map keys and
//! values kept on the stack when short ([`with_arg`]), heap copies
//! ([`read_vec`]) otherwise.
//!
//! Map operations copy the key (and for updates the value) out of the
//! program's memory on every call; keys and values are a few bytes, so a
//! heap allocation per call would cost more than the lookup itself. The
//! buffer is lent to a closure rather than returned: a returned copy is
//! moved in wider words than it was written, which stalls the loads.

use crate::helper::{HelperContext, HelperError};

/// Buffers up to this many bytes are on the stack.
const INLINE: usize = 64;

/// The largest argument a helper copies (a sanity bound for unverified
/// programs passing huge sizes).
const MAX_ARG: usize = 1 << 24;

/// Runs `f` on `len` zero bytes: on the stack when at most [`INLINE`].
#[inline]
pub(crate) fn with_buffer<T>(len: usize, f: impl FnOnce(&mut [u8]) -> T) -> T {
    if len <= INLINE {
        let mut buf = [0u8; INLINE];
        f(&mut buf[..len])
    } else {
        f(&mut vec![0u8; len])
    }
}

/// Runs `f` on a copy of the `len` bytes of program memory at `addr`
/// (checked against the run's regions), with the context back.
#[inline]
pub(crate) fn with_arg<T>(
    ctx: &mut HelperContext<'_>,
    addr: u64,
    len: u64,
    f: impl FnOnce(&mut HelperContext<'_>, &mut [u8]) -> Result<T, HelperError>,
) -> Result<T, HelperError> {
    with_buffer(arg_len(len)?, |buf| {
        ctx.read(addr, buf)?;
        f(ctx, buf)
    })
}

/// A heap copy of the `len` bytes of program memory at `addr`, for
/// arguments kept beyond the call or too long for [`with_arg`].
pub(crate) fn read_vec(
    ctx: &mut HelperContext<'_>,
    addr: u64,
    len: u64,
) -> Result<Vec<u8>, HelperError> {
    let mut buf = vec![0u8; arg_len(len)?];
    ctx.read(addr, &mut buf)?;
    Ok(buf)
}

/// `len` as the length of a helper's memory argument, refusing lengths
/// no program memory can have.
pub(crate) fn arg_len(len: u64) -> Result<usize, HelperError> {
    let len = usize::try_from(len).map_err(|_| HelperError("length too large".into()))?;
    if len > MAX_ARG {
        return Err(HelperError(format!("{len} bytes is too large an argument")));
    }
    Ok(len)
}

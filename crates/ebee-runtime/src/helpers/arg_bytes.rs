//! [`ArgBytes`]: a copy of program memory a helper takes as an argument
//! (a map key or value), kept on the stack when short.
//!
//! Map operations copy the key (and for updates the value) out of the
//! program's memory on every call; keys and values are a few bytes, so a
//! heap allocation per call would cost more than the lookup itself.

use crate::helper::{HelperContext, HelperError};

/// Arguments up to this many bytes are copied to the stack.
const INLINE: usize = 64;

/// The largest argument a helper copies (a sanity bound for unverified
/// programs passing huge sizes).
const MAX_ARG: usize = 1 << 24;

/// Bytes copied from program memory, on the stack when at most
/// [`INLINE`] long.
pub(crate) enum ArgBytes {
    /// A short copy: the first `len` bytes of `buf`.
    Inline {
        /// The storage.
        buf: [u8; INLINE],
        /// How many bytes are used.
        len: usize,
    },
    /// A long copy.
    Heap(Vec<u8>),
}

impl ArgBytes {
    /// Copies `len` bytes of program memory at `addr`, checking the run's
    /// regions.
    pub(crate) fn read(
        ctx: &mut HelperContext<'_>,
        addr: u64,
        len: u64,
    ) -> Result<ArgBytes, HelperError> {
        let mut bytes = ArgBytes::zeroed(arg_len(len)?);
        ctx.read(addr, &mut bytes)?;
        Ok(bytes)
    }

    /// `len` zero bytes (a buffer a helper fills, then writes to program
    /// memory).
    pub(crate) fn zeroed(len: usize) -> ArgBytes {
        if len <= INLINE {
            ArgBytes::Inline {
                buf: [0u8; INLINE],
                len,
            }
        } else {
            ArgBytes::Heap(vec![0u8; len])
        }
    }
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

impl std::ops::Deref for ArgBytes {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        match self {
            ArgBytes::Inline { buf, len } => &buf[..*len],
            ArgBytes::Heap(v) => v,
        }
    }
}

impl std::ops::DerefMut for ArgBytes {
    fn deref_mut(&mut self) -> &mut [u8] {
        match self {
            ArgBytes::Inline { buf, len } => &mut buf[..*len],
            ArgBytes::Heap(v) => v,
        }
    }
}

//! Executable memory for one compiled program.
//!
//! `cranelift-jit` writes code into pages mapped read-write and, when the
//! module is finalised, flips them to read-execute (after clearing the
//! instruction cache where the host needs it); the code is never writable
//! and executable at the same time. [`CodeMemory`] owns the module and
//! unmaps its pages when dropped.

use crate::blinding::{random_key, Blinding};
use crate::compiler::{build_functions, check_stub_function, host_isa, plan};
use crate::context::JitContext;
use crate::error::JitError;
use crate::translate::{bpf_function_signature, check_stub_signature, InlineArrays, TranslateMode};
use cranelift_codegen::Context;
use cranelift_jit::{JITBuilder, JITModule};
use cranelift_module::{default_libcall_names, Module};
use ebee_isa::Insn;
use std::collections::HashMap;
use std::sync::OnceLock;

/// Finalised (read-execute) code of one program.
pub(crate) struct CodeMemory {
    module: Option<JITModule>,
    entry: *const u8,
    /// Every native function (the entry's included) by its eBPF pc, for
    /// callbacks.
    functions: HashMap<usize, *const u8>,
    code_bytes: usize,
    /// Map lookups computed in native code (`translate/map_lookup.rs`).
    inlined_lookups: usize,
    /// The constant-blinding key the code reads (by address) at run time.
    _blind_key: Option<Box<u64>>,
}

// SAFETY: after finalisation the code pages are immutable; the module is
// only touched again to free them on drop, which needs `&mut self`.
unsafe impl Send for CodeMemory {}
// SAFETY: as above: shared access only reads the entry pointer.
unsafe impl Sync for CodeMemory {}

impl CodeMemory {
    /// Compiles `insns` (inlining lookups in the arrays of `inline`) for
    /// the host, with a native function for each pc of `callbacks` too; with `blind`, under a fresh random
    /// constant-blinding key (any key in `mode` is replaced).
    pub fn compile(
        (insns, inline): (&[Insn], &InlineArrays),
        callbacks: &[usize],
        mut mode: TranslateMode,
        blind: bool,
    ) -> Result<CodeMemory, JitError> {
        let blind_key = blind.then(|| Box::new(random_key()));
        mode.blind = blind_key.as_ref().map(|key| Blinding {
            key: **key,
            key_addr: &**key as *const u64 as u64,
        });
        let isa = host_isa(mode.optimize)?;
        let (entries, _) = plan(insns, callbacks)?;
        let mut module = JITModule::new(JITBuilder::with_isa(isa.clone(), default_libcall_names()));
        let sig = bpf_function_signature(isa.default_call_conv());
        let codegen = |e: cranelift_module::ModuleError| JitError::Codegen(e.to_string());
        let mut ids = HashMap::new();
        for &entry in &entries {
            let id = module.declare_anonymous_function(&sig).map_err(codegen)?;
            ids.insert(entry, id);
        }
        let index_of = ids.iter().map(|(&e, id)| (e, id.as_u32())).collect();
        let mut ctx = Context::new();
        let mut code_bytes = 0;
        let stub = if mode.checked {
            shared_check_stub()?
        } else {
            0
        };
        let inlined_lookups = build_functions(
            (insns, inline),
            mode,
            &*isa,
            &index_of,
            &entries,
            stub,
            |entry, func| {
                ctx.func = func;
                module
                    .define_function(ids[&entry], &mut ctx)
                    .map_err(|e| match e {
                        cranelift_module::ModuleError::Compilation(c) => {
                            JitError::Codegen(format!("{c:?}"))
                        }
                        e => codegen(e),
                    })?;
                code_bytes += ctx.compiled_code().map_or(0, |c| c.code_buffer().len());
                ctx.clear();
                Ok(())
            },
        )?;
        module.finalize_definitions().map_err(codegen)?;
        let entry = module.get_finalized_function(ids[&0]);
        let functions = ids
            .iter()
            .map(|(&pc, &id)| (pc, module.get_finalized_function(id)))
            .collect();
        Ok(CodeMemory {
            module: Some(module),
            entry,
            functions,
            code_bytes,
            inlined_lookups,
            _blind_key: blind_key,
        })
    }

    /// Calls the entry function with `r0`–`r9` = `regs` and `r10` = `frame_top`.
    ///
    /// # Safety
    /// `ctx` must be a context whose `host` points to the live run state
    /// of this run, and the program's memory accesses must be allowed (by
    /// its checks in checked mode, by the verifier otherwise).
    pub unsafe fn call_entry(&self, ctx: *mut JitContext, frame_top: u64, regs: [u64; 10]) -> u64 {
        // SAFETY: forwarded from the caller.
        unsafe { call_native(self.entry, ctx, frame_top, regs) }
    }

    /// Calls the native function compiled for `pc` (a callback), as
    /// [`CodeMemory::call_entry`]; `None` when no function starts there.
    ///
    /// # Safety
    /// As [`CodeMemory::call_entry`].
    pub unsafe fn call_function(
        &self,
        pc: usize,
        ctx: *mut JitContext,
        frame_top: u64,
        regs: [u64; 10],
    ) -> Option<u64> {
        let f = *self.functions.get(&pc)?;
        // SAFETY: forwarded from the caller.
        Some(unsafe { call_native(f, ctx, frame_top, regs) })
    }

    /// Machine code size in bytes.
    pub fn code_bytes(&self) -> usize {
        self.code_bytes
    }

    /// How many `bpf_map_lookup_elem` calls were computed inline.
    pub fn inlined_lookups(&self) -> usize {
        self.inlined_lookups
    }
}

/// Calls the native eBPF function at `f` with `r0`–`r9` = `regs` and
/// `r10` = `frame_top`.
///
/// # Safety
/// `f` is finalised code of a function compiled by [`CodeMemory::compile`]
/// that is still mapped; otherwise as [`CodeMemory::call_entry`].
unsafe fn call_native(f: *const u8, ctx: *mut JitContext, frame_top: u64, regs: [u64; 10]) -> u64 {
    type EntryFn = unsafe extern "C" fn(
        *mut JitContext,
        u64,
        u64,
        u64,
        u64,
        u64,
        u64,
        u64,
        u64,
        u64,
        u64,
        u64,
    ) -> u64;
    // SAFETY: `f` is finalised code with exactly this signature
    // (`bpf_function_signature` in the host's C convention).
    let f: EntryFn = unsafe { std::mem::transmute(f) };
    let [r0, r1, r2, r3, r4, r5, r6, r7, r8, r9] = regs;
    // SAFETY: forwarded from the caller.
    unsafe { f(ctx, frame_top, r0, r1, r2, r3, r4, r5, r6, r7, r8, r9) }
}

/// The address of the process-wide slow-path stub (see `translate/stub.rs`),
/// compiled on first use. It does not depend on any program, so every
/// checked program calls the same copy; its module is kept for the rest of
/// the process on purpose.
fn shared_check_stub() -> Result<u64, JitError> {
    static STUB: OnceLock<Result<u64, String>> = OnceLock::new();
    STUB.get_or_init(|| {
        let isa = host_isa(true).map_err(|e| e.to_string())?;
        let mut module = JITModule::new(JITBuilder::with_isa(isa.clone(), default_libcall_names()));
        let id = module
            .declare_anonymous_function(&check_stub_signature())
            .map_err(|e| e.to_string())?;
        let mut ctx = Context::for_function(check_stub_function(&*isa));
        module
            .define_function(id, &mut ctx)
            .map_err(|e| e.to_string())?;
        module.finalize_definitions().map_err(|e| e.to_string())?;
        let addr = module.get_finalized_function(id) as u64;
        // Kept for the life of the process: every checked program calls it.
        std::mem::forget(module);
        Ok(addr)
    })
    .clone()
    .map_err(JitError::Codegen)
}

impl Drop for CodeMemory {
    fn drop(&mut self) {
        if let Some(m) = self.module.take() {
            // SAFETY: the code is only reachable through `self.entry`, which
            // dies with `self`; no run can be in progress because runs borrow
            // the program.
            unsafe { m.free_memory() };
        }
    }
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;

    /// The permissions (`r-xp` etc.) of the mapping holding `addr`, from
    /// `/proc/self/maps`.
    fn permissions_at(addr: usize) -> Option<String> {
        let maps = std::fs::read_to_string("/proc/self/maps").ok()?;
        maps.lines().find_map(|line| {
            let mut fields = line.split_whitespace();
            let range = fields.next()?;
            let perms = fields.next()?;
            let (lo, hi) = range.split_once('-')?;
            let lo = usize::from_str_radix(lo, 16).ok()?;
            let hi = usize::from_str_radix(hi, 16).ok()?;
            (lo <= addr && addr < hi).then(|| perms.to_string())
        })
    }

    /// W^X, checked against the kernel's view of the pages: compiled code
    /// (both modes, and the shared slow-path stub) is readable and
    /// executable, never writable.
    #[test]
    fn code_pages_are_executable_and_not_writable() {
        let insns = ebee_isa::assemble("r0 = *(u8 *)(r1 + 0)\nexit").unwrap();
        for (checked, blind) in [(false, false), (true, false), (true, true)] {
            let mode = TranslateMode {
                checked,
                optimize: true,
                blind: None,
                tail_target: false,
            };
            let code =
                CodeMemory::compile((&insns, &InlineArrays::new()), &[], mode, blind).unwrap();
            let perms = permissions_at(code.entry as usize).expect("code is mapped");
            assert!(perms.starts_with("r-x"), "checked={checked}: {perms}");
        }
        let stub = shared_check_stub().unwrap() as usize;
        let perms = permissions_at(stub).expect("stub is mapped");
        assert!(perms.starts_with("r-x"), "stub: {perms}");
    }
}

//! Whole-program compilation: one Cranelift function per eBPF function,
//! for the host (through `cranelift-jit`) or, without linking, for any
//! Cranelift target (machine code bytes only).

use crate::control_flow::function_entries;
use crate::error::JitError;
use crate::runtime_calls::RuntimeFns;
use crate::translate::{
    bpf_function_signature, build_check_stub, check_stub_signature, translate_function,
    InlineArrays, TargetInfo, TranslateMode,
};
use cranelift_codegen::control::ControlPlane;
use cranelift_codegen::ir::{self, ExtFuncData, ExternalName, UserExternalName, UserFuncName};
use cranelift_codegen::isa::{OwnedTargetIsa, TargetIsa};
use cranelift_codegen::{settings, settings::Configurable, Context};
use cranelift_frontend::FunctionBuilderContext;
use ebee_isa::Insn;
use std::collections::HashMap;
use std::sync::OnceLock;

/// Cranelift settings shared by every target. Optimised (`optimize`, the
/// default): opt_level `speed` and the backtracking register allocator,
/// for the fastest code. Unoptimised: no e-graph pass and the single-pass
/// register allocator, for the fastest compile: on a 1,084-instruction
/// clang-built program that is 1.5-2.6x faster to compile (0.7-1.1 ms verified,
/// about 1.5 ms checked) and its code runs 1.5x slower; on loops up to 3-5x slower, so it
/// is for large programs that run a few times. No PIC (required by
/// `cranelift-jit`), no colocated libcalls.
fn flags(optimize: bool) -> Result<settings::Flags, JitError> {
    let mut b = settings::builder();
    let set = |b: &mut settings::Builder, k: &str, v: &str| {
        b.set(k, v)
            .map_err(|e| JitError::Codegen(format!("setting {k}={v}: {e}")))
    };
    set(&mut b, "opt_level", if optimize { "speed" } else { "none" })?;
    set(&mut b, "is_pic", "false")?;
    let regalloc = if optimize {
        "backtracking"
    } else {
        "single_pass"
    };
    set(&mut b, "regalloc_algorithm", regalloc)?;
    set(&mut b, "use_colocated_libcalls", "false")?;
    // Cranelift's IR verifier costs a fifth of compile time; debug builds
    // (the tests) keep it to catch translation bugs.
    let verify = if cfg!(debug_assertions) {
        "true"
    } else {
        "false"
    };
    set(&mut b, "enable_verifier", verify)?;
    Ok(settings::Flags::new(b))
}

/// The host's ISA, built once per process for each optimisation setting.
pub(crate) fn host_isa(optimize: bool) -> Result<OwnedTargetIsa, JitError> {
    static HOST: [OnceLock<Result<OwnedTargetIsa, String>>; 2] = [OnceLock::new(), OnceLock::new()];
    HOST[optimize as usize]
        .get_or_init(|| {
            let builder = cranelift_native::builder().map_err(|e| e.to_string())?;
            let flags = flags(optimize).map_err(|e| e.to_string())?;
            builder.finish(flags).map_err(|e| e.to_string())
        })
        .clone()
        .map_err(JitError::Codegen)
}

/// The ISA called `name` (e.g. `"aarch64"`, `"x86_64"`), for compiling
/// without running.
pub(crate) fn isa_by_name(name: &str) -> Result<OwnedTargetIsa, JitError> {
    let builder = cranelift_codegen::isa::lookup_by_name(name)
        .map_err(|e| JitError::Codegen(format!("target {name}: {e}")))?;
    builder
        .finish(flags(true)?)
        .map_err(|e| JitError::Codegen(e.to_string()))
}

/// Builds the IR of every function of `insns`. `declare` gives each
/// function's callee references: for entry pc `e`, the user external name
/// index `index_of[e]` (namespace 0), which is what `cranelift-module` uses
/// for its `FuncId`s. Returns how many map lookups were computed inline.
pub(crate) fn build_functions(
    (insns, inline): (&[Insn], &InlineArrays),
    mode: TranslateMode,
    isa: &dyn TargetIsa,
    index_of: &HashMap<usize, u32>,
    entries: &[usize],
    check_stub: u64,
    mut sink: impl FnMut(usize, ir::Function) -> Result<(), JitError>,
) -> Result<usize, JitError> {
    let call_conv = isa.default_call_conv();
    let sig = bpf_function_signature(call_conv);
    let target = TargetInfo {
        mode,
        rt: RuntimeFns { call_conv },
        frontend: isa.frontend_config(),
        inline,
    };
    let mut fctx = FunctionBuilderContext::new();
    let mut inlined = 0;
    for &entry in entries {
        let mut func =
            ir::Function::with_name_signature(UserFuncName::user(0, index_of[&entry]), sig.clone());
        let mut refs = HashMap::new();
        let check_stub = mode.checked.then_some(check_stub);
        let calls_local = insns
            .iter()
            .any(|i| matches!(i, Insn::Call(ebee_isa::CallTarget::Local(_))));
        if calls_local {
            let sigref = func.import_signature(sig.clone());
            for &callee in entries {
                let name = func.declare_imported_user_function(UserExternalName {
                    namespace: 0,
                    index: index_of[&callee],
                });
                let r = func.import_function(ExtFuncData {
                    name: ExternalName::user(name),
                    signature: sigref,
                    colocated: true,
                    patchable: false,
                });
                refs.insert(callee, r);
            }
        }
        inlined += translate_function(
            &mut func, &mut fctx, insns, entry, &refs, check_stub, &target,
        )?;
        sink(entry, func)?;
    }
    Ok(inlined)
}

/// The IR of the slow-path stub for `isa`.
pub(crate) fn check_stub_function(isa: &dyn TargetIsa) -> ir::Function {
    let target = TargetInfo {
        mode: TranslateMode {
            checked: true,
            optimize: true,
            blind: None,
            tail_target: false,
        },
        rt: RuntimeFns {
            call_conv: isa.default_call_conv(),
        },
        frontend: isa.frontend_config(),
        inline: &InlineArrays::new(),
    };
    let mut func =
        ir::Function::with_name_signature(UserFuncName::user(0, 0), check_stub_signature());
    build_check_stub(&mut func, &mut FunctionBuilderContext::new(), &target);
    func
}

/// The native-function entry pcs of `insns` with the callbacks at
/// `callbacks`, and their name indices.
pub(crate) fn plan(
    insns: &[Insn],
    callbacks: &[usize],
) -> Result<(Vec<usize>, HashMap<usize, u32>), JitError> {
    if insns.is_empty() {
        return Err(JitError::Load(ebee_runtime::LoadError::Empty));
    }
    let entries = function_entries(insns, callbacks);
    let index_of: HashMap<usize, u32> = entries
        .iter()
        .enumerate()
        .map(|(i, &e)| (e, i as u32))
        .collect();
    Ok((entries, index_of))
}

/// Compiles every function of `insns` for `isa` and returns the machine
/// code bytes of each, without linking or running them.
pub(crate) fn compile_to_bytes(
    (insns, inline): (&[Insn], &InlineArrays),
    callbacks: &[usize],
    mode: TranslateMode,
    isa: &dyn TargetIsa,
) -> Result<Vec<Vec<u8>>, JitError> {
    let (entries, index_of) = plan(insns, callbacks)?;
    let mut out = Vec::new();
    let mut compile = |func: ir::Function| -> Result<(), JitError> {
        let mut ctx = Context::for_function(func);
        let code = ctx
            .compile(isa, &mut ControlPlane::default())
            .map_err(|e| JitError::Codegen(format!("{:?}", e.inner)))?;
        out.push(code.code_buffer().to_vec());
        Ok(())
    };
    if mode.checked {
        compile(check_stub_function(isa))?;
    }
    // The stub's address only matters for code that runs; 0 stands in.
    build_functions(
        (insns, inline),
        mode,
        isa,
        &index_of,
        &entries,
        0,
        |_, func| compile(func),
    )?;
    Ok(out)
}

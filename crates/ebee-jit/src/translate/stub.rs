//! The slow-path stub: a tiny native function with Cranelift's
//! `preserve_all` convention that forwards to the Rust access check.
//!
//! The hot code calls the stub instead of Rust directly, so the call
//! clobbers no registers and the register allocator need not spill the
//! program's registers around every checked access just because the cold
//! path contains a call. The stub saves what the Rust call clobbers; the
//! verdict comes back through `ctx.status`.

use super::{context_flags, TargetInfo};
use crate::runtime_calls::RuntimeFn;
use cranelift_codegen::ir::{self, types::I64, AbiParam, InstBuilder, Signature};
use cranelift_codegen::isa::CallConv;
use cranelift_frontend::{FunctionBuilder, FunctionBuilderContext};

/// The stub's signature: `(ctx, addr, size, pc << 1 | write)`, no result;
/// the caller's frame top is in `ctx.check_frame_top`.
pub(crate) fn check_stub_signature() -> Signature {
    let mut sig = Signature::new(CallConv::PreserveAll);
    for _ in 0..4 {
        sig.params.push(AbiParam::new(I64));
    }
    sig
}

/// Builds the stub's body into `func` (whose signature is
/// [`check_stub_signature`]).
pub(crate) fn build_check_stub(
    func: &mut ir::Function,
    fctx: &mut FunctionBuilderContext,
    target: &TargetInfo<'_>,
) {
    let mut b = FunctionBuilder::new(func, fctx);
    let block = b.create_block();
    b.append_block_params_for_function_params(block);
    b.switch_to_block(block);
    b.seal_block(block);
    let mut args = b.block_params(block).to_vec();
    let frame_top = b.ins().load(
        I64,
        context_flags(),
        args[0],
        crate::context::offsets::CHECK_FRAME_TOP,
    );
    args.push(frame_top);
    let mut sig = Signature::new(target.rt.call_conv);
    for _ in 0..5 {
        sig.params.push(AbiParam::new(I64));
    }
    sig.returns.push(AbiParam::new(I64));
    let sigref = b.import_signature(sig);
    let addr = b
        .ins()
        .iconst(I64, target.rt.address(RuntimeFn::CheckAccess) as i64);
    let call = b.ins().call_indirect(sigref, addr, &args);
    // The Rust function also sets `ctx.status` on refusal; storing its
    // verdict keeps the stub self-contained.
    let allowed = b.inst_results(call)[0];
    let denied = b.ins().icmp_imm_u(ir::condcodes::IntCC::Equal, allowed, 0);
    let status = b.ins().uextend(I64, denied);
    b.ins().store(
        context_flags(),
        status,
        args[0],
        crate::context::offsets::STATUS,
    );
    b.ins().return_(&[]);
    b.finalize(target.frontend);
}

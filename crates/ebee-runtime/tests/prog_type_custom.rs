//! Host-defined program types: only writable fields keep a program's
//! stores, the context must have the layout's size, helpers are the
//! type's.

use ebee_runtime::program_type::custom::{CustomError, CustomType};
use ebee_runtime::{HelperRegistry, Vm};
use ebee_verifier::{Access, ContextLayout, CtxField, FieldKind};

fn ty() -> CustomType {
    let f = |name, offset, write| CtxField {
        name,
        offset,
        size: 4,
        read: Access::Exact,
        write,
        kind: FieldKind::Scalar,
    };
    let mut h = HelperRegistry::new();
    h.register(0x2000, "triple", |a| Ok(a[0] * 3));
    CustomType::new(
        ContextLayout {
            name: "t",
            size: 12,
            fields: vec![f("in", 0, Access::Denied), f("out", 4, Access::Exact)],
        },
        h,
    )
}

#[test]
fn only_writable_fields_change() {
    let t = ty();
    // out = triple(in); in = 0; pad = 0xff; return out
    let prog = ebee_isa::assemble(
        "r6 = r1
         r1 = *(u32 *)(r6 + 0)
         call 8192
         *(u32 *)(r6 + 4) = r0
         *(u32 *)(r6 + 0) = 0
         *(u32 *)(r6 + 8) = 255
         exit",
    )
    .unwrap();
    let vm = t.prepare(Vm::new(prog).unwrap());
    let mut ctx = [0u8; 12];
    ctx[0] = 14;
    assert_eq!(t.run(&vm, &mut ctx).unwrap(), 42);
    assert_eq!(ctx, [14, 0, 0, 0, 42, 0, 0, 0, 0, 0, 0, 0]);
    assert!(matches!(
        t.run(&vm, &mut [0u8; 8]),
        Err(CustomError::ContextSize {
            want: 12,
            got: 8,
            ..
        })
    ));
    // Past the context: a checked-mode fault, not a write.
    let bad =
        t.prepare(Vm::new(ebee_isa::assemble("*(u32 *)(r1 + 12) = 1\nexit").unwrap()).unwrap());
    assert!(matches!(t.run(&bad, &mut ctx), Err(CustomError::Exec(_))));
}

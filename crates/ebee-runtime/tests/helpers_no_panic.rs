//! Every kernel helper of the runtime, called by an unverified program
//! with arbitrary arguments (numbers, pointers into and around its memory,
//! real and forged map handles, callback handles), in a checked run:
//! a value or an error, never a panic or a wild access.

use ebee_isa::{CallTarget, Imm64Kind, Insn, Reg};
use ebee_runtime::helpers::{standard_helpers, HelperEnv, SharedBuffer, FUNC_HANDLE_BASE};
use ebee_runtime::map::{Map, MapSpec, MapType};
use ebee_runtime::Vm;
use proptest::prelude::*;
use std::sync::Arc;

/// A map of each interesting kind in `env`; returns their handles.
fn maps(env: &HelperEnv) -> Vec<u64> {
    let specs = [
        MapSpec::new(MapType::Array, 4, 8, 4),
        MapSpec::new(MapType::Hash, 4, 8, 4),
        MapSpec::new(MapType::PercpuHash, 4, 8, 4),
        MapSpec::new(MapType::Queue, 0, 8, 4),
        MapSpec::new(MapType::Ringbuf, 0, 0, 4096),
        MapSpec::new(MapType::ProgArray, 4, 4, 4),
    ];
    specs
        .iter()
        .map(|s| env.maps().insert(&Arc::new(Map::create(s).unwrap())))
        .collect()
}

/// How an argument is made: 0 a number, 1 input + offset, 2 a map handle,
/// 3 a callback handle, 4 just outside the input.
fn arg(kind: u8, n: u64, input: u64, handles: &[u64]) -> u64 {
    match kind % 5 {
        0 => n,
        1 => input + n % 64,
        2 => handles[(n % handles.len() as u64) as usize],
        3 => FUNC_HANDLE_BASE + n % 8,
        _ => input.wrapping_sub(n % 16),
    }
}

fn program(id: i32, args: [u64; 5]) -> Vec<Insn> {
    let mut p = vec![];
    for (i, a) in args.iter().enumerate() {
        p.push(Insn::LdImm64 {
            dst: Reg::new(i as u8 + 1).unwrap(),
            kind: Imm64Kind::Imm,
            imm: *a as i64,
        });
        p.push(Insn::LdImm64Tail);
    }
    p.push(Insn::Call(CallTarget::Helper(id)));
    p.push(Insn::Exit);
    p
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(3000))]
    #[test]
    fn helpers_never_panic(
        which in 0usize..64,
        kinds in prop::array::uniform5(0u8..5),
        nums in prop::array::uniform5(prop_oneof![0u64..80, any::<u64>()]),
    ) {
        let env = Arc::new(HelperEnv::new());
        env.trace().set(Box::new(SharedBuffer::default()));
        let handles = maps(&env);
        let reg = standard_helpers(&env);
        let ids = reg.ids();
        let id = ids[which % ids.len()];
        let mut input = vec![0u8; 64];
        let base = input.as_ptr() as u64;
        let mut a = [0u64; 5];
        for i in 0..5 {
            a[i] = arg(kinds[i], nums[i], base, &handles);
        }
        let mut vm = Vm::new(program(id, a)).unwrap();
        vm.set_helpers(reg);
        vm.set_budget(100_000);
        let _ = vm.run(&mut input);
    }
}

/// `bpf_probe_write_user` writes the host's memory of the run (here its
/// input) and refuses the program's own stack and addresses outside the
/// run with `-EFAULT`, writing nothing.
#[test]
fn probe_write_user_writes_only_host_memory() {
    let env = Arc::new(HelperEnv::new());
    let text = "
        r6 = r1
        r1 = 0x1122334455667788 ll
        *(u64 *)(r10 - 8) = r1
        r1 = r6
        r2 = r10
        r2 += -8
        r3 = 8
        call 36
        r7 = r0
        r1 = r10
        r1 += -16
        r2 = r10
        r2 += -8
        r3 = 8
        call 36
        r8 = r0
        r1 = 4096
        r2 = r10
        r2 += -8
        r3 = 8
        call 36
        if r8 != -14 goto bad
        if r0 != -14 goto bad
        r0 = r7
        exit
    bad:
        r0 = 99
        exit";
    let mut vm = Vm::new(ebee_isa::assemble(text).unwrap()).unwrap();
    vm.set_helpers(standard_helpers(&env));
    let mut input = vec![0u8; 16];
    let r0 = vm.run(&mut input).unwrap();
    assert_eq!(
        r0, 0,
        "stack and wild writes fail, the input write succeeds"
    );
    assert_eq!(&input[..8], &0x1122334455667788u64.to_le_bytes());
    assert_eq!(&input[8..], &[0; 8]);
}

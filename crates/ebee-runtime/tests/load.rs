//! What `Vm::new` and `Vm::from_bytes` reject, with the pc named.

mod common;
use common::*;
use ebee_isa::{CallTarget, Imm64Kind, Insn};
use ebee_runtime::{LoadError, Vm};

#[test]
fn empty_programs_are_rejected() {
    assert_eq!(Vm::new(vec![]).unwrap_err(), LoadError::Empty);
    assert!(Vm::from_bytes(&[]).is_err());
}

#[test]
fn malformed_bytes_are_decode_errors() {
    // Unknown opcode 0xff.
    let err = Vm::from_bytes(&[0xff, 0, 0, 0, 0, 0, 0, 0]).unwrap_err();
    assert!(matches!(err, LoadError::Decode(_)), "{err}");
    // 12 bytes is not a whole number of instructions.
    assert!(Vm::from_bytes(&[0x95, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]).is_err());
}

#[test]
fn jumps_must_land_on_instructions() {
    assert_eq!(
        Vm::new(vec![mov(0, 0), ja(5), exit()]).unwrap_err(),
        LoadError::JumpOutOfRange { pc: 1, target: 7 }
    );
    assert_eq!(
        Vm::new(vec![ja(-2), exit()]).unwrap_err(),
        LoadError::JumpOutOfRange { pc: 0, target: -1 }
    );
    assert_eq!(
        Vm::new(vec![call_local(1), exit()]).unwrap_err(),
        LoadError::JumpOutOfRange { pc: 0, target: 2 }
    );
    assert_eq!(
        Vm::new(prog(&[&[ja(1)], &lddw(0, 1), &[exit()]])).unwrap_err(),
        LoadError::JumpIntoImm64 { pc: 0, target: 2 }
    );
}

#[test]
fn lddw_pairs_must_be_whole() {
    let [first, tail] = lddw(0, 1);
    assert_eq!(
        Vm::new(vec![first, exit()]).unwrap_err(),
        LoadError::MalformedImm64 { pc: 0 }
    );
    assert_eq!(
        Vm::new(vec![mov(0, 0), tail, exit()]).unwrap_err(),
        LoadError::MalformedImm64 { pc: 1 }
    );
}

#[test]
fn relocations_and_kfuncs_are_unsupported() {
    let map = vec![
        Insn::LdImm64 {
            dst: reg(1),
            kind: Imm64Kind::MapFd,
            imm: 3,
        },
        Insn::LdImm64Tail,
        exit(),
    ];
    assert!(matches!(
        Vm::new(map).unwrap_err(),
        LoadError::Unsupported { pc: 0, .. }
    ));
    let kfunc = vec![
        mov(0, 0),
        Insn::Call(CallTarget::Kfunc {
            btf_id: 1,
            module: 0,
        }),
        exit(),
    ];
    assert!(matches!(
        Vm::new(kfunc).unwrap_err(),
        LoadError::Unsupported { pc: 1, .. }
    ));
}

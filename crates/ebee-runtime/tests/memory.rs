//! Loads, stores, atomics, legacy packet loads, and the region checks of
//! checked mode.

mod common;
use common::*;
use ebee_isa::{AluOp, AtomicOp, Insn, Size};
use ebee_runtime::{ExecError, Invocation, Region, Vm};
use std::sync::Arc;

fn vm(insns: Vec<Insn>) -> Vm {
    Vm::new(insns).expect("load")
}

#[test]
fn loads_zero_or_sign_extend() {
    let mem = [0x80, 0x81, 0x82, 0x83, 0x84, 0x85, 0x86, 0x87];
    let one = |insn: Insn| run_both(&vm(vec![insn, exit()]), &mem).unwrap();
    assert_eq!(one(load(Size::B, 0, 1, 0)), 0x80);
    assert_eq!(one(load(Size::H, 0, 1, 0)), 0x8180);
    assert_eq!(one(load(Size::W, 0, 1, 0)), 0x8382_8180);
    assert_eq!(one(load(Size::DW, 0, 1, 0)), 0x8786_8584_8382_8180);
    assert_eq!(one(loadsx(Size::B, 0, 1, 1)), 0xffff_ffff_ffff_ff81);
    assert_eq!(one(loadsx(Size::H, 0, 1, 2)), 0xffff_ffff_ffff_8382);
    assert_eq!(one(loadsx(Size::W, 0, 1, 4)), 0xffff_ffff_8786_8584);
    // Unaligned accesses are fine.
    assert_eq!(one(load(Size::W, 0, 1, 1)), 0x8483_8281);
}

#[test]
fn stores_of_registers_and_immediates() {
    let program = vm(prog(&[
        &lddw(2, 0x1122_3344_5566_7788),
        &[
            store(Size::DW, 1, 0, 2),
            store(Size::B, 1, 8, 2),
            store_imm(Size::H, 1, 9, -2),
            store_imm(Size::DW, 1, 16, -1),
            store(Size::W, 10, -8, 2),
            load(Size::W, 0, 10, -8),
            exit(),
        ],
    ]));
    let mut mem = [0u8; 24];
    assert_eq!(program.run(&mut mem).unwrap(), 0x5566_7788);
    assert_eq!(&mem[0..8], &0x1122_3344_5566_7788u64.to_le_bytes());
    assert_eq!(&mem[8..11], &[0x88, 0xfe, 0xff]);
    assert_eq!(&mem[16..24], &[0xff; 8]);
    assert_eq!(run_both(&program, &[0u8; 24]).unwrap(), 0x5566_7788);
}

#[test]
fn out_of_bounds_load_names_pc_address_and_region() {
    let program = vm(vec![mov(0, 0), load(Size::DW, 0, 1, 4), exit()]);
    let mut mem = [0u8; 8];
    let base = mem.as_ptr() as u64;
    match program.run(&mut mem) {
        Err(ExecError::OutOfBounds {
            pc,
            insn,
            addr,
            size,
            write,
            region,
        }) => {
            assert_eq!(pc, 1);
            assert_eq!(addr, base + 4);
            assert_eq!(size, 8);
            assert!(!write);
            assert_eq!(insn, "r0 = *(u64 *)(r1 + 0x4)");
            assert!(region.contains("input"), "{region}");
        }
        other => panic!("expected out of bounds, got {other:?}"),
    }
    // The message is one line naming all of it.
    let msg = program.run(&mut mem).unwrap_err().to_string();
    assert!(msg.starts_with("instruction 1 ("), "{msg}");
    assert!(msg.contains("read of 8 bytes"), "{msg}");
}

#[test]
fn stack_bounds_are_enforced() {
    // r10 is one past the frame: storing at r10+0 misses the stack.
    let above = vm(vec![store_imm(Size::B, 10, 0, 1), mov(0, 0), exit()]);
    match above.run(&mut []) {
        Err(ExecError::OutOfBounds {
            pc: 0,
            write: true,
            region,
            ..
        }) => {
            assert!(region.contains("stack"), "{region}")
        }
        other => panic!("{other:?}"),
    }
    // The bottom byte of the 512-byte frame is fine, one below is not.
    let bottom = vm(vec![
        store_imm(Size::B, 10, -512, 1),
        load(Size::B, 0, 10, -512),
        exit(),
    ]);
    assert_eq!(run_both(&bottom, &[]).unwrap(), 1);
    let below = vm(vec![store_imm(Size::B, 10, -513, 1), mov(0, 0), exit()]);
    assert!(matches!(
        below.run(&mut []),
        Err(ExecError::OutOfBounds { pc: 0, .. })
    ));
}

#[test]
fn null_and_wild_pointers_fail_cleanly() {
    for addr in [0u64, 1, u64::MAX, u64::MAX - 3, 0x8000_0000_0000_0000] {
        let program = vm(prog(&[&lddw(1, addr), &[load(Size::DW, 0, 1, 0), exit()]]));
        let err = program.run(&mut [0u8; 16]).unwrap_err();
        assert!(matches!(err, ExecError::OutOfBounds { pc: 2, .. }), "{err}");
        let program = vm(prog(&[
            &lddw(1, addr),
            &[store_imm(Size::W, 1, -1, 0), exit()],
        ]));
        assert!(program.run(&mut [0u8; 16]).is_err());
    }
}

#[test]
fn read_only_regions_reject_writes() {
    let data = Box::new([7u8; 16]);
    let start = data.as_ptr() as u64;
    let mut inv = Invocation::new([start, 0, 0, 0, 0]);
    // SAFETY: `data` outlives the runs and is not accessed during them.
    unsafe { inv.add_region(Region::new(start, 16, false, "constants")) };
    let read = vm(vec![load(Size::B, 0, 1, 15), exit()]);
    assert_eq!(read.run_with(&inv).unwrap(), 7);
    let write = vm(vec![store_imm(Size::B, 1, 0, 1), mov(0, 0), exit()]);
    match write.run_with(&inv) {
        Err(ExecError::OutOfBounds {
            region,
            write: true,
            ..
        }) => {
            assert!(
                region.contains("read-only") && region.contains("constants"),
                "{region}"
            )
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(data[0], 7);
}

#[test]
fn atomics_read_modify_write_at_both_widths() {
    use AtomicOp::*;
    // mem: u64 at 0, u32 at 8.
    let program = vm(prog(&[
        &lddw(2, 0x1_0000_0001),
        &[
            atomic(Size::DW, Add { fetch: false }, 1, 2, 0), // [0] = 0x1_0000_0001 + 5
            mov(3, 3),
            atomic(Size::DW, Or { fetch: true }, 1, 3, 0), // r3 = old, [0] |= 3
            mov(4, 1),
            atomic(Size::W, Add { fetch: true }, 1, 4, 8), // r4 = old (zero-extended)
            mov(5, -1),
            atomic(Size::W, Xchg, 1, 5, 8), // r5 = old, [8] = 0xffffffff
            movr(0, 3),
            alu64(AluOp::Add, 0, r(4)),
            alu64(AluOp::Add, 0, r(5)),
            exit(),
        ],
    ]));
    let mut mem = [0u8; 16];
    mem[0] = 5;
    mem[8..12].copy_from_slice(&0xffff_fff0u32.to_le_bytes());
    let expect_r0 = 0x1_0000_0006u64 + 0xffff_fff0 + 0xffff_fff1;
    let mut m = mem;
    assert_eq!(program.run(&mut m).unwrap(), expect_r0);
    assert_eq!(
        u64::from_le_bytes(m[0..8].try_into().unwrap()),
        0x1_0000_0007
    );
    assert_eq!(
        u32::from_le_bytes(m[8..12].try_into().unwrap()),
        0xffff_ffff
    );
    assert_eq!(run_both(&program, &mem).unwrap(), expect_r0);
}

#[test]
fn and_xor_with_and_without_fetch() {
    use AtomicOp::*;
    for (op, want_mem) in [
        (And { fetch: true }, 0b1000u64),
        (Xor { fetch: true }, 0b0110),
    ] {
        for size in [Size::W, Size::DW] {
            let program = vm(vec![
                mov(2, 0b1010),
                atomic(size, op, 1, 2, 0),
                movr(0, 2),
                exit(),
            ]);
            let mut mem = 0b1100u64.to_le_bytes();
            assert_eq!(program.run(&mut mem).unwrap(), 0b1100, "{op:?} {size:?}");
            assert_eq!(u64::from_le_bytes(mem), want_mem);
        }
    }
    let no_fetch = vm(vec![
        mov(2, 0b1010),
        atomic(Size::DW, And { fetch: false }, 1, 2, 0),
        movr(0, 2),
        exit(),
    ]);
    assert_eq!(no_fetch.run(&mut 0b1100u64.to_le_bytes()).unwrap(), 0b1010);
}

#[test]
fn cmpxchg_always_loads_the_old_value_into_r0() {
    // 64-bit, success: [0] == r0 -> replaced.
    let program = vm(vec![
        mov(0, 5),
        mov(2, 9),
        atomic(Size::DW, AtomicOp::CmpXchg, 1, 2, 0),
        exit(),
    ]);
    let mut mem = 5u64.to_le_bytes();
    assert_eq!(program.run(&mut mem).unwrap(), 5);
    assert_eq!(u64::from_le_bytes(mem), 9);
    // Failure: memory unchanged, r0 = old.
    let mut mem = 7u64.to_le_bytes();
    assert_eq!(program.run(&mut mem).unwrap(), 7);
    assert_eq!(u64::from_le_bytes(mem), 7);
    // 32-bit compares the low half of r0 and zero-extends the old value.
    let w = vm(prog(&[
        &lddw(0, 0xabcd_0000_ffff_fffe),
        &[
            mov(2, 1),
            atomic(Size::W, AtomicOp::CmpXchg, 1, 2, 0),
            exit(),
        ],
    ]));
    let mut mem = 0xffff_fffeu32.to_le_bytes();
    assert_eq!(w.run(&mut mem).unwrap(), 0xffff_fffe);
    assert_eq!(u32::from_le_bytes(mem), 1);
}

#[test]
fn load_acquire_and_store_release_at_every_size() {
    for size in [Size::B, Size::H, Size::W, Size::DW] {
        let program = vm(prog(&[
            &lddw(2, 0x8182_8384_8586_8788),
            &[
                atomic(size, AtomicOp::StoreRelease, 1, 2, 8),
                // load-acquire: dst = r0, base = src r1.
                atomic(size, AtomicOp::LoadAcquire, 0, 1, 8),
                exit(),
            ],
        ]));
        let mut mem = [0u8; 16];
        let bytes = size.bytes() as usize;
        let mask = if bytes == 8 {
            u64::MAX
        } else {
            (1u64 << (8 * bytes)) - 1
        };
        assert_eq!(
            program.run(&mut mem).unwrap(),
            0x8182_8384_8586_8788 & mask,
            "{size:?}"
        );
        assert_eq!(
            &mem[8..8 + bytes],
            &0x8182_8384_8586_8788u64.to_le_bytes()[..bytes]
        );
        assert!(mem[8 + bytes..].iter().all(|b| *b == 0));
    }
}

#[test]
fn misaligned_atomics_are_errors_in_both_modes() {
    let program = vm(vec![
        mov(2, 1),
        alu64(AluOp::Add, 10, imm(0)),
        atomic(Size::DW, AtomicOp::Add { fetch: false }, 10, 2, -12),
        exit(),
    ]);
    let err = program.run(&mut []).unwrap_err();
    assert!(
        matches!(err, ExecError::MisalignedAtomic { pc: 2, size: 8, .. }),
        "{err}"
    );
    // SAFETY: the access is on the stack (in bounds), only misaligned.
    let err = unsafe { program.run_unchecked(&mut []) }.unwrap_err();
    assert!(
        matches!(err, ExecError::MisalignedAtomic { pc: 2, .. }),
        "{err}"
    );
}

#[test]
fn atomics_are_atomic_across_threads() {
    // Four threads each add 1 to one shared counter 10 000 times.
    let counter = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let program = Arc::new(vm(vec![
        mov(2, 1),
        mov(3, 10_000),
        atomic(Size::DW, AtomicOp::Add { fetch: false }, 1, 2, 0),
        alu64(AluOp::Sub, 3, imm(1)),
        jmp(ebee_isa::JmpCond::Ne, 3, imm(0), -3),
        mov(0, 0),
        exit(),
    ]));
    let threads: Vec<_> = (0..4)
        .map(|_| {
            let program = program.clone();
            let counter = counter.clone();
            std::thread::spawn(move || {
                let addr = counter.as_ptr() as u64;
                let mut inv = Invocation::new([addr, 0, 0, 0, 0]);
                // SAFETY: the counter outlives the run (the Arc is held) and
                // is only accessed atomically meanwhile.
                unsafe { inv.add_region(Region::new(addr, 8, true, "counter")) };
                program.run_with(&inv).unwrap()
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    assert_eq!(counter.load(std::sync::atomic::Ordering::SeqCst), 40_000);
}

fn ld_packet(size: Size, index: Option<u8>, imm: i32) -> Insn {
    Insn::LdPacket {
        size,
        index: index.map(reg),
        imm,
    }
}

#[test]
fn legacy_packet_loads_are_big_endian() {
    let mem = [0x11, 0x22, 0x33, 0x44, 0x55, 0x66];
    let one = |insn: Insn| run_both(&vm(vec![mov(0, 9), insn, exit()]), &mem).unwrap();
    assert_eq!(one(ld_packet(Size::B, None, 5)), 0x66);
    assert_eq!(one(ld_packet(Size::H, None, 1)), 0x2233);
    assert_eq!(one(ld_packet(Size::W, None, 2)), 0x3344_5566);
    // ldind adds the index register.
    let ind = vm(vec![mov(3, 2), ld_packet(Size::H, Some(3), 2), exit()]);
    assert_eq!(run_both(&ind, &mem).unwrap(), 0x5566);
}

#[test]
fn legacy_packet_load_out_of_bounds_ends_the_run_with_zero() {
    let mem = [1u8; 6];
    for (index, imm) in [(0, 3), (0, 6), (0, -1), (-8, 4), (i32::MAX, 1)] {
        let program = vm(vec![
            mov(3, index),
            ld_packet(Size::W, Some(3), imm),
            mov(0, 42),
            exit(),
        ]);
        assert_eq!(
            run_both(&program, &mem).unwrap(),
            0,
            "index {index} imm {imm}"
        );
    }
    // Without a packet, an error.
    let program = vm(vec![ld_packet(Size::B, None, 0), exit()]);
    let inv = Invocation::new([0; 5]);
    assert_eq!(program.run_with(&inv), Err(ExecError::NoPacket { pc: 0 }));
}

#[test]
fn helpers_can_add_regions() {
    // Helper 1 returns the address of a 16-byte buffer after adding it as
    // a region (what map_lookup_elem will do with a map value).
    static TABLE: [u8; 16] = [3; 16];
    let program_insns = vec![call_helper(1), load(Size::B, 0, 0, 15), exit()];
    let mut with_region = vm(program_insns.clone());
    with_region
        .helpers_mut()
        .register_with_context(1, "lookup", |ctx, _| {
            let addr = TABLE.as_ptr() as u64;
            // SAFETY: a static lives for every run; the program only reads it
            // (the region is read-only).
            unsafe { ctx.add_region(Region::new(addr, 16, false, "table")) };
            Ok(addr)
        });
    assert_eq!(with_region.run(&mut []).unwrap(), 3);
    let mut without = vm(program_insns);
    without
        .helpers_mut()
        .register(1, "lookup", |_| Ok(TABLE.as_ptr() as u64));
    assert!(matches!(
        without.run(&mut []),
        Err(ExecError::OutOfBounds { pc: 1, .. })
    ));
}

#[test]
fn helpers_check_pointer_arguments() {
    // Helper 2: memset(r1, r3 as u8, r2), checked.
    let mut program = vm(vec![mov(3, 0xab), call_helper(2), exit()]);
    program
        .helpers_mut()
        .register_with_context(2, "fill", |ctx, a| {
            ctx.write(a[0], &vec![a[2] as u8; a[1] as usize])?;
            Ok(0)
        });
    let mut mem = [0u8; 4];
    assert_eq!(program.run(&mut mem).unwrap(), 0);
    assert_eq!(mem, [0xab; 4]);
    // r2 too large: the helper refuses, the run fails at the call.
    let mut grow = vm(vec![
        mov(3, 1),
        alu64(AluOp::Add, 2, imm(1)),
        call_helper(2),
        exit(),
    ]);
    grow.set_helpers(program.helpers().clone());
    match grow.run(&mut mem) {
        Err(ExecError::HelperFailed {
            pc: 2,
            id: 2,
            name,
            message,
        }) => {
            assert_eq!(name, "fill");
            assert!(message.contains("input"), "{message}");
        }
        other => panic!("{other:?}"),
    }
}

//! The ring buffer's record layout, against the kernel's: a program in the
//! kernel writes records with `bpf_ringbuf_output`, we read the kernel's
//! buffer through mmap as libbpf does, and compare headers and samples
//! with what our producer writes and our consumer reads.

use std::os::fd::AsRawFd;

use ebee_kernel::{KernelMap, KernelProgram, LoadOptions, ProgramType, TestRun};
use ebee_runtime::map::ringbuf::{BUSY_BIT, DISCARD_BIT, HEADER_SIZE};
use ebee_runtime::map::{Map, MapSpec, MapType};

const SIZE: u32 = 4096;

/// An XDP program calling `bpf_ringbuf_output(map, &u64_on_stack, len, 0)`
/// once per length in `lens`.
fn output_program(map_fd: i32, lens: &[u8]) -> Vec<ebee_isa::Insn> {
    let mut b: Vec<u8> = vec![];
    let mut insn = |op: u8, regs: u8, off: i16, imm: i32| {
        b.push(op);
        b.push(regs);
        b.extend_from_slice(&off.to_le_bytes());
        b.extend_from_slice(&imm.to_le_bytes());
    };
    // r2 = 0x1122334455667788 (lddw); *(u64 *)(r10 - 8) = r2
    insn(0x18, 0x02, 0, 0x5566_7788);
    insn(0x00, 0x00, 0, 0x1122_3344);
    insn(0x7b, 0x2a, -8, 0);
    for &len in lens {
        insn(0x18, 0x11, 0, map_fd); // r1 = map (pseudo map fd)
        insn(0x00, 0x00, 0, 0);
        insn(0xbf, 0xa2, 0, 0); // r2 = r10
        insn(0x07, 0x02, 0, -8); // r2 += -8
        insn(0xb7, 0x03, 0, i32::from(len)); // r3 = len
        insn(0xb7, 0x04, 0, 0); // r4 = 0
        insn(0x85, 0x00, 0, 130); // call bpf_ringbuf_output
    }
    insn(0xb7, 0x00, 0, 2); // r0 = XDP_PASS
    insn(0x95, 0x00, 0, 0);
    ebee_isa::decode(&b).unwrap()
}

/// The kernel ring buffer's data area as user space maps it: the
/// producer page, then the data pages (mapped twice).
fn kernel_data(map: &KernelMap) -> Vec<u8> {
    // SAFETY: sysconf has no memory effects.
    let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) } as usize;
    let len = page + 2 * SIZE as usize;
    // SAFETY: a fresh read-only shared mapping of the ring buffer's
    // producer page and data, at the offset the kernel defines (one page);
    // checked for MAP_FAILED, read within `len`, then unmapped.
    unsafe {
        let p = libc::mmap(
            std::ptr::null_mut(),
            len,
            libc::PROT_READ,
            libc::MAP_SHARED,
            map.as_raw_fd(),
            page as libc::off_t,
        );
        assert_ne!(p, libc::MAP_FAILED, "{}", std::io::Error::last_os_error());
        let data = std::slice::from_raw_parts(p.cast::<u8>().add(page), SIZE as usize).to_vec();
        libc::munmap(p, len);
        data
    }
}

fn header(data: &[u8], off: usize) -> (u32, u32) {
    let w = |o: usize| u32::from_ne_bytes(data[o..o + 4].try_into().unwrap());
    (w(off), w(off + 4))
}

#[test]
fn record_layout_matches_the_kernel() {
    if let Err(reason) = ebee_kernel::probe() {
        println!("skipped: {reason}");
        return;
    }
    let lens = [8u8, 5, 1, 8];
    let kmap = KernelMap::create(&ebee_kernel::MapSpec::new(MapType::Ringbuf, 0, 0, SIZE))
        .unwrap_or_else(|e| panic!("{e}"));
    let prog = KernelProgram::load(
        ProgramType::Xdp,
        &output_program(kmap.as_raw_fd(), &lens),
        "GPL",
        &LoadOptions::default(),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(prog.test_run(&TestRun::new(&[0u8; 64])).unwrap().retval, 2);
    let kdata = kernel_data(&kmap);

    let ours = Map::create(&MapSpec::new(MapType::Ringbuf, 0, 0, SIZE)).unwrap();
    let rb = ours.ringbuf().unwrap();
    let sample = 0x1122_3344_5566_7788u64.to_ne_bytes();
    for &len in &lens {
        rb.output(&sample[..len as usize], 0).unwrap();
    }
    let mut off = 0;
    let mut compared = 0;
    for &len in &lens {
        let k = header(&kdata, off);
        assert_eq!(rb.header_at(off as u64), Some(k), "header at {off}");
        assert_eq!(k.0, u32::from(len), "no BUSY/DISCARD bit after output");
        let body = &kdata[off + HEADER_SIZE..off + HEADER_SIZE + len as usize];
        assert_eq!(body, &sample[..len as usize]);
        off += (len as usize + HEADER_SIZE).div_ceil(8) * 8;
        compared += 1;
    }
    let mut got = vec![];
    assert_eq!(rb.consume(|s| got.push(s.to_vec())), lens.len());
    let want: Vec<Vec<u8>> = lens
        .iter()
        .map(|&l| sample[..l as usize].to_vec())
        .collect();
    assert_eq!(got, want);
    println!("ringbuf: {compared} record headers equal to the kernel's");
}

#[test]
fn reserve_submit_discard_and_wrap() {
    let m = Map::create(&MapSpec::new(MapType::Ringbuf, 0, 0, SIZE)).unwrap();
    let rb = m.ringbuf().unwrap();
    assert_eq!(rb.query(1), u64::from(SIZE));
    let a = rb.reserve(10, 0).unwrap();
    let b = rb.reserve(3, 0).unwrap();
    assert_eq!(rb.header_at(0).unwrap().0, 10 | BUSY_BIT);
    // SAFETY: `reserve` gave 10 and 3 writable bytes.
    unsafe {
        std::ptr::write_bytes(a.ptr, 0xaa, 10);
        std::ptr::write_bytes(b.ptr, 0xbb, 3);
    }
    // A busy record stops the consumer.
    rb.discard(b.ptr, 0).unwrap();
    assert_eq!(rb.consume(|_| panic!("busy record consumed")), 0);
    rb.submit(a.ptr, 0).unwrap();
    assert_eq!(rb.header_at(24).unwrap().0, 3 | DISCARD_BIT);
    // Committing twice, or a pointer that is not a sample, is refused.
    assert!(rb.submit(a.ptr, 0).is_err());
    assert!(rb.submit(a.ptr.wrapping_add(1), 0).is_err());
    let mut got = vec![];
    assert_eq!(rb.consume(|s| got.push(s.to_vec())), 1);
    assert_eq!(got, vec![vec![0xaa; 10]]);
    assert_eq!(rb.query(0), 0);
    // Too big for the space left, flags, then many records across the end.
    assert!(rb.reserve(u64::from(SIZE), 0).is_none());
    assert!(rb.reserve(8, 1).is_none());
    assert_eq!(rb.output(&[1], 4).unwrap_err().errno(), Some(22));
    let mut n = 0u32;
    for round in 0..50u32 {
        let data: Vec<u8> = (0..(round * 37 % 300) as u8).collect();
        rb.output(&data, 0).unwrap();
        let mut seen = vec![];
        rb.consume(|s| seen.push(s.to_vec()));
        assert_eq!(seen, vec![data]);
        n += 1;
    }
    assert!(rb.query(3) > u64::from(SIZE), "the positions went around");
    assert_eq!(n, 50);
    // Full: output fails with EAGAIN.
    while rb.output(&[0u8; 100], 0).is_ok() {}
    assert_eq!(rb.output(&[0u8; 100], 0).unwrap_err().errno(), Some(11));
}

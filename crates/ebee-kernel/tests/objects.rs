//! Whole clang-built objects in the kernel through [`LoadedObject`]: maps
//! created from the object (BTF maps, globals, prog arrays), programs
//! loaded and run with `BPF_PROG_TEST_RUN`, and what the C code implies
//! read back from the maps.
//!
//! Each test first asks [`ebee_kernel::probe`] and prints
//! `skipped: <reason>` when this kernel has no usable bpf(2).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};

use ebee_kernel::{
    possible_cpus, KernelBtf, LoadedObject, ObjectLoadError, ObjectLoadOptions, RingBufReader,
    TestRun, BPF_ANY, BPF_F_LOCK,
};
use ebee_object::Object;

macro_rules! require_bpf {
    () => {
        if let Err(reason) = ebee_kernel::probe() {
            println!("skipped: {reason}");
            return;
        }
    };
}

/// Where compiled objects go: cargo's scratch directory for integration
/// tests (inside the target directory), one subdirectory per test process.
fn work_dir() -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("objects-{}", std::process::id()))
}

/// Compiles `tests/c/<name>.c` with clang-19 for BPF and parses it.
fn compile(name: &str) -> Object {
    compile_with(name, &[])
}

/// [`compile`] with extra clang arguments (`-DNAME`).
fn compile_with(name: &str, defines: &[&str]) -> Object {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("tests/c/{name}.c"));
    let dir = work_dir();
    std::fs::create_dir_all(&dir).unwrap();
    // One file per compilation: tests compiling the same source run in parallel.
    static SEQ: AtomicUsize = AtomicUsize::new(0);
    let seq = SEQ.fetch_add(1, Ordering::Relaxed);
    let out: PathBuf = dir.join(format!("{name}-{seq}.o"));
    let status = Command::new("clang-19")
        .args(["-O2", "-g", "-target", "bpf", "-mcpu=v3"])
        .arg("-I/usr/include/x86_64-linux-gnu")
        .args(defines)
        .arg("-c")
        .arg(&src)
        .arg("-o")
        .arg(&out)
        .output()
        .unwrap_or_else(|e| panic!("running clang-19 (apt-get install clang-19): {e}"));
    assert!(
        status.status.success(),
        "clang-19 failed on {name}.c:\n{}",
        String::from_utf8_lossy(&status.stderr)
    );
    let bytes = std::fs::read(&out).unwrap();
    Object::parse(&bytes).unwrap_or_else(|e| panic!("{name}.o: {e}"))
}

fn load(obj: &Object) -> LoadedObject {
    LoadedObject::load(obj, &ObjectLoadOptions::default()).unwrap_or_else(|e| panic!("{e}"))
}

fn u64_at(bytes: &[u8], off: usize) -> u64 {
    u64::from_ne_bytes(bytes[off..off + 8].try_into().unwrap())
}

/// An Ethernet + IPv4 header (TTL 64) and some payload.
fn ipv4_packet() -> Vec<u8> {
    let mut p = vec![0u8; 64];
    p[0..6].copy_from_slice(&[0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0x01]);
    p[6..12].copy_from_slice(&[0xbb, 0xbb, 0xbb, 0xbb, 0xbb, 0x02]);
    p[12..14].copy_from_slice(&[0x08, 0x00]);
    p[14] = 0x45;
    p[22] = 64;
    p
}

#[test]
fn btf_maps_globals_and_bpf_loop() {
    require_bpf!();
    let obj = compile("globals_loop");
    let loaded = load(&obj);
    assert!(loaded.btf().is_some(), "{:?}", loaded.btf_error());
    let prog = loaded.program("globals_and_loop").unwrap();
    for _ in 0..3 {
        let out = prog.test_run(&TestRun::new(&ipv4_packet())).unwrap();
        assert_eq!(out.retval, 2, "XDP_PASS");
    }
    let zero = 0u32.to_ne_bytes();
    // .data started at 100 and each run added one.
    let data = loaded.map(".data").unwrap().lookup(&zero).unwrap().unwrap();
    assert_eq!(u64_at(&data, 0), 103);
    // .bss: the bpf_loop sum with the .rodata multiplier 3.
    let bss = loaded.map(".bss").unwrap().lookup(&zero).unwrap().unwrap();
    assert_eq!(u64_at(&bss, 0), 135);
    // The BTF hash map: created on the first run, incremented after.
    let counts = loaded.map("counts").unwrap();
    let c = counts.lookup(&7u32.to_ne_bytes()).unwrap().unwrap();
    assert_eq!(u64_at(&c, 0), 3);
    assert_eq!(counts.keys().count(), 1);
    let r = loaded
        .map("results")
        .unwrap()
        .lookup(&zero)
        .unwrap()
        .unwrap();
    assert_eq!(u64_at(&r, 0), 135 + 103);
    // .rodata holds its initial value and is frozen for user space.
    let rodata = loaded.map(".rodata").unwrap();
    assert_eq!(u64_at(&rodata.lookup(&zero).unwrap().unwrap(), 0), 3);
    let e = rodata.update(&zero, &[0u8; 8], BPF_ANY).unwrap_err();
    assert_eq!(e.errno(), Some(libc::EPERM), "{e}");
    // The maps were created with the object's BTF: the kernel checked the
    // key/value types against the sizes (globals: the DATASEC as value).
    let (counts_def, data_def) = (obj.map("counts").unwrap().1, obj.map(".data").unwrap().1);
    let info = counts.info().unwrap();
    assert_ne!(info.btf_id, 0);
    assert_eq!(Some(info.btf_key_type_id), counts_def.btf_key_type_id);
    assert_eq!(Some(info.btf_value_type_id), counts_def.btf_value_type_id);
    assert_eq!(info.name, "counts");
    let info = loaded.map(".data").unwrap().info().unwrap();
    assert_eq!(info.btf_id, counts.info().unwrap().btf_id);
    assert_eq!(Some(info.btf_value_type_id), data_def.btf_value_type_id);
    assert_eq!(info.flags & (1 << 10), 1 << 10, "BPF_F_MMAPABLE");
    let rodata_flags = rodata.info().unwrap().flags;
    assert_eq!(rodata_flags & (1 << 7), 1 << 7, "BPF_F_RDONLY_PROG");
}

#[test]
fn tail_call_through_object_prog_array() {
    require_bpf!();
    let obj = compile("tail_call");
    let loaded = load(&obj);
    let pkt = ipv4_packet();
    // Slot 2 was filled with `target` from the object's `.values`.
    let out = loaded
        .program("jump_to_2")
        .unwrap()
        .test_run(&TestRun::new(&pkt))
        .unwrap();
    assert_eq!(out.retval, 3, "XDP_TX from the tail-called program");
    // Slot 1 is empty: the tail call falls through.
    let out = loaded
        .program("jump_to_1")
        .unwrap()
        .test_run(&TestRun::new(&pkt).repeat(5))
        .unwrap();
    assert_eq!(out.retval, 1, "XDP_DROP after a failed tail call");
    let bss = loaded.map(".bss").unwrap();
    let hits = bss.lookup(&0u32.to_ne_bytes()).unwrap().unwrap();
    assert_eq!(u64_at(&hits, 0), 1);
    // The slot holds a program: user space reads its id back.
    let table = loaded.map("jump_table").unwrap();
    let slot = table.lookup(&2u32.to_ne_bytes()).unwrap().unwrap();
    let id = u32::from_ne_bytes(slot[..4].try_into().unwrap());
    assert_eq!(id, loaded.program("target").unwrap().id());
    assert!(table.lookup(&1u32.to_ne_bytes()).unwrap().is_none());
}

#[test]
fn xdp_rewrites_the_packet() {
    require_bpf!();
    let obj = compile("xdp_rewrite");
    let loaded = load(&obj);
    let prog = loaded.program("bounce").unwrap();
    let pkt = ipv4_packet();
    let out = prog.test_run(&TestRun::new(&pkt)).unwrap();
    assert_eq!(out.retval, 3, "XDP_TX");
    assert_eq!(out.data.len(), pkt.len());
    assert_eq!(out.data[0..6], pkt[6..12]);
    assert_eq!(out.data[6..12], pkt[0..6]);
    assert_eq!(out.data[22], 63, "TTL decremented");
    assert_eq!(out.data[23..], pkt[23..]);
    // Not IPv4: passed unchanged.
    let mut arp = pkt.clone();
    arp[12..14].copy_from_slice(&[0x08, 0x06]);
    let out = prog.test_run(&TestRun::new(&arp)).unwrap();
    assert_eq!((out.retval, &out.data), (2, &arp));
    // A runt packet: aborted.
    let out = prog.test_run(&TestRun::new(&pkt[..20])).unwrap();
    assert_eq!(out.retval, 0, "XDP_ABORTED");
    // The per-CPU counter: the two full-size runs counted 64 bytes each,
    // on whichever CPUs they ran.
    let per_cpu = loaded
        .map("bytes_seen")
        .unwrap()
        .lookup_percpu(&0u32.to_ne_bytes())
        .unwrap()
        .unwrap();
    assert_eq!(per_cpu.len(), possible_cpus().unwrap());
    let total: u64 = per_cpu.iter().map(|v| u64_at(v, 0)).sum();
    assert_eq!(total, 2 * 64);
}

#[test]
fn rejected_program_names_itself_and_shows_the_log() {
    require_bpf!();
    // Reading past the packet without a bounds check: the verifier says no.
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/c/xdp_rewrite.c");
    let text = std::fs::read_to_string(&src).unwrap();
    let bad = text.replace("if (data + 34 > end)\n\t\treturn XDP_ABORTED;", "");
    assert_ne!(bad, text);
    let dir = work_dir();
    std::fs::create_dir_all(&dir).unwrap();
    let c = dir.join("unchecked.c");
    let o = dir.join("unchecked.o");
    std::fs::write(&c, bad).unwrap();
    let ok = Command::new("clang-19")
        .args(["-O2", "-g", "-target", "bpf", "-mcpu=v3"])
        .arg("-I/usr/include/x86_64-linux-gnu")
        .arg("-c")
        .arg(&c)
        .arg("-o")
        .arg(&o)
        .status()
        .unwrap();
    assert!(ok.success());
    let obj = Object::parse(&std::fs::read(&o).unwrap()).unwrap();
    let err = LoadedObject::load(&obj, &ObjectLoadOptions::default()).unwrap_err();
    assert!(matches!(err, ObjectLoadError::Program { .. }), "{err}");
    let msg = err.to_string();
    assert!(msg.contains("\"bounce\""), "{msg}");
    assert!(msg.contains("EACCES"), "{msg}");
    assert!(msg.contains("invalid access to packet"), "{msg}");
    // The BTF line info went with the program: the log quotes the source.
    assert!(msg.contains("@ unchecked.c:"), "{msg}");
}

#[test]
fn map_in_maps_filled_from_the_object() {
    require_bpf!();
    let obj = compile("map_in_map");
    let loaded = load(&obj);
    let out = loaded
        .program("through_outer")
        .unwrap()
        .test_run(&TestRun::new(&ipv4_packet()).repeat(2))
        .unwrap();
    assert_eq!(out.retval, 2, "XDP_PASS: three of the four slots held maps");
    let zero = 0u32.to_ne_bytes();
    let a = loaded
        .map("inner_a")
        .unwrap()
        .lookup(&zero)
        .unwrap()
        .unwrap();
    let b = loaded
        .map("inner_b")
        .unwrap()
        .lookup(&zero)
        .unwrap()
        .unwrap();
    assert_eq!(u64_at(&a, 0), 2);
    assert_eq!(u64_at(&b, 0), 2 * 1010);
    let outer = loaded.map("outer").unwrap();
    assert!(outer.lookup(&3u32.to_ne_bytes()).unwrap().is_some());
    assert!(outer.lookup(&1u32.to_ne_bytes()).unwrap().is_none());
    let by_name = loaded.map("by_name").unwrap();
    assert_eq!(by_name.keys().count(), 1);
}

#[test]
fn core_relocations_against_the_kernel_btf() {
    require_bpf!();
    if !Path::new("/sys/kernel/btf/vmlinux").exists() {
        println!("skipped: this kernel has no /sys/kernel/btf/vmlinux");
        return;
    }
    let obj = compile("core");
    let loaded = load(&obj);
    let pkt = ipv4_packet();
    let out = loaded
        .program("core_offsets")
        .unwrap()
        .test_run(&TestRun::new(&pkt))
        .unwrap();
    // The context reads went to the kernel's offsets: data_end - data.
    assert_eq!(out.retval as usize, pkt.len());
    let bss = loaded
        .map(".bss")
        .unwrap()
        .lookup(&0u32.to_ne_bytes())
        .unwrap()
        .unwrap();
    assert_eq!(u64_at(&bss, 0), 4, "offsetof(struct xdp_md, data_end)");
    assert_eq!(u64_at(&bss, 8), 0, "no_such_field does not exist");
    assert_eq!(u64_at(&bss, 16), 1, "struct task_struct exists");
}

#[test]
fn loads_without_btf_when_asked() {
    require_bpf!();
    // Without BTF: no func info, so no callbacks (bpf_loop), but tail
    // calls and globals work.
    let obj = compile("tail_call");
    let opts = ObjectLoadOptions {
        use_btf: false,
        ..ObjectLoadOptions::default()
    };
    let loaded = LoadedObject::load(&obj, &opts).unwrap_or_else(|e| panic!("{e}"));
    assert!(loaded.btf().is_none());
    for (name, m) in loaded.maps() {
        assert_eq!(m.info().unwrap().btf_id, 0, "{name}");
    }
    let out = loaded
        .program("jump_to_2")
        .unwrap()
        .test_run(&TestRun::new(&ipv4_packet()))
        .unwrap();
    assert_eq!(out.retval, 3);
    // The kernel insists on BTF func info for bpf_loop's callback, and
    // the error says so.
    let e = LoadedObject::load(&compile("globals_loop"), &opts).unwrap_err();
    assert!(e.to_string().contains("missing btf func_info"), "{e}");
}

#[test]
fn kernel_btf_load_and_its_errors() {
    require_bpf!();
    let obj = compile("globals_loop");
    let bytes = obj.btf().unwrap().to_bytes();
    assert!(KernelBtf::load(&bytes).is_ok());
    // A header claiming more type bytes than there are.
    let mut bad = bytes.clone();
    bad[12..16].copy_from_slice(&u32::MAX.to_le_bytes()); // type_len
    let e = KernelBtf::load(&bad).unwrap_err();
    assert_eq!(e.errno, libc::EINVAL, "{e}");
    assert!(!e.log.is_empty(), "the kernel says why");
    assert!(e.to_string().contains("EINVAL"), "{e}");
    let e = KernelBtf::load(&[0u8; 4]).unwrap_err();
    assert_eq!(e.errno, libc::EINVAL, "{e}");
}

#[test]
fn tracing_programs_get_their_target_btf_id() {
    require_bpf!();
    if !Path::new("/sys/kernel/btf/vmlinux").exists() {
        println!("skipped: this kernel has no /sys/kernel/btf/vmlinux");
        return;
    }
    // A target the kernel does not have: the loader says so before loading.
    let obj = compile_with("fentry", &["-DMISSING_TARGET"]);
    let e = LoadedObject::load(&obj, &ObjectLoadOptions::default()).unwrap_err();
    assert!(matches!(e, ObjectLoadError::Unsupported(_)), "{e}");
    assert!(
        e.to_string()
            .contains("FUNC \"ebee_no_such_kernel_function\""),
        "{e}"
    );
    // A real one: found, and then it is the kernel's call (machines where
    // tracing programs are not permitted answer EPERM).
    match LoadedObject::load(&compile("fentry"), &ObjectLoadOptions::default()) {
        Ok(o) => assert!(o.program("on_tcp_connect").is_some()),
        Err(e) => assert!(matches!(e, ObjectLoadError::Program { .. }), "{e}"),
    }
}

#[test]
fn only_some_programs() {
    require_bpf!();
    let obj = compile("tail_call");
    let opts = ObjectLoadOptions {
        only_programs: Some(vec!["jump_to_2".into()]),
        ..ObjectLoadOptions::default()
    };
    let loaded = LoadedObject::load(&obj, &opts).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(loaded.programs().count(), 1);
    assert!(loaded.program("target").is_none());
    // `target` was left out, so its slot is empty and the tail call fails.
    let out = loaded
        .program("jump_to_2")
        .unwrap()
        .test_run(&TestRun::new(&ipv4_packet()))
        .unwrap();
    assert_eq!(out.retval, 1, "XDP_DROP");
    let opts = ObjectLoadOptions {
        only_programs: Some(vec!["nope".into()]),
        ..ObjectLoadOptions::default()
    };
    let e = LoadedObject::load(&obj, &opts).unwrap_err();
    assert!(e.to_string().contains("no entry program \"nope\""), "{e}");
}

#[test]
fn ring_buffer_records_reach_user_space() {
    require_bpf!();
    let obj = compile("ringbuf");
    let loaded = load(&obj);
    let prog = loaded.program("emit").unwrap();
    let events = loaded.map("events").unwrap();
    let mut reader = RingBufReader::new(events).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(reader.next_record(), None);
    let pkt = ipv4_packet();
    let mut expected_seq = 1u32;
    // 64 bytes of ring per run (two records, one discarded): 1000 runs go
    // around the 16 KiB ring several times.
    for _ in 0..10 {
        let out = prog.test_run(&TestRun::new(&pkt).repeat(100)).unwrap();
        assert_eq!(out.retval, 2);
        let records = reader.drain();
        assert_eq!(records.len(), 200);
        for pair in records.chunks(2) {
            let e = &pair[0];
            assert_eq!(e.len(), 16);
            assert_eq!(
                u32::from_ne_bytes(e[0..4].try_into().unwrap()),
                expected_seq
            );
            assert_eq!(u32::from_ne_bytes(e[4..8].try_into().unwrap()), 64);
            assert_eq!(e[8..16], pkt[..8]);
            assert_eq!(pair[1], 0xfeedf00du64.to_ne_bytes());
            expected_seq += 1;
        }
    }
    assert_eq!(reader.next_record(), None);
    // Only ring buffers have a reader.
    assert!(RingBufReader::new(loaded.map(".bss").unwrap()).is_err());
}

#[test]
fn kfuncs_and_ksyms_resolved_against_the_kernel() {
    require_bpf!();
    if !Path::new("/sys/kernel/btf/vmlinux").exists() {
        println!("skipped: this kernel has no /sys/kernel/btf/vmlinux");
        return;
    }
    let obj = compile("kfunc");
    let loaded = load(&obj);
    let out = loaded
        .program("iterate")
        .unwrap()
        .test_run(&TestRun::new(&ipv4_packet()))
        .unwrap();
    assert_eq!(out.retval, 2);
    let bss = loaded
        .map(".bss")
        .unwrap()
        .lookup(&0u32.to_ne_bytes())
        .unwrap()
        .unwrap();
    assert_eq!(u64_at(&bss, 0), 45, "bpf_iter_num over 0..10");
    // The untyped __ksym holds the address /proc/kallsyms gives.
    let kallsyms = std::fs::read_to_string("/proc/kallsyms").unwrap();
    let addr = kallsyms
        .lines()
        .find(|l| l.split_whitespace().nth(2) == Some("schedule"))
        .and_then(|l| u64::from_str_radix(l.split_whitespace().next()?, 16).ok())
        .unwrap();
    assert_eq!(u64_at(&bss, 8), addr);
}

#[test]
fn kconfig_values_from_the_given_config() {
    require_bpf!();
    let obj = compile("kconfig");
    let opts = ObjectLoadOptions {
        kconfig: Some(
            "CONFIG_HZ=250\nCONFIG_BPF_SYSCALL=y\nCONFIG_LOCALVERSION=\"-ebee\"\n".into(),
        ),
        ..ObjectLoadOptions::default()
    };
    let loaded = LoadedObject::load(&obj, &opts).unwrap_or_else(|e| panic!("{e}"));
    let out = loaded
        .program("read_config")
        .unwrap()
        .test_run(&TestRun::new(&ipv4_packet()))
        .unwrap();
    assert_eq!(out.retval, 2);
    let bss = loaded
        .map(".bss")
        .unwrap()
        .lookup(&0u32.to_ne_bytes())
        .unwrap()
        .unwrap();
    let release = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap();
    let nums: Vec<u64> = release
        .split(|c: char| !c.is_ascii_digit())
        .take(3)
        .map(|p| p.parse().unwrap())
        .collect();
    let want = nums[0] << 16 | nums[1].min(255) << 8 | nums[2].min(255);
    assert_eq!(u64_at(&bss, 0), want, "LINUX_KERNEL_VERSION of {release}");
    assert_eq!(u64_at(&bss, 8), 250);
    assert_eq!(u64_at(&bss, 16), 1);
    assert_eq!(u64_at(&bss, 24), 0, "an option the config lacks reads 0");
    assert_eq!(&bss[32..38], b"-ebee\0");
    // .kconfig is frozen: user space cannot change what programs read.
    let kconfig = loaded.map(".kconfig").unwrap();
    let size = kconfig.value_buf_size();
    let e = kconfig
        .update(&0u32.to_ne_bytes(), &vec![0; size], BPF_ANY)
        .unwrap_err();
    assert_eq!(e.errno(), Some(libc::EPERM));
    // A non-weak option the config lacks is an error.
    let partial = ObjectLoadOptions {
        kconfig: Some("CONFIG_HZ=250\n".into()),
        ..ObjectLoadOptions::default()
    };
    let e = LoadedObject::load(&obj, &partial).unwrap_err();
    assert!(e.to_string().contains("CONFIG_BPF_SYSCALL"), "{e}");
    // Without a config, a non-weak option is an error that says what to do
    // (unless this machine has /boot/config-<release>).
    let release = release.trim();
    if !Path::new(&format!("/boot/config-{release}")).exists() {
        let e = LoadedObject::load(&obj, &ObjectLoadOptions::default()).unwrap_err();
        assert!(matches!(e, ObjectLoadError::Kconfig(_)), "{e}");
        assert!(e.to_string().contains("ObjectLoadOptions::kconfig"), "{e}");
    }
}

#[test]
fn spin_locked_values_need_and_get_btf() {
    require_bpf!();
    let obj = compile("spin_lock");
    let loaded = load(&obj);
    let counters = loaded.map("counters").unwrap();
    let zero = 0u32.to_ne_bytes();
    let mut value = vec![0u8; 16];
    value[8..].copy_from_slice(&100u64.to_ne_bytes());
    counters
        .update(&zero, &value, BPF_ANY | BPF_F_LOCK)
        .unwrap();
    let out = loaded
        .program("locked_add")
        .unwrap()
        .test_run(&TestRun::new(&ipv4_packet()).repeat(10))
        .unwrap();
    assert_eq!(out.retval, 2);
    let v = counters
        .lookup_with_flags(&zero, BPF_F_LOCK)
        .unwrap()
        .unwrap();
    assert_eq!(u64_at(&v, 8), 130);
    // Without BTF the kernel cannot know where the lock is: the program
    // is refused.
    let opts = ObjectLoadOptions {
        use_btf: false,
        ..ObjectLoadOptions::default()
    };
    let e = LoadedObject::load(&obj, &opts).unwrap_err();
    assert!(matches!(e, ObjectLoadError::Program { .. }), "{e}");
}

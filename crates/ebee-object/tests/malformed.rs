//! Malformed input never panics: real objects with random bytes changed,
//! truncated, or with their BTF mutated, parse to a result or an error.

use std::path::Path;

use ebee_object::{Btf, Object};
use proptest::prelude::*;

const OBJECTS: &[&str] = &[
    "build/prog_array.o",
    "build/map_in_map.o",
    "build/global_variable.o",
    "build/bpf2bpf.o",
    "linux/sockex1_kern.o",
    "cilium-examples/tcx_bpf_bpfel.o",
];

fn load(name: &str) -> Option<Vec<u8>> {
    std::fs::read(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../../shared/corpora/ebpf-samples")
            .join(name),
    )
    .ok()
}

fn corpus_objects() -> Vec<Vec<u8>> {
    OBJECTS.iter().filter_map(|n| load(n)).collect()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn mutated_objects_do_not_panic(
        which in 0usize..OBJECTS.len(),
        edits in proptest::collection::vec((any::<u32>(), any::<u8>(), any::<bool>()), 1..12),
        cut in proptest::option::of(any::<u32>()),
    ) {
        let objects = corpus_objects();
        if objects.is_empty() {
            return Ok(());
        }
        let mut bytes = objects[which % objects.len()].clone();
        for (pos, val, tail) in edits {
            // Half the edits hit the last 2 KiB, where clang puts the
            // symbol table and section headers.
            let len = bytes.len();
            let i = if tail { len - 1 - pos as usize % len.min(2048) } else { pos as usize % len };
            bytes[i] = val;
        }
        if let Some(c) = cut {
            bytes.truncate(c as usize % (bytes.len() + 1));
        }
        let _ = Object::parse(&bytes);
    }

    #[test]
    fn mutated_btf_does_not_panic(
        edits in proptest::collection::vec((any::<u32>(), any::<u8>()), 1..8),
    ) {
        let Some(bytes) = load("build/map_in_map.o") else { return Ok(()) };
        // Find the .BTF blob by its magic and header.
        let Some(start) = bytes.windows(2).position(|w| w == [0x9f, 0xeb]) else { return Ok(()) };
        let mut btf = bytes[start..].to_vec();
        for (pos, val) in edits {
            // Mostly the header and the first types, where structure lives.
            let i = pos as usize % btf.len().min(512);
            btf[i] = val;
        }
        if let Ok(b) = Btf::parse(&btf) {
            for id in 0..b.len() as u32 {
                let _ = b.size_of(id);
                let _ = b.display_name(id);
            }
        }
    }
}

fn vmlinux() -> Option<&'static Btf> {
    static VMLINUX: std::sync::OnceLock<Option<Btf>> = std::sync::OnceLock::new();
    VMLINUX
        .get_or_init(|| {
            std::fs::read("/sys/kernel/btf/vmlinux")
                .ok()
                .and_then(|b| Btf::parse(&b).ok())
        })
        .as_ref()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    /// CO-RE resolution of a mutated object (BTF, BTF.ext, code) against
    /// the kernel's BTF returns a result or an error, never a panic.
    #[test]
    fn mutated_core_objects_do_not_panic(
        which in 0usize..2,
        edits in proptest::collection::vec((any::<u32>(), any::<u8>(), 0usize..3), 1..8),
    ) {
        let (Some(target), Some(mut bytes)) = (
            vmlinux(),
            load(["cilium-examples/tcprtt_bpf_bpfel.o", "cilium-examples/tcprtt_sockops_bpf_bpfel.o"][which]),
        ) else {
            return Ok(());
        };
        // Aim most edits at the type information CO-RE walks.
        let ranges: Vec<(usize, usize)> = {
            use object::{Object as _, ObjectSection as _};
            let file = object::File::parse(&*bytes).unwrap();
            [".BTF.ext", ".BTF"]
                .iter()
                .filter_map(|n| file.section_by_name(n)?.file_range())
                .map(|(o, l)| (o as usize, l as usize))
                .collect()
        };
        for (pos, val, region) in edits {
            let i = match ranges.get(region.wrapping_sub(1)) {
                Some(&(off, len)) if len > 0 => off + pos as usize % len,
                _ => pos as usize % bytes.len(),
            };
            bytes[i] = val;
        }
        if let Ok(mut obj) = Object::parse(&bytes) {
            let _ = obj.relocate_core(target);
        }
    }
}

#[test]
fn truncated_objects_fail_cleanly() {
    for bytes in corpus_objects() {
        for len in (0..bytes.len()).step_by(97) {
            let _ = Object::parse(&bytes[..len]);
        }
        assert!(Object::parse(&bytes[..63]).is_err());
    }
}

#[test]
fn wrong_machine_and_class_are_named() {
    let Some(mut bytes) = load("build/bpf2bpf.o") else {
        println!("skipped: corpus not found");
        return;
    };
    bytes[18] = 62; // EM_X86_64
    let e = Object::parse(&bytes).unwrap_err().to_string();
    assert!(e.contains("machine 62"), "{e}");
    bytes[5] = 2; // ELFDATA2MSB
    let e = Object::parse(&bytes).unwrap_err().to_string();
    assert!(e.contains("little-endian"), "{e}");
    bytes[4] = 1; // ELFCLASS32
    let e = Object::parse(&bytes).unwrap_err().to_string();
    assert!(e.contains("ELFCLASS64"), "{e}");
}

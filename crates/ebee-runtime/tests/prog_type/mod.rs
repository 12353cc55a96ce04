//! Shared by the program-type tests: compiling C, loading it in the
//! kernel and in ebee, and deterministic packets.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

use ebee_object::Object;

pub fn compile(name: &str) -> Object {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("tests/c/{name}.c"));
    let out = ebee_corpus::clang::compile_bpf(&src, Path::new(env!("CARGO_TARGET_TMPDIR")), &[])
        .unwrap_or_else(|e| panic!("{e}"));
    Object::parse(&std::fs::read(&out).unwrap()).unwrap_or_else(|e| panic!("{name}.o: {e}"))
}

/// The kernel's copy of the object, or `None` (printing why) without bpf(2).
pub fn kernel(obj: &Object) -> Option<ebee_kernel::LoadedObject> {
    if let Err(e) = ebee_kernel::probe() {
        println!("skipped: {e}");
        return None;
    }
    Some(ebee_kernel::LoadedObject::load(obj, &Default::default()).expect("kernel load"))
}

/// A cgroup made for the test, removed when dropped.
pub struct TempCgroup(pub PathBuf);

impl TempCgroup {
    /// Creates the cgroup `name` under `root` (panics if it cannot).
    pub fn new(root: &Path, name: &str) -> TempCgroup {
        let cg = TempCgroup(root.join(name));
        std::fs::create_dir(&cg.0).expect("create a cgroup");
        cg
    }
}

impl Drop for TempCgroup {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir(&self.0);
    }
}

/// xorshift, for reproducible packets.
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    pub fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| self.next() as u8).collect()
    }
}

/// A random Ethernet frame: IPv4 TCP/UDP/other, or another EtherType,
/// sometimes truncated or malformed.
pub fn packet(rng: &mut Rng) -> Vec<u8> {
    let payload = rng.below(120) as usize;
    let mut p = rng.bytes(14);
    let kind = rng.below(10);
    if kind < 8 {
        p[12] = 0x08;
        p[13] = 0x00;
        let ihl = if rng.below(10) == 0 {
            rng.below(16) as u8
        } else {
            5
        };
        let mut ip = rng.bytes(20);
        ip[0] = 0x40 | ihl;
        ip[8] = rng.below(4) as u8; // TTL 0..3 exercises the drop path
        if rng.below(2) == 0 {
            ip[8] = 64;
        }
        ip[9] = [6, 17, 1, 6, 17][rng.below(5) as usize];
        let l4 = rng.bytes(20);
        let tot = (20 + 20 + payload) as u16;
        ip[2..4].copy_from_slice(&tot.to_be_bytes());
        p.extend_from_slice(&ip);
        p.extend_from_slice(&l4);
        if rng.below(3) == 0 {
            let port: u16 = [80, 9, 53][rng.below(3) as usize];
            p[36..38].copy_from_slice(&port.to_be_bytes());
        }
    }
    p.extend(rng.bytes(payload));
    let cut = if rng.below(8) == 0 {
        rng.below(p.len() as u64) as usize
    } else {
        p.len()
    };
    p.truncate(cut.max(14));
    p
}

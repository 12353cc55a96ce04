//! Test support: a tiny instruction builder and a minimal bpf(2) loader so
//! the kernel's verifier can judge the same programs.

#![allow(dead_code)]

use ebee_isa::*;

pub fn r(n: u8) -> Reg {
    Reg::new(n).unwrap()
}
pub fn mov(d: u8, imm: i32) -> Insn {
    Insn::Alu {
        width: Width::W64,
        op: AluOp::Mov,
        dst: r(d),
        src: Operand::Imm(imm),
    }
}
pub fn movr(d: u8, s: u8) -> Insn {
    Insn::Alu {
        width: Width::W64,
        op: AluOp::Mov,
        dst: r(d),
        src: Operand::Reg(r(s)),
    }
}
pub fn alu(op: AluOp, d: u8, imm: i32) -> Insn {
    Insn::Alu {
        width: Width::W64,
        op,
        dst: r(d),
        src: Operand::Imm(imm),
    }
}
pub fn alur(op: AluOp, d: u8, s: u8) -> Insn {
    Insn::Alu {
        width: Width::W64,
        op,
        dst: r(d),
        src: Operand::Reg(r(s)),
    }
}
pub fn alu32(op: AluOp, d: u8, imm: i32) -> Insn {
    Insn::Alu {
        width: Width::W32,
        op,
        dst: r(d),
        src: Operand::Imm(imm),
    }
}
pub fn alu32r(op: AluOp, d: u8, s: u8) -> Insn {
    Insn::Alu {
        width: Width::W32,
        op,
        dst: r(d),
        src: Operand::Reg(r(s)),
    }
}
pub fn ldx(size: Size, d: u8, s: u8, off: i16) -> Insn {
    Insn::Load {
        size,
        signed: false,
        dst: r(d),
        src: r(s),
        off,
    }
}
pub fn ldxs(size: Size, d: u8, s: u8, off: i16) -> Insn {
    Insn::Load {
        size,
        signed: true,
        dst: r(d),
        src: r(s),
        off,
    }
}
pub fn stx(size: Size, d: u8, off: i16, s: u8) -> Insn {
    Insn::Store {
        size,
        dst: r(d),
        off,
        src: Operand::Reg(r(s)),
    }
}
pub fn st(size: Size, d: u8, off: i16, imm: i32) -> Insn {
    Insn::Store {
        size,
        dst: r(d),
        off,
        src: Operand::Imm(imm),
    }
}
pub fn jmp(cond: JmpCond, d: u8, imm: i32, off: i16) -> Insn {
    Insn::Jump {
        width: Width::W64,
        cond,
        dst: r(d),
        src: Operand::Imm(imm),
        off,
    }
}
pub fn jmpr(cond: JmpCond, d: u8, s: u8, off: i16) -> Insn {
    Insn::Jump {
        width: Width::W64,
        cond,
        dst: r(d),
        src: Operand::Reg(r(s)),
        off,
    }
}
pub fn jmp32(cond: JmpCond, d: u8, imm: i32, off: i16) -> Insn {
    Insn::Jump {
        width: Width::W32,
        cond,
        dst: r(d),
        src: Operand::Imm(imm),
        off,
    }
}
pub fn ja(off: i32) -> Insn {
    Insn::Ja { off, long: false }
}
pub fn call(id: i32) -> Insn {
    Insn::Call(CallTarget::Helper(id))
}
pub fn call_local(off: i32) -> Insn {
    Insn::Call(CallTarget::Local(off))
}
pub fn exit() -> Insn {
    Insn::Exit
}
/// `lddw dst, map[idx]`: two slots.
pub fn ld_map(d: u8, idx: u32) -> [Insn; 2] {
    [
        Insn::LdImm64 {
            dst: r(d),
            kind: Imm64Kind::MapIdx,
            imm: idx as i64,
        },
        Insn::LdImm64Tail,
    ]
}
pub fn lddw(d: u8, v: i64) -> [Insn; 2] {
    [
        Insn::LdImm64 {
            dst: r(d),
            kind: Imm64Kind::Imm,
            imm: v,
        },
        Insn::LdImm64Tail,
    ]
}

/// Flatten a list of instruction groups.
#[macro_export]
macro_rules! prog {
    ($($e:expr),* $(,)?) => {{
        let mut v: Vec<ebee_isa::Insn> = Vec::new();
        $( common::Push::push_into($e, &mut v); )*
        v
    }};
}

pub trait Push {
    fn push_into(self, v: &mut Vec<Insn>);
}
impl Push for Insn {
    fn push_into(self, v: &mut Vec<Insn>) {
        v.push(self)
    }
}
impl<const N: usize> Push for [Insn; N] {
    fn push_into(self, v: &mut Vec<Insn>) {
        v.extend(self)
    }
}
impl Push for Vec<Insn> {
    fn push_into(self, v: &mut Vec<Insn>) {
        v.extend(self)
    }
}

/// The kernel, through raw bpf(2).
pub mod kernel {
    use ebee_verifier::MapInfo;

    const BPF_MAP_CREATE: i64 = 0;
    const BPF_PROG_LOAD: i64 = 5;

    fn bpf(cmd: i64, attr: &mut [u8; 160]) -> i64 {
        // SAFETY: `attr` is a valid, writable buffer of the size we pass; the
        // kernel reads (and for some commands writes) at most that many bytes.
        unsafe { libc::syscall(libc::SYS_bpf, cmd, attr.as_mut_ptr(), attr.len() as u32) }
    }

    fn put32(a: &mut [u8; 160], off: usize, v: u32) {
        a[off..off + 4].copy_from_slice(&v.to_ne_bytes());
    }
    fn put64(a: &mut [u8; 160], off: usize, v: u64) {
        a[off..off + 8].copy_from_slice(&v.to_ne_bytes());
    }

    /// An open map; closed on drop.
    pub struct Fd(pub i32);
    impl Drop for Fd {
        fn drop(&mut self) {
            // SAFETY: we own this descriptor and close it once.
            unsafe { libc::close(self.0) };
        }
    }

    pub fn create_map(m: &MapInfo) -> Result<Fd, String> {
        create_map_with_inner(m, None)
    }

    /// A map; `inner` is the template map of a map-in-map.
    pub fn create_map_with_inner(m: &MapInfo, inner: Option<&Fd>) -> Result<Fd, String> {
        let mut a = [0u8; 160];
        put32(&mut a, 20, inner.map_or(0, |f| f.0 as u32));
        put32(&mut a, 0, m.map_type);
        put32(&mut a, 4, m.key_size);
        put32(&mut a, 8, m.value_size);
        put32(&mut a, 12, m.max_entries);
        put32(&mut a, 16, m.flags);
        let fd = bpf(BPF_MAP_CREATE, &mut a);
        if fd < 0 {
            return Err(format!("map create: {}", std::io::Error::last_os_error()));
        }
        Ok(Fd(fd as i32))
    }

    /// Load; Ok(()) if the kernel accepts, Err(log) if its verifier rejects.
    pub fn load(prog_type: u32, bytes: &[u8]) -> Result<(), String> {
        let mut log = vec![0u8; 1 << 20];
        let license = b"GPL\0";
        let mut a = [0u8; 160];
        put32(&mut a, 0, prog_type);
        put32(&mut a, 4, (bytes.len() / 8) as u32);
        put64(&mut a, 8, bytes.as_ptr() as u64);
        put64(&mut a, 16, license.as_ptr() as u64);
        put32(&mut a, 24, 1);
        put32(&mut a, 28, log.len() as u32);
        put64(&mut a, 32, log.as_mut_ptr() as u64);
        let fd = bpf(BPF_PROG_LOAD, &mut a);
        if fd >= 0 {
            drop(Fd(fd as i32));
            return Ok(());
        }
        let err = std::io::Error::last_os_error();
        let n = log.iter().position(|b| *b == 0).unwrap_or(0);
        let text = String::from_utf8_lossy(&log[..n]).to_string();
        let tail: Vec<&str> = text.lines().rev().take(4).collect();
        Err(format!(
            "{err}: {}",
            tail.into_iter().rev().collect::<Vec<_>>().join(" | ")
        ))
    }

    /// Whether bpf(2) works here (a trivial socket filter loads).
    pub fn available() -> Result<(), String> {
        let prog = [0xb7u8, 0, 0, 0, 0, 0, 0, 0, 0x95, 0, 0, 0, 0, 0, 0, 0];
        load(1, &prog)
    }
}

/// `lddw dst, func` where the function starts `off` slots after the lddw's second slot.
pub fn ld_func(d: u8, off: i64) -> [Insn; 2] {
    [
        Insn::LdImm64 {
            dst: r(d),
            kind: Imm64Kind::Func,
            imm: off,
        },
        Insn::LdImm64Tail,
    ]
}

//! What each instruction does to the abstract state: arithmetic on numbers
//! and (where the kernel allows it) on pointers, loads and stores checked
//! against the region a pointer points into, branch refinement on both
//! sides, helper calls against their prototypes, function calls and exits.

use ebee_isa::{AluOp, AtomicOp, CallTarget, Imm64Kind, Insn, JmpCond, Operand, Size, Width};

use crate::cfg::Cfg;
use crate::context::{ContextKind, FieldKind, ProgramType};
use crate::helpers::{helper, Arg, CallbackKind, Ret};
use crate::maps::{map_type, MapInfo, MapRef, Maps, F_RDONLY_PROG};
use crate::reg_state::{MapSlot, Pointer, PtrKind, RegState};
use crate::scalar::{refine, swap, Scalar};
use crate::stack::STACK_SIZE;
use crate::state::{FuncState, Reference, State};
use crate::Options;

/// Deepest call chain (frames), as in Linux.
pub const MAX_CALL_FRAMES: usize = 8;
/// Largest offset magnitude pointer arithmetic may produce, as in Linux.
const MAX_VAR_OFF: i64 = 1 << 29;

/// Why an instruction is unsafe: a sentence, and the registers it is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fault {
    /// What is wrong, in words.
    pub message: String,
    /// Registers whose state explains it.
    pub regs: Vec<u8>,
}

type R<T> = Result<T, Fault>;

fn fault<T>(message: impl Into<String>, regs: &[u8]) -> R<T> {
    Err(Fault {
        message: message.into(),
        regs: regs.to_vec(),
    })
}

/// Where execution goes after one instruction.
pub enum Step {
    /// Continue at this pc with the updated state.
    Next(usize),
    /// A conditional jump: the feasible successors, each with the branch
    /// decision (`true` = jump taken).
    Branch(Vec<(usize, State, bool)>),
    /// The main program returned.
    Exit,
}

/// Facts shared by every path: the program, its type, its maps, counters.
pub struct Env<'a> {
    /// The program, one entry per slot.
    pub insns: &'a [Insn],
    /// Its control-flow graph.
    pub cfg: &'a Cfg,
    /// Its type.
    pub prog: &'a ProgramType,
    /// Maps by reference.
    pub maps: &'a Maps,
    /// Maps referenced so far, by slot.
    pub map_table: Vec<(MapRef, MapInfo)>,
    /// Options.
    pub opts: &'a Options,
    /// Last id handed out.
    pub next_id: u32,
    /// Deepest stack byte used by each function (positive).
    pub stack_depth: Vec<i64>,
    /// Registers live before each pc.
    pub live: Vec<crate::liveness::RegSet>,
}

impl Env<'_> {
    /// A fresh id.
    pub fn new_id(&mut self) -> u32 {
        self.next_id += 1;
        self.next_id
    }

    /// The map behind slot `slot`.
    pub(crate) fn map(&self, slot: MapSlot) -> &MapInfo {
        &self.map_table[slot as usize].1
    }

    fn map_slot(&mut self, r: MapRef) -> Option<MapSlot> {
        if let Some(i) = self.map_table.iter().position(|(k, _)| *k == r) {
            return Some(i as MapSlot);
        }
        let info = *self.maps.get(r)?;
        self.map_table.push((r, info));
        Some((self.map_table.len() - 1) as MapSlot)
    }

    /// The initial state: r1 (and r2) per the program type, r10 the frame pointer.
    pub fn initial_state(&mut self) -> State {
        let mut f = FuncState::new(0, 0, None);
        match &self.prog.context {
            ContextKind::Struct(_) => f.regs[1] = RegState::ptr(PtrKind::Ctx),
            ContextKind::Buffer { size } => {
                f.regs[1] = RegState::ptr(PtrKind::Mem {
                    size: *size,
                    or_null: false,
                });
                f.regs[2] = RegState::constant(*size as u64);
            }
            ContextKind::PacketBuffer => {
                f.regs[1] = RegState::ptr(PtrKind::Packet);
                f.regs[2] = RegState::ptr(PtrKind::PacketEnd);
            }
            ContextKind::None => f.regs[1] = RegState::UNKNOWN,
        }
        State {
            frames: vec![f],
            refs: vec![],
            lock: None,
        }
    }

    fn note_stack(&mut self, st: &State, frame: u8, lowest: i64) {
        if let Some(f) = st.frames.get(frame as usize) {
            let sp = self.cfg.func_of(f.entry);
            let d = &mut self.stack_depth[sp];
            *d = (*d).max(-lowest);
        }
    }
}

fn reg_name(r: u8) -> String {
    format!("r{r}")
}

fn read(st: &State, r: u8) -> R<RegState> {
    let v = *st.reg(r);
    if !v.is_init() {
        return fault(
            format!(
                "{} is read before anything was written to it on this path",
                reg_name(r)
            ),
            &[r],
        );
    }
    Ok(v)
}

fn check_writable(r: u8) -> R<()> {
    if r == 10 {
        return fault("r10 is the frame pointer and is read-only", &[10]);
    }
    Ok(())
}

fn op_name(op: AluOp) -> &'static str {
    match op {
        AluOp::Add => "+=",
        AluOp::Sub => "-=",
        AluOp::Mul => "*=",
        AluOp::Div => "/=",
        AluOp::SDiv => "s/=",
        AluOp::Or => "|=",
        AluOp::And => "&=",
        AluOp::Lsh => "<<=",
        AluOp::Rsh => ">>=",
        AluOp::Mod => "%=",
        AluOp::SMod => "s%=",
        AluOp::Xor => "^=",
        AluOp::Mov => "=",
        AluOp::MovSx8 | AluOp::MovSx16 | AluOp::MovSx32 => "= (signed)",
        AluOp::Arsh => "s>>=",
    }
}

/// Execute the instruction at `pc` on `st`.
pub fn step(env: &mut Env, st: &mut State, pc: usize) -> R<Step> {
    let insn = env.insns[pc];
    match insn {
        Insn::Alu {
            width,
            op,
            dst,
            src,
        } => {
            alu(env, st, width, op, dst.index(), src)?;
            Ok(Step::Next(pc + 1))
        }
        Insn::Neg { width, dst } => {
            let d = dst.index();
            check_writable(d)?;
            let v = match read(st, d)? {
                RegState::Scalar { value, .. } => value.neg(width),
                _ => Scalar::UNKNOWN.truncate(if width == Width::W32 { 4 } else { 8 }),
            };
            st.set_reg(d, RegState::scalar(v));
            Ok(Step::Next(pc + 1))
        }
        Insn::Endian { order, bits, dst } => {
            let d = dst.index();
            check_writable(d)?;
            let v = match read(st, d)? {
                RegState::Scalar { value, .. } => value.endian(order, bits),
                _ => Scalar::UNKNOWN.truncate(bits as u32 / 8),
            };
            st.set_reg(d, RegState::scalar(v));
            Ok(Step::Next(pc + 1))
        }
        Insn::LdImm64 { dst, kind, imm } => {
            let d = dst.index();
            check_writable(d)?;
            let v = match kind {
                Imm64Kind::Imm => RegState::constant(imm as u64),
                Imm64Kind::MapFd
                | Imm64Kind::MapIdx
                | Imm64Kind::MapValue
                | Imm64Kind::MapIdxValue => {
                    let key = imm as u32;
                    let r = match kind {
                        Imm64Kind::MapFd | Imm64Kind::MapValue => MapRef::Fd(key as i32),
                        _ => MapRef::Index(key),
                    };
                    let Some(slot) = env.map_slot(r) else {
                        return fault(
                            format!("lddw refers to map {r:?}, which the program was not given"),
                            &[],
                        );
                    };
                    if matches!(kind, Imm64Kind::MapFd | Imm64Kind::MapIdx) {
                        if imm >> 32 != 0 {
                            return fault("lddw of a map has a non-zero upper half", &[]);
                        }
                        RegState::ptr(PtrKind::Map {
                            map: slot,
                            or_null: false,
                        })
                    } else {
                        let off = (imm >> 32) as u32;
                        let info = env.map(slot);
                        if info.map_type != map_type::ARRAY || info.max_entries != 1 {
                            return fault(format!("lddw of a map value needs an array map with one entry (map {r:?} has type {} and {} entries)", info.map_type, info.max_entries), &[]);
                        }
                        if off >= info.value_size {
                            return fault(format!("lddw of a map value at offset {off} is beyond the value size {}", info.value_size), &[]);
                        }
                        let mut p = Pointer::new(PtrKind::MapValue {
                            map: slot,
                            or_null: false,
                        });
                        p.off = off as i32;
                        RegState::Ptr(p)
                    }
                }
                Imm64Kind::Func => RegState::ptr(PtrKind::Func {
                    pc: insn.branch_target(pc).unwrap_or(0) as u32,
                }),
                Imm64Kind::BtfId => {
                    return fault("lddw of a kernel variable by BTF id is not supported", &[]);
                }
            };
            st.set_reg(d, v);
            Ok(Step::Next(pc + 2))
        }
        Insn::LdImm64Tail => fault("the second half of lddw is executed as an instruction", &[]),
        Insn::Load {
            size,
            signed,
            dst,
            src,
            off,
        } => {
            let (d, s) = (dst.index(), src.index());
            let base = read(st, s)?;
            check_writable(d)?;
            let v = load(env, st, s, &base, off as i64, size, signed)?;
            st.set_reg(d, v);
            Ok(Step::Next(pc + 1))
        }
        Insn::Store {
            size,
            dst,
            off,
            src,
        } => {
            let d = dst.index();
            let base = read(st, d)?;
            let value = match src {
                Operand::Reg(r) => match read(st, r.index())? {
                    // A number spilled whole stays linked to its register
                    // (as in Linux), so a branch on one narrows the other.
                    RegState::Scalar { value, id: 0 }
                        if size == Size::DW
                            && value.as_const().is_none()
                            && matches!(
                                base,
                                RegState::Ptr(Pointer {
                                    kind: PtrKind::Stack { .. },
                                    ..
                                })
                            ) =>
                    {
                        let id = env.new_id();
                        st.set_reg(r.index(), RegState::Scalar { value, id });
                        RegState::Scalar { value, id }
                    }
                    v => v,
                },
                Operand::Imm(i) => RegState::constant(i as i64 as u64),
            };
            store(env, st, d, &base, off as i64, size, value)?;
            Ok(Step::Next(pc + 1))
        }
        Insn::Atomic {
            size,
            op,
            dst,
            src,
            off,
        } => {
            atomic(env, st, size, op, dst.index(), src.index(), off as i64)?;
            Ok(Step::Next(pc + 1))
        }
        Insn::LdPacket { size, index, .. } => {
            if !matches!(env.prog.kernel_type, Some(1 | 3 | 4)) {
                return fault(
                    format!(
                        "legacy packet loads (LD_ABS/LD_IND) are not allowed in {} programs",
                        env.prog.name
                    ),
                    &[],
                );
            }
            if st.lock.is_some() {
                return fault(
                    "legacy packet loads cannot be used while a bpf_spin_lock is held",
                    &[],
                );
            }
            if !st.refs.is_empty() {
                return fault(
                    "legacy packet loads cannot be used while a reference is held",
                    &[],
                );
            }
            if !matches!(
                read(st, 6)?,
                RegState::Ptr(Pointer {
                    kind: PtrKind::Ctx,
                    off: 0,
                    var,
                    ..
                }) if var.as_const() == Some(0)
            ) {
                return fault(
                    "legacy packet loads need r6 to hold the context pointer",
                    &[6],
                );
            }
            if let Some(i) = index {
                if !matches!(read(st, i.index())?, RegState::Scalar { .. }) {
                    return fault(
                        format!("the index {} of a legacy packet load must be a number", i),
                        &[i.index()],
                    );
                }
            }
            for r in 1..=5 {
                st.set_reg(r, RegState::NotInit);
            }
            st.set_reg(0, RegState::scalar(Scalar::UNKNOWN.truncate(size.bytes())));
            Ok(Step::Next(pc + 1))
        }
        Insn::Ja { .. } => Ok(Step::Next(insn.branch_target(pc).unwrap_or(0) as usize)),
        Insn::Jump {
            width,
            cond,
            dst,
            src,
            ..
        } => {
            let target = insn.branch_target(pc).unwrap_or(0) as usize;
            jump(env, st, pc, target, width, cond, dst.index(), src)
        }
        Insn::MayGoto { .. } => {
            let target = insn.branch_target(pc).unwrap_or(0) as usize;
            Ok(Step::Branch(vec![
                (pc + 1, st.clone(), false),
                (target, st.clone(), true),
            ]))
        }
        Insn::Call(CallTarget::Helper(id)) => call_helper(env, st, pc, id),
        Insn::Call(CallTarget::Local(_)) => {
            let target = insn.branch_target(pc).unwrap_or(0) as usize;
            if st.lock.is_some() {
                return fault(
                    "functions may not be called while a bpf_spin_lock is held",
                    &[],
                );
            }
            if st.frames.len() >= MAX_CALL_FRAMES {
                return fault(
                    format!("the call stack is too deep: at most {MAX_CALL_FRAMES} frames"),
                    &[],
                );
            }
            let frame = st.frames.len() as u8;
            let mut f = FuncState::new(frame, target, Some(pc));
            for r in 1..=5 {
                f.regs[r] = *st.reg(r as u8);
            }
            st.frames.push(f);
            Ok(Step::Next(target))
        }
        Insn::Call(CallTarget::Kfunc { btf_id, .. }) => fault(
            format!("calls of kernel functions (kfunc BTF id {btf_id}) are not supported"),
            &[],
        ),
        Insn::CallX { reg } => fault(format!("indirect calls (callx {reg}) are not allowed"), &[]),
        Insn::Exit => exit(env, st),
    }
}

fn sane_offset(kind: PtrKind, v: &Scalar, what: &str) -> R<()> {
    if let Some(c) = v.as_const() {
        let c = c as i64;
        if c >= MAX_VAR_OFF || c <= -MAX_VAR_OFF {
            return fault(
                format!(
                    "adding {c} to a {} pointer is not allowed: offsets are limited to ±2^29",
                    kind.name()
                ),
                &[],
            );
        }
        return Ok(());
    }
    if v.smin == i64::MIN || v.smax == i64::MAX {
        return fault(format!("math between a {} pointer and {what} with unbounded value is not allowed: bound it first (e.g. `&= const` or `if x < const`)", kind.name()), &[]);
    }
    if v.smin <= -MAX_VAR_OFF || v.smin >= MAX_VAR_OFF {
        return fault(
            format!(
                "{what} (in [{}, {}]) makes the {} pointer go out of bounds",
                v.smin,
                v.smax,
                kind.name()
            ),
            &[],
        );
    }
    Ok(())
}

fn alu(env: &mut Env, st: &mut State, width: Width, op: AluOp, d: u8, src: Operand) -> R<()> {
    check_writable(d)?;
    let (sv, sreg) = match src {
        Operand::Reg(r) => (read(st, r.index())?, Some(r.index())),
        Operand::Imm(i) => {
            let v = match width {
                Width::W64 => i as i64 as u64,
                Width::W32 => i as u32 as u64,
            };
            (RegState::constant(v), None)
        }
    };
    let bits = if width == Width::W32 { 32 } else { 64 };
    if let Operand::Imm(i) = src {
        if matches!(op, AluOp::Div | AluOp::SDiv | AluOp::Mod | AluOp::SMod) && i == 0 {
            return fault("division by zero", &[]);
        }
        if matches!(op, AluOp::Lsh | AluOp::Rsh | AluOp::Arsh) && (i < 0 || i >= bits) {
            return fault(
                format!("invalid shift {i}: shifts of {bits}-bit values must be below {bits}"),
                &[],
            );
        }
    }
    match op {
        AluOp::Mov => {
            let v = match (width, sv) {
                (Width::W64, RegState::Scalar { value, id })
                    if sreg.is_some() && value.as_const().is_none() =>
                {
                    let id = if id == 0 {
                        let id = env.new_id();
                        st.set_reg(sreg.unwrap_or(0), RegState::Scalar { value, id });
                        id
                    } else {
                        id
                    };
                    RegState::Scalar { value, id }
                }
                (Width::W64, v) => v,
                (Width::W32, RegState::Scalar { value, .. }) => RegState::scalar(value.zext32()),
                (Width::W32, _) => RegState::scalar(Scalar::UNKNOWN.truncate(4)),
            };
            st.set_reg(d, v);
            return Ok(());
        }
        AluOp::MovSx8 | AluOp::MovSx16 | AluOp::MovSx32 => {
            let RegState::Scalar { value, .. } = sv else {
                return fault(
                    format!(
                        "sign extension of a pointer ({}) is not allowed",
                        reg_name(sreg.unwrap_or(0))
                    ),
                    &[sreg.unwrap_or(0)],
                );
            };
            st.set_reg(d, RegState::scalar(value.alu(op, width, &value)));
            return Ok(());
        }
        _ => {}
    }
    let dv = read(st, d)?;
    let result = match (dv, sv) {
        (RegState::Scalar { .. }, RegState::Scalar { value: b, .. })
            if matches!(op, AluOp::Lsh | AluOp::Rsh | AluOp::Arsh) && b.umax >= bits as u64 =>
        {
            // A shift by a register that may reach the width: Linux forgets
            // all 64 bits (even of a 32-bit shift); so do we, to reject what
            // it rejects.
            RegState::UNKNOWN
        }
        (RegState::Scalar { value: a, .. }, RegState::Scalar { value: b, .. }) => {
            RegState::scalar(a.alu(op, width, &b))
        }
        (RegState::Ptr(p), RegState::Ptr(_)) => {
            if op == AluOp::Sub {
                // Linux (privileged) forgets all 64 bits, even of a 32-bit
                // subtraction; so do we, to reject what it rejects.
                RegState::UNKNOWN
            } else {
                let _ = p;
                return fault(
                    format!(
                        "{} {} {}: combining two pointers is not allowed (only subtraction)",
                        reg_name(d),
                        op_name(op),
                        reg_name(sreg.unwrap_or(0))
                    ),
                    &[d, sreg.unwrap_or(0)],
                );
            }
        }
        (RegState::Scalar { .. }, RegState::Ptr(_)) if width == Width::W32 && op == AluOp::Sub => {
            // `w0 -= w1` with a pointer in w1 (clang's `(int)(data - meta)`
            // after a 32-bit copy of `data`): Linux (privileged) makes any
            // 32-bit subtraction involving a pointer an unknown number.
            RegState::UNKNOWN
        }
        (RegState::Scalar { value, .. }, RegState::Ptr(p)) => {
            if op == AluOp::Sub {
                return fault(
                    format!(
                        "{} -= {}: subtracting a pointer from a number is not allowed",
                        reg_name(d),
                        reg_name(sreg.unwrap_or(0))
                    ),
                    &[d, sreg.unwrap_or(0)],
                );
            }
            ptr_arith(
                env.new_id(),
                st,
                width,
                op,
                d,
                p,
                value,
                sreg.unwrap_or(0),
                true,
            )?
        }
        (RegState::Ptr(p), RegState::Scalar { value, .. }) => ptr_arith(
            env.new_id(),
            st,
            width,
            op,
            d,
            p,
            value,
            sreg.unwrap_or(d),
            false,
        )?,
        _ => unreachable!("read() rejects uninitialized registers"),
    };
    st.set_reg(d, result);
    Ok(())
}

#[allow(clippy::too_many_arguments)]
fn ptr_arith(
    new_id: u32,
    st: &State,
    width: Width,
    op: AluOp,
    d: u8,
    p: Pointer,
    v: Scalar,
    other: u8,
    ptr_is_src: bool,
) -> R<RegState> {
    let preg = if ptr_is_src { other } else { d };
    let _ = st;
    if width == Width::W32 {
        if op == AluOp::Sub {
            // Linux forgets all 64 bits here (no zero extension).
            return Ok(RegState::UNKNOWN);
        }
        return fault(
            format!(
                "32-bit arithmetic on a pointer ({} is {}) is not allowed",
                reg_name(preg),
                p.kind.describe()
            ),
            &[preg],
        );
    }
    if p.kind.may_be_null() {
        return fault(
            format!(
                "{} is {}: check it against 0 before doing arithmetic on it",
                reg_name(preg),
                p.kind.describe()
            ),
            &[preg],
        );
    }
    if matches!(
        p.kind,
        PtrKind::PacketEnd | PtrKind::Map { .. } | PtrKind::Func { .. }
    ) {
        return fault(
            format!(
                "arithmetic on {} ({}) is not allowed",
                reg_name(preg),
                p.kind.describe()
            ),
            &[preg],
        );
    }
    let mut q = p;
    match op {
        AluOp::Add | AluOp::Sub => {
            if op == AluOp::Sub && matches!(p.kind, PtrKind::Stack { .. }) {
                return fault(format!("subtraction from a stack pointer ({}) is not allowed; add a negative number instead", reg_name(preg)), &[preg]);
            }
            let what = if other == d {
                "an immediate".to_string()
            } else {
                reg_name(other)
            };
            sane_offset(p.kind, &v, &what)?;
            match v.as_const() {
                Some(c) => {
                    let c = c as i64;
                    let off = if op == AluOp::Add {
                        p.off as i64 + c
                    } else {
                        p.off as i64 - c
                    };
                    if off >= MAX_VAR_OFF || off <= -MAX_VAR_OFF {
                        return fault(
                            format!("the {} pointer offset {off} is not allowed", p.kind.name()),
                            &[preg],
                        );
                    }
                    q.off = off as i32;
                }
                None => {
                    q.var = p.var.alu(op, Width::W64, &v);
                    sane_offset(p.kind, &q.var, "the resulting offset")?;
                    if matches!(p.kind, PtrKind::Packet | PtrKind::PacketMeta) {
                        // A new variable part: the proven range no longer applies.
                        q.id = new_id;
                        q.range = 0;
                    }
                }
            }
            Ok(RegState::Ptr(q))
        }
        AluOp::And | AluOp::Or | AluOp::Xor => fault(
            format!(
                "bitwise operation {} on a pointer ({} is {}) is not allowed",
                op_name(op),
                reg_name(preg),
                p.kind.describe()
            ),
            &[preg],
        ),
        _ => fault(
            format!(
                "pointer arithmetic with {} is not allowed ({} is {})",
                op_name(op),
                reg_name(preg),
                p.kind.describe()
            ),
            &[preg],
        ),
    }
}

/// The byte interval `[lo, hi)` an access of `size` at `off` through `p` may touch.
fn access_span(p: &Pointer, off: i64, size: u32) -> (i128, i128) {
    let base = p.off as i128 + off as i128;
    (
        base + p.var.smin as i128,
        base + p.var.smax as i128 + size as i128,
    )
}

fn region_fault<T>(r: u8, p: &Pointer, off: i64, size: u32, what: &str) -> R<T> {
    let desc = RegState::Ptr(*p).describe();
    fault(
        format!(
            "{}{:+} with size {size} is outside {what}: {} is {desc}",
            reg_name(r),
            off,
            reg_name(r)
        ),
        &[r],
    )
}

/// Check that `size` bytes at `r + off` may be accessed (`write` or read),
/// for loads, stores, atomics and helper memory arguments. Returns nothing;
/// the caller computes what is read.
#[allow(clippy::too_many_arguments)]
fn check_region(
    env: &mut Env,
    st: &mut State,
    r: u8,
    p: &Pointer,
    off: i64,
    size: u32,
    write: bool,
    insn_access: bool,
) -> R<()> {
    if p.kind.may_be_null() {
        return fault(
            format!(
                "{} is {}: check it against 0 before accessing memory through it",
                reg_name(r),
                p.kind.describe()
            ),
            &[r],
        );
    }
    let (lo, hi) = access_span(p, off, size);
    match p.kind {
        PtrKind::MapValue { map, .. } => {
            let info = *env.map(map);
            if p.var.smin < 0 && p.var.as_const().is_none() {
                return fault(
                    format!(
                        "{}'s offset may be negative ({}): use an unsigned bound or `&= const`",
                        reg_name(r),
                        p.var.smin
                    ),
                    &[r],
                );
            }
            if lo < 0 || hi > info.value_size as i128 {
                return region_fault(
                    r,
                    p,
                    off,
                    size,
                    &format!("the map value ({} bytes)", info.value_size),
                );
            }
            if let Some(l) = info.spin_lock_offset {
                if insn_access && lo < l as i128 + 4 && hi > l as i128 {
                    return fault(format!("{}{:+} would touch the map value's bpf_spin_lock (offset {l}): locks may only be used through bpf_spin_lock/unlock", reg_name(r), off), &[r]);
                }
            }

            if write && info.flags & F_RDONLY_PROG != 0 {
                return fault(
                    format!(
                        "the map {} points into is read-only for programs",
                        reg_name(r)
                    ),
                    &[r],
                );
            }
            Ok(())
        }
        PtrKind::Mem { size: msize, .. } => {
            if lo < 0 || hi > msize as i128 {
                return region_fault(
                    r,
                    p,
                    off,
                    size,
                    &format!("the memory region ({msize} bytes)"),
                );
            }
            Ok(())
        }
        PtrKind::Packet | PtrKind::PacketMeta => {
            if write && !env.prog.direct_packet_access && env.prog.kernel_type.is_some() {
                return fault(
                    format!(
                        "{} programs may not write the packet directly",
                        env.prog.name
                    ),
                    &[r],
                );
            }
            if p.var.smin < 0 {
                return fault(format!("{}'s offset may be negative", reg_name(r)), &[r]);
            }
            let fixed = p.off as i64 + off;
            if fixed < 0 || fixed + size as i64 > p.range as i64 {
                return fault(format!(
                    "{}{:+} with size {size} is not proven inside the packet: {} is {}. Compare a pointer to the end of the access with the packet end first",
                    reg_name(r), off, reg_name(r), RegState::Ptr(*p).describe()
                ), &[r]);
            }
            Ok(())
        }
        PtrKind::Stack { frame } => {
            if lo < -(STACK_SIZE as i128) || hi > 0 {
                return region_fault(r, p, off, size, "the 512-byte stack frame");
            }
            if insn_access && p.var.as_const().is_some() && (p.off as i64 + off) % size as i64 != 0
            {
                return fault(
                    format!(
                        "misaligned stack access: {}{:+} (offset {}) with size {size}",
                        reg_name(r),
                        off,
                        p.off as i64 + off
                    ),
                    &[r],
                );
            }
            env.note_stack(st, frame, lo as i64);
            Ok(())
        }
        PtrKind::Ctx => {
            if p.off != 0 || p.var.as_const() != Some(0) {
                return fault(format!("{} is a modified context pointer ({}); context fields must be accessed as r1+offset with the original pointer", reg_name(r), RegState::Ptr(*p).describe()), &[r]);
            }
            Ok(())
        }
        PtrKind::PacketEnd => fault(
            format!(
                "{} is the packet end pointer, which cannot be dereferenced",
                reg_name(r)
            ),
            &[r],
        ),
        PtrKind::Map { .. } => fault(
            format!(
                "{} points to a map itself, which cannot be dereferenced; look an element up first",
                reg_name(r)
            ),
            &[r],
        ),
        PtrKind::Func { .. } => fault(
            format!(
                "{} is a function address, which cannot be dereferenced",
                reg_name(r)
            ),
            &[r],
        ),
    }
}

fn not_a_pointer<T>(r: u8, v: &RegState) -> R<T> {
    fault(
        format!(
            "{} is {}, not a pointer, so memory cannot be accessed through it",
            reg_name(r),
            v.describe()
        ),
        &[r],
    )
}

fn extend(v: Scalar, size: Size, signed: bool) -> Scalar {
    if signed {
        v.sign_extend(size.bytes())
    } else {
        v.truncate(size.bytes())
    }
}

fn load(
    env: &mut Env,
    st: &mut State,
    r: u8,
    base: &RegState,
    off: i64,
    size: Size,
    signed: bool,
) -> R<RegState> {
    let RegState::Ptr(p) = base else {
        return not_a_pointer(r, base);
    };
    check_region(env, st, r, p, off, size.bytes(), false, true)?;
    let n = size.bytes() as i64;
    match p.kind {
        PtrKind::Stack { frame } => {
            let fr = &st.frames[frame as usize].stack;
            match p.const_offset() {
                Some(o) => {
                    let at = o + off;
                    if n == 8 {
                        if let Some(spilled) = fr.spilled(at) {
                            return Ok(*spilled);
                        }
                    }
                    if n < 8 {
                        if let Some(RegState::Scalar { value, .. }) = fr.spilled_narrow(at, n as u8)
                        {
                            return Ok(RegState::scalar(extend(*value, size, signed)));
                        }
                    }
                    if fr.overlaps_spilled_pointer(at, n) {
                        return fault(format!("{}{:+} reads {n} bytes of a spilled pointer: pointers on the stack can only be read back whole (8 bytes)", reg_name(r), off), &[r]);
                    }
                    match fr.read_scalar(at, n, env.opts.allow_uninit_stack) {
                        Some(v) => Ok(RegState::scalar(extend(v, size, signed))),
                        None => fault(format!("{}{:+} reads stack bytes (offset {at}, size {n}) that were never written on this path", reg_name(r), off), &[r]),
                    }
                }
                None => {
                    let (lo, hi) = access_span(p, off, size.bytes());
                    for o in lo as i64..hi as i64 {
                        if fr.overlaps_spilled_pointer(o, 1) {
                            return fault(
                                format!(
                                    "{}{:+} (variable offset) may read part of a spilled pointer",
                                    reg_name(r),
                                    off
                                ),
                                &[r],
                            );
                        }
                        if fr.read_scalar(o, 1, env.opts.allow_uninit_stack).is_none() {
                            return fault(format!("{}{:+} (variable offset, bytes {lo}..{hi}) may read stack bytes that were never written", reg_name(r), off), &[r]);
                        }
                    }
                    Ok(RegState::scalar(extend(Scalar::UNKNOWN, size, signed)))
                }
            }
        }
        PtrKind::Ctx => match &env.prog.context {
            ContextKind::Struct(layout) => match layout.check(off, size.bytes(), false) {
                Ok(FieldKind::Scalar) => {
                    Ok(RegState::scalar(extend(Scalar::UNKNOWN, size, signed)))
                }
                Ok(k) => {
                    let kind = match k {
                        FieldKind::PacketData => PtrKind::Packet,
                        FieldKind::PacketEnd => PtrKind::PacketEnd,
                        _ => PtrKind::PacketMeta,
                    };
                    Ok(RegState::ptr(kind))
                }
                Err(e) => fault(
                    format!(
                        "invalid context access {}{:+} size {}: {}",
                        reg_name(r),
                        off,
                        n,
                        e.reason
                    ),
                    &[r],
                ),
            },
            _ => fault("this program type has no context structure", &[r]),
        },
        _ => Ok(RegState::scalar(extend(Scalar::UNKNOWN, size, signed))),
    }
}

fn store(
    env: &mut Env,
    st: &mut State,
    r: u8,
    base: &RegState,
    off: i64,
    size: Size,
    value: RegState,
) -> R<()> {
    let RegState::Ptr(p) = base else {
        return not_a_pointer(r, base);
    };
    check_region(env, st, r, p, off, size.bytes(), true, true)?;
    let n = size.bytes() as i64;
    match p.kind {
        PtrKind::Stack { frame } => {
            if let RegState::Ptr(vp) = value {
                if let PtrKind::Stack { frame: vf } = vp.kind {
                    if vf > frame {
                        return fault("a pointer into a callee's stack cannot be stored into a caller's stack frame", &[r]);
                    }
                }
            }
            let fr = &mut st.frames[frame as usize].stack;
            match p.const_offset() {
                Some(o) => {
                    let at = o + off;
                    if n == 8 {
                        let v = match value {
                            RegState::Scalar { value, id } => RegState::Scalar { value, id },
                            v => v,
                        };
                        fr.spill(at, v);
                    } else {
                        if matches!(value, RegState::Ptr(_)) {
                            return fault(format!("storing a pointer with a {n}-byte store would keep only part of it: pointers are spilled whole (8 bytes)"), &[r]);
                        }
                        match value {
                            RegState::Scalar { value: v, .. } if at % 8 == 0 => {
                                fr.spill_narrow(
                                    at,
                                    RegState::scalar(v.truncate(n as u32)),
                                    n as u8,
                                );
                            }
                            _ => {
                                let zero = value
                                    .as_scalar()
                                    .is_some_and(|v| v.truncate(n as u32).is_zero());
                                fr.write_bytes(at, n, zero);
                            }
                        }
                    }
                }
                None => {
                    let (lo, hi) = access_span(p, off, size.bytes());
                    fr.clobber(lo as i64, (hi - lo) as i64);
                }
            }
            Ok(())
        }
        PtrKind::Ctx => match &env.prog.context {
            ContextKind::Struct(layout) => match layout.check(off, size.bytes(), true) {
                Ok(_) => Ok(()),
                Err(e) => fault(
                    format!(
                        "invalid context write {}{:+} size {}: {}",
                        reg_name(r),
                        off,
                        n,
                        e.reason
                    ),
                    &[r],
                ),
            },
            _ => fault("this program type has no context structure", &[r]),
        },
        _ => Ok(()),
    }
}

fn atomic(
    env: &mut Env,
    st: &mut State,
    size: Size,
    op: AtomicOp,
    d: u8,
    s: u8,
    off: i64,
) -> R<()> {
    match op {
        AtomicOp::LoadAcquire => {
            let base = read(st, s)?;
            check_atomic_alignment(&base, s, off, size)?;
            check_writable(d)?;
            let v = load(env, st, s, &base, off, size, false)?;
            st.set_reg(d, v);
            return Ok(());
        }
        AtomicOp::StoreRelease => {
            let base = read(st, d)?;
            check_atomic_alignment(&base, d, off, size)?;
            let v = read(st, s)?;
            return store(env, st, d, &base, off, size, v);
        }
        _ => {}
    }
    let base = read(st, d)?;
    let v = read(st, s)?;
    if op == AtomicOp::CmpXchg {
        read(st, 0)?;
    }
    let RegState::Ptr(p) = base else {
        return not_a_pointer(d, &base);
    };
    if !matches!(
        p.kind,
        PtrKind::Stack { .. } | PtrKind::MapValue { .. } | PtrKind::Mem { .. }
    ) {
        return fault(
            format!(
                "atomic operations on {} ({}) are not allowed",
                reg_name(d),
                p.kind.describe()
            ),
            &[d],
        );
    }
    if matches!(v, RegState::Ptr(_)) && !matches!(op, AtomicOp::Xchg | AtomicOp::CmpXchg) {
        return fault(
            format!(
                "atomic arithmetic with a pointer ({}) is not allowed",
                reg_name(s)
            ),
            &[s],
        );
    }
    // Atomics must be naturally aligned (Linux checks this for every
    // architecture); regions start 8-aligned, so the offset decides.
    let n = size.bytes() as u64;
    let total = p
        .var
        .var
        .add(crate::tnum::Tnum::constant((p.off as i64 + off) as u64));
    if total.value & (n - 1) != 0 || total.mask & (n - 1) != 0 {
        return fault(
            format!(
                "misaligned atomic access: {}{:+} may not be a multiple of {n}",
                reg_name(d),
                off
            ),
            &[d],
        );
    }
    // Read (must be initialized), then write.
    load(env, st, d, &base, off, size, false)?;
    store(env, st, d, &base, off, size, RegState::UNKNOWN)?;
    if let PtrKind::Stack { frame } = p.kind {
        if let Some(o) = p.const_offset() {
            st.frames[frame as usize]
                .stack
                .clobber(o + off, size.bytes() as i64);
        }
    }
    let out = RegState::scalar(Scalar::UNKNOWN.truncate(size.bytes()));
    match op {
        AtomicOp::Add { fetch: true }
        | AtomicOp::Or { fetch: true }
        | AtomicOp::And { fetch: true }
        | AtomicOp::Xor { fetch: true }
        | AtomicOp::Xchg => {
            check_writable(s)?;
            st.set_reg(s, out);
        }
        AtomicOp::CmpXchg => st.set_reg(0, out),
        _ => {}
    }
    Ok(())
}

fn check_atomic_alignment(base: &RegState, r: u8, off: i64, size: Size) -> R<()> {
    if let RegState::Ptr(p) = base {
        let n = size.bytes() as u64;
        let total = p
            .var
            .var
            .add(crate::tnum::Tnum::constant((p.off as i64 + off) as u64));
        if total.value & (n - 1) != 0 || total.mask & (n - 1) != 0 {
            return fault(
                format!(
                    "misaligned atomic access: {}{:+} may not be a multiple of {n}",
                    reg_name(r),
                    off
                ),
                &[r],
            );
        }
    }
    Ok(())
}

/// Give every register linked to `id` (copies of one number) the value `v`.
fn sync_linked(st: &mut State, id: u32, v: Scalar) {
    if id == 0 {
        return;
    }
    st.for_each_reg_mut(|r| {
        if let RegState::Scalar { value, id: rid } = r {
            if *rid == id {
                *value = v;
            }
        }
    });
}

#[allow(clippy::too_many_arguments)]
fn jump(
    env: &mut Env,
    st: &mut State,
    pc: usize,
    target: usize,
    width: Width,
    cond: JmpCond,
    d: u8,
    src: Operand,
) -> R<Step> {
    let _ = env;
    let dv = read(st, d)?;
    let (sv, sreg) = match src {
        Operand::Reg(r) => (read(st, r.index())?, Some(r.index())),
        Operand::Imm(i) => {
            let v = match width {
                Width::W64 => i as i64 as u64,
                Width::W32 => i as u32 as u64,
            };
            (RegState::constant(v), None)
        }
    };
    let _ = pc;
    let mut out = vec![];
    for taken in [false, true] {
        let mut s = if taken {
            std::mem::replace(
                st,
                State {
                    frames: vec![],
                    refs: vec![],
                    lock: None,
                },
            )
        } else {
            st.clone()
        };
        let feasible = branch_side(&mut s, width, cond, d, &dv, sreg, &sv, taken);
        if feasible {
            out.push((if taken { target } else { pc + 1 }, s, taken));
        }
    }
    Ok(Step::Branch(out))
}

/// Narrow `s` to the side `taken` of `d cond src`. False if that side is impossible.
#[allow(clippy::too_many_arguments)]
fn branch_side(
    s: &mut State,
    width: Width,
    cond: JmpCond,
    d: u8,
    dv: &RegState,
    sreg: Option<u8>,
    sv: &RegState,
    taken: bool,
) -> bool {
    match (dv, sv) {
        (RegState::Scalar { value: a, id: ia }, RegState::Scalar { value: b, id: ib }) => {
            // A value compared with itself (the same register, or copies
            // with one id) is decided by the ranges alone, as in Linux,
            // which explores both sides of `r1 >= r1` and rejects what the
            // impossible side would do.
            match refine(a, cond, width, b, taken) {
                None => false,
                Some((na, nb)) => {
                    s.set_reg(d, RegState::Scalar { value: na, id: *ia });
                    sync_linked(s, *ia, na);
                    if let Some(r) = sreg {
                        s.set_reg(r, RegState::Scalar { value: nb, id: *ib });
                        sync_linked(s, *ib, nb);
                    }
                    true
                }
            }
        }
        (RegState::Ptr(p), RegState::Scalar { value, .. })
        | (RegState::Scalar { value, .. }, RegState::Ptr(p)) => {
            let preg = if matches!(dv, RegState::Ptr(_)) {
                d
            } else {
                sreg.unwrap_or(d)
            };
            if width == Width::W64 && value.is_zero() && matches!(cond, JmpCond::Eq | JmpCond::Ne) {
                let is_null = (cond == JmpCond::Eq) == taken;
                if p.kind.may_be_null() {
                    mark_null_check(s, p, preg, is_null);
                    return true;
                }
                let never_null = matches!(p.kind, PtrKind::MapValue { .. } | PtrKind::Mem { .. });
                if never_null && is_null {
                    return false;
                }
            }
            true
        }
        (RegState::Ptr(a), RegState::Ptr(b)) => {
            if width == Width::W64 {
                packet_range(s, cond, d, a, sreg.unwrap_or(d), b, taken);
            }
            true
        }
        _ => true,
    }
}

/// After `p == 0` (`is_null`) or `p != 0`: every copy of `p` becomes the
/// number 0 or the non-null pointer; a NULL reservation releases its reference.
fn mark_null_check(s: &mut State, p: &Pointer, preg: u8, is_null: bool) {
    let id = p.id;
    let ref_id = p.ref_id;
    let apply = |r: &mut RegState| {
        if let RegState::Ptr(q) = r {
            if q.kind.may_be_null() && (q.id == id && id != 0) {
                if is_null {
                    *r = RegState::constant(0);
                } else {
                    q.kind = q.kind.non_null();
                }
            }
        }
    };
    if id == 0 {
        // Only this register is known to hold it.
        let r = &mut s.cur_mut().regs[preg as usize];
        if is_null {
            *r = RegState::constant(0);
        } else if let RegState::Ptr(q) = r {
            q.kind = q.kind.non_null();
        }
    } else {
        s.for_each_reg_mut(apply);
    }
    if is_null && ref_id != 0 {
        s.refs.retain(|r| r.id != ref_id);
    }
}

/// After comparing a packet pointer with the packet end (or a metadata
/// pointer with the data start): every packet pointer with the same id gets
/// the proven range on the side where the access is in bounds.
fn packet_range(
    s: &mut State,
    cond: JmpCond,
    d: u8,
    a: &Pointer,
    sr: u8,
    b: &Pointer,
    taken: bool,
) {
    let _ = (d, sr);
    // Normalize to `pkt <cond> end`.
    let (pkt, cond) = match (a.kind, b.kind) {
        (PtrKind::Packet, PtrKind::PacketEnd) | (PtrKind::PacketMeta, PtrKind::Packet) => (a, cond),
        (PtrKind::PacketEnd, PtrKind::Packet) | (PtrKind::Packet, PtrKind::PacketMeta) => {
            (b, swap(cond))
        }
        _ => return,
    };
    if pkt.var.umax > MAX_VAR_OFF as u64 || pkt.off < 0 {
        return;
    }
    // Which side proves pkt + off <= end, and how many bytes.
    let proven = match (cond, taken) {
        (JmpCond::Gt, false) | (JmpCond::Le, true) => pkt.off as u32,
        (JmpCond::Ge, false) | (JmpCond::Lt, true) => pkt.off as u32 + 1,
        _ => return,
    };
    // `pkt < end` proves off+1 bytes only as a bound: the kernel treats it as off.
    let proven = if matches!((cond, taken), (JmpCond::Ge, false) | (JmpCond::Lt, true)) {
        proven - 1
    } else {
        proven
    };
    let kind = pkt.kind;
    let id = pkt.id;
    let var = pkt.var;
    s.for_each_reg_mut(|r| {
        if let RegState::Ptr(q) = r {
            if q.kind == kind && q.id == id && q.var == var {
                q.range = q.range.max(proven);
            }
        }
    });
}

fn exit(env: &mut Env, st: &mut State) -> R<Step> {
    if st.lock.is_some() {
        return fault(
            "exit while a bpf_spin_lock is held: bpf_spin_unlock is missing on this path",
            &[],
        );
    }
    let r0 = read(st, 0)?;
    if st.frames.len() > 1 {
        let RegState::Scalar { value, .. } = r0 else {
            return fault(
                format!(
                    "a function must return a number, but r0 is {}",
                    r0.describe()
                ),
                &[0],
            );
        };
        if st.cur().is_callback && (value.smin < 0 || value.smax > 1) {
            return fault(
                format!("a callback must return 0 or 1, but r0 is {}", r0.describe()),
                &[0],
            );
        }
        let callee = st.frames.pop().expect("more than one frame");
        let callsite = callee.callsite.unwrap_or(0);
        if callee.is_callback {
            // Either the helper returns, or it calls the callback again
            // (re-executing the call with the caller's arguments intact).
            let mut again = st.clone();
            let rounds = &mut again.cur_mut().callback_rounds;
            *rounds = rounds.saturating_add(1);
            st.cur_mut().callback_rounds = 0;
            st.set_reg(0, RegState::UNKNOWN);
            for r in 1..=5 {
                st.set_reg(r, RegState::NotInit);
            }
            let done = std::mem::replace(
                st,
                State {
                    frames: vec![],
                    refs: vec![],
                    lock: None,
                },
            );
            return Ok(Step::Branch(vec![
                (callsite + 1, done, false),
                (callsite, again, true),
            ]));
        } else {
            st.set_reg(0, RegState::scalar(value));
        }
        for r in 1..=5 {
            st.set_reg(r, RegState::NotInit);
        }
        return Ok(Step::Next(callsite + 1));
    }
    if let Some(r) = st.refs.first() {
        return fault(format!("the reference acquired at pc {} (id {}) is not released on this path: submit or discard it before exiting", r.pc, r.id), &[]);
    }
    if let Some((lo, hi)) = env.prog.return_range {
        match r0 {
            RegState::Scalar { value, .. } if value.smin >= lo && value.smax <= hi => {}
            _ => {
                return fault(
                    format!(
                        "{} programs must return a number in [{lo}, {hi}], but r0 is {}",
                        env.prog.name,
                        r0.describe()
                    ),
                    &[0],
                );
            }
        }
    }
    Ok(Step::Exit)
}

/// Check a memory argument `r` (`p`) for `size` bytes (`0..=umax`).
fn mem_arg(env: &mut Env, st: &mut State, r: u8, v: &RegState, size: u64, write: bool) -> R<()> {
    if size == 0 {
        return Ok(());
    }
    let RegState::Ptr(p) = v else {
        return fault(
            format!(
                "{} must point to memory, but it is {}",
                reg_name(r),
                v.describe()
            ),
            &[r],
        );
    };
    if matches!(p.kind, PtrKind::Ctx) {
        return fault(
            format!(
                "{} points to the context, which cannot be passed as a memory buffer",
                reg_name(r)
            ),
            &[r],
        );
    }
    let size32 = size.min(u32::MAX as u64) as u32;
    check_region(env, st, r, p, 0, size32, write, false)?;
    if let PtrKind::Stack { frame } = p.kind {
        let (lo, hi) = access_span(p, 0, size32);
        let fr = &mut st.frames[frame as usize].stack;
        if write {
            fr.clobber(lo as i64, (hi - lo) as i64);
        } else {
            for o in lo as i64..hi as i64 {
                if fr.read_scalar(o, 1, env.opts.allow_uninit_stack).is_none()
                    && fr.spilled(o - o.rem_euclid(8)).is_none()
                {
                    return fault(format!("{} points to stack bytes (offset {o}) that were never written, but the helper reads {size} bytes from it", reg_name(r)), &[r]);
                }
            }
        }
    }
    Ok(())
}

fn call_helper(env: &mut Env, st: &mut State, pc: usize, id: i32) -> R<Step> {
    let Some(proto) = helper(id) else {
        return fault(format!("unknown helper function #{id}"), &[]);
    };
    if !proto.groups.intersects(env.prog.helpers) {
        return fault(
            format!(
                "{} programs may not call bpf_{}#{id}",
                env.prog.name, proto.name
            ),
            &[],
        );
    }
    let mut map: Option<MapSlot> = None;
    let mut pending_mem: Option<(u8, RegState, bool)> = None;
    let mut alloc_size = 0u32;
    let mut release: Option<u32> = None;
    let mut callback: Option<u32> = None;
    let key_reg = *st.reg(2);
    let mut lock_arg: Option<(u32, u32)> = None;
    if st.lock.is_some() && proto.id != 94 {
        return fault(
            format!(
                "bpf_{} may not be called while a bpf_spin_lock is held: unlock it first",
                proto.name
            ),
            &[],
        );
    }
    for (i, arg) in proto.args.iter().enumerate() {
        let r = i as u8 + 1;
        let v = read(st, r)?;
        let expect = |what: &str| -> R<Step> {
            fault(
                format!(
                    "argument {} of bpf_{} must be {what}, but {} is {}",
                    r,
                    proto.name,
                    reg_name(r),
                    v.describe()
                ),
                &[r],
            )
        };
        match arg {
            Arg::Anything => {}
            Arg::Map => {
                let RegState::Ptr(Pointer {
                    kind:
                        PtrKind::Map {
                            map: m,
                            or_null: false,
                        },
                    ..
                }) = v
                else {
                    return expect("a map");
                };
                let info = *env.map(m);
                let ok = if proto.map_types.is_empty() {
                    info.has_values()
                } else {
                    proto.map_types.contains(&info.map_type)
                };
                if !ok {
                    return fault(
                        format!(
                            "bpf_{} cannot be used with map #{m} of type {}",
                            proto.name, info.map_type
                        ),
                        &[r],
                    );
                }
                map = Some(m);
            }
            Arg::MapKey | Arg::MapValue | Arg::MapValueOut => {
                let Some(m) = map else {
                    return fault(
                        format!("bpf_{} has a key/value argument without a map", proto.name),
                        &[r],
                    );
                };
                let info = *env.map(m);
                let n = if *arg == Arg::MapKey {
                    info.key_size
                } else {
                    info.value_size
                };
                if !matches!(
                    v,
                    RegState::Ptr(Pointer {
                        kind: PtrKind::Stack { .. }
                            | PtrKind::MapValue { .. }
                            | PtrKind::Packet
                            | PtrKind::PacketMeta
                            | PtrKind::Mem { .. },
                        ..
                    })
                ) {
                    return expect(&format!(
                        "a pointer to {n} bytes ({})",
                        if *arg == Arg::MapKey {
                            "the key"
                        } else {
                            "the value"
                        }
                    ));
                }
                mem_arg(env, st, r, &v, n as u64, *arg == Arg::MapValueOut)?;
            }
            Arg::Ctx => {
                let unmodified = matches!(
                    v,
                    RegState::Ptr(Pointer {
                        kind: PtrKind::Ctx,
                        off: 0,
                        var,
                        ..
                    }) if var.as_const() == Some(0)
                );
                if !unmodified {
                    return expect("the unmodified context pointer");
                }
            }
            Arg::MemIn { null_ok } => {
                if *null_ok && v.as_scalar().is_some_and(|s| s.is_zero()) {
                    pending_mem = None;
                } else {
                    pending_mem = Some((r, v, false));
                }
            }
            Arg::MemOut => pending_mem = Some((r, v, true)),
            Arg::FixedMemOut { size } => {
                let RegState::Ptr(p) = v else {
                    return expect(&format!("a pointer to {size} writable bytes"));
                };
                // Linux checks strict alignment here, packets counting
                // from their 2-byte IP alignment.
                let base = if matches!(p.kind, PtrKind::Packet | PtrKind::PacketMeta) {
                    2
                } else {
                    0
                };
                let n = *size as u64;
                let total = p
                    .var
                    .var
                    .add(crate::tnum::Tnum::constant((p.off as i64 + base) as u64));
                if total.value & (n - 1) != 0 || total.mask & (n - 1) != 0 {
                    return fault(
                        format!(
                            "{} must be aligned to {size} bytes for bpf_{}",
                            reg_name(r),
                            proto.name
                        ),
                        &[r],
                    );
                }
                mem_arg(env, st, r, &v, n, true)?;
            }
            Arg::Size { zero_ok } => {
                let RegState::Scalar { value, .. } = v else {
                    return expect("a size (a number)");
                };
                if value.smin < 0 {
                    return fault(
                        format!(
                            "{} (a size) may be negative ({}): use an unsigned bound or `&= const`",
                            reg_name(r),
                            value.smin
                        ),
                        &[r],
                    );
                }
                if value.umin == 0 && !zero_ok {
                    return fault(
                        format!(
                            "{} (a size) may be zero, which bpf_{} does not allow",
                            reg_name(r),
                            proto.name
                        ),
                        &[r],
                    );
                }
                if value.umax >= MAX_VAR_OFF as u64 {
                    return fault(
                        format!(
                            "{} (a size) is unbounded: use `&= const` or `if x < const` first",
                            reg_name(r)
                        ),
                        &[r],
                    );
                }
                if let Some((mr, mv, w)) = pending_mem.take() {
                    mem_arg(env, st, mr, &mv, value.umax, w)?;
                }
            }
            Arg::ConstAllocSize => {
                let Some(c) = v.as_scalar().and_then(|s| s.as_const()) else {
                    return expect("a known constant size");
                };
                if c == 0 || c > u32::MAX as u64 {
                    return fault(format!("{} (an allocation size) is {c}", reg_name(r)), &[r]);
                }
                alloc_size = c as u32;
            }
            Arg::RingbufRelease => {
                let RegState::Ptr(p) = v else {
                    return expect("a pointer returned by bpf_ringbuf_reserve");
                };
                if !matches!(p.kind, PtrKind::Mem { or_null: false, .. }) || p.ref_id == 0 {
                    return expect("a (NULL-checked) pointer returned by bpf_ringbuf_reserve");
                }
                if p.off != 0 || p.var.as_const() != Some(0) {
                    return fault(
                        format!(
                            "{} must be passed to bpf_{} unmodified (offset 0)",
                            reg_name(r),
                            proto.name
                        ),
                        &[r],
                    );
                }
                release = Some(p.ref_id);
            }
            Arg::Callback => {
                let RegState::Ptr(Pointer {
                    kind: PtrKind::Func { pc: f },
                    ..
                }) = v
                else {
                    return expect("the address of a function");
                };
                callback = Some(f);
            }
            Arg::StackOrNull => {
                let ok = matches!(
                    v,
                    RegState::Ptr(Pointer {
                        kind: PtrKind::Stack { .. },
                        ..
                    })
                ) || v.as_scalar().is_some_and(|s| s.is_zero());
                if !ok {
                    return expect("a stack pointer or NULL");
                }
            }
            Arg::ConstStr => {
                let RegState::Ptr(p) = v else {
                    return expect("a pointer to a constant string");
                };
                let PtrKind::MapValue {
                    map: m,
                    or_null: false,
                } = p.kind
                else {
                    return expect("a pointer to a constant string in a read-only map");
                };
                let info = *env.map(m);
                if info.flags & F_RDONLY_PROG == 0
                    || p.const_offset()
                        .is_none_or(|o| o < 0 || o >= info.value_size as i64)
                {
                    return expect("a pointer to a constant string in a read-only map");
                }
            }
            Arg::SpinLock => {
                let RegState::Ptr(p) = v else {
                    return expect("a pointer to the bpf_spin_lock in a map value");
                };
                let PtrKind::MapValue {
                    map: m,
                    or_null: false,
                } = p.kind
                else {
                    return expect("a pointer to the bpf_spin_lock in a (NULL-checked) map value");
                };
                let Some(lock_off) = env.map(m).spin_lock_offset else {
                    return fault(format!("bpf_{} needs a map value with a struct bpf_spin_lock (described by the map's BTF); map #{m} has none", proto.name), &[r]);
                };
                if p.const_offset() != Some(lock_off as i64) {
                    return fault(format!("{} must point exactly at the bpf_spin_lock (offset {lock_off} of the map value)", reg_name(r)), &[r]);
                }
                lock_arg = Some((m, p.id));
            }
        }
    }
    if let Some(entry) = callback {
        return enter_callback(env, st, pc, proto.callback, map, entry as usize);
    }
    match (proto.id, lock_arg) {
        (93, Some(l)) => {
            if st.lock.is_some() {
                return fault(
                    "a second bpf_spin_lock while one is held is not allowed",
                    &[1],
                );
            }
            st.lock = Some(l);
        }
        (94, Some(l)) => match st.lock {
            None => return fault("bpf_spin_unlock without a bpf_spin_lock held", &[1]),
            Some(held) if held != l => {
                return fault(
                    "bpf_spin_unlock of a different lock than the one held",
                    &[1],
                )
            }
            Some(_) => st.lock = None,
        },
        _ => {}
    }
    if proto.id == 12 && !st.refs.is_empty() {
        return fault("a tail call while holding a reference would leak it", &[]);
    }
    // An array lookup with a constant key below max_entries cannot fail.
    let const_key_in_array = proto.id == 1
        && map.is_some_and(|m| {
            let info = env.map(m);
            info.map_type == map_type::ARRAY
                && info.max_entries > 0
                && const_key(st, &key_reg, info.key_size)
                    .is_some_and(|k| k < info.max_entries as u64)
        });
    if let Some(ref_id) = release {
        if !st.refs.iter().any(|r| r.id == ref_id) {
            return fault("the reference passed for release is not held", &[1]);
        }
        st.refs.retain(|r| r.id != ref_id);
        st.for_each_reg_mut(|r| {
            if matches!(r, RegState::Ptr(p) if p.ref_id == ref_id) {
                *r = RegState::UNKNOWN;
            }
        });
    }
    if proto.changes_packet {
        st.for_each_reg_mut(|r| {
            if matches!(
                r,
                RegState::Ptr(Pointer {
                    kind: PtrKind::Packet | PtrKind::PacketEnd | PtrKind::PacketMeta,
                    ..
                })
            ) {
                *r = RegState::UNKNOWN;
            }
        });
    }
    for r in 1..=5 {
        st.set_reg(r, RegState::NotInit);
    }
    let r0 = match proto.ret {
        Ret::Integer => RegState::UNKNOWN,
        Ret::Void => RegState::NotInit,
        Ret::MapValueOrNull => {
            let m = map.unwrap_or(0);
            let kind = if env.map(m).is_map_in_map() {
                // The value is another map: only a helper argument once
                // checked against NULL, never memory.
                let inner = match env.map_table[m as usize].0 {
                    MapRef::Index(i) => MapRef::InnerOfIndex(i),
                    MapRef::Fd(fd) => MapRef::InnerOfFd(fd),
                    other => other,
                };
                let Some(slot) = env.map_slot(inner) else {
                    return fault(
                        format!(
                            "bpf_{} on map #{m}, a map of maps whose inner map is not described",
                            proto.name
                        ),
                        &[1],
                    );
                };
                PtrKind::Map {
                    map: slot,
                    or_null: true,
                }
            } else {
                PtrKind::MapValue {
                    map: m,
                    or_null: !const_key_in_array,
                }
            };
            let mut p = Pointer::new(kind);
            p.id = env.new_id();
            RegState::Ptr(p)
        }
        Ret::AllocMemOrNull => {
            let mut p = Pointer::new(PtrKind::Mem {
                size: alloc_size,
                or_null: true,
            });
            p.id = env.new_id();
            p.ref_id = p.id;
            st.refs.push(Reference { id: p.id, pc });
            RegState::Ptr(p)
        }
    };
    st.set_reg(0, r0);
    Ok(Step::Next(pc + 1))
}

/// A helper that calls back into the program (`bpf_loop`,
/// `bpf_for_each_map_elem`): one successor skips the callback (zero
/// iterations), the other enters it with the arguments the helper passes.
/// When the callback returns, [`exit`] offers both leaving and calling it
/// again, and the explorer lets the call site prune against its own
/// earlier states, so iterations stop once they add nothing new.
fn enter_callback(
    env: &mut Env,
    st: &mut State,
    pc: usize,
    kind: Option<CallbackKind>,
    map: Option<MapSlot>,
    entry: usize,
) -> R<Step> {
    if st.frames.len() >= MAX_CALL_FRAMES {
        return fault(
            format!("the call stack is too deep: at most {MAX_CALL_FRAMES} frames"),
            &[],
        );
    }
    let ctx = *st.reg(3);
    let frame = st.frames.len() as u8;
    let mut f = FuncState::new(frame, entry, Some(pc));
    f.is_callback = true;
    match kind {
        Some(CallbackKind::ForEachMapElem) => {
            let m = map.unwrap_or(0);
            let info = *env.map(m);
            f.regs[1] = RegState::ptr(PtrKind::Map {
                map: m,
                or_null: false,
            });
            f.regs[2] = RegState::ptr(PtrKind::Mem {
                size: info.key_size,
                or_null: false,
            });
            f.regs[3] = RegState::ptr(PtrKind::MapValue {
                map: m,
                or_null: false,
            });
            f.regs[4] = ctx;
        }
        _ => {
            f.regs[1] = RegState::scalar(Scalar::urange(0, u32::MAX as u64));
            f.regs[2] = ctx;
        }
    }
    let mut skip = st.clone();
    skip.cur_mut().callback_rounds = 0;
    for r in 1..=5 {
        skip.set_reg(r, RegState::NotInit);
    }
    skip.set_reg(0, RegState::UNKNOWN);
    let mut inside = std::mem::replace(
        st,
        State {
            frames: vec![],
            refs: vec![],
            lock: None,
        },
    );
    inside.frames.push(f);
    Ok(Step::Branch(vec![
        (pc + 1, skip, false),
        (entry, inside, true),
    ]))
}

/// The key a stack pointer `key` points to, if its `size` bytes are known
/// to be zero.
fn const_key(st: &State, key: &RegState, size: u32) -> Option<u64> {
    let RegState::Ptr(p) = key else { return None };
    let PtrKind::Stack { frame } = p.kind else {
        return None;
    };
    let o = p.const_offset()?;
    let fr = &st.frames.get(frame as usize)?.stack;
    if let Some(RegState::Scalar { value, .. }) = u8::try_from(size).ok().and_then(|n| {
        if n < 8 {
            fr.spilled_narrow(o, n)
        } else {
            fr.spilled(o)
        }
    }) {
        return value.as_const();
    }
    let zero = (o..o + size as i64)
        .all(|b| (-STACK_SIZE..0).contains(&b) && fr.byte(b) == crate::stack::ByteKind::Zero);
    zero.then_some(0)
}

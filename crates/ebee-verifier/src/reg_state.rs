//! What the verifier knows about one register: nothing yet, a number, or a
//! pointer of a given type with an offset.

use std::fmt;

use crate::scalar::Scalar;

/// A map known to the verifier, by its position in the verifier's table of
/// maps the program references.
pub type MapSlot = u32;

/// The region a pointer points into.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PtrKind {
    /// The program's context (`r1` at entry).
    Ctx,
    /// A stack frame (0 = the main program's, 1 = its callee's, ...).
    Stack {
        /// The frame number.
        frame: u8,
    },
    /// A map itself (from `lddw rX, map`, or a lookup in a map-in-map),
    /// only useful as a helper argument.
    Map {
        /// Which map.
        map: MapSlot,
        /// Not yet checked against NULL (a map-in-map lookup's result).
        or_null: bool,
    },
    /// An element of a map (from a lookup, or `lddw` of a map value).
    MapValue {
        /// Which map.
        map: MapSlot,
        /// Not yet checked against NULL.
        or_null: bool,
    },
    /// The packet data start plus an offset.
    Packet,
    /// The packet metadata start plus an offset.
    PacketMeta,
    /// The end of the packet data.
    PacketEnd,
    /// Memory of a known size returned by a helper (e.g. a ring buffer
    /// reservation).
    Mem {
        /// Accessible bytes.
        size: u32,
        /// Not yet checked against NULL.
        or_null: bool,
    },
    /// The address of a local function (callback argument).
    Func {
        /// The function's first pc.
        pc: u32,
    },
}

impl PtrKind {
    /// Whether this pointer might still be NULL.
    pub fn may_be_null(self) -> bool {
        matches!(
            self,
            PtrKind::MapValue { or_null: true, .. }
                | PtrKind::Mem { or_null: true, .. }
                | PtrKind::Map { or_null: true, .. }
        )
    }

    /// The same kind once a NULL check has been passed.
    pub fn non_null(self) -> PtrKind {
        match self {
            PtrKind::MapValue { map, .. } => PtrKind::MapValue {
                map,
                or_null: false,
            },
            PtrKind::Mem { size, .. } => PtrKind::Mem {
                size,
                or_null: false,
            },
            PtrKind::Map { map, .. } => PtrKind::Map {
                map,
                or_null: false,
            },
            k => k,
        }
    }

    /// A short name, as the kernel's log prints it.
    pub fn name(self) -> &'static str {
        match self {
            PtrKind::Ctx => "ctx",
            PtrKind::Stack { .. } => "fp",
            PtrKind::Map { .. } => "map_ptr",
            PtrKind::MapValue { or_null: false, .. } => "map_value",
            PtrKind::MapValue { or_null: true, .. } => "map_value_or_null",
            PtrKind::Packet => "pkt",
            PtrKind::PacketMeta => "pkt_meta",
            PtrKind::PacketEnd => "pkt_end",
            PtrKind::Mem { or_null: false, .. } => "mem",
            PtrKind::Mem { or_null: true, .. } => "mem_or_null",
            PtrKind::Func { .. } => "func",
        }
    }

    /// What the pointer is, in words.
    pub fn describe(self) -> String {
        match self {
            PtrKind::Ctx => "a pointer to the context".into(),
            PtrKind::Stack { frame } => format!("a pointer into the stack of frame {frame}"),
            PtrKind::Map {
                map,
                or_null: false,
            } => format!("a pointer to map #{map}"),
            PtrKind::Map { map, or_null: true } => format!("a pointer to map #{map} or NULL"),
            PtrKind::MapValue {
                map,
                or_null: false,
            } => format!("a pointer to a value of map #{map}"),
            PtrKind::MapValue { map, or_null: true } => {
                format!("a pointer to a value of map #{map} or NULL")
            }
            PtrKind::Packet => "a packet pointer".into(),
            PtrKind::PacketMeta => "a packet metadata pointer".into(),
            PtrKind::PacketEnd => "the packet end pointer".into(),
            PtrKind::Mem {
                size,
                or_null: false,
            } => format!("a pointer to {size} bytes of helper memory"),
            PtrKind::Mem {
                size,
                or_null: true,
            } => format!("a pointer to {size} bytes of helper memory or NULL"),
            PtrKind::Func { pc } => format!("the address of the function at pc {pc}"),
        }
    }
}

/// A pointer: region, fixed offset, variable offset and identities.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Pointer {
    /// The region.
    pub kind: PtrKind,
    /// Offset known exactly.
    pub off: i32,
    /// Offset known only as a set (constant 0 when there is none).
    pub var: Scalar,
    /// Identity shared by copies: a NULL check of one applies to all with
    /// the same id; packet pointers with the same id share a proven range.
    pub id: u32,
    /// The reference (acquired resource) this pointer holds, 0 if none.
    pub ref_id: u32,
    /// Packet pointers: bytes from `off` 0 proven to be inside the packet.
    pub range: u32,
}

impl Pointer {
    /// A pointer of `kind` at offset 0.
    pub fn new(kind: PtrKind) -> Pointer {
        Pointer {
            kind,
            off: 0,
            var: Scalar::constant(0),
            id: 0,
            ref_id: 0,
            range: 0,
        }
    }

    /// Whether the offset is fully known.
    pub fn const_offset(&self) -> Option<i64> {
        self.var.as_const().map(|v| self.off as i64 + v as i64)
    }
}

/// The state of one register.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RegState {
    /// Never written on this path.
    NotInit,
    /// A number.
    Scalar {
        /// Its possible values.
        value: Scalar,
        /// Shared by copies so that a comparison of one narrows all (0: none).
        id: u32,
    },
    /// A pointer.
    Ptr(Pointer),
}

impl RegState {
    /// An unknown number.
    pub const UNKNOWN: RegState = RegState::Scalar {
        value: Scalar::UNKNOWN,
        id: 0,
    };

    /// A number with no links to other registers.
    pub fn scalar(value: Scalar) -> RegState {
        RegState::Scalar { value, id: 0 }
    }

    /// The constant `v`.
    pub fn constant(v: u64) -> RegState {
        RegState::scalar(Scalar::constant(v))
    }

    /// A pointer of `kind` at offset 0.
    pub fn ptr(kind: PtrKind) -> RegState {
        RegState::Ptr(Pointer::new(kind))
    }

    /// The number, if this is one.
    pub fn as_scalar(&self) -> Option<&Scalar> {
        match self {
            RegState::Scalar { value, .. } => Some(value),
            _ => None,
        }
    }

    /// The pointer, if this is one.
    pub fn as_ptr(&self) -> Option<&Pointer> {
        match self {
            RegState::Ptr(p) => Some(p),
            _ => None,
        }
    }

    /// Whether this is written.
    pub fn is_init(&self) -> bool {
        !matches!(self, RegState::NotInit)
    }

    /// The state in words, for diagnostics: "a pointer to the context at offset 8".
    pub fn describe(&self) -> String {
        match self {
            RegState::NotInit => "not initialized".into(),
            RegState::Scalar { value, .. } => match value.as_const() {
                Some(v) => format!("the number {}", v as i64),
                None if *value == Scalar::UNKNOWN => "an unknown number".into(),
                None if value.smin >= 0 || value.smax < 0 => {
                    format!("a number in [{}, {}]", value.smin, value.smax)
                }
                None => format!("a number in [{}, {}] (unsigned)", value.umin, value.umax),
            },
            RegState::Ptr(p) => {
                let mut s = p.kind.describe();
                match p.const_offset() {
                    Some(0) => {}
                    Some(o) => s.push_str(&format!(" at offset {o}")),
                    None => s.push_str(&format!(
                        " at offset {} + [{}, {}]",
                        p.off, p.var.smin, p.var.smax
                    )),
                }
                if matches!(p.kind, PtrKind::Packet | PtrKind::PacketMeta) {
                    s.push_str(&format!(" with {} bytes proven in bounds", p.range));
                }
                s
            }
        }
    }
}

impl fmt::Display for RegState {
    /// Kernel-log style: `scalar(umax=255)`, `fp-8`, `map_value(off=4)`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RegState::NotInit => write!(f, "?"),
            RegState::Scalar { value, id } => {
                if *id != 0 && value.as_const().is_none() {
                    write!(f, "{value}#{id}")
                } else {
                    write!(f, "{value}")
                }
            }
            RegState::Ptr(p) => {
                if let (PtrKind::Stack { .. }, Some(o)) = (p.kind, p.const_offset()) {
                    return write!(f, "fp{o}");
                }
                let mut parts = vec![];
                if p.off != 0 {
                    parts.push(format!("off={}", p.off));
                }
                if p.var.as_const() != Some(0) {
                    parts.push(format!("var={}", p.var));
                }
                if matches!(p.kind, PtrKind::Packet | PtrKind::PacketMeta) {
                    parts.push(format!("r={}", p.range));
                }
                if p.id != 0 {
                    parts.push(format!("id={}", p.id));
                }
                if p.ref_id != 0 {
                    parts.push(format!("ref_obj_id={}", p.ref_id));
                }
                match p.kind {
                    PtrKind::MapValue { map, .. } | PtrKind::Map { map, .. } => {
                        parts.push(format!("map=#{map}"))
                    }
                    PtrKind::Mem { size, .. } => parts.push(format!("sz={size}")),
                    _ => {}
                }
                write!(f, "{}({})", p.kind.name(), parts.join(","))
            }
        }
    }
}

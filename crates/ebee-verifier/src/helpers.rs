//! Helper function prototypes: what each argument register must hold and
//! what `r0` holds afterwards, by the kernel's helper numbers.

use std::ops::BitOr;

/// Sets of helpers offered to a program type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct HelperGroups(u32);

impl HelperGroups {
    /// Map access, time, random numbers, tail calls, ring buffers, loops.
    pub const BASE: HelperGroups = HelperGroups(1);
    /// Offered to privileged programs of every type (`trace_printk`,
    /// `probe_read_kernel`, ...).
    pub const PRIV: HelperGroups = HelperGroups(2);
    /// Tracing programs (`probe_read`, `get_current_*`, `get_stackid`).
    pub const TRACING: HelperGroups = HelperGroups(4);
    /// Socket buffer readers (`skb_load_bytes`, `get_socket_cookie`).
    pub const SKB: HelperGroups = HelperGroups(8);
    /// tc programs (`skb_store_bytes`, checksums, `redirect`).
    pub const TC: HelperGroups = HelperGroups(16);
    /// XDP programs (`xdp_adjust_*`, `redirect_map`).
    pub const XDP: HelperGroups = HelperGroups(32);
    /// Socket operations programs (`setsockopt`, `getsockopt`, `sock_ops_cb_flags_set`).
    pub const SOCK_OPS: HelperGroups = HelperGroups(64);
    /// Perf event programs (`perf_prog_read_value`).
    pub const PERF_EVENT: HelperGroups = HelperGroups(128);
    /// Socket creation programs (cgroup_sock).
    pub const CGROUP_SOCK: HelperGroups = HelperGroups(256);
    /// No helpers.
    pub const NONE: HelperGroups = HelperGroups(0);

    /// Whether any group is in both sets.
    pub const fn intersects(self, other: HelperGroups) -> bool {
        self.0 & other.0 != 0
    }
}

impl BitOr for HelperGroups {
    type Output = HelperGroups;
    fn bitor(self, rhs: HelperGroups) -> HelperGroups {
        HelperGroups(self.0 | rhs.0)
    }
}

/// What one argument register must hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Arg {
    /// Any initialized value.
    Anything,
    /// A map (`lddw rX, map`); the helper may restrict the map type.
    Map,
    /// A pointer to `key_size` initialized bytes (the map is the previous map argument).
    MapKey,
    /// A pointer to `value_size` initialized bytes.
    MapValue,
    /// A pointer to `value_size` bytes the helper writes.
    MapValueOut,
    /// The context pointer, unmodified.
    Ctx,
    /// A pointer to memory the helper reads; the next argument is its size.
    MemIn {
        /// NULL (with size 0) is allowed.
        null_ok: bool,
    },
    /// A pointer to memory the helper writes; the next argument is its size.
    MemOut,
    /// The size of the previous memory argument: a bounded number.
    Size {
        /// Zero is allowed.
        zero_ok: bool,
    },
    /// A number known exactly (an allocation size).
    ConstAllocSize,
    /// A pointer returned by `ringbuf_reserve`, at offset 0; released by the call.
    RingbufRelease,
    /// The address of a local function (`lddw rX, func`).
    Callback,
    /// A stack pointer or NULL (callback context).
    StackOrNull,
    /// A pointer to a NUL-terminated string in a read-only map value.
    ConstStr,
    /// A pointer to a `bpf_spin_lock` inside a map value.
    SpinLock,
    /// A pointer to `size` bytes the helper writes, aligned to `size`
    /// (the kernel's `ARG_PTR_TO_FIXED_SIZE_MEM | MEM_UNINIT | MEM_ALIGNED`).
    FixedMemOut {
        /// Bytes written, a power of two.
        size: u32,
    },
}

/// What `r0` holds after the call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Ret {
    /// A number.
    Integer,
    /// Nothing meaningful (the kernel's `RET_VOID`): r0 is still written.
    Void,
    /// A pointer to a value of the map argument, or NULL.
    MapValueOrNull,
    /// Memory of the size in the `ConstAllocSize` argument, or NULL, holding
    /// a reference that must be released.
    AllocMemOrNull,
}

/// The callback kind, for helpers that take a function.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CallbackKind {
    /// `bpf_loop`: `cb(u64 index, void *ctx)`.
    Loop,
    /// `bpf_for_each_map_elem`: `cb(map, key, value, ctx)`.
    ForEachMapElem,
}

/// A helper's prototype.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HelperProto {
    /// Kernel helper number.
    pub id: u32,
    /// Name without the `bpf_` prefix.
    pub name: &'static str,
    /// Arguments r1, r2, ... (unlisted ones are not read).
    pub args: &'static [Arg],
    /// What r0 holds afterwards.
    pub ret: Ret,
    /// Program types offering it.
    pub groups: HelperGroups,
    /// Map types the `Map` argument must have (empty: any map with values).
    pub map_types: &'static [u32],
    /// Calling it may move or resize the packet (invalidates packet pointers).
    pub changes_packet: bool,
    /// For helpers taking a callback.
    pub callback: Option<CallbackKind>,
}

use crate::maps::map_type as mt;
use Arg::*;

const B: HelperGroups = HelperGroups::BASE;
const P: HelperGroups = HelperGroups::PRIV;
const T: HelperGroups = HelperGroups::TRACING;
const S: HelperGroups = HelperGroups(HelperGroups::SKB.0 | HelperGroups::TC.0);
const TC: HelperGroups = HelperGroups::TC;
const X: HelperGroups = HelperGroups::XDP;
const SO: HelperGroups = HelperGroups::SOCK_OPS;
const PE: HelperGroups = HelperGroups::PERF_EVENT;
const CS: HelperGroups = HelperGroups::CGROUP_SOCK;
const NET: HelperGroups = HelperGroups(HelperGroups::TC.0 | HelperGroups::XDP.0);

const fn h(
    id: u32,
    name: &'static str,
    args: &'static [Arg],
    ret: Ret,
    groups: HelperGroups,
) -> HelperProto {
    HelperProto {
        id,
        name,
        args,
        ret,
        groups,
        map_types: &[],
        changes_packet: false,
        callback: None,
    }
}

const fn maps(mut p: HelperProto, m: &'static [u32]) -> HelperProto {
    p.map_types = m;
    p
}

const fn pkt(mut p: HelperProto) -> HelperProto {
    p.changes_packet = true;
    p
}

const fn cb(mut p: HelperProto, k: CallbackKind) -> HelperProto {
    p.callback = Some(k);
    p
}

const VALUE_MAPS: &[u32] = &[];
const PROBE: &[Arg] = &[MemOut, Size { zero_ok: true }, Anything];

/// Every helper the verifier knows, by number.
pub static HELPERS: &[HelperProto] = &[
    h(1, "map_lookup_elem", &[Map, MapKey], Ret::MapValueOrNull, B),
    h(
        2,
        "map_update_elem",
        &[Map, MapKey, MapValue, Anything],
        Ret::Integer,
        B,
    ),
    h(3, "map_delete_elem", &[Map, MapKey], Ret::Integer, B),
    h(4, "probe_read", PROBE, Ret::Integer, T),
    h(5, "ktime_get_ns", &[], Ret::Integer, B),
    h(
        6,
        "trace_printk",
        &[MemIn { null_ok: false }, Size { zero_ok: false }],
        Ret::Integer,
        P,
    ),
    h(7, "get_prandom_u32", &[], Ret::Integer, B),
    h(8, "get_smp_processor_id", &[], Ret::Integer, B),
    pkt(h(
        9,
        "skb_store_bytes",
        &[
            Ctx,
            Anything,
            MemIn { null_ok: false },
            Size { zero_ok: false },
            Anything,
        ],
        Ret::Integer,
        TC,
    )),
    pkt(h(
        10,
        "l3_csum_replace",
        &[Ctx, Anything, Anything, Anything, Anything],
        Ret::Integer,
        TC,
    )),
    pkt(h(
        11,
        "l4_csum_replace",
        &[Ctx, Anything, Anything, Anything, Anything],
        Ret::Integer,
        TC,
    )),
    maps(
        h(12, "tail_call", &[Ctx, Map, Anything], Ret::Void, B),
        &[mt::PROG_ARRAY],
    ),
    h(
        13,
        "clone_redirect",
        &[Ctx, Anything, Anything],
        Ret::Integer,
        TC,
    ),
    h(
        14,
        "get_current_pid_tgid",
        &[],
        Ret::Integer,
        HelperGroups(T.0 | P.0),
    ),
    h(
        15,
        "get_current_uid_gid",
        &[],
        Ret::Integer,
        HelperGroups(T.0 | P.0),
    ),
    h(
        16,
        "get_current_comm",
        &[MemOut, Size { zero_ok: false }],
        Ret::Integer,
        HelperGroups(T.0 | P.0),
    ),
    maps(
        h(
            22,
            "perf_event_read",
            &[Map, Anything],
            Ret::Integer,
            HelperGroups(T.0 | P.0),
        ),
        &[mt::PERF_EVENT_ARRAY],
    ),
    pkt(h(
        18,
        "skb_vlan_push",
        &[Ctx, Anything, Anything],
        Ret::Integer,
        TC,
    )),
    pkt(h(19, "skb_vlan_pop", &[Ctx], Ret::Integer, TC)),
    h(
        20,
        "skb_get_tunnel_key",
        &[Ctx, MemOut, Size { zero_ok: false }, Anything],
        Ret::Integer,
        TC,
    ),
    h(
        21,
        "skb_set_tunnel_key",
        &[
            Ctx,
            MemIn { null_ok: false },
            Size { zero_ok: false },
            Anything,
        ],
        Ret::Integer,
        TC,
    ),
    h(23, "redirect", &[Anything, Anything], Ret::Integer, NET),
    h(24, "get_route_realm", &[Ctx], Ret::Integer, TC),
    h(
        29,
        "skb_get_tunnel_opt",
        &[Ctx, MemOut, Size { zero_ok: false }],
        Ret::Integer,
        TC,
    ),
    h(
        30,
        "skb_set_tunnel_opt",
        &[Ctx, MemIn { null_ok: false }, Size { zero_ok: false }],
        Ret::Integer,
        TC,
    ),
    pkt(h(
        31,
        "skb_change_proto",
        &[Ctx, Anything, Anything],
        Ret::Integer,
        TC,
    )),
    h(32, "skb_change_type", &[Ctx, Anything], Ret::Integer, TC),
    maps(
        h(
            33,
            "skb_under_cgroup",
            &[Ctx, Map, Anything],
            Ret::Integer,
            TC,
        ),
        &[mt::CGROUP_ARRAY],
    ),
    pkt(h(
        38,
        "skb_change_tail",
        &[Ctx, Anything, Anything],
        Ret::Integer,
        TC,
    )),
    pkt(h(39, "skb_pull_data", &[Ctx, Anything], Ret::Integer, TC)),
    h(40, "csum_update", &[Ctx, Anything], Ret::Integer, TC),
    h(41, "set_hash_invalid", &[Ctx], Ret::Integer, TC),
    pkt(h(
        43,
        "skb_change_head",
        &[Ctx, Anything, Anything],
        Ret::Integer,
        TC,
    )),
    h(48, "set_hash", &[Ctx, Anything], Ret::Integer, TC),
    maps(
        h(
            25,
            "perf_event_output",
            &[
                Ctx,
                Map,
                Anything,
                MemIn { null_ok: false },
                Size { zero_ok: true },
            ],
            Ret::Integer,
            HelperGroups(T.0 | S.0 | X.0 | SO.0 | CS.0),
        ),
        &[mt::PERF_EVENT_ARRAY],
    ),
    h(
        26,
        "skb_load_bytes",
        &[Ctx, Anything, MemOut, Size { zero_ok: false }],
        Ret::Integer,
        S,
    ),
    maps(
        h(27, "get_stackid", &[Ctx, Map, Anything], Ret::Integer, T),
        &[mt::STACK_TRACE],
    ),
    h(
        28,
        "csum_diff",
        &[
            MemIn { null_ok: true },
            Size { zero_ok: true },
            MemIn { null_ok: true },
            Size { zero_ok: true },
            Anything,
        ],
        Ret::Integer,
        NET,
    ),
    h(34, "get_hash_recalc", &[Ctx], Ret::Integer, TC),
    h(35, "get_current_task", &[], Ret::Integer, P),
    maps(
        h(
            37,
            "current_task_under_cgroup",
            &[Map, Anything],
            Ret::Integer,
            HelperGroups(T.0 | P.0),
        ),
        &[mt::CGROUP_ARRAY],
    ),
    h(42, "get_numa_node_id", &[], Ret::Integer, B),
    pkt(h(44, "xdp_adjust_head", &[Ctx, Anything], Ret::Integer, X)),
    h(45, "probe_read_str", PROBE, Ret::Integer, T),
    h(
        46,
        "get_socket_cookie",
        &[Ctx],
        Ret::Integer,
        HelperGroups(S.0 | SO.0 | CS.0),
    ),
    h(47, "get_socket_uid", &[Ctx], Ret::Integer, S),
    maps(
        h(
            51,
            "redirect_map",
            &[Map, Anything, Anything],
            Ret::Integer,
            X,
        ),
        &[mt::DEVMAP, mt::DEVMAP_HASH, mt::CPUMAP, mt::XSKMAP],
    ),
    pkt(h(
        50,
        "skb_adjust_room",
        &[Ctx, Anything, Anything, Anything],
        Ret::Integer,
        TC,
    )),
    pkt(h(54, "xdp_adjust_meta", &[Ctx, Anything], Ret::Integer, X)),
    pkt(h(65, "xdp_adjust_tail", &[Ctx, Anything], Ret::Integer, X)),
    maps(
        h(
            55,
            "perf_event_read_value",
            &[Map, Anything, MemOut, Size { zero_ok: false }],
            Ret::Integer,
            HelperGroups(T.0 | P.0),
        ),
        &[mt::PERF_EVENT_ARRAY],
    ),
    // The parameters are read and written: treated as written (their old
    // contents are forgotten), which privileged programs may leave uninitialized.
    h(
        69,
        "fib_lookup",
        &[Ctx, MemOut, Size { zero_ok: false }, Anything],
        Ret::Integer,
        NET,
    ),
    h(
        67,
        "get_stack",
        &[Ctx, MemOut, Size { zero_ok: true }, Anything],
        Ret::Integer,
        T,
    ),
    h(
        68,
        "skb_load_bytes_relative",
        &[Ctx, Anything, MemOut, Size { zero_ok: false }, Anything],
        Ret::Integer,
        S,
    ),
    h(
        49,
        "setsockopt",
        &[
            Ctx,
            Anything,
            Anything,
            MemIn { null_ok: false },
            Size { zero_ok: false },
        ],
        Ret::Integer,
        SO,
    ),
    h(
        57,
        "getsockopt",
        &[Ctx, Anything, Anything, MemOut, Size { zero_ok: false }],
        Ret::Integer,
        SO,
    ),
    h(
        59,
        "sock_ops_cb_flags_set",
        &[Ctx, Anything],
        Ret::Integer,
        SO,
    ),
    // Offered to kprobes only by kernels built with
    // CONFIG_BPF_KPROBE_OVERRIDE, which the reference kernel is not: no
    // program type may call it (the userspace runtime provides it to
    // unverified kprobes).
    h(
        58,
        "override_return",
        &[Ctx, Anything],
        Ret::Integer,
        HelperGroups::NONE,
    ),
    // Known so that calls are judged as the kernel judges them; the
    // userspace runtime has no socket maps and refuses it at load.
    maps(
        h(
            53,
            "sock_map_update",
            &[Ctx, Map, MapKey, Anything],
            Ret::Integer,
            SO,
        ),
        &[mt::SOCKMAP],
    ),
    h(
        56,
        "perf_prog_read_value",
        &[Ctx, MemOut, Size { zero_ok: false }],
        Ret::Integer,
        PE,
    ),
    maps(
        h(
            87,
            "map_push_elem",
            &[Map, MapValue, Anything],
            Ret::Integer,
            B,
        ),
        &[mt::QUEUE, mt::STACK, mt::BLOOM_FILTER],
    ),
    maps(
        h(88, "map_pop_elem", &[Map, MapValueOut], Ret::Integer, B),
        &[mt::QUEUE, mt::STACK],
    ),
    maps(
        h(89, "map_peek_elem", &[Map, MapValueOut], Ret::Integer, B),
        &[mt::QUEUE, mt::STACK, mt::BLOOM_FILTER],
    ),
    h(93, "spin_lock", &[SpinLock], Ret::Void, B),
    h(94, "spin_unlock", &[SpinLock], Ret::Void, B),
    h(112, "probe_read_user", PROBE, Ret::Integer, P),
    h(113, "probe_read_kernel", PROBE, Ret::Integer, P),
    h(114, "probe_read_user_str", PROBE, Ret::Integer, P),
    h(115, "probe_read_kernel_str", PROBE, Ret::Integer, P),
    h(118, "jiffies64", &[], Ret::Integer, B),
    h(125, "ktime_get_boot_ns", &[], Ret::Integer, B),
    maps(
        h(
            130,
            "ringbuf_output",
            &[
                Map,
                MemIn { null_ok: false },
                Size { zero_ok: true },
                Anything,
            ],
            Ret::Integer,
            B,
        ),
        &[mt::RINGBUF],
    ),
    maps(
        h(
            131,
            "ringbuf_reserve",
            &[Map, ConstAllocSize, Anything],
            Ret::AllocMemOrNull,
            B,
        ),
        &[mt::RINGBUF],
    ),
    h(
        132,
        "ringbuf_submit",
        &[RingbufRelease, Anything],
        Ret::Void,
        B,
    ),
    h(
        133,
        "ringbuf_discard",
        &[RingbufRelease, Anything],
        Ret::Void,
        B,
    ),
    maps(
        h(134, "ringbuf_query", &[Map, Anything], Ret::Integer, B),
        &[mt::RINGBUF],
    ),
    h(
        160,
        "ktime_get_coarse_ns",
        &[],
        Ret::Integer,
        HelperGroups(S.0 | X.0 | SO.0 | CS.0),
    ),
    cb(
        maps(
            h(
                164,
                "for_each_map_elem",
                &[Map, Callback, StackOrNull, Anything],
                Ret::Integer,
                B,
            ),
            VALUE_MAPS,
        ),
        CallbackKind::ForEachMapElem,
    ),
    h(
        165,
        "snprintf",
        &[
            MemOut,
            Size { zero_ok: true },
            ConstStr,
            MemIn { null_ok: true },
            Size { zero_ok: true },
        ],
        Ret::Integer,
        B,
    ),
    cb(
        h(
            181,
            "loop",
            &[Anything, Callback, StackOrNull, Anything],
            Ret::Integer,
            B,
        ),
        CallbackKind::Loop,
    ),
    h(
        182,
        "strncmp",
        &[MemIn { null_ok: false }, Size { zero_ok: false }, ConstStr],
        Ret::Integer,
        B,
    ),
    // `long bpf_strtol(const char *buf, size_t buf_len, u64 flags, long *res)`.
    h(
        105,
        "strtol",
        &[
            MemIn { null_ok: false },
            Size { zero_ok: false },
            Anything,
            FixedMemOut { size: 8 },
        ],
        Ret::Integer,
        B,
    ),
    h(
        106,
        "strtoul",
        &[
            MemIn { null_ok: false },
            Size { zero_ok: false },
            Anything,
            FixedMemOut { size: 8 },
        ],
        Ret::Integer,
        B,
    ),
    h(188, "xdp_get_buff_len", &[Ctx], Ret::Integer, X),
    h(
        189,
        "xdp_load_bytes",
        &[Ctx, Anything, MemOut, Size { zero_ok: false }],
        Ret::Integer,
        X,
    ),
    h(
        190,
        "xdp_store_bytes",
        &[
            Ctx,
            Anything,
            MemIn { null_ok: false },
            Size { zero_ok: false },
        ],
        Ret::Integer,
        X,
    ),
    h(208, "ktime_get_tai_ns", &[], Ret::Integer, B),
];

/// The prototype of helper `id`, if we know it.
pub fn helper(id: i32) -> Option<&'static HelperProto> {
    HELPERS.iter().find(|p| p.id as i32 == id)
}

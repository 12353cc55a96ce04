//! `ebee run OBJ.o --packet FILE | --packet-hex HEX`: runs an XDP, socket
//! filter or tc program (by its section) on a packet in the userspace
//! program types, printing the action by name and the packet when the
//! program changed it.

use ebee::Failure;
use ebee_object::Object;
use ebee_runtime::loader::{LoadOptions, LoadedObject, LoadedProgram};
use ebee_runtime::program_type::skb::{self, Skb, SkbKind, TcAction};
use ebee_runtime::program_type::xdp::{self, Xdp};
use ebee_runtime::HelperRegistry;

enum Kind {
    Xdp,
    Skb(SkbKind),
}

fn kind(section: &str) -> Result<Kind, Failure> {
    let s = section.split('/').next().unwrap_or("");
    match s {
        "xdp" | "xdp.frags" => Ok(Kind::Xdp),
        "socket" => Ok(Kind::Skb(SkbKind::SocketFilter)),
        "tc" | "tcx" | "classifier" | "action" => Ok(Kind::Skb(SkbKind::Tc)),
        _ => Err(Failure::Input(format!(
            "--packet needs an XDP, socket or tc program; section {section:?} is none"
        ))),
    }
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// `opts` with the helpers of every packet type, to load the object once
/// and find the program (and so its type) before the real load.
pub fn with_any_packet_helpers(opts: LoadOptions) -> LoadOptions {
    opts.helpers(&skb::helpers()).helpers(&xdp::helpers())
}

/// Loads `obj` with the helpers of `prog`'s type (`opts` otherwise),
/// picks the program again with `pick` and runs it on `packet`.
pub fn run(
    obj: &Object,
    opts: LoadOptions,
    section: &str,
    pick: impl for<'o> Fn(&'o LoadedObject) -> Result<&'o LoadedProgram, Failure>,
    packet: &[u8],
) -> Result<(), Failure> {
    let k = kind(section)?;
    let helpers: HelperRegistry = match k {
        Kind::Xdp => xdp::helpers(),
        Kind::Skb(_) => skb::helpers(),
    };
    let loaded = LoadedObject::load(obj, &opts.helpers(&helpers))
        .map_err(|e| Failure::Input(e.to_string()))?;
    let prog = pick(&loaded)?;
    let exec = |e: String| Failure::Exec(e);
    match k {
        Kind::Xdp => {
            let mut x = Xdp::new().map_err(|e| exec(e.to_string()))?;
            let out = x
                .run_loaded(prog, packet)
                .map_err(|e| exec(e.to_string()))?;
            println!("program {} (section {section}, XDP)", prog.name());
            println!("action = {} (r0 = {})", out.action.name(), out.ret);
            if let Some(r) = out.redirect {
                println!("redirect: ifindex {} flags {:#x}", r.ifindex, r.flags);
            }
            if !out.meta.is_empty() {
                println!("metadata: {}", hex(&out.meta));
            }
            if out.packet != packet {
                println!("packet ({} bytes): {}", out.packet.len(), hex(&out.packet));
            }
        }
        Kind::Skb(kind) => {
            let mut s = Skb::new(kind).map_err(|e| exec(e.to_string()))?;
            let out = s
                .run_loaded(prog, packet)
                .map_err(|e| exec(e.to_string()))?;
            if kind == SkbKind::Tc {
                println!("program {} (section {section}, tc)", prog.name());
                println!(
                    "action = {} (r0 = {})",
                    TcAction::from_ret(out.ret).name(),
                    out.ret
                );
            } else {
                println!("program {} (section {section}, socket filter)", prog.name());
                println!("r0 = {} (bytes to keep; 0 drops)", out.ret);
            }
            if let Some((i, f)) = out.redirect {
                println!("redirect: ifindex {i} flags {f:#x}");
            }
            println!(
                "mark = {:#x}, priority = {}, cb = {:x?}",
                out.ctx.mark, out.ctx.priority, out.ctx.cb
            );
            if out.packet != packet {
                println!("packet ({} bytes): {}", out.packet.len(), hex(&out.packet));
            }
        }
    }
    Ok(())
}

//! `__kconfig` externs: the values of the running kernel's configuration
//! (`CONFIG_*`) and version (`LINUX_KERNEL_VERSION`), placed in a
//! read-only, frozen `.kconfig` array map that programs read through
//! `lddw` of a map value, as libbpf does.

use std::collections::HashMap;

use ebee_object::btf::TypeKind;
use ebee_object::{Btf, ExternKind, MapType, Object};

use crate::map::{KernelMap, MapSpec, BPF_ANY};

/// `BPF_F_RDONLY_PROG`.
const BPF_F_RDONLY_PROG: u32 = 1 << 7;

/// The `.kconfig` map and where each extern lives in its value.
#[derive(Debug)]
pub(crate) struct KconfigMap {
    pub map: KernelMap,
    pub offsets: HashMap<String, u32>,
}

/// Builds the `.kconfig` map for the object's Kconfig externs (`Ok(None)`
/// when it has none). `config` is the kernel configuration text
/// (`CONFIG_X=y` lines); `None`: `/boot/config-<release>` if readable.
pub(crate) fn build(obj: &Object, config: Option<&str>) -> Result<Option<KconfigMap>, String> {
    let externs: Vec<_> = obj
        .externs()
        .iter()
        .filter(|e| e.kind == ExternKind::Kconfig)
        .collect();
    if externs.is_empty() {
        return Ok(None);
    }
    let local = obj
        .btf()
        .ok_or("__kconfig externs without BTF: their types are unknown")?;
    let release = kernel_release().ok_or("cannot read the kernel release (uname)")?;
    let boot_config;
    let config = match config {
        Some(c) => Some(c),
        None => {
            boot_config = std::fs::read_to_string(format!("/boot/config-{release}")).ok();
            boot_config.as_deref()
        }
    };
    let values = config.map(parse_config).unwrap_or_default();

    let mut offsets = HashMap::new();
    let mut data: Vec<u8> = Vec::new();
    for e in externs {
        let (size, kind) = extern_type(local, e.btf_type).ok_or_else(|| {
            format!(
                "__kconfig {:?}: its BTF type is not an integer, bool, enum or char array",
                e.name
            )
        })?;
        let align = if size.is_power_of_two() && size <= 8 {
            size
        } else {
            8
        };
        let off = data.len().div_ceil(align) * align;
        data.resize(off + size, 0);
        let bytes = &mut data[off..off + size];
        let value = if e.name == "LINUX_KERNEL_VERSION" {
            Some(KconfigValue::Int(u64::from(version_code(&release)?)))
        } else {
            values.get(e.name.as_str()).cloned()
        };
        match (value, kind) {
            (None, _) if e.weak => {} // unset: zero
            (None, _) if config.is_some() => {
                return Err(format!(
                    "__kconfig {:?} is not set in the kernel config (declare it __weak to read 0)",
                    e.name
                ))
            }
            (None, _) => {
                return Err(format!(
                    "__kconfig {:?}: no kernel config to read it from (give ObjectLoadOptions::kconfig)",
                    e.name
                ))
            }
            (Some(KconfigValue::Str(s)), ValueKind::Chars) => {
                let n = s.len().min(size.saturating_sub(1));
                bytes[..n].copy_from_slice(&s.as_bytes()[..n]);
            }
            (Some(KconfigValue::Int(v)), ValueKind::Int) => {
                let mut b = v.to_le_bytes()[..size].to_vec();
                if cfg!(target_endian = "big") {
                    b.reverse();
                }
                bytes.copy_from_slice(&b);
            }
            (Some(v), _) => {
                return Err(format!(
                    "__kconfig {:?}: the value {v:?} does not fit its type",
                    e.name
                ))
            }
        }
        offsets.insert(e.name.clone(), off as u32);
    }
    let value_size = data.len().max(1);
    data.resize(value_size, 0);
    let mut spec = MapSpec::new(MapType::Array, 4, value_size as u32, 1);
    spec.flags = BPF_F_RDONLY_PROG;
    spec.name = ".kconfig".into();
    let map = KernelMap::create(&spec).map_err(|e| e.to_string())?;
    map.update(&0u32.to_ne_bytes(), &data, BPF_ANY)
        .map_err(|e| e.to_string())?;
    map.freeze().map_err(|e| e.to_string())?;
    Ok(Some(KconfigMap { map, offsets }))
}

/// A configuration value.
#[derive(Debug, Clone, PartialEq, Eq)]
enum KconfigValue {
    /// `y` (1), `m` (2), `n` (0) or a number.
    Int(u64),
    /// A quoted string.
    Str(String),
}

/// What an extern's C type can hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ValueKind {
    Int,
    Chars,
}

/// Size and kind of a `__kconfig` variable's type.
fn extern_type(btf: &Btf, var: Option<u32>) -> Option<(usize, ValueKind)> {
    let TypeKind::Var { ty, .. } = &btf.type_by_id(var?)?.kind else {
        return None;
    };
    let ty = btf.skip_modifiers(*ty).ok()?;
    let size = usize::try_from(btf.size_of(ty).ok()?).ok()?;
    match &btf.type_by_id(ty)?.kind {
        TypeKind::Int { .. } | TypeKind::Enum { .. } if (1..=8).contains(&size) => {
            Some((size, ValueKind::Int))
        }
        TypeKind::Array { .. } if size > 0 => Some((size, ValueKind::Chars)),
        _ => None,
    }
}

/// `CONFIG_X=value` lines (comments `# CONFIG_X is not set` are 0 by absence).
fn parse_config(text: &str) -> HashMap<String, KconfigValue> {
    let mut out = HashMap::new();
    for line in text.lines() {
        let Some((name, value)) = line.trim().split_once('=') else {
            continue;
        };
        if !name.starts_with("CONFIG_") {
            continue;
        }
        let v = match value {
            "y" => KconfigValue::Int(1),
            "m" => KconfigValue::Int(2),
            "n" => KconfigValue::Int(0),
            v if v.len() >= 2 && v.starts_with('"') && v.ends_with('"') => {
                KconfigValue::Str(v[1..v.len() - 1].to_string())
            }
            v => {
                let n = if let Some(hex) = v.strip_prefix("0x") {
                    u64::from_str_radix(hex, 16).ok()
                } else {
                    v.parse::<i64>().ok().map(|n| n as u64)
                };
                match n {
                    Some(n) => KconfigValue::Int(n),
                    None => continue,
                }
            }
        };
        out.insert(name.to_string(), v);
    }
    out
}

/// The running kernel's release (`uname -r`).
fn kernel_release() -> Option<String> {
    std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .ok()
        .map(|s| s.trim().to_string())
}

/// `KERNEL_VERSION(a, b, c)` of a release like `6.18.44-foo`: `a << 16 |
/// b << 8 | min(c, 255)`.
fn version_code(release: &str) -> Result<u32, String> {
    let mut parts = release
        .split(|c: char| !c.is_ascii_digit())
        .take(3)
        .map(|p| p.parse::<u32>().unwrap_or(0));
    let (a, b, c) = (
        parts.next().unwrap_or(0),
        parts.next().unwrap_or(0),
        parts.next().unwrap_or(0),
    );
    if a == 0 {
        return Err(format!(
            "cannot read a version from the kernel release {release:?}"
        ));
    }
    Ok(a << 16 | b.min(255) << 8 | c.min(255))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions() {
        assert_eq!(version_code("6.18.44-fc-v669"), Ok(6 << 16 | 18 << 8 | 44));
        assert_eq!(version_code("5.4.300"), Ok(5 << 16 | 4 << 8 | 255));
        assert_eq!(version_code("6.1"), Ok(6 << 16 | 1 << 8));
        assert!(version_code("x").is_err());
    }

    #[test]
    fn config_lines() {
        let c = parse_config("CONFIG_A=y\n# CONFIG_B is not set\nCONFIG_C=m\nCONFIG_HZ=250\nCONFIG_S=\"abc\"\nCONFIG_X=0x10\n");
        assert_eq!(c["CONFIG_A"], KconfigValue::Int(1));
        assert!(!c.contains_key("CONFIG_B"));
        assert_eq!(c["CONFIG_C"], KconfigValue::Int(2));
        assert_eq!(c["CONFIG_HZ"], KconfigValue::Int(250));
        assert_eq!(c["CONFIG_S"], KconfigValue::Str("abc".into()));
        assert_eq!(c["CONFIG_X"], KconfigValue::Int(16));
    }
}

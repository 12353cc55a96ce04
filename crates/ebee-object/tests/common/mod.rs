//! Helpers shared by the integration tests: running libbpf (the
//! reference loader) on an object and lining its maps up with ours.

#![allow(dead_code)] // each test file uses its own part

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use ebee_object::{MapBinding, MapOrigin, Object};

/// What libbpf made of an object: (map name, fd) in its order, and
/// (program name, instruction words) for every program it loaded.
pub type LibbpfDump = (Vec<(String, i32)>, Vec<(String, Vec<u64>)>);

/// Build `tests/c/libbpf_dump.c` against the system's libbpf, once.
fn tool() -> Result<PathBuf, String> {
    static TOOL: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    TOOL.get_or_init(|| {
        let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/c/libbpf_dump.c");
        let dir = std::env::temp_dir().join(format!("ebee-object-libbpf-{}", std::process::id()));
        std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
        let out = dir.join("libbpf_dump");
        let built = Command::new("clang-19")
            .arg("-O2")
            .arg(&src)
            .args(["-lbpf", "-o"])
            .arg(&out)
            .output()
            .map_err(|e| format!("clang-19: {e}"))?;
        if !built.status.success() {
            return Err(format!(
                "cannot build the libbpf tool: {}",
                String::from_utf8_lossy(&built.stderr)
            ));
        }
        Ok(out)
    })
    .clone()
}

/// Load `object` with libbpf. `Err`: no libbpf to run; `Ok(None)`: libbpf
/// refuses the object (or the kernel its programs).
pub fn libbpf_dump(object: &Path) -> Result<Option<LibbpfDump>, String> {
    let tool = tool()?;
    let out = Command::new(&tool)
        .arg(object)
        .output()
        .map_err(|e| e.to_string())?;
    if !out.status.success() {
        return Ok(None);
    }
    let (mut maps, mut progs): LibbpfDump = Default::default();
    for line in String::from_utf8(out.stdout).unwrap().lines() {
        let f: Vec<&str> = line.split_whitespace().collect();
        match f[0] {
            "map" => maps.push((f[2].to_string(), f[3].parse().unwrap())),
            "prog" => progs.push((f[1].to_string(), Vec::new())),
            w => progs
                .last_mut()
                .unwrap()
                .1
                .push(u64::from_str_radix(w, 16).unwrap()),
        }
    }
    Ok(Some((maps, progs)))
}

/// Our map list's fds in libbpf's run: named maps by name; global data
/// maps, which libbpf renames (`<object>.data`), in creation order.
pub fn fds_for(obj: &Object, maps: &[(String, i32)]) -> Vec<i32> {
    let mut internal = maps
        .iter()
        .filter(|(n, _)| obj.map(n).is_none_or(|(_, m)| m.data.is_some()));
    obj.maps()
        .iter()
        .map(|m| match m.origin {
            MapOrigin::Global(_) => internal.next().expect("libbpf has fewer global maps").1,
            _ => {
                maps.iter()
                    .find(|(n, _)| n == &m.name)
                    .expect("map missing in libbpf")
                    .1
            }
        })
        .collect()
}

/// Compare every program libbpf loaded with ours bound to the same fds;
/// returns how many were compared.
pub fn compare_with_libbpf(what: &str, obj: &Object, dump: &LibbpfDump) -> usize {
    let (maps, progs) = dump;
    let fds = fds_for(obj, maps);
    for (pname, words) in progs {
        let p = obj
            .programs()
            .iter()
            .find(|p| &p.name == pname && !p.subprogram)
            .or_else(|| obj.program(pname))
            .unwrap_or_else(|| panic!("{what}: libbpf has program `{pname}`, we do not"));
        let ours: Vec<u64> = ebee_isa::encode_program(&p.bind_maps(MapBinding::Fds(&fds)).unwrap())
            .iter()
            .map(|r| r.to_u64())
            .collect();
        assert_eq!(&ours, words, "{what}: `{pname}` differs from libbpf's");
    }
    progs.len()
}

/// (program name, program type, expected attach type).
pub type ProgramClass = (String, u32, u32);

/// (map name, [type, key size, value size, max entries, flags]).
pub type MapClass = (String, [u32; 5]);

/// libbpf's view of an object after opening it: its programs'
/// classification and its map definitions.
pub type Opened = (Vec<ProgramClass>, Vec<MapClass>);

/// Open `object` with libbpf (see [`Opened`]).
pub fn libbpf_open(object: &Path) -> Result<Option<Opened>, String> {
    let tool = tool()?;
    let out = Command::new(&tool)
        .arg("--open")
        .arg(object)
        .output()
        .map_err(|e| e.to_string())?;
    if !out.status.success() {
        return Ok(None);
    }
    let (mut progs, mut maps) = (Vec::new(), Vec::new());
    for l in String::from_utf8(out.stdout).unwrap().lines() {
        let f: Vec<&str> = l.split_whitespace().collect();
        let n = |i: usize| f[i].parse::<u32>().unwrap();
        match f[0] {
            "type" => progs.push((f[1].to_string(), n(2), n(3))),
            _ => maps.push((f[1].to_string(), [n(2), n(3), n(4), n(5), n(6)])),
        }
    }
    Ok(Some((progs, maps)))
}

/// Compare our map definitions with libbpf's (named maps by name, global
/// data maps in order); returns how many were compared.
pub fn compare_maps_with_libbpf(what: &str, obj: &Object, theirs: &[MapClass]) -> usize {
    assert_eq!(obj.maps().len(), theirs.len(), "{what}: number of maps");
    let mut internal = theirs
        .iter()
        .filter(|(n, _)| obj.map(n).is_none_or(|(_, m)| m.data.is_some()));
    for m in obj.maps() {
        let (_, def) = match m.origin {
            MapOrigin::Global(_) => internal.next().unwrap(),
            _ => theirs.iter().find(|(n, _)| n == &m.name).unwrap(),
        };
        let ours = [
            m.map_type.number(),
            m.key_size,
            m.value_size,
            m.max_entries,
            m.flags,
        ];
        assert_eq!(
            &ours, def,
            "{what}: map `{}` [type, key, value, max_entries, flags]",
            m.name
        );
    }
    theirs.len()
}

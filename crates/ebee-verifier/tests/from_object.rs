//! Verifying straight from ebee-object: maps by index, the program type
//! from the section name, and rejections that name the source line.

use ebee_verifier::{verify, ObjectProgram, Options};

fn object(rel: &str) -> Option<ebee_object::Object> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/corpora/ebpf-samples")
        .join(rel);
    let bytes = std::fs::read(&path).ok()?;
    Some(ebee_object::Object::parse(&bytes).expect("sample object parses"))
}

#[test]
fn rejection_names_the_source_line() {
    let Some(obj) = object("build/nullmapref.o") else {
        println!("skipped: sample objects not found");
        return;
    };
    let prog = obj.program_in("test", "test_repro").expect("program");
    let p = ObjectProgram::new(prog, obj.maps()).expect("supported");
    // `test` is no section name libbpf knows: verified as tc, which loads such sections.
    assert_eq!(p.prog_type.kernel_type, Some(3));
    let v = verify(&p.program(), &Options::default());
    let r = v
        .verdict
        .rejection()
        .expect("a NULL map value is dereferenced");
    let text = r.to_string();
    println!("{text}");
    let src = r.source.as_ref().expect("line info");
    assert!(src.file.ends_with("nullmapref.c"), "{text}");
    assert!(
        text.contains(&format!("nullmapref.c:{}", src.line)),
        "{text}"
    );
}

#[test]
fn object_maps_and_program_types_reach_the_verifier() {
    let Some(obj) = object("build/map_in_map.o") else {
        println!("skipped: sample objects not found");
        return;
    };
    let prog = obj.entry_programs().next().expect("a program");
    let p = ObjectProgram::new(prog, obj.maps()).expect("supported");
    // The map of maps and its inner template are both known.
    assert!(p.maps.get(ebee_verifier::MapRef::Index(1)).is_some());
    assert!(p.maps.get(ebee_verifier::MapRef::InnerOfIndex(1)).is_some());
    let v = verify(&p.program(), &Options::default());
    assert!(v.verdict.is_accepted(), "{:?}", v.verdict.rejection());
}

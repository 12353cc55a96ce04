//! `cgroup_array` with `bpf_skb_under_cgroup` against the kernel, and
//! `stack_trace` maps with `bpf_get_stackid` / `bpf_get_stack` in
//! userspace.
//!
//! The cgroup test stores the same cgroups in both maps (the root, the
//! test's own cgroup, a new empty sibling, nothing) and asks every index,
//! past the end included, through a tc program run with
//! `BPF_PROG_TEST_RUN` and in ebee: the answers must be equal.

mod prog_type;

use std::os::fd::AsRawFd;

use ebee_kernel::TestRun;
use ebee_runtime::loader::{LoadOptions, LoadedObject};
use ebee_runtime::map::{cgroup2_root, Cgroup, Map, MapSpec, MapType, BPF_ANY};
use ebee_runtime::program_type::skb::{SkBuff, Skb, SkbKind};
use ebee_runtime::Vm;
use prog_type::{compile, kernel, TempCgroup};

#[test]
fn skb_under_cgroup_matches_the_kernel() {
    let obj = compile("cgroup_stack");
    let Some(k) = kernel(&obj) else { return };
    let (Some(root), Some(own)) = (cgroup2_root(), Cgroup::of_current_thread()) else {
        println!("skipped: no cgroup v2 hierarchy");
        return;
    };
    let own_dir = own.dir().unwrap();
    let fresh = TempCgroup::new(&root, &format!("ebee-test-{}", std::process::id()));
    let dirs = [root.clone(), own_dir, fresh.0.clone()];

    let user = LoadedObject::load(&obj, &LoadOptions::new()).expect("ebee load");
    let (km, um) = (k.map("cgroups").unwrap(), user.map("cgroups").unwrap());
    let files: Vec<std::fs::File> = dirs
        .iter()
        .map(|d| std::fs::File::open(d).unwrap())
        .collect();
    for (i, (d, f)) in dirs.iter().zip(&files).enumerate() {
        let i = i as u32;
        km.update(
            &i.to_ne_bytes(),
            &(f.as_raw_fd() as u32).to_ne_bytes(),
            BPF_ANY,
        )
        .expect("kernel cgroup slot");
        um.set_cgroup(i, d, BPF_ANY).expect("ebee cgroup slot");
    }
    // Not a cgroup: refused like an fd that is no cgroup.
    assert_eq!(
        um.set_cgroup(3, std::path::Path::new("/tmp"), BPF_ANY)
            .unwrap_err()
            .errno(),
        Some(9)
    );
    let kp = k.program("under_cgroup").unwrap();
    let up = user.program("under_cgroup").unwrap();
    let mut s = Skb::new(SkbKind::Tc).unwrap();
    let packet = [0u8; 64];
    let mut answers = vec![];
    for index in 0..6u32 {
        let ctx = SkBuff {
            cb: [index, 0, 0, 0, 0],
            ..SkBuff::default()
        };
        let ko = kp
            .test_run(&TestRun::new(&packet).ctx(&ctx.to_bytes()))
            .unwrap();
        s.ctx = SkBuff { ifindex: 1, ..ctx };
        let uo = s.run_loaded(up, &packet).unwrap();
        assert_eq!(uo.ret as u32, ko.retval, "index {index}");
        answers.push(ko.retval as i32);
    }
    // Root and own cgroup contain the thread, the new one does not, slot 3
    // is empty (-EAGAIN), 4 and 5 are past the end (-E2BIG).
    assert_eq!(answers, [1, 1, 0, -11, -7, -7]);
}

#[test]
fn stack_ids_name_host_call_stacks() {
    let map = std::sync::Arc::new(
        Map::create(&MapSpec::new(MapType::StackTrace, 4, 8 * 16, 64)).unwrap(),
    );
    let env = std::sync::Arc::new(ebee_runtime::helpers::HelperEnv::new());
    let handle = env.maps().insert(&map);
    // r0 = get_stackid(ctx, map, flags from the input's first word).
    let text = format!("r6 = r1\nr2 = {handle:#x} ll\nr3 = *(u64 *)(r6 + 0)\ncall 27\nexit");
    let mut vm = Vm::new(ebee_isa::assemble(&text).unwrap()).unwrap();
    vm.set_helpers(ebee_runtime::helpers::standard_helpers(&env));
    let run = |flags: u64| {
        let mut input = flags.to_ne_bytes().to_vec();
        vm.run(&mut input).unwrap() as i64
    };
    const USER: u64 = 1 << 8;
    #[inline(never)]
    fn site_a(f: &dyn Fn(u64) -> i64) -> i64 {
        std::hint::black_box(f(USER))
    }
    #[inline(never)]
    fn site_b(f: &dyn Fn(u64) -> i64) -> i64 {
        std::hint::black_box(f(USER))
    }
    let (a1, a2) = {
        let ids: Vec<i64> = (0..2).map(|_| site_a(&run)).collect();
        (ids[0], ids[1])
    };
    let b = site_b(&run);
    assert!((0..64).contains(&a1), "a stack id: {a1}");
    assert_eq!(a1, a2, "the same call stack, the same id");
    // No kernel stack in userspace; flags beyond the known ones.
    assert_eq!(run(0), -14);
    assert_eq!(run(1 << 20), -22);
    let stack = map.lookup(&(a1 as u32).to_ne_bytes()).unwrap().unwrap();
    let ips: Vec<u64> = stack
        .chunks(8)
        .map(|c| u64::from_ne_bytes(c.try_into().unwrap()))
        .collect();
    assert!(
        ips.iter().take_while(|&&ip| ip != 0).count() >= 4,
        "{ips:x?}"
    );
    if b >= 0 && b != a1 {
        let other = map.lookup(&(b as u32).to_ne_bytes()).unwrap().unwrap();
        assert_ne!(stack, other, "another call site, another stack");
    } else {
        // The other site's stack hashed to the same bucket: EEXIST.
        assert!(b == -17 || b == a1, "{b}");
    }
    // Iteration finds the stored ids; deleting empties them.
    let ids: Vec<u32> = map
        .keys()
        .map(|k| u32::from_ne_bytes(k.try_into().unwrap()))
        .collect();
    assert!(ids.contains(&(a1 as u32)), "{ids:?}");
    map.delete(&(a1 as u32).to_ne_bytes()).unwrap();
    assert_eq!(
        map.delete(&(a1 as u32).to_ne_bytes()).unwrap_err().errno(),
        Some(2)
    );
    assert_eq!(
        map.delete(&1000u32.to_ne_bytes()).unwrap_err().errno(),
        Some(7)
    );
}

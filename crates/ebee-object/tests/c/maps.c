/* Maps of every kind the loader reads: BTF-defined, legacy, prog array
 * with initial slots, map-in-map with an inner definition. */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct key {
	__u32 a;
	__u16 b;
};

struct value {
	__u64 counts[4];
	char name[12];
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__type(key, struct key);
	__type(value, struct value);
	__uint(max_entries, 1024);
	__uint(map_flags, BPF_F_NO_PREALLOC);
} hash_map SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(key_size, 4);
	__uint(value_size, 8);
	__uint(max_entries, 16);
#ifndef NO_LEGACY /* libbpf would pin it in /sys/fs/bpf */
	__uint(pinning, 1);
#endif
} sized_array SEC(".maps");

struct inner {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__type(key, __u32);
	__type(value, __u64);
	__uint(max_entries, 2);
} inner_map SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);
	__uint(max_entries, 4);
	__type(key, __u32);
	__array(values, struct inner);
} outer_map SEC(".maps") = {
	.values = { [1] = &inner_map },
};

#ifndef NO_LEGACY
/* The layout of the kernel samples' legacy definitions. */
struct legacy_map_def {
	unsigned int type;
	unsigned int key_size;
	unsigned int value_size;
	unsigned int max_entries;
	unsigned int map_flags;
};

struct legacy_map_def legacy_a SEC("maps") = {
	.type = BPF_MAP_TYPE_PERCPU_ARRAY,
	.key_size = 4,
	.value_size = 16,
	.max_entries = 8,
};

struct legacy_map_def legacy_b SEC("maps") = {
	.type = BPF_MAP_TYPE_LRU_HASH,
	.key_size = 8,
	.value_size = 4,
	.max_entries = 100,
	.map_flags = 2,
};
#endif

SEC("xdp")
int tail(struct xdp_md *ctx)
{
	return XDP_PASS;
}

struct {
	__uint(type, BPF_MAP_TYPE_PROG_ARRAY);
	__uint(max_entries, 8);
	__uint(key_size, sizeof(__u32));
	__array(values, int (void *));
} jump_table SEC(".maps") = {
	.values = { [3] = (void *)&tail },
};

SEC("xdp")
int use_maps(struct xdp_md *ctx)
{
	struct key k = { .a = 1, .b = 2 };
	__u32 idx = 0;
	struct value *v = bpf_map_lookup_elem(&hash_map, &k);
	__u64 *s = bpf_map_lookup_elem(&sized_array, &idx);
#ifndef NO_LEGACY
	__u32 *la = bpf_map_lookup_elem(&legacy_a, &idx);
	__u32 *lb = bpf_map_lookup_elem(&legacy_b, &idx);
#else
	/* libbpf 1.x no longer reads legacy `maps` definitions. */
	__u32 *la = 0, *lb = 0;
#endif
	void *in = bpf_map_lookup_elem(&outer_map, &idx);
	bpf_tail_call(ctx, &jump_table, 3);
	return (v ? 1 : 0) + (s ? 2 : 0) + (la ? 4 : 0) + (lb ? 8 : 0) + (in ? 16 : 0);
}

char LICENSE[] SEC("license") = "GPL";

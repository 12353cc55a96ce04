// array_of_maps and hash_of_maps: inner maps from `.values`, looked up
// and updated through the outer map.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct inner {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 8);
	__type(key, __u32);
	__type(value, __u64);
};

struct inner inner_a SEC(".maps");
struct inner inner_b SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);
	__uint(max_entries, 4);
	__type(key, __u32);
	__array(values, struct inner);
} outer_arr SEC(".maps") = {
	.values = { [0] = &inner_a, [2] = &inner_b },
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH_OF_MAPS);
	__uint(max_entries, 4);
	__type(key, __u32);
	__array(values, struct inner);
} outer_hash SEC(".maps") = {
	.values = { [5] = &inner_a },
};

__u64 runs;
__s64 out[8];

static __noinline __s64 add(void *outer, __u32 slot, __u32 key, __u64 by)
{
	__u64 *v, init = by;
	void *m = bpf_map_lookup_elem(outer, &slot);

	if (!m)
		return -100;
	v = bpf_map_lookup_elem(m, &key);
	if (!v)
		return bpf_map_update_elem(m, &key, &init, BPF_NOEXIST);
	*v += by;
	return (__s64)*v;
}

SEC("socket")
int through_outer(struct __sk_buff *skb)
{
	__u64 r = runs++;
	int i = 0;

	out[i++] = add(&outer_arr, 0, r % 3, 1);
	out[i++] = add(&outer_arr, 2, 7, 10);
	out[i++] = add(&outer_arr, 1, 0, 1);     /* empty slot */
	out[i++] = add(&outer_hash, 5, 4, 100);
	out[i++] = add(&outer_hash, 6, 0, 1);    /* no such key */
	return 0;
}

char LICENSE[] SEC("license") = "GPL";

// Map-in-maps defined with BTF, their inner maps given in `.values`.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct inner {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 2);
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
} outer SEC(".maps") = {
	.values = { [0] = &inner_a, [3] = &inner_b },
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH_OF_MAPS);
	__uint(max_entries, 4);
	__type(key, __u32);
	__array(values, struct inner);
} by_name SEC(".maps") = {
	.values = { [7] = &inner_b },
};

static int bump(void *outer_map, __u32 slot, __u64 by)
{
	__u32 zero = 0;
	__u64 *v;
	void *m = bpf_map_lookup_elem(outer_map, &slot);

	if (!m)
		return 0;
	v = bpf_map_lookup_elem(m, &zero);
	if (!v)
		return 0;
	*v += by;
	return 1;
}

SEC("xdp")
int through_outer(struct xdp_md *ctx)
{
	int found = 0;

	found += bump(&outer, 0, 1);   /* inner_a[0] += 1 */
	found += bump(&outer, 3, 10);  /* inner_b[0] += 10 */
	found += bump(&outer, 1, 100); /* empty slot */
	found += bump(&by_name, 7, 1000); /* inner_b[0] += 1000 */
	return found == 3 ? XDP_PASS : XDP_DROP;
}

char LICENSE[] SEC("license") = "GPL";

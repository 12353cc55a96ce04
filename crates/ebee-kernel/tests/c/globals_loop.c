// BTF-defined maps, the three global sections and bpf_loop with a callback.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16);
	__type(key, __u32);
	__type(value, __u64);
} counts SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 4);
	__type(key, __u32);
	__type(value, __u64);
} results SEC(".maps");

volatile const __u64 multiplier = 3; /* .rodata */
__u64 runs = 100;                    /* .data */
__u64 last_sum;                      /* .bss */

static long add_step(__u32 i, void *ctx)
{
	__u64 *sum = ctx;
	*sum += i * multiplier;
	return 0;
}

SEC("xdp")
int globals_and_loop(struct xdp_md *ctx)
{
	__u64 sum = 0;
	__u32 key = 7, first = 0;
	__u64 one = 1, *c, *r;

	bpf_loop(10, add_step, &sum, 0); /* 3 * (0 + 1 + ... + 9) = 135 */
	last_sum = sum;
	runs += 1;
	c = bpf_map_lookup_elem(&counts, &key);
	if (c)
		__sync_fetch_and_add(c, 1);
	else
		bpf_map_update_elem(&counts, &key, &one, BPF_NOEXIST);
	r = bpf_map_lookup_elem(&results, &first);
	if (r)
		*r = sum + runs;
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "GPL";

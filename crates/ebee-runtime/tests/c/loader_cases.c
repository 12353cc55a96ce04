// Small programs for the loader's own tests (no kernel needed).
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 2);
	__type(key, __u32);
	__type(value, __u64);
} vals SEC(".maps");

__u64 result;

#ifdef OUT_OF_BOUNDS
SEC("socket")
int oob(struct __sk_buff *skb)
{
	__u32 k = 0;
	__u64 *v = bpf_map_lookup_elem(&vals, &k);

	if (!v)
		return 0;
	return v[1]; /* past the 8-byte value */
}
#endif

#ifdef XDP_HELPER
// An XDP helper in a socket filter: the loader gives each program only
// its own type's helpers, so this one is unknown here.
SEC("socket")
int adjust(struct xdp_md *ctx)
{
	return bpf_xdp_adjust_head(ctx, 4);
}
#endif

#ifdef FORGED_MAP
SEC("socket")
int forged(struct __sk_buff *skb)
{
	__u32 k = 0;
	__u64 *v = bpf_map_lookup_elem((void *)0x1234, &k);

	return v ? 1 : 2;
}
#endif

#ifdef HOST_HELPER
static long (*host_add)(long a, long b) = (void *)0x1000;

SEC("socket")
int with_host_helper(struct __sk_buff *skb)
{
	result = host_add(40, 2) + bpf_get_prandom_u32();
	return 0;
}
#endif

#ifdef LOOP
static long add(__u64 i, void *ctx)
{
	*(__u64 *)ctx += i;
	return 0;
}

SEC("socket")
int sum_loop(struct __sk_buff *skb)
{
	__u64 sum = 0;

	bpf_loop(100, add, &sum, 0);
	result = sum;
	return 0;
}
#endif

char LICENSE[] SEC("license") = "GPL";

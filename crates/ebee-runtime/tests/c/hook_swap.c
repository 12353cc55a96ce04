// Two versions of a program sharing one counter map, for the hot-swap test.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

char LICENSE[] SEC("license") = "GPL";

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} counter SEC(".maps");

static __always_inline int bump(__u64 by, int version)
{
	__u32 k = 0;
	__u64 *v = bpf_map_lookup_elem(&counter, &k);
	if (!v)
		return -1;
	__sync_fetch_and_add(v, by);
	return version;
}

SEC("socket")
int v1(void *ctx) { return bump(1, 1); }

SEC("socket")
int v2(void *ctx) { return bump(1000, 2); }

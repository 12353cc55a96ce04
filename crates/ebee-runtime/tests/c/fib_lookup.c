// bpf_fib_lookup probes for tests/fib_lookup_kernel.rs: an XDP and a tc
// program that run every lookup of `probes` (params and flags) and stores the
// return value and the params the helper left in `results` (`tc_results`) (unused
// slots are all zero: family 0, -EAFNOSUPPORT). Run with
// BPF_PROG_TEST_RUN in a network namespace set up by the test, and in
// ebee with the same forwarding table.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

char LICENSE[] SEC("license") = "GPL";

#define NPROBES 32

struct probe {
	struct bpf_fib_lookup params;
	__u32 flags;
	__u32 pad;
};

struct result {
	__s64 ret;
	struct bpf_fib_lookup params;
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__type(key, __u32);
	__type(value, struct probe);
	__uint(max_entries, NPROBES);
} probes SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__type(key, __u32);
	__type(value, struct result);
	__uint(max_entries, NPROBES);
} results SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__type(key, __u32);
	__type(value, struct result);
	__uint(max_entries, NPROBES);
} tc_results SEC(".maps");

static __always_inline int run_probes(void *ctx, void *out)
{
	for (__u32 i = 0; i < NPROBES; i++) {
		__u32 k = i;
		struct probe *p = bpf_map_lookup_elem(&probes, &k);
		struct result *r = bpf_map_lookup_elem(out, &k);
		if (!p || !r)
			return -1;
		struct bpf_fib_lookup params = p->params;
		r->ret = bpf_fib_lookup(ctx, &params, sizeof(params), p->flags);
		r->params = params;
	}
	return 0;
}

SEC("xdp")
int fib_probes(struct xdp_md *ctx)
{
	return run_probes(ctx, &results) ? XDP_ABORTED : XDP_PASS;
}

SEC("tc")
int fib_probes_tc(struct __sk_buff *skb)
{
	return run_probes(skb, &tc_results) ? 2 : 0;
}

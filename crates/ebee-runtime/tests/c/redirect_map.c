// bpf_redirect_map on a devmap and a cpumap, in the kernel
// (BPF_PROG_TEST_RUN) and in ebee; tests/redirect_map.rs compares the
// return values. The key (u32) and flags (u64) come from the packet at
// offset 14; the program returns r0 of bpf_redirect_map as is.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

char LICENSE[] SEC("license") = "GPL";

struct {
	__uint(type, BPF_MAP_TYPE_DEVMAP);
	__uint(max_entries, 8);
	__type(key, __u32);
	__type(value, __u32);
} devs SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_CPUMAP);
	__uint(max_entries, 2);
	__type(key, __u32);
	__type(value, struct bpf_cpumap_val);
} cpus SEC(".maps");

struct args {
	__u32 key;
	__u64 flags;
} __attribute__((packed));

static __always_inline struct args *args(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data, *end = (void *)(long)ctx->data_end;
	struct args *a = data + 14;
	if ((void *)(a + 1) > end)
		return 0;
	return a;
}

SEC("xdp")
int redirect_dev(struct xdp_md *ctx)
{
	struct args *a = args(ctx);
	if (!a)
		return 100;
	return bpf_redirect_map(&devs, a->key, a->flags);
}

SEC("xdp")
int redirect_cpu(struct xdp_md *ctx)
{
	struct args *a = args(ctx);
	if (!a)
		return 100;
	return bpf_redirect_map(&cpus, a->key, a->flags);
}

// bpf_redirect, then a failed bpf_redirect_map: the latter wins.
SEC("xdp")
int redirect_then_miss(struct xdp_md *ctx)
{
	struct args *a = args(ctx);
	if (!a)
		return 100;
	bpf_redirect(1, 0);
	return bpf_redirect_map(&devs, a->key, a->flags);
}

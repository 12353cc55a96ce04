// A prog array filled from the object (`.values`) and tail calls through it.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

__u64 hits; /* .bss */

int target(struct xdp_md *ctx);

struct {
	__uint(type, BPF_MAP_TYPE_PROG_ARRAY);
	__uint(max_entries, 4);
	__uint(key_size, sizeof(__u32));
	__array(values, int(void *));
} jump_table SEC(".maps") = {
	.values = { [2] = (void *)&target },
};

SEC("xdp")
int target(struct xdp_md *ctx)
{
	hits += 1;
	return XDP_TX;
}

SEC("xdp")
int jump_to_2(struct xdp_md *ctx)
{
	bpf_tail_call(ctx, &jump_table, 2);
	return XDP_DROP; /* only when the slot is empty */
}

SEC("xdp")
int jump_to_1(struct xdp_md *ctx)
{
	bpf_tail_call(ctx, &jump_table, 1);
	return XDP_DROP;
}

char LICENSE[] SEC("license") = "GPL";

/* Subprograms: static noinline functions called from two programs (one
 * calling another), a global function, a bpf_loop callback, and two
 * programs in one section. */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

static __attribute__((noinline)) int leaf(int x)
{
	return x * 3 + 1;
}

static __attribute__((noinline)) int middle(int x)
{
	return leaf(x) + leaf(x + 1);
}

__attribute__((noinline)) int global_helper(int x)
{
	return x ^ 0x55;
}

struct loop_ctx {
	int sum;
};

static int loop_body(__u32 index, void *data)
{
	struct loop_ctx *c = data;
	c->sum += index;
	return 0;
}

SEC("xdp")
int first(struct xdp_md *ctx)
{
	return middle(ctx->ingress_ifindex) & 3;
}

SEC("xdp")
int second(struct xdp_md *ctx)
{
	return leaf(ctx->rx_queue_index) & 3;
}

SEC("tc")
int third(struct __sk_buff *skb)
{
	struct loop_ctx c = { 0 };
	bpf_loop(10, loop_body, &c, 0);
	return c.sum + global_helper(skb->len) + middle(1);
}

/* libbpf lays out subprograms depth first: middle, leaf, global_helper. */
SEC("tc")
int fourth(struct __sk_buff *skb)
{
	return middle(skb->len) + global_helper(skb->len);
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";

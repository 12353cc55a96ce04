/* Two socket filters sharing a call graph of static subprograms, run in
 * the kernel after ebee links them. */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

static __attribute__((noinline)) __u32 mix(__u32 x)
{
	return (x * 2654435761u) ^ (x >> 7);
}

static __attribute__((noinline)) __u32 twice(__u32 x)
{
	return mix(x) + mix(x + 1);
}

static __attribute__((noinline)) __u32 thrice(__u32 x)
{
	return twice(x) ^ mix(x * 3);
}

SEC("socket")
int sock_a(struct __sk_buff *skb)
{
	return thrice(skb->len) & 0xffff;
}

SEC("socket")
int sock_b(struct __sk_buff *skb)
{
	return (mix(skb->len + 3) + twice(7)) & 0xffff;
}

char LICENSE[] SEC("license") = "GPL";

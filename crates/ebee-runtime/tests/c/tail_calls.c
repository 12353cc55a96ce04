// Tail calls through a prog array filled from the object: a chain, an
// empty slot falling through, and a self tail call stopped by the limit.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

__u64 hits[4];
__u64 depth;

int target(struct __sk_buff *skb);
int selfcall(struct __sk_buff *skb);

struct {
	__uint(type, BPF_MAP_TYPE_PROG_ARRAY);
	__uint(max_entries, 4);
	__uint(key_size, sizeof(__u32));
	__array(values, int(void *));
} jumps SEC(".maps") = {
	.values = { [1] = (void *)&target, [3] = (void *)&selfcall },
};

SEC("socket")
int target(struct __sk_buff *skb)
{
	hits[1]++;
	return 11;
}

SEC("socket")
int selfcall(struct __sk_buff *skb)
{
	depth++;
	bpf_tail_call(skb, &jumps, 3);
	hits[3]++;
	return 33;
}

SEC("socket")
int entry(struct __sk_buff *skb)
{
	hits[0]++;
	bpf_tail_call(skb, &jumps, 2); /* empty: falls through */
	hits[2]++;
	bpf_tail_call(skb, &jumps, 1);
	return 7; /* not reached */
}

SEC("socket")
int entry_self(struct __sk_buff *skb)
{
	bpf_tail_call(skb, &jumps, 3);
	return 1;
}

char LICENSE[] SEC("license") = "GPL";

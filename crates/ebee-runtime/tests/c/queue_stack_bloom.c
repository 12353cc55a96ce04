// Queue, stack and bloom filter through push/pop/peek.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct {
	__uint(type, BPF_MAP_TYPE_QUEUE);
	__uint(max_entries, 4);
	__type(value, __u64);
} queue SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_STACK);
	__uint(max_entries, 4);
	__type(value, __u64);
} stack SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_BLOOM_FILTER);
	__uint(max_entries, 64);
	__type(value, __u32);
	__uint(map_extra, 3);
} bloom SEC(".maps");

__u64 runs;
__s64 out[24];

SEC("socket")
int queue_stack_bloom(struct __sk_buff *skb)
{
	__u64 r = runs++, v = 0;
	__u32 b;
	int i = 0;

	out[i++] = bpf_map_push_elem(&queue, &(__u64){ r * 10 + 1 }, 0);
	out[i++] = bpf_map_push_elem(&queue, &(__u64){ r * 10 + 2 }, 0);
	out[i++] = bpf_map_push_elem(&stack, &(__u64){ r * 10 + 3 }, 0);
	out[i++] = bpf_map_push_elem(&stack, &(__u64){ r * 10 + 4 }, 0);
	out[i++] = bpf_map_push_elem(&stack, &(__u64){ r * 10 + 5 }, BPF_EXIST);
	v = 0;
	out[i++] = bpf_map_pop_elem(&queue, &v);
	out[i++] = v;
	v = 0;
	out[i++] = bpf_map_peek_elem(&queue, &v);
	out[i++] = v;
	v = 0;
	out[i++] = bpf_map_pop_elem(&stack, &v);
	out[i++] = v;
	v = 0;
	out[i++] = bpf_map_peek_elem(&stack, &v);
	out[i++] = v;
	b = (__u32)r;
	out[i++] = bpf_map_push_elem(&bloom, &b, 0);
	b = 0;
	out[i++] = bpf_map_peek_elem(&bloom, &b);
	b = 12345;
	out[i++] = bpf_map_peek_elem(&bloom, &b);
	return i;
}

char LICENSE[] SEC("license") = "GPL";

// bpf_spin_lock in a map value around a read-modify-write (tc: socket
// filters may not take spin locks).
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct counter {
	struct bpf_spin_lock lock;
	__u32 pad;
	__u64 value;
	__u64 updates;
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 2);
	__type(key, __u32);
	__type(value, struct counter);
} counters SEC(".maps");

SEC("tc")
int locked_add(struct __sk_buff *skb)
{
	__u32 k = 1;
	struct counter *c = bpf_map_lookup_elem(&counters, &k);
	__u64 v;

	if (!c)
		return 0;
	bpf_spin_lock(&c->lock);
	v = c->value;
	c->value = v * 3 + 1;
	c->updates++;
	bpf_spin_unlock(&c->lock);
	return 1;
}

char LICENSE[] SEC("license") = "GPL";

// bpf_skb_under_cgroup on a cgroup array (tc), run in the kernel and in
// ebee by tests/cgroup_stack_kernel.rs: cb[0] is the index asked, the
// result is returned.
#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>

char LICENSE[] SEC("license") = "GPL";

struct {
	__uint(type, BPF_MAP_TYPE_CGROUP_ARRAY);
	__uint(key_size, sizeof(__u32));
	__uint(value_size, sizeof(__u32));
	__uint(max_entries, 4);
} cgroups SEC(".maps");

SEC("tc")
int under_cgroup(struct __sk_buff *skb)
{
	return bpf_skb_under_cgroup(skb, &cgroups, skb->cb[0]);
}

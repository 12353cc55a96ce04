/* CO-RE programs run in userspace (relocated against the runtime's
 * context BTF) and in the kernel (against vmlinux): tests/core_userspace.rs
 * compares what they find. The local types are flavoured (`___v2`) and
 * declare only some fields, in their own order, so every access moves. */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>

char LICENSE[] SEC("license") = "GPL";

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 24);
	__type(key, __u32);
	__type(value, __u64);
} results SEC(".maps");

static __always_inline void put(__u32 i, __u64 v)
{
	__u64 *slot = bpf_map_lookup_elem(&results, &i);
	if (slot)
		*slot = v;
}

struct xdp_md___v2 {
	__u32 rx_queue_index;
	__u32 ingress_ifindex;
	__u32 data_end;
	__u32 data;
	__u32 no_such_field;
} __attribute__((preserve_access_index));

struct iphdr___v2 {
	__u8 ttl;
	__be32 daddr;
	__u8 protocol;
	__u8 version: 4;
	__u8 ihl: 4;
} __attribute__((preserve_access_index));

struct tcphdr___v2 {
	__u16 syn: 1;
	__u16 doff: 4;
	__be16 dest;
} __attribute__((preserve_access_index));

struct ebee_no_such_type {
	int x;
} __attribute__((preserve_access_index));

enum ebee_levels___v2 { EBEE_LOW = 1, EBEE_HIGH = 2 };

SEC("xdp")
int xdp_core(struct xdp_md *ctx)
{
	struct xdp_md___v2 *c = (void *)ctx;
	void *data = (void *)(long)c->data;
	void *data_end = (void *)(long)c->data_end;

	put(0, bpf_core_field_exists(struct xdp_md___v2, rx_queue_index));
	put(1, bpf_core_field_size(struct xdp_md___v2, ingress_ifindex));
	put(2, bpf_core_field_offset(struct xdp_md___v2, rx_queue_index));
	put(3, __builtin_preserve_field_info(___bpf_field_ref(struct xdp_md___v2, data), BPF_FIELD_SIGNED));
	put(4, bpf_core_type_exists(struct ethhdr));
	put(5, bpf_core_type_exists(struct ebee_no_such_type));
	put(6, bpf_core_type_size(struct xdp_md));
	put(7, bpf_core_enum_value(enum xdp_action, XDP_TX));
	put(8, bpf_core_enum_value_exists(enum xdp_action, XDP_REDIRECT));
	put(9, c->rx_queue_index + 1000 * c->ingress_ifindex);
	/* A field the target lacks: the guarded path never runs. */
	if (bpf_core_field_exists(struct xdp_md___v2, no_such_field))
		put(10, c->no_such_field);
	else
		put(10, 0xdead);
	/* An enum the target lacks. */
	if (bpf_core_enum_value_exists(enum ebee_levels___v2, EBEE_HIGH))
		put(11, bpf_core_enum_value(enum ebee_levels___v2, EBEE_HIGH));
	else
		put(11, 0xbeef);

	if (data + 14 + 20 + 20 > data_end)
		return XDP_PASS;
	struct iphdr___v2 *ip = data + 14;
	struct tcphdr___v2 *tcp = data + 14 + 20;
	put(12, ip->ttl);
	put(13, ip->daddr);
	put(14, ip->protocol);
	put(15, BPF_CORE_READ_BITFIELD(ip, ihl));
	put(16, BPF_CORE_READ_BITFIELD(ip, version));
	put(17, BPF_CORE_READ_BITFIELD(tcp, doff));
	put(18, BPF_CORE_READ_BITFIELD(tcp, syn));
	put(19, tcp->dest);
	put(20, bpf_core_field_offset(struct iphdr___v2, daddr));
	return ip->ttl > 64 ? XDP_DROP : XDP_TX;
}

struct __sk_buff___v2 {
	__u32 cb[5];
	__u32 protocol;
	__u32 mark;
	__u32 len;
	__u64 hwtstamp;
	__u64 tstamp;
	__u32 ebee_not_in_any_kernel;
} __attribute__((preserve_access_index));

SEC("tc")
int tc_core(struct __sk_buff *skb)
{
	struct __sk_buff___v2 *s = (void *)skb;

	put(0, s->len);
	put(1, s->protocol);
	put(2, s->mark);
	put(3, s->cb[2]);
	put(4, bpf_core_field_exists(struct __sk_buff___v2, hwtstamp));
	put(5, bpf_core_field_size(struct __sk_buff___v2, tstamp));
	put(6, bpf_core_field_offset(struct __sk_buff___v2, hwtstamp));
	put(7, bpf_core_field_offset(struct __sk_buff___v2, cb[3]));
	put(8, bpf_core_type_size(struct __sk_buff));
	put(9, bpf_core_enum_value(enum sk_action, SK_PASS));
	if (bpf_core_field_exists(struct __sk_buff___v2, ebee_not_in_any_kernel))
		put(10, s->ebee_not_in_any_kernel);
	else
		put(10, 0xfeed);
	s->mark = s->mark + 1;
	s->cb[4] = s->len;
	return s->len & 1;
}

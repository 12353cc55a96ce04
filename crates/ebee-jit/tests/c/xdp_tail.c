// An XDP packet rewrite behind a tail call, with callbacks: the entry
// counts the packet and tail-calls the rewriter, which hashes the
// destination MAC with bpf_loop, swaps the MACs, decrements the TTL
// (checksum updated), counts protocols in a hash map and sums the
// statistics with bpf_for_each_map_elem to choose its verdict.
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

int xdp_rewrite(struct xdp_md *ctx);

struct {
	__uint(type, BPF_MAP_TYPE_PROG_ARRAY);
	__uint(max_entries, 2);
	__uint(key_size, sizeof(__u32));
	__array(values, int(void *));
} jumps SEC(".maps") = {
	.values = { [0] = (void *)&xdp_rewrite },
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 4);
	__type(key, __u32);
	__type(value, __u64);
} stats SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16);
	__type(key, __u32);
	__type(value, __u64);
} protos SEC(".maps");

__u64 seen;
__u64 macsum;

struct macwalk {
	__u8 mac[8];
	__u64 sum;
};

static long mac_step(__u64 i, void *data)
{
	struct macwalk *m = data;

	m->sum = m->sum * 31 + m->mac[i & 7];
	return 0;
}

static long sum_stats(void *map, __u32 *key, __u64 *val, void *data)
{
	*(__u64 *)data += *val * (*key + 1);
	return 0;
}

static __always_inline void csum_replace2(__u16 *sum, __u16 old, __u16 new)
{
	__u32 s = (__u16)~*sum + (__u16)~old + new;
	s = (s & 0xffff) + (s >> 16);
	s = (s & 0xffff) + (s >> 16);
	*sum = ~s;
}

SEC("xdp")
int xdp_rewrite(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data, *end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	struct macwalk m = {};
	__u8 tmp[ETH_ALEN];
	__u64 total = 0, *s;
	__u32 k = 1;

	if ((void *)(eth + 1) > end)
		return XDP_ABORTED;
	__builtin_memcpy(m.mac, eth->h_dest, ETH_ALEN);
	bpf_loop(ETH_ALEN, mac_step, &m, 0);
	macsum += m.sum;
	__builtin_memcpy(tmp, eth->h_dest, ETH_ALEN);
	__builtin_memcpy(eth->h_dest, eth->h_source, ETH_ALEN);
	__builtin_memcpy(eth->h_source, tmp, ETH_ALEN);
	s = bpf_map_lookup_elem(&stats, &k);
	if (s)
		*s += 1;
	if (eth->h_proto == bpf_htons(ETH_P_IP)) {
		struct iphdr *ip = (void *)(eth + 1);
		__u64 one = 1, *c;
		__u32 p;
		__u16 old;

		if ((void *)(ip + 1) > end)
			return XDP_DROP;
		if (ip->ttl <= 1)
			return XDP_DROP;
		old = *(__u16 *)&ip->ttl;
		ip->ttl--;
		csum_replace2(&ip->check, old, *(__u16 *)&ip->ttl);
		p = ip->protocol;
		c = bpf_map_lookup_elem(&protos, &p);
		if (c)
			*c += 1;
		else
			bpf_map_update_elem(&protos, &p, &one, BPF_NOEXIST);
	}
	bpf_for_each_map_elem(&stats, sum_stats, &total, 0);
	return total > 40 ? XDP_PASS : XDP_TX;
}

SEC("xdp")
int xdp_entry(struct xdp_md *ctx)
{
	__u32 k = 0;
	__u64 *s = bpf_map_lookup_elem(&stats, &k);

	seen++;
	if (s)
		*s += 1;
	bpf_tail_call(ctx, &jumps, 0);
	return XDP_ABORTED;
}

char LICENSE[] SEC("license") = "GPL";

// XDP programs run both in the kernel (BPF_PROG_TEST_RUN) and in ebee's
// userspace XDP; tests/prog_type_xdp.rs compares verdicts and packets.
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <linux/in.h>
#include <linux/tcp.h>
#include <linux/udp.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

char LICENSE[] SEC("license") = "GPL";

SEC("xdp")
int xdp_parse(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data, *end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	if ((void *)(eth + 1) > end)
		return XDP_ABORTED;
	if (eth->h_proto != bpf_htons(ETH_P_IP))
		return XDP_PASS;
	struct iphdr *ip = (void *)(eth + 1);
	if ((void *)(ip + 1) > end)
		return XDP_DROP;
	if (ip->ihl < 5 || ip->version != 4)
		return XDP_ABORTED;
	void *l4 = (void *)ip + ip->ihl * 4;
	if (ip->protocol == IPPROTO_TCP) {
		struct tcphdr *tcp = l4;
		if ((void *)(tcp + 1) > end)
			return XDP_DROP;
		if (tcp->dest == bpf_htons(80))
			return XDP_TX;
		if (tcp->syn && !tcp->ack)
			return XDP_REDIRECT;
		return XDP_PASS;
	}
	if (ip->protocol == IPPROTO_UDP) {
		struct udphdr *udp = l4;
		if ((void *)(udp + 1) > end)
			return XDP_DROP;
		if (udp->dest == bpf_htons(9))
			return XDP_DROP;
		return 100 + (bpf_ntohs(udp->len) & 0xff);
	}
	return XDP_PASS;
}

static __always_inline void csum_replace2(__u16 *sum, __u16 old, __u16 new)
{
	__u32 s = (__u16)~*sum + (__u16)~old + new;
	s = (s & 0xffff) + (s >> 16);
	s = (s & 0xffff) + (s >> 16);
	*sum = ~s;
}

SEC("xdp")
int xdp_swap(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data, *end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	if ((void *)(eth + 1) > end)
		return XDP_PASS;
	unsigned char tmp[ETH_ALEN];
	__builtin_memcpy(tmp, eth->h_dest, ETH_ALEN);
	__builtin_memcpy(eth->h_dest, eth->h_source, ETH_ALEN);
	__builtin_memcpy(eth->h_source, tmp, ETH_ALEN);
	if (eth->h_proto != bpf_htons(ETH_P_IP))
		return XDP_TX;
	struct iphdr *ip = (void *)(eth + 1);
	if ((void *)(ip + 1) > end)
		return XDP_TX;
	if (ip->ttl <= 1)
		return XDP_DROP;
	__u16 old = *(__u16 *)&ip->ttl;
	ip->ttl--;
	csum_replace2(&ip->check, old, *(__u16 *)&ip->ttl);
	return XDP_TX;
}

SEC("xdp")
int xdp_encap(struct xdp_md *ctx)
{
	if (bpf_xdp_adjust_head(ctx, -(int)sizeof(struct iphdr)))
		return XDP_ABORTED;
	void *data = (void *)(long)ctx->data, *end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	struct ethhdr *old = data + sizeof(struct iphdr);
	struct iphdr *outer = (void *)(eth + 1);
	struct iphdr *inner = (void *)(outer + 1);
	if ((void *)(inner + 1) > end)
		return XDP_DROP;
	__builtin_memcpy(eth, old, sizeof(*eth));
	outer->version = 4;
	outer->ihl = 5;
	outer->tos = 0;
	outer->tot_len = bpf_htons(bpf_ntohs(inner->tot_len) + sizeof(struct iphdr));
	outer->id = 0;
	outer->frag_off = 0;
	outer->ttl = 64;
	outer->protocol = IPPROTO_IPIP;
	outer->check = 0;
	outer->saddr = bpf_htonl(0x0a000001);
	outer->daddr = inner->daddr;
	__s64 c = bpf_csum_diff(0, 0, (__be32 *)outer, sizeof(*outer), 0);
	if (c < 0)
		return XDP_ABORTED;
	__u32 s = c;
	s = (s & 0xffff) + (s >> 16);
	s = (s & 0xffff) + (s >> 16);
	outer->check = ~s;
	return XDP_TX;
}

SEC("xdp")
int xdp_trim(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data, *end = (void *)(long)ctx->data_end;
	long len = end - data;
	if (len > 100) {
		if (bpf_xdp_adjust_tail(ctx, 60 - (int)len))
			return XDP_ABORTED;
		return XDP_PASS;
	}
	if (bpf_xdp_adjust_tail(ctx, 16))
		return XDP_DROP;
	data = (void *)(long)ctx->data;
	end = (void *)(long)ctx->data_end;
	unsigned char *tail = data + (len & 127);
	if ((void *)(tail + 16) > end)
		return XDP_ABORTED;
	for (int i = 0; i < 16; i++)
		tail[i] ^= 0xa0 + i;
	return XDP_TX;
}

SEC("xdp")
int xdp_meta(struct xdp_md *ctx)
{
	if (bpf_xdp_adjust_meta(ctx, -8))
		return XDP_ABORTED;
	void *data = (void *)(long)ctx->data;
	__u32 *meta = (void *)(long)ctx->data_meta;
	if ((void *)(meta + 2) > data)
		return XDP_DROP;
	unsigned char *p = data;
	if ((void *)(p + 4) > (void *)(long)ctx->data_end)
		return XDP_DROP;
	meta[0] = 0x11223344;
	meta[1] = p[0] | p[3] << 8 | ctx->ingress_ifindex << 16;
	return XDP_PASS;
}

static __always_inline int code(long r)
{
	return r == 0 ? 0 : r == -22 ? 1 : r == -13 ? 2 : 3;
}

// Probes the helpers' limits: deltas come from bytes 14..19 of the packet.
SEC("xdp")
int xdp_limits(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data, *end = (void *)(long)ctx->data_end;
	__s16 *d = data + 14;
	if ((void *)(d + 3) > end)
		return 255;
	int head = d[0], meta = d[1], tail = d[2];
	int r = code(bpf_xdp_adjust_meta(ctx, meta));
	r |= code(bpf_xdp_adjust_head(ctx, head)) << 2;
	r |= code(bpf_xdp_adjust_tail(ctx, tail)) << 4;
	void *m = (void *)(long)ctx->data_meta;
	data = (void *)(long)ctx->data;
	end = (void *)(long)ctx->data_end;
	r |= (int)(data - m) << 8;
	r |= (int)(end - data) << 16;
	return r;
}

// bpf_csum_diff on packet words: sizes picked by byte 14.
SEC("xdp")
int xdp_csum(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data, *end = (void *)(long)ctx->data_end;
	if (data + 96 > end)
		return 0;
	unsigned char *p = data;
	__u32 seed = *(__u32 *)(p + 16);
	switch (p[14] % 10) {
	case 0: return bpf_csum_diff((void *)(p + 20), 4, (void *)(p + 24), 4, seed);
	case 1: return bpf_csum_diff((void *)(p + 20), 0, (void *)(p + 24), 20, seed);
	case 2: return bpf_csum_diff((void *)(p + 20), 40, 0, 0, seed);
	case 3: return bpf_csum_diff((void *)(p + 20), 12, (void *)(p + 32), 64, seed);
	case 4: return bpf_csum_diff((void *)(p + 20), 8, (void *)(p + 28), 8, 0);
	case 5: return bpf_csum_diff((void *)(p + 20), 3, (void *)(p + 28), 8, 0);
	case 6: return bpf_csum_diff((void *)(p + 20), 5, (void *)(p + 40), 7, seed);
	case 7: return bpf_csum_diff((void *)(p + 21), 1, (void *)(p + 41), 2, seed);
	case 8: return bpf_csum_diff((void *)(p + 21), 6, 0, 0, seed);
	default: return bpf_csum_diff((void *)(p + 20), 36, (void *)(p + 56), 36, seed);
	}
}

SEC("xdp")
int xdp_redirect(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data, *end = (void *)(long)ctx->data_end;
	unsigned char *p = data;
	if ((void *)(p + 16) > end)
		return XDP_PASS;
	return bpf_redirect(p[14], p[15] & 1);
}

// Packet parsers the verifier proves (direct packet access bounded by
// data_end): tests/packet_unchecked.rs runs them verified (unchecked) and
// unverified (checked) in ebee and in the kernel, and times both modes.
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <linux/in.h>
#include <linux/tcp.h>
#include <linux/udp.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

char LICENSE[] SEC("license") = "GPL";

// Ethernet / IPv4 / TCP / UDP with a verdict per packet.
SEC("xdp")
int xdp_parser(struct xdp_md *ctx)
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

// A tc classifier: parse to L4, mark by port, decrement the TTL with the
// checksum fixed by bpf_l3_csum_replace, sum the first payload bytes.
SEC("tc")
int tc_parser(struct __sk_buff *skb)
{
	void *data = (void *)(long)skb->data, *end = (void *)(long)skb->data_end;
	struct ethhdr *eth = data;
	if ((void *)(eth + 1) > end || eth->h_proto != bpf_htons(ETH_P_IP))
		return TC_ACT_OK;
	struct iphdr *ip = (void *)(eth + 1);
	if ((void *)(ip + 1) > end || ip->ihl != 5)
		return TC_ACT_OK;
	struct udphdr *l4 = (void *)(ip + 1);
	if ((void *)(l4 + 1) > end)
		return TC_ACT_SHOT;
	skb->mark = bpf_ntohs(l4->dest);
	__u32 sum = 0;
	__u8 *p = (void *)(l4 + 1);
	for (int i = 0; i < 16; i++) {
		if ((void *)(p + i + 1) > end)
			break;
		sum += p[i];
	}
	skb->cb[0] = sum;
	if (ip->ttl <= 1)
		return TC_ACT_SHOT;
	__u16 old = *(__u16 *)&ip->ttl;
	ip->ttl--;
	__u16 new = *(__u16 *)&ip->ttl;
	if (bpf_l3_csum_replace(skb, ETH_HLEN + offsetof(struct iphdr, check), old, new, 2))
		return TC_ACT_UNSPEC;
	// Pointers are stale after the helper: re-read before touching the packet.
	data = (void *)(long)skb->data;
	end = (void *)(long)skb->data_end;
	eth = data;
	if ((void *)(eth + 1) > end)
		return TC_ACT_OK;
	eth->h_source[5] ^= 1;
	return sum & 1 ? TC_ACT_PIPE : TC_ACT_OK;
}

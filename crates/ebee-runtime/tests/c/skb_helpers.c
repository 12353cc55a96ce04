// tc programs using the checksum and packet-changing sk_buff helpers; run
// in the kernel (BPF_PROG_TEST_RUN) and in ebee's userspace sk_buff by
// tests/skb_helpers_kernel.rs, which compares return values, output
// packets and the context (cb holds what the programs observed).
//
// The *_args programs take the helper's arguments from the context (cb,
// mark) so that the test can drive every flag and error path; the others
// do what real programs do.
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/in.h>
#include <linux/tcp.h>
#include <linux/udp.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

char LICENSE[] SEC("license") = "GPL";

// Linux 6.x flags newer than this machine's UAPI header.
#define ADJ_ROOM_DECAP_L3_IPV4 (1ULL << 7)

#define IP_CSUM_OFF (ETH_HLEN + offsetof(struct iphdr, check))
#define IP_TTL_OFF (ETH_HLEN + offsetof(struct iphdr, ttl))
#define IP_SRC_OFF (ETH_HLEN + offsetof(struct iphdr, saddr))

// What the program sees after a packet-changing call.
static __always_inline void observe(struct __sk_buff *skb)
{
	void *data = (void *)(long)skb->data, *end = (void *)(long)skb->data_end;
	skb->cb[3] = skb->len | (__u32)(end - data) << 16;
	skb->cb[4] = skb->protocol | skb->pkt_type << 16;
}

// Decrement the TTL and fix the IPv4 header checksum (a 2-byte field
// change covering TTL and protocol).
SEC("tc")
int ttl_dec(struct __sk_buff *skb)
{
	void *data = (void *)(long)skb->data, *end = (void *)(long)skb->data_end;
	struct ethhdr *eth = data;
	struct iphdr *ip = data + ETH_HLEN;
	if ((void *)(ip + 1) > end || eth->h_proto != bpf_htons(ETH_P_IP))
		return TC_ACT_OK;
	if (ip->ttl <= 1)
		return TC_ACT_SHOT;
	__u16 old = *(__u16 *)&ip->ttl;
	ip->ttl--;
	__u16 new = *(__u16 *)&ip->ttl;
	return bpf_l3_csum_replace(skb, IP_CSUM_OFF, old, new, 2);
}

// Rewrite the source address (4-byte change in the IP checksum and, as a
// pseudo-header field, in the TCP/UDP checksum) and the destination port
// (2-byte change); UDP uses BPF_F_MARK_MANGLED_0.
SEC("tc")
int nat(struct __sk_buff *skb)
{
	void *data = (void *)(long)skb->data, *end = (void *)(long)skb->data_end;
	struct ethhdr *eth = data;
	struct iphdr *ip = data + ETH_HLEN;
	if ((void *)(ip + 1) > end || eth->h_proto != bpf_htons(ETH_P_IP) || ip->ihl != 5)
		return TC_ACT_OK;
	__u32 csum_off, l4_flags = 0;
	if (ip->protocol == IPPROTO_TCP) {
		csum_off = ETH_HLEN + sizeof(*ip) + offsetof(struct tcphdr, check);
	} else if (ip->protocol == IPPROTO_UDP) {
		csum_off = ETH_HLEN + sizeof(*ip) + offsetof(struct udphdr, check);
		l4_flags = BPF_F_MARK_MANGLED_0;
	} else {
		return TC_ACT_OK;
	}
	__u32 old_ip = ip->saddr, new_ip = bpf_htonl(0x0a000001 + (skb->mark & 0xff));
	struct udphdr *l4 = (void *)(ip + 1);
	if ((void *)(l4 + 1) > end)
		return TC_ACT_OK;
	__u16 old_port = l4->dest, new_port = bpf_htons(8080 + (skb->mark >> 8 & 0xff));
	long r = bpf_l4_csum_replace(skb, csum_off, old_ip, new_ip,
				     l4_flags | BPF_F_PSEUDO_HDR | 4) & 0xff;
	r |= (bpf_l3_csum_replace(skb, IP_CSUM_OFF, old_ip, new_ip, 4) & 0xff) << 8;
	r |= (bpf_skb_store_bytes(skb, IP_SRC_OFF, &new_ip, 4, 0) & 0xff) << 16;
	r |= (bpf_l4_csum_replace(skb, csum_off, old_port, new_port, l4_flags | 2) & 0xff) << 24;
	__u32 port_off = csum_off - offsetof(struct udphdr, check) + offsetof(struct udphdr, dest);
	bpf_skb_store_bytes(skb, port_off, &new_port, 2, 0);
	return r;
}

// The same address rewrite through bpf_csum_diff (size 0).
SEC("tc")
int nat_diff(struct __sk_buff *skb)
{
	void *data = (void *)(long)skb->data, *end = (void *)(long)skb->data_end;
	struct iphdr *ip = data + ETH_HLEN;
	if ((void *)(ip + 1) > end)
		return TC_ACT_OK;
	__u32 old_ip = ip->daddr, new_ip = bpf_htonl(0xc0a80000 + skb->mark);
	__s64 diff = bpf_csum_diff(&old_ip, 4, &new_ip, 4, skb->priority);
	long r = bpf_l3_csum_replace(skb, IP_CSUM_OFF, 0, diff, 0) & 0xff;
	r |= (bpf_l4_csum_replace(skb, ETH_HLEN + 20 + 16, 0, diff,
				  BPF_F_PSEUDO_HDR | (skb->cb[0] & BPF_F_MARK_MANGLED_0)) & 0xff) << 8;
	return r;
}

// l3/l4_csum_replace with arguments from the context: offset cb[0], from
// cb[1], to cb[2] | cb[3] << 32, flags mark; l4 when priority is odd.
SEC("tc")
int csum_args(struct __sk_buff *skb)
{
	__u64 to = skb->cb[2] | (__u64)skb->cb[3] << 32;
	__u64 flags = skb->mark | (__u64)(skb->mark & 0x80000000) << 32;
	if (skb->priority & 1)
		return bpf_l4_csum_replace(skb, skb->cb[0], skb->cb[1], to, flags);
	return bpf_l3_csum_replace(skb, skb->cb[0], skb->cb[1], to, flags);
}

// bpf_skb_change_tail(new_len cb[0], flags cb[1]), then write after it.
SEC("tc")
int tail_args(struct __sk_buff *skb)
{
	long r = bpf_skb_change_tail(skb, skb->cb[0], skb->cb[1]);
	observe(skb);
	void *data = (void *)(long)skb->data, *end = (void *)(long)skb->data_end;
	__u32 last = skb->len - 1;
	if (last < 0x3fff) {
		__u8 *p = data + last;
		if ((void *)(p + 1) <= end)
			*p ^= 0xa5;
	}
	return r;
}

// bpf_skb_change_head(head_room cb[0], flags cb[1]); fill a new MAC header.
SEC("tc")
int head_args(struct __sk_buff *skb)
{
	long r = bpf_skb_change_head(skb, skb->cb[0], skb->cb[1]);
	observe(skb);
	void *data = (void *)(long)skb->data, *end = (void *)(long)skb->data_end;
	struct ethhdr *eth = data;
	if ((void *)(eth + 1) <= end) {
		eth->h_dest[0] = 0x02;
		eth->h_proto = bpf_htons(ETH_P_IP);
	}
	return r;
}

// bpf_skb_adjust_room(len_diff cb[0], mode cb[1], flags cb[2] | mark << 32).
SEC("tc")
int room_args(struct __sk_buff *skb)
{
	__u64 flags = skb->cb[2] | (__u64)skb->mark << 32;
	long r = bpf_skb_adjust_room(skb, (__s32)skb->cb[0], skb->cb[1], flags) & 0xffff;
	observe(skb);
	// A second call sees the state the first left (encapsulation, headers).
	if (skb->priority & 1)
		r |= (bpf_skb_adjust_room(skb, (__s32)skb->cb[0], skb->cb[1], flags) & 0xff) << 16;
	if (skb->priority & 2)
		r |= (bpf_skb_change_tail(skb, skb->len + 4, 0) & 0xff) << 24;
	return r;
}

// IP-in-IP encapsulation: room for an outer header after the MAC header,
// then the outer header written with bpf_skb_store_bytes.
SEC("tc")
int ipip_encap(struct __sk_buff *skb)
{
	void *data = (void *)(long)skb->data, *end = (void *)(long)skb->data_end;
	struct iphdr *inner = data + ETH_HLEN;
	if ((void *)(inner + 1) > end)
		return TC_ACT_OK;
	struct iphdr outer = *inner;
	outer.ihl = 5;
	outer.protocol = IPPROTO_IPIP;
	outer.tot_len = bpf_htons(bpf_ntohs(inner->tot_len) + sizeof(outer));
	outer.check = 0;
	outer.daddr = bpf_htonl(0x0a0a0a0a);
	__u64 flags = BPF_F_ADJ_ROOM_ENCAP_L3_IPV4;
	if (skb->mark & 1)
		flags |= BPF_F_ADJ_ROOM_FIXED_GSO;
	long r = bpf_skb_adjust_room(skb, sizeof(outer), BPF_ADJ_ROOM_MAC, flags);
	if (r)
		return r;
	observe(skb);
	__s64 sum = bpf_csum_diff(0, 0, (void *)&outer, sizeof(outer), 0);
	outer.check = ~((sum & 0xffff) + (sum >> 16));
	return bpf_skb_store_bytes(skb, ETH_HLEN, &outer, sizeof(outer), 0);
}

// Decapsulation: drop the outer IPv4 header of IP-in-IP packets.
SEC("tc")
int ipip_decap(struct __sk_buff *skb)
{
	void *data = (void *)(long)skb->data, *end = (void *)(long)skb->data_end;
	struct iphdr *outer = data + ETH_HLEN;
	if ((void *)(outer + 1) > end || outer->protocol != IPPROTO_IPIP)
		return TC_ACT_OK;
	long r = bpf_skb_adjust_room(skb, -(int)sizeof(*outer), BPF_ADJ_ROOM_MAC,
				     ADJ_ROOM_DECAP_L3_IPV4);
	observe(skb);
	return r;
}

// bpf_skb_change_proto(proto cb[0], flags cb[1]); on IPv4 -> IPv6, write
// an IPv6 header from the IPv4 one (NAT64-style).
SEC("tc")
int proto_args(struct __sk_buff *skb)
{
	void *data = (void *)(long)skb->data, *end = (void *)(long)skb->data_end;
	struct iphdr *ip = data + ETH_HLEN;
	struct iphdr ip4 = {};
	int v4 = (void *)(ip + 1) <= end;
	if (v4)
		ip4 = *ip;
	long r = bpf_skb_change_proto(skb, skb->cb[0], skb->cb[1]);
	observe(skb);
	if (r || skb->protocol != bpf_htons(ETH_P_IPV6) || !v4)
		return r;
	data = (void *)(long)skb->data;
	end = (void *)(long)skb->data_end;
	struct ethhdr *eth = data;
	struct ipv6hdr *ip6 = data + ETH_HLEN;
	if ((void *)(ip6 + 1) > end)
		return 99;
	eth->h_proto = bpf_htons(ETH_P_IPV6);
	ip6->version = 6;
	ip6->priority = 0;
	ip6->payload_len = bpf_htons(bpf_ntohs(ip4.tot_len) - 20);
	ip6->nexthdr = ip4.protocol;
	ip6->hop_limit = ip4.ttl;
	ip6->saddr.in6_u.u6_addr32[3] = ip4.saddr;
	ip6->daddr.in6_u.u6_addr32[3] = ip4.daddr;
	return r;
}

unsigned long long load_byte(void *skb, unsigned long long off) asm("llvm.bpf.load.byte");
unsigned long long load_word(void *skb, unsigned long long off) asm("llvm.bpf.load.word");

// Legacy packet loads after the packet changed: bpf_skb_adjust_room
// (len_diff cb[0], mode cb[1], flags cb[2]) then ldabs/ldind near both
// ends of the new packet.
SEC("tc")
int ldabs_after_room(struct __sk_buff *skb)
{
	long r = bpf_skb_adjust_room(skb, (__s32)skb->cb[0], skb->cb[1], skb->cb[2]);
	__u32 v = load_word(skb, 12) ^ load_byte(skb, skb->len - 1) << 24;
	skb->cb[3] = v ^ load_byte(skb, skb->len - 2 + (skb->mark & 3));
	return r;
}

// bpf_skb_change_type(cb[0]) and bpf_skb_pull_data(cb[1]).
SEC("tc")
int type_pull_args(struct __sk_buff *skb)
{
	long a = bpf_skb_change_type(skb, skb->cb[0]);
	long b = bpf_skb_pull_data(skb, skb->cb[1]);
	observe(skb);
	return (a & 0xffff) | (b & 0xffff) << 16;
}

// Up to four VLAN operations, op i in byte i of cb[0] (1 push, 2 pop, else
// stop); push k uses protocol cb[1] >> 16k and TCI cb[2] >> 16k. Byte i of
// the result is op i's return value; mark and priority record the tag.
SEC("tc")
int vlan_args(struct __sk_buff *skb)
{
	__u32 r = 0, pushes = 0;
#pragma unroll
	for (int i = 0; i < 4; i++) {
		__u32 op = (skb->cb[0] >> (8 * i)) & 0xff;
		long ret;
		if (op == 1) {
			__u32 sh = 16 * (pushes++ & 1);
			ret = bpf_skb_vlan_push(skb, (__be16)(skb->cb[1] >> sh), (__u16)(skb->cb[2] >> sh));
		} else if (op == 2) {
			ret = bpf_skb_vlan_pop(skb);
		} else {
			break;
		}
		r |= (__u32)(ret & 0xff) << (8 * i);
	}
	observe(skb);
	skb->mark = skb->vlan_present | skb->vlan_tci << 16;
	skb->priority = skb->vlan_proto;
	return r;
}

// bpf_skb_set_tunnel_key (unless cb[0] bit 31) with flags cb[0] & 0xff and
// size cb[0] >> 16 & 0x3f, then bpf_skb_get_tunnel_key with flags cb[0] >> 8
// & 0xff and size cb[4] & 0x3f; the key read back goes into the packet at
// offset 14. The key set comes from cb[1..4], mark and priority.
SEC("tc")
int tunnel_args(struct __sk_buff *skb)
{
	__u32 key[12] = {}, out[12] = {};
	__u32 a = skb->cb[0];
	__u32 ssize = (a >> 16) & 0x3f, gsize = skb->cb[4] & 0x3f;
	long r = 0, g;
	key[0] = skb->cb[1];
	key[1] = skb->cb[2];
	key[2] = skb->cb[3];
	key[3] = skb->mark;
	key[4] = skb->priority;
	key[5] = skb->cb[1] ^ skb->cb[3];
	key[6] = skb->cb[2] & 0x001fffff;
	key[7] = skb->cb[3] ^ 0x5a5a5a5a;
	key[8] = skb->cb[2] ^ skb->mark;
	key[10] = skb->priority ^ 0x01020304;
	if (skb->cb[4] & 0x40)
		((__u16 *)key)[11] = 0;
	if (skb->cb[4] & 0x80)
		key[6] = 0;
	if (!(a & 0x80000000)) {
		// Two separate tests: clang would fold them into one on
		// `ssize - 1`, a bound on a linked copy ebee's verifier does not
		// carry back to ssize (the kernel's does).
		if (ssize > sizeof(key))
			return 0xffff;
		asm volatile("" : "+r"(ssize));
		if (ssize == 0)
			return 0xffff;
		r = bpf_skb_set_tunnel_key(skb, (void *)key, ssize, a & 0xff);
	}
	if (gsize > sizeof(out))
		return 0xfffe;
	asm volatile("" : "+r"(gsize));
	if (gsize == 0)
		return 0xfffe;
	g = bpf_skb_get_tunnel_key(skb, (void *)out, gsize, (a >> 8) & 0xff);
	if (skb->len >= ETH_HLEN + sizeof(out))
		bpf_skb_store_bytes(skb, ETH_HLEN, out, sizeof(out), 0);
	return (r & 0xff) | (g & 0xff) << 8;
}

// bpf_set_hash_invalid (void); cb[0] records the hash before, cb[1] after.
SEC("tc")
int hash_invalid(struct __sk_buff *skb)
{
	skb->cb[0] = skb->hash;
	bpf_set_hash_invalid(skb);
	skb->cb[1] = skb->hash;
	return 0;
}

// bpf_clone_redirect(skb, 1, cb[0]) then bpf_redirect(1, cb[1]) (the
// second only when cb[2] is set): byte 0 the first result, the rest the
// second.
SEC("tc")
int redirects(struct __sk_buff *skb)
{
	long r = bpf_clone_redirect(skb, 1, skb->cb[0]) & 0xff;
	if (skb->cb[2])
		r |= bpf_redirect(1, skb->cb[1]) << 8;
	observe(skb);
	return r;
}

// A tunnel key (unless cb[0] bit 31), options of size cb[0] & 0x7f from a
// pattern (unless bit 30), read back with size cb[1] & 0x7f; the options
// read and the key (with its flags) go into the packet from offset 14.
SEC("tc")
int tunnel_opt_args(struct __sk_buff *skb)
{
	__u32 key[11] = {}, opt[16], out[16] = {}, k2[11] = {};
	__u32 a = skb->cb[0], osize = a & 0x7f, gsize = skb->cb[1] & 0x7f;
	long r = 0, s = 0, g;
	for (int i = 0; i < 16; i++)
		opt[i] = skb->cb[2] * (i + 1) ^ skb->cb[3];
	key[0] = skb->cb[2];
	key[1] = skb->cb[3];
	if (!(a & 0x80000000))
		r = bpf_skb_set_tunnel_key(skb, (void *)key, sizeof(key), 0);
	if (!(a & 0x40000000)) {
		if (osize > sizeof(opt))
			return 0xffff;
		asm volatile("" : "+r"(osize));
		if (osize == 0)
			return 0xffff;
		s = bpf_skb_set_tunnel_opt(skb, opt, osize);
	}
	if (gsize > sizeof(out))
		return 0xfffe;
	asm volatile("" : "+r"(gsize));
	if (gsize == 0)
		return 0xfffe;
	g = bpf_skb_get_tunnel_opt(skb, out, gsize);
	bpf_skb_get_tunnel_key(skb, (void *)k2, sizeof(k2), BPF_F_TUNINFO_FLAGS);
	if (skb->len >= ETH_HLEN + sizeof(out) + sizeof(k2)) {
		bpf_skb_store_bytes(skb, ETH_HLEN, out, sizeof(out), 0);
		bpf_skb_store_bytes(skb, ETH_HLEN + sizeof(out), k2, sizeof(k2), 0);
	}
	return (r & 0xff) | (s & 0xff) << 8 | (g & 0xff) << 16;
}

// Socket filter and tc programs run both in the kernel (BPF_PROG_TEST_RUN)
// and in ebee's userspace sk_buff; tests/prog_type_skb.rs compares them.
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <linux/in.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

char LICENSE[] SEC("license") = "GPL";

unsigned long long load_byte(void *skb, unsigned long long off) asm("llvm.bpf.load.byte");
unsigned long long load_half(void *skb, unsigned long long off) asm("llvm.bpf.load.half");
unsigned long long load_word(void *skb, unsigned long long off) asm("llvm.bpf.load.word");

// Returns a mix of fields and legacy loads (offsets from the network header).
SEC("socket")
int sock_fields(struct __sk_buff *skb)
{
	__u32 r = skb->len * 31 + skb->pkt_type * 7 + skb->protocol;
	r ^= skb->ifindex << 20 ^ skb->mark ^ skb->priority ^ skb->ingress_ifindex;
	r += skb->vlan_present + skb->queue_mapping + skb->tc_index + skb->hash;
	skb->cb[1] = r;
	if (skb->len < 20)
		return r;
	r ^= load_byte(skb, 9) << 24;       // IPv4 protocol
	r += load_half(skb, 2);             // total length
	r ^= load_word(skb, 12);            // source address
	return r;
}

// Classic filter: keep 64 bytes of UDP, drop the rest; ldind on the IHL.
SEC("socket")
int sock_udp(struct __sk_buff *skb)
{
	if (skb->protocol != bpf_htons(ETH_P_IP))
		return 0;
	if (load_byte(skb, 9) != IPPROTO_UDP)
		return 0;
	__u32 ihl = (load_byte(skb, 0) & 0xf) * 4;
	__u32 port = load_half(skb, ihl + 2);  // out of the packet: the run ends with 0
	return port == 53 ? 0xffff : 64;
}

SEC("tc")
int tc_rewrite(struct __sk_buff *skb)
{
	__u8 buf[8];
	if (bpf_skb_load_bytes(skb, 20, buf, sizeof(buf)))
		return TC_ACT_SHOT;
	for (int i = 0; i < 8; i++)
		buf[i] = buf[i] * 3 + 1;
	if (bpf_skb_store_bytes(skb, 2, buf, sizeof(buf), 0))
		return TC_ACT_UNSPEC;
	skb->mark = buf[0] | buf[1] << 8;
	skb->priority = buf[2];
	skb->cb[0] = skb->len;
	skb->tc_classid = 0x10001;
	void *data = (void *)(long)skb->data, *end = (void *)(long)skb->data_end;
	struct ethhdr *eth = data;
	if ((void *)(eth + 1) > end)
		return TC_ACT_OK;
	eth->h_source[0] ^= 0x55;
	if (buf[3] & 1)
		return bpf_redirect(buf[4], buf[5] & 3);
	return buf[6] & 1 ? TC_ACT_PIPE : TC_ACT_OK;
}

// Load and store near the end of the packet: the -EFAULT paths.
SEC("tc")
int tc_bounds(struct __sk_buff *skb)
{
	__u8 buf[16];
	__u32 off = skb->len - 10 + (skb->mark & 15);
	long a = bpf_skb_load_bytes(skb, off, buf, 8);
	long b = bpf_skb_store_bytes(skb, off + 1, buf, 8, skb->priority & 7);
	return (a & 0xff) | (b & 0xff) << 8 | buf[0] << 16;
}

/* The XDP parser both entry points share: walks the packets laid out back
 * to back in 64-byte slots of [data, end) (at most 32), parses Ethernet,
 * IPv4 (any IHL), TCP and UDP with a bounds check before every header,
 * and decides an action per packet: drop TCP to port 22 and UDP to port
 * 53 from 10.0.0.0/8, pass the rest (non-IPv4, truncated, other ports).
 * Returns drops << 16 | (sum of the destination ports & 0xffff), so the
 * result shows that every field was read right. */
#ifndef EBEE_XDP_PARSE_H
#define EBEE_XDP_PARSE_H

typedef unsigned char u8;
typedef unsigned short u16;
typedef unsigned int u32;

#define SLOT 64
#define MAX_PACKETS 32

/* Keeps `p` in one register: clang otherwise recomputes a pointer after
 * its bounds check in a way the kernel verifier no longer connects to it. */
#define MATERIALIZE(p) asm volatile("" : "+r"(p))

static inline u16 be16(const u8 *p)
{
	return (u16)(p[0] << 8 | p[1]);
}

static inline __attribute__((always_inline)) u32 parse_packets(const u8 *data, const u8 *end)
{
	u32 drops = 0, ports = 0;

	for (int i = 0; i < MAX_PACKETS; i++) {
		const u8 *eth = data + i * SLOT;
		if (eth + 14 > end)
			break;
		if (be16(eth + 12) != 0x0800)
			continue;
		const u8 *ip = eth + 14;
		if (ip + 20 > end)
			continue;
		u32 ihl = (ip[0] & 0xf) * 4;
		if ((ip[0] >> 4) != 4 || ihl < 20)
			continue;
		u8 proto = ip[9];
		u8 src_net = ip[12];
		const u8 *l4 = ip + ihl;
		MATERIALIZE(l4);
		if (proto == 6) {
			if (l4 + 20 > end)
				continue;
			u16 dport = be16(l4 + 2);
			ports += dport;
			if (dport == 22 && src_net == 10)
				drops++;
		} else if (proto == 17) {
			if (l4 + 8 > end)
				continue;
			u16 dport = be16(l4 + 2);
			ports += dport;
			if (dport == 53 && src_net == 10)
				drops++;
		}
	}
	return drops << 16 | (ports & 0xffff);
}

#endif

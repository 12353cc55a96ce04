/* The XDP parser (xdp_parse.h) as a real XDP program, for the kernel JIT
 * column: the same packets as the frame BPF_PROG_TEST_RUN passes. */
#include "xdp_parse.h"

struct xdp_md {
	u32 data;
	u32 data_end;
	u32 data_meta;
	u32 ingress_ifindex;
	u32 rx_queue_index;
	u32 egress_ifindex;
};

__attribute__((section("xdp"), used)) int xdp_parse(struct xdp_md *ctx)
{
	const u8 *data = (const u8 *)(unsigned long)ctx->data;
	const u8 *end = (const u8 *)(unsigned long)ctx->data_end;
	return parse_packets(data, end);
}

char _license[] __attribute__((section("license"), used)) = "GPL";

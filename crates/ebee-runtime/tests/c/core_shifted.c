/* A CO-RE program for a header type no kernel has: relocated against a
 * target BTF the test builds (with `value` moved), it reads the moved
 * field; without one, its access is poisoned and the program fails where
 * it reaches it (tests/core_userspace.rs). */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>

char LICENSE[] SEC("license") = "GPL";

struct ebee_pkt_hdr {
	__u32 magic;
	__u32 value;
} __attribute__((preserve_access_index));

SEC("xdp")
int xdp_shifted(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct ebee_pkt_hdr *h = data;

	if (data + 16 > data_end)
		return 1000;
	if (h->magic != 0xeb)
		return 2000;
	return h->value;
}

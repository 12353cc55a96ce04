// An XDP program that rewrites the packet: swaps the MAC addresses,
// decrements the IPv4 TTL and bounces the packet back (XDP_TX).
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} bytes_seen SEC(".maps");

SEC("xdp")
int bounce(struct xdp_md *ctx)
{
	unsigned char *data = (void *)(long)ctx->data;
	unsigned char *end = (void *)(long)ctx->data_end;
	unsigned char tmp;
	__u32 zero = 0;
	__u64 *seen;
	int i;

	if (data + 34 > end)
		return XDP_ABORTED;
	seen = bpf_map_lookup_elem(&bytes_seen, &zero);
	if (seen)
		*seen += end - data;
	if (data[12] != 0x08 || data[13] != 0x00)
		return XDP_PASS; /* not IPv4 */
	for (i = 0; i < 6; i++) {
		tmp = data[i];
		data[i] = data[6 + i];
		data[6 + i] = tmp;
	}
	data[14 + 8] -= 1; /* TTL */
	return XDP_TX;
}

char LICENSE[] SEC("license") = "GPL";

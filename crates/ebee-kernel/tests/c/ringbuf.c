// Records sent to user space through a ring buffer: reserve/submit,
// reserve/discard and output.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 4096 * 4);
} events SEC(".maps");

struct event {
	__u32 seq;
	__u32 len;
	__u8 first[8];
};

__u32 seq;

SEC("xdp")
int emit(struct xdp_md *ctx)
{
	unsigned char *data = (void *)(long)ctx->data;
	unsigned char *end = (void *)(long)ctx->data_end;
	struct event *e;
	void *dropped;
	__u64 tail = 0xfeedf00d;

	e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (!e)
		return XDP_ABORTED;
	e->seq = ++seq;
	e->len = end - data;
	if (data + 8 <= end)
		__builtin_memcpy(e->first, data, 8);
	else
		__builtin_memset(e->first, 0, 8);
	bpf_ringbuf_submit(e, 0);

	dropped = bpf_ringbuf_reserve(&events, 16, 0);
	if (dropped)
		bpf_ringbuf_discard(dropped, 0);

	bpf_ringbuf_output(&events, &tail, sizeof(tail), 0);
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "GPL";

// Ring buffer: output, reserve + submit, reserve + discard, query.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 4096);
} events SEC(".maps");

__u64 runs;
__s64 out[16];

SEC("socket")
int ring(struct __sk_buff *skb)
{
	__u64 r = runs++;
	__u64 rec[3] = { r, r * r, 0xabcdef };
	__u64 *p;
	int i = 0;

	out[i++] = bpf_ringbuf_output(&events, rec, sizeof(rec), 0);
	p = bpf_ringbuf_reserve(&events, 16, 0);
	if (p) {
		p[0] = 100 + r;
		p[1] = 200 + r;
		bpf_ringbuf_submit(p, 0);
		out[i++] = 1;
	}
	p = bpf_ringbuf_reserve(&events, 8, 0);
	if (p) {
		p[0] = 0xdead;
		bpf_ringbuf_discard(p, 0);
		out[i++] = 2;
	}
	p = bpf_ringbuf_reserve(&events, 8192, 0); /* too big */
	out[i++] = p ? 1 : 0;
	if (p)
		bpf_ringbuf_discard(p, 0);
	out[i++] = bpf_ringbuf_query(&events, BPF_RB_AVAIL_DATA);
	out[i++] = bpf_ringbuf_query(&events, BPF_RB_RING_SIZE);
	out[i++] = bpf_ringbuf_query(&events, BPF_RB_CONS_POS);
	out[i++] = bpf_ringbuf_query(&events, BPF_RB_PROD_POS);
	out[i++] = bpf_ringbuf_output(&events, rec, 8, 12345); /* bad flags */
	return 0;
}

char LICENSE[] SEC("license") = "GPL";

// bpf_perf_event_output from a socket filter that never reads its context
// (the data comes from the stack): three samples of growing size.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct {
	__uint(type, BPF_MAP_TYPE_PERF_EVENT_ARRAY);
	__uint(key_size, sizeof(int));
	__uint(value_size, sizeof(int));
} events SEC(".maps");

SEC("socket")
int perf_output(void *ctx)
{
	char buf[16] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};
	long r = 0;
	r |= bpf_perf_event_output(ctx, &events, BPF_F_CURRENT_CPU, buf, 3);
	r |= bpf_perf_event_output(ctx, &events, BPF_F_CURRENT_CPU, buf, 8);
	r |= bpf_perf_event_output(ctx, &events, BPF_F_CURRENT_CPU, buf, 13);
	return r == 0 ? 1 : 2;
}

char _license[] SEC("license") = "GPL";

/* A tail-call chain: the entry program resets a depth counter and
 * tail-calls tail_step through a BPF_MAP_TYPE_PROG_ARRAY; tail_step counts
 * itself and tail-calls its own slot until it has run TAIL_DEPTH times,
 * then returns the depth: TAIL_DEPTH tail calls per run (the kernel allows
 * 33).
 *
 * An ELF object with maps, loaded through each engine's object loader; the
 * context is only handed on to bpf_tail_call, so the same programs run as
 * XDP in the kernel and on raw memory in ebee. */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#define TAIL_DEPTH 32

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} depth SEC(".maps");

int tail_step(void *ctx);

struct {
	__uint(type, BPF_MAP_TYPE_PROG_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__array(values, int(void *));
} chain SEC(".maps") = {
	.values = { [0] = (void *)&tail_step },
};

SEC("xdp")
int tail_step(void *ctx)
{
	__u32 zero = 0;
	__u64 *d = bpf_map_lookup_elem(&depth, &zero);
	if (!d)
		return 0;
	*d += 1;
	if (*d < TAIL_DEPTH)
		bpf_tail_call(ctx, &chain, 0);
	return *d;
}

SEC("xdp")
int tail_chain(void *ctx)
{
	__u32 zero = 0;
	__u64 *d = bpf_map_lookup_elem(&depth, &zero);
	if (!d)
		return 0;
	*d = 0;
	bpf_tail_call(ctx, &chain, 0);
	/* Not reached: slot 0 is filled at load. */
	return 0;
}

char _license[] SEC("license") = "GPL";

// Kernel functions (kfuncs) and kernel variables (__ksym), resolved
// against the running kernel's BTF and symbols.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct bpf_iter_num {
	__u64 __opaque[1];
} __attribute__((aligned(8)));

extern int bpf_iter_num_new(struct bpf_iter_num *it, int start, int end) __ksym;
extern int *bpf_iter_num_next(struct bpf_iter_num *it) __ksym;
extern void bpf_iter_num_destroy(struct bpf_iter_num *it) __ksym;

/* Untyped: only the address, from kallsyms (a function: kallsyms may list
 * only text symbols). */
extern const void schedule __ksym;

__u64 sum;
__u64 schedule_addr;

SEC("xdp")
int iterate(struct xdp_md *ctx)
{
	struct bpf_iter_num it;
	int *v;

	sum = 0;
	bpf_iter_num_new(&it, 0, 10);
	while ((v = bpf_iter_num_next(&it)))
		sum += *v;
	bpf_iter_num_destroy(&it);
	schedule_addr = (__u64)&schedule;
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "GPL";

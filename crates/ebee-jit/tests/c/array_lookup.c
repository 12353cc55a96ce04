// Array-map lookups the JIT computes inline: keys in and out of range
// (max_entries, 0xffffffff), a value size that is not a multiple of 8
// (stride 16 for 12 bytes), a key that lives in another map's value (not
// on the stack), lookups in a loop, and writes through the returned
// pointers. The verdict and every map are compared with the interpreter
// and the kernel.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct rec {
	__u32 a;
	__u32 b;
	__u32 c;
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 16);
	__type(key, __u32);
	__type(value, __u64);
} counts SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 7);
	__type(key, __u32);
	__type(value, struct rec);
} recs SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32);
} keys SEC(".maps");

SEC("xdp")
int array_lookup(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *end = (void *)(long)ctx->data_end;
	__u8 *p = data;
	__u64 sum = 0;

	if (data + 16 > end)
		return XDP_ABORTED;
	for (int i = 0; i < 8; i++) {
		__u32 k = p[i] & 0x1f;
		__u64 *c = bpf_map_lookup_elem(&counts, &k);

		if (c) {
			*c += 1;
			sum += *c;
		} else {
			sum += 1000;
		}
	}
	__u32 r_key = p[8] % 9;
	struct rec *r = bpf_map_lookup_elem(&recs, &r_key);
	if (r) {
		r->a += p[9];
		r->c ^= p[10];
		sum += r->b;
		r->b = (__u32)sum;
	} else {
		sum += 7;
	}
	__u32 zero = 0;
	__u32 *kp = bpf_map_lookup_elem(&keys, &zero);
	if (kp) {
		*kp = (*kp + 5) % 20;
		__u64 *c2 = bpf_map_lookup_elem(&counts, kp);
		if (c2)
			*c2 += 100;
		else
			sum += 3;
	}
	__u32 edge = (p[11] & 1) ? 0xffffffff : 16;
	if (bpf_map_lookup_elem(&counts, &edge))
		return XDP_ABORTED;
	__u32 last = 15;
	__u64 *l = bpf_map_lookup_elem(&counts, &last);
	if (l)
		*l += sum;
	return (sum & 1) ? XDP_PASS : XDP_DROP;
}

char _license[] SEC("license") = "GPL";

// Callbacks for the JIT: bpf_loop (stopping early), bpf_for_each_map_elem
// over an array and a hash map (stopping early), callbacks calling
// subprograms that call subprograms, a bpf_loop inside a for_each
// callback, maps and globals. A socket filter that never reads its
// context, so it runs with the raw convention and in the kernel alike.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 8);
	__type(key, __u32);
	__type(value, __u64);
} arr SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 32);
	__type(key, __u32);
	__type(value, __u64);
} hash SEC(".maps");

__u64 runs;
__s64 out[24];

static __noinline __u64 mix(__u64 x)
{
	return (x * 2654435761u) ^ (x >> 3);
}

static __noinline __u64 mix2(__u64 x, __u64 y)
{
	return mix(x) + mix(y + 1);
}

struct loop_ctx {
	__u64 sum;
	__u64 stop;
	__u64 calls;
};

static long step(__u64 i, void *data)
{
	struct loop_ctx *c = data;
	__u32 k = i & 7;
	__u64 *v;

	c->calls++;
	c->sum += mix2(i, c->sum & 0xff);
	v = bpf_map_lookup_elem(&arr, &k);
	if (v)
		*v += i;
	return i == c->stop;
}

struct walk {
	__u64 keys;
	__u64 values;
	__u64 seen;
	__u64 inner;
};

static long inner_step(__u64 i, void *data)
{
	struct walk *w = data;

	w->inner += mix(i + w->seen);
	return 0;
}

static long visit(void *map, __u32 *key, __u64 *value, void *data)
{
	struct walk *w = data;

	w->keys += *key;
	w->values += *value;
	w->seen++;
	*value = mix(*value + *key) & 0xffff;
	bpf_loop(3, inner_step, w, 0);
	return 0;
}

__u64 stop_seen;

// Counts in a global, not in the caller's stack: the kernel's verifier
// tracks a stack counter exactly and re-verifies the callback for every
// value (1M instructions); a global's value is unknown to it, so the
// callback's states converge.
static long visit_stop(void *map, __u32 *key, __u64 *value, void *data)
{
	stop_seen++;
	return stop_seen == 3;
}

SEC("socket")
int callbacks(struct __sk_buff *skb)
{
	__u64 r = runs++;
	struct loop_ctx c = { .sum = 0, .stop = 1000, .calls = 0 };
	struct walk w = {}, w2 = {};
	__u32 k = 100 + r;
	__u64 v = r * 7 + 1;
	int i = 0;

	out[i++] = bpf_loop(16 + r, step, &c, 0);
	out[i++] = c.sum;
	out[i++] = c.calls;
	c.sum = 0;
	c.calls = 0;
	c.stop = 5 + r;
	out[i++] = bpf_loop(40, step, &c, 0);
	out[i++] = c.sum;
	out[i++] = c.calls;
	bpf_map_update_elem(&hash, &k, &v, BPF_ANY);
	out[i++] = bpf_for_each_map_elem(&arr, visit, &w, 0);
	out[i++] = w.keys;
	out[i++] = w.values;
	out[i++] = w.seen;
	out[i++] = w.inner;
	out[i++] = bpf_for_each_map_elem(&hash, visit, &w2, 0);
	out[i++] = w2.keys;
	out[i++] = w2.values;
	out[i++] = w2.inner;
	stop_seen = 0;
	out[i++] = bpf_for_each_map_elem(&hash, visit_stop, 0, 0);
	out[i++] = stop_seen;
	return (c.sum ^ w.inner ^ w2.values) & 0x7fffffff;
}

char LICENSE[] SEC("license") = "GPL";

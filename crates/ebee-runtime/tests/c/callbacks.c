// bpf_loop (with an early stop) and bpf_for_each_map_elem over an array
// and a hash map, callbacks calling helpers.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 6);
	__type(key, __u32);
	__type(value, __u64);
} arr SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16);
	__type(key, __u32);
	__type(value, __u64);
} hash SEC(".maps");

__u64 runs;
__s64 out[16];

struct loop_ctx {
	__u64 sum;
	__u32 stop_at;
};

static long step(__u64 i, void *data)
{
	struct loop_ctx *c = data;
	__u32 k = (__u32)i;

	c->sum += i * i;
	if (k < 6) {
		__u64 *v = bpf_map_lookup_elem(&arr, &k);
		if (v)
			*v += i;
	}
	return i == c->stop_at;
}

struct walk {
	__u64 keys;
	__u64 values;
	__u64 seen;
};

static long visit(void *map, __u32 *key, __u64 *value, void *data)
{
	struct walk *w = data;

	w->keys += *key;
	w->values += *value;
	w->seen++;
	*value += 1;
	return 0;
}

static long visit_until_3(void *map, __u32 *key, __u64 *value, void *data)
{
	struct walk *w = data;

	w->seen++;
	return *key == 3;
}

SEC("socket")
int callbacks(struct __sk_buff *skb)
{
	__u64 r = runs++;
	struct loop_ctx c = { .sum = 0, .stop_at = 1000 };
	struct walk w = {}, w2 = {};
	__u32 k = 10 + r;
	__u64 v = r * 100;
	int i = 0;

	out[i++] = bpf_loop(20, step, &c, 0);
	out[i++] = c.sum;
	c.sum = 0;
	c.stop_at = 4;
	out[i++] = bpf_loop(20, step, &c, 0);
	out[i++] = c.sum;
	out[i++] = bpf_loop(5, step, &c, 1); /* bad flags */
	out[i++] = bpf_loop(1 << 24, step, &c, 0); /* too many */
	bpf_map_update_elem(&hash, &k, &v, BPF_ANY);
	out[i++] = bpf_for_each_map_elem(&arr, visit, &w, 0);
	out[i++] = w.keys;
	out[i++] = w.values;
	out[i++] = bpf_for_each_map_elem(&hash, visit, &w2, 0);
	out[i++] = w2.keys;
	out[i++] = w2.values;
	w2.seen = 0;
	out[i++] = bpf_for_each_map_elem(&arr, visit_until_3, &w2, 0);
	out[i++] = w2.seen;
	return 0;
}

char LICENSE[] SEC("license") = "GPL";

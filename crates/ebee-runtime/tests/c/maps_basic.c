// Every keyed map type, the three global sections and bpf-to-bpf calls,
// from a socket filter that never reads its context. Each run records
// every helper result in `out` (.bss), so the kernel and ebee can be
// compared map for map.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#define MAP(T, N, K, V, NAME)                 \
	struct {                                  \
		__uint(type, T);                      \
		__uint(max_entries, N);               \
		__type(key, K);                       \
		__type(value, V);                     \
	} NAME SEC(".maps")

MAP(BPF_MAP_TYPE_ARRAY, 8, __u32, __u64, arr);
MAP(BPF_MAP_TYPE_PERCPU_ARRAY, 4, __u32, __u64, pcpu_arr);
MAP(BPF_MAP_TYPE_HASH, 8, __u32, __u64, hash);
MAP(BPF_MAP_TYPE_PERCPU_HASH, 8, __u32, __u64, pcpu_hash);
MAP(BPF_MAP_TYPE_LRU_HASH, 64, __u32, __u64, lru);
MAP(BPF_MAP_TYPE_LRU_PERCPU_HASH, 64, __u32, __u64, lru_pcpu);

struct lpm_key {
	__u32 prefixlen;
	__u8 addr[4];
};

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, 16);
	__type(key, struct lpm_key);
	__type(value, __u64);
	__uint(map_flags, BPF_F_NO_PREALLOC);
} lpm SEC(".maps");

volatile const __u64 scale = 7; /* .rodata */
__u64 runs = 1000;              /* .data */
__s64 out[48];                  /* .bss */

static __noinline __s64 bump(void *map, __u32 key, __u64 by)
{
	__u64 *v = bpf_map_lookup_elem(map, &key);

	if (!v)
		return -1;
	*v += by;
	return (__s64)*v;
}

static __noinline int put(void *map, __u32 key, __u64 value, __u64 flags)
{
	return bpf_map_update_elem(map, &key, &value, flags);
}

static __noinline __s64 lpm_find(__u8 a, __u8 b, __u8 c, __u8 d)
{
	struct lpm_key k = { .prefixlen = 32, .addr = { a, b, c, d } };
	__u64 *v = bpf_map_lookup_elem(&lpm, &k);

	return v ? (__s64)*v : -1;
}

SEC("socket")
int maps_basic(struct __sk_buff *skb)
{
	__u64 r = runs++;
	int i = 0;

	out[i++] = bump(&arr, r % 8, scale);
	out[i++] = bump(&arr, 8, 1); /* out of range: NULL */
	out[i++] = put(&arr, 3, r, BPF_ANY);
	out[i++] = put(&arr, 3, r, BPF_NOEXIST); /* -EEXIST */
	out[i++] = put(&arr, 9, r, BPF_ANY);     /* -E2BIG */
	out[i++] = bpf_map_delete_elem(&arr, &(__u32){ 1 }); /* -EINVAL */
	out[i++] = bump(&pcpu_arr, 2, r);

	out[i++] = put(&hash, r % 4, r * 3, BPF_NOEXIST);
	out[i++] = put(&hash, r % 4, r * 5, BPF_EXIST);
	out[i++] = put(&hash, 100 + r % 16, r, BPF_ANY); /* fills up: -E2BIG */
	out[i++] = bump(&hash, r % 4, 1);
	out[i++] = bpf_map_delete_elem(&hash, &(__u32){ (r + 1) % 4 });
	out[i++] = bpf_map_delete_elem(&hash, &(__u32){ 555 }); /* -ENOENT */
	out[i++] = put(&pcpu_hash, r % 3, r, BPF_ANY);
	out[i++] = bump(&pcpu_hash, 0, 10);
	out[i++] = put(&lru, r % 5, r, BPF_ANY);
	out[i++] = bump(&lru, 2, 1);
	out[i++] = put(&lru_pcpu, r % 3, r, BPF_NOEXIST);
	out[i++] = bump(&lru_pcpu, 1, 2);

	{
		struct lpm_key k8 = { .prefixlen = 8, .addr = { 10, 0, 0, 0 } };
		struct lpm_key k24 = { .prefixlen = 24, .addr = { 10, 1, 2, 0 } };
		__u64 v8 = 8 + r, v24 = 24 + r;

		out[i++] = bpf_map_update_elem(&lpm, &k8, &v8, BPF_ANY);
		out[i++] = bpf_map_update_elem(&lpm, &k24, &v24, BPF_NOEXIST);
		out[i++] = lpm_find(10, 1, 2, 3);  /* /24 */
		out[i++] = lpm_find(10, 9, 9, 9);  /* /8 */
		out[i++] = lpm_find(11, 0, 0, 0);  /* none */
		if (r % 2)
			out[i++] = bpf_map_delete_elem(&lpm, &k24);
		else
			out[i++] = 99;
	}
	out[i++] = r;
	return (int)(r & 0xff);
}

char LICENSE[] SEC("license") = "GPL";

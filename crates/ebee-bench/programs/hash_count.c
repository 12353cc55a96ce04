/* A hash-map heavy counter: for i in 0..HASH_N, key = hash(i) % HASH_K,
 * look the key up in a BPF_MAP_TYPE_HASH and increment its counter, or
 * insert it with count 1. Returns the number of successful increments or
 * inserts plus the sum of the keys (so the hashing is checked too); that
 * does not depend on the map's contents, which persist across runs.
 *
 * An ELF object with a map, loaded through each engine's object loader
 * (ebee's runtime, the kernel's bpf(2)); the context is not read, so the
 * same program runs as XDP in the kernel and on raw memory in ebee. */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#include "hash_count.h"

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, HASH_K);
	__type(key, __u32);
	__type(value, __u64);
} counts SEC(".maps");

SEC("xdp")
int hash_count(void *ctx)
{
	__u64 done = 0;
	for (__u32 i = 0; i < HASH_N; i++) {
		__u32 key = hash_key(i);
		__u64 *count = bpf_map_lookup_elem(&counts, &key);
		if (count) {
			*count += 1;
			done += 1 + key;
		} else {
			__u64 one = 1;
			if (bpf_map_update_elem(&counts, &key, &one, BPF_NOEXIST) == 0)
				done += 1 + key;
		}
	}
	return done;
}

char _license[] SEC("license") = "GPL";

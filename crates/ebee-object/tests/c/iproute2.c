/* iproute2's `struct bpf_elf_map` (tc's loader): 9 words, maps found by
 * id, map-in-map templates by inner_id. */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct bpf_elf_map {
	__u32 type;
	__u32 size_key;
	__u32 size_value;
	__u32 max_elem;
	__u32 flags;
	__u32 id;
	__u32 pinning;
	__u32 inner_id;
	__u32 inner_idx;
};

struct bpf_elf_map SEC("maps") inner_tpl = {
	.type = BPF_MAP_TYPE_HASH,
	.size_key = 4,
	.size_value = 4,
	.max_elem = 16,
	.id = 7,
};

struct bpf_elf_map SEC("maps") outer = {
	.type = BPF_MAP_TYPE_HASH_OF_MAPS,
	.size_key = 4,
	.size_value = 4,
	.max_elem = 4,
	.pinning = 2,
	.inner_id = 7,
};

SEC("classifier")
int cls(struct __sk_buff *skb)
{
	__u32 k = 0;
	return bpf_map_lookup_elem(&outer, &k) != 0;
}

char LICENSE[] SEC("license") = "GPL";

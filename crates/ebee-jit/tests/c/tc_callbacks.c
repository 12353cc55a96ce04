// A tc classifier with callbacks: it copies the first 32 bytes of the
// packet to the stack, hashes them with bpf_loop, writes the hash into the
// packet (bpf_skb_store_bytes) and counts packets per verdict in a hash
// map, visited with bpf_for_each_map_elem to pick the verdict.
#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 8);
	__type(key, __u32);
	__type(value, __u64);
} verdicts SEC(".maps");

__u64 hashes;

struct bytes {
	__u8 b[32];
	__u32 h;
};

static long hash_step(__u64 i, void *data)
{
	struct bytes *s = data;

	s->h = (s->h ^ s->b[i & 31]) * 16777619;
	return 0;
}

static long count(void *map, __u32 *key, __u64 *value, void *data)
{
	*(__u64 *)data += *value;
	return *value > 100;
}

SEC("tc")
int tc_hash(struct __sk_buff *skb)
{
	struct bytes s = { .h = 2166136261u };
	__u64 total = 0, one = 1, *c;
	__u32 key;

	if (bpf_skb_load_bytes(skb, 0, s.b, sizeof(s.b)))
		return TC_ACT_SHOT;
	bpf_loop(sizeof(s.b), hash_step, &s, 0);
	hashes += s.h;
	if (bpf_skb_store_bytes(skb, 40, &s.h, sizeof(s.h), 0))
		return TC_ACT_SHOT;
	key = s.h & 3;
	c = bpf_map_lookup_elem(&verdicts, &key);
	if (c)
		*c += 1;
	else
		bpf_map_update_elem(&verdicts, &key, &one, BPF_NOEXIST);
	bpf_for_each_map_elem(&verdicts, count, &total, 0);
	return (s.h & 1) ? TC_ACT_OK : TC_ACT_UNSPEC + (total & 1);
}

char LICENSE[] SEC("license") = "GPL";

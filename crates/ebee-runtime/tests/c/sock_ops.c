// A sock_ops program run by tests/sock_ops_kernel.rs on a real TCP
// connection in the kernel (attached to a cgroup) and in ebee's SockOps:
// at the first BPF_SOCK_OPS_ACTIVE_ESTABLISHED_CB it runs the probes the
// test put in `probes` (bpf_setsockopt, bpf_getsockopt,
// bpf_sock_ops_cb_flags_set) and stores each return value and buffer in
// `results`, with snapshots of the TCP fields the helpers change.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

char LICENSE[] SEC("license") = "GPL";

#define NPROBES 64

struct probe {
	__u32 kind; // 0 set, 1 get, 2 cb_flags_set, 3 unused
	__s32 level;
	__s32 name;
	__u32 len; // 1..=16
	__u8 val[16];
};

struct result {
	__s64 ret;
	__u8 buf[16];
};

struct snapshot {
	__u32 done;
	__u32 family;
	__u32 state;
	__u32 is_fullsock;
	__u32 mss_cache;
	__u32 data_segs_out;
	__u32 snd_cwnd;
	__u32 snd_ssthresh;
	__u32 cb_flags;
	__u32 after_cwnd;
	__u32 after_ssthresh;
	__u32 after_cb_flags;
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__type(key, __u32);
	__type(value, struct probe);
	__uint(max_entries, NPROBES);
} probes SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__type(key, __u32);
	__type(value, struct result);
	__uint(max_entries, NPROBES);
} results SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__type(key, __u32);
	__type(value, struct snapshot);
	__uint(max_entries, 1);
} snap SEC(".maps");

SEC("sockops")
int probe_sockopts(struct bpf_sock_ops *skops)
{
	__u32 zero = 0;
	struct snapshot *s = bpf_map_lookup_elem(&snap, &zero);
	if (!s || s->done || skops->op != BPF_SOCK_OPS_ACTIVE_ESTABLISHED_CB)
		return 1;
	s->done = 1;
	s->family = skops->family;
	s->state = skops->state;
	s->is_fullsock = skops->is_fullsock;
	s->mss_cache = skops->mss_cache;
	s->data_segs_out = skops->data_segs_out;
	s->snd_cwnd = skops->snd_cwnd;
	s->snd_ssthresh = skops->snd_ssthresh;
	s->cb_flags = skops->bpf_sock_ops_cb_flags;
	for (__u32 i = 0; i < NPROBES; i++) {
		__u32 k = i;
		struct probe *p = bpf_map_lookup_elem(&probes, &k);
		struct result *r = bpf_map_lookup_elem(&results, &k);
		if (!p || !r)
			return 1;
		__u32 len = p->len;
		if (len < 1 || len > 16)
			continue;
		__builtin_memcpy(r->buf, p->val, 16);
		if (p->kind == 0)
			r->ret = bpf_setsockopt(skops, p->level, p->name, r->buf, len);
		else if (p->kind == 1)
			r->ret = bpf_getsockopt(skops, p->level, p->name, r->buf, len);
		else if (p->kind == 2)
			r->ret = bpf_sock_ops_cb_flags_set(skops, p->level);
	}
	s->after_cwnd = skops->snd_cwnd;
	s->after_ssthresh = skops->snd_ssthresh;
	s->after_cb_flags = skops->bpf_sock_ops_cb_flags;
	return 1;
}

// Time, CPU, NUMA, identity and random helpers: facts both sides agree on.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

__s64 out[16];

SEC("socket")
int misc(struct __sk_buff *skb)
{
	__u64 t1 = bpf_ktime_get_ns();
	__u64 b1 = bpf_ktime_get_boot_ns();
	__u64 c1 = bpf_ktime_get_coarse_ns();
	__u64 j1 = bpf_jiffies64();
	__u64 t2 = bpf_ktime_get_ns();
	__u64 b2 = bpf_ktime_get_boot_ns();
	__u32 rnd = 0;
	int i = 0, k;

	out[i++] = t1 > 0 && t2 >= t1;
	out[i++] = b1 >= t1 && b2 >= b1; /* boot time includes suspend */
	out[i++] = c1 > 0 && c1 <= t2 + 10000000; /* coarse: within a tick */
	out[i++] = j1 > 0;
	out[i++] = bpf_get_smp_processor_id() < 1024;
	out[i++] = bpf_get_numa_node_id();
	for (k = 0; k < 8; k++)
		rnd |= bpf_get_prandom_u32();
	out[i++] = rnd != 0;
	return 0;
}

char LICENSE[] SEC("license") = "GPL";

#ifdef IDENTITY
__u64 ident[4];

SEC("socket")
int identity(struct __sk_buff *skb)
{
	char comm[16] = {};

	ident[0] = bpf_get_current_pid_tgid();
	ident[1] = bpf_get_current_uid_gid();
	bpf_get_current_comm(comm, sizeof(comm));
	__builtin_memcpy(&ident[2], comm, 16);
	return 0;
}
#endif

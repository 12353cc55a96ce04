/* Global data: .data, .rodata, .bss and a named .data.* section. */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

__u64 counter = 7;
__u32 second = 3;
const volatile __u32 limit = 42;
const volatile __u64 factor = 5;
__u64 zeroed;
__u32 more_zeroed[4];
__u32 custom SEC(".data.custom") = 0x1234;

SEC("socket")
int globals(struct __sk_buff *skb)
{
	counter += limit;
	second += 1;
	zeroed = factor;
	more_zeroed[2] = custom;
	return 0;
}

char LICENSE[] SEC("license") = "GPL";

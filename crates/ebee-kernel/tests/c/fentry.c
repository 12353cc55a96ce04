// Tracing programs name their target in the kernel's BTF.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

__u64 calls;

#ifndef MISSING_TARGET
SEC("fentry/tcp_connect")
int on_tcp_connect(unsigned long long *ctx)
{
	calls += 1;
	return 0;
}
#else
SEC("fexit/ebee_no_such_kernel_function")
int on_nothing(unsigned long long *ctx)
{
	return 0;
}
#endif

char LICENSE[] SEC("license") = "GPL";

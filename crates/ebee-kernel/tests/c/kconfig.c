// __kconfig externs: the kernel version and configuration values.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

extern unsigned int LINUX_KERNEL_VERSION __kconfig;
extern int CONFIG_HZ __kconfig;
extern _Bool CONFIG_BPF_SYSCALL __kconfig;
extern char CONFIG_LOCALVERSION[16] __kconfig __weak;
extern int CONFIG_EBEE_NOT_AN_OPTION __kconfig __weak;

__u64 version;
__u64 hz;
__u64 bpf_syscall;
__u64 missing;
char localversion[16];

SEC("xdp")
int read_config(struct xdp_md *ctx)
{
	version = LINUX_KERNEL_VERSION;
	hz = CONFIG_HZ;
	bpf_syscall = CONFIG_BPF_SYSCALL;
	missing = CONFIG_EBEE_NOT_AN_OPTION;
	__builtin_memcpy(localversion, CONFIG_LOCALVERSION, 16);
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "GPL";

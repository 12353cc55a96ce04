/* Externs: a kfunc, typed and untyped kernel variables, Kconfig values. */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct task_struct;

extern struct task_struct *bpf_task_acquire(struct task_struct *p) __ksym;
extern void bpf_task_release(struct task_struct *p) __ksym;
extern const int bpf_prog_active __ksym;
extern const void bpf_link_fops __ksym __weak;
extern unsigned int LINUX_KERNEL_VERSION __kconfig;
extern int CONFIG_HZ __kconfig __weak;

SEC("tp_btf/task_newtask")
int newtask(__u64 *ctx)
{
	struct task_struct *t = bpf_task_acquire((struct task_struct *)ctx[0]);
	if (t)
		bpf_task_release(t);
	return LINUX_KERNEL_VERSION + CONFIG_HZ + (&bpf_link_fops != 0) + (long)&bpf_prog_active;
}

char LICENSE[] SEC("license") = "GPL";

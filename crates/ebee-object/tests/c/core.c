/* CO-RE relocations against the running kernel's BTF: local definitions
 * with only the fields used, in the order we like, and a flavour. */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>

struct list_head {
	struct list_head *next, *prev;
} __attribute__((preserve_access_index));

struct task_struct {
	int tgid;
	int pid;
	char comm[16];
	struct task_struct *real_parent;
	struct list_head children;
	unsigned int flags;
	unsigned int sched_reset_on_fork: 1;
	unsigned int sched_migrated: 1;
} __attribute__((preserve_access_index));

struct task_struct___missing {
	int no_such_field_anywhere;
} __attribute__((preserve_access_index));

/* `char comm[]` is left out: BPF's char is signed, and kernels built
 * with -funsigned-char say theirs is not, which type_matches checks. */
struct task_struct___ok {
	int pid;
	unsigned int flags;
	struct task_struct *real_parent;
	struct list_head children;
} __attribute__((preserve_access_index));

struct task_struct___bad {
	long pid; /* an int in every kernel */
} __attribute__((preserve_access_index));

struct ebee_no_such_type {
	int x;
} __attribute__((preserve_access_index));

enum pid_type {
	PIDTYPE_TGID = 99,
} ;

struct out {
	long a, b, c, d, e, f, g, h, i, j, k, l, m, n, o, p;
};

struct out result;

SEC("tp_btf/sched_switch")
int core(void *ctx)
{
	struct task_struct *t = (void *)bpf_get_current_task();
	result.a = BPF_CORE_READ(t, pid);
	result.b = BPF_CORE_READ(t, tgid);
	result.c = BPF_CORE_READ(t, real_parent, comm[3]);
	result.d = bpf_core_field_offset(struct task_struct, children.prev);
	result.e = bpf_core_field_size(struct task_struct, comm);
	result.f = bpf_core_type_size(struct task_struct);
	result.g = bpf_core_field_exists(struct task_struct___missing, no_such_field_anywhere);
	result.h = bpf_core_enum_value(enum pid_type, PIDTYPE_TGID);
	result.i = bpf_core_field_exists(struct task_struct, flags);
	result.j = bpf_core_type_exists(struct ebee_no_such_type);
	result.k = BPF_CORE_READ_BITFIELD_PROBED(t, sched_reset_on_fork);
	result.l = BPF_CORE_READ_BITFIELD_PROBED(t, sched_migrated);
#ifndef LOADABLE /* the poisoned read would not pass the verifier */
	struct task_struct___missing *m = (void *)t;
	result.m = BPF_CORE_READ(m, no_such_field_anywhere);
#endif
	result.n = bpf_core_type_matches(struct task_struct___ok);
	result.o = bpf_core_type_matches(struct task_struct___bad);
	result.p = bpf_core_type_id_kernel(struct task_struct);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";

// CO-RE: field offsets and existence resolved against the kernel's BTF.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>

/* A local view of the kernel's struct xdp_md: only the fields used, in
 * another order; CO-RE puts the kernel's offsets in. */
struct xdp_md___local {
	__u32 data_end;
	__u32 data;
	__u32 no_such_field;
} __attribute__((preserve_access_index));

/* Only the name and one field: enough for existence checks. */
struct task_struct {
	int pid;
} __attribute__((preserve_access_index));

__u64 data_end_offset;  /* .bss */
__u64 missing_exists;
__u64 task_struct_exists;

SEC("xdp")
int core_offsets(struct xdp_md *ctx)
{
	struct xdp_md___local *c = (void *)ctx;

	data_end_offset = bpf_core_field_offset(struct xdp_md___local, data_end);
	missing_exists = bpf_core_field_exists(struct xdp_md___local, no_such_field);
	task_struct_exists = bpf_core_type_exists(struct task_struct) &&
			     bpf_core_field_exists(struct task_struct, pid);
	/* A relocated context access: packet length. */
	return c->data_end - c->data;
}

char LICENSE[] SEC("license") = "GPL";

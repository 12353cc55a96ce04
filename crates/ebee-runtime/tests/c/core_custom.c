/* A program for a host-defined hook whose context the host describes in
 * BTF (CustomType::with_btf): its `value` lies elsewhere than this local
 * view says, and `flags` does not exist (tests/core_userspace.rs). */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>

char LICENSE[] SEC("license") = "GPL";

struct ebee_host_ctx {
	__u32 key;
	__u32 value;
	__u32 flags;
} __attribute__((preserve_access_index));

SEC("ebee/host")
int host_prog(struct ebee_host_ctx *ctx)
{
	__u32 r = ctx->value * 10;

	if (bpf_core_field_exists(ctx->flags))
		r += ctx->flags;
	else
		r += 7;
	ctx->value = r;
	return r;
}

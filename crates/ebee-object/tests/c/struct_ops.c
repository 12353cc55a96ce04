/* A struct_ops map (a TCP congestion control) implemented by three
 * programs. SO_SEC picks `.struct_ops.link` (default) or `.struct_ops`. */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#ifndef SO_SEC
#define SO_SEC ".struct_ops.link"
#endif

struct sock;
struct tcp_congestion_ops {
	void (*init)(struct sock *sk);
	unsigned int (*ssthresh)(struct sock *sk);
	void (*cong_avoid)(struct sock *sk, unsigned int ack, unsigned int acked);
	unsigned int flags;
	char name[16];
} __attribute__((preserve_access_index));
SEC("struct_ops/ebee_init") void ebee_init(struct sock *sk) {}
SEC("struct_ops/ebee_ssthresh") unsigned int ebee_ssthresh(struct sock *sk) { return 2; }
SEC("struct_ops/ebee_cong_avoid") void ebee_cong_avoid(struct sock *sk, unsigned int ack, unsigned int acked) {}
SEC(SO_SEC) struct tcp_congestion_ops ebee_cc = {
	.init = (void *)ebee_init,
	.ssthresh = (void *)ebee_ssthresh,
	.cong_avoid = (void *)ebee_cong_avoid,
	.name = "ebee_cc",
};
char LICENSE[] SEC("license") = "GPL";

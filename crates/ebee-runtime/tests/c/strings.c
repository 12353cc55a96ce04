// strncmp, strtol, strtoul, snprintf, trace_printk's return value and
// probe_read_kernel(_str), with their error cases.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

const char hello[] = "hello";   /* .rodata */
const char fmt[] = "[%d|%5u|%-4x|%05lld|%llx|%s|%c|%%]";
const char ip_fmt[] = "%pI4 %pi4";

char text[64];                   /* .bss */
__s64 out[40];

static __noinline long parse(const char *s, int len, __u64 base, __s64 *res)
{
	return bpf_strtol(s, len, base, (long *)res);
}

SEC("socket")
int strings(struct __sk_buff *skb)
{
	char buf[16] = "  -123xyz";
	char hex[8] = "0x1fZ";
	char oct[8] = "0755";
	char big[24] = "99999999999999999999";
	char neg[8] = "-5";
	char word[8] = "help";
	char dst[16];
	__u64 ul = 0;
	__s64 l = 0;
	__u64 args[7];
	__u8 ip[4] = { 192, 168, 1, 20 };
	__u64 ipargs[2];
	int i = 0;

	out[i++] = bpf_strncmp(word, 4, hello);
	out[i++] = bpf_strncmp(word, 3, hello);
	out[i++] = bpf_strncmp("hz", 2, hello);
	out[i++] = parse(buf, sizeof(buf), 0, &l);
	out[i++] = l;
	out[i++] = parse(hex, sizeof(hex), 0, &l);
	out[i++] = l;
	out[i++] = parse(hex, sizeof(hex), 10, &l); /* "0" then x */
	out[i++] = l;
	out[i++] = parse(oct, sizeof(oct), 0, &l);
	out[i++] = l;
	out[i++] = parse(big, sizeof(big), 10, &l); /* -ERANGE */
	out[i++] = parse(word, sizeof(word), 10, &l); /* -EINVAL */
	out[i++] = parse(buf, sizeof(buf), 7, &l); /* bad base */
	out[i++] = bpf_strtoul(neg, sizeof(neg), 10, (unsigned long *)&ul); /* -EINVAL */
	out[i++] = bpf_strtoul(oct, sizeof(oct), 10, (unsigned long *)&ul);
	out[i++] = ul;

	args[0] = (__u64)-42;
	args[1] = 7;
	args[2] = 0xab;
	args[3] = 42;
	args[4] = 0xdeadbeefcafeULL;
	args[5] = (__u64)(long)hello;
	args[6] = 'Z';
	out[i++] = bpf_snprintf(text, sizeof(text), fmt, args, sizeof(args));
	out[i++] = bpf_snprintf(dst, 8, fmt, args, sizeof(args)); /* truncated */
	out[i++] = dst[7];
	ipargs[0] = (__u64)(long)ip;
	ipargs[1] = (__u64)(long)ip;
	out[i++] = bpf_snprintf(text + 40, 24, ip_fmt, ipargs, sizeof(ipargs));

	{
		char f1[] = "x=%d y=%llu\n";
		char f2[] = "no newline %s";
		char f3[] = "%s";
		out[i++] = bpf_trace_printk(f1, sizeof(f1), -3, 77);
		out[i++] = bpf_trace_printk(f2, sizeof(f2), (long)hello);
		out[i++] = bpf_trace_printk(f3, sizeof(f3) - 1, 0); /* no NUL */
	}
	{
		__u64 src = 0x1122334455667788ULL, dst8 = 0;
		char s[8] = "abc";
		char sd[8];
		out[i++] = bpf_probe_read_kernel(&dst8, 8, &src);
		out[i++] = dst8;
		dst8 = 5;
		out[i++] = bpf_probe_read_kernel(&dst8, 8, (void *)16);
		out[i++] = dst8;
		out[i++] = bpf_probe_read_kernel_str(sd, sizeof(sd), s);
		out[i++] = sd[0] + sd[2];
		out[i++] = bpf_probe_read_kernel_str(sd, 2, s);
		out[i++] = sd[0] + sd[1];
		out[i++] = bpf_probe_read_kernel_str(sd, sizeof(sd), (void *)16);
	}
	return 0;
}

char LICENSE[] SEC("license") = "GPL";

/* The XDP parser (xdp_parse.h) on the benchmark input: the packets are the
 * n data bytes after the header. */
#include "bench_input.h"
#include "xdp_parse.h"

u64 bench(struct bench_input *in)
{
	return parse_packets(in->data, in->data + in->n);
}

/* Byte copy: copies n bytes one at a time from data[0..n] to data[n..2n]
 * and returns a checksum of the bytes copied. The checksum in the loop keeps
 * clang from turning the loop into a memcpy call (BPF has no calls to it). */
#include "bench_input.h"

u64 bench(struct bench_input *in)
{
	u64 n = in->n;
	u8 *src = in->data;
	u8 *dst = in->data + n;
	u64 sum = 0;

	for (u64 i = 0; i < n; i++) {
		u8 b = src[i];
		dst[i] = b;
		sum += b;
	}
	return sum;
}

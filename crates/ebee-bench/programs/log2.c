/* Integer log2 (floor; 0 for 0) of each of n u64 elements by a binary
 * search of shifts and compares, summed. */
#include "bench_input.h"

u64 bench(struct bench_input *in)
{
	u64 n = in->n;
	const u64 *elems = (const u64 *)in->data;
	u64 sum = 0;

	for (u64 i = 0; i < n; i++) {
		u64 v = elems[i];
		u64 r = 0;
		for (u64 s = 32; s > 0; s >>= 1) {
			if (v >> s) {
				v >>= s;
				r += s;
			}
		}
		sum += r;
	}
	return sum;
}

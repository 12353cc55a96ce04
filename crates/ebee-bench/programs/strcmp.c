/* strcmp over two NUL-terminated strings of (at most) n bytes each, at
 * data[0..n] and data[n..2n], byte by byte: returns the difference of the
 * first differing bytes (as a sign-extended 64-bit value), 0 if equal. */
#include "bench_input.h"

u64 bench(struct bench_input *in)
{
	u64 n = in->n;
	const u8 *a = in->data;
	const u8 *b = in->data + n;

	for (u64 i = 0; i < n; i++) {
		u8 x = a[i];
		u8 y = b[i];
		if (x != y || x == 0)
			return (u64)(s64)((int)x - (int)y);
	}
	return 0;
}

/* Prime counter: how many primes are below n, by trial division with
 * 64-bit modulo (the interpreter's division path). */
#include "bench_input.h"

u64 bench(struct bench_input *in)
{
	u64 n = in->n;
	u64 count = 0;

	for (u64 k = 2; k < n; k++) {
		u64 prime = 1;
		for (u64 d = 2; d * d <= k; d++) {
			if (k % d == 0) {
				prime = 0;
				break;
			}
		}
		count += prime;
	}
	return count;
}

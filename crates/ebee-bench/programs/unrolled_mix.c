/* A compile-time benchmark, not a table row: about 1,000 instructions of
 * clang output (a fully unrolled hash over the input's first 8 words, with
 * a data-dependent branch per round), for the JIT compile-time figure. */
#include "bench_input.h"

#define ROUNDS 40

static inline u64 mix(u64 h, u64 x)
{
	h ^= x;
	h *= 0x100000001b3ULL;
	h ^= h >> 29;
	return h;
}

u64 bench(struct bench_input *in)
{
	const u64 *w = (const u64 *)in->data;
	u64 h = in->n;
	u64 acc = 0;

#pragma unroll
	for (int i = 0; i < ROUNDS; i++) {
		u64 x = w[i & 7] + (u64)i * 0x9e3779b97f4a7c15ULL;
		h = mix(h, x);
		if ((h >> (i % 61)) & 1)
			acc += h ^ (u64)i;
		else
			acc -= (h >> 3) | (u64)i;
		acc = (acc << 7) | (acc >> 57);
	}
	return acc ^ h;
}

/* 64-way switch: for each of n u32 elements, dispatches on x & 63 to one of
 * 64 distinct cases and folds the element into an accumulator. BPF has no
 * indirect jump, so clang lowers the switch to a tree of compares; the case
 * bodies differ in operation (not only in a constant), so it cannot become a
 * lookup table either. */
#include "bench_input.h"

/* Case k: operation form k % 8, constant C(k), shift S(k). */
#define C(k) ((u64)(k) * 0x9e3779b97f4a7c15ULL + 0x632be59bd9b4e019ULL)
#define S(k) ((k) % 29 + 3)

#define CASE0(k) case k: acc += x * C(k); break;
#define CASE1(k) case k: acc ^= x + C(k); break;
#define CASE2(k) case k: acc = (acc << S(k)) ^ (acc >> (64 - S(k))) ^ x; break;
#define CASE3(k) case k: acc -= x ^ C(k); break;
#define CASE4(k) case k: acc = acc * (C(k) | 1) + x; break;
#define CASE5(k) case k: acc = (acc >> S(k)) + x + (k); break;
#define CASE6(k) case k: acc |= x << S(k); acc ^= C(k); break;
#define CASE7(k) case k: acc = (acc & C(k)) - x; break;

#define EIGHT(b) CASE0(b) CASE1(b + 1) CASE2(b + 2) CASE3(b + 3) \
		 CASE4(b + 4) CASE5(b + 5) CASE6(b + 6) CASE7(b + 7)

u64 bench(struct bench_input *in)
{
	u64 n = in->n;
	const u32 *elems = (const u32 *)in->data;
	u64 acc = 0;

	for (u64 i = 0; i < n; i++) {
		u64 x = elems[i];
		switch (x & 63) {
			EIGHT(0) EIGHT(8) EIGHT(16) EIGHT(24)
			EIGHT(32) EIGHT(40) EIGHT(48) EIGHT(56)
		}
	}
	return acc;
}

/* Parameters of hash_count.c, shared with the native twin's constants
 * (src/native_maps.rs repeats them; the agreement test checks the result). */
#ifndef EBEE_BENCH_HASH_COUNT_H
#define EBEE_BENCH_HASH_COUNT_H

/* Map operations per run. */
#define HASH_N 1024
/* Distinct keys (and the map's max_entries). */
#define HASH_K 256

/* A multiplicative hash of the loop index onto HASH_K keys. */
static inline __u32 hash_key(__u32 i)
{
	return ((i * 2654435761u) >> 7) % HASH_K;
}

#endif

/* The memory every benchmark program receives: r1 points to it.
 *
 * The first 8 bytes hold the size parameter of the run (an element count or
 * a byte length, little-endian); the data starts right after it, 8-aligned
 * relative to the buffer. The size travels in the buffer rather than in r2
 * because rbpf's raw-memory VM leaves r2 at zero: every engine then runs the
 * identical bytecode on the identical bytes.
 *
 * No helpers, no globals, no calls: each file compiles to one function in
 * .text with no relocations (build.rs checks).
 */
#ifndef EBEE_BENCH_INPUT_H
#define EBEE_BENCH_INPUT_H

typedef unsigned char u8;
typedef unsigned int u32;
typedef unsigned long long u64;
typedef long long s64;

struct bench_input {
	u64 n;
	u8 data[];
};

#endif

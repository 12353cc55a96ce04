/* Declarations whose BTF the builder must reproduce (tests/btf_builder.rs):
 * padding, nested and anonymous aggregates, arrays, bitfields that fit and
 * that straddle a unit, unions, enums (signed, unsigned, 64-bit),
 * typedefs, pointers (also to the struct itself). */
typedef unsigned int u32_t;
typedef unsigned long long u64_t;

enum colour { RED = 0, GREEN = 1, BLUE = 7 };
enum delta { DOWN = -1, UP = 1 };
enum wide { SMALL = 1, HUGE = 0x100000000ULL };

struct padded {
	char c;
	u64_t big;
	short s;
	int i;
	char tail;
};

struct bits {
	unsigned int a : 3;
	unsigned int b : 30;     /* straddles: moves to the next unit */
	unsigned char c : 4;
	unsigned long long d : 40;
	int e;
	unsigned short f : 9;
};

union either {
	u32_t word;
	unsigned char bytes[6];
	u64_t wide;
};

struct node {
	struct node *next;
	int values[3][2];
	union either payload;
	struct {
		short x;
		long y;
	};
	union {
		char z;
		int w;
	};
	enum colour colour;
	enum delta delta;
	enum wide wide;
	struct padded inner;
	_Bool flag;
};

struct padded g_padded;
struct bits g_bits;
union either g_either;
struct node g_node;

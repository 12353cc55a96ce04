/* Host tool for the tests: open and load an object with libbpf (the
 * reference loader), then print its maps with their fds and every
 * program's final instructions, one 64-bit word per line.
 * With --open: only open it, and print each program's type and expected
 * attach type as libbpf derives them from the section name, and each
 * map's definition. */
#include <stdio.h>
#include <string.h>
#include <linux/bpf.h>
#include <bpf/libbpf.h>

int main(int argc, char **argv)
{
	struct bpf_object *obj;
	struct bpf_program *prog;
	struct bpf_map *map;
	int i = 0;

	if (argc == 3 && strcmp(argv[1], "--open") == 0) {
		obj = bpf_object__open_file(argv[2], NULL);
		if (libbpf_get_error(obj))
			return 2;
		bpf_object__for_each_program(prog, obj)
			printf("type %s %d %d\n", bpf_program__name(prog),
			       bpf_program__type(prog),
			       bpf_program__expected_attach_type(prog));
		bpf_object__for_each_map(map, obj)
			printf("mapdef %s %d %u %u %u %u\n", bpf_map__name(map),
			       bpf_map__type(map), bpf_map__key_size(map),
			       bpf_map__value_size(map), bpf_map__max_entries(map),
			       bpf_map__map_flags(map));
		return 0;
	}
	if (argc != 2)
		return 1;
	obj = bpf_object__open_file(argv[1], NULL);
	if (libbpf_get_error(obj))
		return 2;
	if (bpf_object__load(obj))
		return 3;
	bpf_object__for_each_map(map, obj)
		printf("map %d %s %d\n", i++, bpf_map__name(map), bpf_map__fd(map));
	bpf_object__for_each_program(prog, obj) {
		const struct bpf_insn *insns = bpf_program__insns(prog);
		size_t n = bpf_program__insn_cnt(prog);
		printf("prog %s %zu\n", bpf_program__name(prog), n);
		for (size_t k = 0; k < n; k++) {
			unsigned long long w;
			memcpy(&w, &insns[k], 8);
			printf("%016llx\n", w);
		}
	}
	return 0;
}

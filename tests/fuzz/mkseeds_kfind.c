// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * mkseeds_kfind.c - a seed for fuzz_kfind: a 512 KiB kernel image laid out
 * as tests/unit/test_kfind.c does (banner, Debian 6.1 kallsyms tables, BTF
 * between __start_BTF and __stop_BTF, init_top_pgt mapping _text, and
 * vmcoreinfo's KERNELOFFSET), to be placed at 2 MiB of the harness's RAM.
 *
 *   clang -std=gnu17 -D_GNU_SOURCE -Iinclude -Isrc/lib -Itests/unit \
 *         tests/fuzz/mkseeds_kfind.c -lbpf -o mkseeds_kfind
 *   ./mkseeds_kfind corp/kfind/seed0      (selector bytes 0x80 0x01 included)
 */
#include "profile_fixture.h"

#define LOAD	(2ull << 20)
#define OFFSET	0x19000000ull
#define TEXT	(FX_TEXT + OFFSET)
#define SIZE	0x80000
#define PO_BASE 0xffff888000000000ull

static uint8_t img[SIZE];

static void put64(uint64_t off, uint64_t v)
{
	memcpy(img + off, &v, 8);
}

int main(int argc, char **argv)
{
	static const char vmci[] = "OSRELEASE=6.1.0-fixture\nKERNELOFFSET=19000000\n";
	static const struct {
		const char *name;
		char type;
		uint64_t off;
	} tail[] = {{"linux_banner", 'D', 0x1000},
		    {"__start_BTF", 'R', 0x40000},
		    {"__stop_BTF", 'R', 0},
		    {"init_top_pgt", 'D', 0x60000},
		    {"vmcoreinfo_data", 'B', 0x64000},
		    {"page_offset_base", 'D', 0x64008},
		    {"_end", 'B', SIZE}};
	struct fx_sym s[700];
	struct fx_buf kb = {.va = TEXT + 0x2000};
	struct btf *b = fx_btf();
	uint32_t blen;
	const void *braw = btf__raw_data(b, &blen);
	uint64_t pdpt = LOAD + 0x61000, pd = LOAD + 0x62000;
	size_t n = 0;
	FILE *f;

	s[n++] = (struct fx_sym){"fixed_percpu_data", 'A', 0};
	s[n++] = (struct fx_sym){"_text", 'T', TEXT};
	for (int i = 0; i < 600; i++) {
		char *name = malloc(16);

		snprintf(name, 16, "sym_%05d", i);
		s[n++] = (struct fx_sym){name, 't', TEXT + 0x100 + 4 * (uint64_t)i};
	}
	for (size_t i = 0; i < sizeof(tail) / sizeof(tail[0]); i++)
		s[n++] = (struct fx_sym){tail[i].name, tail[i].type,
					 TEXT + (tail[i].off ? tail[i].off : 0x40000 + blen)};
	memcpy(img + 0x1000, FX_BANNER, sizeof(FX_BANNER));
	fx_kallsyms(&kb, s, n, FX_61_SEQS);
	memcpy(img + 0x2000, kb.p, kb.len);
	memcpy(img + 0x40000, braw, blen);
	put64(0x60000 + 8 * ((TEXT >> 39) & 511), pdpt | 3);
	put64(0x61000 + 8 * ((TEXT >> 30) & 511), pd | 3);
	put64(0x62000 + 8 * ((TEXT >> 21) & 511), LOAD | 0x83);
	put64(0x64000, PO_BASE + LOAD + 0x70000);
	put64(0x64008, PO_BASE);
	memcpy(img + 0x70000 + 1, vmci, sizeof(vmci)); /* "\nKERNELOFFSET=" needs the newline */
	img[0x70000] = '\n';
	f = fopen(argc > 1 ? argv[1] : "seed0", "wb");
	if (!f)
		return 1;
	fputc(0x80, f); /* at 0x80 << 14 = 2 MiB */
	fputc(0x01, f); /* page-table check on */
	fwrite(img, 1, SIZE, f);
	return fclose(f) ? 1 : 0;
}

// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * fuzz_kallsyms.c - vmt_kallsyms_recover() over a fuzzed .rodata region,
 * and vmt_sysmap_parse() over fuzzed System.map text.
 *
 * Input: byte 0 selects; bit 7 set: System.map text follows (not
 * NUL-terminated, exactly as a mapped file of that size would be);
 * otherwise its low 3 bits are the region's link address mod 8 (the
 * parser aligns by address) and the region follows.
 */
#include "fuzz_common.h"
#include "profile/profile_priv.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct vmt_ksyms ks = {0};
	static int init;

	if (!init++)
		fuzz_quiet();
	if (size < 1)
		return 0;
	if (data[0] & 0x80) {
		/* an exact-size copy: ASan sees any read past the text */
		char *text = malloc(size - 1 ? size - 1 : 1);

		memcpy(text, data + 1, size - 1);
		if (!vmt_sysmap_parse(text, size - 1, &ks)) {
			for (size_t i = 0; i < ks.n; i++)
				if (ks.syms[i].name >= ks.names_len)
					abort();
			vmt_ksyms_free(&ks);
		}
		free(text);
		return 0;
	}
	struct vmt_region r = {data + 1, size - 1, 0xffffffff82000000ull + (data[0] & 7)};

	if (!vmt_kallsyms_recover(&r, &ks)) {
		/* every name offset must point at a NUL-terminated name in names */
		for (size_t i = 0; i < ks.n; i++) {
			if (ks.syms[i].name >= ks.names_len)
				abort();
			if (!memchr(ks.names + ks.syms[i].name, 0, ks.names_len - ks.syms[i].name))
				abort();
		}
		vmt_ksyms_free(&ks);
	}
	return 0;
}

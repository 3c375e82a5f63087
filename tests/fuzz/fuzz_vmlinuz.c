// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * fuzz_vmlinuz.c - vmt_vmlinuz_extract() (bzImage header, payload bounds,
 * gzip / LZ4 legacy / zstd / xz / lzma inflation) over a fuzzed kernel file.
 * Input: the file.  Output capped by the library at VMT_VMLINUX_MAX (1 GiB):
 * run with -rss_limit_mb=2048 -malloc_limit_mb=1100.
 */
#include "fuzz_common.h"
#include "profile/profile_priv.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	void *out = NULL;
	size_t out_len = 0;
	static int init;

	if (!init++)
		fuzz_quiet();
	if (!vmt_vmlinuz_extract(data, size, "fuzz", &out, &out_len)) {
		if (out_len && !out)
			abort();
		/* touch the ends: a wrong out_len shows up as a heap overflow */
		if (out_len)
			(void)*(volatile uint8_t *)((uint8_t *)out + out_len - 1);
		free(out);
	}
	return 0;
}

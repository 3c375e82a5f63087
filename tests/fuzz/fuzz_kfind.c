// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * fuzz_kfind.c - the kernel finder of the in-memory profile path
 * (profile/from_memory.c: vmt_kfind and vmt_profile_from_memory) over a
 * fuzzed guest RAM: the token-table sieve, the kallsyms windows, the
 * banner and BTF placement, the page-table check, vmcoreinfo's
 * KERNELOFFSET, libbpf on the blob found, the profile assembled from it.
 *
 * Input: byte 0: where the rest goes in a 4 MiB RAM (in 16 KiB steps, so
 * 2 MiB alignment is hit and missed); byte 1 bit 0: the page-table check
 * answers (else NULL); the rest: RAM bytes.  Seeds: a small kernel image
 * as tests/unit/test_kfind.c lays it out (mkseeds_fixture.c's tables).
 */
#include "fuzz_common.h"
#include "core/internal.h"
#include "profile/profile_priv.h"

#define RAM (4u << 20)

static uint8_t *ram;

static int rd(void *ctx, uint64_t pa, void *buf, size_t len)
{
	(void)ctx;
	if (pa > RAM || len > RAM - pa)
		return -EFAULT;
	memcpy(buf, ram + pa, len);
	return 0;
}

/* Any 4-level walk of the fuzzed tables, bounds-checked. */
static bool maps(void *ctx, uint64_t pgd, uint64_t va, uint64_t pa)
{
	uint64_t t = pgd, e = 0;

	for (int level = 4; level >= 1; level--) {
		unsigned shift = 12 + 9 * (unsigned)(level - 1);

		if (rd(ctx, t + 8 * ((va >> shift) & 511), &e, 8) || !(e & 1))
			return false;
		t = e & 0x000ffffffffff000ull;
		if (level == 1 || (level <= 3 && (e & 0x80)))
			return (t & ~((1ull << shift) - 1)) + (va & ((1ull << shift) - 1)) == pa;
	}
	return false;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct vmt_physmem pm = {.size = RAM, .name = "fuzz", .scan = rd, .read = rd};
	struct vmt_profile_mem_opts o = {.sz = sizeof(o), .no_cache = 1};
	struct vmt_kfound k;
	struct vmt_profile *p;
	static int init;
	size_t at, n;

	if (!init++) {
		fuzz_quiet();
		ram = malloc(RAM);
	}
	if (size < 2 || !ram)
		return 0;
	memset(ram, 0, RAM);
	at = ((size_t)data[0] << 14) % RAM;
	n = VMT_MIN(size - 2, RAM - at);
	memcpy(ram + at, data + 2, n);
	if (data[1] & 1)
		pm.maps = maps;
	if (!vmt_kfind(&pm, &k)) {
		if (k.text_pa >= RAM || k.btf_len > RAM || !k.ks.n ||
		    !memchr(k.banner, 0, sizeof(k.banner)))
			abort();
		for (size_t i = 0; i < k.ks.n; i++)
			if (k.ks.syms[i].name >= k.ks.names_len)
				abort();
		vmt_kfound_free(&k);
	}
	p = vmt_profile_from_memory(&pm, &o);
	vmt_profile_free(p);
	return 0;
}

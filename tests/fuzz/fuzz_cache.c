// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * fuzz_cache.c - the profile cache file loader (cache.c, memo.c, profile.c,
 * lookup.c) over a fuzzed cache file.
 *
 * At start-up the harness writes the synthetic kernel of
 * tests/unit/profile_fixture.h to a private temp dir and loads it once, so
 * the cache dir holds its profile and the stat link.  Each input then
 * replaces the profile file, is loaded again with vmt_profile_load() and
 * every lookup is run, then the profile is freed (which may write the memo
 * back).  Corruption must be detected or harmless, never a crash.
 *
 * Input: byte 0 = flags, the rest = the cache file.  The checksums only
 * catch accidents (anyone who can write the file can recompute them), so
 * flag bit 0 recomputes the memo and section checksums and bit 1 the
 * header checksum before the file is written: the fuzzer reaches the
 * parsers behind them.
 */
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fuzz_common.h"
#include "profile/profile_priv.h"
#include "../unit/profile_fixture.h"

static char dir[] = "/tmp/vmt-fuzz-cache.XXXXXX";
static char kernel[4096], cachefile[4096];

static void setup(void)
{
	struct vmt_profile_opts o = {.sz = sizeof(o), .kernel_path = kernel, .cache_dir = dir};
	struct vmt_profile_info info;
	struct vmt_profile *p;
	struct fx_sym *s;
	struct btf *b;
	const void *raw;
	uint32_t raw_len, off;
	size_t n, vlen;
	uint8_t *v;
	FILE *f;

	fuzz_quiet();
	if (!mkdtemp(dir))
		abort();
	snprintf(kernel, sizeof(kernel), "%s/vmlinux", dir);
	b = fx_btf();
	raw = btf__raw_data(b, &raw_len);
	s = fx_syms(20, &n);
	v = fx_vmlinux(s, n, raw, raw_len, &vlen);
	f = fopen(kernel, "wb");
	if (!f || fwrite(v, 1, vlen, f) != vlen || fclose(f))
		abort();
	p = vmt_profile_load(&o);
	if (!p)
		abort();
	vmt_profile_field(p, "task_struct", "tasks", &off);
	vmt_profile_info(p, &info);
	snprintf(cachefile, sizeof(cachefile), "%s", info.cache_path);
	vmt_profile_free(p);
	fx_syms_free(s, n);
	free(v);
	btf__free(b);
}

static void fix_csums(uint8_t *img, size_t len, int flags)
{
	struct vmt_prof_hdr h;

	if (len < sizeof(h))
		return;
	memcpy(&h, img, sizeof(h));
	if (flags & 1) {
		for (int i = 0; i < VMT_PSEC_NR; i++) {
			uint64_t end;

			if (__builtin_add_overflow(h.sec[i].off, h.sec[i].len, &end) || end > len)
				continue;
			if (i == VMT_PSEC_MEMO &&
			    h.sec[i].len >= sizeof(struct vmt_prof_memo_hdr)) {
				struct vmt_prof_memo_hdr mh;
				uint8_t *m = img + h.sec[i].off;

				memcpy(&mh, m, sizeof(mh));
				mh.csum = vmt_hash64(m + sizeof(mh), h.sec[i].len - sizeof(mh), 0);
				memcpy(m, &mh, sizeof(mh));
			}
			h.sec[i].csum = vmt_hash64(img + h.sec[i].off, h.sec[i].len, i);
		}
	}
	if (flags & 2) {
		h.csum = 0;
		h.csum = vmt_hash64(&h, sizeof(h), 0);
	}
	memcpy(img, &h, sizeof(h));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct vmt_profile_opts o = {.sz = sizeof(o), .kernel_path = kernel, .cache_dir = dir};
	struct vmt_profile_info info;
	struct vmt_profile *p;
	static int init;
	uint8_t *img;
	uint64_t addr, soff;
	uint32_t off, sz;
	int64_t val;
	const char *name;
	char type;
	FILE *f;

	if (!init++)
		setup();
	if (size < 1)
		return 0;
	img = malloc(size);
	memcpy(img, data + 1, size - 1);
	fix_csums(img, size - 1, data[0]);
	f = fopen(cachefile, "wb");
	if (!f || fwrite(img, 1, size - 1, f) != size - 1 || fclose(f))
		abort();
	free(img);

	p = vmt_profile_load(&o);
	if (!p)
		return 0; /* a rebuild that failed: allowed, as long as nothing broke */
	vmt_profile_info(p, &info);
	(void)strlen(vmt_profile_banner(p));
	vmt_profile_symbol2(p, "init_task", &addr, &type);
	vmt_profile_symbol(p, "_text", &addr);
	vmt_profile_symbol(p, "", &addr);
	vmt_profile_symbol(p, "zzzz", &addr);
	name = vmt_profile_symbol_at(p, FX_TEXT + 0x1010, &soff);
	if (name)
		(void)strlen(name);
	vmt_profile_symbol_at(p, 0, &soff);
	vmt_profile_symbol_at(p, ~0ull, &soff);
	for (size_t i = 0; i < vmt_profile_nr_symbols(p) && i < 64; i++)
		if (!vmt_profile_symbol_by_index(p, i, &name, &addr, &type))
			(void)strlen(name);
	vmt_profile_field2(p, "task_struct", "tasks", &off, &sz);
	vmt_profile_field2(p, "task_struct", "comm", &off, &sz);
	vmt_profile_field2(p, "task_struct", "se.sum_exec_runtime", &off, &sz);
	vmt_profile_field2(p, "task_struct", "nope", &off, &sz);
	vmt_profile_struct_size(p, "task_struct", &sz);
	vmt_profile_struct_size(p, "list_head", &sz);
	vmt_profile_enum(p, "pid_type", "PIDTYPE_PGID", &val);
	vmt_profile_enum(p, NULL, "TCP_LISTEN", &val);
	vmt_profile_verify(p);
	vmt_profile_free(p);
	return 0;
}

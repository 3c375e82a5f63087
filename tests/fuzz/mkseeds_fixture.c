// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * mkseeds_fixture.c - small synthetic seeds from tests/unit/profile_fixture.h:
 *   mkseeds_fixture OUTDIR
 * kallsyms-{61,61seqs,64}-{N} (region bytes at FX_RODATA), fx-vmlinux (ELF),
 * fx-btf (raw .BTF), fx-cache (a profile cache file of fx-vmlinux).
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>

#include "fuzz_common.h"
#include "profile/profile_priv.h"
#include "../unit/profile_fixture.h"

static const char *outdir;

static void put(const char *name, const void *p, size_t n)
{
	char path[4096];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", outdir, name);
	f = fopen(path, "wb");
	if (!f || fwrite(p, 1, n, f) != n || fclose(f)) {
		perror(path);
		exit(1);
	}
	printf("%s: %zu bytes\n", path, n);
}

int main(int argc, char **argv)
{
	static const enum fx_layout layouts[] = {FX_61, FX_61_SEQS, FX_64};
	static const char *const lnames[] = {"61", "61seqs", "64"};
	static const size_t counts[] = {3, 300};
	struct btf *b;
	const void *raw;
	uint32_t raw_len;
	size_t n, vlen;
	struct fx_sym *s;
	uint8_t *v;
	char name[64], path[4096], cdir[] = "/tmp/vmt-fuzz-fxcache.XXXXXX";

	if (argc != 2)
		return 2;
	outdir = argv[1];
	for (size_t c = 0; c < 2; c++)
		for (size_t l = 0; l < 3; l++) {
			struct fx_buf ro = {.va = FX_RODATA};

			s = fx_syms(counts[c], &n);
			fx_put(&ro, FX_BANNER, sizeof(FX_BANNER));
			fx_kallsyms(&ro, s, n, layouts[l]);
			snprintf(name, sizeof(name), "kallsyms-%s-%zu", lnames[l], counts[c]);
			put(name, ro.p, ro.len);
			free(ro.p);
			fx_syms_free(s, n);
		}
	b = fx_btf();
	raw = btf__raw_data(b, &raw_len);
	put("fx-btf", raw, raw_len);
	s = fx_syms(20, &n);
	v = fx_vmlinux(s, n, raw, raw_len, &vlen);
	put("fx-vmlinux", v, vlen);

	/* a cache file: load the fixture kernel with a cache dir, ask a few layouts */
	struct vmt_profile_opts o = {.sz = sizeof(o), .kernel_path = path, .cache_dir = cdir};
	struct vmt_profile *p;
	uint32_t off;

	if (!mkdtemp(cdir))
		return 1;
	snprintf(path, sizeof(path), "%s/vmlinux", cdir);
	FILE *f = fopen(path, "wb");
	fwrite(v, 1, vlen, f);
	fclose(f);
	p = vmt_profile_load(&o);
	if (!p) {
		fprintf(stderr, "profile: %s\n", vmt_last_error());
		return 1;
	}
	vmt_profile_field(p, "task_struct", "tasks", &off);
	vmt_profile_field(p, "task_struct", "comm", &off);
	vmt_profile_field(p, "task_struct", "nope", &off);
	vmt_profile_struct_size(p, "list_head", &off);
	vmt_profile_free(p);
	printf("cache in %s\n", cdir);
	return 0;
}

// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * mkseeds.c - write seed inputs for the harnesses from a real vmlinuz:
 *   mkseeds VMLINUZ OUTDIR
 * OUTDIR/vmlinux, OUTDIR/rodata (.rodata, 8-aligned va), OUTDIR/btf (.BTF).
 * The harness-specific selector byte is added by seeds.sh.
 */
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>

#include "fuzz_common.h"
#include "profile/profile_priv.h"

static void put(const char *dir, const char *name, const void *p, size_t n)
{
	char path[4096];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "wb");
	if (!f || fwrite(p, 1, n, f) != n || fclose(f)) {
		perror(path);
		exit(1);
	}
	printf("%s: %zu bytes\n", path, n);
}

int main(int argc, char **argv)
{
	struct vmt_fmap m;
	struct stat st;
	struct vmt_elf e;
	struct vmt_region r;
	void *vmlinux;
	size_t len;

	if (argc != 3)
		return 2;
	if (vmt_fmap_open(argv[1], VMT_KERNEL_FILE_MAX, &m, &st) ||
	    vmt_vmlinuz_extract(m.data, m.len, argv[1], &vmlinux, &len) ||
	    vmt_elf_open(&e, vmlinux, len)) {
		fprintf(stderr, "%s\n", vmt_last_error());
		return 1;
	}
	put(argv[2], "vmlinux", vmlinux, len);
	if (!vmt_elf_section(&e, ".rodata", &r)) {
		printf(".rodata va %#llx\n", (unsigned long long)r.va);
		put(argv[2], "rodata", r.data, r.len);
	}
	if (!vmt_elf_section(&e, ".BTF", &r))
		put(argv[2], "btf", r.data, r.len);
	return 0;
}

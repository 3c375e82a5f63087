// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * build.c - make a profile from a kernel image: inflate the bzImage, find
 * kallsyms in the vmlinux, read linux_banner through its symbol, keep the
 * .BTF blob (checked once by libbpf), sort the symbols both ways and lay
 * it all out in the cache-file format, so that a built profile and a
 * cached one are read by the same code.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/internal.h"
#include "profile/profile_priv.h"

#define SYSMAP_MAX (256u << 20)
#define BANNER_MAX 512

/* Prefix the current error text with the input's name. */
static int err_in(int err, const char *what)
{
	char msg[512];

	vmt_strlcpy(msg, vmt_last_error(), sizeof(msg));
	return vmt_error(err, "%s: %s", what, msg);
}

int vmt_fmap_open(const char *path, uint64_t max, struct vmt_fmap *m, struct stat *st)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC), err = 0;
	void *p;

	if (fd < 0)
		return vmt_error(-errno, "cannot open %s: %s", path, strerror(errno));
	if (fstat(fd, st))
		err = vmt_error(-errno, "cannot stat %s: %s", path, strerror(errno));
	else if (!S_ISREG(st->st_mode) || st->st_size == 0)
		err = vmt_error(-ENOEXEC, "%s: empty or not a regular file", path);
	else if ((uint64_t)st->st_size > max)
		err = vmt_error(-EFBIG, "%s: file too large (%lld bytes)", path,
				(long long)st->st_size);
	if (err)
		goto out;
	p = mmap(NULL, (size_t)st->st_size, PROT_READ, MAP_PRIVATE, fd, 0);
	if (p == MAP_FAILED) {
		err = vmt_error(-errno, "cannot map %s: %s", path, strerror(errno));
		goto out;
	}
	m->data = p;
	m->len = (size_t)st->st_size;
out:
	close(fd);
	return err;
}

void vmt_fmap_close(struct vmt_fmap *m)
{
	if (m->data)
		munmap((void *)m->data, m->len);
	m->data = NULL;
}

/* Symbols from kallsyms in .rodata, else any loadable segment, else System.map. */
static int symbols_recover(const struct vmt_elf *elf, const char *system_map, struct vmt_ksyms *ks)
{
	struct vmt_region r;
	struct vmt_fmap m = {0};
	struct stat st;
	int err = -ENOENT;

	if (!vmt_elf_section(elf, ".rodata", &r))
		err = vmt_kallsyms_recover(&r, ks);
	for (unsigned i = 0; err == -ENOENT && !vmt_elf_segment(elf, i, &r); i++)
		err = vmt_kallsyms_recover(&r, ks);
	if (err != -ENOENT || !system_map)
		return err;
	pr_info("no kallsyms tables; falling back to %s", system_map);
	err = vmt_fmap_open(system_map, SYSMAP_MAX, &m, &st);
	if (!err)
		err = vmt_sysmap_parse((const char *)m.data, m.len, ks);
	vmt_fmap_close(&m);
	return err;
}

static const struct vmt_ksym *ksym_find(const struct vmt_ksyms *ks, const char *name)
{
	for (size_t i = 0; i < ks->n; i++)
		if (!strcmp(ks->names + ks->syms[i].name, name))
			return &ks->syms[i];
	return NULL;
}

/* linux_banner's bytes in the image: the string we match running kernels against. */
static int banner_read(const struct vmt_elf *elf, const struct vmt_ksyms *ks, char *out)
{
	static const char *const must[] = {"_text", "init_task", "linux_banner"};
	const struct vmt_ksym *s = NULL;
	const uint8_t *p;
	size_t avail, n;

	for (size_t i = 0; i < ARRAY_SIZE(must); i++) {
		s = ksym_find(ks, must[i]);
		if (!s)
			return vmt_error(-ENOENT, "%zu symbols recovered, but no '%s' among them",
					 ks->n, must[i]);
	}
	if (vmt_elf_va(elf, s->addr, &p, &avail))
		return vmt_error(-ENOENT, "linux_banner (%#llx) is not in the image",
				 (unsigned long long)s->addr);
	for (n = 0; n < avail && n < BANNER_MAX - 1 && p[n]; n++)
		;
	if (n < 14 || memcmp(p, "Linux version ", 14))
		return vmt_error(-ENOENT, "linux_banner does not hold \"Linux version ...\"");
	memcpy(out, p, n);
	out[n] = '\0';
	return 0;
}

static int cmp_by_name(const void *a, const void *b, void *arg)
{
	const struct vmt_prof_sym *x = a, *y = b;
	const char *strs = arg;
	int c = strcmp(strs + x->name, strs + y->name);

	if (c)
		return c;
	/* Among same-named symbols, a global one (upper-case type) answers first. */
	c = (y->type >= 'A' && y->type <= 'Z') - (x->type >= 'A' && x->type <= 'Z');
	if (c)
		return c;
	return x->addr < y->addr ? -1 : x->addr > y->addr;
}

static int cmp_by_addr(const void *a, const void *b, void *arg)
{
	uint32_t i = *(const uint32_t *)a, j = *(const uint32_t *)b;
	const struct vmt_prof_sym *syms = arg, *x = &syms[i], *y = &syms[j];
	int c;

	if (x->addr != y->addr)
		return x->addr < y->addr ? -1 : 1;
	/* Global last among equals: symbol_at() takes the last one at an address. */
	c = (x->type >= 'A' && x->type <= 'Z') - (y->type >= 'A' && y->type <= 'Z');
	return c ? c : (i > j) - (i < j);
}

int vmt_profile_assemble(struct vmt_profile *p, const struct vmt_ksyms *ks, const char *banner,
			 const void *btf, size_t btf_len, uint64_t hash, uint64_t size)
{
	struct vmt_prof_sym *syms = calloc(ks->n, sizeof(*syms));
	uint32_t *by_addr = calloc(ks->n, sizeof(*by_addr));
	struct vmt_prof_parts pp = {.image_hash = hash,
				    .image_size = size,
				    .banner = banner,
				    .strs = ks->names,
				    .strs_len = ks->names_len,
				    .syms = syms,
				    .by_addr = by_addr,
				    .nr_syms = ks->n,
				    .btf = btf,
				    .btf_len = btf_len,
				    .memo = &p->memo};
	size_t len;
	int err = -ENOMEM;

	if (!syms || !by_addr)
		goto out;
	for (size_t i = 0; i < ks->n; i++)
		syms[i] = (struct vmt_prof_sym){
		    .addr = ks->syms[i].addr, .name = ks->syms[i].name, .type = ks->syms[i].type};
	qsort_r(syms, ks->n, sizeof(*syms), cmp_by_name, ks->names);
	for (size_t i = 0; i < ks->n; i++)
		by_addr[i] = (uint32_t)i;
	qsort_r(by_addr, ks->n, sizeof(*by_addr), cmp_by_addr, syms);
	err = vmt_prof_serialize(&pp, &p->buf, &len);
	if (!err)
		err = vmt_prof_view_init(&p->v, p->buf, len);
out:
	free(syms);
	free(by_addr);
	return err == -ENOMEM ? vmt_error(err, "out of memory building the profile") : err;
}

/* .BTF is optional: symbols alone still locate the kernel.  Corrupt BTF is dropped. */
static void btf_take(struct vmt_profile *p, const struct vmt_elf *elf, const char *what,
		     struct vmt_region *r)
{
	if (vmt_elf_section(elf, ".BTF", r)) {
		pr_warn("%s: no .BTF section: struct layouts will be unknown", what);
		r->len = 0;
		return;
	}
	p->btf = vmt_btf_new(r->data, r->len);
	if (!p->btf) {
		pr_warn("%s: %s", what, vmt_last_error());
		r->len = 0;
	}
}

int vmt_profile_build(struct vmt_profile *p, const struct vmt_profile_opts *o,
		      const struct vmt_fmap *img, uint64_t hash)
{
	const char *what = o->kernel_path;
	struct vmt_ksyms ks = {0};
	struct vmt_region btf = {0};
	char banner[BANNER_MAX];
	struct vmt_elf elf;
	void *vmlinux = NULL;
	size_t vlen = img->len;
	int err;

	if (!vmt_elf_is_elf(img->data, img->len)) {
		err = vmt_vmlinuz_extract(img->data, img->len, what, &vmlinux, &vlen);
		if (err)
			goto out;
		if (!vmt_elf_is_elf(vmlinux, vlen)) {
			err = vmt_error(-ENOEXEC, "%s: the bzImage payload is not an ELF vmlinux",
					what);
			goto out;
		}
	}
	err = vmt_elf_open(&elf, vmlinux ? vmlinux : img->data, vlen);
	if (!err)
		err = symbols_recover(&elf, o->system_map, &ks);
	if (!err)
		err = banner_read(&elf, &ks, banner);
	if (err) {
		err = err_in(err, what);
		goto out;
	}
	btf_take(p, &elf, what, &btf);
	err = vmt_profile_assemble(p, &ks, banner, btf.data, btf.len, hash, img->len);
out:
	vmt_ksyms_free(&ks);
	free(vmlinux);
	return err;
}

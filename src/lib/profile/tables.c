// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * tables.c - the kernel's dispatch tables as built, kept in the profile.
 *
 * sys_call_table (and the compat tables where the kernel has them) is
 * const data: its words in the vmlinux are what the running kernel holds,
 * plus the KASLR slide, unless something wrote to it.  That is the sound
 * expectation for a hook check (vmt_hooks): slot N must hold the function
 * slot N was built with, not merely some syscall-looking function.
 *
 * The words are read from the image on the first question (the image must
 * still hash to what the profile was built from) and remembered as memo
 * entries of kind 'w' ("w" table "\0" index; "n" the length, -ENOENT when
 * the image has no such table), which the profile's cache keeps: the
 * image is inflated once per kernel, not per run.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/internal.h"
#include "profile/profile_priv.h"
#include "profile/tables.h"

#define MEMO_WORD 'w'
#define TABLE_MAX 1024 /* 6.1 x86-64 has 451 slots; a bound, not a guess */

static const char *const tables[] = {"sys_call_table", "ia32_sys_call_table", "x32_sys_call_table"};

static int word_put(struct vmt_profile *p, const char *table, const char *idx, int err,
		    uint64_t val)
{
	struct vmt_memo_val v = {.err = err, .a = val};
	char key[128];
	uint32_t len;

	if (vmt_memo_key(key, sizeof(key), MEMO_WORD, table, idx, &len))
		return -ENAMETOOLONG;
	return vmt_memo_put(&p->memo, key, len, &v, false);
}

static const struct vmt_memo_val *word_find(struct vmt_profile *p, const char *table,
					    const char *idx)
{
	char key[128];
	uint32_t len;

	if (vmt_memo_key(key, sizeof(key), MEMO_WORD, table, idx, &len))
		return NULL;
	return vmt_memo_get(&p->memo, key, len);
}

/* Address of the first symbol after addr (the table cannot run into it). */
static uint64_t next_sym_addr(const struct vmt_profile *p, uint64_t addr)
{
	size_t lo = 0, hi = vmt_profile_nr_symbols(p);
	const char *name;
	uint64_t a;

	while (lo < hi) { /* first index whose address is > addr */
		size_t mid = lo + (hi - lo) / 2;

		if (vmt_profile_symbol_by_index(p, mid, &name, &a, NULL))
			return addr;
		if (a <= addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (vmt_profile_symbol_by_index(p, lo, &name, &a, NULL))
		return UINT64_MAX;
	return a;
}

/* One table from the vmlinux: its words while they point into text, up to the next symbol. */
static int table_store(struct vmt_profile *p, const struct vmt_elf *elf, const char *name,
		       uint64_t stext, uint64_t etext)
{
	uint64_t addr, end, word;
	const uint8_t *b;
	size_t avail;
	uint32_t n = 0;
	char idx[16];
	int err;

	if (vmt_profile_symbol(p, name, &addr) || vmt_elf_va(elf, addr, &b, &avail))
		return word_put(p, name, "n", -ENOENT, 0);
	end = next_sym_addr(p, addr);
	while (n < TABLE_MAX && (n + 1ull) * 8 <= avail && addr + (n + 1ull) * 8 <= end) {
		memcpy(&word, b + (size_t)n * 8, 8);
		if (word < stext || word >= etext)
			break;
		snprintf(idx, sizeof(idx), "%u", n);
		err = word_put(p, name, idx, 0, word);
		if (err)
			return err;
		n++;
	}
	return word_put(p, name, "n", n ? 0 : -ENOENT, n);
}

static int tables_from_elf(struct vmt_profile *p, const void *data, size_t len)
{
	uint64_t stext, etext;
	struct vmt_elf elf;
	int err;

	err = vmt_elf_open(&elf, data, len);
	if (err)
		return err;
	if (vmt_profile_symbol(p, "_stext", &stext) || vmt_profile_symbol(p, "_etext", &etext))
		return -ENOENT;
	for (size_t i = 0; i < ARRAY_SIZE(tables); i++) {
		err = table_store(p, &elf, tables[i], stext, etext);
		if (err)
			return err;
	}
	return 0;
}

/* Read every table from the image the profile was built from, if it is still that image. */
static int tables_load(struct vmt_profile *p)
{
	struct vmt_fmap img = {0};
	void *vmlinux = NULL;
	size_t vlen = 0;
	struct stat st;
	int err;

	if (!p->kernel_path || !p->v.hdr)
		return -ENOENT;
	err = vmt_fmap_open(p->kernel_path, VMT_KERNEL_FILE_MAX, &img, &st);
	if (err)
		return err;
	if (vmt_hash64(img.data, img.len, VMT_PROF_VERSION) != p->v.hdr->image_hash) {
		err = vmt_error(-ENOENT, "%s changed since its profile was built", p->kernel_path);
		goto out;
	}
	if (vmt_elf_is_elf(img.data, img.len))
		err = tables_from_elf(p, img.data, img.len);
	else if (!(err = vmt_vmlinuz_extract(img.data, img.len, p->kernel_path, &vmlinux, &vlen)))
		err = tables_from_elf(p, vmlinux, vlen);
out:
	free(vmlinux);
	vmt_fmap_close(&img);
	return err;
}

int vmt_profile_table_len(struct vmt_profile *p, const char *table, uint32_t *n)
{
	const struct vmt_memo_val *v = word_find(p, table, "n");
	int err;

	if (!v) {
		err = tables_load(p);
		if (err)
			return err;
		v = word_find(p, table, "n");
		if (!v)
			return -ENOENT; /* not a table this file knows */
	}
	if (v->err)
		return v->err == -ENOENT ? -ENOENT : -EBADMSG;
	if (v->a == 0 || v->a > TABLE_MAX)
		return -EBADMSG;
	*n = (uint32_t)v->a;
	return 0;
}

int vmt_profile_table(struct vmt_profile *p, const char *table, uint32_t idx, uint64_t *val)
{
	const struct vmt_memo_val *v;
	uint32_t n;
	char s[16];
	int err = vmt_profile_table_len(p, table, &n);

	if (err)
		return err;
	if (idx >= n)
		return -ENOENT;
	snprintf(s, sizeof(s), "%u", idx);
	v = word_find(p, table, s);
	if (!v || v->err)
		return -EBADMSG;
	*val = v->a;
	return 0;
}

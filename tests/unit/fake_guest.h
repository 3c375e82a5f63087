/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * fake_guest.h - a struct vmt_guest over a RAM buffer, for walker tests
 * that need no VM.
 *
 * Layouts and symbols are the real ones: the profile of the test guest's
 * kernel (6.1 cloud) is loaded once per test program (profile_load), and
 * the fake guest maps its image at the link address (no KASLR, physical
 * load 0) with the direct map at PAGE_OFFSET over the whole buffer and an
 * empty kernel page table.  Tests write kernel structures at the profile's
 * offsets (off(), sym(), enumval()) with the put*() helpers, so a field a
 * walker gets wrong shows up without a VM.
 *
 * The kernel comes from $VMT_TEST_KERNEL, else $VMT_BUILD_ROOT/guest/vmlinuz;
 * without one profile_load() returns false and the test program should
 * exit 77 (meson: skipped).  Header-only because each unit test is a
 * single-file executable; include it after <cmocka.h>.
 */
#ifndef VMT_TEST_FAKE_GUEST_H
#define VMT_TEST_FAKE_GUEST_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "guest/guest_internal.h"
#include "memsrc/memsrc.h"

#define PAGE_OFFSET 0xffff888000000000ull
#define HEAP_SIZE   (8ull << 20)
#define UNMAPPED_VA 0xffffc90000100000ull /* vmalloc area: no page tables here */

/* The profile every test of a program shares (profile_load/unload). */
static struct vmt_profile *prof;
static char fg_cache_dir[] = "/tmp/vmt-test-fake.XXXXXX";
static bool fg_cache_made; /* mkdtemp made fg_cache_dir */
static char fg_kernel[4096];

struct fake {
	struct vmt_guest g;
	uint8_t *ram;
	size_t ram_len;
	uint64_t heap, heap_end;       /* bump allocator, physical */
	uint64_t modva, modpa, modlen; /* fake_map_modules: module memory and its pages */
};

/* ------------------------------------------------------------- profile */

static inline uint32_t off(const char *type, const char *field)
{
	uint32_t v = 0;

	assert_int_equal(field ? vmt_profile_field(prof, type, field, &v)
			       : vmt_profile_struct_size(prof, type, &v),
			 0);
	return v;
}

static inline int64_t enumval(const char *type, const char *name)
{
	int64_t v = 0;

	assert_int_equal(vmt_profile_enum(prof, type, name, &v), 0);
	return v;
}

static inline uint64_t sym(const char *name)
{
	uint64_t v = 0;

	assert_int_equal(vmt_profile_symbol(prof, name, &v), 0);
	return v;
}

static inline const char *fg_test_kernel(void)
{
	const char *k = getenv("VMT_TEST_KERNEL"), *b = getenv("VMT_BUILD_ROOT");

	if (k && *k)
		return k;
	if (b) {
		snprintf(fg_kernel, sizeof(fg_kernel), "%s/guest/vmlinuz", b);
		if (!access(fg_kernel, R_OK))
			return fg_kernel;
	}
	return NULL;
}

/*
 * A new profile of the test kernel, from the program's cache directory
 * (fast after profile_load() filled it).  Caller frees.
 */
static inline struct vmt_profile *fg_profile_new(void)
{
	struct vmt_profile_opts o = {
	    .sz = sizeof(o), .kernel_path = fg_test_kernel(), .cache_dir = fg_cache_dir};
	struct vmt_profile *p = vmt_profile_load(&o);

	if (!p) {
		fprintf(stderr, "fake_guest: profile of %s: %s\n", o.kernel_path, vmt_last_error());
		exit(1);
	}
	return p;
}

/* The profile cache goes at exit too: a program that stops early has no teardown. */
static inline void fg_cache_remove(void)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", fg_cache_dir);
	if (fg_cache_made && system(cmd) != 0)
		fprintf(stderr, "fake_guest: could not remove %s\n", fg_cache_dir);
}

/* Load the shared profile; false (skip all) without a test kernel. */
static inline bool profile_load(void)
{
	if (!fg_test_kernel()) {
		fprintf(stderr, "no test kernel (VMT_TEST_KERNEL or "
				"$VMT_BUILD_ROOT/guest/vmlinuz): skipped\n");
		return false;
	}
	if (!mkdtemp(fg_cache_dir)) {
		perror("fake_guest: mkdtemp");
		exit(1);
	}
	fg_cache_made = true;
	atexit(fg_cache_remove);
	prof = fg_profile_new();
	return true;
}

static inline void profile_unload(void)
{
	vmt_profile_free(prof);
	prof = NULL;
	fg_cache_remove();
}

/* ------------------------------------------------------------- memory */

/* Host pointer to len bytes at kernel VA va (image or direct map). */
static inline void *at(struct fake *f, uint64_t va, size_t len)
{
	uint64_t pa;

	if (va - f->g.text_va < f->g.image_size)
		pa = va - f->g.text_va + f->g.ki.phys_load;
	else if (f->modlen && va - f->modva < f->modlen)
		pa = va - f->modva + f->modpa;
	else
		pa = va - PAGE_OFFSET;
	assert_true(pa + len <= f->ram_len);
	return f->ram + pa;
}

static inline uint64_t get64(struct fake *f, uint64_t va)
{
	uint64_t v;

	memcpy(&v, at(f, va, 8), 8);
	return v;
}

static inline void put(struct fake *f, uint64_t va, const void *v, size_t len)
{
	memcpy(at(f, va, len), v, len);
}

static inline void put64(struct fake *f, uint64_t va, uint64_t v)
{
	put(f, va, &v, 8);
}

static inline void put32(struct fake *f, uint64_t va, uint32_t v)
{
	put(f, va, &v, 4);
}

static inline void put16(struct fake *f, uint64_t va, uint16_t v)
{
	put(f, va, &v, 2);
}

static inline void put8(struct fake *f, uint64_t va, uint8_t v)
{
	put(f, va, &v, 1);
}

static inline void putstr(struct fake *f, uint64_t va, const char *s)
{
	put(f, va, s, strlen(s) + 1);
}

/* Zeroed kernel memory in the direct map, aligned to align (a power of 2). */
static inline uint64_t kalloc_align(struct fake *f, size_t len, uint64_t align)
{
	uint64_t pa = (f->heap + align - 1) & ~(align - 1);

	assert_true(pa + len <= f->heap_end);
	f->heap = pa + len;
	return PAGE_OFFSET + pa;
}

/* Zeroed kernel memory in the direct map, 64-byte aligned. */
static inline uint64_t kalloc(struct fake *f, size_t len)
{
	return kalloc_align(f, len, 64);
}

/* Physical address of a direct-map VA from kalloc. */
static inline uint64_t kpa(uint64_t va)
{
	return va - PAGE_OFFSET;
}

/*
 * Module memory: len bytes (at most 2 MiB) at FAKE_MODVA, the start of
 * x86-64's module area, mapped 4K by real page tables (the kernel's
 * init_top_pgt is then kernel_pgd), so walkers reach it by a page walk and
 * at() writes it.
 */
#define FAKE_MODVA 0xffffffffc0000000ull

static inline void fake_map_modules(struct fake *f, size_t len)
{
	uint64_t pgd = kalloc_align(f, 4096, 4096), pud = kalloc_align(f, 4096, 4096);
	uint64_t pmd = kalloc_align(f, 4096, 4096), pt = kalloc_align(f, 4096, 4096);
	uint64_t mem = kalloc_align(f, len, 4096), e;

	assert_true(len <= (2u << 20));
	e = kpa(pud) | 3;
	memcpy(at(f, pgd + 511 * 8, 8), &e, 8);
	e = kpa(pmd) | 3;
	memcpy(at(f, pud + 511 * 8, 8), &e, 8);
	e = kpa(pt) | 3;
	memcpy(at(f, pmd, 8), &e, 8);
	for (uint64_t i = 0; i < (len + 4095) / 4096; i++) {
		e = (kpa(mem) + i * 4096) | 3;
		memcpy(at(f, pt + i * 8, 8), &e, 8);
	}
	f->g.ki.kernel_pgd = kpa(pgd);
	f->modva = FAKE_MODVA;
	f->modpa = kpa(mem);
	f->modlen = len;
}

/* ------------------------------------------------------ kernel lists */

static inline void list_init(struct fake *f, uint64_t head)
{
	put64(f, head, head);
	put64(f, head + 8, head);
}

static inline void list_add_tail(struct fake *f, uint64_t head, uint64_t node)
{
	uint64_t prev = get64(f, head + 8);

	put64(f, node, head);
	put64(f, node + 8, prev);
	put64(f, prev, node);
	put64(f, head + 8, node);
}

/* hlist / hlist_nulls: push node at the head of the chain whose first pointer is at head. */
static inline void hlist_push(struct fake *f, uint64_t head, uint64_t node)
{
	put64(f, node, get64(f, head));
	put64(f, node + 8, head);
	put64(f, head, node);
}

/* ---------------------------------------------------------- fake guest */

/* A fake guest whose heap (after the kernel image) holds heap_size bytes. */
static inline struct fake *fake_new(uint64_t heap_size)
{
	struct fake *f;
	struct vmt_memsrc *src;
	uint64_t text, end;

	f = calloc(1, sizeof(*f));
	assert_non_null(f);
	text = sym("_text");
	end = sym("_end");
	f->g.prof = prof;
	f->g.text_link = f->g.text_va = text;
	f->g.image_size = end - text;
	f->g.ki.phys_load = 0;
	f->g.ki.page_offset = PAGE_OFFSET;
	f->g.ki.paging_levels = 4;
	f->heap = (f->g.image_size + 0x1fffff) & ~0x1fffffull;
	f->heap_end = f->heap + heap_size;
	f->ram_len = f->heap_end;
	f->ram = calloc(1, f->ram_len); /* untouched pages stay unallocated */
	assert_non_null(f->ram);
	f->g.direct_map_size = f->ram_len;
	assert_int_equal(vmt_memsrc_buffer_new(f->ram, f->ram_len, &src), 0);
	assert_int_equal(vmt_mem_new(src, 0, &f->g.mem), 0);
	assert_int_equal(vmt_x86_mmu_new(f->g.mem, 4, &f->g.mmu), 0);
	f->g.ki.kernel_pgd = 0; /* an empty table: everything off the fast paths faults */
	return f;
}

static inline void fake_free(struct fake *f)
{
	if (!f)
		return;
	vmt_x86_mmu_free(f->g.mmu);
	vmt_mem_free(f->g.mem);
	free(f->g.task_off);
	free(f->g.detail_off);
	free(f->ram);
	free(f);
}

/* cmocka setup/teardown around fake_new(HEAP_SIZE). */
static inline int fake_setup(void **state)
{
	*state = fake_new(HEAP_SIZE);
	return 0;
}

static inline int fake_teardown(void **state)
{
	fake_free(*state);
	return 0;
}

#endif

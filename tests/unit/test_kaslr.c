// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * test_kaslr.c - finding the running kernel in guest-physical memory
 * (guest/kaslr.c through vmt_guest_open_parts) over synthetic RAM.
 *
 * The image is the real profile's: its linux_banner, phys_base,
 * __pgtable_l5_enabled, page_offset_base and vmemmap_base are written
 * where the profile's symbols put them relative to a chosen 2 MiB-aligned
 * physical load address, and init_top_pgt holds page tables (4- or
 * 5-level, 2 MiB pages) mapping the slid kernel text to the load address
 * and the direct map over all of RAM.  Everything else is zero.
 *
 * vmt_guest_open_parts() owns the profile it is given, so every open loads
 * one (from the cache directory that profile_load() filled: fast).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "fake_guest.h"

#define RAM_SIZE   (192ull << 20)
#define SZ_2M	   (2ull << 20)
#define PTE_KERNEL 0x3ull  /* present, writable */
#define PTE_PS	   0x80ull /* a 2 MiB page in a PD */
#define PTE_ADDR   0x000ffffffffff000ull

#define PO_L4_DEFAULT 0xffff888000000000ull
#define VM_L4_DEFAULT 0xffffea0000000000ull

/* A guest-physical image of one boot of the profile's kernel. */
struct kimg {
	uint8_t *ram;
	size_t len;
	int levels;
	uint64_t load, text_va, page_offset, vmemmap;
	uint64_t tables; /* bump allocator for page-table pages, physical */
};

static uint64_t img_pa(const struct kimg *k, uint64_t link_va)
{
	return k->load + (link_va - sym("_text"));
}

static void img_put(struct kimg *k, uint64_t link_va, const void *d, size_t n)
{
	uint64_t pa = img_pa(k, link_va);

	assert_true(pa + n <= k->len);
	memcpy(k->ram + pa, d, n);
}

static void img_put64(struct kimg *k, const char *name, uint64_t v)
{
	img_put(k, sym(name), &v, sizeof(v));
}

static uint64_t *pte(struct kimg *k, uint64_t table, uint64_t va, int level)
{
	return (uint64_t *)(k->ram + table + 8 * ((va >> (12 + 9 * (level - 1))) & 511));
}

/* Map the 2 MiB page at va to pa in the tables rooted at root. */
static void kmap_2m(struct kimg *k, uint64_t root, uint64_t va, uint64_t pa)
{
	uint64_t table = root;

	for (int level = k->levels; level > 2; level--) {
		uint64_t *e = pte(k, table, va, level);

		if (!(*e & 1)) {
			*e = k->tables | PTE_KERNEL;
			k->tables += 4096;
			assert_true(k->tables <= k->len);
		}
		table = *e & PTE_ADDR;
	}
	*pte(k, table, va, 2) = pa | PTE_KERNEL | PTE_PS;
}

/*
 * RAM with the kernel loaded at load, _text at link + slide, the direct
 * map at page_offset; page tables live in the last 2 MiB of RAM.
 */
static struct kimg *kimg_new(int levels, uint64_t load, uint64_t slide, uint64_t page_offset,
			     uint64_t vmemmap)
{
	struct kimg *k = calloc(1, sizeof(*k));

	assert_non_null(k);
	k->len = RAM_SIZE;
	k->ram = calloc(1, k->len); /* untouched pages stay unallocated */
	assert_non_null(k->ram);
	k->levels = levels;
	k->load = load;
	k->text_va = sym("_text") + slide;
	k->page_offset = page_offset;
	k->vmemmap = vmemmap;
	k->tables = k->len - SZ_2M;
	return k;
}

static void kimg_free(struct kimg *k)
{
	if (!k)
		return;
	free(k->ram);
	free(k);
}

/* The variables kaslr.c reads, then the page tables. */
static void kimg_build(struct kimg *k)
{
	const char *banner = vmt_profile_banner(prof);
	uint64_t text = sym("_text"), size = sym("_end") - text;
	uint64_t root = img_pa(k, sym("init_top_pgt"));
	uint32_t l5 = k->levels == 5;

	assert_true(k->load + size <= k->tables);
	img_put(k, sym("linux_banner"), banner, strlen(banner) + 1);
	/* __pa_symbol(x) = x - __START_KERNEL_map + phys_base */
	img_put64(k, "phys_base", k->load - (k->text_va - VMT_START_KERNEL_MAP));
	img_put(k, sym("__pgtable_l5_enabled"), &l5, sizeof(l5));
	img_put64(k, "page_offset_base", k->page_offset);
	img_put64(k, "vmemmap_base", k->vmemmap);
	for (uint64_t o = 0; o < size; o += SZ_2M)
		kmap_2m(k, root, k->text_va + o, k->load + o);
	for (uint64_t pa = 0; pa < k->len; pa += SZ_2M)
		kmap_2m(k, root, k->page_offset + pa, pa);
}

/* vmt_guest_open_parts over k's RAM with a freshly loaded profile. */
static int kimg_open(struct kimg *k, struct vmt_guest **g)
{
	struct vmt_memsrc *src;

	*g = NULL;
	assert_int_equal(vmt_memsrc_buffer_new(k->ram, k->len, &src), 0);
	return vmt_guest_open_parts(src, fg_profile_new(), 0, g);
}

/* Open, then check everything kaslr.c found against what k was built with. */
static void kimg_expect_found(struct kimg *k)
{
	const char *banner = vmt_profile_banner(prof);
	struct vmt_kernel_info ki;
	struct vmt_guest *g = NULL;
	uint64_t pa, va;
	char buf[64];

	assert_int_equal(kimg_open(k, &g), 0);
	assert_int_equal(vmt_guest_kernel_info(g, &ki), 0);
	assert_int_equal(ki.phys_load, k->load);
	assert_int_equal(ki.virt_slide, k->text_va - sym("_text"));
	assert_int_equal(ki.paging_levels, k->levels);
	assert_int_equal(ki.page_offset, k->page_offset);
	assert_int_equal(ki.vmemmap, k->vmemmap);
	assert_int_equal(ki.kernel_pgd, img_pa(k, sym("init_top_pgt")));
	assert_int_equal(strlen(ki.banner), strcspn(banner, "\n"));
	assert_memory_equal(ki.banner, banner, strlen(ki.banner));
	assert_true(!strncmp(banner, "Linux version ", 14));
	assert_int_equal(strlen(ki.release), strcspn(banner + 14, " "));
	assert_memory_equal(ki.release, banner + 14, strlen(ki.release));
	/* and the guest reads through what was found */
	assert_int_equal(vmt_symbol(g, "linux_banner", &va), 0);
	assert_int_equal(va, sym("linux_banner") + ki.virt_slide);
	assert_int_equal(vmt_read_kva(g, va, buf, sizeof(buf)), 0);
	assert_memory_equal(buf, banner, sizeof(buf));
	assert_int_equal(vmt_translate(g, 0, k->text_va + SZ_2M + 0x123, &pa), 0);
	assert_int_equal(pa, k->load + SZ_2M + 0x123);
	assert_int_equal(vmt_translate(g, 0, k->page_offset + 0x1234567, &pa), 0);
	assert_int_equal(pa, 0x1234567);
	vmt_guest_close(g);
}

/* ------------------------------------------------------------- found */

static void test_kaslr_4level(void **state)
{
	struct kimg *k =
	    kimg_new(4, 0x5e00000, 0x1c400000, 0xffff9b2a40000000ull, 0xffffd4a8c0000000ull);

	*state = k;
	kimg_build(k);
	kimg_expect_found(k);
}

/*
 * vmt_mem_stats() fills no more than the caller's sz: a caller built
 * against a shorter struct (an older header) or a longer one (a newer
 * header) gets what both know and nothing written past it.  Here over
 * the synthetic guest only because it is a guest opened without a VM.
 */
static void test_mem_stats_size(void **state)
{
	struct kimg *k =
	    kimg_new(4, 0x5e00000, 0x1c400000, 0xffff9b2a40000000ull, 0xffffd4a8c0000000ull);
	const size_t cut = offsetof(struct vmt_mem_stats, tlb_hits);
	struct vmt_mem_stats full = {.sz = sizeof(full)}, part;
	struct {
		struct vmt_mem_stats st;
		uint64_t newer;
	} big;
	struct vmt_guest *g = NULL;
	char buf[64];
	uint64_t va;

	*state = k;
	kimg_build(k);
	assert_int_equal(kimg_open(k, &g), 0);
	assert_int_equal(vmt_symbol(g, "linux_banner", &va), 0);
	assert_int_equal(vmt_read_kva(g, va, buf, sizeof(buf)), 0);
	vmt_mem_stats(g, &full);
	assert_int_equal(full.sz, sizeof(full));
	assert_true(full.pages_read > 0 && full.bytes_copied >= sizeof(buf));

	memset(&part, 0xa5, sizeof(part));
	part.sz = cut; /* an older caller's struct ends before tlb_hits */
	vmt_mem_stats(g, &part);
	assert_int_equal(part.sz, cut);
	assert_int_equal(part.pages_read, full.pages_read);
	assert_int_equal(part.cache_hits, full.cache_hits);
	assert_int_equal(part.bytes_copied, full.bytes_copied);
	for (size_t i = cut; i < sizeof(part); i++)
		assert_int_equal(((unsigned char *)&part)[i], 0xa5);

	memset(&part, 0xa5, sizeof(part));
	part.sz = 0; /* not set: nothing is written */
	vmt_mem_stats(g, &part);
	for (size_t i = sizeof(part.sz); i < sizeof(part); i++)
		assert_int_equal(((unsigned char *)&part)[i], 0xa5);

	memset(&big, 0xa5, sizeof(big));
	big.st.sz = sizeof(big); /* a newer caller's longer struct: its tail is its own */
	vmt_mem_stats(g, &big.st);
	assert_int_equal(big.st.pages_read, full.pages_read);
	assert_int_equal(big.st.exact_reads, full.exact_reads);
	assert_int_equal(big.newer, 0xa5a5a5a5a5a5a5a5ull);
	vmt_guest_close(g);
}

static void test_kaslr_5level(void **state)
{
	struct kimg *k =
	    kimg_new(5, 0x3200000, 0x2e000000, 0xff3e7a8000000000ull, 0xffd6e20000000000ull);

	*state = k;
	kimg_build(k);
	kimg_expect_found(k);
}

/* nokaslr: the kernel at its link-time physical address, no slide, default bases. */
static void test_kaslr_nokaslr(void **state)
{
	struct kimg *k = kimg_new(4, 0x1000000, 0, PO_L4_DEFAULT, VM_L4_DEFAULT);

	*state = k;
	kimg_build(k);
	kimg_expect_found(k);
}

/* A physical slide larger than the virtual one: phys_base wraps below zero. */
static void test_kaslr_phys_base_negative(void **state)
{
	struct kimg *k = kimg_new(4, 0x2000000, 0x3a000000, PO_L4_DEFAULT, VM_L4_DEFAULT);

	*state = k;
	kimg_build(k);
	assert_true((int64_t)(k->load - (k->text_va - VMT_START_KERNEL_MAP)) < 0);
	kimg_expect_found(k);
}

/* __pgtable_l5_enabled disagrees with the tables: the tables win. */
static void test_kaslr_l5_flag_lies(void **state)
{
	struct kimg *k =
	    kimg_new(5, 0x3200000, 0x2e000000, 0xff3e7a8000000000ull, 0xffd6e20000000000ull);
	uint32_t l5 = 0;

	*state = k;
	kimg_build(k);
	img_put(k, sym("__pgtable_l5_enabled"), &l5, sizeof(l5));
	kimg_expect_found(k);
}

/* page_offset_base / vmemmap_base zero (insane): the 4-level defaults. */
static void test_kaslr_default_bases(void **state)
{
	struct kimg *k = kimg_new(4, 0x5e00000, 0x1c400000, PO_L4_DEFAULT, VM_L4_DEFAULT);

	*state = k;
	kimg_build(k);
	img_put64(k, "page_offset_base", 0);
	img_put64(k, "vmemmap_base", 0);
	kimg_expect_found(k);
}

/*
 * A stale copy of the same kernel at a lower 2 MiB boundary, as a warm
 * reboot with another KASLR slide leaves it: banner intact, its page
 * tables gone.  The live kernel higher up is the one to find.
 */
static void test_kaslr_stale_banner_below(void **state)
{
	struct kimg *k =
	    kimg_new(4, 0x6000000, 0x1c400000, 0xffff9b2a40000000ull, 0xffffd4a8c0000000ull);
	const char *banner = vmt_profile_banner(prof);
	uint64_t stale = 0x1000000;

	*state = k;
	kimg_build(k);
	memcpy(k->ram + stale + (sym("linux_banner") - sym("_text")), banner, strlen(banner) + 1);
	/*
	 * A stale banner at a lower 2 MiB candidate fails the phys_base and
	 * page-table checks; the search must go on to the real kernel.
	 */
	kimg_expect_found(k);
}

/* ----------------------------------------------------------- refused */

/* Memory runs another kernel: -ENOEXEC naming both banners. */
static void test_kaslr_other_banner(void **state)
{
	static const char other[] =
	    "Linux version 5.10.0-30-amd64 (debian-kernel@lists.debian.org) "
	    "(gcc-10 (Debian 10.2.1-6) 10.2.1 20210110) #1 SMP Debian "
	    "5.10.218-1 (2024-06-01)\n";
	struct kimg *k = kimg_new(4, 0x5e00000, 0x1c400000, PO_L4_DEFAULT, VM_L4_DEFAULT);
	const char *banner = vmt_profile_banner(prof);
	struct vmt_guest *g;
	char first_line[256];

	*state = k;
	kimg_build(k);
	img_put(k, sym("linux_banner"), other, sizeof(other));
	assert_int_equal(kimg_open(k, &g), -ENOEXEC);
	assert_null(g);
	snprintf(first_line, sizeof(first_line), "%.*s", (int)strcspn(banner, "\n"), banner);
	assert_non_null(strstr(vmt_last_error(), "Linux version 5.10.0-30-amd64"));
	assert_non_null(strstr(vmt_last_error(), first_line));
}

/* No kernel at all (random bytes): -ENOENT. */
static void test_kaslr_no_banner(void **state)
{
	struct kimg *k = kimg_new(4, 0, 0, PO_L4_DEFAULT, VM_L4_DEFAULT);
	struct vmt_guest *g;
	uint64_t x = 0x9e3779b97f4a7c15ull;

	*state = k;
	k->len = 64ull << 20; /* enough candidates, less to fill */
	for (size_t i = 0; i + 8 <= k->len; i += 8) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		memcpy(k->ram + i, &x, 8);
	}
	assert_int_equal(kimg_open(k, &g), -ENOENT);
	assert_null(g);
	assert_non_null(strstr(vmt_last_error(), "no Linux kernel"));
}

/* Page tables that map _text elsewhere (or nowhere): -EBADMSG. */
static void test_kaslr_bad_tables(void **state)
{
	struct kimg *k = kimg_new(4, 0x5e00000, 0x1c400000, PO_L4_DEFAULT, VM_L4_DEFAULT);
	uint64_t root;
	struct vmt_guest *g;

	*state = k;
	kimg_build(k);
	root = img_pa(k, sym("init_top_pgt"));
	kmap_2m(k, root, k->text_va, k->load + SZ_2M);
	assert_int_equal(kimg_open(k, &g), -EBADMSG);
	assert_null(g);
	assert_non_null(strstr(vmt_last_error(), "do not map _text"));

	/* no tables at all */
	memset(k->ram + root, 0, 4096);
	assert_int_equal(kimg_open(k, &g), -EBADMSG);
	assert_null(g);

	/* a top-level entry pointing past the end of RAM */
	*pte(k, root, k->text_va, 4) = (RAM_SIZE + SZ_2M) | PTE_KERNEL;
	assert_int_equal(kimg_open(k, &g), -EBADMSG);
	assert_null(g);
}

/* The direct map at page_offset_base does not map the kernel: -EBADMSG. */
static void test_kaslr_bad_direct_map(void **state)
{
	struct kimg *k = kimg_new(4, 0x5e00000, 0x1c400000, 0xffff9b2a40000000ull, VM_L4_DEFAULT);
	struct vmt_guest *g;

	*state = k;
	kimg_build(k);
	img_put64(k, "page_offset_base", 0xffffa00000000000ull);
	assert_int_equal(kimg_open(k, &g), -EBADMSG);
	assert_null(g);
	assert_non_null(strstr(vmt_last_error(), "direct map"));
}

/* phys_base giving a _text outside the 1 GiB kernel mapping or not 2 MiB aligned. */
static void test_kaslr_bad_phys_base(void **state)
{
	struct kimg *k = kimg_new(4, 0x5e00000, 0x1c400000, PO_L4_DEFAULT, VM_L4_DEFAULT);
	uint64_t good = k->load - (k->text_va - VMT_START_KERNEL_MAP);
	const uint64_t bad[] = {
	    good + 0x1000,	 /* _text not 2 MiB aligned */
	    good - (1ull << 30), /* _text past the 1 GiB text mapping */
	    k->load + SZ_2M,	 /* _text below __START_KERNEL_map */
	    0x8000000000000000ull, ~0ull,
	};
	struct vmt_guest *g;

	*state = k;
	kimg_build(k);
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		img_put64(k, "phys_base", bad[i]);
		assert_int_equal(kimg_open(k, &g), -EBADMSG);
		assert_null(g);
		assert_non_null(strstr(vmt_last_error(), "impossible"));
	}
}

static int kimg_teardown(void **state)
{
	kimg_free(*state);
	return 0;
}

#define KASLR_TEST(fn) cmocka_unit_test_teardown(fn, kimg_teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
	    KASLR_TEST(test_kaslr_4level),
	    KASLR_TEST(test_kaslr_5level),
	    KASLR_TEST(test_kaslr_nokaslr),
	    KASLR_TEST(test_kaslr_phys_base_negative),
	    KASLR_TEST(test_kaslr_l5_flag_lies),
	    KASLR_TEST(test_kaslr_default_bases),
	    KASLR_TEST(test_kaslr_stale_banner_below),
	    KASLR_TEST(test_kaslr_other_banner),
	    KASLR_TEST(test_kaslr_no_banner),
	    KASLR_TEST(test_kaslr_bad_tables),
	    KASLR_TEST(test_kaslr_bad_direct_map),
	    KASLR_TEST(test_kaslr_bad_phys_base),
	    KASLR_TEST(test_mem_stats_size),
	};
	int failed;

	if (!profile_load())
		return 77; /* meson: skipped */
	failed = cmocka_run_group_tests(tests, NULL, NULL);
	profile_unload();
	return failed;
}

// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * test_x86.c - x86-64 translation over synthetic page tables built in a
 * RAM buffer: 4 KiB / 2 MiB / 1 GiB pages in 4- and 5-level mode, broken
 * entries at every level, reads across pages, and the TLB.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "arch/x86_64.h"
#include "core/internal.h"
#include "mem/mem.h"

#define RAM_SIZE (8u << 20)
#define P	 (1ull << 0)
#define RW	 (1ull << 1)
#define PS	 (1ull << 7)
#define ADDR	 0x000ffffffffff000ull
#define SZ_4K	 (1ull << 12)
#define SZ_2M	 (1ull << 21)
#define SZ_1G	 (1ull << 30)

/* Guest layout: page tables from 4 KiB up, data pages from 1 MiB. */
#define ROOT	0x1000ull
#define VA_4K	0xffff888000001000ull /* -> PA_4K, a direct-map style address */
#define PA_4K	0x100000ull
#define VA_USER 0x00007f0000000000ull /* -> PA_U0, +4K -> PA_U1, +8K unmapped */
#define PA_U0	0x105000ull
#define PA_U1	0x103000ull
#define VA_2M	0xffffffff80000000ull /* -> PA_2M, kernel-text style */
#define PA_2M	0x200000ull
#define VA_1G	0xffff888100000000ull /* -> 0 */
#define VA_LA57 0x00ff000000000000ull /* only canonical with 5 levels */

struct pt {
	uint8_t *ram;
	int levels;
	uint64_t next_table;
	struct vmt_mem *mem;
	struct vmt_x86_mmu *mmu;
	const struct vmt_mem_stats *st;
};

/* The last page of the lower canonical half. */
static uint64_t va_top(int levels)
{
	return (1ull << (levels == 5 ? 56 : 47)) - SZ_4K;
}

static unsigned level_shift(int lvl)
{
	return 12 + 9 * (unsigned)(lvl - 1);
}

static uint64_t *pt_entry_in(struct pt *t, uint64_t table, uint64_t va, int lvl)
{
	return (uint64_t *)(t->ram + table + ((va >> level_shift(lvl)) & 511) * 8);
}

/* Map va to pa with one page of 1 << shift bytes, making tables on the way. */
static void pt_map(struct pt *t, uint64_t va, uint64_t pa, unsigned shift)
{
	uint64_t table = ROOT, *e;
	int lvl;

	for (lvl = t->levels;; lvl--) {
		e = pt_entry_in(t, table, va, lvl);
		if (level_shift(lvl) == shift) {
			*e = pa | P | RW | (shift > 12 ? PS : 0);
			return;
		}
		if (!(*e & P)) {
			*e = t->next_table | P | RW;
			t->next_table += SZ_4K;
			assert_true(t->next_table <= PA_U1);
		}
		table = *e & ADDR;
	}
}

/* The entry for va at level lvl (5 = PML5 ... 1 = PT); it must exist. */
static uint64_t *pt_entry(struct pt *t, uint64_t va, int lvl)
{
	uint64_t table = ROOT;
	int l;

	for (l = t->levels; l > lvl; l--)
		table = *pt_entry_in(t, table, va, l) & ADDR;
	return pt_entry_in(t, table, va, lvl);
}

static int pt_setup(void **state, int levels)
{
	struct pt *t = calloc(1, sizeof(*t));
	struct vmt_memsrc *src;
	size_t i;

	if (!t || !(t->ram = calloc(1, RAM_SIZE)))
		return -1;
	t->levels = levels;
	t->next_table = ROOT + SZ_4K;
	for (i = PA_4K; i < RAM_SIZE; i++)
		t->ram[i] = (uint8_t)(i ^ (i >> 12));
	pt_map(t, VA_4K, PA_4K, 12);
	pt_map(t, VA_USER, PA_U0, 12);
	pt_map(t, VA_USER + SZ_4K, PA_U1, 12);
	pt_map(t, VA_2M, PA_2M, 21);
	pt_map(t, VA_1G, 0, 30);
	if (levels == 5)
		pt_map(t, VA_LA57, PA_4K, 12);
	pt_map(t, va_top(levels), PA_U0, 12);
	if (vmt_memsrc_buffer_new(t->ram, RAM_SIZE, &src) || vmt_mem_new(src, 64, &t->mem) ||
	    vmt_x86_mmu_new(t->mem, levels, &t->mmu))
		return -1;
	t->st = vmt_mem_stats_ptr(t->mem);
	*state = t;
	return 0;
}

static int pt_setup4(void **state)
{
	return pt_setup(state, 4);
}

static int pt_setup5(void **state)
{
	return pt_setup(state, 5);
}

static int pt_teardown(void **state)
{
	struct pt *t = *state;

	vmt_x86_mmu_free(t->mmu);
	vmt_mem_free(t->mem);
	free(t->ram);
	free(t);
	return 0;
}

/* Translate after dropping cached pages and TLB (the tables were edited). */
static int pt_xlate_fresh(struct pt *t, uint64_t va, uint64_t *pa)
{
	vmt_mem_epoch(t->mem);
	return vmt_x86_translate(t->mmu, ROOT, va, pa, NULL);
}

static void expect_xlate(struct pt *t, uint64_t va, uint64_t want_pa, uint64_t want_size)
{
	uint64_t pa = ~0ull, size = 0;

	assert_int_equal(vmt_x86_translate(t->mmu, ROOT, va, &pa, &size), 0);
	assert_int_equal(pa, want_pa);
	assert_int_equal(size, want_size);
}

static void test_map_4k(void **state)
{
	struct pt *t = *state;
	uint8_t buf[64];

	expect_xlate(t, VA_4K, PA_4K, SZ_4K);
	expect_xlate(t, VA_4K + 0xabc, PA_4K + 0xabc, SZ_4K);
	expect_xlate(t, VA_USER + 0x10, PA_U0 + 0x10, SZ_4K);
	assert_int_equal(vmt_x86_read(t->mmu, ROOT, VA_4K + 100, buf, sizeof(buf)), 0);
	assert_memory_equal(buf, t->ram + PA_4K + 100, sizeof(buf));
	if (t->levels == 5)
		expect_xlate(t, VA_LA57 + 8, PA_4K + 8, SZ_4K);
}

static void test_map_2m(void **state)
{
	struct pt *t = *state;
	uint8_t buf[3 * 4096];

	expect_xlate(t, VA_2M, PA_2M, SZ_2M);
	expect_xlate(t, VA_2M + 0x12345, PA_2M + 0x12345, SZ_2M);
	expect_xlate(t, VA_2M + SZ_2M - 1, PA_2M + SZ_2M - 1, SZ_2M);
	/* one translation, several 4 KiB frames */
	assert_int_equal(vmt_x86_read(t->mmu, ROOT, VA_2M + 0x5ff0, buf, sizeof(buf)), 0);
	assert_memory_equal(buf, t->ram + PA_2M + 0x5ff0, sizeof(buf));
	/* the next 2 MiB are unmapped */
	assert_int_equal(vmt_x86_read(t->mmu, ROOT, VA_2M + SZ_2M - 4, buf, 8), -EFAULT);
}

static void test_map_1g(void **state)
{
	struct pt *t = *state;
	uint8_t buf[16];

	expect_xlate(t, VA_1G, 0, SZ_1G);
	expect_xlate(t, VA_1G + 0x345678, 0x345678, SZ_1G);
	expect_xlate(t, VA_1G + SZ_1G - 8, SZ_1G - 8, SZ_1G);
	assert_int_equal(vmt_x86_read(t->mmu, ROOT, VA_1G + PA_2M + 7, buf, sizeof(buf)), 0);
	assert_memory_equal(buf, t->ram + PA_2M + 7, sizeof(buf));
	/* mapped, but past the end of guest RAM */
	assert_int_equal(vmt_x86_read(t->mmu, ROOT, VA_1G + RAM_SIZE, buf, 8), -EFAULT);
}

static void test_not_present_each_level(void **state)
{
	struct pt *t = *state;
	uint64_t pa, *e, saved;
	int lvl;

	for (lvl = t->levels; lvl >= 1; lvl--) {
		e = pt_entry(t, VA_4K, lvl);
		saved = *e;
		*e = 0;
		assert_int_equal(pt_xlate_fresh(t, VA_4K, &pa), -EFAULT);
		/* not present, the rest is the OS's (a swap entry): still a fault */
		*e = (saved & ~P) | PS | (0xfull << 52);
		assert_int_equal(pt_xlate_fresh(t, VA_4K, &pa), -EFAULT);
		*e = saved;
		assert_int_equal(pt_xlate_fresh(t, VA_4K, &pa), 0);
		assert_int_equal(pa, PA_4K);
	}
	/* large-page leaves too */
	e = pt_entry(t, VA_2M, 2);
	*e &= ~P;
	assert_int_equal(pt_xlate_fresh(t, VA_2M, &pa), -EFAULT);
	e = pt_entry(t, VA_1G, 3);
	*e &= ~P;
	assert_int_equal(pt_xlate_fresh(t, VA_1G, &pa), -EFAULT);
}

static void expect_with_bits(struct pt *t, uint64_t va, int lvl, uint64_t bits, int want)
{
	uint64_t *e = pt_entry(t, va, lvl), saved = *e, pa;

	*e |= bits;
	assert_int_equal(pt_xlate_fresh(t, va, &pa), want);
	*e = saved;
}

static void test_reserved_bits(void **state)
{
	struct pt *t = *state;

	/* 2 MiB: bits 20:13 reserved, 12 is PAT */
	expect_with_bits(t, VA_2M, 2, 1ull << 13, -EBADMSG);
	expect_with_bits(t, VA_2M, 2, 1ull << 20, -EBADMSG);
	expect_with_bits(t, VA_2M, 2, 1ull << 12, 0);
	/* 1 GiB: bits 29:13 reserved */
	expect_with_bits(t, VA_1G, 3, 1ull << 13, -EBADMSG);
	expect_with_bits(t, VA_1G, 3, 1ull << 29, -EBADMSG);
	expect_with_bits(t, VA_1G, 3, 1ull << 12, 0);
	/* bits 52..62 are software's, 63 is NX: ignored at every level */
	expect_with_bits(t, VA_2M, 2, 0x7ffull << 52 | 1ull << 63, 0);
	expect_with_bits(t, VA_4K, 1, 0x7ffull << 52 | 1ull << 63, 0);
	expect_with_bits(t, VA_4K, t->levels, 0x7ffull << 52, 0);
	/* bit 7 of a 4 KiB PTE is PAT, not PS */
	expect_with_bits(t, VA_4K, 1, PS, 0);
}

static void expect_entry(struct pt *t, uint64_t va, int lvl, uint64_t val, int want)
{
	uint64_t *e = pt_entry(t, va, lvl), saved = *e, pa;

	*e = val;
	assert_int_equal(pt_xlate_fresh(t, va, &pa), want);
	*e = saved;
}

static void test_ps_at_top(void **state)
{
	struct pt *t = *state;

	expect_with_bits(t, VA_4K, 4, PS, -EBADMSG); /* PML4E */
	/* a 512 GiB-aligned frame: nothing but PS itself is wrong */
	expect_entry(t, VA_4K, 4, P | RW | PS, -EBADMSG);
	if (t->levels == 5) {
		expect_with_bits(t, VA_4K, 5, PS, -EBADMSG); /* PML5E */
		expect_entry(t, VA_4K, 5, P | RW | PS, -EBADMSG);
	}
}

static void test_phys_bits(void **state)
{
	struct pt *t = *state;

	vmt_x86_set_phys_bits(t->mmu, 40);
	expect_with_bits(t, VA_4K, 1, 1ull << 45, -EBADMSG);
	expect_with_bits(t, VA_4K, 2, 1ull << 51, -EBADMSG);
	expect_with_bits(t, VA_2M, 2, 1ull << 40, -EBADMSG);
	expect_with_bits(t, VA_4K, 1, 1ull << 39, 0);
	vmt_x86_set_phys_bits(t->mmu, 52);
	expect_with_bits(t, VA_4K, 1, 1ull << 45, 0);
}

static void test_non_canonical(void **state)
{
	struct pt *t = *state;
	uint64_t pa;
	uint8_t buf[8];
	const uint64_t bad4[] = {0x0000800000000000ull, 0xffff7fffffffffffull,
				 0x8000000000000000ull, VA_LA57};
	const uint64_t bad5[] = {0x0100000000000000ull, 0xfeffffffffffffffull,
				 0x8000000000000000ull};
	size_t i;

	if (t->levels == 4) {
		for (i = 0; i < ARRAY_SIZE(bad4); i++)
			assert_int_equal(vmt_x86_translate(t->mmu, ROOT, bad4[i], &pa, NULL),
					 -EINVAL);
	} else {
		for (i = 0; i < ARRAY_SIZE(bad5); i++)
			assert_int_equal(vmt_x86_translate(t->mmu, ROOT, bad5[i], &pa, NULL),
					 -EINVAL);
		/* canonical with 57 bits, just not mapped */
		assert_int_equal(vmt_x86_translate(t->mmu, ROOT, 0x0000800000000000ull, &pa, NULL),
				 -EFAULT);
	}
	/* a read that runs off the lower half into the non-canonical hole */
	assert_int_equal(vmt_x86_read(t->mmu, ROOT, va_top(t->levels) + SZ_4K - 4, buf, 4), 0);
	assert_int_equal(vmt_x86_read(t->mmu, ROOT, va_top(t->levels) + SZ_4K - 4, buf, 8),
			 -EINVAL);
}

static void test_read_span_nonadjacent(void **state)
{
	struct pt *t = *state;
	uint8_t buf[16];

	/* VA_USER and VA_USER + 4K map to frames in reverse order, 8 KiB apart */
	assert_int_equal(vmt_x86_read(t->mmu, ROOT, VA_USER + 0xff8, buf, sizeof(buf)), 0);
	assert_memory_equal(buf, t->ram + PA_U0 + 0xff8, 8);
	assert_memory_equal(buf + 8, t->ram + PA_U1, 8);
}

static void test_read_span_not_present(void **state)
{
	struct pt *t = *state;
	uint8_t buf[16];

	assert_int_equal(vmt_x86_read(t->mmu, ROOT, VA_USER + 0x1ff8, buf, 8), 0);
	assert_int_equal(vmt_x86_read(t->mmu, ROOT, VA_USER + 0x1ff8, buf, sizeof(buf)), -EFAULT);
	assert_int_equal(vmt_x86_read(t->mmu, ROOT, VA_USER + 0x2000, buf, 1), -EFAULT);
}

static void expect_tlb(struct pt *t, uint64_t hits, uint64_t misses)
{
	assert_int_equal(t->st->tlb_hits, hits);
	assert_int_equal(t->st->tlb_misses, misses);
}

static void test_tlb(void **state)
{
	struct pt *t = *state;
	uint64_t pa, reads;

	expect_xlate(t, VA_4K, PA_4K, SZ_4K);
	expect_tlb(t, 0, 1);
	reads = t->st->pages_read + t->st->cache_hits;
	expect_xlate(t, VA_4K + 8, PA_4K + 8, SZ_4K);
	expect_tlb(t, 1, 1);
	/* a hit reads no page table */
	assert_int_equal(t->st->pages_read + t->st->cache_hits, reads);
	/* neighbours inside one large page hit */
	expect_xlate(t, VA_2M, PA_2M, SZ_2M);
	expect_xlate(t, VA_2M + 0x1000, PA_2M + 0x1000, SZ_2M);
	expect_xlate(t, VA_2M + 0x1ff000, PA_2M + 0x1ff000, SZ_2M);
	expect_tlb(t, 3, 2);
	expect_xlate(t, VA_1G + 0x40000000 - 4096, 0x40000000 - 4096, SZ_1G);
	expect_xlate(t, VA_1G + 0x123000, 0x123000, SZ_1G);
	expect_tlb(t, 4, 3);
	/* another address space (CR3 low bits ignored) is another key */
	assert_int_equal(vmt_x86_translate(t->mmu, ROOT | 0x18, VA_4K, &pa, NULL), 0);
	expect_tlb(t, 5, 3);
	memcpy(t->ram + 0x7000, t->ram + ROOT, 4096);
	assert_int_equal(vmt_x86_translate(t->mmu, 0x7000, VA_4K, &pa, NULL), 0);
	assert_int_equal(pa, PA_4K);
	expect_tlb(t, 5, 4);

	/* within an epoch the TLB answers even if the guest changed its tables... */
	*pt_entry(t, VA_4K, 1) = PA_U1 | P;
	expect_xlate(t, VA_4K, PA_4K, SZ_4K);
	expect_tlb(t, 6, 4);
	/* ...a new epoch flushes it */
	vmt_mem_epoch(t->mem);
	expect_xlate(t, VA_4K, PA_U1, SZ_4K);
	expect_tlb(t, 6, 5);
	/* so does a paging-mode change */
	vmt_x86_set_levels(t->mmu, t->levels);
	expect_xlate(t, VA_4K, PA_U1, SZ_4K);
	expect_tlb(t, 6, 6);
	/* failed walks are not cached */
	assert_int_equal(vmt_x86_translate(t->mmu, ROOT, VA_USER + 0x2000, &pa, NULL), -EFAULT);
	assert_int_equal(vmt_x86_translate(t->mmu, ROOT, VA_USER + 0x2000, &pa, NULL), -EFAULT);
	expect_tlb(t, 6, 8);
}

static void test_mmu_args(void **state)
{
	struct pt *t = *state;
	struct vmt_x86_mmu *mmu = (void *)1;

	assert_int_equal(vmt_x86_mmu_new(t->mem, 3, &mmu), -EINVAL);
	assert_null(mmu);
	assert_int_equal(vmt_x86_levels(t->mmu), t->levels);
	vmt_x86_set_levels(t->mmu, 6);
	assert_int_equal(vmt_x86_levels(t->mmu), t->levels);
	vmt_x86_mmu_free(NULL);
}

#define BOTH(fn)                                                                                   \
	cmocka_unit_test_setup_teardown(fn, pt_setup4, pt_teardown),                               \
	    cmocka_unit_test_setup_teardown(fn, pt_setup5, pt_teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
	    BOTH(test_map_4k),
	    BOTH(test_map_2m),
	    BOTH(test_map_1g),
	    BOTH(test_not_present_each_level),
	    BOTH(test_reserved_bits),
	    BOTH(test_ps_at_top),
	    BOTH(test_phys_bits),
	    BOTH(test_non_canonical),
	    BOTH(test_read_span_nonadjacent),
	    BOTH(test_read_span_not_present),
	    BOTH(test_tlb),
	    BOTH(test_mmu_args),
	};

	vmt_set_log(NULL, NULL, VMT_LOG_ERROR);
	return cmocka_run_group_tests(tests, NULL, NULL);
}

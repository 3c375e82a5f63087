// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * test_buddy.c - the buddy free-list walker (linux/buddy.c) over a fake
 * guest (fake_guest.h) with the test kernel's real layouts (6.1): one node,
 * one zone of ZONE_PAGES pages whose struct pages live in a hand-made
 * vmemmap.  A sane set of free blocks is reported exactly; hostile lists (a
 * loop, a node that points at itself, a node outside the zone, a block not
 * marked PageBuddy or of another order, a misaligned block) end the walk
 * with -EBADMSG, never hang.  And what a struct page says of its page
 * (page_kind.c): reserved, slab (head and tails), page table, buddy.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "fake_guest.h"
#include "linux/buddy.h"

#define ZONE_START 0x1000ull
#define ZONE_PAGES 64ull
#define BUDDY_TYPE 0xffffff7fu /* 6.1: PAGE_TYPE_BASE set, PG_buddy (0x80) cleared */

struct zone_fake {
	uint64_t zone, pages; /* the zone and its struct pages (pfn ZONE_START first) */
	uint32_t psz, lru;
};

/* One node (node_data[0]), zone 0 spans ZONE_PAGES pages; every free list empty. */
static struct zone_fake zone_setup(struct fake *f)
{
	struct zone_fake z = {.psz = off("page", NULL), .lru = off("page", "lru")};
	uint32_t fa = off("zone", "free_area"), fl = off("free_area", "free_list");
	uint32_t fa_sz = off("free_area", NULL), orders, types, size;
	uint64_t pgdat = kalloc(f, off("pglist_data", NULL));

	put64(f, sym("node_data"), pgdat);
	put32(f, sym("nr_node_ids"), 1);
	z.zone = pgdat + off("pglist_data", "node_zones");
	put64(f, z.zone + off("zone", "zone_start_pfn"), ZONE_START);
	put64(f, z.zone + off("zone", "spanned_pages"), ZONE_PAGES);
	assert_int_equal(vmt_profile_field2(prof, "zone", "free_area", &fa, &size), 0);
	orders = size / fa_sz;
	assert_int_equal(vmt_profile_field2(prof, "free_area", "free_list", &fl, &size), 0);
	types = size / 16;
	for (uint32_t o = 0; o < orders; o++)
		for (uint32_t t = 0; t < types; t++)
			list_init(f, z.zone + fa + o * fa_sz + fl + 16 * t);
	z.pages = kalloc_align(f, ZONE_PAGES * z.psz, 4096);
	f->g.ki.vmemmap = z.pages - ZONE_START * z.psz;
	return z;
}

static uint64_t list_head(struct zone_fake *z, unsigned order, unsigned type)
{
	return z->zone + off("zone", "free_area") + order * off("free_area", NULL) +
	       off("free_area", "free_list") + 16 * type;
}

static uint64_t page_at(struct zone_fake *z, uint64_t pfn)
{
	return z->pages + (pfn - ZONE_START) * z->psz;
}

/* Mark the block at pfn free (PageBuddy, order) and add it to its list. */
static void free_block(struct fake *f, struct zone_fake *z, uint64_t pfn, unsigned order,
		       unsigned type)
{
	uint64_t pg = page_at(z, pfn);

	put32(f, pg + off("page", "page_type"), BUDDY_TYPE);
	put64(f, pg + off("page", "private"), order);
	list_add_tail(f, list_head(z, order, type), pg + z->lru);
}

struct seen {
	uint64_t pfn[32];
	unsigned order[32], n;
};

static int record(uint64_t pfn, unsigned order, void *arg)
{
	struct seen *s = arg;

	if (s->n < 32) {
		s->pfn[s->n] = pfn;
		s->order[s->n++] = order;
	}
	return 0;
}

static int walk(struct fake *f, struct seen *s, struct vmt_buddy_walk *w)
{
	memset(s, 0, sizeof(*s));
	*w = (struct vmt_buddy_walk){.fn = record, .arg = s};
	return vmt_buddy_free_walk(&f->g, w);
}

static void test_sane(void **state)
{
	struct fake *f = *state;
	struct zone_fake z = zone_setup(f);
	struct vmt_buddy_walk w;
	struct seen s;

	free_block(f, &z, ZONE_START + 1, 0, 0);
	free_block(f, &z, ZONE_START + 3, 0, 0);
	free_block(f, &z, ZONE_START + 4, 2, 1);
	free_block(f, &z, ZONE_START + 8, 3, 2);
	free_block(f, &z, ZONE_START + 32, 5, 0);
	assert_int_equal(walk(f, &s, &w), 0);
	assert_int_equal(w.zones, 1);
	assert_int_equal(w.blocks, 5);
	assert_int_equal(w.pages, 1 + 1 + 4 + 8 + 32);
	assert_int_equal(s.n, 5);
	/* orders ascending, each list in order */
	assert_int_equal(s.pfn[0], ZONE_START + 1);
	assert_int_equal(s.pfn[1], ZONE_START + 3);
	assert_int_equal(s.pfn[2], ZONE_START + 4);
	assert_int_equal(s.order[2], 2);
	assert_int_equal(s.pfn[3], ZONE_START + 8);
	assert_int_equal(s.pfn[4], ZONE_START + 32);
	assert_int_equal(s.order[4], 5);
	/* CONFIG_PAGE_POISONING is off in the test kernel: no switch to read */
	assert_int_equal(vmt_page_poisoning(&f->g), 0);
}

/* The last block points back at the first, not at the head: bounded by the span. */
static void test_loop(void **state)
{
	struct fake *f = *state;
	struct zone_fake z = zone_setup(f);
	struct vmt_buddy_walk w;
	struct seen s;

	free_block(f, &z, ZONE_START + 1, 0, 0);
	free_block(f, &z, ZONE_START + 2, 0, 0);
	put64(f, page_at(&z, ZONE_START + 2) + z.lru, page_at(&z, ZONE_START + 1) + z.lru);
	assert_int_equal(walk(f, &s, &w), -EBADMSG);
	assert_true(w.pages <= ZONE_PAGES);
}

/* A node that points at itself. */
static void test_self(void **state)
{
	struct fake *f = *state;
	struct zone_fake z = zone_setup(f);
	struct vmt_buddy_walk w;
	struct seen s;

	free_block(f, &z, ZONE_START + 16, 4, 3);
	put64(f, page_at(&z, ZONE_START + 16) + z.lru, page_at(&z, ZONE_START + 16) + z.lru);
	assert_int_equal(walk(f, &s, &w), -EBADMSG);
	assert_true(w.pages <= ZONE_PAGES);
}

/*
 * A node that points at itself in a zone whose span is forged huge: the walk
 * ends once the lists held as many pages as the guest has RAM (without that
 * bound this loops for 2^39 / 16 blocks).
 */
static void test_forged_span(void **state)
{
	struct fake *f = *state;
	struct zone_fake z = zone_setup(f);
	struct vmt_buddy_walk w;
	struct seen s;

	put64(f, z.zone + off("zone", "spanned_pages"), 1ull << 39);
	free_block(f, &z, ZONE_START + 16, 4, 3);
	put64(f, page_at(&z, ZONE_START + 16) + z.lru, page_at(&z, ZONE_START + 16) + z.lru);
	assert_int_equal(walk(f, &s, &w), -EBADMSG);
	assert_true(w.pages <= f->ram_len >> 12);
}

static void test_outside(void **state)
{
	struct fake *f = *state;
	struct zone_fake z = zone_setup(f);
	struct vmt_buddy_walk w;
	struct seen s;

	free_block(f, &z, ZONE_START + 1, 0, 0);
	/* a node past the zone's end (a struct page of pfn ZONE_START + ZONE_PAGES) */
	put64(f, page_at(&z, ZONE_START + 1) + z.lru, page_at(&z, ZONE_START + 1) + 64 * z.psz);
	assert_int_equal(walk(f, &s, &w), -EBADMSG);
	/* a node that is no struct page boundary */
	z = zone_setup(f);
	free_block(f, &z, ZONE_START + 1, 0, 0);
	put64(f, page_at(&z, ZONE_START + 1) + z.lru, page_at(&z, ZONE_START + 2) + z.lru + 8);
	assert_int_equal(walk(f, &s, &w), -EBADMSG);
	/* a user-space pointer */
	z = zone_setup(f);
	put64(f, list_head(&z, 0, 0), 0x1000);
	assert_int_equal(walk(f, &s, &w), -EBADMSG);
}

static void test_marks(void **state)
{
	struct fake *f = *state;
	struct zone_fake z = zone_setup(f);
	struct vmt_buddy_walk w;
	struct seen s;

	/* not PageBuddy (an allocated page's _mapcount, -1) */
	free_block(f, &z, ZONE_START + 2, 1, 0);
	put32(f, page_at(&z, ZONE_START + 2) + off("page", "page_type"), 0xffffffffu);
	assert_int_equal(walk(f, &s, &w), -EBADMSG);
	/* another order in page->private than its list's */
	z = zone_setup(f);
	free_block(f, &z, ZONE_START + 2, 1, 0);
	put64(f, page_at(&z, ZONE_START + 2) + off("page", "private"), 3);
	assert_int_equal(walk(f, &s, &w), -EBADMSG);
	/* misaligned for its order */
	z = zone_setup(f);
	free_block(f, &z, ZONE_START + 2, 2, 0);
	assert_int_equal(walk(f, &s, &w), -EBADMSG);
	/* a block that runs past the zone's end */
	z = zone_setup(f);
	free_block(f, &z, ZONE_START + 32, 6, 0);
	assert_int_equal(walk(f, &s, &w), -EBADMSG);
}

/* What struct page says: reserved and slab flags, the page-table type, a slab's tail pages. */
static void test_page_kinds(void **state)
{
	struct fake *f = *state;
	struct zone_fake z = zone_setup(f);
	struct vmt_page_kinds k;
	uint64_t flags = off("page", "flags"), head, vm = f->g.ki.vmemmap;
	const uint8_t *pages;

	assert_int_equal(vmt_page_kinds_init(&f->g, &k), 0);
	assert_int_equal(k.size, z.psz);
	put64(f, page_at(&z, ZONE_START) + flags, 1ull << enumval("pageflags", "PG_reserved"));
	put64(f, page_at(&z, ZONE_START + 4) + flags,
	      1ull << enumval("pageflags", "PG_slab") | 1ull << enumval("pageflags", "PG_head"));
	head = page_at(&z, ZONE_START + 4);
	for (uint64_t i = 5; i < 8; i++) /* an order-2 slab: three tails */
		put64(f, page_at(&z, ZONE_START + i) + z.lru, head | 1);
	put32(f, page_at(&z, ZONE_START + 9) + off("page", "page_type"),
	      0xfffffdffu); /* PG_table */
	put32(f, page_at(&z, ZONE_START + 10) + off("page", "page_type"), BUDDY_TYPE);
	put32(f, page_at(&z, ZONE_START + 11) + off("page", "page_type"), 0xffffffffu);
	pages = at(f, z.pages, ZONE_PAGES * z.psz);
	assert_int_equal(vmt_page_kind(&k, pages, 0, ZONE_PAGES, vm, ZONE_START),
			 VMT_PAGE_RESERVED);
	assert_int_equal(vmt_page_kind(&k, pages, 4, ZONE_PAGES, vm, ZONE_START), VMT_PAGE_SLAB);
	assert_int_equal(vmt_page_kind(&k, pages, 7, ZONE_PAGES, vm, ZONE_START), VMT_PAGE_SLAB);
	assert_int_equal(vmt_page_kind(&k, pages, 9, ZONE_PAGES, vm, ZONE_START), VMT_PAGE_TABLE);
	assert_int_equal(vmt_page_kind(&k, pages, 10, ZONE_PAGES, vm, ZONE_START), VMT_PAGE_BUDDY);
	assert_int_equal(vmt_page_kind(&k, pages, 11, ZONE_PAGES, vm, ZONE_START), 0);
	/* a tail whose head is outside the pages read: nothing known of it */
	assert_int_equal(vmt_page_kind(&k, pages + 5 * z.psz, 0, 3, vm, ZONE_START + 5), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_sane, fake_setup, fake_teardown),
	    cmocka_unit_test_setup_teardown(test_loop, fake_setup, fake_teardown),
	    cmocka_unit_test_setup_teardown(test_self, fake_setup, fake_teardown),
	    cmocka_unit_test_setup_teardown(test_forged_span, fake_setup, fake_teardown),
	    cmocka_unit_test_setup_teardown(test_outside, fake_setup, fake_teardown),
	    cmocka_unit_test_setup_teardown(test_marks, fake_setup, fake_teardown),
	    cmocka_unit_test_setup_teardown(test_page_kinds, fake_setup, fake_teardown),
	};
	int r;

	if (!profile_load())
		return 77;
	r = cmocka_run_group_tests(tests, NULL, NULL);
	profile_unload();
	return r;
}

/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * buddy.h - the guest's free pages: the buddy allocator's free lists
 * (buddy.c), and whether the guest poisons free pages.
 */
#ifndef VMT_LINUX_BUDDY_H
#define VMT_LINUX_BUDDY_H

#include <stdbool.h>
#include <stdint.h>

#include "guest/guest_internal.h"

#define VMT_BUDDY_MAX_NODES  1024 /* MAX_NUMNODES with NODES_SHIFT 10 */
#define VMT_BUDDY_MAX_ORDERS 16	  /* MAX_ORDER is 11 on x86 */
#define VMT_BUDDY_MAX_TYPES  16	  /* MIGRATE_TYPES is 6 */

struct vmt_buddy_walk {
	/* Called per free block (2^order pages from pfn); non-zero stops the walk with it. */
	int (*fn)(uint64_t pfn, unsigned order, void *arg);
	void *arg;
	/* out */
	uint64_t blocks, pages; /* free blocks seen and the pages they hold */
	unsigned zones;		/* populated zones walked */
};

/*
 * Every zone of every node, every order and migrate type: the blocks on
 * zone->free_area[order].free_list[type].  Bounded: a list may hold at most
 * the zone's spanned pages; each block must be a struct page of the vmemmap
 * inside its zone, aligned to its order, marked PageBuddy with that order in
 * page->private.  A list that breaks any of these (a corrupt or hostile
 * guest, or one stopped inside the allocator) ends the walk with -EBADMSG,
 * after fn saw only valid blocks; the caller then trusts none of them.
 * Pages on the per-CPU lists are not on these lists and are not reported.
 */
int vmt_buddy_free_walk(struct vmt_guest *g, struct vmt_buddy_walk *w);

/*
 * What a struct page says of its page (page_kind.c): the kernel's own kinds
 * that the split keeps on the main host first.  The encodings moved between
 * kernels (PG_slab a flag in 6.1, a page type from 6.10; page types in
 * page_type's low bits in 6.1, its top byte from 6.12): read from BTF where
 * it has them, 6.1's #defines otherwise.
 */
enum {
	VMT_PAGE_RESERVED = 1u << 0, /* PG_reserved: memblock allocations, firmware areas */
	VMT_PAGE_SLAB = 1u << 1,     /* slab (head and tail pages) */
	VMT_PAGE_TABLE = 1u << 2,    /* a page-table page */
	VMT_PAGE_BUDDY = 1u << 3,    /* the first page of a free block */
};

/* How PageType() reads page_type for one type in this kernel. */
struct vmt_page_mark {
	bool top_byte;	/* 6.12+: page_type >> 24 == value */
	uint32_t value; /* PGTY_x, or the page_type bit that must be clear */
	uint32_t base;	/* PAGE_TYPE_BASE: the bits that must be set (older encodings) */
	bool known;
};

struct vmt_page_kinds {
	uint32_t size, flags, lru, page_type; /* sizeof(struct page) and offsets */
	int reserved_bit, slab_bit;	      /* in page->flags; -1 unknown / not a flag */
	struct vmt_page_mark buddy, table, slab;
};

/* The encodings of this guest's kernel; -ENOENT/-EBADMSG if struct page is not as known. */
int vmt_page_kinds_init(struct vmt_guest *g, struct vmt_page_kinds *k);
/* The page type mark named ("buddy", "table", "slab"), 6.1's value as the fallback. */
void vmt_page_mark_of(struct vmt_guest *g, const char *name, uint32_t v61, struct vmt_page_mark *m);
bool vmt_page_mark_is(const struct vmt_page_mark *m, uint32_t page_type);
/*
 * The VMT_PAGE_* bits of the struct page at pages + i * k->size (n of them,
 * read from the vmemmap from vmemmap + first * k->size): a tail page of a
 * compound page takes its head's slab kind when the head is among them.
 */
unsigned vmt_page_kind(const struct vmt_page_kinds *k, const uint8_t *pages, uint64_t i, uint64_t n,
		       uint64_t vmemmap, uint64_t first);

/*
 * Does the guest poison free pages (page_poison=1: a pattern written on
 * free and checked on allocation)?  1 yes, 0 no.  Read from the kernel's
 * own switch (_page_poisoning_enabled, or want_page_poisoning before 5.11);
 * a kernel without either was built without CONFIG_PAGE_POISONING.
 */
int vmt_page_poisoning(struct vmt_guest *g);

#endif

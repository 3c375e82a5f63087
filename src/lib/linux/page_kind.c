// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * page_kind.c - what a guest's struct page says of its page: reserved
 * (memblock), slab, page table, free (buddy).  The split reads the whole
 * vmemmap once at the stop and keeps the kernel's own pages on the main
 * host first (src/split/core.c); the buddy walker checks PageBuddy.
 *
 * Encodings (include/linux/page-flags.h):
 * - 6.1: PG_reserved and PG_slab are bits of page->flags (enum pageflags,
 *   in BTF); page types are #defines in page_type (_mapcount): a page is of
 *   type T when (page_type & (PAGE_TYPE_BASE | T)) == PAGE_TYPE_BASE, with
 *   PAGE_TYPE_BASE 0xf0000000, PG_buddy 0x80, PG_table 0x200.
 * - 6.9 - 6.11: the same rule, the values in BTF's enum pagetype.
 * - 6.12+: the type is page_type's top byte (enum pagetype: PGTY_buddy,
 *   PGTY_table, PGTY_slab; slab is no longer a flag).
 * A tail page of a compound page (compound_head's bit 0, at lru's place)
 * has no flags of its own: it takes its head's.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "linux/buddy.h"

#define PAGE_TYPE_BASE_61 0xf0000000u

void vmt_page_mark_of(struct vmt_guest *g, const char *name, uint32_t v61, struct vmt_page_mark *m)
{
	char pgty[32], pg[32];
	int64_t v, base;

	snprintf(pgty, sizeof(pgty), "PGTY_%s", name);
	snprintf(pg, sizeof(pg), "PG_%s", name);
	if (!vmt_profile_enum(g->prof, "pagetype", pgty, &v))
		*m = (struct vmt_page_mark){.top_byte = true, .value = (uint32_t)v, .known = true};
	else if (!vmt_profile_enum(g->prof, "pagetype", pg, &v) &&
		 !vmt_profile_enum(g->prof, "pagetype", "PAGE_TYPE_BASE", &base))
		*m = (struct vmt_page_mark){
		    .value = (uint32_t)v, .base = (uint32_t)base, .known = true};
	else
		*m = (struct vmt_page_mark){
		    .value = v61, .base = PAGE_TYPE_BASE_61, .known = v61 != 0};
}

bool vmt_page_mark_is(const struct vmt_page_mark *m, uint32_t page_type)
{
	if (!m->known)
		return false;
	if (m->top_byte)
		return page_type >> 24 == m->value;
	return (page_type & (m->base | m->value)) == m->base;
}

static int flag_bit(struct vmt_guest *g, const char *name)
{
	int64_t v;

	return !vmt_profile_enum(g->prof, "pageflags", name, &v) && v >= 0 && v < 64 ? (int)v : -1;
}

int vmt_page_kinds_init(struct vmt_guest *g, struct vmt_page_kinds *k)
{
	/* clang-format off */
	const struct vmt_field_req req[] = {
		{"page", NULL, &k->size, false},
		{"page", "flags", &k->flags, false},
		{"page", "lru", &k->lru, false},
		{"page", "page_type", &k->page_type, false},
	};
	/* clang-format on */
	int err = vmt_resolve_fields(g, req, ARRAY_SIZE(req));

	if (err)
		return err;
	if (k->size < 16 || k->size > 256 || k->flags + 8 > k->size || k->lru + 8 > k->size ||
	    k->page_type + 4 > k->size)
		return -EBADMSG;
	k->reserved_bit = flag_bit(g, "PG_reserved");
	k->slab_bit = flag_bit(g, "PG_slab");
	vmt_page_mark_of(g, "buddy", 0x80, &k->buddy);
	vmt_page_mark_of(g, "table", 0x200, &k->table);
	/* 6.1's slab is a flag: no page type to fall back on */
	vmt_page_mark_of(g, "slab", 0, &k->slab);
	return 0;
}

static unsigned kind_of(const struct vmt_page_kinds *k, const uint8_t *p)
{
	uint64_t flags;
	uint32_t type;
	unsigned kind = 0;

	memcpy(&flags, p + k->flags, sizeof(flags));
	memcpy(&type, p + k->page_type, sizeof(type));
	if (k->reserved_bit >= 0 && (flags >> k->reserved_bit & 1))
		kind |= VMT_PAGE_RESERVED;
	if ((k->slab_bit >= 0 && (flags >> k->slab_bit & 1)) || vmt_page_mark_is(&k->slab, type))
		kind |= VMT_PAGE_SLAB;
	if (vmt_page_mark_is(&k->table, type))
		kind |= VMT_PAGE_TABLE;
	if (vmt_page_mark_is(&k->buddy, type))
		kind |= VMT_PAGE_BUDDY;
	return kind;
}

unsigned vmt_page_kind(const struct vmt_page_kinds *k, const uint8_t *pages, uint64_t i, uint64_t n,
		       uint64_t vmemmap, uint64_t first)
{
	const uint8_t *p = pages + i * k->size;
	uint64_t head;

	memcpy(&head, p + k->lru, sizeof(head)); /* compound_head shares lru.next's place */
	if (head & 1) {
		uint64_t va = head - 1, base = vmemmap + first * k->size;

		if (va >= base && va < base + n * k->size && !((va - base) % k->size))
			return kind_of(k, pages + (va - base)) & VMT_PAGE_SLAB;
		return 0;
	}
	return kind_of(k, p);
}

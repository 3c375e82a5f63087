// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * buddy.c - the guest's free pages, from the buddy allocator's free lists
 * (mm/page_alloc.c): zone->free_area[order].free_list[migratetype] links
 * the first struct page of each free block of 2^order pages through
 * page->lru (buddy_list), marks it PageBuddy and keeps the order in
 * page->private.  struct page lives in the vmemmap (SPARSEMEM_VMEMMAP, as
 * on every x86-64 kernel), so a list node's address gives its PFN.
 *
 * A free page's content does not matter to the guest (the allocator hands
 * it out as garbage, or zeroes it with init_on_alloc / __GFP_ZERO), which
 * is what free page reporting (virtio-balloon) relies on too; vmt split
 * uses the walk to send no free page.  The exception is page poisoning,
 * where the allocator checks a pattern: vmt_page_poisoning() tells.
 *
 * The guest is hostile: every node must be a struct page inside its zone
 * with the marks of a free block of that order, and a zone's lists may
 * hold at most its spanned pages, so a loop or a forged list ends the walk.
 */
#include <errno.h>
#include <string.h>

#include "linux/buddy.h"

#define PAGE_STRUCT_MAX 256	     /* sizeof(struct page) is 64 (80 with some debug options) */
#define ZONE_SPAN_MAX	(1ull << 40) /* pages: 4 PiB, beyond any x86-64 guest */

struct buddy_off {
	uint32_t node_zones, node_zones_size, zone_sz, start_pfn, spanned;
	uint32_t free_area, free_area_size, fa_sz, free_list, free_list_size;
	uint32_t page_sz, lru, private, page_type;
};

struct buddy_ctx {
	struct vmt_guest *g;
	struct vmt_buddy_walk *w;
	struct buddy_off o;
	struct vmt_page_mark mark;
	unsigned nr_orders, nr_types;
	uint64_t vmemmap;
	uint64_t budget; /* pages every list together may still hold: the guest's RAM */
};

static int buddy_offsets(struct vmt_guest *g, struct buddy_off *o)
{
	/* clang-format off */
	const struct vmt_field_req req[] = {
		{"zone", NULL, &o->zone_sz, false},
		{"zone", "zone_start_pfn", &o->start_pfn, false},
		{"zone", "spanned_pages", &o->spanned, false},
		{"free_area", NULL, &o->fa_sz, false},
		{"page", NULL, &o->page_sz, false},
		{"page", "lru", &o->lru, false},
		{"page", "private", &o->private, false},
		{"page", "page_type", &o->page_type, false},
	};
	/* clang-format on */
	int err = vmt_resolve_fields(g, req, ARRAY_SIZE(req));

	if (!err)
		err = vmt_profile_field2(g->prof, "pglist_data", "node_zones", &o->node_zones,
					 &o->node_zones_size);
	if (!err)
		err = vmt_profile_field2(g->prof, "zone", "free_area", &o->free_area,
					 &o->free_area_size);
	if (!err)
		err = vmt_profile_field2(g->prof, "free_area", "free_list", &o->free_list,
					 &o->free_list_size);
	if (err)
		return err;
	if (!o->zone_sz || !o->fa_sz || o->page_sz < 16 || o->page_sz > PAGE_STRUCT_MAX ||
	    o->lru + 16 > o->page_sz || o->private + 8 > o->page_sz ||
	    o->page_type + 4 > o->page_sz)
		return -EBADMSG;
	return 0;
}

/* The PFN of the struct page that holds the list node at node, or -EBADMSG. */
static int node_pfn(const struct buddy_ctx *c, uint64_t node, uint64_t *pfn)
{
	uint64_t page = node - c->o.lru;

	if (!vmt_kptr_ok(node) || node < c->o.lru || page < c->vmemmap ||
	    (page - c->vmemmap) % c->o.page_sz)
		return -EBADMSG;
	*pfn = (page - c->vmemmap) / c->o.page_sz;
	return 0;
}

/* One free list; *left is what the zone's lists may still hold (pages). */
static int buddy_list(struct buddy_ctx *c, uint64_t head, unsigned order, uint64_t lo, uint64_t hi,
		      uint64_t *left)
{
	uint64_t node, pfn, n = 1ull << order;
	uint8_t pg[PAGE_STRUCT_MAX];
	uint32_t type;
	uint64_t priv;
	int err;

	if (vmt_kread_u64(c->g, head, &node))
		return -EFAULT;
	while (node != head) {
		if (*left < n || node_pfn(c, node, &pfn) || pfn < lo || pfn + n > hi ||
		    (pfn & (n - 1)))
			return -EBADMSG;
		*left -= n;
		if (vmt_kread(c->g, node - c->o.lru, pg, c->o.page_sz))
			return -EFAULT;
		memcpy(&type, pg + c->o.page_type, sizeof(type));
		memcpy(&priv, pg + c->o.private, sizeof(priv));
		if (!vmt_page_mark_is(&c->mark, type) || priv != order)
			return -EBADMSG;
		err = c->w->fn ? c->w->fn(pfn, order, c->w->arg) : 0;
		if (err)
			return err;
		c->w->blocks++;
		c->w->pages += n;
		memcpy(&node, pg + c->o.lru, sizeof(node)); /* lru.next */
	}
	return 0;
}

static int buddy_zone(struct buddy_ctx *c, uint64_t zone)
{
	uint64_t start, span, left;
	int err;

	if (vmt_kread_u64(c->g, zone + c->o.start_pfn, &start) ||
	    vmt_kread_u64(c->g, zone + c->o.spanned, &span))
		return -EFAULT;
	if (!span)
		return 0;
	if (span > ZONE_SPAN_MAX || start > ZONE_SPAN_MAX)
		return -EBADMSG;
	c->w->zones++;
	/*
	 * A forged span (up to ZONE_SPAN_MAX) would let a cycle of valid free
	 * blocks run for hours: every zone's lists together hold no more pages
	 * than the guest has RAM.
	 */
	left = span < c->budget ? span : c->budget;
	c->budget -= left;
	for (unsigned o = 0; o < c->nr_orders; o++) {
		for (unsigned t = 0; t < c->nr_types; t++) {
			uint64_t head = zone + c->o.free_area + (uint64_t)o * c->o.fa_sz +
					c->o.free_list + 16ull * t;

			err = buddy_list(c, head, o, start, start + span, &left);
			if (err)
				return err;
		}
	}
	c->budget += left; /* what this zone's lists did not hold */
	return 0;
}

/* node_data[nr_node_ids] with NUMA, else the one contig_page_data. */
static int buddy_nodes(struct buddy_ctx *c)
{
	uint64_t node_data = 0, pgdat;
	uint32_t nodes = 1;
	int err;

	if (!vmt_ksym(c->g, "node_data", &node_data)) {
		if (vmt_ksym(c->g, "nr_node_ids", &pgdat) || vmt_kread_u32(c->g, pgdat, &nodes))
			return -EFAULT;
		if (!nodes || nodes > VMT_BUDDY_MAX_NODES)
			return -EBADMSG;
	} else if (vmt_ksym(c->g, "contig_page_data", &pgdat)) {
		return -ENOENT;
	}
	for (uint32_t n = 0; n < nodes; n++) {
		if (node_data && vmt_kread_u64(c->g, node_data + 8ull * n, &pgdat))
			return -EFAULT;
		if (!pgdat)
			continue;
		if (!vmt_kptr_ok(pgdat))
			return -EBADMSG;
		for (uint32_t z = 0; z < c->o.node_zones_size / c->o.zone_sz; z++) {
			err = buddy_zone(c, pgdat + c->o.node_zones + (uint64_t)z * c->o.zone_sz);
			if (err)
				return err;
		}
	}
	return 0;
}

int vmt_buddy_free_walk(struct vmt_guest *g, struct vmt_buddy_walk *w)
{
	struct buddy_ctx c = {.g = g,
			      .w = w,
			      .vmemmap = g->ki.vmemmap,
			      .budget = vmt_mem_ram_end(g->mem) >> VMT_PAGE_SHIFT};
	int err = buddy_offsets(g, &c.o);

	w->blocks = w->pages = 0;
	w->zones = 0;
	if (err)
		return err;
	c.nr_orders = c.o.free_area_size / c.o.fa_sz;
	c.nr_types = c.o.free_list_size / 16;
	if (!c.nr_orders || c.nr_orders > VMT_BUDDY_MAX_ORDERS || !c.nr_types ||
	    c.nr_types > VMT_BUDDY_MAX_TYPES || !c.vmemmap)
		return -EBADMSG;
	vmt_page_mark_of(g, "buddy", 0x80, &c.mark);
	return buddy_nodes(&c);
}

int vmt_page_poisoning(struct vmt_guest *g)
{
	uint64_t va;
	uint32_t v;

	/* 5.11+: DEFINE_STATIC_KEY_FALSE(_page_poisoning_enabled); key.enabled is at 0. */
	if (!vmt_ksym(g, "_page_poisoning_enabled", &va))
		return vmt_kread_u32(g, va, &v) ? -EFAULT : (int)v != 0;
	/* Before: static bool want_page_poisoning. */
	if (!vmt_ksym(g, "want_page_poisoning", &va))
		return vmt_kread_u32(g, va, &v) ? -EFAULT : (v & 0xff) != 0;
	return 0;
}

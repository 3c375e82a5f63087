// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * fcache.c - method 1's cache of ranges fetched from sub-hosts.
 *
 * "Keeps only the minimum" (DESIGN.md): the data lives here, in the
 * runtime's own memory, never in the memory file, and the bytes of data
 * held never exceed the bound (a range larger than the bound is used once
 * and dropped).  Least recently used ranges go first.
 *
 * A range remembers the page-table entry of every chunk it covers as it was
 * before the read.  A page is served only while its chunk's entry is still
 * that one: sequences only grow, so an equal entry proves that the chunk
 * has not moved, and a chunk on a sub-host cannot be written by the guest
 * without moving first.  That makes the cache safe across listings; at a
 * listing's start (fcache_prune) ranges with a moved chunk are dropped.
 *
 * Ranges are found by their aligned fetch chunk (a range never leaves the
 * one it was cut from), several ranges per fetch chunk when its chunks
 * live on different sub-hosts.
 */
#include <stdlib.h>
#include <string.h>

#include "memsrc/split.h"

struct fc_entry {
	uint64_t off, len;
	uint64_t c0;
	unsigned nchunks;
	uint64_t *ents;
	uint8_t *data;
	bool streamed;			/* prefetched and not read yet (fetch.c's stream) */
	bool part;			/* just the bytes a hint named (fetch.c), not whole pages */
	struct fc_entry *next;		/* bucket chain */
	struct fc_entry *older, *newer; /* LRU list */
};

#define FC_MAX_BUCKETS (1u << 16)

static struct fc_entry **bucket_of(struct fcache *c, uint64_t off)
{
	uint64_t key = off >> c->fetch_shift;

	return &c->bucket[(key * 0x9e3779b97f4a7c15ull >> 20) & c->mask];
}

int fcache_init(struct fcache *c, uint64_t bound, unsigned fetch_shift)
{
	uint64_t ranges, n = 16;

	memset(c, 0, sizeof(*c));
	c->bound = bound ? bound : VMT_FETCH_CACHE_BYTES_DEFAULT;
	c->fetch_shift = fetch_shift ? fetch_shift : VMT_PAGE_SHIFT;
	ranges = c->bound >> c->fetch_shift;
	while (n < 2 * ranges && n < FC_MAX_BUCKETS)
		n <<= 1;
	c->bucket = calloc(n, sizeof(*c->bucket));
	if (!c->bucket)
		return -ENOMEM;
	c->mask = n - 1;
	return 0;
}

static void lru_unlink(struct fcache *c, struct fc_entry *e)
{
	if (e->older)
		e->older->newer = e->newer;
	else
		c->oldest = e->newer;
	if (e->newer)
		e->newer->older = e->older;
	else
		c->newest = e->older;
	e->older = e->newer = NULL;
}

static void lru_push(struct fcache *c, struct fc_entry *e)
{
	e->older = c->newest;
	e->newer = NULL;
	if (c->newest)
		c->newest->newer = e;
	else
		c->oldest = e;
	c->newest = e;
}

static void entry_drop(struct fcache *c, struct fc_entry *e)
{
	struct fc_entry **pp = bucket_of(c, e->off);

	while (*pp && *pp != e)
		pp = &(*pp)->next;
	if (*pp)
		*pp = e->next;
	lru_unlink(c, e);
	c->bytes -= e->len;
	c->parts -= e->part;
	free(e->ents);
	free(e->data);
	free(e);
}

void fcache_free(struct fcache *c)
{
	while (c->oldest)
		entry_drop(c, c->oldest);
	free(c->bucket);
	c->bucket = NULL;
}

/* The range holding [off, off + len) of chunk while its entry is e. */
static struct fc_entry *fcache_find(struct fcache *c, uint64_t off, uint64_t len, uint64_t chunk,
				    uint64_t e)
{
	for (struct fc_entry *x = *bucket_of(c, off); x; x = x->next) {
		if (off - x->off >= x->len || x->len - (off - x->off) < len ||
		    chunk - x->c0 >= x->nchunks)
			continue;
		if (x->ents[chunk - x->c0] == e)
			return x;
		/* else another host's range, or the chunk moved since */
	}
	return NULL;
}

bool fcache_has(struct fcache *c, uint64_t off, uint64_t len, uint64_t chunk, uint64_t e)
{
	return fcache_find(c, off, len, chunk, e) != NULL;
}

int fcache_get(struct fcache *c, uint64_t off, uint64_t len, uint64_t chunk, uint64_t e, void *buf)
{
	struct fc_entry *x = fcache_find(c, off, len, chunk, e);
	bool streamed;

	if (!x)
		return FC_MISS;
	memcpy(buf, x->data + (off - x->off), len);
	lru_unlink(c, x);
	lru_push(c, x);
	streamed = x->streamed;
	x->streamed = false;
	return streamed ? FC_HIT_STREAMED : FC_HIT;
}

/* A range already held at the same offset is older: the new one replaces it. */
static void drop_same(struct fcache *c, const struct split_want *w)
{
	struct fc_entry *x;

	for (x = *bucket_of(c, w->off); x; x = x->next) {
		if (x->off == w->off) {
			entry_drop(c, x);
			return;
		}
	}
}

void fcache_put(struct fcache *c, struct split_want *w)
{
	struct fc_entry *x, **b;

	if (!w->data || w->len > c->bound)
		return;
	drop_same(c, w);
	while (c->oldest && c->bytes + w->len > c->bound)
		entry_drop(c, c->oldest);
	x = calloc(1, sizeof(*x));
	if (!x)
		return; /* a cache that cannot grow just keeps less */
	*x = (struct fc_entry){.off = w->off,
			       .len = w->len,
			       .c0 = w->c0,
			       .nchunks = w->nchunks,
			       .streamed = w->streamed,
			       .part = w->part};
	x->ents = w->ents;
	x->data = w->data;
	w->ents = NULL;
	w->data = NULL;
	b = bucket_of(c, x->off);
	x->next = *b;
	*b = x;
	lru_push(c, x);
	c->bytes += x->len;
	c->parts += x->part;
}

void fcache_prune(struct fcache *c, const struct vmt_pt *pt)
{
	struct fc_entry *x = c->oldest, *next;

	for (; x; x = next) {
		next = x->newer;
		for (unsigned i = 0; i < x->nchunks; i++) {
			if (vmt_pt_load(pt, x->c0 + i) != x->ents[i]) {
				entry_drop(c, x);
				break;
			}
		}
	}
}

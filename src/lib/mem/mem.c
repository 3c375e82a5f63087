// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * mem.c - the guest-physical page cache.
 *
 * Pages live in an arena of cache_pages 4 KiB slots; an open-addressing
 * (linear probing) table maps pfn -> slot.  Both carry the generation of
 * the epoch that filled them, so vmt_mem_epoch() forgets everything by
 * bumping one number: an entry of another generation is an empty entry.
 * Within an epoch slots are handed out in order; once all are used, a clock
 * hand picks a victim that was not used since the hand last passed, and the
 * table entry is removed by backward shifting (no tombstones, so probe
 * chains stay short however long an epoch lasts).
 *
 * The hot path is a walker doing many small reads in one page: the last
 * page touched is remembered and checked before the table.
 */
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "core/internal.h"
#include "mem/mem.h"

#define NO_PFN	      UINT64_MAX
#define MAX_CACHE_PGS (1u << 24) /* 64 GiB: slot numbers fit in uint32_t */

struct mem_entry {
	uint64_t pfn;
	uint32_t slot;
	uint32_t gen; /* valid iff == vmt_mem.gen */
};

struct mem_slot {
	uint64_t pfn;
	uint32_t gen; /* holds a page of this epoch iff == vmt_mem.gen */
	uint32_t ref; /* used since the clock hand last passed */
};

/*
 * Walkers hop between a few pages (a task, its mm, its files, the page
 * tables of a translation): a page read a moment ago is looked up here,
 * in a few cache lines, before the table (half a MiB, a cache miss).
 */
#define MEM_RECENT 64u

struct mem_recent {
	uint64_t pfn;
	uint8_t *page;
	uint32_t slot;
};

struct vmt_mem {
	struct vmt_memsrc *src;
	uint64_t ram_pages; /* frames at or above this are not RAM */
	uint64_t epoch_id;
	uint32_t gen; /* never 0: 0 marks an empty entry */

	/* one-entry fast path; last_pfn is NO_PFN when unset */
	uint64_t last_pfn;
	uint8_t *last_page;
	/* recent pages, direct-mapped by pfn (pfn NO_PFN: empty) */
	struct mem_recent recent[MEM_RECENT];

	uint8_t *arena; /* cap slots of VMT_PAGE_SIZE */
	struct mem_slot *slots;
	uint32_t cap, used, hand;

	struct mem_entry *table;
	uint64_t mask;	/* table size - 1; size >= 2 * cap keeps probes short */
	unsigned shift; /* 64 - log2(table size) */

	struct vmt_mem_stats stats;

	bool batches; /* a multi-page read asks for its missing pages at once */
};

/*
 * A read over several pages that are not cached asks the source for all of
 * them at once (vmt_memsrc_read_pages), so a split VM's remote pages cost
 * one round trip, not one each.  Bounded, and only with a cache that holds
 * a batch twice over (no self-eviction).
 */
#define MEM_BATCH_PAGES 32u

static inline uint64_t pfn_hash(const struct vmt_mem *m, uint64_t pfn)
{
	/* Fibonacci hashing: the top bits of the product mix every pfn bit. */
	return pfn * 0x9e3779b97f4a7c15ull >> m->shift;
}

/* Index of pfn's entry, or of the empty entry where it would go. */
static inline uint64_t table_find(const struct vmt_mem *m, uint64_t pfn)
{
	uint64_t i = pfn_hash(m, pfn);

	while (m->table[i].gen == m->gen && m->table[i].pfn != pfn)
		i = (i + 1) & m->mask;
	return i;
}

/* Remove pfn (present) and pull later chain members back over the gap. */
static void table_remove(struct vmt_mem *m, uint64_t pfn)
{
	uint64_t i = table_find(m, pfn), j = i, home;

	for (;;) {
		j = (j + 1) & m->mask;
		if (m->table[j].gen != m->gen)
			break;
		home = pfn_hash(m, m->table[j].pfn);
		/* j's entry may fill the gap at i unless its home lies in (i, j]. */
		if (((j - home) & m->mask) >= ((j - i) & m->mask)) {
			m->table[i] = m->table[j];
			i = j;
		}
	}
	m->table[i].gen = 0;
}

/* A slot to fill: a never-used one, else the clock's victim. */
static uint32_t slot_take(struct vmt_mem *m)
{
	struct mem_slot *s;
	uint32_t n;

	if (m->used < m->cap)
		return m->used++;
	for (;;) {
		n = m->hand;
		m->hand = (m->hand + 1 == m->cap) ? 0 : m->hand + 1;
		s = &m->slots[n];
		if (s->gen != m->gen) /* freed by a failed fill */
			return n;
		if (s->ref) {
			s->ref = 0;
			continue;
		}
		table_remove(m, s->pfn);
		if (m->last_pfn == s->pfn)
			m->last_pfn = NO_PFN;
		if (m->recent[s->pfn % MEM_RECENT].pfn == s->pfn)
			m->recent[s->pfn % MEM_RECENT].pfn = NO_PFN;
		s->gen = 0;
		m->stats.evictions++;
		return n;
	}
}

static int page_fill(struct vmt_mem *m, uint64_t pfn, uint8_t **page)
{
	uint64_t holes = m->src->holes, remote = m->src->remote;
	uint32_t n = slot_take(m);
	uint8_t *data = m->arena + ((size_t)n << VMT_PAGE_SHIFT);
	uint64_t i;
	int err;

	err = vmt_memsrc_read_page(m->src, pfn, data);
	m->stats.holes += m->src->holes - holes;
	m->stats.remote += m->src->remote - remote;
	if (err)
		return err; /* slot n stays free: its gen is not current */
	m->stats.pages_read++;
	m->slots[n] = (struct mem_slot){.pfn = pfn, .gen = m->gen, .ref = 1};
	i = table_find(m, pfn);
	m->table[i] = (struct mem_entry){.pfn = pfn, .slot = n, .gen = m->gen};
	*page = data;
	return 0;
}

/* The bytes a read wants of one page: what a miss may take from a part instead (read_part). */
struct mem_piece {
	uint64_t pa;
	uint8_t *out;
	size_t n;
};

#define MEM_FROM_PART 1 /* page_get: the piece was copied from a part; no page */

static int page_get_slow(struct vmt_mem *m, uint64_t pfn, uint8_t **page,
			 const struct mem_piece *want)
{
	struct mem_recent *r = &m->recent[pfn % MEM_RECENT];
	struct mem_entry *e;
	uint32_t slot;
	int err;

	if (r->pfn == pfn) {
		m->stats.cache_hits++;
		m->slots[r->slot].ref = 1;
		*page = r->page;
	} else if (pfn >= m->ram_pages) {
		return -EFAULT;
	} else if ((e = &m->table[table_find(m, pfn)])->gen == m->gen) {
		m->stats.cache_hits++;
		m->slots[e->slot].ref = 1;
		*page = m->arena + ((size_t)e->slot << VMT_PAGE_SHIFT);
	} else if (m->src->parts_held &&
		   !m->src->ops->read_part(m->src, want->pa, want->out, want->n)) {
		return MEM_FROM_PART; /* method 1's exact read: nothing cached */
	} else {
		err = page_fill(m, pfn, page);
		if (err)
			return err;
	}
	slot = (uint32_t)((size_t)(*page - m->arena) >> VMT_PAGE_SHIFT);
	*r = (struct mem_recent){.pfn = pfn, .page = *page, .slot = slot};
	m->last_pfn = pfn;
	m->last_page = *page;
	return 0;
}

/* The page of want, cached (0), or on a miss want copied from a part (MEM_FROM_PART). */
static inline int page_get(struct vmt_mem *m, uint64_t pfn, uint8_t **page,
			   const struct mem_piece *want)
{
	if (pfn == m->last_pfn) {
		m->stats.cache_hits++;
		*page = m->last_page;
		return 0;
	}
	return page_get_slow(m, pfn, page, want);
}

static bool pfn_cached(const struct vmt_mem *m, uint64_t pfn)
{
	return m->table[table_find(m, pfn)].gen == m->gen;
}

/*
 * A batch reads straight into the arena: each page it asks for gets its
 * slot and table entry first (no staging buffer, no second copy of every
 * page), so a frame asked twice in one batch also finds itself cached.  A
 * page whose read failed is dropped again.  No batch may take more than
 * half the slots: the clock skips a claimed slot (ref) once, and would
 * have to pass it twice to take it back.
 */
static uint8_t *page_claim(struct vmt_mem *m, uint64_t pfn)
{
	uint32_t n = slot_take(m);

	m->slots[n] = (struct mem_slot){.pfn = pfn, .gen = m->gen, .ref = 1};
	m->table[table_find(m, pfn)] = (struct mem_entry){.pfn = pfn, .slot = n, .gen = m->gen};
	return m->arena + ((size_t)n << VMT_PAGE_SHIFT);
}

/* The batch's read of req came back: keep the page, or give its slot back. */
static void page_settle(struct vmt_mem *m, const struct vmt_page_req *req)
{
	if (!req->err) {
		m->stats.pages_read++;
		return;
	}
	m->slots[m->table[table_find(m, req->pfn)].slot].gen = 0;
	table_remove(m, req->pfn);
}

/*
 * Pages [first, last] that are not cached: read them in one batch and cache
 * those that came.  Returns the error of the lowest page that failed (the
 * read fails there anyway), else 0.  Worth it only with two or more.
 */
static int mem_prefill(struct vmt_mem *m, uint64_t first, uint64_t last)
{
	struct vmt_page_req req[MEM_BATCH_PAGES];
	uint64_t holes = m->src->holes, remote = m->src->remote;
	size_t n = 0;
	int err = 0;

	for (uint64_t pfn = first; pfn <= last && n < MEM_BATCH_PAGES; pfn++) {
		if (pfn >= m->ram_pages)
			break;
		if (!pfn_cached(m, pfn))
			req[n++].pfn = pfn;
	}
	if (n < 2)
		return 0;
	for (size_t i = 0; i < n; i++)
		req[i].buf = page_claim(m, req[i].pfn);
	vmt_memsrc_read_pages(m->src, req, n);
	m->stats.holes += m->src->holes - holes;
	m->stats.remote += m->src->remote - remote;
	for (size_t i = 0; i < n; i++) {
		err = err ?: req[i].err;
		page_settle(m, &req[i]);
	}
	return err;
}

/*
 * Prefetch: pages per batch (one round trip), and no more than the
 * source's cache keeps (prefetch_max) or half the page cache.  A batch that
 * ends drains the links before the next one fills them again: the 1,012
 * argument pages of a 1,000-process `ps` took 29 ms in four batches of 256
 * and 24 ms in one (the links' floor is 17.5 ms; bench/split_read.sh).
 */
#define MEM_PREFETCH_MAX 1024u

/* One batch of distinct frames, claimed; their reads' failures are not counted. */
static void prefetch_batch(struct vmt_mem *m, struct vmt_page_req *req, size_t k)
{
	uint64_t errors = m->stats.fetch_errors;

	vmt_memsrc_read_pages(m->src, req, k);
	for (size_t i = 0; i < k; i++)
		page_settle(m, &req[i]);
	m->stats.fetch_errors = errors; /* a hint's failure is the real read's to report */
	m->stats.prefetched += k;
}

void vmt_mem_prefetch(struct vmt_mem *m, const uint64_t *pfns, size_t n)
{
	/* Never more than half the cache: a batch must not evict itself. */
	size_t max = VMT_MIN(VMT_MIN(MEM_PREFETCH_MAX, m->cap / 2), m->src->prefetch_max), k = 0;
	struct vmt_page_req req[MEM_PREFETCH_MAX];

	if (!vmt_mem_hints_pay(m) || !n || !max)
		return;
	for (size_t i = 0; i < n; i++) {
		/* A frame claimed earlier in this batch is cached already. */
		if (pfns[i] >= m->ram_pages || pfn_cached(m, pfns[i]))
			continue;
		req[k] = (struct vmt_page_req){.pfn = pfns[i], .buf = page_claim(m, pfns[i])};
		if (++k == max) {
			prefetch_batch(m, req, k);
			k = 0;
		}
	}
	if (k)
		prefetch_batch(m, req, k);
}

void vmt_mem_stream_add(struct vmt_mem *m, const uint64_t *pfns, size_t n)
{
	uint64_t want[64];
	size_t k = 0;

	if (!m->src->streams) {
		vmt_mem_prefetch(m, pfns, n);
		return;
	}
	for (size_t i = 0; i < n; i++) {
		if (pfns[i] < m->ram_pages && !pfn_cached(m, pfns[i]))
			want[k++] = pfns[i];
		if (k == ARRAY_SIZE(want) || (k && i + 1 == n)) {
			m->src->ops->stream_add(m->src, want, k);
			m->stats.prefetched += k;
			k = 0;
		}
	}
}

void vmt_mem_stream_bytes(struct vmt_mem *m, uint64_t pa, size_t len)
{
	uint64_t pfn = pa >> VMT_PAGE_SHIFT;

	if (!len || (pa & (VMT_PAGE_SIZE - 1)) + len > VMT_PAGE_SIZE)
		return;
	if (!vmt_mem_parts(m)) {
		vmt_mem_stream_add(m, &pfn, 1);
		return;
	}
	if (pfn < m->ram_pages && !pfn_cached(m, pfn)) {
		m->src->ops->stream_bytes(m->src, pa, len);
		m->stats.prefetched++;
	}
}

bool vmt_mem_parts(const struct vmt_mem *m)
{
	return m->src->parts && m->src->ops->stream_bytes;
}

void vmt_mem_stream_pump(struct vmt_mem *m)
{
	if (m->src->streams)
		m->src->ops->stream_pump(m->src);
}

void vmt_mem_stream_end(struct vmt_mem *m)
{
	if (m->src->streams)
		m->src->ops->stream_end(m->src);
}

int vmt_mem_peek_local(struct vmt_mem *m, uint64_t pa, void *buf, size_t len)
{
	uint64_t pfn = pa >> VMT_PAGE_SHIFT;
	size_t in = pa & (VMT_PAGE_SIZE - 1);
	const struct mem_entry *e;

	if (len > VMT_PAGE_SIZE - in)
		return -EINVAL;
	if (!m->src->streams || !m->src->ops->peek)
		return vmt_mem_read_local(m, pa, buf, len);
	if (pfn >= m->ram_pages)
		return -EFAULT;
	e = &m->table[table_find(m, pfn)];
	if (e->gen == m->gen) {
		memcpy(buf, m->arena + ((size_t)e->slot << VMT_PAGE_SHIFT) + in, len);
		return 0;
	}
	return m->src->ops->peek(m->src, pfn, in, buf, len);
}

bool vmt_mem_streams(const struct vmt_mem *m)
{
	return m->src->streams;
}

bool vmt_mem_has_remote(const struct vmt_mem *m)
{
	return m->src->remote_fetch;
}

bool vmt_mem_hints_pay(const struct vmt_mem *m)
{
	return m->src->remote_fetch && m->src->prefetch_max > 0;
}

/* Most reads are one field: a fixed-size copy is one move (a variable one a string instruction). */
static inline void copy_out(uint8_t *out, const uint8_t *in, size_t n)
{
	if (n == 8)
		memcpy(out, in, 8);
	else if (n == 4)
		memcpy(out, in, 4);
	else
		memcpy(out, in, n);
}

/*
 * A read across pages wholly from bytes the source fetched exactly (method
 * 1's parts), before the batch that would fetch its pages: true if every
 * page it touches is uncached and the source held its piece.  Nothing is
 * cached.  A piece already copied out is copied again by the caller's
 * usual path when a later one fails.  (A read within one page asks for its
 * part on the miss itself: page_get.)
 */
static bool mem_read_parts(struct vmt_mem *m, uint64_t pa, uint8_t *out, size_t len)
{
	while (len) {
		uint64_t pfn = pa >> VMT_PAGE_SHIFT;
		size_t n = VMT_MIN(len, VMT_PAGE_SIZE - (pa & (VMT_PAGE_SIZE - 1)));

		if (pfn >= m->ram_pages || pfn_cached(m, pfn) ||
		    m->src->ops->read_part(m->src, pa, out, n))
			return false;
		out += n;
		pa += n;
		len -= n;
	}
	return true;
}

static int mem_read_pages(struct vmt_mem *m, uint64_t pa, uint8_t *out, size_t len)
{
	uint64_t end, off, n;
	size_t total = len;
	uint8_t *page = NULL;
	bool multi;
	int err;

	if (!vmt_add_ok(pa, len, &end))
		return -EFAULT;
	multi = len && (pa >> VMT_PAGE_SHIFT) != ((end - 1) >> VMT_PAGE_SHIFT);
	if (multi && m->src->parts_held && mem_read_parts(m, pa, out, len)) {
		m->stats.bytes_copied += len;
		return 0;
	}
	if (multi && m->batches) {
		err = mem_prefill(m, pa >> VMT_PAGE_SHIFT, (end - 1) >> VMT_PAGE_SHIFT);
		if (err)
			return err;
	}
	while (len) {
		off = pa & (VMT_PAGE_SIZE - 1);
		n = VMT_MIN(len, VMT_PAGE_SIZE - off);
		err = page_get(m, pa >> VMT_PAGE_SHIFT, &page,
			       &(struct mem_piece){.pa = pa, .out = out, .n = n});
		if (err < 0)
			return err;
		if (err != MEM_FROM_PART)
			copy_out(out, page + off, n);
		out += n;
		pa += n;
		len -= n;
	}
	m->stats.bytes_copied += total;
	return 0;
}

/* Whole read inside the last page touched: the common case of a walker. */
static inline bool in_last_page(const struct vmt_mem *m, uint64_t pa, size_t len)
{
	return (pa >> VMT_PAGE_SHIFT) == m->last_pfn &&
	       (pa & (VMT_PAGE_SIZE - 1)) + len <= VMT_PAGE_SIZE;
}

int vmt_mem_read(struct vmt_mem *m, uint64_t pa, void *buf, size_t len)
{
	if (in_last_page(m, pa, len)) {
		memcpy(buf, m->last_page + (pa & (VMT_PAGE_SIZE - 1)), len);
		m->stats.cache_hits++;
		m->stats.bytes_copied += len;
		return 0;
	}
	return mem_read_pages(m, pa, buf, len);
}

int vmt_mem_read_u64(struct vmt_mem *m, uint64_t pa, uint64_t *val)
{
	if (in_last_page(m, pa, sizeof(*val))) {
		/* a constant-size copy compiles to one load */
		memcpy(val, m->last_page + (pa & (VMT_PAGE_SIZE - 1)), sizeof(*val));
		m->stats.cache_hits++;
		m->stats.bytes_copied += sizeof(*val);
		return 0;
	}
	return mem_read_pages(m, pa, (uint8_t *)val, sizeof(*val));
}

int vmt_mem_read_local(struct vmt_mem *m, uint64_t pa, void *buf, size_t len)
{
	int err;

	m->src->local_only = true;
	err = vmt_mem_read(m, pa, buf, len);
	m->src->local_only = false;
	return err;
}

int vmt_mem_scan(struct vmt_mem *m, uint64_t pa, void *buf, size_t len)
{
	uint8_t page[VMT_PAGE_SIZE], *out = buf;
	int err = 0;

	if (pa > m->src->ram_end || len > m->src->ram_end - pa)
		return -EFAULT;
	if (m->src->ops->scan)
		return m->src->ops->scan(m->src, pa, buf, len);
	m->src->local_only = true;
	while (len && err != -ENOMEM) {
		size_t off = pa & (VMT_PAGE_SIZE - 1), n = VMT_MIN(len, VMT_PAGE_SIZE - off);

		err = vmt_memsrc_read_page(m->src, pa >> VMT_PAGE_SHIFT, page);
		if (err)
			memset(out, 0, n);
		else
			memcpy(out, page + off, n);
		out += n;
		pa += n;
		len -= n;
	}
	m->src->local_only = false;
	return err == -ENOMEM ? err : 0;
}

static void recent_clear(struct vmt_mem *m)
{
	for (unsigned i = 0; i < MEM_RECENT; i++)
		m->recent[i].pfn = NO_PFN;
}

void vmt_mem_epoch(struct vmt_mem *m)
{
	vmt_memsrc_epoch(m->src);
	m->epoch_id++;
	m->last_pfn = NO_PFN;
	recent_clear(m);
	m->used = 0;
	m->hand = 0;
	if (++m->gen == 0) {
		/* 2^32 epochs later: old generations would look current again. */
		memset(m->table, 0, (m->mask + 1) * sizeof(*m->table));
		memset(m->slots, 0, (size_t)m->cap * sizeof(*m->slots));
		m->gen = 1;
	}
}

uint64_t vmt_mem_epoch_id(const struct vmt_mem *m)
{
	return m->epoch_id;
}

uint64_t vmt_mem_ram_end(const struct vmt_mem *m)
{
	return m->src->ram_end;
}

struct vmt_mem_stats *vmt_mem_stats_ptr(struct vmt_mem *m)
{
	return &m->stats;
}

static int mem_alloc(struct vmt_mem *m, size_t cap)
{
	size_t tsize = 16;
	unsigned bits = 4;

	while (tsize < 2 * cap) {
		tsize <<= 1;
		bits++;
	}
	/* Anonymous memory: slots cost RAM only once a page is cached in them. */
	m->arena = mmap(NULL, cap << VMT_PAGE_SHIFT, PROT_READ | PROT_WRITE,
			MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (m->arena == MAP_FAILED) {
		m->arena = NULL;
		return -ENOMEM;
	}
	/*
	 * Slots fill from the start of the arena, and a listing of a large
	 * guest touches thousands of them: huge pages turn ~7,500 page faults
	 * (a third of a 1,000-process `vmt ps`) into a few dozen.  Advice only.
	 */
	madvise(m->arena, cap << VMT_PAGE_SHIFT, MADV_HUGEPAGE);
	m->batches = cap >= 2 * MEM_BATCH_PAGES;
	m->slots = calloc(cap, sizeof(*m->slots));
	m->table = calloc(tsize, sizeof(*m->table));
	if (!m->slots || !m->table)
		return -ENOMEM;
	m->cap = (uint32_t)cap;
	m->mask = tsize - 1;
	m->shift = 64 - bits;
	return 0;
}

static void mem_release(struct vmt_mem *m)
{
	if (m->arena)
		munmap(m->arena, (size_t)m->cap << VMT_PAGE_SHIFT);
	free(m->slots);
	free(m->table);
	free(m);
}

int vmt_mem_new(struct vmt_memsrc *src, size_t cache_pages, struct vmt_mem **out)
{
	struct vmt_mem *m;
	int err;

	*out = NULL;
	if (!src)
		return -EINVAL;
	if (!cache_pages)
		cache_pages = VMT_MEM_DEFAULT_CACHE_PAGES;
	if (cache_pages > MAX_CACHE_PGS)
		return vmt_error(-EINVAL, "page cache of %zu pages is too big (max %u)",
				 cache_pages, MAX_CACHE_PGS);
	m = calloc(1, sizeof(*m));
	if (!m)
		return -ENOMEM;
	m->cap = (uint32_t)cache_pages; /* for mem_release on a partial alloc */
	err = mem_alloc(m, cache_pages);
	if (err) {
		mem_release(m);
		return err;
	}
	m->src = src;
	src->stats = &m->stats;
	m->ram_pages = (src->ram_end >> VMT_PAGE_SHIFT) + !!(src->ram_end & (VMT_PAGE_SIZE - 1));
	m->epoch_id = 1;
	m->gen = 1;
	m->last_pfn = NO_PFN;
	recent_clear(m);
	*out = m;
	return 0;
}

void vmt_mem_free(struct vmt_mem *m)
{
	if (!m)
		return;
	vmt_memsrc_free(m->src);
	mem_release(m);
}

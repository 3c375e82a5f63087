// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * split.c - reading a split VM's pages where its page table says they are.
 *
 * Every page is read under the page table's seqlock (pagetable.h): load
 * the chunk's entry once it is not moving, read the data from where the
 * entry says, and check that the entry did not change meanwhile; if it did,
 * the page is read again (at most VMT_SPLIT_READ_TRIES rounds, then
 * -EAGAIN: never the zeros of a hole passed off as data).
 *
 *   ABSENT  zeros, without touching the file
 *   MAIN    pread of the memory file (never a mapping: DESIGN.md)
 *   SUB+k   by the fetch method:
 *           none     -ENODATA (counted in remote)
 *           runtime  method 1: from method 1's cache, else one "want" per
 *                    run of k's chunks inside the aligned fetch chunk, all
 *                    wants of a batch read over NBD at once (fetch.c)
 *           vm       method 2: the pager is asked to page the aligned fetch
 *                    chunks in (pagein.c), and the next round finds them MAIN
 *
 * A batch (vmt_memsrc_read_pages) goes in rounds: every pending page is
 * classified, the wants of the round are fetched together (one round trip
 * for the whole batch, sub-hosts in parallel), and pages whose chunk moved
 * stay pending for the next round.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "memsrc/split.h"

/* A page of a batch still to be read: its file offset, and its want this round. */
struct pending {
	uint64_t off;
	size_t want; /* index in the round's wants, or NO_WANT */
	bool done;
	bool paged; /* method 2: the pager paged its chunk in for us */
};

#define NO_WANT SIZE_MAX
/* classify() results besides 0 (read) and -errno. */
#define NEEDS_WANT 1
#define MOVED	   2

struct round {
	struct split_want *w;
	size_t n, cap;
};

uint64_t split_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static bool entry_on_host(uint64_t e, int k)
{
	return !vmt_pt_e_moving(e) && vmt_pt_loc_host(vmt_pt_e_loc(e)) == k;
}

/* The aligned fetch chunk around off, clipped to the file. */
static void fetch_window(const struct memsrc_file *f, uint64_t off, uint64_t *lo, uint64_t *hi)
{
	uint64_t size = 1ull << f->split->fetch_shift;

	*lo = off & ~(size - 1);
	*hi = VMT_MIN(*lo + size, f->pt.hdr->ram_size);
}

/*
 * A range that the cache could not keep would be fetched again for each of
 * its pages: fetch no more than the cache holds (the aligned power-of-two
 * window around off that fits the bound), and only the chunks it touches.
 */
static void clip_to_cache(const struct memsrc_file *f, uint64_t off, uint64_t *lo, uint64_t *hi,
			  uint64_t *first, uint64_t *last)
{
	uint64_t bound = f->split->cache.bound, win = VMT_PAGE_SIZE;
	unsigned shift = f->pt.hdr->chunk_shift;

	if (*hi - *lo <= bound)
		return;
	while (win * 2 <= bound)
		win *= 2;
	*lo = VMT_MAX(*lo, off & ~(win - 1));
	*hi = VMT_MIN(*hi, (off & ~(win - 1)) + win);
	*first = *lo >> shift;
	*last = (*hi - 1) >> shift;
}

/*
 * Method 1's want for a page in chunk c (entry e, on sub-host k): the run of
 * chunks of k around c inside the aligned fetch chunk, or the fetch chunk
 * itself when it is smaller than a chunk.  Neighbours are taken only if they
 * are on k and still: the read never crosses a chunk that is elsewhere.
 */
int split_want_run(const struct memsrc_file *f, uint64_t off, uint64_t c, uint64_t e, int k,
		   struct split_want *w)
{
	unsigned shift = f->pt.hdr->chunk_shift;
	uint64_t lo, hi, c_lo, c_hi, first = c, last = c;

	fetch_window(f, off, &lo, &hi);
	if (f->split->fetch_shift > shift) {
		c_lo = lo >> shift;
		c_hi = (hi - 1) >> shift;
		while (first > c_lo && entry_on_host(vmt_pt_load(&f->pt, first - 1), k))
			first--;
		while (last < c_hi && entry_on_host(vmt_pt_load(&f->pt, last + 1), k))
			last++;
		lo = first << shift;
		hi = VMT_MIN((last + 1) << shift, f->pt.hdr->ram_size);
	}
	clip_to_cache(f, off, &lo, &hi, &first, &last);
	*w = (struct split_want){.off = lo, .len = hi - lo, .host = k, .c0 = first};
	w->nchunks = (unsigned)(last - first + 1);
	w->ents = malloc(w->nchunks * sizeof(*w->ents));
	if (!w->ents)
		return -ENOMEM;
	for (uint64_t i = first; i <= last; i++)
		w->ents[i - first] = i == c ? e : vmt_pt_load(&f->pt, i);
	return 0;
}

/*
 * [off, off + len) of chunk c (entry e) from method 1's cache (fcache_get);
 * needed now, so what the prefetch stream has in flight may be it: that
 * want is waited for (or the stream ended) and the cache looked at again.
 */
static int cache_get(struct memsrc_file *f, uint64_t off, uint64_t len, uint64_t c, uint64_t e,
		     void *buf)
{
	int hit = fcache_get(&f->split->cache, off, len, c, e, buf);

	if (hit == FC_MISS && fetch_stream_take(f, off, len, vmt_pt_loc_host(vmt_pt_e_loc(e))))
		hit = fcache_get(&f->split->cache, off, len, c, e, buf);
	return hit;
}

/* Index of the round's want that covers off on host k, or append one. */
static int want_find_or_add(const struct memsrc_file *f, struct round *r, uint64_t off, uint64_t c,
			    uint64_t e, int k, size_t *idx)
{
	struct split_want *grown;
	int err;

	for (size_t i = 0; i < r->n; i++) {
		if (r->w[i].host == k && off - r->w[i].off < r->w[i].len) {
			*idx = i;
			return 0;
		}
	}
	if (r->n == r->cap) {
		size_t cap = r->cap ? 2 * r->cap : 8;

		grown = realloc(r->w, cap * sizeof(*grown));
		if (!grown)
			return -ENOMEM;
		r->w = grown;
		r->cap = cap;
	}
	if (f->split->fetch == VMT_FETCH_RUNTIME) {
		err = split_want_run(f, off, c, e, k, &r->w[r->n]);
		if (err)
			return err;
	} else {
		uint64_t lo, hi;

		fetch_window(f, off, &lo, &hi);
		r->w[r->n] = (struct split_want){.off = lo, .len = hi - lo, .host = k};
	}
	*idx = r->n++;
	return 0;
}

static void round_reset(struct round *r)
{
	for (size_t i = 0; i < r->n; i++) {
		free(r->w[i].ents);
		free(r->w[i].data);
	}
	r->n = 0;
}

/* A chunk on sub-host k: from method 1's cache, or a want for this round. */
static int classify_remote(struct memsrc_file *f, struct round *r, struct pending *p, void *page,
			   uint64_t c, uint64_t e, int k)
{
	struct vmt_mem_stats *st = vmt_memsrc_stats(&f->base);

	if (f->base.local_only)
		return -ENODATA;
	if (f->split->fetch == VMT_FETCH_NONE) {
		f->base.remote++;
		return -ENODATA;
	}
	if ((unsigned)k >= f->pt.hdr->nr_hosts)
		return vmt_error(-EBADMSG, "page table %s places chunk %llu on sub-host %d of %u",
				 f->path, (unsigned long long)c, k, f->pt.hdr->nr_hosts);
	/* Method 2: a sub-host the pager could not page in from costs one timeout a listing. */
	if (f->split->fetch == VMT_FETCH_VM && f->split->pagein_down[k]) {
		st->fetch_errors++;
		return pagein_host_down(f, k);
	}
	if (f->split->fetch == VMT_FETCH_RUNTIME) {
		int hit = cache_get(f, p->off, VMT_PAGE_SIZE, c, e, page);

		if (hit != FC_MISS) {
			st->pages_fetched++;
			st->fetch_cache_hits += hit == FC_HIT;
			return 0;
		}
	}
	return want_find_or_add(f, r, p->off, c, e, k, &p->want) ?: NEEDS_WANT;
}

/* One pending page: read it if it is local, else say what to fetch. */
static int classify(struct memsrc_file *f, struct round *r, struct pending *p, void *page)
{
	uint64_t c = vmt_pt_chunk_of(&f->pt, p->off), e;
	int k, err;

	if (c >= f->pt.hdr->nr_chunks)
		return vmt_error(-EFAULT, "offset %#llx is past the page table's %llu chunks",
				 (unsigned long long)p->off,
				 (unsigned long long)f->pt.hdr->nr_chunks);
	/*
	 * Method 2: a chunk this listing hinted that is in motion is on its way
	 * in.  The pager answers for it when its move ends, so its page waits
	 * in the round's one request with the others instead of spinning alone.
	 */
	if (f->split->fetch == VMT_FETCH_VM && !p->paged && !f->base.local_only &&
	    vmt_pt_e_moving(e = vmt_pt_load(&f->pt, c)) && pagein_hinted(f, c))
		return want_find_or_add(f, r, p->off, c, e, vmt_pt_loc_host(vmt_pt_e_loc(e)),
					&p->want)
			   ?: NEEDS_WANT;
	err = vmt_pt_read_begin(&f->pt, c, VMT_SPLIT_MOVE_WAIT_MS, &e);
	/*
	 * Stuck in motion: the pager is waiting on a sub-host that does not
	 * answer (the guest faulted on it).  The page could not be had: a fetch
	 * error like any other, so the listing says why its entries are partial.
	 */
	if (err) {
		vmt_memsrc_stats(&f->base)->fetch_errors++;
		return vmt_error(err,
				 "chunk %llu of %s kept moving for %d ms (pager busy or "
				 "a sub-host not answering)",
				 (unsigned long long)c, f->path, VMT_SPLIT_MOVE_WAIT_MS);
	}
	k = vmt_pt_loc_host(vmt_pt_e_loc(e));
	if (k >= 0)
		return classify_remote(f, r, p, page, c, e, k);
	if (vmt_pt_e_loc(e) == VMT_PT_ABSENT)
		memset(page, 0, VMT_PAGE_SIZE);
	else if ((err = file_pread_page(f, p->off, page)))
		return err;
	if (vmt_pt_read_retry(&f->pt, c, e))
		return MOVED;
	if (p->paged || pagein_hinted(f, c))
		vmt_memsrc_stats(&f->base)->pages_fetched++;
	else
		vmt_memsrc_stats(&f->base)->pages_local++;
	return 0;
}

/* Method 1: copy each pending page out of its want if its chunk did not move. */
static void serve_fetched(struct memsrc_file *f, struct round *r, struct pending *p,
			  struct vmt_page_req *req, size_t n)
{
	struct vmt_mem_stats *st = vmt_memsrc_stats(&f->base);

	for (size_t i = 0; i < n; i++) {
		struct split_want *w;
		uint64_t c;

		if (p[i].done || p[i].want == NO_WANT)
			continue;
		w = &r->w[p[i].want];
		c = vmt_pt_chunk_of(&f->pt, p[i].off);
		if (w->err) {
			req[i].err = w->err;
			p[i].done = true;
			st->fetch_errors++;
		} else if (!vmt_pt_read_retry(&f->pt, c, w->ents[c - w->c0])) {
			memcpy(req[i].buf, w->data + (p[i].off - w->off), VMT_PAGE_SIZE);
			req[i].err = 0;
			p[i].done = true;
			st->pages_fetched++;
		} else {
			st->fetch_retries++; /* moved while it was fetched: next round */
		}
	}
	for (size_t j = 0; j < r->n; j++)
		if (!r->w[j].err)
			fcache_put(&f->split->cache, &r->w[j]);
	st->cache_bytes = f->split->cache.bytes;
	st->cache_bytes_max = VMT_MAX(st->cache_bytes_max, st->cache_bytes);
}

/* Method 2: a failed page-in (all, or of the page's sub-host) is the error of every page
 * that needed it. */
static void pagein_done(struct memsrc_file *f, const struct round *r, struct pending *p,
			struct vmt_page_req *req, size_t n, int err)
{
	for (size_t i = 0; i < n; i++) {
		int e;

		if (p[i].done || p[i].want == NO_WANT)
			continue;
		p[i].paged = true;
		e = err ?: r->w[p[i].want].err;
		if (!e)
			continue;
		req[i].err = e;
		p[i].done = true;
		vmt_memsrc_stats(&f->base)->fetch_errors++;
	}
}

/* Classify every pending page; true if some are still pending. */
static bool round_classify(struct memsrc_file *f, struct round *r, struct pending *p,
			   struct vmt_page_req *req, size_t n)
{
	bool left = false;

	for (size_t i = 0; i < n; i++) {
		int ret;

		if (p[i].done)
			continue;
		p[i].want = NO_WANT;
		ret = classify(f, r, &p[i], req[i].buf);
		if (ret <= 0) {
			req[i].err = ret;
			p[i].done = true;
		} else {
			left = true;
			if (ret == MOVED)
				vmt_memsrc_stats(&f->base)->fetch_retries++;
		}
	}
	return left;
}

static int batch_result(struct memsrc_file *f, struct pending *p, struct vmt_page_req *req,
			size_t n)
{
	int first = 0;

	for (size_t i = 0; i < n; i++) {
		if (!p[i].done) {
			vmt_memsrc_stats(&f->base)->fetch_errors++;
			req[i].err =
			    vmt_error(-EAGAIN,
				      "page at %#llx of %s kept moving while it was read "
				      "(%d tries)",
				      (unsigned long long)p[i].off, f->path, VMT_SPLIT_READ_TRIES);
		}
		if (req[i].err && !first)
			first = req[i].err;
	}
	return first;
}

static int split_rounds(struct memsrc_file *f, struct pending *p, struct vmt_page_req *req,
			size_t n)
{
	struct round r = {0};
	int err;

	for (unsigned try = 0; try < VMT_SPLIT_READ_TRIES; try++) {
		if (!round_classify(f, &r, p, req, n))
			break;
		if (f->split->fetch == VMT_FETCH_RUNTIME && r.n) {
			fetch_wants(f, r.w, r.n);
			serve_fetched(f, &r, p, req, n);
		} else if (f->split->fetch == VMT_FETCH_VM && r.n) {
			err = pagein_wants(f, r.w, r.n);
			pagein_done(f, &r, p, req, n, err);
		}
		round_reset(&r);
	}
	free(r.w);
	return batch_result(f, p, req, n);
}

int split_peek(struct memsrc_file *f, uint64_t off, void *buf, size_t len)
{
	uint64_t c = vmt_pt_chunk_of(&f->pt, off), e;
	ssize_t got;

	if (c >= f->pt.hdr->nr_chunks)
		return -EFAULT;
	e = vmt_pt_load(&f->pt, c);
	if (vmt_pt_e_moving(e))
		return -EAGAIN;
	if (vmt_pt_loc_host(vmt_pt_e_loc(e)) >= 0)
		return -ENODATA;
	if (vmt_pt_e_loc(e) == VMT_PT_ABSENT) {
		memset(buf, 0, len);
		return 0;
	}
	got = pread(f->fd, buf, len, (off_t)off); /* a hole in a MAIN chunk reads as zeros */
	if (got != (ssize_t)len)
		return got < 0 ? -errno : -EIO;
	return vmt_pt_read_retry(&f->pt, c, e) ? -EAGAIN : 0;
}

/*
 * Only from a part whose chunk is still on the sub-host it was read from,
 * unchanged (the part keeps the chunk's entry from before its read, as
 * every fetched range does): anything else is the page read's, which waits
 * for a moving chunk and reads the page where it now is.
 */
int split_read_part(struct memsrc_file *f, uint64_t off, void *buf, size_t len)
{
	struct vmt_mem_stats *st = vmt_memsrc_stats(&f->base);
	uint64_t c = vmt_pt_chunk_of(&f->pt, off), e;
	int hit;

	if (f->split->fetch != VMT_FETCH_RUNTIME || c >= f->pt.hdr->nr_chunks)
		return -ENODATA;
	e = vmt_pt_load(&f->pt, c);
	if (vmt_pt_e_moving(e) || vmt_pt_loc_host(vmt_pt_e_loc(e)) < 0)
		return -ENODATA;
	hit = cache_get(f, off, len, c, e, buf);
	if (hit == FC_MISS)
		return -ENODATA;
	st->exact_reads++;
	return 0;
}

int split_read_pages(struct memsrc_file *f, struct vmt_page_req *req, size_t n)
{
	struct pending one, *p = n == 1 ? &one : calloc(n, sizeof(*p));
	int err;

	if (!p)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		p[i] = (struct pending){.want = NO_WANT};
		req[i].err = 0;
		if (!file_offset_of(f, req[i].pfn, &p[i].off)) {
			req[i].err = -EFAULT;
			p[i].done = true;
		}
	}
	err = split_rounds(f, p, req, n);
	if (p != &one)
		free(p);
	return err;
}

void split_epoch(struct memsrc_file *f)
{
	if (!f->split)
		return;
	fetch_stream_end(f); /* what it brought is checked like the rest of the cache */
	pagein_stream_end(f);
	fcache_prune(&f->split->cache, &f->pt);
	vmt_memsrc_stats(&f->base)->cache_bytes = f->split->cache.bytes;
	fetch_epoch(f->split);
	f->split->pager_down = 0;
	memset(f->split->pagein_down, 0, sizeof(f->split->pagein_down));
}

int split_ctx_new(const struct vmt_memsrc_split_opts *o, struct split_ctx **out)
{
	struct split_ctx *x;
	int err;

	*out = NULL;
	if (o->fetch < VMT_FETCH_NONE || o->fetch > VMT_FETCH_VM)
		return vmt_error(-EINVAL, "unknown fetch method %d", o->fetch);
	if (!vmt_pt_chunk_shift_ok(o->fetch_shift) && o->fetch != VMT_FETCH_NONE)
		return vmt_error(-EINVAL, "fetch chunk of 2^%u bytes: it takes 4K..2M",
				 o->fetch_shift);
	if (o->fetch == VMT_FETCH_VM && !o->pager_sock)
		return vmt_error(-EINVAL, "fetch method vm needs the pager's command socket");
	if (o->fetch == VMT_FETCH_RUNTIME && !o->insecure && !o->psk_file)
		return vmt_error(-EINVAL, "fetch method runtime needs the sub-hosts' key file "
					  "(or insecure)");
	x = calloc(1, sizeof(*x));
	if (!x)
		return -ENOMEM;
	x->fetch = o->fetch;
	x->fetch_shift = o->fetch_shift;
	x->fetch_whole = o->fetch_whole;
	x->insecure = o->insecure;
	x->timeout_ms = o->timeout_ms > 0 ? o->timeout_ms : 10000;
	x->pager_fd = -1;
	x->psk_file = o->psk_file ? strdup(o->psk_file) : NULL;
	x->pager_sock = o->pager_sock ? strdup(o->pager_sock) : NULL;
	err = -ENOMEM;
	if ((o->psk_file && !x->psk_file) || (o->pager_sock && !x->pager_sock))
		goto err_free;
	err = fcache_init(&x->cache, o->fetch_cache_bytes, o->fetch_shift);
	if (err)
		goto err_free;
	*out = x;
	return 0;
err_free:
	split_ctx_free(x);
	return err;
}

void split_ctx_free(struct split_ctx *x)
{
	if (!x)
		return;
	fetch_close(x);
	pagein_close(x);
	fcache_free(&x->cache);
	free(x->psk_file);
	free(x->pager_sock);
	free(x);
}

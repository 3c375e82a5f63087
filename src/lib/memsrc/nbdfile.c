// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * nbdfile.c - the IDS on another host: every page over the network.
 *
 * The main host exports its memory file, page table, kernel and a meta
 * file read-only over NBD with TLS-PSK (`vmt vm export`).  This source
 * reads pages on the main host from the "mem" export -- nbdkit's file
 * plugin preads the file, so a hole (a page never touched) reads as zeros
 * and nothing is allocated, exactly as file.c's pread -- and pages the page
 * table places on sub-host k from k directly (fetch.c, method 1), never
 * from the main export, where they are holes.  It never opens a local file.
 *
 * The seqlock over the network.  Locally a reader loads a chunk's entry,
 * reads the data, loads the entry again (pagetable.h).  Here the entries
 * are words of the "pagetable" export, and NBD does not order requests in
 * flight (nbdkit serves them in parallel), so "entry, then data, then
 * entry" cannot be pipelined into one round trip.  The source keeps a
 * mirror of the whole table, read at open: a chunk's mirrored entry was
 * read before any data request of a round was sent, so it is the first
 * load.  Once a round's data has arrived, the entries of every chunk the
 * round touched are read again (a request per 4 KiB of table, all in one
 * batch), which also refreshes the mirror, and a page is taken only if its
 * chunk's entry is unchanged.  Sequences only grow, so an equal entry
 * proves the chunk did not move between the two reads, however old the
 * first.  Two round trips a round; a page whose chunk moved is classified
 * again from the fresh entry, at most VMT_SPLIT_READ_TRIES rounds, then
 * -EAGAIN.  An ABSENT chunk's zeros are checked the same way.  A chunk
 * pinned on the main host (the kernel's core) never moves: its zeros need
 * no re-read.
 *
 * Only zeros from the memory file are ambiguous.  The pager punches a
 * chunk's hole only after its copy is on the sub-host, with the guest held
 * off it by write-protection, and moves it to a sub-host only once the hole
 * is punched (pageout.c); a page-in fills whole pages (UFFDIO_COPY); shmem
 * hands out a page whole.  So bytes that are not all zero are the guest's
 * page as it was at some instant of the read, wherever the chunk went
 * since, and are taken at once, as file.c takes them; a page of zeros may
 * be a hole left by a chunk that moved away, and waits for the re-read of
 * its entry.  A listing of mostly non-zero kernel pages pays one round trip
 * per round, not two.  Pages from sub-hosts are always checked: a sub-host
 * may keep stale bytes of a chunk that came home (pagetable.h).
 *
 * A word that nbdkit preads is not guaranteed to be read atomically.  A
 * torn entry mixes the bytes of two consecutive values of one chunk's
 * entry; it can equal the later re-read only if it equals the newer value
 * (then it is that value), or if the chunk moved about 256 more times
 * during one round so that the sequence's bytes line up again.
 *
 * Reads go by fetch chunk (--chunk): the aligned window around a page,
 * clipped to the run of chunks in the same place, for the main export as
 * for sub-hosts, so a walker's neighbouring pages cost no round trip.
 * What was read is kept for the listing only (both caches are emptied at
 * vmt_listing_begin): the guest writes main-host chunks without their
 * entry changing, and the mirror is only refreshed where a listing reads.
 *
 * Method 2 (the pager pages chunks in) is refused: its command socket is
 * a unix socket on the main host.
 */
#include <fcntl.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "memsrc/nbdfile.h"
#include "memsrc/split.h"
#include "profile/profile_priv.h"
#include "subhost/subhost.h"

#define NBD_MAIN       (-1)	    /* split_want.host of a read from the main export */
#define NBD_TAB_BLOCK  4096u	    /* bytes of table re-read per request */
#define NBD_MOVE_WAIT  64	    /* ms: longest pause before a round after a chunk in motion */
#define NBD_CHUNK_DFL  21	    /* an unsplit VM's pretend chunk: 2 MiB, never moves */
#define NBD_KERNEL_MAX (512u << 20) /* a kernel image larger than this is not one */

struct memsrc_nbd {
	struct memsrc_file f;	 /* first: f.base; f.pt is the mirror, f.split method 1 */
	struct vmt_subhost *mem; /* "mem" export */
	struct vmt_subhost *tab; /* "pagetable" export; NULL: an unsplit VM */
	char *from, *psk_file;	 /* to connect again */
	int timeout_ms;
	unsigned fetch_shift;	  /* log2 of the fetch chunk */
	int fetch;		  /* enum vmt_fetch_method */
	struct fcache main_cache; /* main-export windows read in this listing */
	int main_slot;		  /* split: fetch.c's host index for the export, or -1 */
	struct vmt_nbd_meta meta;
};

/* ------------------------------------------------------------ connecting */

static int nbd_connect(struct memsrc_nbd *n, const char *export, struct vmt_subhost **h)
{
	struct vmt_subhost_opts o = {
	    .sz = sizeof(o),
	    .addr = n->from,
	    .export_name = export,
	    .psk_file = n->psk_file,
	    .connect_timeout_ms = n->timeout_ms,
	    .io_timeout_ms = n->timeout_ms,
	};
	int err = vmt_subhost_connect(&o, h);

	if (err)
		return vmt_error(err, "export '%s' of %s: %s", export, n->from,
				 vmt_subhost_last_error());
	return 0;
}

/* Errors after which a handle is of no more use (fetch.c has the same list). */
static bool nbd_dead(int err)
{
	return err == -ECONNRESET || err == -ETIMEDOUT || err == -EPIPE || err == -ENOTCONN ||
	       err == -ESHUTDOWN || err == -ECONNABORTED;
}

/* io[] on *h (set in each io by this function), connecting again once if it broke. */
static int nbd_read_io(struct memsrc_nbd *n, const char *export, struct vmt_subhost **h,
		       struct vmt_subhost_io *io, size_t m)
{
	struct vmt_mem_stats *st = vmt_memsrc_stats(&n->f.base);
	uint64_t t0 = split_now_ns();
	int err = 0;

	for (int pass = 0; pass < 2; pass++) {
		if (!*h && (err = nbd_connect(n, export, h))) {
			for (size_t i = 0; i < m; i++)
				io[i].err = err; /* none was sent */
			break;
		}
		for (size_t i = 0; i < m; i++)
			io[i].host = *h;
		err = vmt_subhost_pread_batch(io, m);
		st->round_trips++;
		if (!err || !nbd_dead(err))
			break;
		vmt_subhost_close(*h);
		*h = NULL;
	}
	st->wait_ns += split_now_ns() - t0;
	if (err && *h)
		vmt_error(err, "export '%s' of %s: %s", export, n->from, vmt_subhost_error(*h));
	return err;
}

/* A whole small export (meta) into a NUL-terminated buffer; caller frees. */
static int nbd_read_small(struct memsrc_nbd *n, const char *export, char **out)
{
	struct vmt_subhost *h = NULL;
	struct vmt_subhost_io io = {0};
	uint64_t size;
	int err = nbd_connect(n, export, &h);

	if (err)
		return err;
	size = vmt_subhost_size(h);
	if (size > VMT_NBD_META_MAX) {
		err = vmt_error(-EBADMSG, "export '%s' of %s is %llu bytes: not a meta file",
				export, n->from, (unsigned long long)size);
		goto out;
	}
	io = (struct vmt_subhost_io){.off = 0, .len = size, .buf = calloc(1, size + 1)};
	err = io.buf ? nbd_read_io(n, export, &h, &io, size ? 1 : 0) : -ENOMEM;
	if (!err)
		*out = io.buf;
	else
		free(io.buf);
out:
	vmt_subhost_close(h);
	return err;
}

/* ------------------------------------------------------------------ meta */

static const char *js_str(struct json_object *o, const char *k)
{
	struct json_object *v;

	if (!json_object_object_get_ex(o, k, &v) || !json_object_is_type(v, json_type_string))
		return "";
	return json_object_get_string(v);
}

static int64_t js_int(struct json_object *o, const char *k)
{
	struct json_object *v;

	if (!json_object_object_get_ex(o, k, &v) || !json_object_is_type(v, json_type_int))
		return -1;
	return json_object_get_int64(v);
}

static int meta_parse(struct memsrc_nbd *n, const char *text)
{
	struct vmt_nbd_meta *m = &n->meta;
	struct json_object *o = json_tokener_parse(text), *v;
	int err = 0;

	if (!o || !json_object_is_type(o, json_type_object) || js_int(o, "version") != 1) {
		err = -EBADMSG;
		goto out;
	}
	vmt_strlcpy(m->vm, js_str(o, "vm"), sizeof(m->vm));
	vmt_strlcpy(m->machine, js_str(o, "machine"), sizeof(m->machine));
	vmt_strlcpy(m->fetch, js_str(o, "fetch"), sizeof(m->fetch));
	m->ram_size = (uint64_t)js_int(o, "ram_size");
	m->split_gen = (int)js_int(o, "split_gen");
	m->kernel_size = (uint64_t)js_int(o, "kernel_size");
	m->kernel_mtime_ns = js_int(o, "kernel_mtime_ns");
	m->fetch_chunk = js_int(o, "fetch_chunk") > 0 ? (uint64_t)js_int(o, "fetch_chunk") : 0;
	m->subhosts_insecure =
	    json_object_object_get_ex(o, "subhosts_insecure", &v) && json_object_get_boolean(v);
	if (!m->vm[0] || m->split_gen < 0 || js_int(o, "ram_size") < (1 << 20) ||
	    m->ram_size % VMT_PAGE_SIZE || js_int(o, "kernel_size") <= 0)
		err = -EBADMSG;
out:
	json_object_put(o);
	return err ? vmt_error(err, "the meta export of %s is malformed", n->from) : 0;
}

/* ----------------------------------------------------------- page table */

static int tab_header_check(const struct memsrc_nbd *n, const struct vmt_pt_header *h,
			    uint64_t tab_size)
{
	uint64_t nr;

	if (memcmp(h->magic, VMT_PT_MAGIC, sizeof(h->magic)) || h->version != VMT_PT_VERSION ||
	    h->header_size != VMT_PT_HEADER_SIZE || !vmt_pt_chunk_shift_ok(h->chunk_shift) ||
	    h->nr_hosts > VMT_PT_MAX_HOSTS || h->ram_size != n->meta.ram_size)
		return -EBADMSG;
	nr = vmt_pt_nr_chunks(h->ram_size, h->chunk_shift);
	if (h->nr_chunks != nr || nr > (1ull << 32) ||
	    tab_size < VMT_PT_HEADER_SIZE + nr * sizeof(uint64_t))
		return -EBADMSG;
	/* fetch.c copies these with vmt_strlcpy: each must end inside its field. */
	for (unsigned k = 0; k < h->nr_hosts; k++)
		if (!memchr(h->hosts[k].addr, 0, sizeof(h->hosts[k].addr)) ||
		    !memchr(h->hosts[k].export, 0, sizeof(h->hosts[k].export)) ||
		    !memchr(h->hosts[k].name, 0, sizeof(h->hosts[k].name)))
			return -EBADMSG;
	return 0;
}

/* The whole table into the mirror: the first load of every entry. */
static int tab_load(struct memsrc_nbd *n)
{
	struct vmt_pt *pt = &n->f.pt;
	struct vmt_subhost_io io = {.off = 0, .len = VMT_PT_HEADER_SIZE};
	int err = nbd_connect(n, VMT_NBD_EXPORT_PAGETABLE, &n->tab);

	if (err)
		return err;
	pt->fd = -1;
	pt->hdr = calloc(1, VMT_PT_HEADER_SIZE);
	if (!pt->hdr)
		return -ENOMEM;
	io.buf = pt->hdr;
	err = nbd_read_io(n, VMT_NBD_EXPORT_PAGETABLE, &n->tab, &io, 1);
	if (err)
		return err;
	if (tab_header_check(n, pt->hdr, vmt_subhost_size(n->tab)))
		return vmt_error(-EBADMSG, "the page table export of %s is corrupt", n->from);
	pt->entry = calloc(pt->hdr->nr_chunks, sizeof(uint64_t));
	if (!pt->entry)
		return -ENOMEM;
	io = (struct vmt_subhost_io){.off = VMT_PT_HEADER_SIZE,
				     .len = pt->hdr->nr_chunks * sizeof(uint64_t),
				     .buf = (void *)pt->entry};
	return nbd_read_io(n, VMT_NBD_EXPORT_PAGETABLE, &n->tab, &io, 1);
}

/* An unsplit VM: a pretend table where every chunk is MAIN and never moves. */
static int tab_fake(struct memsrc_nbd *n)
{
	struct vmt_pt *pt = &n->f.pt;

	pt->fd = -1;
	pt->hdr = calloc(1, VMT_PT_HEADER_SIZE);
	if (!pt->hdr)
		return -ENOMEM;
	pt->hdr->ram_size = n->meta.ram_size;
	pt->hdr->chunk_shift = NBD_CHUNK_DFL;
	pt->hdr->nr_chunks = vmt_pt_nr_chunks(n->meta.ram_size, NBD_CHUNK_DFL);
	pt->entry = calloc(pt->hdr->nr_chunks, sizeof(uint64_t));
	if (!pt->entry)
		return -ENOMEM;
	for (uint64_t i = 0; i < pt->hdr->nr_chunks; i++)
		pt->entry[i] = VMT_PT_MAIN;
	return 0;
}

static int u64_cmp(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* Read again the table blocks holding chunks c[0..m) (sorted here): the second load. */
static int tab_refresh(struct memsrc_nbd *n, uint64_t *c, size_t m)
{
	const uint64_t per = NBD_TAB_BLOCK / sizeof(uint64_t), nr = n->f.pt.hdr->nr_chunks;
	struct vmt_subhost_io *io = calloc(m, sizeof(*io));
	size_t k = 0;
	int err;

	if (!io)
		return -ENOMEM;
	qsort(c, m, sizeof(*c), u64_cmp);
	for (size_t i = 0; i < m; i++) {
		uint64_t first = c[i] / per * per;

		if (k && io[k - 1].off == VMT_PT_HEADER_SIZE + first * sizeof(uint64_t))
			continue;
		io[k++] =
		    (struct vmt_subhost_io){.off = VMT_PT_HEADER_SIZE + first * sizeof(uint64_t),
					    .len = VMT_MIN(per, nr - first) * sizeof(uint64_t),
					    .buf = (void *)&n->f.pt.entry[first]};
	}
	err = nbd_read_io(n, VMT_NBD_EXPORT_PAGETABLE, &n->tab, io, k);
	free(io);
	return err;
}

/* ---------------------------------------------------------------- reads */

/* A page of a batch still to be read. */
struct nbd_pending {
	uint64_t off, c, e; /* file offset, chunk, its entry when classified */
	size_t want;	    /* index in the round's wants w[which], or SIZE_MAX */
	int which;	    /* 0: read by main_read, 1: by fetch.c */
	bool main;	    /* the page is on the main host (its export) */
	bool check;	    /* zeros (ABSENT, or read as zeros): taken if the entry stays */
	bool done;
};

struct nbd_round {
	struct split_want *w[2]; /* [0] main export by main_read, [1] by fetch.c */
	size_t n[2], cap[2];
	uint64_t *touched; /* chunks whose entries are re-read after the data */
	size_t nt, cap_t;
	bool moving; /* a chunk was in motion: give its writer time */
};

static bool same_place(uint64_t e, unsigned loc)
{
	return !vmt_pt_e_moving(e) && vmt_pt_e_loc(e) == loc;
}

/*
 * The aligned fetch window around off, narrowed to the run of chunks in the
 * same place as chunk c (loc) and to what the cache keeps (split.c's rules).
 */
static int want_make(struct memsrc_nbd *n, uint64_t off, uint64_t c, unsigned loc, int host,
		     struct split_want *w)
{
	const struct vmt_pt *pt = &n->f.pt;
	unsigned shift = pt->hdr->chunk_shift;
	uint64_t size = 1ull << n->fetch_shift, bound = n->main_cache.bound, win = VMT_PAGE_SIZE;
	uint64_t lo = off & ~(size - 1), hi = VMT_MIN(lo + size, pt->hdr->ram_size);
	uint64_t first = c, last = c;

	while (win * 2 <= bound && win * 2 <= size)
		win *= 2;
	lo = VMT_MAX(lo, off & ~(win - 1));
	hi = VMT_MIN(hi, (off & ~(win - 1)) + win);
	while (first > (lo >> shift) && same_place(vmt_pt_load(pt, first - 1), loc))
		first--;
	while (last < ((hi - 1) >> shift) && same_place(vmt_pt_load(pt, last + 1), loc))
		last++;
	lo = VMT_MAX(lo, first << shift);
	hi = VMT_MIN(hi, (last + 1) << shift);
	*w = (struct split_want){.off = lo, .len = hi - lo, .host = host, .c0 = first};
	w->nchunks = (unsigned)(last - first + 1);
	w->ents = malloc(w->nchunks * sizeof(*w->ents));
	if (!w->ents)
		return -ENOMEM;
	for (uint64_t i = first; i <= last; i++)
		w->ents[i - first] = vmt_pt_load(pt, i);
	return 0;
}

static int grow(void **v, size_t *cap, size_t n, size_t each)
{
	void *g;

	if (n < *cap)
		return 0;
	g = realloc(*v, (*cap ? *cap * 2 : 16) * each);
	if (!g)
		return -ENOMEM;
	*v = g;
	*cap = *cap ? *cap * 2 : 16;
	return 0;
}

static int touch(struct nbd_round *r, uint64_t c)
{
	if (grow((void **)&r->touched, &r->cap_t, r->nt, sizeof(*r->touched)))
		return -ENOMEM;
	r->touched[r->nt++] = c;
	return 0;
}

/* The round's want (main export or sub-host k) covering p, made if needed. */
static int want_get(struct memsrc_nbd *n, struct nbd_round *r, struct nbd_pending *p, int host)
{
	bool main = host == NBD_MAIN;
	int which = !main || n->main_slot >= 0;
	struct split_want *w;
	int err;

	if (main && n->main_slot >= 0)
		host = n->main_slot;
	p->main = main;
	p->which = which;
	for (size_t i = 0; i < r->n[which]; i++) {
		w = &r->w[which][i];
		if (w->host == host && p->off - w->off < w->len) {
			p->want = i;
			return 0;
		}
	}
	if (grow((void **)&r->w[which], &r->cap[which], r->n[which], sizeof(*w)))
		return -ENOMEM;
	w = &r->w[which][r->n[which]];
	err = want_make(n, p->off, p->c, vmt_pt_e_loc(p->e), host, w);
	if (err)
		return err;
	/* A main-host page is re-read only if it reads as zeros (round_check_main). */
	for (unsigned i = 0; !main && i < w->nchunks; i++)
		if (touch(r, w->c0 + i))
			return -ENOMEM;
	p->want = r->n[which]++;
	return 0;
}

/* A page on sub-host k: not read (none, probing), from the cache, or a want. */
static int classify_sub(struct memsrc_nbd *n, struct nbd_round *r, struct nbd_pending *p,
			void *page, int k)
{
	struct vmt_mem_stats *st = vmt_memsrc_stats(&n->f.base);

	if (n->f.base.local_only)
		return -ENODATA;
	if (n->fetch == VMT_FETCH_NONE) {
		n->f.base.remote++;
		return -ENODATA;
	}
	if ((unsigned)k >= n->f.pt.hdr->nr_hosts)
		return vmt_error(-EBADMSG,
				 "the page table of %s places chunk %llu on sub-host %d of %u",
				 n->from, (unsigned long long)p->c, k, n->f.pt.hdr->nr_hosts);
	if (fcache_get(&n->f.split->cache, p->off, VMT_PAGE_SIZE, p->c, p->e, page)) {
		st->pages_fetched++;
		st->fetch_cache_hits++;
		return 0;
	}
	return want_get(n, r, p, k) ?: 1;
}

/* One pending page: 0 done (page filled), 1 pending this round, -errno failed. */
static bool page_zero(const void *page)
{
	const uint64_t *q = page;

	for (size_t i = 0; i < VMT_PAGE_SIZE / sizeof(*q); i++)
		if (q[i])
			return false;
	return true;
}

static int classify(struct memsrc_nbd *n, struct nbd_round *r, struct nbd_pending *p, void *page)
{
	int k;

	p->want = SIZE_MAX;
	p->check = false;
	p->c = vmt_pt_chunk_of(&n->f.pt, p->off);
	if (p->c >= n->f.pt.hdr->nr_chunks)
		return vmt_error(-EFAULT, "offset %#llx is past the page table",
				 (unsigned long long)p->off);
	p->e = vmt_pt_load(&n->f.pt, p->c);
	if (vmt_pt_e_moving(p->e)) {
		r->moving = true;
		return touch(r, p->c) ?: 1;
	}
	k = vmt_pt_loc_host(vmt_pt_e_loc(p->e));
	if (k >= 0)
		return classify_sub(n, r, p, page, k);
	/*
	 * Probing (the KASLR search) takes an ABSENT chunk's zeros without the
	 * re-read: what it looks for, the kernel image, is pinned on the main
	 * host, so a chunk that filled since costs at most a candidate, and a
	 * probe of a never-touched 2 MiB slot does not cost a round trip.
	 */
	if (vmt_pt_e_loc(p->e) == VMT_PT_ABSENT && n->f.base.local_only) {
		memset(page, 0, VMT_PAGE_SIZE);
		vmt_memsrc_stats(&n->f.base)->pages_local++;
		return 0;
	}
	if (vmt_pt_e_loc(p->e) == VMT_PT_ABSENT) {
		p->check = true;
		return touch(r, p->c) ?: 1;
	}
	if (fcache_get(&n->main_cache, p->off, VMT_PAGE_SIZE, p->c, p->e, page)) {
		if (!page_zero(page) || vmt_pt_e_pinned(p->e)) {
			vmt_memsrc_stats(&n->f.base)->pages_local++;
			return 0;
		}
		p->check = true; /* zeros of a window read earlier: did the chunk leave since? */
		return touch(r, p->c) ?: 1;
	}
	return want_get(n, r, p, NBD_MAIN) ?: 1;
}

/*
 * Main-host pages that read as zeros: a page of zeros, or a hole left by a
 * chunk that moved away after its mirrored entry was read.  Only these wait
 * for the re-read of their entry (p->check), unless the chunk is pinned (it
 * never moves, so a hole there is a page never touched).  Other bytes are
 * the guest's (see the top) and are taken at once.
 */
static int round_check_main(struct memsrc_nbd *n, struct nbd_round *r, struct nbd_pending *p,
			    size_t cnt)
{
	for (size_t i = 0; i < cnt; i++) {
		struct split_want *w;

		if (p[i].done || p[i].want == SIZE_MAX || !p[i].main)
			continue;
		w = &r->w[p[i].which][p[i].want];
		if (w->err || !page_zero(w->data + (p[i].off - w->off)) ||
		    vmt_pt_e_pinned(w->ents[p[i].c - w->c0]))
			continue;
		p[i].check = true;
		if (touch(r, p[i].c))
			return -ENOMEM;
	}
	return 0;
}

/* The round's main-export windows, in one batch. */
static void main_read(struct memsrc_nbd *n, struct split_want *w, size_t m)
{
	struct vmt_subhost_io *io = calloc(m, sizeof(*io));
	int err = io ? 0 : -ENOMEM;

	for (size_t i = 0; !err && i < m; i++) {
		w[i].data = malloc(w[i].len);
		if (!w[i].data)
			err = -ENOMEM;
		else
			io[i] = (struct vmt_subhost_io){
			    .off = w[i].off, .len = w[i].len, .buf = w[i].data};
	}
	if (!err)
		nbd_read_io(n, VMT_NBD_EXPORT_MEM, &n->mem, io, m);
	for (size_t i = 0; i < m; i++)
		w[i].err = err ? err : io[i].err;
	free(io);
}

/* Take each page whose chunk's entry is unchanged; keep the windows for the listing. */
static void round_take(struct memsrc_nbd *n, struct nbd_round *r, struct nbd_pending *p,
		       struct vmt_page_req *req, size_t cnt)
{
	struct vmt_mem_stats *st = vmt_memsrc_stats(&n->f.base);

	for (size_t i = 0; i < cnt; i++) {
		struct split_want *w;
		uint64_t now = p[i].done ? 0 : vmt_pt_load(&n->f.pt, p[i].c);

		if (p[i].done || (p[i].want == SIZE_MAX && !p[i].check))
			continue;
		if (p[i].check) {
			if (now == p[i].e) {
				memset(req[i].buf, 0, VMT_PAGE_SIZE);
				p[i].done = true;
				st->pages_local++;
			}
			continue;
		}
		w = &r->w[p[i].which][p[i].want];
		if (w->err) {
			req[i].err = w->err;
			p[i].done = true;
			st->fetch_errors++; /* the command says it; main-export reads count too */
		} else if (p[i].main || now == w->ents[p[i].c - w->c0]) {
			/* main: bytes that are not zeros (round_check_main took the others) */
			memcpy(req[i].buf, w->data + (p[i].off - w->off), VMT_PAGE_SIZE);
			p[i].done = true;
			*(p[i].main ? &st->pages_local : &st->pages_fetched) += 1;
		} else {
			st->fetch_retries++;
		}
	}
	for (size_t j = 0; j < r->n[0]; j++)
		if (!r->w[0][j].err)
			fcache_put(&n->main_cache, &r->w[0][j]);
	for (size_t j = 0; j < r->n[1]; j++)
		if (!r->w[1][j].err)
			fcache_put(r->w[1][j].host == n->main_slot ? &n->main_cache
								   : &n->f.split->cache,
				   &r->w[1][j]);
	st->cache_bytes = n->main_cache.bytes + (n->f.split ? n->f.split->cache.bytes : 0);
	st->cache_bytes_max = VMT_MAX(st->cache_bytes_max, st->cache_bytes);
}

static void round_reset(struct nbd_round *r)
{
	for (int which = 0; which < 2; which++) {
		for (size_t i = 0; i < r->n[which]; i++) {
			free(r->w[which][i].ents);
			free(r->w[which][i].data);
		}
		r->n[which] = 0;
	}
	r->nt = 0;
	r->moving = false;
}

/* Classify every pending page; true if some wait for this round's reads. */
static bool round_classify(struct memsrc_nbd *n, struct nbd_round *r, struct nbd_pending *p,
			   struct vmt_page_req *req, size_t cnt)
{
	bool left = false;

	for (size_t i = 0; i < cnt; i++) {
		int ret;

		if (p[i].done)
			continue;
		ret = classify(n, r, &p[i], req[i].buf);
		if (ret <= 0) {
			req[i].err = ret;
			p[i].done = true;
		} else {
			left = true;
		}
	}
	return left;
}

/* fetch.c's batch, the export's reads among them; its per-host counters are the sub-hosts'. */
static void round_fetch(struct memsrc_nbd *n, struct split_want *w, size_t m)
{
	struct vmt_mem_stats *st = vmt_memsrc_stats(&n->f.base);
	int k = n->main_slot;
	uint64_t req = k >= 0 ? st->host_requests[k] : 0, ch = k >= 0 ? st->host_chunks[k] : 0,
		 by = k >= 0 ? st->host_bytes[k] : 0;

	fetch_wants(&n->f, w, m);
	if (k >= 0) {
		st->host_requests[k] = req;
		st->host_chunks[k] = ch;
		st->host_bytes[k] = by;
	}
}

/* The round's reads (main export and sub-hosts in one batch when it can), then the re-read. */
static int round_run(struct memsrc_nbd *n, struct nbd_round *r, struct nbd_pending *p, size_t cnt)
{
	if (r->n[0])
		main_read(n, r->w[0], r->n[0]);
	if (r->n[1])
		round_fetch(n, r->w[1], r->n[1]);
	if (round_check_main(n, r, p, cnt))
		return -ENOMEM;
	return n->tab && r->nt ? tab_refresh(n, r->touched, r->nt) : 0;
}

static void round_fail(struct nbd_pending *p, struct vmt_page_req *req, size_t cnt, int err)
{
	for (size_t i = 0; i < cnt; i++) {
		if (p[i].done)
			continue;
		req[i].err = err;
		p[i].done = true;
	}
}

static int nbd_rounds(struct memsrc_nbd *n, struct nbd_pending *p, struct vmt_page_req *req,
		      size_t cnt)
{
	struct nbd_round r = {0};
	int first = 0, err;

	for (unsigned try = 0; try < VMT_SPLIT_READ_TRIES; try++) {
		if (!round_classify(n, &r, p, req, cnt))
			break;
		err = round_run(n, &r, p, cnt);
		if (err)
			round_fail(p, req, cnt, err);
		else
			round_take(n, &r, p, req, cnt);
		if (r.moving) {
			struct timespec ts = {0,
					      (long)VMT_MIN(1u << try, NBD_MOVE_WAIT) * 1000000L};

			nanosleep(&ts, NULL);
		}
		round_reset(&r);
	}
	free(r.w[0]);
	free(r.w[1]);
	free(r.touched);
	for (size_t i = 0; i < cnt; i++) {
		if (!p[i].done) {
			vmt_memsrc_stats(&n->f.base)->fetch_errors++;
			req[i].err =
			    vmt_error(-EAGAIN,
				      "page at %#llx of %s kept moving while it was read "
				      "(%d tries)",
				      (unsigned long long)p[i].off, n->from, VMT_SPLIT_READ_TRIES);
		}
		if (req[i].err && !first)
			first = req[i].err;
	}
	return first;
}

static int nbd_read_pages(struct vmt_memsrc *src, struct vmt_page_req *req, size_t cnt)
{
	struct memsrc_nbd *n = (struct memsrc_nbd *)src;
	struct nbd_pending one, *p = cnt == 1 ? &one : calloc(cnt, sizeof(*p));
	int err;

	if (!p)
		return -ENOMEM;
	for (size_t i = 0; i < cnt; i++) {
		p[i] = (struct nbd_pending){.want = SIZE_MAX};
		req[i].err = 0;
		if (!file_offset_of(&n->f, req[i].pfn, &p[i].off)) {
			req[i].err = -EFAULT;
			p[i].done = true;
		}
	}
	err = nbd_rounds(n, p, req, cnt);
	if (p != &one)
		free(p);
	return err;
}

static int nbd_read_page(struct vmt_memsrc *src, uint64_t pfn, void *page)
{
	struct vmt_page_req r = {.pfn = pfn, .buf = page};

	return nbd_read_pages(src, &r, 1);
}

/* A new listing: what was read may have changed (see the top). */
static void nbd_epoch(struct vmt_memsrc *src)
{
	struct memsrc_nbd *n = (struct memsrc_nbd *)src;
	uint64_t bound = n->main_cache.bound;

	fcache_free(&n->main_cache);
	fcache_init(&n->main_cache, bound, n->fetch_shift);
	if (n->f.split) {
		fcache_free(&n->f.split->cache);
		fcache_init(&n->f.split->cache, bound, n->fetch_shift);
		fetch_epoch(n->f.split);
	}
	vmt_memsrc_stats(src)->cache_bytes = 0;
}

static void nbd_destroy(struct vmt_memsrc *src)
{
	struct memsrc_nbd *n = (struct memsrc_nbd *)src;

	split_ctx_free(n->f.split);
	fcache_free(&n->main_cache);
	vmt_subhost_close(n->mem);
	vmt_subhost_close(n->tab);
	free(n->f.pt.hdr);
	free((void *)n->f.pt.entry);
	free(n->f.path);
	free(n->from);
	free(n->psk_file);
	free(n);
}

static const struct vmt_memsrc_ops nbd_ops = {
    .name = "nbd",
    .read_page = nbd_read_page,
    .read_pages = nbd_read_pages,
    .epoch = nbd_epoch,
    .destroy = nbd_destroy,
};

/* ----------------------------------------------------------------- open */

static int open_check(const struct vmt_memsrc_nbd_opts *o)
{
	if (!o->from || !*o->from)
		return vmt_error(-EINVAL, "reading from another host needs the export's address");
	if (!o->psk_file || !*o->psk_file)
		return vmt_error(-EINVAL, "reading from %s needs the VM's key file", o->from);
	if (o->fetch == VMT_FETCH_VM)
		return vmt_error(-EINVAL,
				 "fetch method vm asks the VM's pager, whose socket is on "
				 "the main host: from %s use runtime (or none)",
				 o->from);
	if (o->fetch != VMT_FETCH_NONE && o->fetch != VMT_FETCH_RUNTIME)
		return vmt_error(-EINVAL, "unknown fetch method %d", o->fetch);
	return 0;
}

/* Which VM the export serves, and whether it is as it was exported. */
static int open_meta(struct memsrc_nbd *n, const struct vmt_memsrc_nbd_opts *o)
{
	char *text = NULL;
	int err = nbd_read_small(n, VMT_NBD_EXPORT_META, &text);

	if (!err)
		err = meta_parse(n, text);
	free(text);
	if (err)
		return err;
	if (o->vm && strcmp(o->vm, n->meta.vm))
		return vmt_error(-ESRCH, "%s exports VM '%s', not '%s'", n->from, n->meta.vm,
				 o->vm);
	err = nbd_connect(n, VMT_NBD_EXPORT_MEM, &n->mem);
	if (err)
		return err == -ENOENT || err == -EPROTO
			   ? vmt_error(-ESTALE,
				       "%s: the VM's memory is no longer exported (split "
				       "since? run `vmt vm export %s` again)",
				       n->from, n->meta.vm)
			   : err;
	if (vmt_subhost_size(n->mem) != n->meta.ram_size)
		return vmt_error(-ESTALE,
				 "%s: memory export of %llu bytes, the VM has %llu (run "
				 "`vmt vm export %s` again)",
				 n->from, (unsigned long long)vmt_subhost_size(n->mem),
				 (unsigned long long)n->meta.ram_size, n->meta.vm);
	return 0;
}

static int open_split(struct memsrc_nbd *n, const struct vmt_memsrc_nbd_opts *o)
{
	struct vmt_memsrc_split_opts so = {
	    .fetch = o->fetch,
	    .fetch_shift = n->fetch_shift,
	    .fetch_cache_bytes = n->main_cache.bound,
	    .psk_file = n->psk_file,
	    .insecure = n->meta.subhosts_insecure,
	    .timeout_ms = n->timeout_ms,
	};
	struct vmt_pt_header *h;
	int err = tab_load(n);

	if (!err)
		err = split_ctx_new(&so, &n->f.split);
	if (err)
		return err;
	h = n->f.pt.hdr;
	/*
	 * The export is one more NBD server to fetch.c: named in the mirror's
	 * first free host slot (past nr_hosts, which stays the split's), its
	 * reads go out in the same batch as the sub-hosts', pipelined, merged
	 * and reconnected like theirs.  Not when the sub-hosts are plain NBD
	 * (fetch.c would connect to the export without TLS) or all 16 slots
	 * are sub-hosts: then main_read() sends them in a batch of their own.
	 */
	if (h->nr_hosts < VMT_PT_MAX_HOSTS && !n->meta.subhosts_insecure &&
	    o->fetch != VMT_FETCH_NONE) {
		struct vmt_pt_host *mh = &h->hosts[h->nr_hosts];

		memset(mh, 0, sizeof(*mh));
		vmt_strlcpy(mh->addr, n->from, sizeof(mh->addr));
		vmt_strlcpy(mh->export, VMT_NBD_EXPORT_MEM, sizeof(mh->export));
		vmt_strlcpy(mh->name, "main", sizeof(mh->name));
		n->main_slot = (int)h->nr_hosts;
		n->f.split->hosts[n->main_slot].h = n->mem; /* fetch.c owns it from here */
		n->mem = NULL;
	}
	return 0;
}

static int open_layout(struct memsrc_nbd *n, const struct vmt_memsrc_nbd_opts *o)
{
	const char *machine = o->machine ? o->machine : n->meta.machine[0] ? n->meta.machine : "pc";
	uint64_t chunk = o->fetch_chunk	       ? o->fetch_chunk
			 : n->meta.fetch_chunk ? n->meta.fetch_chunk
					       : VMT_FETCH_CHUNK_DEFAULT;
	int shift = vmt_pt_chunk_shift_of(chunk);

	if (shift < 0)
		return vmt_error(-EINVAL,
				 "fetch chunk of %llu bytes: it takes 4K..2M, a power of two",
				 (unsigned long long)chunk);
	n->fetch_shift = (unsigned)shift;
	return vmt_ram_layout_x86(n->meta.ram_size, machine, o->below_4g, &n->f.layout);
}

int vmt_memsrc_nbd_open(const struct vmt_memsrc_nbd_opts *o, struct vmt_memsrc **out,
			struct vmt_nbd_meta *meta)
{
	struct memsrc_nbd *n;
	uint64_t bound =
	    o->fetch_cache_bytes ? o->fetch_cache_bytes : VMT_FETCH_CACHE_BYTES_DEFAULT;
	int err = open_check(o);

	*out = NULL;
	if (err)
		return err;
	n = calloc(1, sizeof(*n));
	if (!n)
		return -ENOMEM;
	n->f.fd = -1;
	n->f.pt.fd = -1;
	n->main_slot = -1;
	n->f.base.ops = &nbd_ops;
	n->fetch = o->fetch;
	n->timeout_ms = o->timeout_ms > 0 ? o->timeout_ms : 10000;
	n->from = strdup(o->from);
	n->psk_file = strdup(o->psk_file);
	n->f.path = strdup(o->from);
	if (!n->from || !n->psk_file || !n->f.path) {
		err = -ENOMEM;
		goto err_free;
	}
	err = open_meta(n, o);
	if (!err)
		err = open_layout(n, o);
	if (!err)
		err = fcache_init(&n->main_cache, bound, n->fetch_shift);
	if (!err)
		err = n->meta.split_gen > 0 ? open_split(n, o) : tab_fake(n);
	if (err)
		goto err_free;
	n->f.flags = VMT_MEMSRC_HOLE_ENODATA;
	n->f.base.ram_end = vmt_ram_layout_end(&n->f.layout);
	/* Every page is a round trip away now: batches and prefetch hints pay. */
	n->f.base.remote_fetch = true;
	if ((bound >> n->fetch_shift) >= VMT_SPLIT_PREFETCH_MIN)
		n->f.base.prefetch_max = (uint32_t)VMT_MIN(bound >> n->fetch_shift, UINT32_MAX);
	if (meta)
		*meta = n->meta;
	*out = &n->f.base;
	return 0;
err_free:
	nbd_destroy(&n->f.base);
	return err;
}

/* ---------------------------------------------------------------- kernel */

static int kernel_write(const char *path, const void *data, size_t len)
{
	char tmp[4200];
	int fd, err = 0;

	snprintf(tmp, sizeof(tmp), "%s.XXXXXX", path);
	fd = mkostemp(tmp, O_CLOEXEC);
	if (fd < 0)
		return vmt_error(-errno, "cannot create %s: %s", tmp, strerror(errno));
	for (size_t done = 0; !err && done < len;) {
		ssize_t w = write(fd, (const uint8_t *)data + done, len - done);

		if (w < 0 && errno != EINTR)
			err = -errno;
		else if (w > 0)
			done += (size_t)w;
	}
	if ((close(fd) && !err) || (!err && rename(tmp, path)))
		err = -errno;
	if (err) {
		unlink(tmp);
		return vmt_error(err, "cannot write %s: %s", path, strerror(-err));
	}
	return 0;
}

/* The cache file's name: the export's address and the image's size and mtime. */
static int kernel_path(const struct memsrc_nbd *n, const char *cache_dir, char *path,
		       size_t path_sz)
{
	char *dir = NULL, sub[4200], host[128], from[160];
	unsigned port;
	int err = vmt_subhost_parse_addr(n->from, host, sizeof(host), &port);

	if (!err)
		err = vmt_cache_dir(cache_dir, &dir);
	if (err)
		return err;
	snprintf(from, sizeof(from), "%s_%u", host, port);
	for (char *c = from; *c; c++)
		if (*c == '/' || *c == ':')
			*c = '_';
	snprintf(sub, sizeof(sub), "%s/remote", dir);
	free(dir);
	if (mkdir(sub, 0700) && errno != EEXIST)
		return vmt_error(-errno, "cannot make %s: %s", sub, strerror(errno));
	if (snprintf(path, path_sz, "%s/vmlinuz-%s-%llu-%lld", sub, from,
		     (unsigned long long)n->meta.kernel_size,
		     (long long)n->meta.kernel_mtime_ns) >= (int)path_sz)
		return vmt_error(-ENAMETOOLONG, "cache path too long: %s", sub);
	return 0;
}

int vmt_memsrc_nbd_kernel(struct vmt_memsrc *src, const char *cache_dir, char *path, size_t path_sz)
{
	struct memsrc_nbd *n = (struct memsrc_nbd *)src;
	struct vmt_subhost *h = NULL;
	struct vmt_subhost_io io = {0};
	struct stat st;
	int err;

	if (src->ops != &nbd_ops)
		return -EINVAL;
	err = kernel_path(n, cache_dir, path, path_sz);
	if (err || (!stat(path, &st) && (uint64_t)st.st_size == n->meta.kernel_size))
		return err;
	err = nbd_connect(n, VMT_NBD_EXPORT_KERNEL, &h);
	if (err)
		return err;
	if (vmt_subhost_size(h) != n->meta.kernel_size || n->meta.kernel_size > NBD_KERNEL_MAX) {
		err = vmt_error(-ESTALE, "%s: the kernel export is not the image the meta names",
				n->from);
		goto out;
	}
	io =
	    (struct vmt_subhost_io){.len = n->meta.kernel_size, .buf = malloc(n->meta.kernel_size)};
	err = io.buf ? nbd_read_io(n, VMT_NBD_EXPORT_KERNEL, &h, &io, 1) : -ENOMEM;
	if (!err)
		err = kernel_write(path, io.buf, io.len);
	free(io.buf);
out:
	vmt_subhost_close(h);
	return err;
}

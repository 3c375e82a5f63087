/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * split.h - insides of a split VM's page source, shared by the memory file
 * (file.c), the read path under the page table (split.c), method 1's fetch
 * cache and NBD connections (fcache.c, fetch.c) and method 2's pager client
 * (pagein.c).  Private to memsrc/.
 *
 * Words used throughout: a "chunk" is a page-table chunk (the unit that
 * moves between hosts, pt.hdr->chunk_shift); a "fetch chunk" is the unit
 * the runtime asks for at once (--chunk, fetch_shift), independent of it.
 * A "want" is one range to get from one place: for method 1 the run of
 * contiguous chunks of one sub-host inside one aligned fetch chunk, for
 * method 2 the aligned fetch chunk that the pager is asked to page in.
 */
#ifndef VMT_MEMSRC_SPLIT_H
#define VMT_MEMSRC_SPLIT_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "core/internal.h"
#include "memsrc/memsrc.h"
#include "memsrc/srcmap.h"
#include "pagetable/pagetable.h"
#include "pager/pager_proto.h"
#include "subhost/subhost.h"

struct memsrc_file {
	struct vmt_memsrc base; /* first: the ops get &base */
	int fd;
	unsigned flags; /* enum vmt_memsrc_file_flags */
	struct vmt_ram_layout layout;
	char *path;
	struct vmt_pt pt;	 /* split VM: its page table (pt.hdr NULL otherwise) */
	struct split_ctx *split; /* split VM: how sub-host pages are read */
	/* no page table: read through this mapping of its data pages (file.c) */
	struct srcmap map;
	/* this listing holds flock(LOCK_SH) on fd and took map's data map under it */
	bool map_locked;
	bool map_fresh; /* locked and listed at open: the first listing keeps both */
};

/* File offset of guest-physical frame pfn; false if pfn is not RAM. */
bool file_offset_of(const struct memsrc_file *f, uint64_t pfn, uint64_t *off);
/* pread one page at off (whole or an error). */
int file_pread_page(const struct memsrc_file *f, uint64_t off, void *page);

struct split_want {
	uint64_t off, len; /* memory-file range */
	int host;	   /* sub-host k (method 1) */
	uint64_t c0;	   /* first chunk of the range */
	unsigned nchunks;
	uint64_t *ents; /* method 1: entries of c0.. before the read (seqlock) */
	uint8_t *data;	/* method 1: len bytes, once read */
	int err;
	bool streamed; /* method 1: read by the prefetch stream, not used yet */
	bool part;     /* method 1: just the bytes a hint named (off, len within a page) */
	bool taken;    /* method 1: a stream's, settled before its stream ended */
};

/* Method 1's cache of fetched ranges: bounded in bytes of data, LRU. */
struct fc_entry;
struct fcache {
	struct fc_entry **bucket;
	uint64_t mask; /* buckets - 1 */
	unsigned fetch_shift;
	struct fc_entry *newest, *oldest;
	uint64_t bytes, bound;
	uint64_t parts; /* ranges held that are parts */
};

struct fetch_host {
	struct vmt_subhost *h;
	int down;  /* connect failed in this listing: -errno until the next */
	bool lost; /* its connection just died: the server may be restarting */
	/* Connected to at open on this thread (fetch.c: hosts_ready joins it). */
	pthread_t opener;
	bool opening;
};

/*
 * Method 1's prefetch stream (fetch.c): the reads a walk announced ahead,
 * sent at once and taken in while the walk goes on; what came is checked
 * and kept in the fetch cache when the stream ends.
 */
struct fetch_stream {
	struct split_want *w;	    /* cap wants; w[i] is read by io[i] */
	struct vmt_subhost_io *io;  /* (vmt_subhost_batch's entries) */
	uint32_t *index;	    /* open addressing over w by offset: i + 1, 0 empty */
	size_t n, cap, index_mask;  /* n: wants added so far */
	size_t sent;		    /* of them, handed to the batch (or the fetcher) */
	size_t parts;		    /* of them, parts (exact reads) */
	uint64_t bytes;		    /* their bytes: never more than the fetch cache keeps */
	struct vmt_subhost_batch b; /* the fetcher's own while it runs */
	bool open;		    /* a stream since the last end */
	/* The fetcher: a thread that drives b, so that the walk does not. */
	bool threaded; /* it runs (else add() sends and pump() drives b) */
	pthread_t thread;
	pthread_mutex_t mu; /* guards published and closing */
	size_t published;   /* wants the fetcher may send: io[0 .. published) */
	bool closing;	    /* nothing more comes: finish and exit */
	int wake_fd;	    /* eventfd: published or closing changed; -1 none */
	bool mu_ok;	    /* mu initialized */
	/*
	 * What the walk may take while the stream goes on (fetch_stream_take),
	 * under mu: landed[i], want i's read answered (or failed); every want
	 * below resolved is answered or failed (the fetcher had nothing in
	 * flight then).  landed_cond is signalled for a walk that waits.
	 */
	uint8_t *landed;
	size_t resolved;
	bool walk_waits;
	bool waited; /* the walk waited for one of its wants: its round trip is counted */
	pthread_cond_t landed_cond;
	bool cond_ok;
	uint64_t *got; /* the fetcher's own: bytes answered so far, per want */
};

struct split_ctx {
	int fetch; /* enum vmt_fetch_method */
	unsigned fetch_shift;
	bool fetch_whole; /* method 1: no exact reads (memsrc.h) */
	char *psk_file, *pager_sock;
	bool insecure;
	int timeout_ms;
	struct fetch_host hosts[VMT_PT_MAX_HOSTS];
	struct fcache cache;
	struct fetch_stream stream;
	int pager_fd; /* -1: not connected */
	int pager_down;
	/* Method 2's stream: hints held back until the next pump, and whether any went out. */
	struct vmt_pager_range hints[64];
	unsigned nhints;
	bool hinted;
	/* The chunks hinted in this listing (chunk + 1, open addressing; NULL: none yet). */
	uint64_t *hinted_set;
	size_t hinted_n, hinted_slots; /* filled, allocated (a power of two) */
	uint64_t hint_budget;	       /* chunks hints may still bring in this listing (pagein.c) */
	bool hint_budget_set;
	/* Method 2: the pager could not page sub-host k in, in this listing: -errno */
	int pagein_down[VMT_PT_MAX_HOSTS];
};

/* split.c */
/* Method 1's want for the page at off, in chunk c (entry e) on sub-host k. */
int split_want_run(const struct memsrc_file *f, uint64_t off, uint64_t c, uint64_t e, int k,
		   struct split_want *w);
int split_ctx_new(const struct vmt_memsrc_split_opts *o, struct split_ctx **out);
void split_ctx_free(struct split_ctx *x);
int split_read_pages(struct memsrc_file *f, struct vmt_page_req *req, size_t n);
/* Method 1's exact read of len bytes at off from a part the stream brought (memsrc read_part). */
int split_read_part(struct memsrc_file *f, uint64_t off, void *buf, size_t len);
/* A hint's read of len bytes at memory-file offset off, if its chunk is here (memsrc peek). */
int split_peek(struct memsrc_file *f, uint64_t off, void *buf, size_t len);
void split_epoch(struct memsrc_file *f);

/* fcache.c */
int fcache_init(struct fcache *c, uint64_t bound, unsigned fetch_shift);
void fcache_free(struct fcache *c);
/*
 * Copy [off, off + len) (a page, or a part's bytes) if a cached range holds
 * all of it with chunk's entry e: FC_HIT, or FC_HIT_STREAMED the first time
 * a range the prefetch stream brought is read (a fetch the walk asked for
 * ahead, not a second use).
 */
enum { FC_MISS, FC_HIT, FC_HIT_STREAMED };
int fcache_get(struct fcache *c, uint64_t off, uint64_t len, uint64_t chunk, uint64_t e, void *buf);
bool fcache_has(struct fcache *c, uint64_t off, uint64_t len, uint64_t chunk, uint64_t e);
/* Keep w's data (taken: w->data becomes NULL) if it fits the bound. */
void fcache_put(struct fcache *c, struct split_want *w);
/* Drop every range with a chunk that moved since it was read. */
void fcache_prune(struct fcache *c, const struct vmt_pt *pt);

/* fetch.c: method 1.  Reads every want from its sub-host (w->data, w->err). */
void fetch_wants(struct memsrc_file *f, struct split_want *w, size_t n);
void fetch_epoch(struct split_ctx *x);
/*
 * The prefetch stream: add() sends a read for each remote page not cached
 * (a hint: a page it cannot ask for is left to the real read), pump() takes
 * in answers without waiting, end() waits for the rest and keeps what is
 * still current in the cache; true if a stream was open.  Every read that
 * needs a sub-host now ends the stream first.
 */
void fetch_stream_add(struct memsrc_file *f, const uint64_t *off, size_t n);
void fetch_stream_pump(struct memsrc_file *f);
bool fetch_stream_end(struct memsrc_file *f);
/*
 * [off, off + len) on sub-host k is needed now: if a want of the open
 * stream reads it, wait for just that want and put it in the cache; else
 * end the stream (fetch_stream_end).  True if the cache may have it now.
 */
bool fetch_stream_take(struct memsrc_file *f, uint64_t off, uint64_t len, int k);
/* As add, for just the bytes [off, off + len) of one page: a part (exact reads). */
void fetch_stream_add_bytes(struct memsrc_file *f, uint64_t off, size_t len);
/* At open: connect to every sub-host now (best effort, short timeout). */
void fetch_open_hosts(struct memsrc_file *f);
/* Called after every batch of reads, before they are checked (unit tests only). */
extern void (*vmt_fetch_test_hook)(void *arg);
extern void *vmt_fetch_test_arg;
void fetch_close(struct split_ctx *x);

/*
 * pagein.c: method 2.  Asks the pager to page every want in: 0, or -errno
 * when the pager could not be asked; a sub-host the pager could not page in
 * from costs its wants (w->err) and is not asked again in this listing.
 */
int pagein_wants(struct memsrc_file *f, struct split_want *w, size_t n);
/* Sub-host k's page-in failed earlier in this listing: that error (named), else 0. */
int pagein_host_down(struct memsrc_file *f, int k);
void pagein_close(struct split_ctx *x);
/*
 * Method 2's prefetch stream: the pages at these memory-file offsets go to
 * the pager as hints (VMT_PAGER_HINT), which it pages in while the walk
 * goes on; pump() sends what add() held back; end(), at the listing's
 * end, makes the pager forget the hints it has not done.  Never waits,
 * never fails: the real read asks again.
 */
void pagein_stream_add(struct memsrc_file *f, const uint64_t *off, size_t n);
void pagein_stream_pump(struct memsrc_file *f);
void pagein_stream_end(struct memsrc_file *f);
/* Chunk c was hinted in this listing (its pages count as fetched when read). */
bool pagein_hinted(const struct memsrc_file *f, uint64_t c);

uint64_t split_now_ns(void);

#endif

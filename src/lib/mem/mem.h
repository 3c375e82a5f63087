/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * mem.h - the guest-physical page cache over one page source.
 *
 * Every read of guest memory goes through here.  Within a listing (between
 * two vmt_mem_epoch() calls) a page is fetched from the source at most once
 * as long as the cache has room; vmt_mem_epoch() forgets everything, so the
 * next listing sees fresh guest state.  Reads copy out: no caller holds a
 * pointer into the cache.
 */
#ifndef VMT_MEM_H
#define VMT_MEM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "memsrc/memsrc.h"
#include "vmemtrans.h"

struct vmt_mem;

#define VMT_MEM_DEFAULT_CACHE_PAGES 16384 /* 64 MiB */

/*
 * Takes ownership of src on success (vmt_mem_free frees it); on failure
 * src stays the caller's.  cache_pages 0 picks the default.  A vmt_mem is
 * not thread-safe: one thread at a time (callers lock).
 */
int vmt_mem_new(struct vmt_memsrc *src, size_t cache_pages, struct vmt_mem **out);
void vmt_mem_free(struct vmt_mem *m);

/*
 * Copy len bytes at guest-physical pa; 0 or a negative errno: -EFAULT past
 * ram_end, else the source's error.  On error buf's contents are undefined
 * (a read is whole or fails).
 */
int vmt_mem_read(struct vmt_mem *m, uint64_t pa, void *buf, size_t len);
int vmt_mem_read_u64(struct vmt_mem *m, uint64_t pa, uint64_t *val);
/*
 * As vmt_mem_read, for probes of memory that may hold nothing of interest
 * (the KASLR search): a page the source holds only remotely (a split VM's
 * sub-host) is -ENODATA at once, neither fetched nor counted as unread.
 */
int vmt_mem_read_local(struct vmt_mem *m, uint64_t pa, void *buf, size_t len);

/*
 * Bulk copy for a scan of all RAM (the kernel finder): the source's scan
 * op when it has one, else local page reads.  Bypasses the page cache and
 * its counters; pages the source cannot give here read as zeros.  The
 * bytes are hints: what the caller keeps it reads again with the calls
 * above.  -EFAULT past ram_end.
 */
int vmt_mem_scan(struct vmt_mem *m, uint64_t pa, void *buf, size_t len);

/*
 * Hint: frames pfns[0..n) will be read soon.  A source whose pages may be
 * remote reads those not cached in one batch (one round trip, sub-hosts in
 * parallel); otherwise nothing happens.  Errors are not reported (nor
 * counted): the real read reports them.
 */
void vmt_mem_prefetch(struct vmt_mem *m, const uint64_t *pfns, size_t n);
/*
 * Hints that need not be waited for: frames pfns[0..n) will be read, but
 * not before the caller has done other work.  A source with streams
 * hands the reads to a fetcher thread (method 1) or to the pager (method 2)
 * and returns at once; vmt_mem_stream_pump() now and then between pieces
 * of that work hands over what is still held back (hints go over a few at
 * a time), and vmt_mem_stream_end() waits for the rest (method 1).  Method
 * 1's stream ends at the first real read that needs a remote page; both
 * end with the listing.
 * Without streams, the hint is vmt_mem_prefetch().
 */
void vmt_mem_stream_add(struct vmt_mem *m, const uint64_t *pfns, size_t n);
/*
 * As vmt_mem_stream_add for the frame of pa, when the caller will read just
 * [pa, pa + len) of it (len within the frame): a source that can fetches
 * only those bytes, and the read finds them (method 1's exact reads).
 */
void vmt_mem_stream_bytes(struct vmt_mem *m, uint64_t pa, size_t len);
/* The source fetches the bytes vmt_mem_stream_bytes names, not whole frames. */
bool vmt_mem_parts(const struct vmt_mem *m);
void vmt_mem_stream_pump(struct vmt_mem *m);
void vmt_mem_stream_end(struct vmt_mem *m);
/*
 * For a hint that only passes through a page (a page table on the way to
 * a page it streams): len bytes at pa, within one page, from the page
 * cache if the page is there, else straight from a source with streams
 * if it holds the page here -- not cached, so that a walk of a thousand
 * page-table paths does not fill the cache (and zero its memory) with
 * pages it needs eight bytes of.  -ENODATA if the page is elsewhere.
 */
int vmt_mem_peek_local(struct vmt_mem *m, uint64_t pa, void *buf, size_t len);
/* Does the source have streams (hints sent at once, not waited for)? */
bool vmt_mem_streams(const struct vmt_mem *m);
/* Does the source fetch some pages from elsewhere (a split VM with a fetch method)? */
bool vmt_mem_has_remote(const struct vmt_mem *m);
/* Do prefetch hints pay (some pages cost a round trip, and the source keeps a batch)? */
bool vmt_mem_hints_pay(const struct vmt_mem *m);

/* Start a new listing: drop cached pages (and tell translation caches). */
void vmt_mem_epoch(struct vmt_mem *m);
/* Counter that vmt_mem_epoch() bumps; translation caches compare it. */
uint64_t vmt_mem_epoch_id(const struct vmt_mem *m);

uint64_t vmt_mem_ram_end(const struct vmt_mem *m);
struct vmt_mem_stats *vmt_mem_stats_ptr(struct vmt_mem *m);

#endif

/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * memsrc.h - page sources: where a guest-physical page comes from.
 *
 * Contract of read_page: copy the 4 KiB frame pfn into buf and return 0;
 * -EFAULT if pfn is not guest RAM at all; -ENODATA if the frame is RAM but
 * this source does not hold it (a hole in a split VM's memory file: the page
 * lives on a sub-host).  A source never changes guest memory, and never
 * creates a page in a memory file by reading it (DESIGN.md invariant: pread
 * a tmpfs hole, do not fault it in through a shared mapping).
 *
 * Sources plug in under mem/ (the page cache), so walkers never know
 * whether a page came from the local file, a sub-host or the pager.
 */
#ifndef VMT_MEMSRC_H
#define VMT_MEMSRC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vmemtrans.h"

struct vmt_memsrc;

/* One page of a batch read: in pfn and buf (VMT_PAGE_SIZE bytes), out err. */
struct vmt_page_req {
	uint64_t pfn;
	void *buf;
	int err; /* 0, or read_page's error for this page */
};

struct vmt_memsrc_ops {
	const char *name;
	int (*read_page)(struct vmt_memsrc *src, uint64_t pfn, void *buf);
	/*
	 * Optional: many pages in one call, so that a source whose pages are
	 * remote pays one round trip for all of them (requests to different
	 * sub-hosts in parallel).  Sets every req[i].err; returns 0 if all
	 * succeeded, else the error of the first failed req[].  NULL: read_page
	 * in a loop.
	 */
	int (*read_pages)(struct vmt_memsrc *src, struct vmt_page_req *req, size_t n);
	/* Optional: a new listing starts (vmt_listing_begin): drop what may be stale. */
	void (*epoch)(struct vmt_memsrc *src);
	/*
	 * Optional: the listing ends (vmt_listing_end): let go of what only a
	 * listing may hold (a RAM file's shared lock, file.c).  The next epoch
	 * and destroy let go of it too, for a listing never ended.  Reads may
	 * follow (outside a listing); they must not need what was let go.
	 */
	void (*epoch_end)(struct vmt_memsrc *src);
	/*
	 * Optional: copy len bytes of guest-physical memory at pa as they are
	 * here, in as few calls as the source can (the kernel finder's scan of
	 * all RAM).  Holes and pages that live elsewhere read as zeros; nothing
	 * is fetched, cached or counted; gaps in the RAM layout (the PCI hole)
	 * read as zeros too.  -EFAULT if the range ends past ram_end.
	 * The bytes are hints only: what a caller keeps it reads again.
	 */
	int (*scan)(struct vmt_memsrc *src, uint64_t pa, void *buf, size_t len);
	/*
	 * Optional, for a source with streams (vmt_memsrc.streams): prefetch
	 * without waiting.  stream_add asks for the frames and returns at once;
	 * stream_pump hands over what add held back; stream_end waits for the
	 * rest (method 1) or hands it over (method 2: the real reads wait).
	 * The pages land in the source's own cache (method 1) or in the memory
	 * file (method 2: the pager pages them in), where the real reads find
	 * them; a frame that could not be had is the real read's to report.
	 */
	void (*stream_add)(struct vmt_memsrc *src, const uint64_t *pfns, size_t n);
	/*
	 * Optional, with streams: len bytes at offset off of frame pfn (within
	 * the frame) if this source holds the frame here, for a hint that only
	 * passes through the page (a page table on the way to a process's
	 * argument page): nothing fetched, cached or counted; -ENODATA if the
	 * frame lives elsewhere, -EAGAIN if it was moving.
	 */
	int (*peek)(struct vmt_memsrc *src, uint64_t pfn, size_t off, void *buf, size_t len);
	/*
	 * Optional, with streams: a hint of len bytes at guest-physical pa,
	 * within one frame; the source may fetch just those (read_part finds
	 * them) or the frame as stream_add would.
	 */
	void (*stream_bytes)(struct vmt_memsrc *src, uint64_t pa, size_t len);
	/*
	 * Optional: len bytes at pa (within one frame) if the source holds
	 * exactly those bytes from a stream_bytes hint and they are still
	 * current: 0, counted as fetched; else -ENODATA, and the caller reads
	 * the frame.  Asked only while vmt_memsrc.parts_held is set.
	 */
	int (*read_part)(struct vmt_memsrc *src, uint64_t pa, void *buf, size_t len);
	void (*stream_pump)(struct vmt_memsrc *src);
	void (*stream_end)(struct vmt_memsrc *src);
	void (*destroy)(struct vmt_memsrc *src);
};

struct vmt_memsrc {
	const struct vmt_memsrc_ops *ops;
	uint64_t ram_end; /* one past the highest guest-physical RAM byte */
	/*
	 * Pages read_page found absent (file holes), whether it reported them
	 * as zeros or as -ENODATA; the page cache folds this into its stats.
	 */
	uint64_t holes;
	/*
	 * Pages read_page did not read because the page table places them on
	 * a sub-host (-ENODATA); only a split VM's source counts these.
	 */
	uint64_t remote;
	/*
	 * The page cache's statistics (mem/ sets this when it takes the
	 * source), for the counters only a source knows (pages fetched, round
	 * trips, ...).  NULL until then: see vmt_memsrc_stats().
	 */
	struct vmt_mem_stats *stats;
	/*
	 * Probing (the KASLR search): a page that lives elsewhere is -ENODATA,
	 * neither fetched nor counted in remote.  Set only around such reads.
	 */
	bool local_only;
	/*
	 * Some pages cost a round trip (a split VM read with a fetch method):
	 * batches and prefetch hints pay.  Without it, hints are ignored.
	 */
	bool remote_fetch;
	/*
	 * Most pages one prefetch batch may ask for: as many fetch chunks as
	 * the source's cache keeps, so that a hint never evicts what it brought
	 * before it is used (0: prefetch hints are not worth it).
	 */
	uint32_t prefetch_max;
	/* stream_add and company work (methods 1 and 2): hints need not wait. */
	bool streams;
	/* stream_bytes may fetch sub-frame ranges (method 1's exact reads). */
	bool parts;
	/* Such ranges are held or on their way: reads of uncached pages ask read_part first. */
	uint64_t parts_held;
};

/* src->stats, or a scratch block while no page cache owns the source. */
struct vmt_mem_stats *vmt_memsrc_stats(struct vmt_memsrc *src);

/* One contiguous piece of guest RAM inside a RAM file. */
struct vmt_ram_range {
	uint64_t gpa;
	uint64_t len;
	uint64_t file_off;
};

#define VMT_RAM_MAX_RANGES 4

struct vmt_ram_layout {
	unsigned n;
	struct vmt_ram_range r[VMT_RAM_MAX_RANGES];
};

/*
 * QEMU's x86 RAM layout for a RAM block of ram_size bytes: RAM below 4 GiB
 * up to the PCI hole, the rest from 4 GiB.  machine is "pc" or "q35";
 * below_4g, if non-zero, overrides the split (QEMU's max-ram-below-4g).
 */
int vmt_ram_layout_x86(uint64_t ram_size, const char *machine, uint64_t below_4g,
		       struct vmt_ram_layout *out);

/* A QEMU RAM file (memory-backend-file), read with pread only. */
int vmt_memsrc_file_open(const char *path, const struct vmt_ram_layout *layout,
			 struct vmt_memsrc **out);

enum vmt_memsrc_file_flags {
	/*
	 * A hole is a page that lives elsewhere (split VM: on a sub-host), so
	 * read_page reports it as -ENODATA.  Without this flag a hole is a page
	 * the guest never touched and reads as zeros (an unsplit VM).
	 */
	VMT_MEMSRC_HOLE_ENODATA = 1u << 0,
};

/*
 * As vmt_memsrc_file_open, with flags from enum vmt_memsrc_file_flags.
 * path and layout are copied.  Errors: -ENOENT no such file, -EINVAL file
 * shorter than the layout or a bad layout, other -errno from open/fstat;
 * vmt_last_error() names the file.
 */
int vmt_memsrc_file_open_flags(const char *path, const struct vmt_ram_layout *layout,
			       unsigned flags, struct vmt_memsrc **out);

/*
 * A split VM's memory file with its page table (src/pagetable/pagetable.h,
 * opened read-only): a page whose chunk lives on a sub-host reads as
 * -ENODATA (counted in remote), a chunk that is ABSENT reads as zeros
 * without touching the file, a MAIN chunk is pread.  Every read follows the
 * page table's seqlock: a chunk that moved while it was read is read again,
 * at most VMT_SPLIT_READ_TRIES times, then -EAGAIN (never zeros passed off
 * as data).  Errors of the page table: -ENOENT, -EBADMSG (corrupt), -EINVAL
 * (its RAM size differs from the file's).
 */
int vmt_memsrc_split_open(const char *path, const struct vmt_ram_layout *layout,
			  const char *pagetable_path, struct vmt_memsrc **out);

/*
 * How a split source reads pages the page table places on sub-hosts (the
 * fields mirror struct vmt_guest_opts; strings are copied).
 */
struct vmt_memsrc_split_opts {
	int fetch;		    /* enum vmt_fetch_method */
	unsigned fetch_shift;	    /* log2 of the fetch chunk: 12..21 */
	uint64_t fetch_cache_bytes; /* method 1's cache bound */
	const char *psk_file;
	bool insecure;
	const char *pager_sock;
	int timeout_ms;
	bool fetch_whole; /* method 1: no sub-chunk reads of hinted bytes */
};

/*
 * As vmt_memsrc_split_open, and pages on sub-hosts are read with o->fetch
 * (memsrc/fetch.c, memsrc/pagein.c): a whole fetch chunk per request (method
 * 1 without fetch_whole: just the bytes a stream_bytes hint named), then
 * re-checked under the seqlock; an error for a page is the sub-host's or the
 * pager's (-ECONNREFUSED, -ETIMEDOUT, -EACCES wrong key, -EIO ...), never
 * zeros.  Sub-hosts are connected lazily (the first page that needs one).
 */
int vmt_memsrc_split_open_opts(const char *path, const struct vmt_ram_layout *layout,
			       const char *pagetable_path, const struct vmt_memsrc_split_opts *o,
			       struct vmt_memsrc **out);

#define VMT_SPLIT_READ_TRIES 8
/*
 * Method 1 prefetches only if its cache keeps this many fetch chunks
 * (file.c): a batch is never more than the cache holds, and a batch of one
 * chunk per sub-host is no better than reading on demand.
 */
#define VMT_SPLIT_PREFETCH_MIN 4
#define VMT_SPLIT_MOVE_WAIT_MS 2000 /* longest wait for one chunk in motion */

/* One past the highest guest-physical byte of layout (0 if empty). */
uint64_t vmt_ram_layout_end(const struct vmt_ram_layout *layout);

/*
 * Guest RAM held in a caller's buffer (unit tests, dumps): guest-physical
 * address = offset in buf, ram_end = len, a partial last page reads
 * zero-filled.  buf is borrowed and must outlive the source.
 */
int vmt_memsrc_buffer_new(const void *buf, size_t len, struct vmt_memsrc **out);

static inline int vmt_memsrc_read_page(struct vmt_memsrc *src, uint64_t pfn, void *buf)
{
	return src->ops->read_page(src, pfn, buf);
}

/* Batch read (ops->read_pages, or read_page in a loop); contract above. */
int vmt_memsrc_read_pages(struct vmt_memsrc *src, struct vmt_page_req *req, size_t n);
/* A new listing starts: the source may drop what it kept (ops->epoch). */
void vmt_memsrc_epoch(struct vmt_memsrc *src);
/* The listing ends (ops->epoch_end). */
void vmt_memsrc_epoch_end(struct vmt_memsrc *src);

/* Destroy src through its ops; NULL is fine. */
void vmt_memsrc_free(struct vmt_memsrc *src);

#endif

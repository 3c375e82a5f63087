/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * srcmap.h - a RAM file read through a read-only shared mapping without
 * allocating its holes (srcmap.c).  Private to the library and the split.
 *
 * Reading a hole of a tmpfs file through a mapping allocates a page in the
 * file (DESIGN.md), so the mapping is touched only on pages the data map
 * (SEEK_DATA/SEEK_HOLE, taken at srcmap_open and again at srcmap_relist)
 * says hold data; a hole reads as zeros without touching the mapping.
 * Only for a file no one punches holes in while it is read: the split's
 * source after the stop, or a RAM file whose punchers are kept out by
 * flock(2) while it is read (file.c: LOCK_SH per listing, the pager and the
 * split's punches LOCK_EX).
 */
#ifndef VMT_MEMSRC_SRCMAP_H
#define VMT_MEMSRC_SRCMAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The RAM file mapped read-only, and which of its pages hold data (the rest are holes). */
struct srcmap {
	const char *base;
	uint64_t size, nr_pages;
	uint64_t *bits; /* one per page: data */
};

/* Map size bytes of fd and take the data map; 0 or -errno (message set). */
int srcmap_open(int fd, uint64_t size, struct srcmap *m);
/*
 * Map without a data map (every page a hole until srcmap_relist): for a
 * reader that takes the data map only once it holds the file's lock (file.c).
 */
int srcmap_open_unlisted(int fd, uint64_t size, struct srcmap *m);
/* Take the data map again (the file gained data since); on error every page is a hole. */
int srcmap_relist(int fd, struct srcmap *m);
/* Unmap and free; a zeroed srcmap is fine. */
void srcmap_close(struct srcmap *m);
bool srcmap_page_data(const struct srcmap *m, uint64_t page);
/* [off, off + len): in the mapping, or in scratch (holes zeroed), or NULL if all holes. */
const void *srcmap_view(const struct srcmap *m, uint64_t off, size_t len, void *scratch);

#endif

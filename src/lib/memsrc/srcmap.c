// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * srcmap.c - a RAM file read through a read-only shared mapping without
 * allocating its holes: the split's source after the stop (src/split), and
 * the page source of an unsplit VM's RAM file or a saved image (file.c).
 *
 * Reading a hole of a tmpfs file through a mapping allocates a page, so the
 * mapping is only ever touched on pages that hold data: the file's data
 * pages are listed first with SEEK_DATA/SEEK_HOLE (which count swapped-out
 * pages as data, unlike mincore), and a hole page is read as zeros without
 * touching it.  Compared with pread into a buffer, the zero scan and the
 * copy read the guest's bytes where they are: no copy into a buffer (two
 * GiB fewer bytes copied in a 2 GiB split), which matters when the
 * sub-hosts' servers share the main host's CPUs.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "core/internal.h"
#include "memsrc/srcmap.h"

#define PG 4096u

static void bits_set(uint64_t *bits, uint64_t from, uint64_t to)
{
	for (uint64_t p = from; p < to; p++)
		bits[p / 64] |= 1ull << (p % 64);
}

/* Data pages of the file: one bit per page, from SEEK_DATA/SEEK_HOLE (at most one pair per extent).
 */
static int list_data(int fd, struct srcmap *m)
{
	uint64_t off = 0;

	memset(m->bits, 0, (m->nr_pages + 63) / 64 * sizeof(*m->bits));
	while (off < m->size) {
		off_t d = lseek(fd, (off_t)off, SEEK_DATA), h;

		if (d < 0 && errno == ENXIO)
			break;
		if (d >= 0)
			h = lseek(fd, d, SEEK_HOLE);
		if (d < 0 || h < 0)
			return vmt_error(-errno, "SEEK_DATA/SEEK_HOLE in the RAM file: %s",
					 strerror(errno));
		if ((uint64_t)h > m->size)
			h = (off_t)m->size;
		if (h <= d)
			break;
		bits_set(m->bits, (uint64_t)d / PG, ((uint64_t)h + PG - 1) / PG);
		off = (uint64_t)h;
	}
	return 0;
}

int srcmap_open(int fd, uint64_t size, struct srcmap *m)
{
	int r = srcmap_open_unlisted(fd, size, m);

	if (!r && (r = list_data(fd, m)))
		srcmap_close(m);
	return r;
}

int srcmap_open_unlisted(int fd, uint64_t size, struct srcmap *m)
{
	int r = 0;

	memset(m, 0, sizeof(*m));
	m->size = size;
	m->nr_pages = (size + PG - 1) / PG;
	m->bits = calloc((m->nr_pages + 63) / 64, sizeof(*m->bits));
	if (!m->bits)
		return -ENOMEM;
	if (size) {
		void *p = mmap(NULL, size, PROT_READ, MAP_SHARED, fd, 0);

		if (p == MAP_FAILED)
			r = vmt_error(-errno, "cannot map the RAM file: %s", strerror(errno));
		else
			m->base = p;
	}
	if (r)
		srcmap_close(m);
	return r;
}

int srcmap_relist(int fd, struct srcmap *m)
{
	int r = list_data(fd, m);

	if (r) /* half a map is worse than none: holes are never touched */
		memset(m->bits, 0, (m->nr_pages + 63) / 64 * sizeof(*m->bits));
	return r;
}

void srcmap_close(struct srcmap *m)
{
	if (m->base)
		munmap((void *)m->base, m->size);
	free(m->bits);
	memset(m, 0, sizeof(*m));
}

bool srcmap_page_data(const struct srcmap *m, uint64_t page)
{
	return page < m->nr_pages && (m->bits[page / 64] >> (page % 64) & 1);
}

/*
 * The bytes [off, off + len) (off page-aligned): a pointer into the mapping
 * when every page holds data, else scratch (len bytes) with the data pages
 * copied and the holes zeroed; NULL when every page is a hole.
 */
const void *srcmap_view(const struct srcmap *m, uint64_t off, size_t len, void *scratch)
{
	uint64_t first = off / PG, last = (off + len + PG - 1) / PG, data = 0;

	for (uint64_t p = first; p < last; p++)
		data += srcmap_page_data(m, p);
	if (!data)
		return NULL;
	if (data == last - first)
		return m->base + off;
	for (uint64_t p = first; p < last; p++) {
		size_t o = (size_t)((p - first) * PG), n = VMT_MIN((size_t)PG, len - o);

		if (srcmap_page_data(m, p))
			memcpy((char *)scratch + o, m->base + off + o, n);
		else
			memset((char *)scratch + o, 0, n);
	}
	return scratch;
}

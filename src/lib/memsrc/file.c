// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * file.c - a page source over QEMU's RAM file (memory-backend-file on tmpfs).
 *
 * On tmpfs a read fault through a shared mapping of a hole allocates a page
 * in the file, and a split VM would then see zeros instead of faulting to
 * its sub-host (DESIGN.md).  So a split VM's file is read with pread(2)
 * only, which copies zeros for a hole and allocates nothing.  A file opened
 * without its page table (an unsplit VM's, a saved image, or any RAM file
 * named by path) is read through a read-only mapping guarded by two things
 * (memsrc/README.md): a shared flock(2) held from a listing's begin to its
 * end, which keeps out whoever punches holes in the file (a split VM's
 * pager, the split freeing its source: they hold LOCK_EX while they may
 * punch), and its data map (srcmap.c), taken under that lock when the
 * listing begins.  A page that held data then is copied out of the
 * mapping; a hole then is read with pread, never through the mapping (it
 * sees a page the guest wrote since, and allocates nothing).  A listing
 * that cannot take the lock at once, and every read outside a listing,
 * uses pread only.  Against pread, a page costs no system call: 9,127 of
 * them in a 1,000-process shadow /proc, 12 ms of a 49 ms rebuild
 * (bench/results/procfs.md).
 *
 * With pread, holes are found without extra syscalls for ordinary pages:
 * only a page that reads as all zeros is asked about with lseek(SEEK_DATA),
 * which on tmpfs answers per page from the page cache and swap.
 *
 * A split VM's file comes with its page table (vmt_memsrc_split_open): then
 * the page table, not the file, says where a page is, and every read
 * follows its seqlock so that a chunk paged out (hole punched) or in while
 * it was read is read again (split.c; pages on sub-hosts: fetch.c, pagein.c).
 */
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/internal.h"
#include "memsrc/split.h"

bool file_offset_of(const struct memsrc_file *f, uint64_t pfn, uint64_t *off)
{
	uint64_t gpa = pfn << VMT_PAGE_SHIFT;
	unsigned i;

	if (pfn > (UINT64_MAX >> VMT_PAGE_SHIFT))
		return false;
	for (i = 0; i < f->layout.n; i++) {
		const struct vmt_ram_range *r = &f->layout.r[i];

		if (gpa >= r->gpa && gpa - r->gpa < r->len) {
			*off = r->file_off + (gpa - r->gpa);
			return true;
		}
	}
	return false;
}

static bool page_is_zero(const void *page)
{
	const uint64_t *w = page;
	size_t i;

	for (i = 0; i < VMT_PAGE_SIZE / sizeof(*w); i++)
		if (w[i])
			return false;
	return true;
}

/* A zero page may be a hole or a written page of zeros: ask the file system. */
static bool file_is_hole(const struct memsrc_file *f, uint64_t off)
{
	off_t data = lseek(f->fd, (off_t)off, SEEK_DATA);

	/* ENXIO: no data at or after off.  Other errors: assume data. */
	if (data < 0)
		return errno == ENXIO;
	return (uint64_t)data != off;
}

int file_pread_page(const struct memsrc_file *f, uint64_t off, void *page)
{
	size_t done = 0;
	ssize_t n;

	while (done < VMT_PAGE_SIZE) {
		n = pread(f->fd, (uint8_t *)page + done, VMT_PAGE_SIZE - done, (off_t)(off + done));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return vmt_error(-errno, "reading memory file %s at %#llx: %s", f->path,
					 (unsigned long long)off, strerror(errno));
		if (n == 0)
			return vmt_error(-EIO, "memory file %s shrank below offset %#llx", f->path,
					 (unsigned long long)off);
		done += (size_t)n;
	}
	return 0;
}

/* One page of an unsplit VM's file: a hole is zeros (or -ENODATA by flag). */
static int file_read_plain(struct memsrc_file *f, uint64_t off, void *page)
{
	int err = file_pread_page(f, off, page);

	if (err)
		return err;
	if (!page_is_zero(page))
		return 0;
	/*
	 * Zeros with data behind them: a page of zeros, or a hole that was
	 * filled (paged in) between the read and the check.  Read it again so
	 * a page-in is never handed out as zeros.
	 */
	if (!file_is_hole(f, off))
		return file_pread_page(f, off, page);
	f->base.holes++;
	return (f->flags & VMT_MEMSRC_HOLE_ENODATA) ? -ENODATA : 0;
}

/*
 * One page of a file read through its mapping: data at the listing's begin
 * is copied out of it; a hole then is read with pread, which never
 * allocates it and sees a page the guest has written since (a forking
 * guest links new tasks on such pages while the listing walks).
 */
static int file_read_mapped(struct memsrc_file *f, uint64_t off, void *page)
{
	if (srcmap_page_data(&f->map, off >> VMT_PAGE_SHIFT)) {
		memcpy(page, f->map.base + off, VMT_PAGE_SIZE);
		return 0;
	}
	return file_read_plain(f, off, page);
}

static int file_read_page(struct vmt_memsrc *src, uint64_t pfn, void *page)
{
	struct memsrc_file *f = (struct memsrc_file *)src;
	uint64_t off;

	if (!file_offset_of(f, pfn, &off))
		return -EFAULT;
	if (f->map_locked)
		return file_read_mapped(f, off, page);
	if (f->pt.hdr) {
		struct vmt_page_req r = {.pfn = pfn, .buf = page};

		return split_read_pages(f, &r, 1);
	}
	return file_read_plain(f, off, page);
}

static int file_read_pages(struct vmt_memsrc *src, struct vmt_page_req *req, size_t n)
{
	struct memsrc_file *f = (struct memsrc_file *)src;
	int first = 0;

	if (f->pt.hdr)
		return split_read_pages(f, req, n);
	for (size_t i = 0; i < n; i++) {
		req[i].err = file_read_page(src, req[i].pfn, req[i].buf);
		if (req[i].err && !first)
			first = req[i].err;
	}
	return first;
}

/* pread what the file holds of [off, off + len); a short file reads as zeros. */
static int file_pread_all(const struct memsrc_file *f, uint64_t off, uint8_t *buf, size_t len)
{
	while (len) {
		ssize_t n = pread(f->fd, buf, len, (off_t)off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return vmt_error(-errno, "reading memory file %s at %#llx: %s", f->path,
					 (unsigned long long)off, strerror(errno));
		if (n == 0) {
			memset(buf, 0, len);
			return 0;
		}
		buf += n;
		off += (uint64_t)n;
		len -= (size_t)n;
	}
	return 0;
}

/*
 * Raw bytes for the kernel finder: pread only, so a hole (a page that lives
 * on a sub-host, or one the guest never touched) reads as zeros and is
 * neither faulted in nor fetched.  The page table is not consulted.
 */
static int file_scan(struct vmt_memsrc *src, uint64_t pa, void *buf, size_t len)
{
	struct memsrc_file *f = (struct memsrc_file *)src;
	uint8_t *out = buf;

	if (pa > src->ram_end || len > src->ram_end - pa)
		return -EFAULT;
	memset(out, 0, len);
	for (unsigned i = 0; i < f->layout.n; i++) {
		const struct vmt_ram_range *r = &f->layout.r[i];
		uint64_t lo = VMT_MAX(pa, r->gpa), hi = VMT_MIN(pa + len, r->gpa + r->len);
		int err;

		if (lo >= hi)
			continue;
		err = file_pread_all(f, r->file_off + (lo - r->gpa), out + (lo - pa),
				     (size_t)(hi - lo));
		if (err)
			return err;
	}
	return 0;
}

/* The file is shorter than its mapping (cut by hand): reading past its end would be SIGBUS. */
static bool map_cut(const struct memsrc_file *f)
{
	struct stat st;

	return fstat(f->fd, &st) || (uint64_t)st.st_size < f->map.size;
}

/* The listing's shared lock goes: a puncher may take the file again. */
static void map_unlock(struct memsrc_file *f)
{
	if (f->map_locked)
		flock(f->fd, LOCK_UN);
	f->map_locked = false;
}

/*
 * A listing begins: the mapping is read in it only under a shared lock on
 * the file, taken without waiting (a puncher holds it exclusively: this
 * listing reads with pread), and with the data map taken under the lock,
 * so that no page it calls data can be punched before the listing ends.
 */
static void map_lock(struct memsrc_file *f)
{
	if (map_cut(f)) {
		srcmap_close(&f->map); /* pread from now on */
		return;
	}
	if (flock(f->fd, LOCK_SH | LOCK_NB))
		return;
	f->map_locked = true;
	if (srcmap_relist(f->fd, &f->map)) {
		map_unlock(f);
		srcmap_close(&f->map);
		vmt_error_clear();
	}
}

static void file_epoch(struct vmt_memsrc *src)
{
	struct memsrc_file *f = (struct memsrc_file *)src;

	if (f->pt.hdr)
		split_epoch(f);
	if (f->map_fresh && f->map_locked) {
		f->map_fresh = false; /* locked and listed at open, held since: still true */
		return;
	}
	f->map_fresh = false;
	map_unlock(f); /* the last listing was not ended */
	if (f->map.base)
		map_lock(f);
}

static void file_epoch_end(struct vmt_memsrc *src)
{
	struct memsrc_file *f = (struct memsrc_file *)src;

	f->map_fresh = false;
	map_unlock(f);
	if (f->split && f->split->fetch == VMT_FETCH_RUNTIME)
		fetch_stream_end(f); /* its thread and the handles do not outlive the listing */
	else if (f->split && f->split->fetch == VMT_FETCH_VM)
		pagein_stream_end(f); /* the pager forgets the hints the listing did not need */
}

static void file_destroy(struct vmt_memsrc *src)
{
	struct memsrc_file *f = (struct memsrc_file *)src;

	map_unlock(f);
	split_ctx_free(f->split);
	vmt_pt_close(&f->pt);
	srcmap_close(&f->map);
	close(f->fd);
	free(f->path);
	free(f);
}

/* The prefetch stream, by file offset: method 1's (fetch.c) or method 2's (pagein.c). */
static void file_stream_add(struct vmt_memsrc *src, const uint64_t *pfns, size_t n)
{
	struct memsrc_file *f = (struct memsrc_file *)src;
	uint64_t off[64];
	size_t k;

	for (size_t i = 0; i < n;) {
		for (k = 0; i < n && k < ARRAY_SIZE(off); i++)
			k += file_offset_of(f, pfns[i], &off[k]);
		if (f->split->fetch == VMT_FETCH_VM)
			pagein_stream_add(f, off, k);
		else
			fetch_stream_add(f, off, k);
	}
}

/* Method 1's exact reads (base.parts is set only for it): a part of the frame at pa. */
static void file_stream_bytes(struct vmt_memsrc *src, uint64_t pa, size_t len)
{
	struct memsrc_file *f = (struct memsrc_file *)src;
	uint64_t off;

	if (file_offset_of(f, pa >> VMT_PAGE_SHIFT, &off))
		fetch_stream_add_bytes(f, off + (pa & (VMT_PAGE_SIZE - 1)), len);
}

static int file_read_part(struct vmt_memsrc *src, uint64_t pa, void *buf, size_t len)
{
	struct memsrc_file *f = (struct memsrc_file *)src;
	uint64_t off;

	if (!f->split || !file_offset_of(f, pa >> VMT_PAGE_SHIFT, &off))
		return -ENODATA;
	return split_read_part(f, off + (pa & (VMT_PAGE_SIZE - 1)), buf, len);
}

static int file_peek(struct vmt_memsrc *src, uint64_t pfn, size_t off, void *buf, size_t len)
{
	struct memsrc_file *f = (struct memsrc_file *)src;
	uint64_t foff;

	if (!f->pt.hdr)
		return -EOPNOTSUPP;
	if (!file_offset_of(f, pfn, &foff))
		return -EFAULT;
	return split_peek(f, foff + off, buf, len);
}

static void file_stream_pump(struct vmt_memsrc *src)
{
	struct memsrc_file *f = (struct memsrc_file *)src;

	if (f->split->fetch == VMT_FETCH_VM)
		pagein_stream_pump(f);
	else
		fetch_stream_pump(f);
}

static void file_stream_end(struct vmt_memsrc *src)
{
	struct memsrc_file *f = (struct memsrc_file *)src;

	if (f->split->fetch == VMT_FETCH_VM)
		pagein_stream_pump(f); /* the pager brings them; the reads wait for them */
	else
		fetch_stream_end(f);
}

static const struct vmt_memsrc_ops file_ops = {
    .name = "file",
    .read_page = file_read_page,
    .read_pages = file_read_pages,
    .scan = file_scan,
    .epoch = file_epoch,
    .epoch_end = file_epoch_end,
    .stream_add = file_stream_add,
    .stream_bytes = file_stream_bytes,
    .read_part = file_read_part,
    .peek = file_peek,
    .stream_pump = file_stream_pump,
    .stream_end = file_stream_end,
    .destroy = file_destroy,
};

/* Page-aligned, non-overflowing ranges; *file_end = bytes the file must hold. */
static int layout_check(const struct vmt_ram_layout *layout, uint64_t *file_end)
{
	uint64_t end;
	unsigned i;

	*file_end = 0;
	if (!layout->n || layout->n > VMT_RAM_MAX_RANGES)
		return vmt_error(-EINVAL, "RAM layout has %u ranges", layout->n);
	for (i = 0; i < layout->n; i++) {
		const struct vmt_ram_range *r = &layout->r[i];

		if ((r->gpa | r->len | r->file_off) & (VMT_PAGE_SIZE - 1) || !r->len ||
		    !vmt_add_ok(r->gpa, r->len, &end) || !vmt_add_ok(r->file_off, r->len, &end))
			return vmt_error(-EINVAL, "bad RAM range %u: gpa %#llx len %#llx", i,
					 (unsigned long long)r->gpa, (unsigned long long)r->len);
		*file_end = VMT_MAX(*file_end, end);
	}
	return 0;
}

static int file_open_checked(const char *path, uint64_t need, int *fd_out)
{
	struct stat st;
	int fd, err;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 && errno == ENOENT)
		return vmt_error(-ENOENT, "no such memory file: %s", path);
	if (fd < 0)
		return vmt_error(-errno, "cannot open memory file %s: %s", path, strerror(errno));
	if (fstat(fd, &st) < 0) {
		err = vmt_error(-errno, "cannot stat memory file %s: %s", path, strerror(errno));
		goto err_close;
	}
	if (!S_ISREG(st.st_mode)) {
		err = vmt_error(-EINVAL, "memory file %s is not a regular file", path);
		goto err_close;
	}
	if ((uint64_t)st.st_size < need) {
		err = vmt_error(-EINVAL, "memory file %s is %llu bytes, the RAM layout needs %llu",
				path, (unsigned long long)st.st_size, (unsigned long long)need);
		goto err_close;
	}
	*fd_out = fd;
	return 0;
err_close:
	close(fd);
	return err;
}

int vmt_memsrc_file_open_flags(const char *path, const struct vmt_ram_layout *layout,
			       unsigned flags, struct vmt_memsrc **out)
{
	struct memsrc_file *f;
	uint64_t need;
	int err;

	*out = NULL;
	err = layout_check(layout, &need);
	if (err)
		return err;
	f = calloc(1, sizeof(*f));
	if (!f)
		return -ENOMEM;
	f->path = strdup(path);
	if (!f->path) {
		err = -ENOMEM;
		goto err_free;
	}
	err = file_open_checked(path, need, &f->fd);
	if (err)
		goto err_free;
	f->base.ops = &file_ops;
	f->base.ram_end = vmt_ram_layout_end(layout);
	f->flags = flags;
	f->layout = *layout;
	/*
	 * No page table (HOLE_ENODATA marks a split VM's file): the mapping, or
	 * pread if it fails.  Opening is a listing too (the kernel is found and
	 * read): locked and listed now, held until the first listing ends.
	 */
	if (!(flags & VMT_MEMSRC_HOLE_ENODATA) && srcmap_open_unlisted(f->fd, need, &f->map))
		vmt_error_clear();
	if (f->map.base)
		map_lock(f);
	f->map_fresh = f->map_locked;
	*out = &f->base;
	return 0;
err_free:
	free(f->path);
	free(f);
	return err;
}

int vmt_memsrc_file_open(const char *path, const struct vmt_ram_layout *layout,
			 struct vmt_memsrc **out)
{
	return vmt_memsrc_file_open_flags(path, layout, 0, out);
}

int vmt_memsrc_split_open(const char *path, const struct vmt_ram_layout *layout,
			  const char *pagetable_path, struct vmt_memsrc **out)
{
	struct vmt_memsrc_split_opts o = {.fetch = VMT_FETCH_NONE};

	return vmt_memsrc_split_open_opts(path, layout, pagetable_path, &o, out);
}

/*
 * Method 1: a prefetch batch asks for up to this many pages, each costing a
 * whole fetch chunk.  Measured on a split 200-process guest: worth it only
 * while the cache keeps a full batch's chunks (at 4K chunks 820 round trips
 * became 45); with bigger chunks a batch evicts the chunks that later reads
 * would have hit, and the listing fetched 2-3 times the bytes, slower.
 */
static uint32_t split_prefetch_max(uint64_t bound, unsigned fetch_shift)
{
	uint64_t chunks = bound >> fetch_shift;

	return chunks >= VMT_SPLIT_PREFETCH_MIN ? (uint32_t)VMT_MIN(chunks, UINT32_MAX) : 0;
}

int vmt_memsrc_split_open_opts(const char *path, const struct vmt_ram_layout *layout,
			       const char *pagetable_path, const struct vmt_memsrc_split_opts *o,
			       struct vmt_memsrc **out)
{
	struct memsrc_file *f;
	struct stat st;
	int err = vmt_memsrc_file_open_flags(path, layout, VMT_MEMSRC_HOLE_ENODATA, out);

	if (err)
		return err;
	f = (struct memsrc_file *)*out;
	err = vmt_pt_open(pagetable_path, false, &f->pt);
	if (err) {
		err = vmt_error(err, "page table %s: %s", pagetable_path,
				err == -EBADMSG ? "corrupt or not a VMemTrans page table"
						: strerror(-err));
		goto err_free;
	}
	if (fstat(f->fd, &st) < 0 || (uint64_t)st.st_size != f->pt.hdr->ram_size) {
		err = vmt_error(-EINVAL, "page table %s is for %llu bytes of RAM, %s has %llu",
				pagetable_path, (unsigned long long)f->pt.hdr->ram_size, path,
				(unsigned long long)st.st_size);
		goto err_free;
	}
	err = split_ctx_new(o, &f->split);
	if (err)
		goto err_free;
	f->base.remote_fetch = o->fetch != VMT_FETCH_NONE;
	if (o->fetch == VMT_FETCH_VM && f->pt.hdr->cap_chunks)
		/* What the pager pages in may push out what it paged in before: a quarter of the
		 * cap. */
		f->base.prefetch_max = split_prefetch_max(
		    (f->pt.hdr->cap_chunks << f->pt.hdr->chunk_shift) / 4, o->fetch_shift);
	else if (o->fetch == VMT_FETCH_VM)
		f->base.prefetch_max = UINT32_MAX; /* paged in: it stays in the memory file */
	else if (o->fetch == VMT_FETCH_RUNTIME)
		f->base.prefetch_max = split_prefetch_max(f->split->cache.bound, o->fetch_shift);
	/*
	 * Method 2 streams only while a hint brings no more than the page
	 * table's chunk holding the page: past that, the page-ins of the
	 * walk's neighbours push out the page tables its hints went through,
	 * and the real reads page those in one round trip each (ps of 1,000
	 * processes at 64K: 92 round trips instead of 4, 500 ms; at 1M: 846
	 * instead of 511 ms; at 16K a draw, 150-156 ms).
	 */
	f->base.streams = f->base.prefetch_max > 0 &&
			  (o->fetch == VMT_FETCH_RUNTIME ||
			   (o->fetch == VMT_FETCH_VM && o->fetch_shift <= f->pt.hdr->chunk_shift));
	/* Exact reads: the hinted bytes alone, 50-200 of a page for a process's arguments. */
	f->base.parts = f->base.streams && o->fetch == VMT_FETCH_RUNTIME && !o->fetch_whole;
	if (o->fetch == VMT_FETCH_RUNTIME)
		fetch_open_hosts(f);
	return 0;
err_free:
	vmt_memsrc_free(*out);
	*out = NULL;
	return err;
}

// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * pagetable.c - create, open and update a split VM's page table (the
 * protocol is in pagetable.h).  Self-contained: the pager links it inside
 * QEMU, so it uses nothing of libvmemtrans and reports only -errno.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "pagetable/pagetable.h"

int vmt_pt_chunk_shift_of(uint64_t bytes)
{
	if (!bytes || (bytes & (bytes - 1)))
		return -EINVAL;
	int shift = __builtin_ctzll(bytes);

	return vmt_pt_chunk_shift_ok((unsigned)shift) ? shift : -EINVAL;
}

uint64_t vmt_pt_chunk_len(const struct vmt_pt *pt, uint64_t i)
{
	uint64_t size = 1ull << pt->hdr->chunk_shift, start = i << pt->hdr->chunk_shift;

	if (i >= pt->hdr->nr_chunks)
		return 0;
	return pt->hdr->ram_size - start < size ? pt->hdr->ram_size - start : size;
}

int vmt_pt_parse_size(const char *s, uint64_t *out)
{
	unsigned long long v;
	unsigned shift = 0;
	char *end;

	/* A digit first: strtoull would take leading blanks and a sign (" -1" wraps). */
	if (!s || *s < '0' || *s > '9')
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || end == s)
		return -EINVAL;
	switch (*end) {
	case 'k':
	case 'K':
		shift = 10;
		end++;
		break;
	case 'm':
	case 'M':
		shift = 20;
		end++;
		break;
	case 'g':
	case 'G':
		shift = 30;
		end++;
		break;
	case 't':
	case 'T':
		shift = 40;
		end++;
		break;
	default:
		break;
	}
	if (*end == 'i' && shift)
		end++;
	if ((*end == 'B' || *end == 'b') && end[1] == '\0')
		end++;
	if (*end || (shift && v > (UINT64_MAX >> shift)))
		return -EINVAL;
	*out = (uint64_t)v << shift;
	return 0;
}

/* ------------------------------------------------------- open and create */

static size_t pt_file_size(uint64_t nr_chunks)
{
	return VMT_PT_HEADER_SIZE + (size_t)nr_chunks * sizeof(uint64_t);
}

static int pt_map(int fd, bool writable, size_t len, struct vmt_pt *out)
{
	void *p = mmap(NULL, len, PROT_READ | (writable ? PROT_WRITE : 0), MAP_SHARED, fd, 0);

	if (p == MAP_FAILED)
		return -errno;
	out->hdr = p;
	out->entry = (_Atomic uint64_t *)((char *)p + VMT_PT_HEADER_SIZE);
	out->map_len = len;
	out->fd = fd;
	out->writable = writable;
	return 0;
}

static int pt_geometry_ok(uint64_t ram_size, unsigned shift, unsigned nr_hosts)
{
	if (!ram_size || !vmt_pt_chunk_shift_ok(shift) || nr_hosts > VMT_PT_MAX_HOSTS)
		return -EINVAL;
	/* The entries must fit in memory: 2^40 bytes of RAM in 4 KiB chunks is 2 GiB of table. */
	if (vmt_pt_nr_chunks(ram_size, shift) > ((SIZE_MAX - VMT_PT_HEADER_SIZE) / 8) ||
	    vmt_pt_nr_chunks(ram_size, shift) > (1ull << 32))
		return -EINVAL;
	return 0;
}

int vmt_pt_create(const char *path, const struct vmt_pt_create_opts *o, struct vmt_pt *out)
{
	uint64_t nr = vmt_pt_nr_chunks(o->ram_size, o->chunk_shift);
	struct vmt_pt_header *h;
	int fd, err = pt_geometry_ok(o->ram_size, o->chunk_shift, o->nr_hosts);

	memset(out, 0, sizeof(*out));
	out->fd = -1;
	if (err)
		return err;
	fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	if (ftruncate(fd, (off_t)pt_file_size(nr)) < 0 ||
	    (err = pt_map(fd, true, pt_file_size(nr), out))) {
		err = err ? err : -errno;
		close(fd);
		unlink(path);
		return err;
	}
	h = out->hdr;
	h->version = VMT_PT_VERSION;
	h->header_size = VMT_PT_HEADER_SIZE;
	h->ram_size = o->ram_size;
	h->chunk_shift = o->chunk_shift;
	h->nr_hosts = o->nr_hosts;
	h->nr_chunks = nr;
	h->cap_chunks = o->cap_chunks;
	atomic_store(&h->absent_chunks, nr);
	for (unsigned k = 0; k < o->nr_hosts; k++) {
		memcpy(h->hosts[k].addr, o->hosts[k].addr, sizeof(h->hosts[k].addr));
		memcpy(h->hosts[k].export, o->hosts[k].export, sizeof(h->hosts[k].export));
		memcpy(h->hosts[k].name, o->hosts[k].name, sizeof(h->hosts[k].name));
		h->hosts[k].addr[VMT_PT_ADDR_MAX - 1] = '\0';
		h->hosts[k].export[VMT_PT_NAME_MAX - 1] = '\0';
		h->hosts[k].name[VMT_PT_NAME_MAX - 1] = '\0';
		h->hosts[k].quota_chunks = o->hosts[k].quota_chunks;
	}
	/* The magic last: a reader never takes a half-written header for a table. */
	atomic_thread_fence(memory_order_release);
	memcpy(h->magic, VMT_PT_MAGIC, sizeof(h->magic));
	return 0;
}

static int pt_header_ok(const struct vmt_pt_header *h, off_t file_size)
{
	if (memcmp(h->magic, VMT_PT_MAGIC, sizeof(h->magic)) || h->version != VMT_PT_VERSION ||
	    h->header_size != VMT_PT_HEADER_SIZE)
		return -EBADMSG;
	if (pt_geometry_ok(h->ram_size, h->chunk_shift, h->nr_hosts) ||
	    h->nr_chunks != vmt_pt_nr_chunks(h->ram_size, h->chunk_shift))
		return -EBADMSG;
	if ((uint64_t)file_size < pt_file_size(h->nr_chunks))
		return -EBADMSG;
	return 0;
}

int vmt_pt_open(const char *path, bool writable, struct vmt_pt *out)
{
	struct vmt_pt_header hdr;
	struct stat st;
	int fd, err;

	memset(out, 0, sizeof(*out));
	out->fd = -1;
	fd = open(path, (writable ? O_RDWR : O_RDONLY) | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0) {
		err = -errno;
		goto fail;
	}
	if (st.st_size < (off_t)VMT_PT_HEADER_SIZE ||
	    pread(fd, &hdr, sizeof(hdr), 0) != (ssize_t)sizeof(hdr)) {
		err = -EBADMSG;
		goto fail;
	}
	err = pt_header_ok(&hdr, st.st_size);
	if (!err)
		err = pt_map(fd, writable, pt_file_size(hdr.nr_chunks), out);
	/* The header is trusted from the mapping only if it says what pread saw. */
	if (!err && memcmp(&hdr, out->hdr, offsetof(struct vmt_pt_header, main_chunks))) {
		munmap(out->hdr, out->map_len);
		err = -EBADMSG;
	}
	if (!err)
		return 0;
fail:
	close(fd);
	memset(out, 0, sizeof(*out));
	out->fd = -1;
	return err;
}

void vmt_pt_close(struct vmt_pt *pt)
{
	if (pt->hdr)
		munmap(pt->hdr, pt->map_len);
	if (pt->hdr && pt->fd >= 0)
		close(pt->fd);
	memset(pt, 0, sizeof(*pt));
	pt->fd = -1;
}

/* ------------------------------------------------------------- readers */

static void pt_backoff(unsigned spin)
{
	struct timespec ts = {0, 50000}; /* 50 us */

	if (spin < 64)
		sched_yield();
	else
		nanosleep(&ts, NULL);
}

static int64_t pt_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int vmt_pt_read_begin(const struct vmt_pt *pt, uint64_t i, int timeout_ms, uint64_t *entry)
{
	int64_t deadline = 0;

	if (i >= pt->hdr->nr_chunks)
		return -ERANGE;
	for (unsigned spin = 0;; spin++) {
		uint64_t e = vmt_pt_load(pt, i);

		if (!vmt_pt_e_moving(e)) {
			*entry = e;
			return 0;
		}
		/* Read the clock only once the chunk was seen moving for a while. */
		if (spin == 64)
			deadline = pt_now_ms() + timeout_ms;
		else if (spin > 64 && pt_now_ms() >= deadline)
			return -EAGAIN;
		pt_backoff(spin);
	}
}

/* ------------------------------------------------------------- writer */

static _Atomic uint64_t *pt_counter(struct vmt_pt *pt, unsigned loc)
{
	int k = vmt_pt_loc_host(loc);

	if (loc == VMT_PT_MAIN)
		return &pt->hdr->main_chunks;
	if (loc == VMT_PT_ABSENT)
		return &pt->hdr->absent_chunks;
	return k >= 0 && (unsigned)k < pt->hdr->nr_hosts ? &pt->hdr->hosts[k].chunks : NULL;
}

static bool pt_loc_ok(const struct vmt_pt *pt, unsigned loc, int copy)
{
	int k = vmt_pt_loc_host(loc);

	if (copy >= 0 && (loc != VMT_PT_MAIN || (unsigned)copy >= pt->hdr->nr_hosts))
		return false;
	return loc == VMT_PT_ABSENT || loc == VMT_PT_MAIN ||
	       (k >= 0 && (unsigned)k < pt->hdr->nr_hosts);
}

/* Move the header's counters from entry old to entry new. */
static void pt_account(struct vmt_pt *pt, uint64_t old, uint64_t new)
{
	_Atomic uint64_t *from = pt_counter(pt, vmt_pt_e_loc(old));
	_Atomic uint64_t *to = pt_counter(pt, vmt_pt_e_loc(new));
	int oc = vmt_pt_e_copy(old), nc = vmt_pt_e_copy(new);

	if (from != to) {
		if (from)
			atomic_fetch_sub(from, 1);
		if (to)
			atomic_fetch_add(to, 1);
	}
	if (oc != nc && oc >= 0)
		atomic_fetch_sub(&pt->hdr->hosts[oc].copies, 1);
	if (oc != nc && nc >= 0)
		atomic_fetch_add(&pt->hdr->hosts[nc].copies, 1);
}

/* A new entry; the flags (pinned) of the old one carry over. */
static uint64_t pt_entry(uint64_t old, uint64_t seq, unsigned loc, int copy)
{
	return (seq << VMT_PT_SEQ_SHIFT) | (old & VMT_PT_FLAGS_MASK) |
	       ((uint64_t)(copy + 1) << VMT_PT_COPY_SHIFT) | loc;
}

int vmt_pt_move_begin(struct vmt_pt *pt, uint64_t i, uint64_t *old)
{
	uint64_t e;

	if (!pt->writable || i >= pt->hdr->nr_chunks)
		return -ERANGE;
	e = vmt_pt_load(pt, i);
	if (vmt_pt_e_moving(e))
		return -EBUSY;
	*old = e;
	/* The odd sequence must be visible before any byte of the chunk changes:
	 * a store, even seq_cst, does not order the stores after it; the fence does. */
	atomic_store_explicit(&pt->entry[i], e + VMT_PT_SEQ_ONE, memory_order_seq_cst);
	atomic_thread_fence(memory_order_release);
	return 0;
}

int vmt_pt_move_end(struct vmt_pt *pt, uint64_t i, unsigned loc, int copy)
{
	uint64_t e, n;

	if (!pt->writable || i >= pt->hdr->nr_chunks || !pt_loc_ok(pt, loc, copy))
		return -ERANGE;
	e = vmt_pt_load(pt, i);
	if (!vmt_pt_e_moving(e))
		return -EINVAL;
	n = pt_entry(e, vmt_pt_e_seq(e) + 1, loc, copy);
	pt_account(pt, e, n);
	atomic_store_explicit(&pt->entry[i], n, memory_order_release);
	atomic_fetch_add(&pt->hdr->generation, 1);
	return 0;
}

int vmt_pt_set(struct vmt_pt *pt, uint64_t i, unsigned loc, int copy)
{
	uint64_t e, n;

	if (!pt->writable || i >= pt->hdr->nr_chunks || !pt_loc_ok(pt, loc, copy))
		return -ERANGE;
	e = vmt_pt_load(pt, i);
	if (vmt_pt_e_moving(e))
		return -EBUSY;
	n = pt_entry(e, vmt_pt_e_seq(e) + 2, loc, copy);
	pt_account(pt, e, n);
	atomic_store_explicit(&pt->entry[i], n, memory_order_release);
	atomic_fetch_add(&pt->hdr->generation, 1);
	return 0;
}

int vmt_pt_pin(struct vmt_pt *pt, uint64_t i)
{
	if (!pt->writable || i >= pt->hdr->nr_chunks)
		return -ERANGE;
	atomic_fetch_or_explicit(&pt->entry[i], VMT_PT_F_PINNED, memory_order_release);
	return 0;
}

int vmt_pt_drop_copy(struct vmt_pt *pt, uint64_t i)
{
	uint64_t e, n;

	if (!pt->writable || i >= pt->hdr->nr_chunks)
		return -ERANGE;
	e = vmt_pt_load(pt, i);
	if (vmt_pt_e_copy(e) < 0)
		return 0;
	n = e & ~VMT_PT_COPY_MASK;
	pt_account(pt, e, n);
	atomic_store_explicit(&pt->entry[i], n, memory_order_release);
	return 0;
}

void vmt_pt_census(const struct vmt_pt *pt, struct vmt_pt_census *c)
{
	memset(c, 0, sizeof(*c));
	for (uint64_t i = 0; i < pt->hdr->nr_chunks; i++) {
		uint64_t e = vmt_pt_load(pt, i);
		unsigned loc = vmt_pt_e_loc(e);
		int k = vmt_pt_loc_host(loc), cp = vmt_pt_e_copy(e);

		if (vmt_pt_e_moving(e))
			c->moving++;
		if (vmt_pt_e_pinned(e))
			c->pinned++;
		if (loc == VMT_PT_ABSENT)
			c->absent++;
		else if (loc == VMT_PT_MAIN)
			c->main++;
		else if (k >= 0)
			c->sub[k]++;
		if (cp >= 0 && cp < VMT_PT_MAX_HOSTS)
			c->copies[cp]++;
	}
}

int vmt_ramfile_punch_lock(int fd, unsigned wait_ms)
{
	struct timespec ts = {0, 10 * 1000 * 1000};

	for (unsigned waited = 0;; waited += 10) {
		if (!flock(fd, LOCK_EX | LOCK_NB))
			return 0;
		if (errno != EWOULDBLOCK && errno != EINTR)
			return -errno;
		if (waited >= wait_ms)
			return -EWOULDBLOCK;
		nanosleep(&ts, NULL);
	}
}

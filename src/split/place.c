// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * place.c - which host keeps each chunk of guest RAM (README.md, "Placement").
 *
 * The RAM file is read through srcmap.c, which never touches a hole (reading
 * a hole through a mapping would allocate it on tmpfs).  Zero chunks go
 * nowhere (ABSENT).  The core (kernel image and kernel page tables) stays on
 * the main host; the rest follows the policy, and what does not fit the
 * main-host budget is dealt to the sub-hosts in 2 MiB stripes, in turn,
 * balanced by bytes (spread()).
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include "core/internal.h"
#include "pagetable/pagetable.h"
#include "split/split_priv.h"

bool buf_is_zero(const void *buf, size_t len)
{
	const uint64_t *w = buf;

	/* len is a multiple of 8 for every caller (pages and chunks). */
	for (size_t i = 0; i < len / 8; i += 8) {
		uint64_t acc = 0;

		for (size_t j = i; j < i + 8 && j < len / 8; j++)
			acc |= w[j];
		if (acc)
			return false;
	}
	return true;
}

/* Key of the chunk hash: per process, so a guest cannot craft collisions it can rely on. */
static uint64_t hash_key(void)
{
	static uint64_t key;

	if (!key && getrandom(&key, sizeof(key), 0) != sizeof(key))
		key = (uint64_t)getpid() * 0x9e3779b97f4a7c15ull;
	return key | 1;
}

uint64_t place_chunk_hash(const void *buf, size_t len)
{
	const uint64_t *w = buf;
	uint64_t h = hash_key();

	if (buf_is_zero(buf, len))
		return 0;
	for (size_t i = 0; i < len / 8; i++)
		h = (h ^ w[i]) * 0x100000001b3ull + (h >> 29);
	return h | 1; /* 0 means zeros (or a hole) */
}

/*
 * Visit the data of the file chunk by chunk: fn gets chunk index and bytes
 * (in the mapping, or a copy with the holes zeroed when the chunk is part
 * hole); chunks that are wholly holes are skipped.
 */
static int scan_data(int fd, const struct place *p,
		     void (*fn)(const struct place *p, uint64_t i, const void *buf, size_t len,
				void *arg),
		     void *arg)
{
	uint64_t csz = 1ull << p->shift;
	char *scratch = aligned_alloc(4096, csz);
	struct srcmap m;
	int r = scratch ? srcmap_open(fd, p->ram_size, &m) : -ENOMEM;

	for (uint64_t i = 0; !r && i < p->nr_chunks; i++) {
		uint64_t off = i << p->shift;
		size_t len = (size_t)VMT_MIN(csz, p->ram_size - off);
		const void *buf = srcmap_view(&m, off, len, scratch);

		if (buf)
			fn(p, i, buf, len, arg);
	}
	if (!r)
		srcmap_close(&m);
	free(scratch);
	return r;
}

static void hash_one(const struct place *p, uint64_t i, const void *buf, size_t len, void *arg)
{
	((uint64_t *)arg)[i] = place_chunk_hash(buf, len);
}

int place_hash_pass(int fd, const struct place *p, uint64_t *hash)
{
	memset(hash, 0, p->nr_chunks * sizeof(*hash));
	return scan_data(fd, p, hash_one, hash);
}

#define PEEK	   256 /* bytes read first: guest data is rarely zero that long */
#define ZERO_PARTS 2   /* threads of the zero scan */

/*
 * Does the chunk at off hold a non-zero byte?  Read with pread, never
 * through the mapping: a data chunk almost always says so in the first
 * bytes of its first data page, so the scan costs one small read per
 * chunk, and the mapping's pages are faulted in later by the copy's
 * threads, in parallel, while the links are busy.
 */
static int chunk_has_data(int fd, const struct srcmap *m, uint64_t off, size_t len, char *buf)
{
	uint64_t first = off / 4096, last = (off + len + 4095) / 4096, pg = first;
	ssize_t n;

	while (pg < last && !srcmap_page_data(m, pg))
		pg++;
	if (pg == last)
		return 0;
	n = pread(fd, buf, VMT_MIN((size_t)PEEK, (size_t)(off + len - pg * 4096)),
		  (off_t)(pg * 4096));
	if (n < 0)
		return -errno;
	if (n > 0 && !buf_is_zero(buf, (size_t)n & ~(size_t)7))
		return 1;
	/* The whole chunk (holes read as zeros with pread). */
	for (size_t done = 0; done < len; done += (size_t)n) {
		n = pread(fd, buf + done, len - done, (off_t)(off + done));
		if (n <= 0)
			return n < 0 ? -errno : -EIO;
	}
	return !buf_is_zero(buf, len);
}

struct zero_part {
	int fd;
	const struct srcmap *m;
	struct place *p;
	uint64_t from, to, data;
	int err;
	pthread_t th;
};

/* CH_DATA of chunks [from, to): each part writes only its own flags bytes. */
static void *zero_part_main(void *arg)
{
	struct zero_part *z = arg;
	struct place *p = z->p;
	uint64_t csz = 1ull << p->shift;
	char *buf = aligned_alloc(4096, csz);

	z->err = buf ? 0 : -ENOMEM;
	for (uint64_t i = z->from; !z->err && i < z->to; i++) {
		uint64_t off = i << p->shift;
		int d =
		    chunk_has_data(z->fd, z->m, off, (size_t)VMT_MIN(csz, p->ram_size - off), buf);

		if (d < 0)
			z->err = d;
		p->flags[i] = (uint8_t)((p->flags[i] & ~CH_DATA) | (d > 0 ? CH_DATA : 0));
		z->data += d > 0;
	}
	free(buf);
	return NULL;
}

/*
 * Two threads, each on half of the chunks: on a machine whose cores are
 * shared with other work, a scan that mostly waits for a CPU gets two
 * shares of it.
 */
int place_scan_zero(int fd, const struct srcmap *map, struct place *p)
{
	struct zero_part z[ZERO_PARTS];
	struct srcmap own;
	const struct srcmap *m = map ? map : &own;
	int r = map ? 0 : srcmap_open(fd, p->ram_size, &own);

	if (r)
		return r;
	p->data = 0;
	for (unsigned k = 0; k < ZERO_PARTS; k++) {
		z[k] = (struct zero_part){.fd = fd,
					  .m = m,
					  .p = p,
					  .from = p->nr_chunks * k / ZERO_PARTS,
					  .to = p->nr_chunks * (k + 1) / ZERO_PARTS};
		if (k + 1 == ZERO_PARTS || pthread_create(&z[k].th, NULL, zero_part_main, &z[k])) {
			z[k].th = 0;
			zero_part_main(&z[k]);
		}
	}
	for (unsigned k = 0; k < ZERO_PARTS; k++) {
		if (z[k].th)
			pthread_join(z[k].th, NULL);
		p->data += z[k].data;
		if (z[k].err && !r)
			r = vmt_error(z[k].err, "reading the RAM file: %s", strerror(-z[k].err));
	}
	if (!map)
		srcmap_close(&own);
	return r;
}

/* ---------------------------------------------------------- decide */

/*
 * Does the chunk go anywhere?  Zero chunks do not, nor (README, "Placement")
 * free ones: their content does not matter to the guest, and the pager
 * gives a zero page on their first touch.  The core is always placed.
 */
static bool placed(uint8_t f)
{
	return (f & CH_DATA) && (!(f & CH_FREE) || (f & CH_CORE));
}

/* Keep up to *budget chunks with all bits of want set (and data) on main, lowest first. */
static void keep_main(struct place *p, uint8_t want, uint64_t *budget)
{
	for (uint64_t i = 0; i < p->nr_chunks && *budget; i++) {
		if (p->loc[i] != VMT_PT_ABSENT || !placed(p->flags[i]) ||
		    (p->flags[i] & want) != want)
			continue;
		p->loc[i] = VMT_PT_MAIN;
		p->main++;
		(*budget)--;
	}
}

/*
 * Stripes of this many bytes are dealt to the sub-hosts in turn: the pages
 * a reader needs (a listing's kernel objects, scattered over RAM) then come
 * from every link at once instead of mostly from the one that holds the
 * busiest half, and each link still carries long sequential writes.  2 MiB,
 * the largest fetch chunk, so an aligned fetch chunk lives on one host.
 */
#define STRIPE_BYTES (2ull << 20)

/* The next host after k (in turn) below its share and its quota, or -1. */
static int next_host(const struct place *p, unsigned nr_hosts, const uint64_t *share,
		     const uint64_t *quota, int k)
{
	for (unsigned step = 1; step <= nr_hosts; step++) {
		unsigned h = (unsigned)(k + (int)step) % nr_hosts;

		if (p->host_chunks[h] < VMT_MIN(share[h], quota[h]))
			return (int)h;
	}
	/* Shares are rounded: any room left. */
	for (unsigned h = 0; h < nr_hosts; h++)
		if (p->host_chunks[h] < quota[h])
			return (int)h;
	return -1;
}

/* Everything not on main: stripes dealt in turn, balanced by bytes within quotas. */
static int spread(struct place *p, unsigned nr_hosts, const uint64_t *quota)
{
	uint64_t left = 0, qsum = 0, given = 0, share[VMT_SPLIT_MAX_HOSTS];
	uint64_t per = VMT_MAX(1ull, STRIPE_BYTES >> p->shift), stripe = UINT64_MAX;
	int k = -1;

	for (uint64_t i = 0; i < p->nr_chunks; i++)
		left += p->loc[i] == VMT_PT_ABSENT && placed(p->flags[i]);
	if (!left)
		return 0;
	for (unsigned h = 0; h < nr_hosts; h++)
		qsum += quota[h];
	if (!nr_hosts || qsum < left)
		return vmt_error(-ENOSPC,
				 "the sub-hosts lack room: %llu MiB to place, %llu MiB free on %u "
				 "sub-host(s)",
				 (unsigned long long)((left << p->shift) >> 20),
				 (unsigned long long)((qsum << p->shift) >> 20), nr_hosts);
	/* Shares proportional to quota; the last host takes the rounding. */
	for (unsigned h = 0; h < nr_hosts; h++) {
		share[h] =
		    h + 1 == nr_hosts ? left - given : VMT_MIN(quota[h], left * quota[h] / qsum);
		given += share[h];
	}
	for (uint64_t i = 0; i < p->nr_chunks; i++) {
		if (p->loc[i] != VMT_PT_ABSENT || !placed(p->flags[i]))
			continue;
		if (i / per != stripe || k < 0 ||
		    p->host_chunks[k] >= VMT_MIN(share[k], quota[k])) {
			stripe = i / per;
			k = next_host(p, nr_hosts, share, quota, k < 0 ? (int)nr_hosts - 1 : k);
		}
		if (k < 0)
			return vmt_error(-ENOSPC, "the sub-hosts lack room");
		p->loc[i] = (uint8_t)(VMT_PT_SUB + k);
		p->host_chunks[k]++;
	}
	return 0;
}

int place_decide(struct place *p, enum vmt_split_policy pol, uint64_t main_budget,
		 unsigned nr_hosts, const uint64_t *quota)
{
	uint64_t budget = main_budget;

	memset(p->loc, VMT_PT_ABSENT, p->nr_chunks);
	memset(p->host_chunks, 0, sizeof(p->host_chunks));
	p->main = p->core = p->recent = p->free = p->kernel = 0;
	for (uint64_t i = 0; i < p->nr_chunks; i++) {
		p->free += (p->flags[i] & CH_DATA) && !placed(p->flags[i]);
		p->kernel +=
		    pol != VMT_SPLIT_ADDRESS &&
		    (p->flags[i] & (CH_KERNEL | CH_DATA | CH_CORE)) == (CH_KERNEL | CH_DATA);
		p->core += (p->flags[i] & (CH_CORE | CH_DATA)) == (CH_CORE | CH_DATA);
		p->recent +=
		    (p->flags[i] & (CH_RECENT | CH_DATA | CH_CORE)) == (CH_RECENT | CH_DATA);
	}
	/*
	 * The core is pinned on the main host (the pager never pages it out), so
	 * it must leave room under the cap for the guest's working set: 1/16, twice
	 * the pager's free target (1/32), so a page-in always finds a victim.
	 */
	if (p->core > main_budget - main_budget / 16)
		return vmt_error(
		    -ENOSPC,
		    "--main-mem (or --cap) leaves no room beside the guest kernel's "
		    "core (image and page tables: %llu KiB, pinned on the main host): "
		    "give at least %llu KiB",
		    (unsigned long long)((p->core << p->shift) >> 10),
		    (unsigned long long)(((p->core + p->core / 15 + 1) << p->shift) >> 10));
	keep_main(p, CH_CORE, &budget);
	/* address alone is the paper's experiment: the kernel's pages where they fall */
	/* what listings read first when the kernel's own pages do not all fit */
	if (pol != VMT_SPLIT_ADDRESS) {
		keep_main(p, CH_KERNEL | CH_PATH, &budget);
		keep_main(p, CH_KERNEL | CH_SLAB, &budget);
		keep_main(p, CH_KERNEL, &budget);
	}
	if (pol == VMT_SPLIT_KERNEL_RECENT)
		keep_main(p, CH_RECENT, &budget);
	keep_main(p, 0, &budget);
	return spread(p, nr_hosts, quota);
}

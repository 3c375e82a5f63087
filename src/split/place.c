// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * place.c - which host keeps each chunk of guest RAM (README.md, "Placement").
 *
 * The RAM file is only ever read with pread(2) after SEEK_DATA: reading a
 * hole through a mapping would allocate it on tmpfs.  Zero chunks go
 * nowhere (ABSENT).  The core (kernel image and kernel page tables) stays on
 * the main host; the rest follows the policy, and what does not fit the
 * main-host budget is spread over the sub-hosts in contiguous runs balanced
 * by bytes, so each link carries a few large sequential writes.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include "core/internal.h"
#include "pagetable/pagetable.h"
#include "split/split_priv.h"

#define SCAN_BUF (4u << 20)

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
 * Visit the data of the file in chunk-sized pieces: fn gets chunk index and
 * bytes; chunks that are wholly holes are skipped (SEEK_DATA).
 */
static int scan_data(int fd, const struct place *p,
		     void (*fn)(const struct place *p, uint64_t i, const void *buf, size_t len,
				void *arg),
		     void *arg)
{
	uint64_t csz = 1ull << p->shift, off = 0;
	size_t bufsz = VMT_MAX(SCAN_BUF, csz);
	char *buf = aligned_alloc(4096, bufsz);
	int r = 0;

	if (!buf)
		return -ENOMEM;
	while (off < p->ram_size) {
		off_t d = lseek(fd, (off_t)off, SEEK_DATA);
		size_t len;
		ssize_t n;

		if (d < 0 && errno == ENXIO)
			break;
		if (d < 0) {
			r = vmt_error(-errno, "SEEK_DATA in the RAM file: %s", strerror(errno));
			break;
		}
		off = (uint64_t)d & ~(csz - 1);
		len = (size_t)VMT_MIN((uint64_t)bufsz, p->ram_size - off);
		n = pread(fd, buf, len, (off_t)off);
		if (n <= 0) {
			r = n < 0 ? vmt_error(-errno, "reading the RAM file: %s", strerror(errno))
				  : 0;
			break;
		}
		/* Whole chunks only, except at the end of the file. */
		if ((size_t)n > csz && (uint64_t)n + off < p->ram_size)
			n &= ~(ssize_t)(csz - 1);
		for (size_t o = 0; o < (size_t)n; o += csz)
			fn(p, (off + o) >> p->shift, buf + o, VMT_MIN(csz, (size_t)n - o), arg);
		off += (uint64_t)n;
	}
	free(buf);
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

static void zero_one(const struct place *p, uint64_t i, const void *buf, size_t len, void *arg)
{
	if (!buf_is_zero(buf, len))
		p->flags[i] |= CH_DATA;
}

int place_scan_zero(int fd, struct place *p)
{
	int r;

	for (uint64_t i = 0; i < p->nr_chunks; i++)
		p->flags[i] &= (uint8_t)~CH_DATA;
	r = scan_data(fd, p, zero_one, NULL);
	p->data = 0;
	for (uint64_t i = 0; !r && i < p->nr_chunks; i++)
		p->data += !!(p->flags[i] & CH_DATA);
	return r;
}

/* ---------------------------------------------------------- decide */

/* Keep up to *budget chunks with all bits of want set (and data) on main, lowest first. */
static void keep_main(struct place *p, uint8_t want, uint64_t *budget)
{
	for (uint64_t i = 0; i < p->nr_chunks && *budget; i++) {
		if (p->loc[i] != VMT_PT_ABSENT || !(p->flags[i] & CH_DATA) ||
		    (p->flags[i] & want) != want)
			continue;
		p->loc[i] = VMT_PT_MAIN;
		p->main++;
		(*budget)--;
	}
}

/* Everything not on main: contiguous runs per host, balanced by bytes within quotas. */
static int spread(struct place *p, unsigned nr_hosts, const uint64_t *quota)
{
	uint64_t left = 0, qsum = 0, given = 0, share[VMT_SPLIT_MAX_HOSTS];
	unsigned k = 0;

	for (uint64_t i = 0; i < p->nr_chunks; i++)
		left += p->loc[i] == VMT_PT_ABSENT && (p->flags[i] & CH_DATA);
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
		if (p->loc[i] != VMT_PT_ABSENT || !(p->flags[i] & CH_DATA))
			continue;
		while (k + 1 < nr_hosts && p->host_chunks[k] >= share[k])
			k++;
		/* The last share may exceed its quota after rounding: spill backwards. */
		while (p->host_chunks[k] >= quota[k] && k > 0)
			k--;
		if (p->host_chunks[k] >= quota[k])
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
	p->main = p->core = p->recent = 0;
	for (uint64_t i = 0; i < p->nr_chunks; i++) {
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
	if (pol == VMT_SPLIT_KERNEL_RECENT)
		keep_main(p, CH_RECENT, &budget);
	keep_main(p, 0, &budget);
	return spread(p, nr_hosts, quota);
}

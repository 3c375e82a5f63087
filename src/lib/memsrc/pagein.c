// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * pagein.c - method 2, "VM remote paging" (proxy paging): the runtime asks
 * the pager inside QEMU to page chunks in (src/pager/pager_proto.h), waits
 * for "resident", and then reads them from the memory file like any MAIN
 * chunk (split.c, under the seqlock: a chunk pushed out again meanwhile is
 * simply asked for again in the next round).
 *
 * All the fetch chunks a batch needs go in one PAGEIN request (split into
 * several when there are more than VMT_PAGER_MAX_RANGES).  One connection,
 * opened lazily and kept; a connection the pager closed (QEMU restarted)
 * is replaced once per request.  A pager that cannot be reached is "down"
 * until the next listing.  So is, for method 2, a sub-host that the pager
 * could not page in from (it did not answer within the timeout): the
 * request is asked again host by host to find it, and then every page on it
 * fails at once instead of costing a timeout each.
 *
 * The prefetch stream (end of file): pages a walk will read go to the pager
 * ahead as HINTs on the same connection, which have no reply.
 */
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "memsrc/split.h"
#include "pager/pager_proto.h"

static int pager_connect(struct split_ctx *x)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int fd, err;

	if (strlen(x->pager_sock) >= sizeof(sa.sun_path))
		return vmt_error(-ENAMETOOLONG, "pager socket path too long: %s", x->pager_sock);
	strcpy(sa.sun_path, x->pager_sock);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		err = -errno;
		close(fd);
		x->pager_down = err;
		return vmt_error(err, "pager socket %s: %s (is the VM split and running?)",
				 x->pager_sock, strerror(-err));
	}
	x->pager_fd = fd;
	return 0;
}

static void pager_drop(struct split_ctx *x)
{
	if (x->pager_fd >= 0)
		close(x->pager_fd);
	x->pager_fd = -1;
}

static int write_all(int fd, const void *buf, size_t len)
{
	const uint8_t *p = buf;

	while (len) {
		ssize_t n = send(fd, p, len, MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Read exactly len bytes before deadline_ns (CLOCK_MONOTONIC); buf NULL: discard. */
static int read_all(int fd, void *buf, size_t len, uint64_t deadline_ns)
{
	uint8_t scratch[4096], *p = buf;

	while (len) {
		struct pollfd pfd = {.fd = fd, .events = POLLIN};
		uint64_t now = split_now_ns();
		int r;
		ssize_t n;

		if (now >= deadline_ns)
			return -ETIMEDOUT;
		r = poll(&pfd, 1, (int)VMT_MIN((deadline_ns - now) / 1000000 + 1, 60000));
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -errno;
		if (r == 0)
			continue;
		n = recv(fd, p ? (void *)p : scratch, p ? len : VMT_MIN(len, sizeof(scratch)), 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			return -ECONNRESET;
		if (p)
			p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* One PAGEIN of n ranges (n <= VMT_PAGER_MAX_RANGES); rep->status is the pager's answer. */
static int pager_call(struct split_ctx *x, const struct vmt_pager_range *r, uint32_t n,
		      struct vmt_pager_rep *rep)
{
	struct vmt_pager_req req = {.magic = VMT_PAGER_MAGIC,
				    .version = VMT_PAGER_VERSION,
				    .op = VMT_PAGER_PAGEIN,
				    .n = n,
				    .timeout_ms = (uint32_t)x->timeout_ms};
	/* The pager answers within timeout_ms; give it a little more to say so. */
	uint64_t deadline = split_now_ns() + ((uint64_t)x->timeout_ms + 2000) * 1000000ull;
	int err;

	err = write_all(x->pager_fd, &req, sizeof(req));
	if (!err)
		err = write_all(x->pager_fd, r, n * sizeof(*r));
	if (!err)
		err = read_all(x->pager_fd, rep, sizeof(*rep), deadline);
	if (err)
		return err;
	if (rep->magic != VMT_PAGER_MAGIC || rep->version != VMT_PAGER_VERSION ||
	    rep->op != VMT_PAGER_PAGEIN || rep->len > VMT_PAGER_MAX_REPLY)
		return -EPROTO;
	return read_all(x->pager_fd, NULL, rep->len, deadline);
}

/*
 * Send one request, on a fresh connection once if the kept one broke.
 * *host_err: the failure is the pager's (it answered that it could not page
 * in, or did not answer in time), i.e. likely one of the sub-hosts'.
 */
static int pager_request(struct memsrc_file *f, const struct vmt_pager_range *r, uint32_t n,
			 bool *host_err)
{
	struct split_ctx *x = f->split;
	struct vmt_pager_rep rep;
	int err = 0;

	*host_err = false;

	for (int attempt = 0; attempt < 2; attempt++) {
		bool fresh = x->pager_fd < 0;

		if (fresh && x->pager_down)
			return x->pager_down;
		if (fresh && (err = pager_connect(x)))
			return err;
		err = pager_call(x, r, n, &rep);
		if (!err)
			break;
		pager_drop(x);
		/* A kept connection may have been closed by the pager: try a new one. */
		if (fresh || (err != -ECONNRESET && err != -EPIPE))
			break;
	}
	*host_err = err == -ETIMEDOUT || (!err && rep.status < 0);
	if (err)
		return vmt_error(err, "pager %s: %s", x->pager_sock,
				 err == -EPROTO ? "not a pager's answer" : strerror(-err));
	if (rep.status)
		return vmt_error(rep.status > 0 ? -EPROTO : rep.status,
				 "pager %s could not page in %u ranges: %s", x->pager_sock, n,
				 strerror(rep.status > 0 ? EPROTO : -rep.status));
	return 0;
}

static int chunk_cmp(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* Chunk c, if it is on a sub-host now, in that host's figures. */
static void count_chunk(struct memsrc_file *f, uint64_t c)
{
	struct vmt_mem_stats *st = vmt_memsrc_stats(&f->base);
	int k = vmt_pt_loc_host(vmt_pt_e_loc(vmt_pt_load(&f->pt, c)));

	if (k < 0 || k >= VMT_MAX_SUBHOSTS)
		return;
	st->host_chunks[k]++;
	st->host_bytes[k] += vmt_pt_chunk_len(&f->pt, c);
}

/*
 * Per sub-host: the chunks of the wants that are on it now (what the pager
 * will bring), each once: fetch chunks smaller than the page table's share
 * one (a batch of 4K wants in one 64K chunk pages in 64K, not 64K each).
 */
static void count(struct memsrc_file *f, const struct split_want *w, size_t n)
{
	struct vmt_mem_stats *st = vmt_memsrc_stats(&f->base);
	unsigned shift = f->pt.hdr->chunk_shift;
	size_t total = 0, nc = 0;
	uint64_t *cs;

	for (size_t i = 0; i < n; i++) {
		total += ((w[i].off + w[i].len - 1) >> shift) - (w[i].off >> shift) + 1;
		if ((unsigned)w[i].host < VMT_MAX_SUBHOSTS)
			st->host_requests[w[i].host]++;
	}
	cs = malloc(total * sizeof(*cs));
	for (size_t i = 0; i < n; i++) {
		uint64_t c = w[i].off >> shift, last = (w[i].off + w[i].len - 1) >> shift;

		for (; c <= last; c++) {
			if (cs)
				cs[nc++] = c;
			else
				count_chunk(f, c); /* no memory to sort: counted per want */
		}
	}
	if (!cs)
		return;
	qsort(cs, nc, sizeof(*cs), chunk_cmp);
	/* A chunk hinted in this listing was counted then. */
	for (size_t i = 0; i < nc; i++)
		if ((!i || cs[i] != cs[i - 1]) && !pagein_hinted(f, cs[i]))
			count_chunk(f, cs[i]);
	free(cs);
}

/* Ask the pager for the wants of sub-host k (every want when k < 0), in requests of
 * at most VMT_PAGER_MAX_RANGES ranges; the first error. */
static int pagein_send(struct memsrc_file *f, const struct split_want *w, size_t n, int k,
		       struct vmt_pager_range *r, bool *host_err)
{
	struct vmt_mem_stats *st = vmt_memsrc_stats(&f->base);
	int err = 0;

	*host_err = false;
	for (size_t i = 0; i < n && !err;) {
		uint32_t m = 0;
		uint64_t t0 = split_now_ns();

		for (; i < n && m < VMT_PAGER_MAX_RANGES; i++)
			if (k < 0 || w[i].host == k)
				r[m++] = (struct vmt_pager_range){.off = w[i].off, .len = w[i].len};
		if (!m)
			break;
		err = pager_request(f, r, m, host_err);
		st->wait_ns += split_now_ns() - t0;
		st->round_trips++;
	}
	return err;
}

int pagein_host_down(struct memsrc_file *f, int k)
{
	struct split_ctx *x = f->split;
	char addr[VMT_PT_ADDR_MAX + 1];
	int err = x->pagein_down[k];

	if (!err)
		return 0;
	/* The header is shared memory: a NUL-terminated copy. */
	vmt_strlcpy(addr, f->pt.hdr->hosts[k].addr, sizeof(addr));
	return vmt_error(err,
			 "sub-host %d (%s): the pager could not page in from it (%s); not asked "
			 "again in this listing",
			 k, addr, strerror(-err));
}

/*
 * The pager could not page a request in: ask again host by host, so that
 * only the wants of the sub-host that fails are lost, and mark that one
 * down for the listing.  One host alone needs no second try.
 */
static void pagein_per_host(struct memsrc_file *f, struct split_want *w, size_t n,
			    struct vmt_pager_range *r, int first_err)
{
	bool seen[VMT_PT_MAX_HOSTS] = {false};
	unsigned hosts = 0;

	for (size_t i = 0; i < n; i++) {
		if ((unsigned)w[i].host < VMT_PT_MAX_HOSTS && !seen[w[i].host]) {
			seen[w[i].host] = true;
			hosts++;
		}
	}
	for (int k = 0; k < VMT_PT_MAX_HOSTS; k++) {
		bool host_err = true;
		int err = first_err;

		if (!seen[k] || (hosts > 1 && !(err = pagein_send(f, w, n, k, r, &host_err))))
			continue;
		if (host_err) {
			f->split->pagein_down[k] = err;
			err = pagein_host_down(f, k);
		}
		for (size_t i = 0; i < n; i++)
			if (w[i].host == k)
				w[i].err = err;
	}
}

int pagein_wants(struct memsrc_file *f, struct split_want *w, size_t n)
{
	struct vmt_pager_range *r = calloc(VMT_MIN(n, VMT_PAGER_MAX_RANGES), sizeof(*r));
	bool host_err;
	int err;

	if (!r)
		return -ENOMEM;
	count(f, w, n);
	err = pagein_send(f, w, n, -1, r, &host_err);
	if (err && host_err) {
		pagein_per_host(f, w, n, r, err);
		err = 0;
	}
	free(r);
	return err;
}

void pagein_close(struct split_ctx *x)
{
	pager_drop(x);
	free(x->hinted_set);
	x->hinted_set = NULL;
	x->hinted_n = x->hinted_slots = 0;
}

/* ------------------------------------------------------------ stream */

/*
 * The set's size: at most half of it is filled.  It starts small and
 * doubles: a listing hints about a thousand chunks, and a set of the
 * largest size (1 MiB) cost a method-2 `ps` page faults and cache misses
 * on every page it read.
 */
#define HINTED_SLOTS_MIN 4096u
#define HINTED_SLOTS	 (1u << 17)

static size_t hinted_slot(uint64_t c, size_t slots)
{
	return (size_t)((c * 0x9e3779b97f4a7c15ull) >> 40) & (slots - 1);
}

bool pagein_hinted(const struct memsrc_file *f, uint64_t c)
{
	const struct split_ctx *x = f->split;

	if (!x->hinted_n)
		return false;
	for (size_t i = hinted_slot(c, x->hinted_slots);; i = (i + 1) & (x->hinted_slots - 1)) {
		if (x->hinted_set[i] == c + 1)
			return true;
		if (!x->hinted_set[i])
			return false;
	}
}

/* Put c + 1 (not in the set) into a set of slots slots. */
static void hinted_put(uint64_t *set, size_t slots, uint64_t c)
{
	size_t i = hinted_slot(c, slots);

	while (set[i])
		i = (i + 1) & (slots - 1);
	set[i] = c + 1;
}

/* Room for one more: the set allocated, or doubled when half full; false at its largest. */
static bool hinted_room(struct split_ctx *x)
{
	size_t slots = x->hinted_slots ? x->hinted_slots * 2 : HINTED_SLOTS_MIN;
	uint64_t *set;

	if (x->hinted_set && x->hinted_n < x->hinted_slots / 2)
		return true;
	if (slots > HINTED_SLOTS || !(set = calloc(slots, sizeof(*set))))
		return false;
	for (size_t i = 0; i < x->hinted_slots; i++)
		if (x->hinted_set[i])
			hinted_put(set, slots, x->hinted_set[i] - 1);
	free(x->hinted_set);
	x->hinted_set = set;
	x->hinted_slots = slots;
	return true;
}

/* Remember chunk c as hinted; false if it was already (or the set is full). */
static bool hinted_add(struct split_ctx *x, uint64_t c)
{
	size_t i;

	if (!hinted_room(x))
		return false;
	for (i = hinted_slot(c, x->hinted_slots); x->hinted_set[i];
	     i = (i + 1) & (x->hinted_slots - 1))
		if (x->hinted_set[i] == c + 1)
			return false;
	x->hinted_set[i] = c + 1;
	x->hinted_n++;
	return true;
}

/*
 * One HINT frame, without waiting: a pager too busy to take it loses it
 * (the walk must not stall on a hint); one that took part of it gets the
 * rest, so the frames stay whole.
 */
static void hint_send(struct split_ctx *x, const struct vmt_pager_range *r, uint32_t n)
{
	struct {
		struct vmt_pager_req req;
		struct vmt_pager_range r[ARRAY_SIZE(x->hints)];
	} m = {.req = {.magic = VMT_PAGER_MAGIC,
		       .version = VMT_PAGER_VERSION,
		       .op = VMT_PAGER_HINT,
		       .n = n}};
	size_t len = sizeof(m.req) + n * sizeof(*r);
	ssize_t sent;

	if (x->pager_fd < 0 && (x->pager_down || pager_connect(x)))
		return;
	if (n)
		memcpy(m.r, r, n * sizeof(*r));
	sent = send(x->pager_fd, &m, len, MSG_NOSIGNAL | MSG_DONTWAIT);
	if (sent < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
		return;
	if (sent < 0 ||
	    ((size_t)sent < len && write_all(x->pager_fd, (char *)&m + sent, len - (size_t)sent)))
		pager_drop(x); /* the next real request connects again */
	else
		x->hinted = true;
}

/*
 * Hints use only the room under the cap that the listing found when it
 * began, so that what they bring pushes out neither what an earlier hint
 * brought nor much of what the walk is about to read; what does not fit is
 * asked for by the reads, in batches of at most prefetch_max.
 */
static uint64_t hint_budget(struct memsrc_file *f)
{
	struct split_ctx *x = f->split;
	uint64_t cap = f->pt.hdr->cap_chunks, main = atomic_load(&f->pt.hdr->main_chunks);

	if (!x->hint_budget_set) {
		x->hint_budget = !cap ? UINT64_MAX : cap > main ? cap - main : 0;
		x->hint_budget_set = true;
	}
	return x->hint_budget;
}

/*
 * Streams only where a hint's fetch chunk is within the page table's
 * (file.c): a hint is the one chunk its page is in.
 */
void pagein_stream_add(struct memsrc_file *f, const uint64_t *off, size_t n)
{
	struct split_ctx *x = f->split;

	for (size_t i = 0; i < n && x->hinted_n < f->base.prefetch_max; i++) {
		uint64_t c = vmt_pt_chunk_of(&f->pt, off[i]);
		int k;

		if (c >= f->pt.hdr->nr_chunks)
			continue;
		k = vmt_pt_loc_host(vmt_pt_e_loc(vmt_pt_load(&f->pt, c)));
		if (k < 0 || k >= VMT_PT_MAX_HOSTS || x->pagein_down[k] || !hint_budget(f) ||
		    !hinted_add(x, c))
			continue;
		x->hint_budget--;
		count_chunk(f, c);
		vmt_memsrc_stats(&f->base)->host_requests[k]++;
		x->hints[x->nhints++] = (struct vmt_pager_range){
		    .off = c << f->pt.hdr->chunk_shift, .len = vmt_pt_chunk_len(&f->pt, c)};
		if (x->nhints == ARRAY_SIZE(x->hints))
			pagein_stream_pump(f);
	}
}

void pagein_stream_pump(struct memsrc_file *f)
{
	struct split_ctx *x = f->split;

	if (x->nhints)
		hint_send(x, x->hints, x->nhints);
	x->nhints = 0;
}

void pagein_stream_end(struct memsrc_file *f)
{
	struct split_ctx *x = f->split;

	x->nhints = 0;
	if (x->hinted && x->pager_fd >= 0)
		hint_send(x, NULL, 0); /* n = 0: forget what is not done */
	x->hinted = false;
	x->hint_budget_set = false;
	if (x->hinted_n)
		memset(x->hinted_set, 0, x->hinted_slots * sizeof(uint64_t));
	x->hinted_n = 0;
}

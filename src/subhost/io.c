// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * io.c - the request engine of the sub-host client: every read, write,
 * trim and flush, single or batched, goes through subhost_run().
 *
 * libnbd's synchronous calls have no timeout, so everything uses the
 * asynchronous API: commands are issued with a completion callback (up to
 * SUBHOST_MAX_INFLIGHT per handle), and one poll(2) loop drives all the
 * handles of a batch.  A handle that has commands in flight and hears
 * nothing from its server for io_timeout_ms is declared dead (-ETIMEDOUT):
 * its socket is shut down, its commands abandoned, and every later call on
 * it fails at once.  The caller closes it and connects again.
 */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include "subhost/subhost_priv.h"

static const char *const op_name[] = {"read", "write", "trim", "flush"};

/* A connection that broke is reported one way, whatever layer noticed it. */
static int conn_errno(int e)
{
	switch (e) {
	case 0:
	case ENOTCONN:
	case EPIPE:
	case ESHUTDOWN:
	case ECONNABORTED:
	case ECONNRESET:
		return ECONNRESET;
	default:
		return e;
	}
}

static void slot_put(struct vmt_subhost *s, struct subhost_slot *sl)
{
	sl->used = false;
	sl->io = NULL;
	s->free_slots[s->nr_free++] = (int)(sl - s->slots);
	s->inflight--;
}

static int complete_cb(void *user_data, int *error)
{
	struct subhost_slot *sl = user_data;
	struct vmt_subhost *s = sl->s;
	struct vmt_subhost_io *io = sl->io;

	if (io && *error) {
		int e = conn_errno(*error);

		if (!io->err)
			io->err = -e;
		if (*error != ENOTCONN)
			subhost_set_error(s, -e,
					  "sub-host answered %s to a %s of %llu bytes at %llu",
					  strerror(e), op_name[sl->op], (unsigned long long)sl->len,
					  (unsigned long long)io->off);
	} else if (io) {
		if (sl->op == SUBHOST_READ)
			s->stats.bytes_read += sl->len;
		else if (sl->op == SUBHOST_WRITE)
			s->stats.bytes_written += sl->len;
	}
	s->last_progress = subhost_now_ns();
	sl->done = true;
	if (io && s->in_batch && s->batch->on_answer)
		s->batch->on_answer(s->batch->answer_arg, (size_t)(io - s->batch->io), sl->len);
	/*
	 * Not retired here (return 0): libnbd 1.14 reads a command after
	 * issuing it, and a command retired by its callback during that issue
	 * (the connection died while sending it) is read after being freed.
	 * retire_done() retires it by cookie once the issuing call returned.
	 */
	return 0;
}

static void retire_done(struct vmt_subhost *s)
{
	for (int i = 0; i < SUBHOST_MAX_INFLIGHT && s->inflight; i++) {
		struct subhost_slot *sl = &s->slots[i];

		if (sl->used && sl->done && sl->cookie >= 0) {
			nbd_aio_command_completed(s->nbd, (uint64_t)sl->cookie);
			slot_put(s, sl);
		}
	}
}

static int64_t issue(struct vmt_subhost *s, struct subhost_slot *sl, void *buf, uint64_t off)
{
	nbd_completion_callback cb = {.callback = complete_cb, .user_data = sl};

	switch (sl->op) {
	case SUBHOST_READ:
		s->stats.reads++;
		return nbd_aio_pread(s->nbd, buf, sl->len, off, cb, 0);
	case SUBHOST_WRITE:
		s->stats.writes++;
		return nbd_aio_pwrite(s->nbd, buf, sl->len, off, cb, 0);
	case SUBHOST_TRIM:
		s->stats.trims++;
		return nbd_aio_trim(s->nbd, sl->len, off, cb, 0);
	case SUBHOST_FLUSH:
		s->stats.flushes++;
		return nbd_aio_flush(s->nbd, cb, 0);
	}
	return -1;
}

static uint64_t piece_max(const struct vmt_subhost *s, enum subhost_op op)
{
	return op == SUBHOST_TRIM ? SUBHOST_MAX_TRIM : s->max_request;
}

/* Nothing to send for this entry: empty, or an operation the server does without. */
static bool io_is_noop(const struct vmt_subhost *s, const struct vmt_subhost_io *io,
		       enum subhost_op op)
{
	if (op == SUBHOST_FLUSH)
		return !s->can_flush;
	if (op == SUBHOST_TRIM && !s->can_trim)
		return true;
	return io->len == 0;
}

/* Issue commands of this handle until its slots are full; < 0: the handle died. */
static int fill_slots(struct vmt_subhost *s, struct vmt_subhost_io *io, size_t n,
		      enum subhost_op op)
{
	while (s->nr_free > 0 && s->next_io < n) {
		struct vmt_subhost_io *x = &io[s->next_io];

		if (x->host != s || x->err || io_is_noop(s, x, op)) {
			s->next_io++;
			s->next_piece = 0;
			continue;
		}
		struct subhost_slot *sl = &s->slots[s->free_slots[--s->nr_free]];
		uint64_t left = op == SUBHOST_FLUSH ? 0 : x->len - s->next_piece;
		uint64_t max = piece_max(s, op);

		*sl = (struct subhost_slot){.s = s, .io = x, .op = op, .used = true, .cookie = -1};
		sl->len = left < max ? left : max;
		s->inflight++;
		sl->cookie = issue(s, sl, x->buf ? (char *)x->buf + s->next_piece : NULL,
				   x->off + s->next_piece);
		if (sl->cookie < 0) {
			int e = nbd_get_errno();

			subhost_set_error(s, 0, "%s", nbd_get_error());
			slot_put(s, sl); /* never queued: no callback, nothing to retire */
			if (nbd_aio_is_dead(s->nbd) || nbd_aio_is_closed(s->nbd))
				return -conn_errno(e);
			x->err = -(e ? e : EIO);
			continue;
		}
		s->next_piece += sl->len;
		if (s->next_piece >= x->len) {
			s->next_io++;
			s->next_piece = 0;
		}
	}
	return 0;
}

/*
 * Requests go out in bursts: a handle with commands in flight is refilled
 * only once SUBHOST_REFILL of its slots are free, and a burst leaves in as
 * few TCP segments as it fits (TCP_CORK while libnbd writes it).  Refilled
 * one by one as the answers came back, each 4 KiB read cost a segment of
 * its own and woke a server thread for it: 1,012 scattered 4 KiB reads from
 * two sub-hosts (method 1's `ps` of 1,000 processes) took 21.5 ms, 16 ms of
 * the servers' CPU and 15.6 us of vmt's a read; in bursts 18.7 ms, 9 ms and
 * 11 us (the links' floor is 17.5 ms).
 */
static int fill(struct vmt_subhost *s, struct vmt_subhost_io *io, size_t n, enum subhost_op op)
{
	int fd, on = 1, off = 0, r;

	if (s->next_io >= n || (s->inflight && s->nr_free < SUBHOST_REFILL))
		return 0;
	fd = nbd_aio_get_fd(s->nbd);
	if (fd >= 0)
		setsockopt(fd, IPPROTO_TCP, TCP_CORK, &on, sizeof(on));
	r = fill_slots(s, io, n, op);
	if (fd >= 0)
		setsockopt(fd, IPPROTO_TCP, TCP_CORK, &off, sizeof(off));
	return r;
}

/*
 * The handle is unusable: fail what it still owes, abandon its commands
 * (libnbd keeps them, but is never driven again, so it never touches their
 * buffers), and shut the socket so that the server lets go too.
 */
static void fail_handle(struct vmt_subhost *s, struct vmt_subhost_io *io, size_t n, int err)
{
	int fd = nbd_aio_get_fd(s->nbd);

	s->dead = err;
	for (int i = 0; i < SUBHOST_MAX_INFLIGHT; i++) {
		struct subhost_slot *sl = &s->slots[i];

		if (sl->used && !sl->done && sl->io && !sl->io->err)
			sl->io->err = err; /* answered pieces keep their result */
		sl->io = NULL;
	}
	for (size_t j = s->next_io; j < n; j++)
		if (io[j].host == s && !io[j].err)
			io[j].err = err;
	s->next_io = n;
	if (fd >= 0)
		shutdown(fd, SHUT_RDWR);
}

/* Check entries [from, n) and gather their handles into the batch's list. */
static void batch_gather(struct vmt_subhost_batch *b, size_t from, size_t n)
{
	uint64_t now = subhost_now_ns();

	for (size_t i = from; i < n; i++) {
		struct vmt_subhost_io *x = &b->io[i];
		struct vmt_subhost *s = x->host;

		x->err = 0;
		if (!s) {
			x->err = -EINVAL;
			continue;
		}
		if (s->dead) {
			x->err = s->dead;
			continue;
		}
		if (b->op != SUBHOST_FLUSH && (x->off > s->size || x->len > s->size - x->off ||
					       (b->op != SUBHOST_TRIM && x->len && !x->buf))) {
			x->err = -EINVAL;
			subhost_set_error(s, -EINVAL,
					  "%s of %zu bytes at %llu is outside the export",
					  op_name[b->op], x->len, (unsigned long long)x->off);
			continue;
		}
		if (s->in_batch)
			continue;
		s->in_batch = true;
		s->batch = b;
		s->batch_next = b->list;
		s->next_io = i;
		s->next_piece = 0;
		s->last_progress = now;
		b->list = s;
		b->nr_hosts++;
	}
}

/* Let libnbd act on what poll saw; fail the handle if it broke or went silent. */
static void handle_events(struct vmt_subhost *s, short revents, struct vmt_subhost_io *io, size_t n,
			  uint64_t now)
{
	int rc = 0;

	if (revents & (POLLIN | POLLHUP | POLLERR))
		rc = nbd_aio_notify_read(s->nbd);
	if (rc == 0 && (revents & POLLOUT))
		rc = nbd_aio_notify_write(s->nbd);
	if (revents)
		s->last_progress = now;
	if (rc < 0 || nbd_aio_is_dead(s->nbd) || nbd_aio_is_closed(s->nbd)) {
		int e = rc < 0 ? nbd_get_errno() : 0;

		subhost_set_error(s, -conn_errno(e), "connection to the sub-host lost: %s",
				  rc < 0 ? nbd_get_error() : "closed");
		fail_handle(s, io, n, -conn_errno(e));
	} else if (s->inflight && now - s->last_progress >= (uint64_t)s->io_timeout_ms * 1000000) {
		subhost_set_error(s, -ETIMEDOUT, "no answer from the sub-host within %d ms",
				  s->io_timeout_ms);
		fail_handle(s, io, n, -ETIMEDOUT);
	}
}

/* Fill every live handle and set up its pollfd; returns the number to poll. */
static size_t prepare_poll(struct vmt_subhost *list, struct vmt_subhost_io *io, size_t n,
			   enum subhost_op op, struct pollfd *pfd, struct vmt_subhost **who,
			   uint64_t *deadline)
{
	size_t nfds = 0;

	*deadline = UINT64_MAX;
	for (struct vmt_subhost *s = list; s; s = s->batch_next) {
		if (s->dead)
			continue;
		retire_done(s);
		int r = fill(s, io, n, op);

		retire_done(s);
		if (r < 0) {
			fail_handle(s, io, n, r);
			continue;
		}
		if (!s->inflight)
			continue;
		unsigned dir = nbd_aio_get_direction(s->nbd);

		pfd[nfds].fd = nbd_aio_get_fd(s->nbd);
		pfd[nfds].events = (short)(((dir & LIBNBD_AIO_DIRECTION_READ) ? POLLIN : 0) |
					   ((dir & LIBNBD_AIO_DIRECTION_WRITE) ? POLLOUT : 0));
		pfd[nfds].revents = 0;
		who[nfds++] = s;
		uint64_t d = s->last_progress + (uint64_t)s->io_timeout_ms * 1000000;

		if (d < *deadline)
			*deadline = d;
	}
	return nfds;
}

/* Another thread added entries (vmt_subhost_batch_wait): empty the eventfd. */
static void wake_drain(int wake_fd)
{
	uint64_t v;

	if (read(wake_fd, &v, sizeof(v)) < 0) {
		/* EAGAIN: another wait emptied it first */
	}
}

/*
 * One pass: issue what the slots allow, wait for the handles (and wake_fd,
 * if >= 0) up to their timeout, or not at all (!wait), and let libnbd act
 * on what came.  False once no handle has anything in flight.
 */
static bool batch_step(struct vmt_subhost_batch *b, bool wait, int wake_fd)
{
	struct pollfd pfd[SUBHOST_BATCH_HOSTS + 1];
	struct vmt_subhost *who[SUBHOST_BATCH_HOSTS];
	uint64_t deadline, t0, t1;
	size_t nfds = prepare_poll(b->list, b->io, b->n, b->op, pfd, who, &deadline);
	int ms = 0, r;

	if (!nfds)
		return false;
	t0 = subhost_now_ns();
	if (wait)
		ms = deadline > t0 ? (int)((deadline - t0 + 999999) / 1000000) : 0;
	if (wake_fd >= 0)
		pfd[nfds] = (struct pollfd){.fd = wake_fd, .events = POLLIN};
	r = poll(pfd, nfds + (wake_fd >= 0), ms);
	t1 = subhost_now_ns();
	if (r < 0 && errno != EINTR) {
		for (size_t i = 0; i < nfds; i++) {
			subhost_set_error(who[i], -errno, "poll: %s", strerror(errno));
			fail_handle(who[i], b->io, b->n, -errno);
		}
		return false;
	}
	if (r > 0 && wake_fd >= 0 && pfd[nfds].revents)
		wake_drain(wake_fd);
	for (size_t i = 0; i < nfds; i++) {
		if (wait)
			who[i]->stats.wait_ns += t1 - t0;
		handle_events(who[i], r > 0 ? pfd[i].revents : 0, b->io, b->n, t1);
	}
	return true;
}

void subhost_batch_begin(struct vmt_subhost_batch *b, struct vmt_subhost_io *io, enum subhost_op op)
{
	*b = (struct vmt_subhost_batch){.io = io, .op = op};
}

int vmt_subhost_batch_add(struct vmt_subhost_batch *b, size_t n)
{
	size_t from = b->n;

	if (n < from)
		return -EINVAL;
	batch_gather(b, from, n);
	if (b->nr_hosts > SUBHOST_BATCH_HOSTS) {
		for (size_t i = from; i < n; i++)
			if (!b->io[i].err)
				b->io[i].err = -E2BIG;
		return -E2BIG;
	}
	b->n = n;
	return 0;
}

void vmt_subhost_batch_pump(struct vmt_subhost_batch *b)
{
	batch_step(b, false, -1);
}

bool vmt_subhost_batch_wait(struct vmt_subhost_batch *b, int wake_fd)
{
	return batch_step(b, true, wake_fd);
}

int vmt_subhost_batch_end(struct vmt_subhost_batch *b)
{
	while (batch_step(b, true, -1))
		;
	for (struct vmt_subhost *s = b->list; s; s = s->batch_next)
		s->in_batch = false;
	b->list = NULL;
	b->nr_hosts = 0;
	for (size_t i = 0; i < b->n; i++)
		if (b->io[i].err)
			return b->io[i].err;
	return 0;
}

void vmt_subhost_batch_begin(struct vmt_subhost_batch *b, struct vmt_subhost_io *io)
{
	subhost_batch_begin(b, io, SUBHOST_READ);
}

int subhost_run(struct vmt_subhost_io *io, size_t n, enum subhost_op op)
{
	struct vmt_subhost_batch b;

	subhost_batch_begin(&b, io, op);
	vmt_subhost_batch_add(&b, n);
	return vmt_subhost_batch_end(&b);
}

int vmt_subhost_pread_batch(struct vmt_subhost_io *io, size_t n)
{
	if (!io && n)
		return -EINVAL;
	return subhost_run(io, n, SUBHOST_READ);
}

/* One flush per handle of the batch; a failed flush fails every write of its handle. */
static int flush_hosts(struct vmt_subhost_io *io, size_t n)
{
	struct vmt_subhost_io *fl = calloc(n ? n : 1, sizeof(*fl));
	size_t k = 0;

	if (!fl)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		struct vmt_subhost *s = io[i].host;

		if (s && !s->in_batch) {
			s->in_batch = true;
			fl[k++].host = s;
		}
	}
	for (size_t j = 0; j < k; j++)
		fl[j].host->in_batch = false;
	subhost_run(fl, k, SUBHOST_FLUSH);
	for (size_t j = 0; j < k; j++) {
		if (!fl[j].err)
			continue;
		for (size_t i = 0; i < n; i++)
			if (io[i].host == fl[j].host && !io[i].err)
				io[i].err = fl[j].err;
	}
	free(fl);
	return 0;
}

int vmt_subhost_pwrite_batch(struct vmt_subhost_io *io, size_t n)
{
	if (!io && n)
		return -EINVAL;
	subhost_run(io, n, SUBHOST_WRITE);
	int r = flush_hosts(io, n);

	for (size_t i = 0; i < n; i++)
		if (io[i].err)
			return io[i].err;
	return r;
}

// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * stream.c - a client's page-ins (PAGEIN and HINT, ctl.c) as one stream of
 * reads that keeps every sub-host's link busy.
 *
 * The hints of a listing (method 2) used to go in batches of 64 chunks: a
 * batch was read, installed and settled, and only then was the next one
 * asked for.  A trace of a method-2 `ps` of 1,000 processes showed the
 * links idle about 0.25 of every 1.25 ms: the installs, the settling and a
 * round trip between batches, 16 times a listing.  Here the reads go out
 * as the window allows (STREAM_WINDOW bytes in flight), each is installed
 * the moment it lands (UFFDIO_COPY, g.lock not held), and the jobs are
 * settled in groups under one hold of g.lock.  A PAGEIN does not stop the
 * stream: its chunks go to the front (the window keeps the queue ahead of
 * them short), the chunks it needs that the stream brings already are
 * waited for, and the answer goes out once they are all settled, while the
 * hints go on.
 *
 * What can go wrong falls back to the way that handles it: a read that
 * fails (its sub-host's connection broke) ends the stream; its chunks stay
 * on their sub-host, its hints are forgotten, and a PAGEIN waiting for one
 * of them is done again by ctl_pagein (retries with backoff until its
 * deadline).  One thread drives a stream: the client's (ctl.c).
 */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>

#include "pager/pager.h"
#include "pager/pager_proto.h"

#define STREAM_READS	     1024	  /* reads before a stream drains and starts again */
#define STREAM_JOBS	     4096	  /* chunks one stream brings */
#define STREAM_WINDOW	     (256u << 10) /* bytes in flight: about 1 ms of two 1 Gbit links */
#define STREAM_PAGEIN_WINDOW (1u << 20)	  /* for a PAGEIN's own chunks (the walk waits) */
#define STREAM_RUN_MAX	     (64u << 10)  /* most bytes one read of consecutive chunks takes */
#define STREAM_TOPUP	     (64u << 10)  /* hints are taken when this much of the window is free */
#define STREAM_SETTLE	     16	   /* landed reads settled together (each wakes the evictor) */
#define STREAM_PENDING	     1	   /* inst[]: not landed yet */
#define HINTS_MAX	     65536 /* ranges queued per client; more are dropped */
#define STREAM_MAX(a, b)     ((a) > (b) ? (a) : (b))

struct stream_hints {
	struct vmt_pager_range *r;
	uint32_t n, cap;
	struct pager_cursor cur;
};

/* The client's PAGEIN under way (a client waits for each answer: one at a time). */
struct stream_pagein {
	bool on;
	bool failed; /* a chunk it needs did not come: ctl_pagein finishes it */
	struct vmt_pager_range *r;
	uint32_t n, timeout_ms;
	struct pager_cursor cur;
	uint64_t t0, deadline, value;
	size_t need; /* its chunks the stream brings, not settled yet */
};

struct pager_stream {
	struct vmt_subhost_batch b;
	bool begun;
	bool failing; /* a read failed: take nothing more, drain, end */
	bool host_failed[VMT_PT_MAX_HOSTS];
	/* Reads: [lo, b.n) added and not all settled; [b.n, n) being made. */
	struct vmt_subhost_io io[STREAM_READS];
	int host[STREAM_READS], inst[STREAM_READS]; /* inst: STREAM_PENDING, 0 or -errno */
	uint32_t first[STREAM_READS], njobs[STREAM_READS], slot[STREAM_READS];
	uint64_t got[STREAM_READS];
	bool settled[STREAM_READS];
	size_t n, lo, landed;
	size_t landed_wanted; /* jobs of them the PAGEIN waits for */
	bool recheck;	      /* the PAGEIN now waits for jobs that may have landed */
	uint64_t inflight;    /* bytes of reads not settled */
	struct pager_job *jobs[STREAM_JOBS];
	size_t nr_jobs;
	/* Staging: nr_slots slots of slot_bytes, one per read not settled. */
	char *staging;
	size_t slot_bytes;
	uint32_t free_slot[CTL_BATCH_BYTES / STREAM_RUN_MAX];
	uint32_t nr_free, nr_slots;
	struct stream_hints h;
	struct stream_pagein p;
};

struct pager_stream *pager_stream_new(void)
{
	struct pager_stream *s = calloc(1, sizeof(*s));

	if (!s)
		return NULL;
	s->slot_bytes = STREAM_MAX(g.chunk, STREAM_RUN_MAX);
	s->nr_slots = (uint32_t)STREAM_MAX(CTL_BATCH_BYTES / s->slot_bytes, 1);
	s->staging = aligned_alloc(PAGER_PAGE, s->nr_slots * s->slot_bytes);
	if (!s->staging) {
		free(s);
		return NULL;
	}
	for (uint32_t i = 0; i < s->nr_slots; i++)
		s->free_slot[s->nr_free++] = i;
	s->h.cur = (struct pager_cursor){.r = s->h.r};
	return s;
}

/* ---------------------------------------------------------- requests */

void pager_stream_hint(struct pager_stream *s, const struct vmt_pager_range *r, uint32_t n)
{
	struct stream_hints *h = &s->h;

	if (!n) { /* the client's "forget what is not done" */
		h->n = 0;
		h->cur = (struct pager_cursor){.r = h->r};
		return;
	}
	if (h->n + n > h->cap) {
		uint32_t cap = h->cap ? h->cap : 1024;
		struct vmt_pager_range *r2;

		while (cap < h->n + n)
			cap *= 2;
		if (cap > HINTS_MAX || !(r2 = realloc(h->r, cap * sizeof(*r2))))
			return;
		h->r = r2;
		h->cap = cap;
		h->cur.r = r2;
	}
	memcpy(h->r + h->n, r, n * sizeof(*r));
	h->n += n;
	h->cur.n = h->n;
	pager_ids_reading();
}

/* A PAGEIN of n ranges r (the stream keeps r); answered by pager_stream_step. */
void pager_stream_pagein(struct pager_stream *s, struct vmt_pager_range *r, uint32_t n,
			 uint32_t timeout_ms)
{
	s->p = (struct stream_pagein){.on = true,
				      .r = r,
				      .n = n,
				      .timeout_ms = timeout_ms ? timeout_ms : 30000,
				      .cur = {.r = r, .n = n},
				      .t0 = pager_now_ns()};
	s->p.deadline = s->p.t0 + (uint64_t)s->p.timeout_ms * 1000000;
	atomic_fetch_add(&g.st.pagein_cmds, 1);
	pager_ids_reading();
}

bool pager_stream_busy(const struct pager_stream *s)
{
	return s->begun || s->p.on || s->h.cur.ri < s->h.n;
}

bool pager_stream_pagein_on(const struct pager_stream *s)
{
	return s->p.on;
}

/* ------------------------------------------------------------ taking */

/*
 * Bytes in flight at most, and a chunk per sub-host whatever the chunk: the
 * hints' window keeps the queue short that a PAGEIN's chunks join at its
 * end; a PAGEIN's own chunks may fill a larger one.
 */
static uint64_t stream_window(bool pagein)
{
	return STREAM_MAX(pagein ? STREAM_PAGEIN_WINDOW : STREAM_WINDOW,
			  g.pt.hdr->nr_hosts * g.chunk);
}

/* Room for a new read of len bytes: a slot, the window, the arrays. */
static bool stream_room(const struct pager_stream *s, uint64_t len, bool pagein)
{
	return s->nr_free && s->n < STREAM_READS && s->nr_jobs < STREAM_JOBS &&
	       s->inflight + len <= stream_window(pagein);
}

/* Add chunk i of sub-host k to the read being made, or start one; false: no room. */
static bool stream_put(struct pager_stream *s, uint64_t i, int k, bool pagein)
{
	uint64_t off = i << g.pt.hdr->chunk_shift, len = pager_chunk_len(i);
	size_t m = s->n;

	if (m > s->b.n && s->host[m - 1] == k && s->io[m - 1].off + s->io[m - 1].len == off &&
	    s->io[m - 1].len + len <= s->slot_bytes && s->nr_jobs < STREAM_JOBS &&
	    s->inflight + len <= stream_window(pagein)) {
		s->io[m - 1].len += len;
		s->njobs[m - 1]++;
		s->inflight += len;
		return true;
	}
	if (!stream_room(s, len, pagein))
		return false;
	s->slot[m] = s->free_slot[--s->nr_free];
	s->io[m] = (struct vmt_subhost_io){
	    .off = off, .len = len, .buf = s->staging + (size_t)s->slot[m] * s->slot_bytes};
	s->host[m] = k;
	s->inst[m] = STREAM_PENDING;
	s->got[m] = 0;
	s->settled[m] = false;
	s->first[m] = (uint32_t)s->nr_jobs;
	s->njobs[m] = 1;
	s->inflight += len;
	s->n++;
	return true;
}

/*
 * Take cur's next chunks into reads (g.lock held).  A chunk this stream
 * brings already is passed (a PAGEIN waits for it: need).  Stops at a chunk
 * someone else moves or at no room under the cap (*blocked), or at a full
 * window.  Returns the chunks taken.
 */
static size_t stream_take_locked(struct pager_stream *s, struct pager_cursor *cur, bool pagein,
				 bool *blocked)
{
	unsigned scanned = 0;
	size_t taken = 0;
	uint64_t i, old;

	*blocked = false;
	while (scanned++ < CTL_SCAN_MAX && pager_cursor_peek(cur, &i)) {
		uint64_t e = vmt_pt_load(&g.pt, i);
		int k = vmt_pt_loc_host(vmt_pt_e_loc(e));
		struct pager_job *j = pager_job_find_locked(i);

		if (j && j->owner == s) {
			if (pagein && !j->wanted) {
				j->wanted = true;
				s->p.need++;
				s->recheck = true;
			}
			cur->next++;
			continue;
		}
		if (j || (k >= 0 && !pager_admit_ok_locked(1))) {
			*blocked = true;
			break;
		}
		if (k < 0 || (unsigned)k >= g.pt.hdr->nr_hosts) {
			cur->next++;
			continue;
		}
		if (!stream_put(s, i, k, pagein))
			break;
		j = pager_job_new_locked(i, JOB_IN);
		if (!j) { /* undo the put: the read being made loses its last chunk */
			size_t m = s->n - 1;

			s->inflight -= pager_chunk_len(i);
			s->io[m].len -= pager_chunk_len(i);
			if (!--s->njobs[m])
				s->free_slot[s->nr_free++] = s->slot[--s->n];
			break;
		}
		j->host = k;
		j->parts = 1;
		j->owner = s;
		j->wanted = pagein;
		s->p.need += pagein;
		s->jobs[s->nr_jobs++] = j;
		g.inflight_in++;
		vmt_pt_move_begin(&g.pt, i, &old);
		cur->next++;
		taken++;
	}
	return taken;
}

static void stream_on_answer(void *arg, size_t idx, uint64_t len);

/* Send the reads made since the last call, each on its sub-host's handle. */
static void stream_send(struct pager_stream *s, struct pager_conns *c)
{
	if (s->n == s->b.n)
		return;
	if (!s->begun) {
		vmt_subhost_batch_begin(&s->b, s->io);
		s->b.on_answer = stream_on_answer;
		s->b.answer_arg = s;
		s->begun = true;
		atomic_fetch_add(&g.st.pagein_batches, 1);
	}
	for (size_t m = s->b.n; m < s->n; m++)
		if (pager_conn_get(c, s->host[m], &s->io[m].host))
			s->io[m].host = NULL; /* the batch fails it: -EINVAL */
	atomic_fetch_add(&g.st.pagein_reads, s->n - s->b.n);
	vmt_subhost_batch_add(&s->b, s->n);
}

/*
 * Take what the window allows: the PAGEIN's chunks first, then the hints'
 * (not while the PAGEIN is blocked: the room is its).  *blocked: the
 * PAGEIN (or, without one, the hints) waits for room or for a chunk
 * someone else moves.
 */
static void stream_fill(struct pager_stream *s, struct pager_conns *c, bool *blocked)
{
	bool hb = false;
	uint64_t dummy;
	size_t taken;

	*blocked = false;
	if (s->failing || atomic_load(&g.quit) || (!s->p.on && s->h.cur.ri >= s->h.n))
		return;
	pthread_mutex_lock(&g.lock);
	if (s->p.on && !s->p.failed) {
		taken = stream_take_locked(s, &s->p.cur, true, blocked);
		s->p.value += taken;
	}
	if (!*blocked && (!s->p.on || !pager_cursor_peek(&s->p.cur, &dummy)) &&
	    s->inflight + STREAM_TOPUP <= stream_window(false)) {
		taken = stream_take_locked(s, &s->h.cur, false, &hb);
		atomic_fetch_add(&g.st.hint_chunks, taken);
		if (!s->p.on)
			*blocked = hb;
		if (!pager_cursor_peek(&s->h.cur, &dummy)) /* all taken or resident */
			pager_stream_hint(s, NULL, 0);
	}
	pthread_mutex_unlock(&g.lock);
	stream_send(s, c);
}

/* ---------------------------------------------------------- landing */

/* A read's answer (on the thread that drives the batch): install it at once. */
static void stream_on_answer(void *arg, size_t idx, uint64_t len)
{
	struct pager_stream *s = arg;
	struct vmt_subhost_io *io = &s->io[idx];
	uint64_t t0;

	if (s->inst[idx] != STREAM_PENDING)
		return;
	if (io->err) { /* settled soon, as a failure */
		s->inst[idx] = io->err;
		s->landed++;
		return;
	}
	s->got[idx] += len;
	if (s->got[idx] < io->len)
		return;
	t0 = pager_now_ns();
	s->inst[idx] =
	    pager_install(pager_chunk_addr(s->jobs[s->first[idx]]->chunk), io->buf, io->len);
	atomic_fetch_add(&g.st.pagein_install_us, (pager_now_ns() - t0) / 1000);
	s->landed++;
	for (uint32_t i = s->first[idx]; i < s->first[idx] + s->njobs[idx]; i++)
		s->landed_wanted += s->jobs[i]->wanted; /* our thread alone writes it */
}

/* Read m's jobs are done (g.lock held): resident, or back on their sub-host. */
static void stream_settle_read_locked(struct pager_stream *s, size_t m)
{
	int st = s->inst[m] != STREAM_PENDING ? s->inst[m] : s->io[m].err;

	if (st) {
		s->failing = true;
		s->host_failed[s->host[m]] = true;
	}
	for (uint32_t i = s->first[m]; i < s->first[m] + s->njobs[m]; i++) {
		struct pager_job *j = s->jobs[i];

		if (j->wanted && s->p.on) {
			s->p.need--;
			s->p.failed |= st != 0;
		}
		if (st)
			pager_pagein_abort_locked(j);
		else
			pager_pagein_done_locked(j);
		s->jobs[i] = NULL;
	}
	s->settled[m] = true;
	s->inflight -= s->io[m].len;
	s->free_slot[s->nr_free++] = s->slot[m];
}

/* Settle every read that landed or failed, under one hold of g.lock. */
static void stream_settle(struct pager_stream *s)
{
	pthread_mutex_lock(&g.lock);
	for (size_t m = s->lo; m < s->b.n; m++)
		if (!s->settled[m] && (s->inst[m] != STREAM_PENDING || s->io[m].err))
			stream_settle_read_locked(s, m);
	while (s->lo < s->b.n && s->settled[s->lo])
		s->lo++;
	pthread_mutex_unlock(&g.lock);
	s->landed = s->landed_wanted = 0;
	s->recheck = false;
}

/*
 * Settle now?  In groups (a settle takes g.lock, which the fault thread and
 * the evictor wait on), but at once when that lets the PAGEIN be answered:
 * settled one by one as they landed, a PAGEIN's chunks cost the pager
 * thread so much that the links slowed to half while the walk waited.
 */
static bool stream_settle_due(const struct pager_stream *s, bool flowing)
{
	if (!s->landed)
		return false;
	if (s->landed >= STREAM_SETTLE || !flowing || s->failing)
		return true;
	return s->p.on && (s->recheck || (s->p.need && s->landed_wanted >= s->p.need));
}

/*
 * After the batch ended every read was answered or failed.  One that was
 * not would leave its chunks in motion for good, and every vCPU that
 * touches them waiting: say so, and put them back on their sub-host.
 */
static void stream_drop_unsettled(struct pager_stream *s)
{
	pthread_mutex_lock(&g.lock);
	for (size_t m = s->lo; m < s->n; m++) {
		if (s->settled[m])
			continue;
		pager_log("page-in stream: read %zu of sub-host %d at %llu never ended", m,
			  s->host[m], (unsigned long long)s->io[m].off);
		atomic_fetch_add(&g.st.errors, 1);
		s->inst[m] = -EIO;
		stream_settle_read_locked(s, m);
	}
	pthread_mutex_unlock(&g.lock);
}

/* Nothing in flight: close the batch (its handles are free again) and start over. */
static void stream_end(struct pager_stream *s, struct pager_conns *c)
{
	if (s->begun)
		vmt_subhost_batch_end(&s->b);
	stream_settle(s); /* what failed without an answer */
	stream_drop_unsettled(s);
	s->begun = false;
	/* b.n too: the next stream's reads are counted from 0 (stream_put, stream_send). */
	s->n = s->lo = s->nr_jobs = s->b.n = 0;
	if (!s->failing)
		return;
	for (int k = 0; k < VMT_PT_MAX_HOSTS; k++) {
		if (s->host_failed[k]) {
			pager_log("page-in stream from sub-host %d failed; its hints are dropped",
				  k);
			atomic_fetch_add(&g.st.retries, 1);
			pager_conn_drop(c, k);
		}
		s->host_failed[k] = false;
	}
	pager_stream_hint(s, NULL, 0); /* a hint that fails is forgotten */
	s->failing = false;
}

/* --------------------------------------------------------- answering */

static int stream_answer(struct pager_stream *s, int fd, int status)
{
	uint64_t value = s->p.value;

	atomic_fetch_add(&g.st.pagein_cmd_us, (pager_now_ns() - s->p.t0) / 1000);
	/* The reads still in flight are no longer waited for. */
	for (size_t i = 0; i < s->nr_jobs; i++)
		if (s->jobs[i])
			s->jobs[i]->wanted = false;
	free(s->p.r);
	s->p = (struct stream_pagein){.on = false};
	return pager_ctl_reply(fd, VMT_PAGER_PAGEIN, status, value, NULL, 0);
}

/* The PAGEIN is answered when every chunk it touches is resident, or failed, or late. */
static int stream_pagein_check(struct pager_stream *s, struct pager_conns *c, char **buf, int fd)
{
	uint64_t dummy, value = 0;
	int st;

	if (!s->p.on)
		return 0;
	if (atomic_load(&g.quit))
		return stream_answer(s, fd, -ECANCELED);
	if (s->p.failed && !s->begun) { /* the stream ended: the careful way, with retries */
		uint64_t now = pager_now_ns();

		st = pager_ctl_staging(buf);
		if (!st)
			st = pager_ctl_pagein(c, s->p.r, s->p.n,
					      (uint32_t)(now < s->p.deadline
							     ? (s->p.deadline - now) / 1000000 + 1
							     : 1),
					      *buf, &value);
		s->p.value += value;
		return stream_answer(s, fd, st);
	}
	if (!s->p.failed && !s->p.need && !pager_cursor_peek(&s->p.cur, &dummy))
		return stream_answer(s, fd, 0);
	if (pager_now_ns() >= s->p.deadline)
		return stream_answer(s, fd, -ETIMEDOUT);
	return 0;
}

/*
 * One step: take what the window allows, wait for answers (or, when no
 * PAGEIN is under way, for the client's next request on fd), settle, and
 * answer the PAGEIN if it is done.  0, or the error of writing the answer.
 */
int pager_stream_step(struct pager_stream *s, struct pager_conns *c, char **buf, int fd)
{
	uint64_t t0 = pager_now_ns();
	bool blocked, flowing = false;

	stream_fill(s, c, &blocked);
	if (s->begun) {
		flowing = vmt_subhost_batch_watch(&s->b, s->p.on ? -1 : fd);
		atomic_fetch_add(&g.st.pagein_net_us, (pager_now_ns() - t0) / 1000);
	}
	if (stream_settle_due(s, flowing))
		stream_settle(s);
	if (s->begun && !flowing)
		stream_end(s, c);
	else if (!s->begun && blocked) { /* room or a chunk in motion: a job's end wakes us */
		pthread_mutex_lock(&g.lock);
		pager_pagein_wait_locked(s->p.on ? 20000000ull : 2000000ull);
		pthread_mutex_unlock(&g.lock);
	}
	if (!s->p.on)
		atomic_fetch_add(&g.st.hint_us, (pager_now_ns() - t0) / 1000);
	return stream_pagein_check(s, c, buf, fd);
}

/* The client left: let the reads in flight land (the chunks they took are in motion). */
void pager_stream_free(struct pager_stream *s, struct pager_conns *c)
{
	if (!s)
		return;
	if (s->begun)
		stream_end(s, c);
	free(s->p.r);
	free(s->h.r);
	free(s->staging);
	free(s);
}

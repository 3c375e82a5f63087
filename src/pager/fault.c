// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * fault.c - the fault thread and page-in.
 *
 * The fault thread polls {uffd, quit eventfd}.  Under g.lock it resolves
 * what it can at once (a zero page, a write to a chunk with a clean copy)
 * and turns a fault on a sub-host's chunk into a page-in job: the rest of
 * the chunk (tail) goes to a worker at once, and the faulting pages
 * (heads) of the messages read together are fetched by the fault thread
 * itself, in one batch, as soon as it drops the lock: one hand-off fewer
 * on the path that a vCPU waits for.  Only while a sub-host answers: a
 * head that fails goes to the workers, whose retries with backoff take
 * over for that host until one of them succeeds.  A fault on a chunk
 * already in motion joins its job (held until the job ends), so a chunk is
 * never fetched twice nor resolved twice.
 */
#include <errno.h>
#include <linux/userfaultfd.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "pager/pager.h"

uint64_t pager_chunk_addr(uint64_t chunk)
{
	return g.base + (chunk << g.pt.hdr->chunk_shift) - g.map_off;
}

uint64_t pager_chunk_len(uint64_t chunk)
{
	return vmt_pt_chunk_len(&g.pt, chunk);
}

/* ------------------------------------------------------------- jobs */

static struct pager_job **job_bucket(uint64_t chunk)
{
	return &g.jobs[chunk & (PAGER_JOB_BUCKETS - 1)];
}

struct pager_job *pager_job_find_locked(uint64_t chunk)
{
	for (struct pager_job *j = *job_bucket(chunk); j; j = j->next)
		if (j->chunk == chunk)
			return j;
	return NULL;
}

struct pager_job *pager_job_new_locked(uint64_t chunk, enum pager_job_kind kind)
{
	struct pager_job *j = calloc(1, sizeof(*j)), **b = job_bucket(chunk);

	if (!j)
		return NULL;
	j->chunk = chunk;
	j->kind = kind;
	j->host = -1;
	j->next = *b;
	*b = j;
	return j;
}

void pager_job_free_locked(struct pager_job *j)
{
	for (struct pager_job **pp = job_bucket(j->chunk); *pp; pp = &(*pp)->next) {
		if (*pp == j) {
			*pp = j->next;
			break;
		}
	}
	free(j);
}

static void fault_hold(struct pager_fault **list, uint64_t addr, uint64_t flags, uint64_t t0)
{
	struct pager_fault *f = malloc(sizeof(*f));

	/* Out of memory: drop it; the vCPU stays blocked until a later wake of its range. */
	if (!f)
		return;
	f->addr = addr;
	f->flags = flags;
	f->t0_ns = t0;
	f->next = *list;
	*list = f;
	atomic_fetch_add(&g.st.deferred, 1);
}

/* Room under the cap for `more` new MAIN chunks (jobs in flight count as MAIN). */
bool pager_admit_ok_locked(unsigned more)
{
	uint64_t main = atomic_load(&g.pt.hdr->main_chunks);

	return !g.cap_chunks || main + g.inflight_in + more <= g.cap_chunks;
}

static void fault_wait_room_locked(uint64_t addr, uint64_t flags, uint64_t t0)
{
	struct pager_fault *f = malloc(sizeof(*f));

	if (!f)
		return;
	*f = (struct pager_fault){addr, flags, t0, NULL};
	if (g.admit_tail)
		g.admit_tail->next = f;
	else
		g.admit = f;
	g.admit_tail = f;
	g.admit_waiting++;
	atomic_fetch_add(&g.st.cap_waits, 1);
	pthread_cond_signal(&g.evict_cond);
}

/* Faults that waited for room: try them again, in arrival order. */
void pager_release_admit_locked(void)
{
	struct pager_fault *f = g.admit;

	g.admit = g.admit_tail = NULL;
	g.admit_waiting = 0;
	while (f) {
		struct pager_fault *n = f->next;

		pager_fault_dispatch_locked(f->addr, f->flags, f->t0_ns);
		free(f);
		f = n;
	}
}

void pager_queue_trim_locked(int host, uint64_t chunk)
{
	if (g.trim_n == g.trim_cap) {
		size_t cap = g.trim_cap ? g.trim_cap * 2 : 256;
		uint64_t *q = realloc(g.trim_q, cap * sizeof(*q));

		/* A lost trim only leaves stale bytes on the sub-host, never wrong data. */
		if (!q)
			return;
		g.trim_q = q;
		g.trim_cap = cap;
	}
	g.trim_q[g.trim_n++] = ((uint64_t)host << 56) | chunk;
	pthread_cond_signal(&g.evict_cond);
}

static void fault_done(uint64_t t0)
{
	pager_hist_add(&g.st.fault_us, (pager_now_ns() - t0) / 1000);
}

/* ------------------------------------------------------ dispatching */

#define HEADS_MAX 64

/* Heads the fault thread fetches itself after its dispatch round (fault thread only). */
struct head_batch {
	struct pager_job *job[HEADS_MAX];
	unsigned n;
};

static __thread struct head_batch *tl_heads;

static void task_push_locked(struct pager_job *j, bool head)
{
	struct pager_task *t = calloc(1, sizeof(*t));

	if (!t)
		abort(); /* a lost task would hang a vCPU for ever */
	t->job = j;
	t->head = head;
	if (head) { /* the faulting page goes before any tail */
		t->next = g.tasks;
		g.tasks = t;
		if (!g.tasks_tail)
			g.tasks_tail = t;
	} else {
		if (g.tasks_tail)
			g.tasks_tail->next = t;
		else
			g.tasks = t;
		g.tasks_tail = t;
	}
	pthread_cond_signal(&g.work_cond);
}

/* A write to a MAIN chunk installed write-protected: its clean copy is stale now. */
static void fault_wp_locked(uint64_t chunk, uint64_t addr, uint64_t t0)
{
	uint64_t e = vmt_pt_load(&g.pt, chunk);
	int copy = vmt_pt_e_copy(e);

	atomic_fetch_add(&g.st.wp_faults, 1);
	if (copy >= 0) {
		vmt_pt_drop_copy(&g.pt, chunk);
		pager_queue_trim_locked(copy, chunk);
	}
	pager_policy_touch(&g.policy, chunk);
	/* The whole chunk: one fault per chunk, not per page; this wakes the writer. */
	if (pager_uffd_wp(pager_chunk_addr(chunk), pager_chunk_len(chunk), false) < 0)
		pager_uffd_wake(addr, PAGER_PAGE);
	fault_done(t0);
}

static void fault_zero_locked(uint64_t chunk, uint64_t addr, uint64_t t0)
{
	int err = pager_uffd_zero(addr);

	if (err == -EEXIST)
		pager_uffd_wake(addr, PAGER_PAGE);
	else if (err)
		pager_log("zero page at %#llx: %s", (unsigned long long)addr, strerror(-err));
	atomic_fetch_add(&g.st.zero_fills, 1);
	pager_policy_touch(&g.policy, chunk);
	fault_done(t0);
}

static void fault_absent_locked(uint64_t chunk, uint64_t addr, uint64_t flags, uint64_t t0)
{
	uint64_t old;

	if (!pager_admit_ok_locked(1)) {
		fault_wait_room_locked(addr, flags, t0);
		return;
	}
	vmt_pt_move_begin(&g.pt, chunk, &old);
	fault_zero_locked(chunk, addr, t0);
	vmt_pt_move_end(&g.pt, chunk, VMT_PT_MAIN, -1);
	pager_policy_add(&g.policy, chunk);
	if (!pager_admit_ok_locked(0) || g.cap_chunks)
		pthread_cond_signal(&g.evict_cond);
}

static void fault_sub_locked(uint64_t chunk, int host, uint64_t addr, uint64_t flags, uint64_t t0)
{
	struct pager_job *j;
	uint64_t old;

	if (!pager_admit_ok_locked(1)) {
		fault_wait_room_locked(addr, flags, t0);
		return;
	}
	j = pager_job_new_locked(chunk, JOB_IN);
	if (!j)
		abort();
	j->host = host;
	j->by_fault = true;
	j->head = addr;
	j->t0_ns = t0;
	j->parts = pager_chunk_len(chunk) > PAGER_PAGE ? 2 : 1;
	g.inflight_in++;
	vmt_pt_move_begin(&g.pt, chunk, &old);
	if (tl_heads && tl_heads->n < HEADS_MAX && !atomic_load(&g.host_down[host]))
		tl_heads->job[tl_heads->n++] = j;
	else
		task_push_locked(j, true);
	if (j->parts == 2 && g.conf.tail_after_head)
		j->tail_waits = true;
	else if (j->parts == 2)
		task_push_locked(j, false);
}

#define TRACE_MAX 1000000 /* lines: a debugging trace must not fill the disk */

/*
 * "K OFFSET NS": K = S (on a sub-host: page-in), A (absent: zero fill),
 * M (a hole in a main chunk), W (write-protect); OFFSET in the RAM file.
 */
void pager_trace_locked(char kind, uint64_t off)
{
	struct timespec ts;
	char line[64];
	int n;

	if (g.trace_fd < 0 || g.trace_n >= TRACE_MAX)
		return;
	g.trace_n++;
	clock_gettime(CLOCK_REALTIME, &ts);
	n = snprintf(line, sizeof(line), "%c %llx %lld%09ld\n", kind, (unsigned long long)off,
		     (long long)ts.tv_sec, ts.tv_nsec);
	if (write(g.trace_fd, line, (size_t)n) < 0)
		g.trace_n = TRACE_MAX;
}

void pager_fault_dispatch_locked(uint64_t addr, uint64_t flags, uint64_t t0)
{
	uint64_t off = addr - g.base + g.map_off, chunk = off >> g.pt.hdr->chunk_shift;
	struct pager_job *j = pager_job_find_locked(chunk);
	uint64_t e;
	unsigned loc;

	if (j) {
		fault_hold(&j->waiters, addr, flags, t0);
		return;
	}
	e = vmt_pt_load(&g.pt, chunk);
	loc = vmt_pt_e_loc(e);
	if (g.trace_fd >= 0)
		pager_trace_locked((flags & UFFD_PAGEFAULT_FLAG_WP) ? 'W'
				   : loc == VMT_PT_MAIN		    ? 'M'
				   : loc == VMT_PT_ABSENT	    ? 'A'
								    : 'S',
				   off);
	/* On a sub-host's chunk it is a page a failed page-in left: page the chunk in first. */
	if ((flags & UFFD_PAGEFAULT_FLAG_WP) && vmt_pt_loc_host(loc) < 0) {
		fault_wp_locked(chunk, addr, t0);
		return;
	}
	if (loc == VMT_PT_MAIN) {
		if (vmt_pt_e_copy(e) >= 0) { /* a hole in a clean chunk: it changes now */
			vmt_pt_drop_copy(&g.pt, chunk);
			pager_queue_trim_locked(vmt_pt_e_copy(e), chunk);
		}
		fault_zero_locked(chunk, addr, t0);
	} else if (loc == VMT_PT_ABSENT) {
		fault_absent_locked(chunk, addr, flags, t0);
	} else if (vmt_pt_loc_host(loc) >= 0 &&
		   (unsigned)vmt_pt_loc_host(loc) < g.pt.hdr->nr_hosts) {
		fault_sub_locked(chunk, vmt_pt_loc_host(loc), addr, flags, t0);
	} else {
		pager_log("chunk %llu: bad location %u: vCPU left waiting",
			  (unsigned long long)chunk, loc);
		atomic_fetch_add(&g.st.errors, 1);
	}
}

/* ---------------------------------------------------------- page-in */

/* UFFDIO_COPY of [dst, dst+len), page by page where some page exists already. */
int pager_install(uint64_t dst, const void *src, uint64_t len)
{
	int err = pager_uffd_copy(dst, src, len, true);

	if (err != -EEXIST && err != -EAGAIN)
		return err;
	for (uint64_t o = 0; o < len; o += PAGER_PAGE) {
		for (int tries = 0; tries < 1000; tries++) {
			err = pager_uffd_copy(dst + o, (const char *)src + o, PAGER_PAGE, true);
			if (err != -EAGAIN)
				break;
		}
		if (err == -EEXIST)
			err = pager_uffd_wake(dst + o, PAGER_PAGE);
		if (err)
			return err;
	}
	return 0;
}

/*
 * A part was not installed (quit, or a broken mapping): the data is still
 * on its sub-host only, so the chunk stays there (MAIN would read its holes
 * as zeros).  Every vCPU that waits on it is woken to fault again.
 */
static void pagein_failed_locked(struct pager_job *j)
{
	struct pager_fault *f = j->waiters;

	vmt_pt_move_end(&g.pt, j->chunk, VMT_PT_SUB + (unsigned)j->host, -1);
	g.inflight_in--;
	if (j->head)
		pager_uffd_wake(j->head, PAGER_PAGE);
	pager_job_free_locked(j);
	while (f) {
		struct pager_fault *n = f->next;

		pager_uffd_wake(f->addr, PAGER_PAGE);
		free(f);
		f = n;
	}
	pthread_cond_broadcast(&g.cond);
}

/* The job's fetches are all installed: the chunk is MAIN, with a clean copy on its host. */
void pager_pagein_done_locked(struct pager_job *j)
{
	struct pager_fault *f = j->waiters;
	uint64_t len = pager_chunk_len(j->chunk);

	if (j->failed) {
		pagein_failed_locked(j);
		return;
	}
	vmt_pt_move_end(&g.pt, j->chunk, VMT_PT_MAIN, g.have_wp ? j->host : -1);
	pager_policy_add(&g.policy, j->chunk);
	g.inflight_in--;
	atomic_fetch_add(&g.st.pageins, 1);
	atomic_fetch_add(&g.st.bytes_in, len);
	pager_job_free_locked(j);
	while (f) {
		struct pager_fault *n = f->next;

		if (f->flags & UFFD_PAGEFAULT_FLAG_WP) {
			pager_fault_dispatch_locked(f->addr, f->flags, f->t0_ns);
		} else {
			pager_uffd_wake(f->addr, PAGER_PAGE);
			fault_done(f->t0_ns);
		}
		free(f);
		f = n;
	}
	pthread_cond_broadcast(&g.cond);
	if (g.cap_chunks)
		pthread_cond_signal(&g.evict_cond);
}

int pager_fetch_retry(struct pager_conns *c, const int *hosts, struct vmt_subhost_io *io, size_t n,
		      uint64_t deadline_ns)
{
	for (unsigned attempt = 0;; attempt++) {
		int err = 0;

		for (size_t i = 0; i < n && !err; i++)
			err = pager_conn_get(c, hosts[i], &io[i].host);
		if (!err && n == 1)
			err = io[0].err =
			    vmt_subhost_pread(io[0].host, io[0].buf, io[0].len, io[0].off);
		else if (!err)
			err = vmt_subhost_pread_batch(io, n);
		if (!err)
			return 0;
		pager_log("fetch from sub-host %d at %llu: %s (attempt %u)", hosts[0],
			  (unsigned long long)io[0].off, strerror(-err), attempt + 1);
		atomic_fetch_add(&g.st.retries, 1);
		for (size_t i = 0; i < n; i++)
			pager_conn_drop(c, hosts[i]);
		if (deadline_ns && pager_now_ns() >= deadline_ns)
			return -ETIMEDOUT;
		if (!pager_sleep_backoff(attempt))
			return -ECANCELED;
	}
}

/* Fetch and install one part of a page-in: the faulting page, or the rest around it. */
static int worker_fetch(struct pager_conns *c, struct pager_task *t, char *buf)
{
	struct pager_job *j = t->job;
	uint64_t start = pager_chunk_addr(j->chunk), len = pager_chunk_len(j->chunk);
	uint64_t foff = j->chunk << g.pt.hdr->chunk_shift, hoff = j->head - start;
	struct vmt_subhost_io io[2] = {{0}};
	int hosts[2] = {j->host, j->host}, err;
	size_t n = 0;

	if (t->head) {
		io[n++] =
		    (struct vmt_subhost_io){.off = foff + hoff, .len = PAGER_PAGE, .buf = buf};
	} else {
		if (hoff)
			io[n++] = (struct vmt_subhost_io){.off = foff, .len = hoff, .buf = buf};
		if (hoff + PAGER_PAGE < len)
			io[n++] = (struct vmt_subhost_io){.off = foff + hoff + PAGER_PAGE,
							  .len = len - hoff - PAGER_PAGE,
							  .buf = buf + hoff + PAGER_PAGE};
	}
	err = pager_fetch_retry(c, hosts, io, n, 0);
	for (size_t i = 0; !err && i < n; i++)
		err = pager_install(start + ((char *)io[i].buf - buf) + (t->head ? hoff : 0),
				    io[i].buf, io[i].len);
	return err;
}

/* The faulting page is in and its vCPU awake: latency, and the job's last part? */
static void head_done_locked(struct pager_job *j)
{
	if (j->by_fault) {
		fault_done(j->t0_ns);
		pager_hist_add(&g.st.pagein_us, (pager_now_ns() - j->t0_ns) / 1000);
	}
	if (j->tail_waits) {
		j->tail_waits = false;
		task_push_locked(j, false);
	}
	if (--j->parts == 0)
		pager_pagein_done_locked(j);
}

static struct pager_task *worker_next_locked(void)
{
	struct pager_task *t;

	while (!g.tasks && !atomic_load(&g.quit))
		pthread_cond_wait(&g.work_cond, &g.lock);
	t = g.tasks;
	if (t) {
		g.tasks = t->next;
		if (!g.tasks)
			g.tasks_tail = NULL;
	}
	return t;
}

static void *worker_main(void *arg)
{
	struct pager_conns c = {.io_timeout_ms = 0};
	char *buf = aligned_alloc(PAGER_PAGE, g.chunk);

	if (!buf)
		abort();
	pthread_mutex_lock(&g.lock);
	for (;;) {
		struct pager_task *t = worker_next_locked();
		int err;

		if (!t)
			break;
		pthread_mutex_unlock(&g.lock);
		err = worker_fetch(&c, t, buf);
		if (!err)
			atomic_store(&g.host_down[t->job->host], false);
		pthread_mutex_lock(&g.lock);
		if (err) {
			/* Only a quit or a broken mapping gets here: the vCPU must not see zeros.
			 */
			pager_log("page-in of chunk %llu failed: %s",
				  (unsigned long long)t->job->chunk, strerror(-err));
			atomic_fetch_add(&g.st.errors, 1);
			t->job->failed = true;
		}
		if (t->head)
			head_done_locked(t->job);
		else if (--t->job->parts == 0)
			pager_pagein_done_locked(t->job);
		free(t);
	}
	pthread_mutex_unlock(&g.lock);
	pager_conns_close(&c);
	free(buf);
	return NULL;
}

/* ----------------------------------------------------- fault thread */

/*
 * The heads of this round, all in flight at once on the fault thread's own
 * handles, one attempt; what fails goes to the workers.
 */
static void fault_fetch_heads(struct pager_conns *c, struct head_batch *b, char *buf)
{
	struct vmt_subhost_io io[HEADS_MAX];
	int hosts[HEADS_MAX], err = 0;
	uint64_t t0 = pager_now_ns();

	for (unsigned i = 0; i < b->n; i++) {
		struct pager_job *j = b->job[i];

		hosts[i] = j->host;
		io[i] = (struct vmt_subhost_io){.off = (j->chunk << g.pt.hdr->chunk_shift) +
						       (j->head - pager_chunk_addr(j->chunk)),
						.len = PAGER_PAGE,
						.buf = buf + (size_t)i * PAGER_PAGE};
		if (!err)
			err = pager_conn_get(c, hosts[i], &io[i].host);
	}
	if (!err && b->n == 1)
		err = io[0].err = vmt_subhost_pread(io[0].host, buf, PAGER_PAGE, io[0].off);
	else if (!err)
		err = vmt_subhost_pread_batch(io, b->n);
	pager_hist_add(&g.st.head_net_us, (pager_now_ns() - t0) / 1000);
	for (unsigned i = 0; i < b->n; i++) {
		int e = err ? (io[i].err ? io[i].err : err) : 0;

		if (!e)
			e = pager_install(b->job[i]->head, io[i].buf, PAGER_PAGE);
		pthread_mutex_lock(&g.lock);
		if (!e) {
			atomic_fetch_add(&g.st.inline_heads, 1);
			head_done_locked(b->job[i]);
		} else {
			if (!atomic_exchange(&g.host_down[hosts[i]], true))
				pager_log("sub-host %d: %s; the workers retry", hosts[i],
					  strerror(-e));
			pager_conn_drop(c, hosts[i]);
			task_push_locked(b->job[i], true);
		}
		pthread_mutex_unlock(&g.lock);
	}
	b->n = 0;
}

static void fault_read_all(struct pager_conns *c, char *buf)
{
	struct uffd_msg msg[HEADS_MAX];
	struct head_batch heads = {.n = 0};

	for (;;) {
		ssize_t n = read(g.uffd, msg, sizeof(msg));
		uint64_t t0 = pager_now_ns();

		if (n <= 0)
			return; /* EAGAIN: drained */
		pthread_mutex_lock(&g.lock);
		tl_heads = &heads;
		for (size_t i = 0; i < (size_t)n / sizeof(msg[0]); i++) {
			if (msg[i].event != UFFD_EVENT_PAGEFAULT)
				continue;
			atomic_fetch_add(&g.st.faults, 1);
			pager_fault_dispatch_locked(msg[i].arg.pagefault.address &
							~(uint64_t)(PAGER_PAGE - 1),
						    msg[i].arg.pagefault.flags, t0);
		}
		tl_heads = NULL;
		pthread_mutex_unlock(&g.lock);
		if (heads.n)
			fault_fetch_heads(c, &heads, buf);
	}
}

static void *fault_main(void *arg)
{
	struct pollfd p[2] = {{.fd = g.uffd, .events = POLLIN},
			      {.fd = g.quit_fd, .events = POLLIN}};
	/* A short timeout: while it waits here, no other fault is answered. */
	struct pager_conns c = {.io_timeout_ms = 1000};
	char *buf = aligned_alloc(PAGER_PAGE, HEADS_MAX * PAGER_PAGE);

	if (!buf)
		abort();
	while (!atomic_load(&g.quit)) {
		int n = poll(p, 2, 1000);

		if (n < 0 && errno != EINTR) {
			pager_log("poll: %s", strerror(errno));
			break;
		}
		if (n > 0 && (p[0].revents & POLLIN))
			fault_read_all(&c, buf);
	}
	pager_conns_close(&c);
	free(buf);
	return NULL;
}

int pager_fault_start(void)
{
	int err;

	g.nr_workers = g.conf.workers;
	err = pthread_create(&g.fault_thr, NULL, fault_main, NULL);
	for (unsigned i = 0; !err && i < g.nr_workers; i++)
		err = pthread_create(&g.workers[i], NULL, worker_main, NULL);
	return -err;
}

// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * ctl.c - the command socket (pager_proto.h): a listener thread accepts,
 * and each client (at most PAGER_MAX_CLIENTS) gets a thread of its own,
 * so a long PAGEIN never holds up another client's STATS or PING.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "pager/pager.h"
#include "pager/pager_proto.h"

#define CTL_BATCH_BYTES (8u << 20)
#define CTL_BATCH_MAX	256
#define CTL_SCAN_MAX	4096  /* chunks looked at per hold of g.lock (faults wait on it) */
#define CTL_IDLE_MS	10000 /* a client silent this long gives its slot back */

struct ctl_client {
	int fd;
	pthread_t thr;
	atomic_bool done;
};

static struct ctl_client clients[PAGER_MAX_CLIENTS];

/* ------------------------------------------------------------ framing */

/*
 * Whole count or an error; -ECONNRESET on EOF; gives up on quit (polls 200 ms
 * at a time), and with -ETIMEDOUT after CTL_IDLE_MS without a byte moving:
 * the clients are few (PAGER_MAX_CLIENTS), idle ones must not keep them all.
 */
static int ctl_io(int fd, void *buf, size_t len, bool wr)
{
	uint64_t last = pager_now_ns();
	size_t done = 0;

	while (done < len) {
		struct pollfd p = {.fd = fd, .events = wr ? POLLOUT : POLLIN};
		ssize_t n;

		if (atomic_load(&g.quit))
			return -ECANCELED;
		if (pager_now_ns() - last >= (uint64_t)CTL_IDLE_MS * 1000000)
			return -ETIMEDOUT;
		if (poll(&p, 1, 200) <= 0)
			continue;
		n = wr ? send(fd, (char *)buf + done, len - done, MSG_NOSIGNAL)
		       : recv(fd, (char *)buf + done, len - done, 0);
		if (n == 0)
			return -ECONNRESET;
		if (n < 0 && errno != EINTR && errno != EAGAIN)
			return -errno;
		if (n > 0) {
			done += (size_t)n;
			last = pager_now_ns();
		}
	}
	return 0;
}

static int ctl_reply(int fd, uint16_t op, int status, uint64_t value, const char *payload,
		     uint32_t len)
{
	struct vmt_pager_rep rep = {
	    .magic = VMT_PAGER_MAGIC,
	    .version = VMT_PAGER_VERSION,
	    .op = op,
	    .status = status,
	    .len = len,
	    .value = value,
	};
	int err = ctl_io(fd, &rep, sizeof(rep), true);

	return err || !len ? err : ctl_io(fd, (void *)payload, len, true);
}

/* -------------------------------------------------------------- STATS */

static int hist_json(char *b, size_t n, const char *name, const struct pager_hist *h)
{
	return snprintf(
	    b, n, "\"%s\":{\"n\":%llu,\"p50\":%llu,\"p90\":%llu,\"p99\":%llu,\"max\":%llu}", name,
	    (unsigned long long)atomic_load(&h->n), (unsigned long long)pager_hist_pct(h, 50),
	    (unsigned long long)pager_hist_pct(h, 90), (unsigned long long)pager_hist_pct(h, 99),
	    (unsigned long long)atomic_load(&h->max));
}

/* A page-table string as JSON string content: quotes, backslashes and controls dropped. */
static const char *json_safe(const char *in, char *out, size_t n)
{
	size_t o = 0;

	for (size_t i = 0; in[i] && i < n - 1 && o < n - 1; i++)
		if ((unsigned char)in[i] >= 0x20 && in[i] != '"' && in[i] != '\\')
			out[o++] = in[i];
	out[o] = '\0';
	return out;
}

int pager_stats_json(char *buf, size_t len)
{
	const struct pager_stats *s = &g.st;
	const struct vmt_pt_header *h = g.pt.hdr;
	size_t o = 0;

#define J(...)	o += (size_t)snprintf(buf + o, o < len ? len - o : 0, __VA_ARGS__)
#define C(name) J("\"" #name "\":%llu,", (unsigned long long)atomic_load(&s->name))
	J("{\"pid\":%d,\"policy\":\"%s\",\"chunk_bytes\":%llu,", (int)getpid(),
	  pager_policy_name(g.conf.policy), (unsigned long long)g.chunk);
	C(faults);
	C(wp_faults);
	C(inline_heads);
	C(zero_fills);
	C(pageins);
	C(pageouts);
	C(pageouts_skipped_clean);
	C(pageouts_zero);
	C(bytes_in);
	C(bytes_out);
	C(trims);
	C(retries);
	C(errors);
	C(deferred);
	C(cap_waits);
	C(pagein_cmds);
	C(pagein_batches);
	C(pagein_reads);
	C(pagein_wait_us);
	C(pagein_cmd_us);
	C(pagein_net_us);
	C(pagein_install_us);
	C(hint_chunks);
	C(hint_us);
	C(pageouts_ids);
	J("\"resident_chunks\":%llu,\"absent_chunks\":%llu,\"cap_chunks\":%llu,"
	  "\"low_chunks\":%llu,\"burst_chunks\":%llu,",
	  (unsigned long long)atomic_load(&h->main_chunks),
	  (unsigned long long)atomic_load(&h->absent_chunks), (unsigned long long)g.cap_chunks,
	  (unsigned long long)g.low_chunks, (unsigned long long)g.burst_chunks);
	o += (size_t)hist_json(buf + o, o < len ? len - o : 0, "fault_us", &s->fault_us);
	J(",");
	o += (size_t)hist_json(buf + o, o < len ? len - o : 0, "pagein_us", &s->pagein_us);
	J(",");
	o += (size_t)hist_json(buf + o, o < len ? len - o : 0, "head_net_us", &s->head_net_us);
	J(",\"hosts\":[");
	for (unsigned k = 0; k < h->nr_hosts; k++) {
		char name[VMT_PT_NAME_MAX], addr[VMT_PT_ADDR_MAX];

		J("%s{\"name\":\"%s\",\"addr\":\"%s\",\"chunks\":%llu,\"copies\":%llu,\"quota_"
		  "chunks\":%llu}",
		  k ? "," : "", json_safe(h->hosts[k].name, name, sizeof(name)),
		  json_safe(h->hosts[k].addr, addr, sizeof(addr)),
		  (unsigned long long)atomic_load(&h->hosts[k].chunks),
		  (unsigned long long)atomic_load(&h->hosts[k].copies),
		  (unsigned long long)h->hosts[k].quota_chunks);
	}
	J("]}");
#undef C
#undef J
	return o < len ? (int)o : -ENOSPC;
}

/* ------------------------------------------------------------- PAGEIN */

struct pagein_cursor {
	const struct vmt_pager_range *r;
	uint32_t n, ri;
	uint64_t next; /* next chunk of range ri */
	bool started;
};

/* The next chunk the ranges touch, or false when all are walked. */
static bool cursor_peek(struct pagein_cursor *c, uint64_t *chunk)
{
	unsigned shift = g.pt.hdr->chunk_shift;

	while (c->ri < c->n) {
		const struct vmt_pager_range *r = &c->r[c->ri];
		uint64_t last = r->len ? (r->off + r->len - 1) >> shift : 0;

		if (!c->started) {
			c->next = r->off >> shift;
			c->started = true;
		}
		if (r->len && r->off + r->len > r->off && c->next <= last &&
		    c->next < g.nr_chunks) {
			*chunk = c->next;
			return true;
		}
		c->ri++;
		c->started = false;
	}
	return false;
}

/*
 * Take the next chunks that need a fetch into jobs, from every sub-host (a
 * batch's reads go to all of them at once); stop at a chunk in motion or at
 * no room.  Stopping where the sub-host changed cost one sequential round
 * trip per change: chunks paged out one at a time alternate between the
 * sub-hosts (the evictor gives each to the one with the most room), so a
 * listing's PAGEIN became a batch per chunk.  A frozen sub-host does not
 * hold the healthy ones' chunks: pagein_batch installs what arrived and
 * retries only what failed.
 */
static size_t pagein_take_locked(struct pagein_cursor *cur, struct pager_job **b, size_t max,
				 bool *blocked)
{
	size_t n = 0;
	uint64_t i, bytes = 0, old;
	unsigned scanned = 0;

	*blocked = false;
	/* Ranges over resident chunks cost no job: bound the walk, not only the jobs. */
	while (n < max && bytes + g.chunk <= CTL_BATCH_BYTES && scanned++ < CTL_SCAN_MAX &&
	       cursor_peek(cur, &i)) {
		uint64_t e = vmt_pt_load(&g.pt, i);
		int k = vmt_pt_loc_host(vmt_pt_e_loc(e));

		if (pager_job_find_locked(i) || (k >= 0 && !pager_admit_ok_locked(1))) {
			*blocked = true;
			break;
		}
		cur->next++;
		if (k < 0 || (unsigned)k >= g.pt.hdr->nr_hosts)
			continue;
		b[n] = pager_job_new_locked(i, JOB_IN);
		if (!b[n])
			break;
		b[n]->host = k;
		b[n]->parts = 1;
		g.inflight_in++;
		vmt_pt_move_begin(&g.pt, i, &old);
		bytes += g.chunk;
		n++;
	}
	return n;
}

/* The chunk stays on its sub-host; faults that waited on it fault again. */
static void pagein_abort_locked(struct pager_job *j)
{
	struct pager_fault *f = j->waiters;

	vmt_pt_move_end(&g.pt, j->chunk, VMT_PT_SUB + (unsigned)j->host, -1);
	g.inflight_in--;
	pager_job_free_locked(j);
	while (f) {
		struct pager_fault *n = f->next;

		pager_fault_dispatch_locked(f->addr, f->flags, f->t0_ns);
		free(f);
		f = n;
	}
	pthread_cond_broadcast(&g.cond);
}

/* Order of a batch: by sub-host, then chunk, so that runs of one host are adjacent. */
static int job_cmp(const void *a, const void *b)
{
	const struct pager_job *x = *(struct pager_job *const *)a,
			       *y = *(struct pager_job *const *)b;

	if (x->host != y->host)
		return x->host < y->host ? -1 : 1;
	return x->chunk < y->chunk ? -1 : x->chunk > y->chunk;
}

/* A batch's reads: one per run of consecutive chunks on one sub-host. */
struct pagein_runs {
	struct vmt_subhost_io io[CTL_BATCH_MAX];
	int host[CTL_BATCH_MAX];
	size_t first[CTL_BATCH_MAX], n[CTL_BATCH_MAX]; /* its jobs: b[first .. first + n) */
	size_t m;
};

static void pagein_runs_build(struct pagein_runs *r, struct pager_job **b, size_t n, char *buf)
{
	qsort(b, n, sizeof(*b), job_cmp);
	r->m = 0;
	for (size_t i = 0; i < n; i++) {
		uint64_t off = b[i]->chunk << g.pt.hdr->chunk_shift,
			 len = pager_chunk_len(b[i]->chunk);
		size_t m = r->m;

		if (m && r->host[m - 1] == b[i]->host &&
		    r->io[m - 1].off + r->io[m - 1].len == off) {
			r->io[m - 1].len += len;
			r->n[m - 1]++;
			continue;
		}
		r->host[m] = b[i]->host;
		r->io[m] =
		    (struct vmt_subhost_io){.off = off, .len = len, .buf = buf + i * g.chunk};
		r->first[m] = i;
		r->n[m] = 1;
		r->m++;
	}
}

/* Read every run still in r, all sub-hosts in flight at once: io[i].err per run. */
static void pagein_read(struct pager_conns *c, struct pagein_runs *r)
{
	struct vmt_subhost_io io[CTL_BATCH_MAX];
	size_t idx[CTL_BATCH_MAX], k = 0;

	for (size_t i = 0; i < r->m; i++) {
		r->io[i].err = pager_conn_get(c, r->host[i], &r->io[i].host);
		if (!r->io[i].err) {
			idx[k] = i;
			io[k++] = r->io[i];
		}
	}
	if (k) {
		uint64_t t0 = pager_now_ns();

		vmt_subhost_pread_batch(io, k);
		atomic_fetch_add(&g.st.pagein_net_us, (pager_now_ns() - t0) / 1000);
	}
	for (size_t i = 0; i < k; i++)
		r->io[idx[i]].err = io[i].err;
	atomic_fetch_add(&g.st.pagein_reads, k);
}

/*
 * Install the runs that arrived (one UFFDIO_COPY each, g.lock not held), then
 * end their jobs under one hold of g.lock (the evictor and the fault thread
 * wait on it); keep the runs whose read failed in r.
 */
static int pagein_settle(struct pagein_runs *r, struct pager_job **b, bool abort_all)
{
	int inst[CTL_BATCH_MAX], err = 0;
	uint64_t t0 = pager_now_ns();
	size_t keep = 0;

	for (size_t i = 0; i < r->m; i++) {
		inst[i] = r->io[i].err || abort_all
			      ? -ECANCELED
			      : pager_install(pager_chunk_addr(b[r->first[i]]->chunk), r->io[i].buf,
					      r->io[i].len);
		if (!r->io[i].err && !abort_all && !err)
			err = inst[i];
	}
	atomic_fetch_add(&g.st.pagein_install_us, (pager_now_ns() - t0) / 1000);
	pthread_mutex_lock(&g.lock);
	for (size_t i = 0; i < r->m; i++) {
		if (r->io[i].err && !abort_all) {
			r->io[keep] = r->io[i];
			r->host[keep] = r->host[i];
			r->first[keep] = r->first[i];
			r->n[keep++] = r->n[i];
			continue;
		}
		for (size_t j = r->first[i]; j < r->first[i] + r->n[i]; j++) {
			if (inst[i])
				pagein_abort_locked(b[j]);
			else
				pager_pagein_done_locked(b[j]);
		}
	}
	pthread_mutex_unlock(&g.lock);
	r->m = keep;
	return err;
}

/*
 * Fetch and install a batch.  Runs that fail are read again (their sub-host's
 * connection dropped, with backoff) until the deadline; the others are
 * installed and done as soon as they arrive.  0, or the first error (the runs
 * not installed stay on their sub-hosts).
 */
static int pagein_batch(struct pager_conns *c, struct pager_job **b, size_t n, char *buf,
			uint64_t deadline)
{
	struct pagein_runs *r = malloc(sizeof(*r));
	int err = 0;

	if (!r) {
		pthread_mutex_lock(&g.lock);
		for (size_t i = 0; i < n; i++)
			pagein_abort_locked(b[i]);
		pthread_mutex_unlock(&g.lock);
		return -ENOMEM;
	}
	pagein_runs_build(r, b, n, buf);
	atomic_fetch_add(&g.st.pagein_batches, 1);
	for (unsigned attempt = 0; r->m && !err; attempt++) {
		int ferr;

		pagein_read(c, r);
		err = pagein_settle(r, b, false);
		if (!r->m)
			break;
		ferr = r->io[0].err;
		pager_log("page-in from sub-host %d at %llu: %s (attempt %u)", r->host[0],
			  (unsigned long long)r->io[0].off, strerror(-ferr), attempt + 1);
		atomic_fetch_add(&g.st.retries, 1);
		for (size_t i = 0; i < r->m; i++)
			pager_conn_drop(c, r->host[i]);
		if (pager_now_ns() >= deadline)
			err = -ETIMEDOUT;
		else if (!pager_sleep_backoff(attempt))
			err = -ECANCELED;
	}
	if (r->m)
		pagein_settle(r, b, true);
	free(r);
	return err;
}

/* Wait (g.lock held) at most 20 ms for room under the cap or for a chunk in motion. */
static void pagein_wait_locked(void)
{
	uint64_t t0 = pager_now_ns();
	struct timespec ts;

	pthread_cond_signal(&g.evict_cond);
	pager_deadline_in(20 * 1000000ull, &ts);
	pthread_cond_timedwait(&g.cond, &g.lock, &ts);
	atomic_fetch_add(&g.st.pagein_wait_us, (pager_now_ns() - t0) / 1000);
}

/*
 * One step of a PAGEIN: page the next batch of cur's chunks in (at most
 * max), or wait for room or for a chunk in motion.  1: more to do, 0: every
 * chunk cur touches is resident, or the first error.  *value += chunks
 * paged in.
 */
static int pagein_step(struct pager_conns *c, struct pagein_cursor *cur, size_t max, char *buf,
		       uint64_t deadline, uint64_t *value)
{
	struct pager_job *b[CTL_BATCH_MAX];
	uint64_t dummy;
	bool blocked;
	size_t n;
	int err;

	pthread_mutex_lock(&g.lock);
	n = pagein_take_locked(cur, b, max, &blocked);
	if (!n && blocked)
		pagein_wait_locked();
	pthread_mutex_unlock(&g.lock);
	if (n) {
		err = pagein_batch(c, b, n, buf, deadline);
		if (err)
			return err;
		*value += n;
		return 1;
	}
	return blocked || cursor_peek(cur, &dummy);
}

/* buf: the client's CTL_BATCH_BYTES of staging for the sub-hosts' data. */
static int ctl_pagein(struct pager_conns *c, const struct vmt_pager_range *r, uint32_t nr,
		      uint32_t timeout_ms, char *buf, uint64_t *value)
{
	struct pagein_cursor cur = {.r = r, .n = nr};
	uint64_t deadline = pager_now_ns() + (uint64_t)(timeout_ms ? timeout_ms : 30000) * 1000000;
	int st;

	*value = 0;
	while ((st = pagein_step(c, &cur, CTL_BATCH_MAX, buf, deadline, value)) > 0) {
		if (pager_now_ns() >= deadline)
			return -ETIMEDOUT;
		if (atomic_load(&g.quit))
			return -ECANCELED;
	}
	return st;
}

/* -------------------------------------------------------------- HINT */

/*
 * A client's hints (VMT_PAGER_HINT): ranges it will ask for soon, paged in
 * while it sends nothing else.  Whatever arrived during a batch goes in the
 * next one, so the batches grow with the rate the hints come at instead of
 * costing a round trip each.  A hint that fails is forgotten: the PAGEIN
 * that follows it, if any, says why.
 */
#define CTL_HINTS_MAX	  65536 /* ranges queued per client; more are dropped */
#define CTL_HINT_DEADLINE 2000	/* ms a batch of hints may retry a sub-host */

struct ctl_hints {
	struct vmt_pager_range *r;
	uint32_t n, cap;
	struct pagein_cursor cur;
	uint64_t since; /* when the oldest hint not taken yet came */
};

static void hints_clear(struct ctl_hints *h)
{
	h->n = 0;
	h->cur = (struct pagein_cursor){.r = h->r};
}

static void hints_add(struct ctl_hints *h, const struct vmt_pager_range *r, uint32_t n)
{
	if (h->n + n > h->cap) {
		uint32_t cap = h->cap ? h->cap : 1024;
		struct vmt_pager_range *g2;

		while (cap < h->n + n)
			cap *= 2;
		if (cap > CTL_HINTS_MAX || !(g2 = realloc(h->r, cap * sizeof(*g2))))
			return;
		h->r = g2;
		h->cap = cap;
		h->cur.r = g2;
	}
	if (h->cur.ri >= h->n)
		h->since = pager_now_ns();
	memcpy(h->r + h->n, r, n * sizeof(*r));
	h->n += n;
	h->cur.n = h->n;
}

/*
 * How long to wait for more hints before a batch (ns; 0: take one now).  A
 * batch of a few chunks costs about what one of many costs in the pager's
 * CPU, and a walk slowed by that CPU sends its hints slower still: batches
 * of a few chunks fed on themselves (82 batches for 846 chunks in one
 * listing, 39 ms against 29-32).  So a batch starts once CTL_HINT_GATHER
 * ranges wait, or the oldest has waited CTL_HINT_GATHER_US.
 */
#define CTL_HINT_GATHER	   32
#define CTL_HINT_GATHER_US 300

/*
 * Most chunks a batch of hints takes.  The client's PAGEINs wait for the
 * batch under way (one thread serves both), and a walk that has caught up
 * with its hints asks for its next slice of pages while a batch brings
 * them: batches of 256 chunks (1 MiB, 4-6 ms on two 1 Gbit links) made a
 * method-2 `ps` of 1,000 processes 27.1 ms, batches of 64 23.6 ms (medians
 * of 16 instances, alternating; 1.47 and 1.31 times method 1 of the same
 * instance).
 */
#define CTL_HINT_BATCH 64

static uint64_t hints_gather_ns(const struct ctl_hints *h)
{
	uint64_t age = pager_now_ns() - h->since, max = (uint64_t)CTL_HINT_GATHER_US * 1000;

	if (h->n - h->cur.ri >= CTL_HINT_GATHER || age >= max)
		return 0;
	return max - age;
}

static void hints_step(struct pager_conns *c, struct ctl_hints *h, char *buf)
{
	uint64_t value = 0, t0 = pager_now_ns();
	int st;

	pager_ids_reading();
	st = pagein_step(c, &h->cur, CTL_HINT_BATCH, buf,
			 t0 + (uint64_t)CTL_HINT_DEADLINE * 1000000, &value);

	atomic_fetch_add(&g.st.hint_chunks, value);
	atomic_fetch_add(&g.st.hint_us, (pager_now_ns() - t0) / 1000);
	if (st <= 0)
		hints_clear(h);
}

/* ----------------------------------------------------------- clients */

/*
 * Sub-host handles a finished client left for the next one: a listing is
 * a client of its own, and a TLS handshake with each sub-host at its first
 * page-in cost it 1-6 ms.  One set is made when the pager starts, so even
 * the first listing finds its handles ready.
 */
#define CTL_POOL 2

static struct pager_conns pool[CTL_POOL];
static unsigned pool_n;
static pthread_mutex_t pool_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_t pool_thr;
static bool pool_thr_started;

static void pool_take(struct pager_conns *c)
{
	pthread_mutex_lock(&pool_lock);
	if (pool_n)
		*c = pool[--pool_n];
	pthread_mutex_unlock(&pool_lock);
	for (int k = 0; k < VMT_PT_MAX_HOSTS; k++)
		if (c->h[k] && !vmt_subhost_idle_ok(c->h[k]))
			pager_conn_drop(c, k); /* its server went away meanwhile */
}

/* Keep c's handles for the next client (c is emptied), or close them. */
static void pool_give(struct pager_conns *c)
{
	pthread_mutex_lock(&pool_lock);
	if (pool_n < CTL_POOL && !atomic_load(&g.quit)) {
		pool[pool_n++] = *c;
		*c = (struct pager_conns){.io_timeout_ms = c->io_timeout_ms};
	}
	pthread_mutex_unlock(&pool_lock);
	pager_conns_close(c);
}

static void *pool_fill(void *arg)
{
	struct pager_conns c = {.io_timeout_ms = 0};
	struct vmt_subhost *h;

	for (unsigned k = 0; k < g.pt.hdr->nr_hosts && !atomic_load(&g.quit); k++)
		pager_conn_get(&c, (int)k, &h); /* one that fails is tried again when needed */
	pool_give(&c);
	return NULL;
}

static void pool_close(void)
{
	if (pool_thr_started)
		pthread_join(pool_thr, NULL);
	pthread_mutex_lock(&pool_lock);
	while (pool_n)
		pager_conns_close(&pool[--pool_n]);
	pthread_mutex_unlock(&pool_lock);
}

/* The client's staging for PAGEIN data, allocated once. */
static int ctl_staging(char **buf)
{
	if (!*buf)
		*buf = aligned_alloc(PAGER_PAGE, CTL_BATCH_BYTES);
	return *buf ? 0 : -ENOMEM;
}

static int ctl_pagein_req(int fd, struct pager_conns *c, char **buf,
			  const struct vmt_pager_req *req, struct ctl_hints *h)
{
	struct vmt_pager_range *r = calloc(req->n ? req->n : 1, sizeof(*r));
	uint64_t value = 0, t0;
	int err, st;

	if (!r)
		return ctl_reply(fd, req->op, -ENOMEM, 0, NULL, 0);
	pager_ids_reading();
	err = ctl_io(fd, r, req->n * sizeof(*r), false);
	if (!err && req->op == VMT_PAGER_HINT) {
		if (req->n)
			hints_add(h, r, req->n);
		else
			hints_clear(h);
	} else if (!err && (st = ctl_staging(buf))) {
		err = ctl_reply(fd, req->op, st, 0, NULL, 0);
	} else if (!err) {
		t0 = pager_now_ns();
		atomic_fetch_add(&g.st.pagein_cmds, 1);
		st = ctl_pagein(c, r, req->n, req->timeout_ms, *buf, &value);
		atomic_fetch_add(&g.st.pagein_cmd_us, (pager_now_ns() - t0) / 1000);
		err = ctl_reply(fd, req->op, st, value, NULL, 0);
	}
	free(r);
	return err;
}

/*
 * One request of a client.  buf: the client's staging for PAGEIN data,
 * allocated once (an 8 MiB allocation per PAGEIN was an mmap and a munmap
 * each, the munmap's TLB shootdown reaching every vCPU thread of QEMU).
 */
static int ctl_request(int fd, struct pager_conns *c, char **buf, struct ctl_hints *h)
{
	struct vmt_pager_req req;
	char *json;
	int err = ctl_io(fd, &req, sizeof(req), false), st;
	bool ranges = req.op == VMT_PAGER_PAGEIN || req.op == VMT_PAGER_HINT;

	if (err)
		return err;
	if (req.magic != VMT_PAGER_MAGIC || req.version != VMT_PAGER_VERSION ||
	    (ranges && req.n > VMT_PAGER_MAX_RANGES)) {
		ctl_reply(fd, req.op, -EPROTO, 0, NULL, 0);
		return -EPROTO;
	}
	switch (req.op) {
	case VMT_PAGER_PING:
		return ctl_reply(fd, req.op, 0, (uint64_t)getpid(), NULL, 0);
	case VMT_PAGER_STATS:
		json = malloc(65536);
		st = json ? pager_stats_json(json, 65536) : -ENOMEM;
		err = ctl_reply(fd, req.op, st < 0 ? st : 0, 0, json, st < 0 ? 0 : (uint32_t)st);
		free(json);
		return err;
	case VMT_PAGER_PAGEIN:
	case VMT_PAGER_HINT:
		return ctl_pagein_req(fd, c, buf, &req, h);
	default:
		ctl_reply(fd, req.op, -EPROTO, 0, NULL, 0);
		return -EPROTO;
	}
}

/* A request (or the client's end) is waiting to be read, or comes within wait_ns. */
static bool ctl_pending(int fd, uint64_t wait_ns)
{
	struct pollfd p = {.fd = fd, .events = POLLIN};
	struct timespec ts = {(time_t)(wait_ns / 1000000000), (long)(wait_ns % 1000000000)};

	return ppoll(&p, 1, &ts, NULL) > 0;
}

/* Requests first; hints while the client sends nothing. */
static void *client_main(void *arg)
{
	struct ctl_client *cl = arg;
	struct pager_conns c = {.io_timeout_ms = 0};
	struct ctl_hints h = {0};
	char *buf = NULL;

	pool_take(&c);
	for (;;) {
		if (h.n && !atomic_load(&g.quit) && !ctl_pending(cl->fd, hints_gather_ns(&h))) {
			if (!ctl_staging(&buf))
				hints_step(&c, &h, buf);
			else
				hints_clear(&h);
			continue;
		}
		if (ctl_request(cl->fd, &c, &buf, &h))
			break;
	}
	free(h.r);
	free(buf);
	pool_give(&c);
	close(cl->fd);
	atomic_store(&cl->done, true);
	return NULL;
}

/* A free slot (joining finished clients), or NULL if all are busy. */
static struct ctl_client *ctl_slot(void)
{
	for (int i = 0; i < PAGER_MAX_CLIENTS; i++) {
		if (clients[i].fd > 0 && atomic_load(&clients[i].done)) {
			pthread_join(clients[i].thr, NULL);
			clients[i].fd = 0;
		}
		if (!clients[i].fd)
			return &clients[i];
	}
	return NULL;
}

static void ctl_accept(void)
{
	int fd = accept4(g.listen_fd, NULL, NULL, SOCK_CLOEXEC);
	struct ctl_client *cl;

	if (fd < 0)
		return;
	cl = ctl_slot();
	if (!cl) {
		close(fd); /* too many clients: they may retry */
		return;
	}
	cl->fd = fd;
	atomic_store(&cl->done, false);
	if (pthread_create(&cl->thr, NULL, client_main, cl)) {
		close(fd);
		cl->fd = 0;
	}
}

static void *ctl_main(void *arg)
{
	struct pollfd p[2] = {{.fd = g.listen_fd, .events = POLLIN},
			      {.fd = g.quit_fd, .events = POLLIN}};

	while (!atomic_load(&g.quit)) {
		if (poll(p, 2, 1000) > 0 && (p[0].revents & POLLIN))
			ctl_accept();
	}
	for (int i = 0; i < PAGER_MAX_CLIENTS; i++) {
		if (clients[i].fd > 0)
			pthread_join(clients[i].thr, NULL);
	}
	pool_close();
	close(g.listen_fd);
	return NULL;
}

int pager_ctl_start(void)
{
	struct sockaddr_un a = {.sun_family = AF_UNIX};
	mode_t old;
	int fd;

	if (strlen(g.conf.socket) >= sizeof(a.sun_path))
		return -ENAMETOOLONG;
	strcpy(a.sun_path, g.conf.socket);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -errno;
	unlink(g.conf.socket);
	old = umask(0177); /* the socket is born 0600 */
	if (bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(fd, 16) < 0) {
		int err = -errno;

		umask(old);
		close(fd);
		return err;
	}
	umask(old);
	g.listen_fd = fd;
	pool_thr_started = !pthread_create(&pool_thr, NULL, pool_fill, NULL);
	return -pthread_create(&g.ctl_thr, NULL, ctl_main, NULL);
}

// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * pageout.c - the evictor: keeps MAIN chunks at or under the cap.
 *
 * One thread, so page-outs and trims to a sub-host are sent in order by
 * one writer: a trim queued for a chunk is sent before that chunk can be
 * written to the same sub-host again.  A page-out, in this order:
 *   1. pick victims (policy) and mark them in motion (a job each);
 *   2. write-protect them in the guest mapping (a vCPU that writes now
 *      waits), pread them from the memory file;
 *   3. all zeros: nowhere to send; clean copy still valid: nothing to
 *      send; else NBD write + flush to a sub-host with room, and wait;
 *   4. move_begin, punch the hole, move_end(SUB+k or ABSENT);
 *   5. un-write-protect: a vCPU that wrote meanwhile retries, faults on
 *      the hole and pages the chunk back in, so no write is lost.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/falloc.h>
#include <linux/userfaultfd.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pager/pager.h"

#define EVICT_BATCH_BYTES (8u << 20)
#define EVICT_BATCH_MAX	  256
#define EVICT_FINISH_HOLD 16 /* victims picked or finished per hold of g.lock */

struct victim {
	uint64_t chunk;
	int copy;  /* clean copy host at pick time, or -1 */
	int dest;  /* sub-host it goes to, -1 = ABSENT (all zeros) */
	bool send; /* bytes must go over the wire */
	struct pager_job *job;
	char *buf;
	int err;
};

static bool evict_ok(uint64_t i, void *ctx)
{
	uint64_t e = vmt_pt_load(&g.pt, i);

	/* The VM's core (kernel image, kernel page tables) never leaves the main host. */
	return vmt_pt_e_loc(e) == VMT_PT_MAIN && !vmt_pt_e_pinned(e) && !pager_job_find_locked(i);
}

/*
 * The clock hand took a chunk's young bit: write-protect it again so that
 * its next write shows up as a fault (fresh evidence of use).  A chunk with
 * a clean copy is protected already.  Adjacent chunks aged in one sweep are
 * protected as one range when the run ends (aged_flush): one ioctl, one TLB
 * flush of the vCPUs, instead of one each -- the first page-out after a
 * split sweeps every resident chunk, and one by one that held g.lock for
 * 12 ms (waiting page-ins and faults with it).  Evictor thread only.
 */
static uint64_t aged_addr, aged_len;

static void aged_flush(void)
{
	if (aged_len)
		pager_uffd_wp(aged_addr, aged_len, true);
	aged_len = 0;
}

static void evict_aged(uint64_t i, void *ctx)
{
	uint64_t addr = pager_chunk_addr(i);

	if (vmt_pt_e_copy(vmt_pt_load(&g.pt, i)) >= 0 || pager_job_find_locked(i))
		return;
	if (aged_len && addr == aged_addr + aged_len) {
		aged_len += pager_chunk_len(i);
		return;
	}
	aged_flush();
	aged_addr = addr;
	aged_len = pager_chunk_len(i);
}

/*
 * Let go of g.lock for a moment, every EVICT_FINISH_HOLD victims picked or
 * finished: a batch of 256 held page-ins and faults up for 6 ms (finish)
 * and 12 ms (pick, the first after a split).
 */
static void evict_lock_breathe(void)
{
	pthread_mutex_unlock(&g.lock);
	pthread_mutex_lock(&g.lock);
}

/*
 * How long eviction stays quiet after an IDS's last PAGEIN or hint: longer
 * than the gaps between a listing's requests, short enough that the main
 * host is back at its free target soon after the listing.
 */
#define EVICT_IDS_QUIET_MS 100

void pager_ids_reading(void)
{
	atomic_store(&g.ids_until_ns, pager_now_ns() + EVICT_IDS_QUIET_MS * 1000000ull);
}

/*
 * Chunks to page out: what MAIN (with the page-ins under way and the
 * faults waiting for room) holds above the low watermark -- above the
 * burst watermark while an IDS reads (pager_ids_reading).  A fault that
 * finds no room under the cap still makes room at once: it waits in
 * admit_waiting.  *quiet_ns: how long the burst still lasts, or 0.
 */
static uint64_t evict_excess_locked(uint64_t *quiet_ns)
{
	uint64_t main = atomic_load(&g.pt.hdr->main_chunks);
	uint64_t want = main + g.inflight_in + g.admit_waiting;
	uint64_t now = pager_now_ns(), until = atomic_load(&g.ids_until_ns);
	uint64_t floor = now < until ? g.burst_chunks : g.low_chunks;

	*quiet_ns = now < until ? until - now : 0;
	if (!g.cap_chunks || want <= floor)
		return 0;
	return want - floor;
}

static size_t evict_pick_locked(struct victim *v, size_t max)
{
	size_t n = 0;

	while (n < max) {
		uint64_t i;

		/* The victims so far have their jobs: nobody else takes them meanwhile. */
		if (n && n % EVICT_FINISH_HOLD == 0) {
			aged_flush();
			evict_lock_breathe();
		}
		if (pager_policy_pick(&g.policy, evict_ok, NULL, &i))
			break;
		v[n].chunk = i;
		v[n].copy = vmt_pt_e_copy(vmt_pt_load(&g.pt, i));
		v[n].dest = -1;
		v[n].send = false;
		v[n].err = 0;
		v[n].job = pager_job_new_locked(i, JOB_OUT);
		if (!v[n].job)
			break;
		n++;
	}
	aged_flush();
	return n;
}

static bool all_zero(const char *p, uint64_t len)
{
	const uint64_t *w = (const void *)p;

	for (uint64_t i = 0; i < len / 8; i++)
		if (w[i])
			return false;
	return true;
}

/* The sub-host with the most room for one more chunk, or -1. */
static int evict_host(const uint64_t *pending)
{
	int best = -1;
	uint64_t best_room = 0;

	for (unsigned k = 0; k < g.pt.hdr->nr_hosts; k++) {
		const struct vmt_pt_host *h = &g.pt.hdr->hosts[k];
		uint64_t used = atomic_load(&h->chunks) + atomic_load(&h->copies) + pending[k];
		uint64_t room = !h->quota_chunks	 ? UINT64_MAX / 2 - used
				: used < h->quota_chunks ? h->quota_chunks - used
							 : 0;

		if (room > best_room) {
			best_room = room;
			best = (int)k;
		}
	}
	return best;
}

/* Trims queued so far (clean copies made stale, chunks gone to zero): send them now. */
static void evict_send_trims(struct pager_conns *c, uint64_t *q, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		int k = (int)(q[i] >> 56), err;
		uint64_t chunk = q[i] & ((1ull << 56) - 1);
		struct vmt_subhost *h;

		err = pager_conn_get(c, k, &h);
		if (!err)
			err = vmt_subhost_trim(h, chunk << g.pt.hdr->chunk_shift,
					       pager_chunk_len(chunk));
		if (err) {
			/* Stale bytes stay on the sub-host; they are never read as data. */
			pager_log("trim of chunk %llu on sub-host %d: %s",
				  (unsigned long long)chunk, k, strerror(-err));
			pager_conn_drop(c, k);
			atomic_fetch_add(&g.st.errors, 1);
		} else {
			atomic_fetch_add(&g.st.trims, 1);
		}
	}
}

/* Steps 2 and 3 (before the send): protect, read, decide where it goes. */
static void evict_prepare(struct victim *v, size_t n)
{
	uint64_t pending[VMT_PT_MAX_HOSTS] = {0};

	for (size_t i = 0; i < n; i++) {
		uint64_t len = pager_chunk_len(v[i].chunk),
			 off = v[i].chunk << g.pt.hdr->chunk_shift;
		ssize_t r;

		v[i].err = pager_uffd_wp(pager_chunk_addr(v[i].chunk), len, true);
		r = v[i].err ? -1 : pread(g.mem_fd, v[i].buf, len, (off_t)off);
		if (!v[i].err && r != (ssize_t)len)
			v[i].err = r < 0 ? -errno : -EIO;
		if (v[i].err)
			continue;
		if (all_zero(v[i].buf, len))
			continue; /* dest -1: ABSENT */
		if (v[i].copy >= 0) {
			v[i].dest = v[i].copy;
			continue;
		}
		v[i].dest = evict_host(pending);
		if (v[i].dest < 0) {
			v[i].err = -ENOSPC;
			continue;
		}
		pending[v[i].dest]++;
		v[i].send = true;
	}
}

static int evict_send(struct pager_conns *c, struct victim *v, size_t n)
{
	struct vmt_subhost_io io[EVICT_BATCH_MAX];
	size_t m = 0;
	int err = 0;

	for (size_t i = 0; i < n && !err; i++) {
		if (v[i].err || !v[i].send)
			continue;
		io[m] = (struct vmt_subhost_io){.off = v[i].chunk << g.pt.hdr->chunk_shift,
						.len = pager_chunk_len(v[i].chunk),
						.buf = v[i].buf};
		err = pager_conn_get(c, v[i].dest, &io[m].host);
		m++;
	}
	if (!err && m)
		err = vmt_subhost_pwrite_batch(io, m);
	if (!err)
		return 0;
	pager_log("page-out write: %s", strerror(-err));
	atomic_fetch_add(&g.st.errors, 1);
	for (size_t i = 0; i < n; i++) {
		if (v[i].send && !v[i].err) {
			v[i].err = err;
			pager_conn_drop(c, v[i].dest);
		}
	}
	return err;
}

/* Steps 4 and 5 for one victim (g.lock held). */
static void evict_finish_locked(struct victim *v)
{
	uint64_t len = pager_chunk_len(v->chunk), off = v->chunk << g.pt.hdr->chunk_shift, old;
	struct pager_fault *f;
	bool keep_wp;

	if (!v->err) {
		vmt_pt_move_begin(&g.pt, v->chunk, &old);
		if (fallocate(g.mem_fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, (off_t)off,
			      (off_t)len) < 0) {
			v->err = -errno;
			pager_log("punch chunk %llu: %s", (unsigned long long)v->chunk,
				  strerror(errno));
			vmt_pt_move_end(&g.pt, v->chunk, VMT_PT_MAIN, -1);
		} else {
			vmt_pt_move_end(
			    &g.pt, v->chunk,
			    v->dest < 0 ? VMT_PT_ABSENT : VMT_PT_SUB + (unsigned)v->dest, -1);
			pager_policy_remove(&g.policy, v->chunk);
			if (v->dest < 0 && v->copy >= 0)
				pager_queue_trim_locked(v->copy, v->chunk);
			atomic_fetch_add(v->dest < 0 ? &g.st.pageouts_zero
					 : v->send   ? &g.st.pageouts
						     : &g.st.pageouts_skipped_clean,
					 1);
			if (v->send)
				atomic_fetch_add(&g.st.bytes_out, len);
		}
	}
	/*
	 * A chunk that failed to go out but still has its clean copy stays
	 * write-protected (the copy must learn of the next write); every other
	 * victim is un-protected, which wakes any vCPU that wrote meanwhile: it
	 * faults on the hole now and pages the chunk back in.
	 */
	keep_wp = v->err && v->copy >= 0;
	if (!keep_wp)
		pager_uffd_wp(pager_chunk_addr(v->chunk), len, false);
	f = v->job->waiters;
	pager_job_free_locked(v->job);
	while (f) {
		struct pager_fault *n = f->next;

		if (keep_wp || !(f->flags & UFFD_PAGEFAULT_FLAG_WP))
			pager_fault_dispatch_locked(f->addr, f->flags, f->t0_ns);
		free(f);
		f = n;
	}
}

/* Victims that went out; -1 if there was none to take. */
static long evict_round(struct pager_conns *c, struct victim *v, size_t max)
{
	uint64_t *trims;
	size_t n, nt;
	unsigned failed = 0;

	pthread_mutex_lock(&g.lock);
	n = evict_pick_locked(v, max);
	/* After the pick: any trim of a victim's old copy is in this snapshot. */
	trims = g.trim_q;
	nt = g.trim_n;
	g.trim_q = NULL;
	g.trim_n = g.trim_cap = 0;
	pthread_mutex_unlock(&g.lock);
	evict_send_trims(c, trims, nt);
	free(trims);
	if (!n)
		return -1;
	evict_prepare(v, n);
	evict_send(c, v, n);
	pthread_mutex_lock(&g.lock);
	for (size_t i = 0; i < n; i++) {
		if (i && i % EVICT_FINISH_HOLD == 0)
			evict_lock_breathe(); /* a hole punched is a few tens of us */
		failed += v[i].err != 0;
		evict_finish_locked(&v[i]);
	}
	if (pager_now_ns() < atomic_load(&g.ids_until_ns)) /* an IDS reads: STATS tell */
		atomic_fetch_add(&g.st.pageouts_ids, n - failed);
	pager_release_admit_locked();
	pthread_cond_broadcast(&g.cond);
	pthread_mutex_unlock(&g.lock);
	return (long)(n - failed);
}

static void *evict_main(void *arg)
{
	struct victim v[EVICT_BATCH_MAX];
	size_t max = EVICT_BATCH_BYTES / g.chunk;
	struct pager_conns c = {.io_timeout_ms = 0};
	unsigned fails = 0;

	if (g.have_wp)
		g.policy.aged = evict_aged;
	if (max > EVICT_BATCH_MAX)
		max = EVICT_BATCH_MAX;
	if (max < 1)
		max = 1;
	for (size_t i = 0; i < max; i++) {
		v[i].buf = aligned_alloc(PAGER_PAGE, g.chunk);
		if (!v[i].buf)
			abort();
	}
	while (!atomic_load(&g.quit)) {
		uint64_t excess, quiet;
		long r;

		pthread_mutex_lock(&g.lock);
		excess = evict_excess_locked(&quiet);
		if (!excess && !g.trim_n) {
			/* At most a second; at the burst's end, to catch up. */
			struct timespec ts;

			pager_deadline_in(
			    quiet && quiet < 1000000000ull ? quiet + 1000000 : 1000000000ull, &ts);
			pthread_cond_timedwait(&g.evict_cond, &g.lock, &ts);
			excess = evict_excess_locked(&quiet);
		}
		pthread_mutex_unlock(&g.lock);
		if (atomic_load(&g.quit))
			break;
		r = evict_round(&c, v, excess < max ? excess : max);
		if (r < 0 && excess) {
			/* Every MAIN chunk is in motion: wait for one to settle. */
			struct timespec ts = {0, 5 * 1000000};

			nanosleep(&ts, NULL);
		} else if (r == 0 && excess) {
			/* Nothing went out (sub-host down or full): back off. */
			if (!pager_sleep_backoff(fails++))
				break;
		} else {
			fails = 0;
		}
	}
	for (size_t i = 0; i < max; i++)
		free(v[i].buf);
	pager_conns_close(&c);
	return NULL;
}

int pager_evict_start(void)
{
	return -pthread_create(&g.evict_thr, NULL, evict_main, NULL);
}

// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * send.c - the copy of a split: one thread per sub-host sends that host's
 * chunks over its own NBD connection (so the links work in parallel), in
 * batches of large contiguous runs (vmt_subhost_pwrite_batch pipelines them
 * and flushes at the end), while another thread writes the main-host chunks
 * into the destination's new sparse memory file, page by page, skipping
 * zero pages so that they stay holes.
 *
 * The source is read through srcmap.c (a read-only mapping whose holes are
 * never touched): a run is sent straight from the mapping, with no copy
 * into a buffer.  The main-host copy runs at a lower CPU priority
 * (MAIN_NICE) while it is ahead of the slowest link: the links are the
 * split's critical path, and on a machine whose cores the sub-hosts'
 * servers share, a main-host copy at full speed took the CPU that the
 * senders and the servers needed to keep the links full; once it falls
 * behind (other work on the machine starving it), it goes back to the
 * priority it had (measured: bench/results/split.md).
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "core/internal.h"
#include "pagetable/pagetable.h"
#include "split/send.h"
#include "split/split_priv.h"
#include "subhost/subhost.h"
#include "vmctl/sockio.h"

#define RUN_MAX (4u << 20) /* one NBD request at most (the client splits further) */
/*
 * Bytes per batch: about 0.5 s of a 1 Gbit link.  Each batch ends with a
 * drain of the pipeline and a flush, so fewer batches keep the link busier;
 * a cancel waits for the batch in flight.
 */
#define BATCH_MAX (64u << 20)
#define IO_MAX	  (BATCH_MAX / 4096)
#define MAIN_NICE 10 /* the main-host copy's nice value (see the top) */

struct sender {
	struct send_job *job;
	unsigned k;
	pthread_t th;
	int err;
	char msg[256];
};

/* Next run of chunks on host k from *i: [start, start + len) bytes, at most RUN_MAX. */
static bool next_run(const struct send_job *j, unsigned k, uint64_t *i, uint64_t *start,
		     size_t *len)
{
	const struct place *p = j->p;
	uint64_t csz = 1ull << p->shift;

	while (*i < p->nr_chunks && (p->loc[*i] != VMT_PT_SUB + k || (j->todo && !j->todo[*i])))
		(*i)++;
	if (*i >= p->nr_chunks)
		return false;
	*start = *i << p->shift;
	*len = 0;
	while (*i < p->nr_chunks && p->loc[*i] == VMT_PT_SUB + k && (!j->todo || j->todo[*i]) &&
	       *len + csz <= RUN_MAX) {
		*len += (size_t)VMT_MIN(csz, p->ram_size - (*i << p->shift));
		(*i)++;
	}
	return true;
}

/* Remember what each chunk of a run held when it was read (pre-copy's dirty check). */
static void record_hashes(struct send_job *j, const char *buf, size_t len, uint64_t off)
{
	uint64_t csz = 1ull << j->p->shift;

	for (size_t o = 0; j->sent_hash && o < len; o += csz)
		j->sent_hash[(off + o) >> j->p->shift] =
		    place_chunk_hash(buf + o, (size_t)VMT_MIN(csz, len - o));
}

static int send_batches(struct sender *s, char *buf, struct vmt_subhost_io *io)
{
	struct send_job *j = s->job;
	uint64_t i = 0, start;
	size_t len, used = 0, bytes = 0, n = 0;
	int r = 0;
	bool more = true;

	while (more && !r && !atomic_load(&j->abort)) {
		more = next_run(j, s->k, &i, &start, &len);
		if (more) {
			/* In the mapping, or copied into buf when part of it is holes. */
			const void *v = srcmap_view(j->m, start, len, buf + used);

			if (!v) /* holes now (a pre-copy round sent data): zeros replace it */
				v = memset(buf + used, 0, len);
			/*
			 * A running VM (pre-copy: hashes kept) may write while the run
			 * is sent: send a snapshot, so that what went out is what was
			 * hashed (else a page rewritten and restored meanwhile would
			 * pass the final check with other bytes on the sub-host).
			 */
			if (j->sent_hash && v != buf + used)
				v = memcpy(buf + used, v, len);
			if (v == buf + used)
				used += len;
			record_hashes(j, v, len, start);
			io[n++] = (struct vmt_subhost_io){
			    .host = j->hosts[s->k], .off = start, .len = len, .buf = (void *)v};
			bytes += len;
		}
		if (n && (!more || bytes + RUN_MAX > BATCH_MAX || n == IO_MAX)) {
			r = vmt_subhost_pwrite_batch(io, n);
			if (!r)
				atomic_fetch_add(&j->done[s->k], bytes);
			used = bytes = n = 0;
		}
	}
	return r;
}

static void *sender_main(void *arg)
{
	struct sender *s = arg;
	struct vmt_subhost_io *io = calloc(IO_MAX, sizeof(*io));
	char *buf = aligned_alloc(4096, BATCH_MAX);
	int64_t t0 = vmt_now_ms();

	s->err = !io || !buf ? -ENOMEM : send_batches(s, buf, io);
	s->job->host_ms[s->k] = vmt_now_ms() - t0;
	if (s->err) {
		snprintf(s->msg, sizeof(s->msg), "%s", vmt_subhost_error(s->job->hosts[s->k]));
		atomic_store(&s->job->abort, true);
	}
	free(io);
	free(buf);
	atomic_fetch_add(&s->job->finished, 1);
	return NULL;
}

/* Is page o of [off, off + len) to be written: data in the file, and not all zeros in src? */
static bool page_data(struct send_job *j, const char *src, uint64_t off, size_t o, size_t len)
{
	return srcmap_page_data(j->m, (off + o) / 4096) &&
	       !buf_is_zero(src + o, VMT_MIN((size_t)4096, len - o));
}

/*
 * Write the non-zero data pages of [off, off + len) in runs, from src: the
 * mapping (the VM is stopped), or a snapshot of the chunk in a buffer (the
 * VM runs: what is written must be what was hashed).
 */
static int write_nonzero(struct send_job *j, const char *src, uint64_t off, size_t len)
{
	size_t o = 0;

	while (o < len) {
		size_t start, pl;

		while (o < len && !page_data(j, src, off, o, len))
			o += 4096;
		start = o;
		while (o < len && page_data(j, src, off, o, len))
			o += 4096;
		pl = VMT_MIN(o, len) - start;
		if (pl && pwrite(j->dst_fd, src + start, pl, (off_t)(off + start)) != (ssize_t)pl)
			return errno ? -errno : -EIO;
		j->main_written += pl;
	}
	return 0;
}

/* Is the main-host copy behind the slowest link (as fractions done)? */
static bool main_behind(struct send_job *j)
{
	const struct place *p = j->p;
	double mine =
	    p->main ? (double)atomic_load(&j->main_done) / (double)(p->main << p->shift) : 1.0;

	if (atomic_load(&j->finished) >= j->nr_hosts)
		return true; /* the links are done: only this copy is left */
	for (unsigned k = 0; k < j->nr_hosts; k++) {
		uint64_t total = p->host_chunks[k] << p->shift;

		if (total && (double)atomic_load(&j->done[k]) / (double)total > mine)
			return true;
	}
	return false;
}

/* Nice while ahead of the links, the old priority once behind (see the top). */
static void main_pace(struct send_job *j)
{
	bool behind = main_behind(j);

	if (behind == j->main_boosted || j->main_nice0 == INT_MIN)
		return;
	if (setpriority(PRIO_PROCESS, (id_t)syscall(SYS_gettid),
			behind ? j->main_nice0 : MAIN_NICE) == 0)
		j->main_boosted = behind;
}

/* Main-host chunks into the new file: pwrite of non-zero pages only (it is never mapped). */
static int copy_main(struct send_job *j)
{
	const struct place *p = j->p;
	size_t csz = (size_t)1 << p->shift;
	char *scratch = aligned_alloc(4096, csz);
	int64_t t0 = vmt_now_ms();
	int r = 0;

	if (!scratch)
		return -ENOMEM;
	for (uint64_t i = 0; !r && i < p->nr_chunks && !atomic_load(&j->abort); i++) {
		uint64_t off = i << p->shift;
		size_t len = (size_t)VMT_MIN((uint64_t)csz, p->ram_size - off);

		if (p->loc[i] != VMT_PT_MAIN || (j->todo && !j->todo[i]))
			continue;
		const char *src = j->m->base + off;

		if (j->sent_hash) { /* a snapshot, hashed and written (the VM may run) */
			const void *v = srcmap_view(j->m, off, len, scratch);

			src = !v	     ? memset(scratch, 0, len)
			      : v == scratch ? scratch
					     : memcpy(scratch, v, len);
			j->sent_hash[i] = place_chunk_hash(src, len);
		}
		if (j->punch && fallocate(j->dst_fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
					  (off_t)off, (off_t)len) < 0)
			r = -errno;
		if (!r)
			r = write_nonzero(j, src, off, len);
		atomic_fetch_add(&j->main_done, len);
		if ((i & 63) == 0)
			main_pace(j);
	}
	free(scratch);
	j->main_ms = vmt_now_ms() - t0;
	if (r)
		vmt_error(r, "writing the new memory file: %s", strerror(-r));
	return r;
}

struct main_copy {
	struct send_job *j;
	pthread_t th;
	int err;
	atomic_bool done;
};

static void *main_copy_main(void *arg)
{
	struct main_copy *mc = arg;

	/* This thread only (Linux: a thread id is a PRIO_PROCESS who); best effort. */
	errno = 0;
	mc->j->main_nice0 = getpriority(PRIO_PROCESS, (id_t)syscall(SYS_gettid));
	if (errno || mc->j->main_nice0 >= MAIN_NICE ||
	    setpriority(PRIO_PROCESS, (id_t)syscall(SYS_gettid), MAIN_NICE) < 0)
		mc->j->main_nice0 = INT_MIN; /* no pacing */
	mc->err = copy_main(mc->j);
	if (mc->err)
		atomic_store(&mc->j->abort, true);
	atomic_store(&mc->done, true);
	return NULL;
}

/* The main-host copy in its own thread; the calling thread ticks until all are done. */
static int run_main(struct send_job *j, unsigned started)
{
	struct main_copy mc = {.j = j};
	bool threaded;

	j->main_nice0 = INT_MIN; /* set by the thread once it lowered its priority */
	threaded = !pthread_create(&mc.th, NULL, main_copy_main, &mc);

	if (!threaded)
		mc.err = copy_main(j);
	while ((threaded && !atomic_load(&mc.done)) ||
	       (atomic_load(&j->finished) < j->nr_hosts && started)) {
		if (j->tick)
			j->tick(j);
		usleep(20000);
	}
	if (threaded)
		pthread_join(mc.th, NULL);
	if (mc.err)
		atomic_store(&j->abort, true);
	return mc.err;
}

int send_run(struct send_job *j)
{
	struct sender s[VMT_SPLIT_MAX_HOSTS] = {0};
	struct srcmap own;
	const struct srcmap *given = j->m;
	unsigned started = 0;
	int r = given ? 0 : srcmap_open(j->src_fd, j->p->ram_size, &own);

	if (r)
		return r;
	if (!given)
		j->m = &own;
	for (unsigned k = 0; k < j->nr_hosts; k++) {
		s[k] = (struct sender){.job = j, .k = k};
		if (!j->p->host_chunks[k]) {
			atomic_fetch_add(&j->finished, 1);
			continue;
		}
		if (pthread_create(&s[k].th, NULL, sender_main, &s[k])) {
			atomic_store(&j->abort, true);
			r = vmt_error(-EAGAIN, "cannot start a sender thread");
			break;
		}
		started |= 1u << k;
	}
	if (!r)
		r = run_main(j, started);
	for (unsigned k = 0; k < j->nr_hosts; k++) {
		if (!(started & (1u << k)))
			continue;
		pthread_join(s[k].th, NULL);
		if (s[k].err && !r)
			r = vmt_error(s[k].err, "sending to sub-host %s failed: %s%s", j->names[k],
				      s[k].err == -ENOSPC ? "no room left; " : "",
				      s[k].msg[0] ? s[k].msg : strerror(-s[k].err));
	}
	if (j->tick)
		j->tick(j);
	if (!given)
		srcmap_close(&own);
	j->m = given;
	return r;
}

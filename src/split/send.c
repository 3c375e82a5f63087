// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * send.c - the copy of a split: one thread per sub-host sends that host's
 * chunks over its own NBD connection (so the links work in parallel), in
 * batches of large contiguous runs (vmt_subhost_pwrite_batch pipelines them
 * and flushes at the end), while the calling thread writes the main-host
 * chunks into the destination's new sparse memory file, page by page,
 * skipping zero pages so that they stay holes.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/internal.h"
#include "pagetable/pagetable.h"
#include "split/send.h"
#include "split/split_priv.h"
#include "subhost/subhost.h"
#include "vmctl/sockio.h"

#define RUN_MAX	  (4u << 20)  /* one NBD request at most (the client splits further) */
#define BATCH_MAX (16u << 20) /* bytes per batch: about 0.13 s of a 1 Gbit link */
#define IO_MAX	  (BATCH_MAX / 4096)

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

/* Read the source file's bytes for a run (holes read as zeros). */
static int read_src(int fd, void *buf, size_t len, uint64_t off)
{
	size_t done = 0;

	while (done < len) {
		ssize_t n = pread(fd, (char *)buf + done, len - done, (off_t)(off + done));

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n < 0 ? -errno : -EIO;
		done += (size_t)n;
	}
	return 0;
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
	size_t len, used = 0, n = 0;
	int r = 0;
	bool more = true;

	while (more && !r && !atomic_load(&j->abort)) {
		more = next_run(j, s->k, &i, &start, &len);
		if (more) {
			r = read_src(j->src_fd, buf + used, len, start);
			record_hashes(j, buf + used, len, start);
			io[n++] = (struct vmt_subhost_io){
			    .host = j->hosts[s->k], .off = start, .len = len, .buf = buf + used};
			used += len;
		}
		if (n && (!more || used + RUN_MAX > BATCH_MAX || n == IO_MAX) && !r) {
			r = vmt_subhost_pwrite_batch(io, n);
			if (!r)
				atomic_fetch_add(&j->done[s->k], used);
			used = n = 0;
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

/* Write the non-zero pages of buf (len bytes at file offset off) in runs. */
static int write_nonzero(struct send_job *j, const char *buf, size_t len, uint64_t off)
{
	size_t o = 0;

	while (o < len) {
		size_t start, pl;

		while (o < len && buf_is_zero(buf + o, VMT_MIN((size_t)4096, len - o)))
			o += 4096;
		start = o;
		while (o < len && !buf_is_zero(buf + o, VMT_MIN((size_t)4096, len - o)))
			o += 4096;
		pl = VMT_MIN(o, len) - start;
		if (pl && pwrite(j->dst_fd, buf + start, pl, (off_t)(off + start)) != (ssize_t)pl)
			return errno ? -errno : -EIO;
		j->main_written += pl;
	}
	return 0;
}

/* Main-host chunks into the new file: pwrite of non-zero pages only, never a mapping. */
static int copy_main(struct send_job *j)
{
	const struct place *p = j->p;
	size_t csz = (size_t)1 << p->shift;
	char *buf = aligned_alloc(4096, csz);
	int64_t t0 = vmt_now_ms();
	int r = 0;

	if (!buf)
		return -ENOMEM;
	for (uint64_t i = 0; !r && i < p->nr_chunks && !atomic_load(&j->abort); i++) {
		uint64_t off = i << p->shift;
		size_t len = (size_t)VMT_MIN((uint64_t)csz, p->ram_size - off);

		if (p->loc[i] != VMT_PT_MAIN || (j->todo && !j->todo[i]))
			continue;
		r = read_src(j->src_fd, buf, len, off);
		if (!r)
			record_hashes(j, buf, len, off);
		if (!r && j->punch &&
		    fallocate(j->dst_fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, (off_t)off,
			      (off_t)len) < 0)
			r = -errno;
		if (!r)
			r = write_nonzero(j, buf, len, off);
		atomic_fetch_add(&j->main_done, len);
		if (j->tick && (i & 63) == 0)
			j->tick(j);
	}
	free(buf);
	j->main_ms = vmt_now_ms() - t0;
	if (r)
		vmt_error(r, "writing the new memory file: %s", strerror(-r));
	return r;
}

int send_run(struct send_job *j)
{
	struct sender s[VMT_SPLIT_MAX_HOSTS] = {0};
	unsigned started = 0;
	int r = 0;

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
		r = copy_main(j);
	if (r)
		atomic_store(&j->abort, true);
	while (atomic_load(&j->finished) < j->nr_hosts && started) {
		if (j->tick)
			j->tick(j);
		usleep(100000);
	}
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
	return r;
}

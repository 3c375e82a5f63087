/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* send.h - the copy phase of a split (send.c). */
#ifndef VMT_SPLIT_SEND_H
#define VMT_SPLIT_SEND_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "split/split_priv.h"

struct vmt_subhost;

struct send_job {
	const struct place *p;
	int src_fd, dst_fd;
	const struct srcmap *m; /* the source, mapped (NULL: send_run maps src_fd itself) */
	unsigned nr_hosts;
	struct vmt_subhost
	    *hosts[VMT_SPLIT_MAX_HOSTS]; /* one connection each, used by its thread */
	const char *names[VMT_SPLIT_MAX_HOSTS];
	_Atomic uint64_t done[VMT_SPLIT_MAX_HOSTS]; /* bytes acknowledged (written + flushed) */
	_Atomic uint64_t main_done;
	uint64_t main_written; /* non-zero bytes written to the new file */
	int64_t host_ms[VMT_SPLIT_MAX_HOSTS], main_ms;
	int main_nice0;	   /* the main-host copy's priority before MAIN_NICE (INT_MIN: not paced) */
	bool main_boosted; /* back at main_nice0: it fell behind the links */
	_Atomic unsigned finished;
	atomic_bool abort;
	const uint8_t *todo; /* NULL: every chunk; else only chunks i with todo[i] */
	uint64_t *sent_hash; /* NULL, or place_chunk_hash() of what was sent for chunk i */
	bool punch;	     /* MAIN chunks: punch the range first (rewriting a pre-copy) */
	void (*tick)(struct send_job *j); /* progress, from the calling thread only */
	void *tick_arg;
};

/* Send every SUB chunk to its host and write every MAIN chunk; first error. */
int send_run(struct send_job *j);

#endif

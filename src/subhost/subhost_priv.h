/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * subhost_priv.h - insides of a sub-host handle, shared by the connection
 * code (subhost.c) and the request engine (io.c).
 */
#ifndef VMT_SUBHOST_PRIV_H
#define VMT_SUBHOST_PRIV_H

#include <libnbd.h>

#include "subhost/subhost.h"

/* Requests in flight on one handle: a gigabit pipe stays full of 4K pages between bursts. */
#define SUBHOST_MAX_INFLIGHT 256
/* Free slots before a handle with requests in flight is refilled (io.c: fill). */
#define SUBHOST_REFILL 64
/* Largest request sent when the server states no maximum (libnbd's own default cap). */
#define SUBHOST_MAX_REQUEST (32u << 20)
/* NBD lengths are 32-bit: trims are sent in pieces of this size. */
#define SUBHOST_MAX_TRIM (1u << 30)
#define SUBHOST_ERR_LEN	 256
/* Handles one batch may drive (a VM has at most VMT_PT_MAX_HOSTS sub-hosts). */
#define SUBHOST_BATCH_HOSTS 64

enum subhost_op { SUBHOST_READ, SUBHOST_WRITE, SUBHOST_TRIM, SUBHOST_FLUSH };

/*
 * One command in flight.  Slots live in the handle, not on a batch's
 * stack: a command abandoned on a timeout may still be completed by
 * libnbd (while the handle is closed), and its callback must find valid
 * memory.  An abandoned slot has io == NULL.
 */
struct subhost_slot {
	struct vmt_subhost *s;
	struct vmt_subhost_io *io;
	uint64_t len;
	int64_t cookie; /* libnbd's, once issued; -1 before */
	enum subhost_op op;
	bool used;
	bool done; /* completed, waiting to be retired */
};

struct vmt_subhost {
	struct nbd_handle *nbd;
	uint64_t size;
	uint64_t max_request; /* bytes per read/write command */
	int io_timeout_ms;
	int dead; /* 0, or the -errno every later call returns */
	bool can_flush, can_trim;
	struct vmt_subhost_stats stats;
	char err[SUBHOST_ERR_LEN];

	/* State of the batch being run (io.c); one batch at a time per handle. */
	struct subhost_slot slots[SUBHOST_MAX_INFLIGHT];
	int free_slots[SUBHOST_MAX_INFLIGHT];
	int nr_free;
	int inflight;
	struct vmt_subhost *batch_next;	 /* list of the handles in this batch */
	struct vmt_subhost_batch *batch; /* the one it is in (on_answer) */
	bool in_batch;
	size_t next_io;		/* first io[] entry not fully submitted */
	uint64_t next_piece;	/* bytes of io[next_io] already submitted */
	uint64_t last_progress; /* ns; the server said something */
};

/* Set the handle's error text (printf-like); returns err for chaining. */
int subhost_set_error(struct vmt_subhost *s, int err, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
uint64_t subhost_now_ns(void);
/* Run one operation over io[0..n) (io.c); io[i].len is ignored for FLUSH. */
int subhost_run(struct vmt_subhost_io *io, size_t n, enum subhost_op op);
void subhost_batch_begin(struct vmt_subhost_batch *b, struct vmt_subhost_io *io,
			 enum subhost_op op);

#endif

/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * subhost.h - client of a sub-host's memory: one NBD export (served by
 * nbdkit, or any NBD server) holding the pages of one VM that are not on
 * the main host.  Export offset = memory-file offset, so a chunk is one
 * contiguous read.  Built on libnbd.
 *
 * Used by the pager inside QEMU (page-in, page-out), by `vmt split` (the
 * initial copy) and by the runtime (method 1, runtime fetch), so it is
 * self-contained: it links nothing of libvmemtrans, never prints, and
 * reports -errno with a text from vmt_subhost_error().
 *
 * Security: TLS with a pre-shared key is the default (the key file is in
 * psktool's format, "username:hexkey" lines); without a key a client gets
 * no byte.  insecure=true (plain NBD) exists only for comparison.
 *
 * Threads: one handle is used by one thread at a time (libnbd handles are
 * thread-safe, but calls serialize on the handle's lock); open one handle
 * per thread that needs its own stream of requests.
 */
#ifndef VMT_SUBHOST_H
#define VMT_SUBHOST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct vmt_subhost;

struct vmt_subhost_opts {
	size_t sz;		  /* sizeof(struct vmt_subhost_opts) */
	const char *addr;	  /* "HOST:PORT" (PORT default 10809); [v6]:PORT too */
	const char *export_name;  /* NULL or "" = the server's default export */
	const char *psk_file;	  /* TLS-PSK key file; required unless insecure */
	const char *psk_username; /* NULL = the first username in psk_file */
	bool insecure;		  /* plain NBD, no TLS (comparison only) */
	int connect_timeout_ms;	  /* <= 0: 5000 */
	int io_timeout_ms;	  /* a request not answered by then fails; <= 0: 10000 */
				  /* (counted from the server's last sign of life, so a
				   * long batch that keeps moving does not time out) */
};

/*
 * Connect and do the NBD handshake (TLS required unless insecure).
 * Errors: -EINVAL bad options, -ECONNREFUSED / -ETIMEDOUT / -EHOSTUNREACH
 * no server, -EACCES the TLS handshake failed (wrong or no key), -EPROTO the
 * server speaks no NBD.  On error *out is NULL; vmt_subhost_last_error()
 * says why.
 */
int vmt_subhost_connect(const struct vmt_subhost_opts *o, struct vmt_subhost **out);
/* Close; NULL is fine. */
void vmt_subhost_close(struct vmt_subhost *s);
/*
 * An idle handle kept for later still works as far as can be told without
 * a round trip: not failed, nothing in flight, and its server has neither
 * closed the connection nor sent anything unasked.
 */
bool vmt_subhost_idle_ok(const struct vmt_subhost *s);
/* Export size in bytes. */
uint64_t vmt_subhost_size(const struct vmt_subhost *s);
/* The text of the handle's last error (borrowed, valid until the next call). */
const char *vmt_subhost_error(const struct vmt_subhost *s);
/* The text of the calling thread's last connect error (borrowed). */
const char *vmt_subhost_last_error(void);

/*
 * Synchronous I/O: the whole range or an error (-EIO, -ENOSPC when the
 * sub-host is full, -ETIMEDOUT, -ECONNRESET when the server went away;
 * the handle is then dead: close it and connect again).
 */
int vmt_subhost_pread(struct vmt_subhost *s, void *buf, size_t len, uint64_t off);
int vmt_subhost_pwrite(struct vmt_subhost *s, const void *buf, size_t len, uint64_t off);
/* Everything written so far is on the server's stable store when this returns 0. */
int vmt_subhost_flush(struct vmt_subhost *s);
/* The range is no longer needed: the server may free it (NBD trim). */
int vmt_subhost_trim(struct vmt_subhost *s, uint64_t off, uint64_t len);

/*
 * Batches: many requests in flight at once on one or several handles
 * (libnbd's asynchronous API, one poll loop over every handle), so a
 * batch costs about one round trip per handle plus the bytes, not one
 * round trip per request.  Requests are split so that none exceeds the
 * server's maximum, and go out in bursts (io.c: fill).  At most 64
 * handles in one batch (their requests fail with -E2BIG beyond).  Returns
 * 0 when every request succeeded, else the first error; each request's
 * own result is in io[i].err.
 */
struct vmt_subhost_io {
	struct vmt_subhost *host;
	uint64_t off;
	size_t len;
	void *buf; /* read into / write from */
	int err;   /* out: 0 or -errno */
};
int vmt_subhost_pread_batch(struct vmt_subhost_io *io, size_t n);
/* Writes, then one flush per handle involved; err is set on every request of a failed flush. */
int vmt_subhost_pwrite_batch(struct vmt_subhost_io *io, size_t n);

/*
 * A read batch that grows while it runs, for a caller that finds what to
 * read as it goes (method 1's prefetch while the walk goes on): the
 * requests go out as they are added, and pump() takes in the answers that
 * came meanwhile without waiting, so the transfers overlap the caller's
 * own work.  No thread: nothing moves between calls.
 *
 *   vmt_subhost_batch_begin(&b, io);       io: room for every entry to come
 *   ... fill io[b.n .. n), then vmt_subhost_batch_add(&b, n);
 *   ... vmt_subhost_batch_pump(&b) now and then (never blocks)
 *   vmt_subhost_batch_end(&b);             waits for the rest; io[i].err
 *
 * The calls on one batch come from one thread at a time (the caller's, or
 * a thread that drives it with vmt_subhost_batch_wait()).
 * io[] must stay where it is until end().  A handle is in one batch at a
 * time: no other call may use it between its first add() and end().  At
 * most 64 handles (-E2BIG beyond).
 *
 * on_answer, if set (after begin), is called on the driving thread each
 * time the server answers a piece of io[idx] (len bytes; io[idx].err set
 * if it failed), so that a caller can use an entry before the batch ends.
 * An entry failed without an answer (its connection died) gets no call:
 * it is done once wait() says nothing is in flight.
 */
struct vmt_subhost_batch {
	struct vmt_subhost_io *io;
	size_t n; /* entries added so far */
	void (*on_answer)(void *arg, size_t idx, uint64_t len);
	void *answer_arg;
	/* private to io.c */
	struct vmt_subhost *list;
	size_t nr_hosts;
	int op;
};
void vmt_subhost_batch_begin(struct vmt_subhost_batch *b, struct vmt_subhost_io *io);
/* io[b->n .. n) are new: check them and send what the handles' windows allow. */
int vmt_subhost_batch_add(struct vmt_subhost_batch *b, size_t n);
void vmt_subhost_batch_pump(struct vmt_subhost_batch *b);
/*
 * For a batch driven by a thread of its own: wait until an answer comes,
 * wake_fd (an eventfd another thread writes to when it added entries)
 * becomes readable, or the handles' timeout, and act on it.  False at once
 * when nothing is in flight (wait on wake_fd alone then).
 */
bool vmt_subhost_batch_wait(struct vmt_subhost_batch *b, int wake_fd);
/* Wait for every entry; 0 or the first entry's error (each in io[i].err). */
int vmt_subhost_batch_end(struct vmt_subhost_batch *b);

/* Counters of one handle since it connected. */
struct vmt_subhost_stats {
	uint64_t reads, writes, flushes, trims; /* requests */
	uint64_t bytes_read, bytes_written;
	uint64_t wait_ns; /* time spent waiting for answers */
};
void vmt_subhost_stats(const struct vmt_subhost *s, struct vmt_subhost_stats *out);

/*
 * Split "HOST:PORT" / "[V6]:PORT" / "HOST" into host and port (default
 * 10809).  -EINVAL on a malformed address or port.
 */
int vmt_subhost_parse_addr(const char *addr, char *host, size_t host_sz, unsigned *port);

/*
 * Write a new TLS-PSK key file: mode 0600, "username:<64 hex digits>"
 * (256 random bits from getrandom), created with O_EXCL.  The key never
 * appears on a command line: nbdkit and libnbd take the file's path.
 */
int vmt_subhost_psk_create(const char *path, const char *username);

#endif

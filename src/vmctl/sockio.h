/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * sockio.h - what the QMP and agent clients share: UNIX-socket connect,
 * full writes and a bounded buffered reader, all under one absolute
 * deadline (CLOCK_MONOTONIC milliseconds; VMT_NO_DEADLINE waits forever).
 *
 * Every call returns 0 or a negative errno: -ETIMEDOUT when the deadline
 * passes, -ECONNRESET when the peer closes, -EMSGSIZE when a line exceeds
 * its cap.  None of them records vmt_error(): the caller knows what the
 * socket is for and says so to the user.
 */
#ifndef VMT_VM_SOCKIO_H
#define VMT_VM_SOCKIO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define VMT_NO_DEADLINE INT64_MAX

int64_t vmt_now_ms(void);
/* now + ms, or VMT_NO_DEADLINE when ms < 0. */
int64_t vmt_deadline_in(int64_t ms);

/* Non-blocking, close-on-exec stream socket connected to path. */
int vmt_unix_connect(const char *path, int *fd_out);

int vmt_write_all(int fd, const void *buf, size_t len, int64_t deadline);

/* Buffered reader over fd (not owned: the caller closes fd). */
struct vmt_rbuf {
	int fd;
	char *buf;
	size_t cap;
	size_t start;  /* first unread byte */
	size_t end;    /* one past the last buffered byte */
	size_t scan;   /* bytes after start already searched for '\n' */
	bool skipping; /* inside an oversized line: drop up to its '\n' */
};

void vmt_rbuf_init(struct vmt_rbuf *rb, int fd);
void vmt_rbuf_release(struct vmt_rbuf *rb);
/*
 * Next line without its '\n' (a trailing '\r' is kept), NUL-terminated in
 * place; *line is borrowed until the next call.  A line longer than max
 * bytes fails with -EMSGSIZE as soon as that is known, and is skipped: the
 * next call returns the line after it.
 */
int vmt_rbuf_line(struct vmt_rbuf *rb, size_t max, int64_t deadline, char **line, size_t *len);
/* Exactly n bytes into dst. */
int vmt_rbuf_read(struct vmt_rbuf *rb, void *dst, size_t n, int64_t deadline);

#endif

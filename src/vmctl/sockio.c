// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * sockio.c - deadline-bounded I/O on non-blocking sockets, in the manner
 * of redis anetRead/anetWrite: loop until the full count moved, poll
 * between short transfers, never block past the caller's deadline.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "core/internal.h"
#include "vmctl/sockio.h"

#define RBUF_CHUNK   (64 * 1024)
#define RBUF_TRICKLE 4096 /* a read below this is a trickle */

int64_t vmt_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t vmt_deadline_in(int64_t ms)
{
	if (ms < 0)
		return VMT_NO_DEADLINE;
	return vmt_now_ms() + ms;
}

/* Wait for events on fd until the deadline. */
static int wait_fd(int fd, short events, int64_t deadline)
{
	struct pollfd pfd = {.fd = fd, .events = events};
	int timeout, r;

	for (;;) {
		if (deadline == VMT_NO_DEADLINE) {
			timeout = -1;
		} else {
			int64_t left = deadline - vmt_now_ms();

			if (left <= 0)
				return -ETIMEDOUT;
			timeout = left > INT_MAX ? INT_MAX : (int)left;
		}
		r = poll(&pfd, 1, timeout);
		if (r > 0)
			return 0;
		if (r == 0)
			continue; /* re-check the deadline */
		if (errno != EINTR)
			return -errno;
	}
}

int vmt_unix_connect(const char *path, int *fd_out)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int fd;

	if (strlen(path) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	memcpy(sa.sun_path, path, strlen(path) + 1);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -errno;
	/* A UNIX connect completes or fails at once; EAGAIN means a full backlog. */
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		int err = -errno;

		close(fd);
		return err;
	}
	*fd_out = fd;
	return 0;
}

int vmt_write_all(int fd, const void *buf, size_t len, int64_t deadline)
{
	const char *p = buf;
	int r;

	while (len) {
		/* MSG_NOSIGNAL: a peer that went away is an error, not SIGPIPE. */
		ssize_t n = send(fd, p, len, MSG_NOSIGNAL);

		if (n > 0) {
			p += n;
			len -= (size_t)n;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno != EAGAIN)
			return errno == EPIPE ? -ECONNRESET : -errno;
		r = wait_fd(fd, POLLOUT, deadline);
		if (r)
			return r;
	}
	return 0;
}

void vmt_rbuf_init(struct vmt_rbuf *rb, int fd)
{
	memset(rb, 0, sizeof(*rb));
	rb->fd = fd;
}

void vmt_rbuf_release(struct vmt_rbuf *rb)
{
	free(rb->buf);
	rb->buf = NULL;
	rb->cap = rb->start = rb->end = rb->scan = 0;
	rb->skipping = false;
}

/* Make room for at least want bytes after end, moving unread data first. */
static int rbuf_reserve(struct vmt_rbuf *rb, size_t want)
{
	size_t ncap;
	char *nbuf;

	if (rb->start) {
		memmove(rb->buf, rb->buf + rb->start, rb->end - rb->start);
		rb->end -= rb->start;
		rb->start = 0;
	}
	if (rb->cap - rb->end >= want)
		return 0;
	ncap = rb->cap ? rb->cap : RBUF_CHUNK;
	while (ncap - rb->end < want) {
		if (ncap > SIZE_MAX / 2)
			return -ENOMEM;
		ncap *= 2;
	}
	nbuf = realloc(rb->buf, ncap);
	if (!nbuf)
		return -ENOMEM;
	rb->buf = nbuf;
	rb->cap = ncap;
	return 0;
}

/* Read whatever arrives (at least one byte) into the buffer. */
static int rbuf_fill(struct vmt_rbuf *rb, int64_t deadline)
{
	int r = rbuf_reserve(rb, RBUF_CHUNK);

	if (r)
		return r;
	for (;;) {
		ssize_t n = read(rb->fd, rb->buf + rb->end, rb->cap - rb->end);

		if (n > 0) {
			rb->end += (size_t)n;
			return 0;
		}
		if (n == 0)
			return -ECONNRESET;
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN)
			return -errno;
		r = wait_fd(rb->fd, POLLIN, deadline);
		if (r)
			return r;
	}
}

int vmt_rbuf_line(struct vmt_rbuf *rb, size_t max, int64_t deadline, char **line, size_t *len)
{
	for (;;) {
		size_t avail = rb->end - rb->start;
		char *head = avail ? rb->buf + rb->start : NULL;
		char *nl = avail ? memchr(head + rb->scan, '\n', avail - rb->scan) : NULL;
		int r;

		if (nl) {
			size_t n = (size_t)(nl - head);

			rb->start += n + 1;
			rb->scan = 0;
			if (rb->skipping) {
				rb->skipping = false; /* the end of an oversized line */
				continue;
			}
			if (n > max)
				return -EMSGSIZE;
			*nl = '\0';
			*line = head;
			*len = n;
			return 0;
		}
		if (rb->skipping || avail > max) {
			/* Drop what we hold of an oversized line; its rest goes at the next '\n'.
			 */
			r = rb->skipping ? 0 : -EMSGSIZE;
			rb->start = rb->end;
			rb->scan = 0;
			rb->skipping = true;
			if (r)
				return r;
		} else {
			rb->scan = avail;
		}
		r = rbuf_fill(rb, deadline);
		if (r)
			return r;
	}
}

int vmt_rbuf_read(struct vmt_rbuf *rb, void *dst, size_t n, int64_t deadline)
{
	char *p = dst;
	size_t have = VMT_MIN(n, rb->end - rb->start);
	int r;

	if (have)
		memcpy(p, rb->buf + rb->start, have);
	rb->start += have;
	rb->scan = 0;
	p += have;
	n -= have;
	/* The rest goes straight to dst: a 64 MiB output is not copied twice. */
	while (n) {
		ssize_t got = read(rb->fd, p, n);

		if (got > 0) {
			p += got;
			n -= (size_t)got;
			/*
			 * A serial port delivers a byte or a few per wakeup; reading
			 * each costs a core that TCG needs, so let a bulk transfer pile
			 * up a little.  Only a little: QEMU sends one skb per byte and
			 * a few hundred of them fill its socket's send buffer (2 ms
			 * made a 2 MB output three times slower, 200 us 20% faster).
			 */
			if (n > RBUF_TRICKLE && got < RBUF_TRICKLE)
				nanosleep(&(struct timespec){.tv_nsec = 200000}, NULL);
			continue;
		}
		if (got == 0)
			return -ECONNRESET;
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN)
			return -errno;
		r = wait_fd(rb->fd, POLLIN, deadline);
		if (r)
			return r;
	}
	return 0;
}

// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * subhost.c - connection to a sub-host's NBD export (TLS-PSK by default),
 * the synchronous calls, addresses and key files.  The requests themselves
 * run in io.c.  Self-contained: links only libnbd, never prints.
 */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "subhost/subhost_priv.h"

#define DEFAULT_PORT		   10809
#define DEFAULT_CONNECT_TIMEOUT_MS 5000
#define DEFAULT_IO_TIMEOUT_MS	   10000
#define USERNAME_MAX		   256

static __thread char last_error[SUBHOST_ERR_LEN];

uint64_t subhost_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

int subhost_set_error(struct vmt_subhost *s, int err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(s ? s->err : last_error, SUBHOST_ERR_LEN, fmt, ap);
	va_end(ap);
	return err;
}

const char *vmt_subhost_error(const struct vmt_subhost *s)
{
	return s ? s->err : "no sub-host handle";
}

const char *vmt_subhost_last_error(void)
{
	return last_error;
}

int vmt_subhost_parse_addr(const char *addr, char *host, size_t host_sz, unsigned *port)
{
	const char *h = addr, *colon, *end;
	size_t hlen;

	if (!addr || !host || !port || !host_sz)
		return -EINVAL;
	if (*addr == '[') {
		h = addr + 1;
		end = strchr(h, ']');
		if (!end || (end[1] && end[1] != ':'))
			return -EINVAL;
		colon = end[1] ? end + 1 : NULL;
	} else {
		colon = strchr(addr, ':');
		if (colon && strchr(colon + 1, ':'))
			return -EINVAL; /* a bare IPv6 address needs brackets */
		end = colon ? colon : addr + strlen(addr);
	}
	hlen = (size_t)(end - h);
	if (!hlen || hlen >= host_sz || strcspn(h, " \t\n/@[]") < hlen)
		return -EINVAL;
	*port = DEFAULT_PORT;
	if (colon) {
		const char *p = colon + 1;
		unsigned long v = 0;

		if (!*p || strlen(p) > 5 || strspn(p, "0123456789") != strlen(p))
			return -EINVAL;
		v = strtoul(p, NULL, 10);
		if (v == 0 || v > 65535)
			return -EINVAL;
		*port = (unsigned)v;
	}
	memcpy(host, h, hlen);
	host[hlen] = '\0';
	return 0;
}

int vmt_subhost_psk_create(const char *path, const char *username)
{
	unsigned char key[32];
	char line[USERNAME_MAX + 2 * sizeof(key) + 3];
	int fd, len, r = 0;

	if (!path || !username || !*username || strlen(username) > USERNAME_MAX ||
	    strpbrk(username, ":\n\r"))
		return -EINVAL;
	for (size_t got = 0; got < sizeof(key);) {
		ssize_t k = getrandom(key + got, sizeof(key) - got, 0);

		if (k < 0 && errno != EINTR)
			return -errno;
		if (k > 0)
			got += (size_t)k;
	}
	len = snprintf(line, sizeof(line), "%s:", username);
	for (size_t i = 0; i < sizeof(key); i++)
		len += snprintf(line + len, sizeof(line) - (size_t)len, "%02x", key[i]);
	line[len++] = '\n';
	explicit_bzero(key, sizeof(key));

	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0) {
		r = -errno;
		goto out;
	}
	/* The mode must not depend on the caller's umask being sane. */
	errno = EIO; /* a short write sets no errno */
	if (fchmod(fd, 0600) < 0 || write(fd, line, (size_t)len) != len || fsync(fd) < 0)
		r = -errno;
	if (close(fd) < 0 && !r)
		r = -errno;
	if (r)
		unlink(path);
out:
	explicit_bzero(line, sizeof(line));
	return r;
}

/*
 * psktool's format, "username:hexkey" lines: find the username wanted (or
 * the first one when *user is empty), so that a name missing from the file
 * is a local -EINVAL rather than a failed handshake.
 */
static int psk_find_username(const char *path, char *user, size_t sz)
{
	char line[USERNAME_MAX + 160];
	FILE *f = fopen(path, "re");
	int r = -EINVAL;

	if (!f)
		return subhost_set_error(NULL, -errno, "%s: %s", path, strerror(errno));
	for (int i = 0; i < 4096 && fgets(line, sizeof(line), f); i++) {
		char *colon = strchr(line, ':');
		size_t len = colon ? (size_t)(colon - line) : 0;

		if (!len || len >= sz)
			continue;
		if (!*user || (strlen(user) == len && !memcmp(user, line, len))) {
			memcpy(user, line, len);
			user[len] = '\0';
			r = 0;
			break;
		}
	}
	explicit_bzero(line, sizeof(line));
	fclose(f);
	if (r < 0)
		subhost_set_error(NULL, r, "%s: no key for '%s'", path, *user ? user : "any user");
	return r;
}

/* Fields past o->sz (an older caller) read as zero. */
static int opts_copy(const struct vmt_subhost_opts *o, struct vmt_subhost_opts *c)
{
	memset(c, 0, sizeof(*c));
	if (!o || o->sz < offsetof(struct vmt_subhost_opts, psk_username))
		return subhost_set_error(NULL, -EINVAL, "bad options (sz)");
	memcpy(c, o, o->sz < sizeof(*c) ? o->sz : sizeof(*c));
	if (!c->addr)
		return subhost_set_error(NULL, -EINVAL, "no address");
	if (!c->insecure && !c->psk_file)
		return subhost_set_error(NULL, -EINVAL, "no TLS-PSK key file (and not insecure)");
	if (c->connect_timeout_ms <= 0)
		c->connect_timeout_ms = DEFAULT_CONNECT_TIMEOUT_MS;
	if (c->io_timeout_ms <= 0)
		c->io_timeout_ms = DEFAULT_IO_TIMEOUT_MS;
	return 0;
}

static int setup_tls(struct nbd_handle *h, const struct vmt_subhost_opts *o)
{
	char user[USERNAME_MAX + 1];
	const char *name = o->psk_username;
	int r;

	if (o->insecure)
		return nbd_set_tls(h, LIBNBD_TLS_DISABLE) < 0 ? -EINVAL : 0;
	if (name && strlen(name) > USERNAME_MAX)
		return subhost_set_error(NULL, -EINVAL, "TLS-PSK username too long");
	snprintf(user, sizeof(user), "%s", name ? name : "");
	r = psk_find_username(o->psk_file, user, sizeof(user));
	if (r < 0)
		return r;
	if (nbd_set_tls(h, LIBNBD_TLS_REQUIRE) < 0 || nbd_set_tls_psk_file(h, o->psk_file) < 0 ||
	    nbd_set_tls_username(h, user) < 0)
		return subhost_set_error(NULL, -(nbd_get_errno() ? nbd_get_errno() : EINVAL), "%s",
					 nbd_get_error());
	return 0;
}

/*
 * 4K page-ins are latency-bound: never let Nagle hold a request back.
 * libnbd 1.14 sets TCP_NODELAY itself before connecting (seen in strace);
 * this keeps it so with a libnbd that does not.
 */
static void set_nodelay(int fd)
{
	int one = 1;

	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

/*
 * What went wrong in a connect, as subhost.h promises it: a TCP connect
 * that failed keeps its errno (an unknown host name is -EHOSTUNREACH); a
 * TLS failure (wrong key, no key, a server without TLS) is -EACCES; a
 * server that hangs up is -ECONNRESET; anything else is not NBD: -EPROTO.
 * libnbd gives TLS failures no errno of their own, so its text decides.
 */
static int connect_errno(int e, const char *msg)
{
	switch (e) {
	case ECONNREFUSED:
	case ETIMEDOUT:
	case EHOSTUNREACH:
	case ENETUNREACH:
	case ENETDOWN:
	case EHOSTDOWN:
	case EADDRNOTAVAIL:
		return e;
	}
	if (!msg)
		return e ? e : EPROTO;
	if (strstr(msg, "getaddrinfo"))
		return EHOSTUNREACH;
	if (strstr(msg, "TLS") || strstr(msg, "gnutls"))
		return EACCES;
	if (e == ECONNRESET || e == EPIPE)
		return ECONNRESET;
	return EPROTO;
}

static int connect_failed(void)
{
	const char *msg = nbd_get_error();
	int e = connect_errno(nbd_get_errno(), msg);

	return subhost_set_error(NULL, -e, "%s", msg ? msg : strerror(e));
}

/* The peer has a name once TCP is up: from then on, failures are the handshake's. */
static bool tcp_connected(int fd)
{
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);

	if (getpeername(fd, (struct sockaddr *)&ss, &sl) < 0)
		return false;
	set_nodelay(fd);
	return true;
}

/* Drive the handshake until the handle is ready, failed, or the time is up. */
static int connect_wait(struct nbd_handle *h, int timeout_ms)
{
	uint64_t deadline = subhost_now_ns() + (uint64_t)timeout_ms * 1000000;
	bool tcp_up = false;

	while (!nbd_aio_is_ready(h)) {
		uint64_t now = subhost_now_ns();
		struct pollfd p = {.fd = nbd_aio_get_fd(h)};
		unsigned dir = nbd_aio_get_direction(h);
		int n, rc = 0;

		if (p.fd < 0 || nbd_aio_is_dead(h) || nbd_aio_is_closed(h))
			return subhost_set_error(NULL, tcp_up ? -EPROTO : -ECONNREFUSED,
						 "connection closed during the NBD handshake");
		if (!tcp_up)
			tcp_up = tcp_connected(p.fd);
		if (now >= deadline)
			return subhost_set_error(NULL, -ETIMEDOUT, "no NBD handshake within %d ms",
						 timeout_ms);
		p.events = (short)(((dir & LIBNBD_AIO_DIRECTION_READ) ? POLLIN : 0) |
				   ((dir & LIBNBD_AIO_DIRECTION_WRITE) ? POLLOUT : 0));
		n = poll(&p, 1, (int)((deadline - now + 999999) / 1000000));
		if (n < 0 && errno != EINTR)
			return subhost_set_error(NULL, -errno, "poll: %s", strerror(errno));
		if (n <= 0)
			continue;
		if (p.revents & (POLLIN | POLLHUP | POLLERR))
			rc = nbd_aio_notify_read(h);
		else if (p.revents & POLLOUT)
			rc = nbd_aio_notify_write(h);
		if (rc < 0)
			return connect_failed();
	}
	return 0;
}

static int handle_init(struct vmt_subhost *s, const struct vmt_subhost_opts *o)
{
	int64_t size = nbd_get_size(s->nbd), max = nbd_get_block_size(s->nbd, LIBNBD_SIZE_MAXIMUM);

	if (size < 0)
		return subhost_set_error(NULL, -EPROTO, "%s", nbd_get_error());
	s->size = (uint64_t)size;
	s->max_request = max > 0 && max < SUBHOST_MAX_REQUEST ? (uint64_t)max : SUBHOST_MAX_REQUEST;
	s->io_timeout_ms = o->io_timeout_ms;
	s->can_flush = nbd_can_flush(s->nbd) == 1;
	s->can_trim = nbd_can_trim(s->nbd) == 1;
	for (int i = 0; i < SUBHOST_MAX_INFLIGHT; i++)
		s->free_slots[i] = SUBHOST_MAX_INFLIGHT - 1 - i;
	s->nr_free = SUBHOST_MAX_INFLIGHT;
	return 0;
}

int vmt_subhost_connect(const struct vmt_subhost_opts *o, struct vmt_subhost **out)
{
	struct vmt_subhost_opts c;
	struct vmt_subhost *s = NULL;
	char host[256], port_str[8];
	unsigned port;
	int r;

	if (!out)
		return -EINVAL;
	*out = NULL;
	last_error[0] = '\0';
	r = opts_copy(o, &c);
	if (r < 0)
		return r;
	if (vmt_subhost_parse_addr(c.addr, host, sizeof(host), &port) < 0)
		return subhost_set_error(NULL, -EINVAL, "bad address '%s'", c.addr);
	snprintf(port_str, sizeof(port_str), "%u", port);
	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->nbd = nbd_create();
	if (!s->nbd) {
		r = subhost_set_error(NULL, -ENOMEM, "%s", nbd_get_error());
		goto err;
	}
	r = setup_tls(s->nbd, &c);
	if (r < 0)
		goto err;
	if (nbd_set_export_name(s->nbd, c.export_name ? c.export_name : "") < 0) {
		r = subhost_set_error(NULL, -EINVAL, "%s", nbd_get_error());
		goto err;
	}
	if (nbd_aio_connect_tcp(s->nbd, host, port_str) < 0)
		r = connect_failed();
	else
		r = connect_wait(s->nbd, c.connect_timeout_ms);
	if (r < 0)
		goto err;
	r = handle_init(s, &c);
	if (r < 0)
		goto err;
	*out = s;
	return 0;
err:
	if (s->nbd && !last_error[0])
		subhost_set_error(NULL, r, "%s", nbd_get_error() ? nbd_get_error() : strerror(-r));
	vmt_subhost_close(s);
	return r;
}

/*
 * A polite goodbye (NBD_CMD_DISC, then the server closes, TLS included),
 * so that servers do not log a broken connection for every client; only
 * on a healthy handle, and bounded, since the server may be going away.
 */
static void say_goodbye(struct nbd_handle *h, int timeout_ms)
{
	uint64_t deadline = subhost_now_ns() + (uint64_t)timeout_ms * 1000000;

	if (nbd_aio_disconnect(h, 0) < 0)
		return;
	for (int i = 0; i < 100 && !nbd_aio_is_closed(h) && !nbd_aio_is_dead(h); i++) {
		uint64_t now = subhost_now_ns();
		unsigned dir = nbd_aio_get_direction(h);
		struct pollfd p = {.fd = nbd_aio_get_fd(h)};
		int rc = 0;

		if (p.fd < 0 || now >= deadline)
			return;
		p.events = (short)(((dir & LIBNBD_AIO_DIRECTION_READ) ? POLLIN : 0) |
				   ((dir & LIBNBD_AIO_DIRECTION_WRITE) ? POLLOUT : 0));
		if (poll(&p, 1, (int)((deadline - now + 999999) / 1000000)) <= 0)
			continue;
		if (p.revents & (POLLIN | POLLHUP | POLLERR))
			rc = nbd_aio_notify_read(h);
		else if (p.revents & POLLOUT)
			rc = nbd_aio_notify_write(h);
		if (rc < 0)
			return;
	}
}

bool vmt_subhost_idle_ok(const struct vmt_subhost *s)
{
	struct pollfd p;

	if (!s || s->dead || s->inflight || !nbd_aio_is_ready(s->nbd))
		return false;
	p = (struct pollfd){.fd = nbd_aio_get_fd(s->nbd), .events = POLLIN | POLLRDHUP};
	return p.fd >= 0 && poll(&p, 1, 0) == 0;
}

void vmt_subhost_close(struct vmt_subhost *s)
{
	if (!s)
		return;
	if (!s->dead && s->nbd && nbd_aio_is_ready(s->nbd) && !s->inflight)
		say_goodbye(s->nbd, s->io_timeout_ms < 1000 ? s->io_timeout_ms : 1000);
	nbd_close(s->nbd);
	free(s);
}

uint64_t vmt_subhost_size(const struct vmt_subhost *s)
{
	return s ? s->size : 0;
}

void vmt_subhost_stats(const struct vmt_subhost *s, struct vmt_subhost_stats *out)
{
	if (!out)
		return;
	if (s)
		*out = s->stats;
	else
		memset(out, 0, sizeof(*out));
}

int vmt_subhost_pread(struct vmt_subhost *s, void *buf, size_t len, uint64_t off)
{
	struct vmt_subhost_io io = {.host = s, .off = off, .len = len, .buf = buf};

	return s ? subhost_run(&io, 1, SUBHOST_READ) : -EINVAL;
}

int vmt_subhost_pwrite(struct vmt_subhost *s, const void *buf, size_t len, uint64_t off)
{
	struct vmt_subhost_io io = {.host = s, .off = off, .len = len, .buf = (void *)buf};

	return s ? subhost_run(&io, 1, SUBHOST_WRITE) : -EINVAL;
}

int vmt_subhost_flush(struct vmt_subhost *s)
{
	struct vmt_subhost_io io = {.host = s};

	return s ? subhost_run(&io, 1, SUBHOST_FLUSH) : -EINVAL;
}

int vmt_subhost_trim(struct vmt_subhost *s, uint64_t off, uint64_t len)
{
	struct vmt_subhost_io io = {.host = s, .off = off, .len = len};

	if (!s || len > SIZE_MAX)
		return -EINVAL;
	return subhost_run(&io, 1, SUBHOST_TRIM);
}

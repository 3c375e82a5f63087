// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * micro_net.c - section nbd: a chunk fetched through src/subhost (libnbd,
 * TLS-PSK, as the runtime fetches) from the sub-host's export, from the
 * main host's namespace across the link, per chunk size; beside it plain
 * TCP request/response of the same size on the same link (a responder of
 * our own, forked into the sub-host's namespace) and the link's rate
 * (tc's, and a bulk TCP stream's).
 *
 * The responder's protocol: an 8-byte request n; n == 0 ends, n < 2^40
 * answers n bytes, n >= 2^40 (STREAM | bytes) streams that many bytes.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bench/micro.h"
#include "subhost/subhost.h"

#define STREAM	 (1ull << 40)
#define MAXCHUNK (2u << 20)

static double now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

int micro_netns_enter(const char *name, int *back)
{
	char path[128];
	int fd, err = 0;

	*back = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
	snprintf(path, sizeof(path), "/run/netns/%s", name);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (*back < 0 || fd < 0 || setns(fd, CLONE_NEWNET))
		err = bench_fail(-errno, "namespace %s: %s", name, strerror(errno));
	if (fd >= 0)
		close(fd);
	if (err && *back >= 0) {
		close(*back);
		*back = -1;
	}
	return err;
}

void micro_netns_leave(int back)
{
	if (back < 0)
		return;
	if (setns(back, CLONE_NEWNET))
		abort(); /* a bench left in the wrong namespace would measure nonsense */
	close(back);
}

static int full_io(int fd, void *buf, size_t len, bool wr)
{
	for (size_t done = 0; done < len;) {
		ssize_t n = wr ? write(fd, (char *)buf + done, len - done)
			       : read(fd, (char *)buf + done, len - done);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		done += (size_t)n;
	}
	return 0;
}

/* The responder's loop on one connection (in the child). */
static void responder_serve(int c)
{
	static char buf[MAXCHUNK];
	uint64_t n;

	memset(buf, 0x5a, sizeof(buf));
	while (!full_io(c, &n, sizeof(n), false) && n) {
		uint64_t left = n >= STREAM ? n - STREAM : n;

		if (left > (64ull << 30))
			break;
		while (left) {
			size_t k = left > sizeof(buf) ? sizeof(buf) : (size_t)left;

			if (full_io(c, buf, k, true))
				_exit(0);
			left -= k;
		}
	}
	_exit(0);
}

/* The child: into the sub-host's namespace, listen, say the port, serve one client. */
static void responder_child(struct micro_ctx *c, int report)
{
	struct sockaddr_in a = {.sin_family = AF_INET};
	socklen_t al = sizeof(a);
	int back, s, one = 1, cl;
	uint16_t port = 0;

	signal(SIGINT, SIG_DFL);
	alarm(1800); /* bounded, whatever happens to the parent */
	if (micro_netns_enter(c->sub_ns, &back))
		_exit(1);
	s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	inet_pton(AF_INET, c->sub_ip, &a.sin_addr);
	setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (s >= 0 && !bind(s, (struct sockaddr *)&a, sizeof(a)) && !listen(s, 1) &&
	    !getsockname(s, (struct sockaddr *)&a, &al))
		port = ntohs(a.sin_port);
	if (write(report, &port, sizeof(port)) != sizeof(port) || !port)
		_exit(1);
	close(report);
	cl = accept(s, NULL, NULL);
	if (cl < 0)
		_exit(1);
	setsockopt(cl, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	responder_serve(cl);
}

struct tcp_peer {
	pid_t pid;
	int fd;
};

/* Fork the responder and connect to it (the caller is in the main host's namespace). */
static int tcp_peer_start(struct micro_ctx *c, struct tcp_peer *p)
{
	struct sockaddr_in a = {.sin_family = AF_INET};
	int pp[2], one = 1;
	uint16_t port = 0;

	p->fd = -1;
	if (pipe2(pp, O_CLOEXEC))
		return bench_fail(-errno, "pipe: %s", strerror(errno));
	p->pid = fork();
	if (p->pid == 0) {
		close(pp[0]);
		responder_child(c, pp[1]);
	}
	close(pp[1]);
	if (p->pid < 0 || read(pp[0], &port, sizeof(port)) != sizeof(port) || !port) {
		close(pp[0]);
		return bench_fail(-EIO, "the TCP responder in %s did not start", c->sub_ns);
	}
	close(pp[0]);
	a.sin_port = htons(port);
	inet_pton(AF_INET, c->sub_ip, &a.sin_addr);
	p->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (p->fd < 0 || connect(p->fd, (struct sockaddr *)&a, sizeof(a)))
		return bench_fail(-errno, "connect %s:%u: %s", c->sub_ip, port, strerror(errno));
	setsockopt(p->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	return 0;
}

static void tcp_peer_stop(struct tcp_peer *p)
{
	if (p->fd >= 0) {
		uint64_t z = 0;

		(void)!write(p->fd, &z, sizeof(z));
		close(p->fd);
	}
	if (p->pid > 0) {
		kill(p->pid, SIGKILL);
		while (waitpid(p->pid, NULL, 0) < 0 && errno == EINTR)
			;
	}
}

static int tcp_rr(struct tcp_peer *p, void *buf, uint64_t len)
{
	return full_io(p->fd, &len, sizeof(len), true) || full_io(p->fd, buf, (size_t)len, false)
		   ? bench_fail(-EIO, "TCP responder: connection lost")
		   : 0;
}

/* MB/s of a bulk stream of bytes from the responder. */
static double tcp_stream(struct tcp_peer *p, void *buf, uint64_t bytes)
{
	uint64_t req = STREAM | bytes;
	double t0 = now_us();

	if (full_io(p->fd, &req, sizeof(req), true))
		return -1;
	for (uint64_t left = bytes; left;) {
		size_t k = left > MAXCHUNK ? MAXCHUNK : (size_t)left;

		if (full_io(p->fd, buf, k, false))
			return -1;
		left -= k;
	}
	return (double)bytes / (now_us() - t0);
}

/* Samples of one chunk size per repetition: fewer for big chunks (bytes bounded). */
static unsigned samples_for(const struct micro_ctx *c, uint64_t chunk)
{
	uint64_t budget =
	    (c->o->samples * 4096ull) > (16u << 20) ? c->o->samples * 4096ull : (16u << 20);
	uint64_t n = budget / chunk;

	if (n > c->o->samples)
		n = c->o->samples;
	return n < 5 ? 5 : (unsigned)n;
}

struct chunk_samples {
	double *nbd_us, *tcp_us;	 /* every request */
	double nbd_mbs[64], tcp_mbs[64]; /* per repetition */
	size_t n;
};

/* One repetition at one chunk size: NBD then TCP, same offsets, one request in flight. */
static int one_rep(struct micro_ctx *c, struct vmt_subhost *s, struct tcp_peer *p, uint64_t chunk,
		   unsigned rep, struct chunk_samples *cs, void *buf)
{
	unsigned n = samples_for(c, chunk);
	uint64_t x = 88172645463325252ull + rep, region = c->export_size / chunk;
	double tn = 0, tt = 0;

	for (unsigned i = 0; i < n; i++) {
		uint64_t off = (bench_xorshift(&x) % region) * chunk;
		double t0 = now_us(), t1;
		int err = vmt_subhost_pread(s, buf, chunk, off);

		if (err)
			return bench_fail(err, "nbd pread %llu at %llu: %s",
					  (unsigned long long)chunk, (unsigned long long)off,
					  vmt_subhost_error(s));
		t1 = now_us();
		if (tcp_rr(p, buf, chunk))
			return -EIO;
		cs->nbd_us[cs->n] = t1 - t0;
		cs->tcp_us[cs->n++] = now_us() - t1;
		tn += t1 - t0;
		tt += cs->tcp_us[cs->n - 1];
	}
	cs->nbd_mbs[rep] = (double)(n * chunk) / tn;
	cs->tcp_mbs[rep] = (double)(n * chunk) / tt;
	return 0;
}

static int chunk_rows(struct micro_ctx *c, uint64_t chunk, struct chunk_samples *cs, unsigned reps)
{
	int fl = micro_add(c->r, "nbd", "nbd_read_latency", chunk, "us", false, cs->nbd_us, cs->n);
	int ll = micro_add(c->r, "nbd", "tcp_rr_latency", chunk, "us", true, cs->tcp_us, cs->n);
	int ft = micro_add(c->r, "nbd", "nbd_read_mbs", chunk, "MB/s", false, cs->nbd_mbs, reps);
	int lt = micro_add(c->r, "nbd", "tcp_rr_mbs", chunk, "MB/s", true, cs->tcp_mbs, reps);

	if (fl < 0 || ll < 0 || ft < 0 || lt < 0)
		return -ENOMEM;
	micro_set_limit(c->r, fl, ll);
	micro_set_limit(c->r, ft, lt);
	return 0;
}

/* The link: tc's rate (a limit) and a bulk TCP stream beside it. */
static int link_rows(struct micro_ctx *c, struct tcp_peer *p, void *buf)
{
	uint64_t bytes = c->o->samples >= 200 ? (256u << 20) : (32u << 20);
	double v[64], rate = c->link_mbs;
	unsigned reps = c->o->reps;
	int f, l;

	micro_step(c, "nbd: link, TCP stream of %llu MiB x %u", (unsigned long long)(bytes >> 20),
		   reps);
	for (unsigned i = 0; i < reps; i++)
		if ((v[i] = tcp_stream(p, buf, bytes)) < 0)
			return bench_fail(-EIO, "TCP stream: connection lost");
	f = micro_add(c->r, "nbd", "tcp_stream_mbs", 0, "MB/s", false, v, reps);
	if (f < 0)
		return f;
	if (rate > 0) {
		l = micro_add(c->r, "nbd", "link_rate_mbs", 0, "MB/s", true, &rate, 1);
		micro_set_limit(c->r, f, l);
	} else { /* a bare veth has no rate: the stream is the link's */
		c->r->rows[f].is_limit = true;
	}
	return 0;
}

static int nbd_sweep(struct micro_ctx *c, struct vmt_subhost *s, struct tcp_peer *p, void *buf)
{
	unsigned reps = c->o->reps > 64 ? 64 : c->o->reps;
	struct chunk_samples cs = {0};
	int err = 0;

	cs.nbd_us = calloc((size_t)reps * c->o->samples + 64, sizeof(double));
	cs.tcp_us = calloc((size_t)reps * c->o->samples + 64, sizeof(double));
	if (!cs.nbd_us || !cs.tcp_us)
		err = -ENOMEM;
	for (unsigned k = 0; !err && k < c->o->nr_chunks; k++) {
		uint64_t chunk = c->o->chunks[k];

		micro_step(c, "nbd: %llu KiB chunks, %u x %u requests",
			   (unsigned long long)(chunk >> 10), reps, samples_for(c, chunk));
		cs.n = 0;
		for (unsigned rep = 0; !err && rep < reps; rep++)
			err = bench_stop ? -EINTR : one_rep(c, s, p, chunk, rep, &cs, buf);
		if (!err)
			err = chunk_rows(c, chunk, &cs, reps);
	}
	if (!err)
		err = link_rows(c, p, buf);
	free(cs.nbd_us);
	free(cs.tcp_us);
	return err;
}

int micro_nbd_run(struct micro_ctx *c)
{
	struct vmt_subhost_opts so = {.sz = sizeof(so),
				      .addr = c->nbd_addr,
				      .export_name = c->export_name,
				      .psk_file = c->psk,
				      .io_timeout_ms = 30000};
	struct tcp_peer p = {.pid = -1, .fd = -1};
	struct vmt_subhost *s = NULL;
	void *buf = malloc(MAXCHUNK);
	int back, err;

	if (!buf)
		return -ENOMEM;
	err = micro_netns_enter(c->main_ns, &back);
	if (err) {
		free(buf);
		return err;
	}
	err = tcp_peer_start(c, &p);
	if (!err && (err = vmt_subhost_connect(&so, &s)))
		bench_fail(err, "connect %s: %s", c->nbd_addr, vmt_subhost_last_error());
	micro_netns_leave(back); /* the sockets stay in the main host's namespace */
	if (!err)
		err = nbd_sweep(c, s, &p, buf);
	vmt_subhost_close(s);
	tcp_peer_stop(&p);
	free(buf);
	return err;
}

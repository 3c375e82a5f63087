// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * run.c - vmt's own subcommands as child processes: bounded in time, their
 * output captured, and stoppable.  The sweep is made of the same steps a
 * user types (`vmt vm start`, `vmt split`, ...), so it measures exactly
 * what they run, and a step that hangs cannot hang the benchmark.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bench/bench.h"

#define OUT_CAP (4u << 20)

volatile sig_atomic_t bench_stop;
static char last_error[512];

int bench_fail(int err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(last_error, sizeof(last_error), fmt, ap);
	va_end(ap);
	return err;
}

const char *bench_error(void)
{
	return last_error;
}

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

struct sink {
	int fd;
	char *buf;
	size_t len, cap;
};

/* Read what fd holds; EOF closes it (fd = -1).  Past OUT_CAP bytes are dropped. */
static void sink_read(struct sink *s)
{
	char tmp[65536];
	ssize_t n = read(s->fd, tmp, sizeof(tmp));

	if (n < 0 && (errno == EINTR || errno == EAGAIN))
		return;
	if (n <= 0) {
		close(s->fd);
		s->fd = -1;
		return;
	}
	if (s->len + (size_t)n + 1 > s->cap && s->cap < OUT_CAP + 1) {
		size_t cap = s->cap ? s->cap * 2 : 65536;
		char *p;

		while (cap < s->len + (size_t)n + 1)
			cap *= 2;
		if (cap > OUT_CAP + 1)
			cap = OUT_CAP + 1;
		p = realloc(s->buf, cap);
		if (!p)
			return;
		s->buf = p;
		s->cap = cap;
	}
	if (s->len + (size_t)n + 1 > s->cap)
		n = (ssize_t)(s->cap - s->len - 1);
	memcpy(s->buf + s->len, tmp, (size_t)n);
	s->len += (size_t)n;
	s->buf[s->len] = '\0';
}

static void child_exec(char *const argv[], int out[2], int err[2], bool cleanup)
{
	int null = open("/dev/null", O_RDONLY);

	if (null >= 0)
		dup2(null, 0);
	dup2(out[1], 1);
	dup2(err[1], 2);
	if (cleanup)
		signal(SIGINT, SIG_IGN);
	else
		signal(SIGINT, SIG_DFL);
	execv(argv[0], argv);
	dprintf(2, "cannot run %s: %s\n", argv[0], strerror(errno));
	_exit(127);
}

/* Drain both pipes until they close, forwarding a stop and enforcing the deadline. */
static int child_wait(pid_t pid, struct sink *s, double deadline, bool cleanup)
{
	bool forwarded = false, killed = false;

	while (s[0].fd >= 0 || s[1].fd >= 0) {
		struct pollfd p[2] = {{.fd = s[0].fd, .events = POLLIN},
				      {.fd = s[1].fd, .events = POLLIN}};

		if (!cleanup && bench_stop && !forwarded) {
			kill(pid, SIGINT);
			forwarded = true;
		}
		if (!killed && now_ms() > deadline) {
			kill(pid, SIGKILL);
			killed = true;
		}
		if (poll(p, 2, 200) < 0 && errno != EINTR)
			break;
		for (int i = 0; i < 2; i++)
			if (s[i].fd >= 0 && (p[i].revents & (POLLIN | POLLHUP | POLLERR)))
				sink_read(&s[i]);
	}
	return killed ? -ETIMEDOUT : 0;
}

int bench_run(char *const argv[], int timeout_s, bool cleanup, struct bench_out *o)
{
	int out[2] = {-1, -1}, err[2] = {-1, -1}, ret, st = 0;
	struct sink s[2] = {{.fd = -1}, {.fd = -1}};
	double t0 = now_ms();
	pid_t pid;

	memset(o, 0, sizeof(*o));
	if (pipe2(out, O_CLOEXEC) || pipe2(err, O_CLOEXEC)) {
		ret = -errno;
		goto fail;
	}
	pid = fork();
	if (pid < 0) {
		ret = -errno;
		goto fail;
	}
	if (pid == 0)
		child_exec(argv, out, err, cleanup);
	close(out[1]);
	close(err[1]);
	s[0].fd = out[0];
	s[1].fd = err[0];
	ret = child_wait(pid, s, t0 + timeout_s * 1e3, cleanup);
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	o->status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
	o->ms = now_ms() - t0;
	o->out = s[0].buf ? s[0].buf : strdup("");
	o->err = s[1].buf ? s[1].buf : strdup("");
	if (ret)
		bench_fail(ret, "%s %s: no end after %d s (killed)", argv[0], argv[1], timeout_s);
	return ret;
fail:
	for (int i = 0; i < 2; i++) {
		if (out[i] >= 0)
			close(out[i]);
		if (err[i] >= 0)
			close(err[i]);
	}
	return bench_fail(ret, "cannot start %s: %s", argv[0], strerror(-ret));
}

void bench_out_free(struct bench_out *o)
{
	if (!o)
		return;
	free(o->out);
	free(o->err);
	o->out = o->err = NULL;
}

// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * vmt-agent: the test guest's ground truth. It runs shell commands sent by the host over a serial
 * port and returns their exit status, wall time and output. Tests compare what the introspection
 * sees from outside with what this agent sees from inside.
 *
 * Protocol (one byte stream each way, tty in raw mode; see guest/README.md):
 *   host "P\n"                      -> agent "PONG\n"
 *   host "X <len>\n" + <len> bytes  -> agent "R <exit> <duration_ns> <out_len> <err_len>\n",
 *                                      then <out_len> stdout bytes, then <err_len> stderr bytes
 *   any other line                  -> agent "E bad-request\n"
 * The command runs as `/bin/sh -c <bytes>`: len <= CMD_MAX and no NUL byte (a longer one, up to
 * DISCARD_MAX, is read and refused with E). exit is WEXITSTATUS, or 128 + signal number. Each
 * output is capped at OUT_CAP bytes; the rest is read and dropped so the command never blocks on a
 * pipe. When the shell exits, output still in the pipes is taken and the pipes are closed: a
 * background job that keeps them open cannot hang the agent.
 *
 * Usage: vmt-agent [TTY]   (default /dev/ttyS1; "-" = stdin/stdout, for testing on the host)
 * The agent never exits on a bad request; it exits only when its tty fails (init respawns it).
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#define DEFAULT_TTY	   "/dev/ttyS1"
#define LINE_MAX_LEN	   64		     /* a request line: "P" or "X <len>" */
#define CMD_MAX		   (128u * 1024 - 1) /* longest command: one execve argument (MAX_ARG_STRLEN) */
#define DISCARD_MAX	   (64u << 20)	     /* longer ones up to this are read and refused */
#define OUT_CAP		   ((size_t)64 << 20) /* per stream */
#define PAYLOAD_TIMEOUT_MS 10000	      /* silence allowed inside a command's bytes */
#define CHILD_POLL_MS	   100		      /* only used when pidfd_open is unavailable */

struct reader {
	int fd;
	size_t pos, len;
	unsigned char buf[4096];
};

struct obuf {
	char *data;
	size_t len, cap;
};

struct result {
	int exit_code;
	uint64_t duration_ns;
	struct obuf out, err;
};

static void log_err(const char *what)
{
	fprintf(stderr, "vmt-agent: %s: %s\n", what, strerror(errno));
}

static int write_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;

	while (len > 0) {
		ssize_t n = write(fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Refills the reader. Returns bytes read, 0 on EOF, -ETIMEDOUT or another negative errno. */
static int reader_fill(struct reader *rd, int timeout_ms)
{
	struct pollfd pfd = {.fd = rd->fd, .events = POLLIN};
	ssize_t n;
	int r;

	for (;;) {
		r = poll(&pfd, 1, timeout_ms);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -errno;
		if (r == 0)
			return -ETIMEDOUT;
		n = read(rd->fd, rd->buf, sizeof(rd->buf));
		if (n < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (n < 0)
			return -errno;
		rd->pos = 0;
		rd->len = (size_t)n;
		return (int)n;
	}
}

/*
 * Reads one line without its '\n' into line (NUL-terminated). A line longer than size - 1 is
 * consumed up to its '\n' and reported with *too_long. Returns 1, 0 on EOF, or a negative errno.
 */
static int reader_line(struct reader *rd, char *line, size_t size, bool *too_long)
{
	size_t n = 0;
	int r;

	*too_long = false;
	for (;;) {
		if (rd->pos == rd->len) {
			r = reader_fill(rd, -1);
			if (r <= 0)
				return r;
		}
		unsigned char c = rd->buf[rd->pos++];

		if (c == '\n')
			break;
		if (n + 1 < size)
			line[n++] = (char)c;
		else
			*too_long = true;
	}
	line[n] = '\0';
	return 1;
}

/* Reads exactly len bytes; gives up after PAYLOAD_TIMEOUT_MS without progress. */
static int reader_exact(struct reader *rd, char *dst, size_t len)
{
	size_t got = 0;
	int r;

	while (got < len) {
		if (rd->pos == rd->len) {
			r = reader_fill(rd, PAYLOAD_TIMEOUT_MS);
			if (r == 0)
				return -EPIPE;
			if (r < 0)
				return r;
		}
		size_t take = rd->len - rd->pos;

		if (take > len - got)
			take = len - got;
		memcpy(dst + got, rd->buf + rd->pos, take);
		rd->pos += take;
		got += take;
	}
	return 0;
}

/* Appends up to OUT_CAP bytes in total; the excess (or what no memory can hold) is dropped. */
static void obuf_append(struct obuf *b, const char *src, size_t len)
{
	if (len > OUT_CAP - b->len)
		len = OUT_CAP - b->len;
	if (len == 0)
		return;
	if (b->len + len > b->cap) {
		size_t cap = b->cap ? b->cap : 65536;

		while (cap < b->len + len)
			cap *= 2;
		if (cap > OUT_CAP)
			cap = OUT_CAP;
		char *p = realloc(b->data, cap);

		if (!p)
			return;
		b->data = p;
		b->cap = cap;
	}
	memcpy(b->data + b->len, src, len);
	b->len += len;
}

enum drain { DRAIN_EOF, DRAIN_EMPTY, DRAIN_MORE };

/* Reads what fd holds now; at EOF closes it and sets it to -1. */
static enum drain drain_fd(int *fd, struct obuf *b)
{
	char chunk[65536];
	int i;

	/* Bounded so one busy stream cannot starve the other; poll brings us back. */
	for (i = 0; i < 64; i++) {
		ssize_t n = read(*fd, chunk, sizeof(chunk));

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return DRAIN_EMPTY;
		if (n <= 0) {
			if (n < 0)
				log_err("read output pipe");
			close(*fd);
			*fd = -1;
			return DRAIN_EOF;
		}
		obuf_append(b, chunk, (size_t)n);
	}
	return DRAIN_MORE;
}

static int pidfd_open_compat(pid_t pid)
{
	return (int)syscall(SYS_pidfd_open, pid, 0);
}

static void exec_child(const char *cmd, int out_w, int err_w)
{
	sigset_t none;
	int devnull;

	/* An ignored disposition would survive exec; give the command a normal process. No
	 * setsid(): a session leader that opens a serial tty makes it its controlling tty, and its
	 * exit then hangs that tty up (EIO for the agent, or for everyone on the console). */
	signal(SIGPIPE, SIG_DFL);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	devnull = open("/dev/null", O_RDONLY);
	if (devnull < 0 || dup2(devnull, 0) < 0 || dup2(out_w, 1) < 0 || dup2(err_w, 2) < 0)
		_exit(126);
	execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
	_exit(127);
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	if (clock_gettime(CLOCK_MONOTONIC, &ts) < 0)
		return 0;
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static bool child_exited(pid_t pid)
{
	siginfo_t si = {0};

	return waitid(P_PID, pid, &si, WEXITED | WNOHANG | WNOWAIT) == 0 && si.si_pid == pid;
}

/* Collects both pipes until both are at EOF or the shell has exited, then reaps the shell. */
static int collect(pid_t pid, int fds[2], struct result *res)
{
	struct obuf *bufs[2] = {&res->out, &res->err};
	int pidfd = pidfd_open_compat(pid);
	bool exited = false;
	int status, r, i, guard;

	while ((fds[0] >= 0 || fds[1] >= 0) && !exited) {
		struct pollfd p[3] = {
		    {.fd = fds[0], .events = POLLIN},
		    {.fd = fds[1], .events = POLLIN},
		    {.fd = pidfd, .events = POLLIN},
		};

		r = poll(p, 3, pidfd >= 0 ? -1 : CHILD_POLL_MS);
		if (r < 0 && errno != EINTR) {
			log_err("poll");
			break;
		}
		for (i = 0; i < 2 && r > 0; i++)
			if (p[i].revents)
				drain_fd(&fds[i], bufs[i]);
		exited = pidfd >= 0 ? r > 0 && p[2].revents : child_exited(pid);
	}
	/* What the shell wrote before exiting is in the pipes; a background job's later output
	 * is not waited for. The guard bounds a job that keeps writing. */
	for (i = 0; i < 2; i++) {
		for (guard = 0; fds[i] >= 0 && guard < 1024; guard++)
			if (drain_fd(&fds[i], bufs[i]) != DRAIN_MORE)
				break;
		if (fds[i] >= 0) {
			close(fds[i]);
			fds[i] = -1;
		}
	}
	if (pidfd >= 0)
		close(pidfd);
	while ((r = waitpid(pid, &status, 0)) < 0 && errno == EINTR)
		;
	if (r < 0) {
		log_err("waitpid");
		return -ECHILD;
	}
	if (WIFEXITED(status))
		res->exit_code = WEXITSTATUS(status);
	else if (WIFSIGNALED(status))
		res->exit_code = 128 + WTERMSIG(status);
	else
		res->exit_code = 255;
	return 0;
}

static int run_command(const char *cmd, struct result *res)
{
	int outp[2], errp[2], fds[2];
	uint64_t start;
	pid_t pid;
	int ret;

	if (pipe2(outp, O_CLOEXEC) < 0)
		return -errno;
	if (pipe2(errp, O_CLOEXEC) < 0) {
		ret = -errno;
		goto err_out;
	}
	start = now_ns();
	pid = fork();
	if (pid < 0) {
		ret = -errno;
		goto err_err;
	}
	if (pid == 0)
		exec_child(cmd, outp[1], errp[1]);
	close(outp[1]);
	close(errp[1]);
	fds[0] = outp[0];
	fds[1] = errp[0];
	if (fcntl(fds[0], F_SETFL, O_NONBLOCK) < 0 || fcntl(fds[1], F_SETFL, O_NONBLOCK) < 0)
		log_err("fcntl O_NONBLOCK");
	ret = collect(pid, fds, res);
	res->duration_ns = now_ns() - start;
	return ret;

err_err:
	close(errp[0]);
	close(errp[1]);
err_out:
	close(outp[0]);
	close(outp[1]);
	return ret;
}

/* Parses "X <len>" strictly: decimal digits only, len <= DISCARD_MAX. */
static bool parse_exec_line(const char *line, size_t *len)
{
	size_t v = 0;
	const char *p;

	if (line[0] != 'X' || line[1] != ' ' || line[2] == '\0')
		return false;
	for (p = line + 2; *p; p++) {
		if (*p < '0' || *p > '9' || p - line > 12)
			return false;
		v = v * 10 + (size_t)(*p - '0');
	}
	if (v > DISCARD_MAX)
		return false;
	*len = v;
	return true;
}

static int reply_error(int wfd)
{
	static const char msg[] = "E bad-request\n";

	return write_all(wfd, msg, sizeof(msg) - 1);
}

static int handle_exec(struct reader *rd, int wfd, size_t len)
{
	struct result res = {0};
	char header[128];
	char *cmd;
	int r, n;

	/* Too long for sh -c: consume it anyway so the next request is read from its start. */
	if (len > CMD_MAX) {
		char sink[4096];

		for (size_t left = len; left > 0; left -= (size_t)n) {
			n = (int)(left < sizeof(sink) ? left : sizeof(sink));
			r = reader_exact(rd, sink, (size_t)n);
			if (r == -EPIPE)
				return r;
			if (r < 0)
				break;
		}
		return reply_error(wfd);
	}
	cmd = malloc(len + 1);
	if (!cmd)
		return reply_error(wfd);
	r = reader_exact(rd, cmd, len);
	if (r == -EPIPE) {
		free(cmd);
		return r;
	}
	if (r < 0 || memchr(cmd, '\0', len)) {
		free(cmd);
		return reply_error(wfd);
	}
	cmd[len] = '\0';
	r = run_command(cmd, &res);
	free(cmd);
	if (r < 0) {
		errno = -r;
		log_err("run command");
		r = reply_error(wfd);
		goto out;
	}
	n = snprintf(header, sizeof(header), "R %d %" PRIu64 " %zu %zu\n", res.exit_code,
		     res.duration_ns, res.out.len, res.err.len);
	r = write_all(wfd, header, (size_t)n);
	if (r == 0 && res.out.len)
		r = write_all(wfd, res.out.data, res.out.len);
	if (r == 0 && res.err.len)
		r = write_all(wfd, res.err.data, res.err.len);
out:
	free(res.out.data);
	free(res.err.data);
	return r;
}

static int handle_line(struct reader *rd, int wfd, char *line, bool too_long)
{
	size_t n = strlen(line), len;

	if (n > 0 && line[n - 1] == '\r')
		line[--n] = '\0';
	if (too_long)
		return reply_error(wfd);
	if (strcmp(line, "P") == 0)
		return write_all(wfd, "PONG\n", 5);
	if (parse_exec_line(line, &len))
		return handle_exec(rd, wfd, len);
	return reply_error(wfd);
}

/* Raw mode: no echo, no line editing, no CR/LF translation, 8 bits, no modem control. */
static int open_tty(const char *path)
{
	struct termios t;
	int fd;

	fd = open(path, O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (tcgetattr(fd, &t) < 0)
		goto fail;
	cfmakeraw(&t);
	t.c_cflag |= CLOCAL | CREAD;
	t.c_cc[VMIN] = 1;
	t.c_cc[VTIME] = 0;
	if (cfsetspeed(&t, B115200) < 0 || tcsetattr(fd, TCSANOW, &t) < 0)
		goto fail;
	/* Drop what the host sent before we listened (e.g. pings queued during boot). */
	if (tcflush(fd, TCIOFLUSH) < 0)
		goto fail;
	return fd;
fail : {
	int e = errno;

	close(fd);
	return -e;
}
}

int main(int argc, char **argv)
{
	const char *path = argc > 1 ? argv[1] : DEFAULT_TTY;
	struct reader *rd;
	char line[LINE_MAX_LEN];
	bool too_long;
	int rfd, wfd, r;

	if (argc > 2) {
		fprintf(stderr, "usage: vmt-agent [TTY|-]\n");
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);
	if (strcmp(path, "-") == 0) {
		rfd = 0;
		wfd = 1;
	} else {
		rfd = open_tty(path);
		if (rfd < 0) {
			errno = -rfd;
			log_err(path);
			sleep(1); /* init respawns us: do not spin */
			return 1;
		}
		wfd = rfd;
	}
	rd = calloc(1, sizeof(*rd));
	if (!rd) {
		log_err("calloc");
		return 1;
	}
	rd->fd = rfd;
	for (;;) {
		r = reader_line(rd, line, sizeof(line), &too_long);
		if (r <= 0)
			break;
		r = handle_line(rd, wfd, line, too_long);
		if (r < 0)
			break;
	}
	if (r < 0) {
		errno = -r;
		log_err("serial channel");
		sleep(1); /* init respawns us: do not spin */
	}
	free(rd);
	return r < 0 ? 1 : 0;
}

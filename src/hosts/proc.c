// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * proc.c - run external tools without a shell and watch processes.
 *
 * Tools are run with fork+execvp and an argv array so that no name or
 * address ever passes through a shell; their stderr is captured because it
 * is the only useful text when `ip` or `tc` refuses something.
 */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "core/internal.h"
#include "hosts/hosts_priv.h"
#include "vmctl/vm.h"

void hosts_sleep_ms(int ms)
{
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};

	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
}

long long hosts_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void run_child(char *const argv[], int out_fd, int err_fd)
{
	int nul = open("/dev/null", O_RDONLY);

	if (nul >= 0)
		dup2(nul, 0);
	dup2(out_fd, 1);
	dup2(err_fd, 2);
	execvp(argv[0], argv);
	/* ip and tc live in /usr/sbin, which a non-login PATH may lack */
	if (errno == ENOENT && !strchr(argv[0], '/')) {
		char path[256];

		snprintf(path, sizeof(path), "/usr/sbin/%s", argv[0]);
		execv(path, argv);
		snprintf(path, sizeof(path), "/sbin/%s", argv[0]);
		execv(path, argv);
		errno = ENOENT;
	}
	fprintf(stderr, "cannot run %s: %s", argv[0], strerror(errno));
	_exit(127);
}

/* Append what fd has to buf (bounded by cap); false on EOF or error. */
static bool run_drain(int fd, char *buf, size_t cap, size_t *len)
{
	char tmp[4096];
	ssize_t n = read(fd, tmp, sizeof(tmp));

	if (n < 0 && errno == EINTR)
		return true;
	if (n <= 0)
		return false;
	if (buf && cap > 1 && *len < cap - 1) {
		size_t take = VMT_MIN((size_t)n, cap - 1 - *len);

		memcpy(buf + *len, tmp, take);
		*len += take;
		buf[*len] = '\0';
	}
	return true;
}

/* Read both pipes until both close or the deadline passes. */
static int run_collect(int fds[2], char *out, size_t out_sz, char *err, size_t err_sz)
{
	size_t lens[2] = {0, 0};
	bool open_[2] = {true, true};
	long long deadline = hosts_now_ms() + HOSTS_RUN_TIMEOUT_MS;

	while (open_[0] || open_[1]) {
		struct pollfd p[2] = {{open_[0] ? fds[0] : -1, POLLIN, 0},
				      {open_[1] ? fds[1] : -1, POLLIN, 0}};
		long long left = deadline - hosts_now_ms();

		if (left <= 0)
			return -ETIMEDOUT;
		if (poll(p, 2, (int)left) < 0 && errno != EINTR)
			return -errno;
		if (p[0].revents && !run_drain(fds[0], out, out_sz, &lens[0]))
			open_[0] = false;
		if (p[1].revents && !run_drain(fds[1], err, err_sz, &lens[1]))
			open_[1] = false;
	}
	return 0;
}

int hosts_run(char *const argv[], char *out, size_t out_sz, char *err, size_t err_sz)
{
	int po[2], pe[2], st, ret;
	pid_t pid;

	if (out && out_sz)
		out[0] = '\0';
	if (err && err_sz)
		err[0] = '\0';
	if (pipe2(po, O_CLOEXEC))
		return -errno;
	if (pipe2(pe, O_CLOEXEC)) {
		ret = -errno;
		goto err_po;
	}
	pid = fork();
	if (pid < 0) {
		ret = -errno;
		goto err_pe;
	}
	if (pid == 0)
		run_child(argv, po[1], pe[1]);
	close(po[1]);
	close(pe[1]);
	ret = run_collect((int[2]){po[0], pe[0]}, out, out_sz, err, err_sz);
	if (ret == -ETIMEDOUT)
		kill(pid, SIGKILL);
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	close(po[0]);
	close(pe[0]);
	if (ret)
		return ret;
	return WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : -EIO;
err_pe:
	close(pe[0]);
	close(pe[1]);
err_po:
	close(po[0]);
	close(po[1]);
	return ret;
}

int hosts_run_err(char *const argv[], char *out, size_t out_sz)
{
	char err[512], cmd[256] = "";
	int ret = hosts_run(argv, out, out_sz, err, sizeof(err));
	size_t n;

	if (!ret)
		return 0;
	for (int i = 0; argv[i] && strlen(cmd) + strlen(argv[i]) + 2 < sizeof(cmd); i++) {
		strcat(cmd, i ? " " : "");
		strcat(cmd, argv[i]);
	}
	n = strlen(err);
	while (n && (err[n - 1] == '\n' || err[n - 1] == ' '))
		err[--n] = '\0';
	if (ret == -ETIMEDOUT)
		return vmt_error(ret, "`%s` did not finish in %d s", cmd,
				 HOSTS_RUN_TIMEOUT_MS / 1000);
	return vmt_error(ret, "`%s` failed: %s", cmd, n ? err : "(no message)");
}

bool hosts_pid_matches(pid_t pid, const char *needle)
{
	char path[64], buf[4096];
	ssize_t n;
	int fd;

	if (pid <= 0 || kill(pid, 0) || vmt_pid_is_zombie(pid))
		return false;
	snprintf(path, sizeof(path), "/proc/%d/cmdline", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return false;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return false;
	for (ssize_t i = 0; i < n; i++)
		if (!buf[i])
			buf[i] = ' ';
	buf[n] = '\0';
	return !needle || strstr(buf, needle);
}

bool hosts_pid_stop(pid_t pid, int ms)
{
	if (pid <= 0)
		return true;
	if (kill(pid, SIGTERM) && errno == ESRCH)
		return true;
	for (int waited = 0; waited < ms; waited += 20) {
		waitpid(pid, NULL, WNOHANG); /* in case it is our child */
		if (!hosts_pid_matches(pid, NULL))
			return true;
		hosts_sleep_ms(20);
	}
	kill(pid, SIGKILL);
	for (int waited = 0; waited < 2000; waited += 20) {
		waitpid(pid, NULL, WNOHANG);
		if (!hosts_pid_matches(pid, NULL))
			return true;
		hosts_sleep_ms(20);
	}
	return false;
}

pid_t hosts_pid_read(const char *path)
{
	char buf[32];
	ssize_t n;
	long v;
	char *end;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return 0;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	v = strtol(buf, &end, 10);
	if (v <= 0 || v > 1 << 30 || (*end && *end != '\n'))
		return 0;
	return (pid_t)v;
}

int hosts_mkdir_p(const char *path, mode_t mode)
{
	char tmp[4096];
	size_t n = vmt_strlcpy(tmp, path, sizeof(tmp));

	if (n >= sizeof(tmp))
		return -ENAMETOOLONG;
	for (char *p = tmp + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(tmp, mode) && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	if (mkdir(tmp, mode) && errno != EEXIST)
		return -errno;
	return 0;
}

bool hosts_tcp_answers(const char *host, unsigned port, int timeout_ms)
{
	struct addrinfo hints = {.ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICHOST};
	struct addrinfo *ai;
	char serv[16];
	bool ok = false;
	int fd;

	snprintf(serv, sizeof(serv), "%u", port);
	if (getaddrinfo(host, serv, &hints, &ai))
		return false;
	fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd >= 0) {
		int r = connect(fd, ai->ai_addr, ai->ai_addrlen);
		struct pollfd p = {fd, POLLOUT, 0};
		int e = 0;
		socklen_t el = sizeof(e);

		if (!r)
			ok = true;
		else if (errno == EINPROGRESS && poll(&p, 1, timeout_ms) == 1 &&
			 !getsockopt(fd, SOL_SOCKET, SO_ERROR, &e, &el) && !e)
			ok = true;
		close(fd);
	}
	freeaddrinfo(ai);
	return ok;
}

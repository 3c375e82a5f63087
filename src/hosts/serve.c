// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * serve.c - serve one VM's sub-host memory with nbdkit, supervised.
 *
 * The data is store/VM.mem, a sparse file on the sub-host's tmpfs, served
 * by nbdkit's file plugin: NBD trim punches holes (memory comes back), a
 * full tmpfs answers ENOSPC, and because the file outlives nbdkit a
 * restarted server comes back with its data.  The supervisor holds an
 * exclusive flock on store/VM.pid for its whole life: that lock, not the
 * pid number, says whether a VM is served (pids get reused).  nbdkit runs
 * with --exit-with-parent: when its supervisor dies it gets SIGTERM and
 * exits once its clients hang up -- but a pager never hangs up, so an
 * orphan may keep its port without accepting anyone (measured: it survived
 * even PR_SET_PDEATHSIG SIGKILL with a client connected); stopping the
 * export kills it by its pid file.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "core/internal.h"
#include "hosts/hosts.h"
#include "hosts/hosts_priv.h"
#include "vmctl/vm.h"

#define SERVE_READY_MS	       15000
#define SERVE_BACKOFF_MIN_MS   200
#define SERVE_BACKOFF_MAX_MS   5000
#define SERVE_RESTARTS_PER_MIN 10
#define SERVE_STABLE_MS	       10000 /* a server up this long resets the backoff */

struct serve_paths {
	char mem[4096], pid[4096], npid[4096], log[4096], listen[4096], tls[4096];
};

static volatile sig_atomic_t serve_stopping;
static volatile pid_t serve_child;

static int serve_paths_make(const char *store, const char *vm, struct serve_paths *p)
{
	int n = snprintf(p->mem, sizeof(p->mem), "%s/%s.mem", store, vm);

	if (n < 0 || (size_t)n + 16 >= sizeof(p->mem))
		return vmt_error(-ENAMETOOLONG, "store path too long: %s", store);
	snprintf(p->pid, sizeof(p->pid), "%s/%s.pid", store, vm);
	snprintf(p->npid, sizeof(p->npid), "%s/%s.nbdkit.pid", store, vm);
	snprintf(p->log, sizeof(p->log), "%s/%s.log", store, vm);
	snprintf(p->listen, sizeof(p->listen), "%s/%s.listen", store, vm);
	snprintf(p->tls, sizeof(p->tls), "%s/%s.gnutls.conf", store, vm);
	return 0;
}

/*
 * TLS 1.3 with a pre-shared key binds the cipher suite to the key's hash
 * (SHA-256), so GnuTLS's default order lands on ChaCha20-Poly1305, done in
 * software: 0.43 GB/s here against 4.4 GB/s for AES-128-GCM (gnutls-cli
 * --benchmark-ciphers on this project's machines), and the sub-host's CPU
 * becomes the bottleneck of every page-out and split.  A server that does not
 * offer ChaCha20 makes every client pick AES-GCM, so nbdkit gets a GnuTLS
 * system configuration of its own that disables it -- unless the operator
 * has one (GNUTLS_SYSTEM_PRIORITY_FILE, /etc/gnutls/config): that one wins.
 * Returns the file's path, or NULL to leave GnuTLS as it is.
 */
static const char *serve_tls_conf(const struct serve_paths *p)
{
	static const char conf[] =
	    "# written by vmt subhost serve: AES-GCM, not software ChaCha20\n"
	    "[overrides]\ntls-disabled-cipher = CHACHA20-POLY1305\n";
	int fd;

	if (getenv("GNUTLS_SYSTEM_PRIORITY_FILE") || access("/etc/gnutls/config", F_OK) == 0)
		return NULL;
	fd = open(p->tls, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644);
	if (fd < 0)
		return NULL;
	if (write(fd, conf, sizeof(conf) - 1) != (ssize_t)sizeof(conf) - 1) {
		close(fd);
		unlink(p->tls);
		return NULL;
	}
	close(fd);
	return p->tls;
}

/* Split "ADDR:PORT" (ADDR may be [v6]); the port is required here. */
static int serve_split_listen(const char *listen, char *host, size_t host_sz, unsigned *port)
{
	const char *colon = strrchr(listen, ':');
	const char *h = listen;
	size_t hl;
	char *end;
	unsigned long p;

	if (!colon || colon == listen)
		return vmt_error(-EINVAL, "--listen wants ADDR:PORT, not '%s'", listen);
	hl = (size_t)(colon - listen);
	if (h[0] == '[' && colon[-1] == ']') {
		h++;
		hl -= 2;
	}
	p = strtoul(colon + 1, &end, 10);
	if (!colon[1] || *end || p == 0 || p > 65535)
		return vmt_error(-EINVAL, "bad port in '%s'", listen);
	if (hl == 0 || hl >= host_sz)
		return vmt_error(-EINVAL, "bad address in '%s'", listen);
	memcpy(host, h, hl);
	host[hl] = '\0';
	*port = (unsigned)p;
	return 0;
}

static int serve_check(const struct vmt_serve_opts *o, char *host, size_t host_sz, unsigned *port)
{
	struct stat st;
	int ret;

	if (!o || o->sz < sizeof(*o) || !o->vm || !o->store || !o->listen)
		return vmt_error(-EINVAL, "serve: vm, store and listen are required");
	ret = vmt_vm_name_check(o->vm);
	if (ret)
		return ret;
	if (o->sz >= offsetof(struct vmt_serve_opts, dir) + sizeof(o->dir) && o->dir) {
		if (stat(o->dir, &st) || !S_ISDIR(st.st_mode))
			return vmt_error(-ENOENT, "%s is not a folder", o->dir);
	} else if (!o->size || o->size % 4096)
		return vmt_error(-EINVAL, "size must be a positive multiple of 4096, not %llu",
				 (unsigned long long)o->size);
	if (stat(o->store, &st) || !S_ISDIR(st.st_mode))
		return vmt_error(-ENOENT, "store %s is not a folder", o->store);
	if (!o->insecure && (!o->psk_file || !*o->psk_file))
		return vmt_error(-EINVAL, "a TLS-PSK key file is required (or insecure)");
	if (!o->insecure && access(o->psk_file, R_OK))
		return vmt_error(-errno, "key file %s: %s", o->psk_file, strerror(errno));
	return serve_split_listen(o->listen, host, host_sz, port);
}

/* Create the data file if absent; keep it if present (a restart keeps the data). */
static int serve_data_file(const char *path, uint64_t size)
{
	struct stat st;
	int ret = 0, fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);

	if (fd < 0)
		return vmt_error(-errno, "cannot create %s: %s", path, strerror(errno));
	if (fstat(fd, &st))
		ret = vmt_error(-errno, "stat %s: %s", path, strerror(errno));
	else if (st.st_size == 0 && ftruncate(fd, (off_t)size))
		ret = vmt_error(-errno, "ftruncate %s: %s", path, strerror(errno));
	else if (st.st_size != 0 && (uint64_t)st.st_size != size)
		ret = vmt_error(-EEXIST, "%s holds %llu bytes, not %llu: another VM's data?", path,
				(unsigned long long)st.st_size, (unsigned long long)size);
	close(fd);
	return ret;
}

/* Refuse early and clearly when the port is taken (nbdkit would only log it). */
static int serve_port_free(const char *host, unsigned port)
{
	struct addrinfo hints = {.ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICHOST};
	struct addrinfo *ai;
	char serv[16];
	int fd, one = 1, ret = 0;

	snprintf(serv, sizeof(serv), "%u", port);
	if (getaddrinfo(host, serv, &hints, &ai))
		return vmt_error(-EINVAL, "'%s' is not a numeric IP address", host);
	fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		ret = -errno;
	} else {
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		if (bind(fd, ai->ai_addr, ai->ai_addrlen))
			ret = vmt_error(-errno, "cannot listen on %s:%u: %s", host, port,
					strerror(errno));
		close(fd);
	}
	freeaddrinfo(ai);
	return ret;
}

static void serve_log(int fd, const char *fmt, ...)
{
	char buf[512];
	time_t now = time(NULL);
	struct tm tm;
	size_t n;
	va_list ap;

	gmtime_r(&now, &tm);
	n = strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ vmt-serve: ", &tm);
	va_start(ap, fmt);
	vsnprintf(buf + n, sizeof(buf) - n - 1, fmt, ap);
	va_end(ap);
	n = strlen(buf);
	buf[n++] = '\n';
	if (write(fd, buf, n) < 0) {
		/* nowhere else to say it */
	}
}

struct supervisor {
	const struct vmt_serve_opts *o;
	struct serve_paths p;
	char host[256];
	unsigned port;
	int log_fd, lock_fd;
	char *argv[24];
	char port_s[16], psk_arg[4200], file_arg[4200];
	const char *dir;      /* read-only folder mode (vmt_serve_opts.dir), or NULL */
	const char *tls_conf; /* GnuTLS configuration for nbdkit, or NULL */
};

/* nbdkit's argv; the key file's path only, never the key. */
static void serve_argv(struct supervisor *s)
{
	char **argv = s->argv;
	int i = 0;

	snprintf(s->port_s, sizeof(s->port_s), "%u", s->port);
	snprintf(s->psk_arg, sizeof(s->psk_arg), "--tls-psk=%s",
		 s->o->insecure ? "" : s->o->psk_file);
	if (s->dir)
		snprintf(s->file_arg, sizeof(s->file_arg), "dir=%s", s->dir);
	else
		snprintf(s->file_arg, sizeof(s->file_arg), "file=%s", s->p.mem);
	argv[i++] = "nbdkit";
	argv[i++] = "--foreground";
	argv[i++] = "--exit-with-parent";
	argv[i++] = "-P";
	argv[i++] = s->p.npid;
	argv[i++] = "-i";
	argv[i++] = s->host;
	argv[i++] = "-p";
	argv[i++] = s->port_s;
	if (s->dir) {
		argv[i++] = "-r"; /* readers only: an NBD write is refused */
	} else {
		argv[i++] = "-e";
		argv[i++] = (char *)s->o->vm;
	}
	if (s->o->insecure) {
		argv[i++] = "--tls=off";
	} else {
		argv[i++] = "--tls=require";
		argv[i++] = s->psk_arg;
	}
	/*
	 * One thread per connection: every client (a listing, the pager's
	 * page-ins, its evictor) has connections of its own, whose requests are
	 * served in order, each a pread or pwrite of the store.  With nbdkit's
	 * default of 16, every request woke another thread and they took turns
	 * at the socket: 1,012 scattered 4 KiB reads (method 1's
	 * `ps` of 1,000 processes) cost the two servers 11-13 ms of CPU
	 * instead of 7-8, and the listing, sharing the machine's two cores
	 * with them, 20.3 instead of 17.6 ms (medians of 20); a whole-export
	 * copy still runs at the link's 119 MB/s.
	 */
	argv[i++] = "--threads=1";
	argv[i++] = "file";
	argv[i++] = s->file_arg;
	argv[i] = NULL;
}

/* Fork nbdkit with its output in the log; its pid or -errno. */
static pid_t serve_spawn(char *const argv[], int log_fd, const char *npid, const char *tls_conf)
{
	pid_t pid;

	unlink(npid);
	pid = fork();
	if (pid < 0)
		return -errno;
	if (pid == 0) {
		int nul = open("/dev/null", O_RDONLY);

		signal(SIGTERM, SIG_DFL);
		signal(SIGINT, SIG_DFL);
		if (nul > 0) {
			dup2(nul, 0);
			close(nul); /* nbdkit keeps no stray descriptor */
		}
		dup2(log_fd, 1);
		dup2(log_fd, 2);
		if (tls_conf)
			setenv("GNUTLS_SYSTEM_PRIORITY_FILE", tls_conf, 1);
		execvp(argv[0], argv);
		dprintf(2, "cannot run nbdkit: %s\n", strerror(errno));
		_exit(127);
	}
	return pid;
}

/* Wait until nbdkit wrote its pid file (it does so once it accepts connections). */
static int serve_wait_ready(pid_t pid, const char *npid, int *status)
{
	long long deadline = hosts_now_ms() + SERVE_READY_MS;

	while (hosts_now_ms() < deadline && !serve_stopping) {
		if (hosts_pid_read(npid) == pid)
			return 0;
		if (waitpid(pid, status, WNOHANG) == pid)
			return -ECHILD;
		hosts_sleep_ms(5); /* a split waits for this before it stops the VM */
	}
	return -ETIMEDOUT;
}

/* The last non-empty line of the log, for an error message. */
static void serve_log_tail(const char *log, char *out, size_t out_sz)
{
	char buf[2048];
	int fd = open(log, O_RDONLY | O_CLOEXEC);
	off_t end;
	ssize_t n;
	char *line, *save, *last = NULL;

	out[0] = '\0';
	if (fd < 0)
		return;
	end = lseek(fd, 0, SEEK_END);
	n = pread(fd, buf, sizeof(buf) - 1,
		  end > (off_t)sizeof(buf) - 1 ? end - (off_t)sizeof(buf) + 1 : 0);
	close(fd);
	if (n <= 0)
		return;
	buf[n] = '\0';
	for (line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save))
		if (!strstr(line, "vmt-serve:"))
			last = line;
	if (last)
		vmt_strlcpy(out, last, out_sz);
}

static void serve_on_signal(int sig)
{
	serve_stopping = 1;
	if (serve_child > 0)
		kill(serve_child, SIGTERM);
}

static void serve_signals(void)
{
	struct sigaction sa = {.sa_handler = serve_on_signal};

	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL); /* no SA_RESTART: waitpid returns EINTR */
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
}

/* Start nbdkit and wait for it to be ready; 0, or -errno with the reason in the log. */
static int sup_start(struct supervisor *s)
{
	int st = 0, ret;
	pid_t pid = serve_spawn(s->argv, s->log_fd, s->p.npid, s->tls_conf);

	if (pid < 0)
		return vmt_error((int)pid, "fork: %s", strerror((int)-pid));
	serve_child = pid;
	ret = serve_wait_ready(pid, s->p.npid, &st);
	if (!ret)
		return 0;
	if (ret == -ETIMEDOUT) {
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
	}
	serve_child = 0;
	if (serve_stopping)
		return -EINTR;
	{
		char tail[256];

		serve_log_tail(s->p.log, tail, sizeof(tail));
		return vmt_error(ret == -ETIMEDOUT ? -ETIMEDOUT : -EIO, "nbdkit %s: %s",
				 ret == -ETIMEDOUT ? "did not get ready" : "exited at start",
				 *tail ? tail : "see the log");
	}
}

/* Restart nbdkit whenever it dies, with bounded backoff and rate. */
static int sup_loop(struct supervisor *s)
{
	long long restarts[SERVE_RESTARTS_PER_MIN] = {0};
	int backoff = SERVE_BACKOFF_MIN_MS, nr = 0, st;
	long long started = hosts_now_ms();

	while (!serve_stopping) {
		if (serve_child > 0) {
			if (waitpid(serve_child, &st, 0) < 0 && errno == EINTR)
				continue;
			serve_child = 0;
			if (serve_stopping)
				break;
			serve_log(s->log_fd, "nbdkit exited (%s %d)",
				  WIFSIGNALED(st) ? "signal" : "status",
				  WIFSIGNALED(st) ? WTERMSIG(st) : WEXITSTATUS(st));
		}
		if (hosts_now_ms() - started > SERVE_STABLE_MS)
			backoff = SERVE_BACKOFF_MIN_MS;
		if (restarts[nr % SERVE_RESTARTS_PER_MIN] &&
		    hosts_now_ms() - restarts[nr % SERVE_RESTARTS_PER_MIN] < 60000) {
			serve_log(s->log_fd, "%d restarts in a minute: giving up",
				  SERVE_RESTARTS_PER_MIN);
			return -EIO;
		}
		restarts[nr++ % SERVE_RESTARTS_PER_MIN] = hosts_now_ms();
		hosts_sleep_ms(backoff);
		backoff = VMT_MIN(backoff * 2, SERVE_BACKOFF_MAX_MS);
		if (serve_stopping)
			break;
		started = hosts_now_ms();
		if (sup_start(s))
			serve_log(s->log_fd, "restart failed: %s", vmt_last_error());
		else
			serve_log(s->log_fd, "nbdkit restarted (pid %d)", (int)serve_child);
	}
	return 0;
}

/* Take the VM's lock and prepare its files; -EALREADY if it is served already. */
static int sup_prepare(struct supervisor *s)
{
	char buf[32];
	int ret, n;

	s->log_fd = -1;
	s->lock_fd = open(s->p.pid, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	if (s->lock_fd < 0)
		return vmt_error(-errno, "cannot open %s: %s", s->p.pid, strerror(errno));
	if (flock(s->lock_fd, LOCK_EX | LOCK_NB))
		return vmt_error(-EALREADY, "%s is served already (supervisor pid %d)", s->o->vm,
				 (int)hosts_pid_read(s->p.pid));
	ret = s->dir ? 0 : serve_data_file(s->p.mem, s->o->size);
	if (!ret)
		ret = serve_port_free(s->host, s->port);
	if (ret)
		return ret;
	s->log_fd = open(s->p.log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
	if (s->log_fd < 0)
		return vmt_error(-errno, "cannot open %s: %s", s->p.log, strerror(errno));
	n = snprintf(buf, sizeof(buf), "%d\n", (int)getpid());
	if (ftruncate(s->lock_fd, 0) || pwrite(s->lock_fd, buf, (size_t)n, 0) != n)
		return vmt_error(-errno, "cannot write %s", s->p.pid);
	{
		FILE *f = fopen(s->p.listen, "we");

		if (!f)
			return vmt_error(-errno, "cannot write %s", s->p.listen);
		fprintf(f, "%s\n%s\n", s->o->listen, s->o->insecure ? "insecure" : "tls-psk");
		fclose(f);
	}
	serve_argv(s);
	if (!s->o->insecure)
		s->tls_conf = serve_tls_conf(&s->p);
	return 0;
}

/* Files that say "served" go; the data and the log stay. */
static void sup_cleanup(struct supervisor *s, bool locked)
{
	if (locked) {
		unlink(s->p.npid);
		unlink(s->p.listen);
		unlink(s->p.tls);
		unlink(s->p.pid);
	}
	if (s->log_fd >= 0)
		close(s->log_fd);
	if (s->lock_fd >= 0)
		close(s->lock_fd);
}

static void sup_report(int fd, int err, const char *msg)
{
	if (fd >= 0) {
		dprintf(fd, "%d %s\n", err, msg);
		close(fd);
	}
}

/* The supervisor: first start (reported on ready_fd), then restarts until stopped. */
static int sup_main(const struct vmt_serve_opts *o, const char *host, unsigned port, int ready_fd)
{
	static struct supervisor s; /* one per process; big buffers off the stack */
	char pid_s[16];
	int ret;

	memset(&s, 0, sizeof(s));
	s.o = o;
	s.port = port;
	if (o->sz >= offsetof(struct vmt_serve_opts, dir) + sizeof(o->dir))
		s.dir = o->dir;
	vmt_strlcpy(s.host, host, sizeof(s.host));
	ret = serve_paths_make(o->store, o->vm, &s.p);
	if (!ret)
		ret = sup_prepare(&s);
	if (!ret)
		ret = sup_start(&s);
	if (ret) {
		/*
		 * Let go of the lock before saying so: the caller may start the
		 * next supervisor of this VM the moment it hears (a unit test's
		 * next case got -EALREADY from a lock this one still held).
		 */
		sup_cleanup(&s, ret != -EALREADY && s.lock_fd >= 0);
		sup_report(ready_fd, ret, vmt_last_error());
		return ret;
	}
	if (s.dir)
		serve_log(s.log_fd, "serving %s read-only on %s%s, nbdkit pid %d", s.dir, o->listen,
			  o->insecure ? " WITHOUT TLS" : " (TLS-PSK)", (int)serve_child);
	else
		serve_log(s.log_fd, "serving %s (%llu bytes) on %s%s, nbdkit pid %d", o->vm,
			  (unsigned long long)o->size, o->listen,
			  o->insecure ? " WITHOUT TLS" : " (TLS-PSK)", (int)serve_child);
	snprintf(pid_s, sizeof(pid_s), "%d", (int)getpid());
	sup_report(ready_fd, 0, pid_s);
	ret = sup_loop(&s);
	if (serve_child > 0 && !hosts_pid_stop(serve_child, 5000))
		serve_log(s.log_fd, "nbdkit pid %d would not stop", (int)serve_child);
	serve_log(s.log_fd, "stopped");
	sup_cleanup(&s, true);
	return ret;
}

/* Middle process of the daemon: own session, then the supervisor as its child. */
static void serve_daemon(const struct vmt_serve_opts *o, const char *host, unsigned port, int wfd)
{
	int nul, ret = vmt_netns_enter(o->netns);
	pid_t pid;

	if (ret) {
		sup_report(wfd, ret, vmt_last_error());
		_exit(1);
	}
	setsid();
	pid = fork();
	if (pid < 0) {
		sup_report(wfd, -errno, "fork failed");
		_exit(1);
	}
	if (pid > 0)
		_exit(0);
	/* Keep nothing of the caller's (sockets, pipes) for the supervisor's whole life. */
	if (wfd != 3) {
		dup3(wfd, 3, O_CLOEXEC);
		close(wfd);
		wfd = 3;
	}
	close_range(4, ~0U, 0);
	nul = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (nul >= 0) {
		dup2(nul, 0);
		dup2(nul, 1);
		dup2(nul, 2);
		close(nul);
	}
	if (chdir("/")) {
		/* the store path is absolute when it matters; go on */
	}
	serve_signals();
	_exit(sup_main(o, host, port, wfd) ? 1 : 0);
}

/* Read the supervisor's "ERR TEXT" line. */
static int serve_read_report(int rfd, pid_t *pid_out)
{
	char buf[1024];
	size_t len = 0;
	long long deadline = hosts_now_ms() + SERVE_READY_MS + 5000;
	int err;
	char *sp;

	while (len < sizeof(buf) - 1 && hosts_now_ms() < deadline) {
		ssize_t n = read(rfd, buf + len, sizeof(buf) - 1 - len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		len += (size_t)n;
		if (memchr(buf, '\n', len))
			break;
	}
	buf[len] = '\0';
	if (!len)
		return vmt_error(-EIO, "the sub-host supervisor died before it reported");
	buf[strcspn(buf, "\n")] = '\0';
	err = atoi(buf);
	sp = strchr(buf, ' ');
	if (err)
		return vmt_error(err, "%s", sp ? sp + 1 : "failed");
	if (pid_out)
		*pid_out = sp ? atoi(sp + 1) : 0;
	return 0;
}

int vmt_serve(const struct vmt_serve_opts *o, pid_t *pid_out)
{
	char host[256];
	unsigned port = 0;
	int p[2], ret;
	pid_t mid;

	ret = serve_check(o, host, sizeof(host), &port);
	if (ret)
		return ret;
	if (o->foreground) {
		ret = vmt_netns_enter(o->netns);
		if (ret)
			return ret;
		serve_signals();
		if (pid_out)
			*pid_out = getpid();
		return sup_main(o, host, port, -1);
	}
	if (pipe2(p, O_CLOEXEC))
		return -errno;
	mid = fork();
	if (mid < 0) {
		close(p[0]);
		close(p[1]);
		return -errno;
	}
	if (mid == 0) {
		close(p[0]);
		serve_daemon(o, host, port, p[1]);
	}
	close(p[1]);
	while (waitpid(mid, NULL, 0) < 0 && errno == EINTR)
		;
	ret = serve_read_report(p[0], pid_out);
	close(p[0]);
	return ret;
}

/* Is the VM's supervisor alive: does someone hold the lock on VM.pid? */
static bool serve_locked(const char *pid_path)
{
	int fd = open(pid_path, O_RDONLY | O_CLOEXEC);
	bool held = false;

	if (fd < 0)
		return false;
	if (flock(fd, LOCK_EX | LOCK_NB))
		held = errno == EWOULDBLOCK;
	else
		flock(fd, LOCK_UN);
	close(fd);
	return held;
}

int vmt_serve_stop(const char *store, const char *vm, bool keep_data)
{
	struct serve_paths p;
	bool found = false;
	pid_t pid, npid;
	int ret = serve_paths_make(store, vm, &p);

	if (ret)
		return ret;
	pid = hosts_pid_read(p.pid);
	npid = hosts_pid_read(p.npid);
	if (serve_locked(p.pid)) {
		found = true;
		if (!hosts_pid_stop(pid, 8000) || serve_locked(p.pid))
			return vmt_error(-EBUSY, "supervisor of %s (pid %d) would not stop", vm,
					 (int)pid);
	}
	/* A supervisor killed with SIGKILL leaves nbdkit running while it has clients: kill it. */
	if (npid && hosts_pid_matches(npid, p.npid)) {
		found = true;
		hosts_pid_stop(npid, 3000);
	}
	unlink(p.pid);
	unlink(p.npid);
	unlink(p.listen);
	unlink(p.tls);
	if (!keep_data && !unlink(p.mem))
		found = true;
	if (!keep_data)
		unlink(p.log);
	else if (!access(p.mem, F_OK))
		found = true;
	return found ? 0 : vmt_error(-ENOENT, "%s is not served from %s", vm, store);
}

static void serve_entry_fill(const char *store, struct vmt_serve_entry *e)
{
	struct serve_paths p;
	struct stat st;
	FILE *f;

	if (serve_paths_make(store, e->vm, &p))
		return;
	if (serve_locked(p.pid))
		e->pid = hosts_pid_read(p.pid);
	e->nbdkit_pid = hosts_pid_read(p.npid);
	if (e->nbdkit_pid && !hosts_pid_matches(e->nbdkit_pid, p.npid))
		e->nbdkit_pid = 0;
	e->alive = e->pid && e->nbdkit_pid;
	if (!stat(p.mem, &st)) {
		e->size = (uint64_t)st.st_size;
		e->used = (uint64_t)st.st_blocks * 512;
	}
	f = fopen(p.listen, "re");
	if (f) {
		if (fgets(e->listen, sizeof(e->listen), f))
			e->listen[strcspn(e->listen, "\n")] = '\0';
		fclose(f);
	}
}

int vmt_serve_list(const char *store, struct vmt_serve_entry **out, size_t *n)
{
	DIR *d = opendir(store);
	struct dirent *de;
	struct vmt_serve_entry *v = NULL;
	size_t cnt = 0;

	*out = NULL;
	*n = 0;
	if (!d)
		return vmt_error(-errno, "cannot read %s: %s", store, strerror(errno));
	while ((de = readdir(d))) {
		size_t len = strlen(de->d_name);
		struct vmt_serve_entry *nv;

		if (len < 5 || len - 4 >= sizeof(v->vm) || strcmp(de->d_name + len - 4, ".mem"))
			continue;
		nv = realloc(v, (cnt + 1) * sizeof(*v));
		if (!nv) {
			free(v);
			closedir(d);
			return -ENOMEM;
		}
		v = nv;
		memset(&v[cnt], 0, sizeof(*v));
		memcpy(v[cnt].vm, de->d_name, len - 4);
		serve_entry_fill(store, &v[cnt++]);
	}
	closedir(d);
	*out = v;
	*n = cnt;
	return 0;
}

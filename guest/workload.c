// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * vmt-workload: gives the test guest processes, threads and sockets worth introspecting.
 *
 * The leader (started by /init, no arguments) reads vmt.nproc=N from /proc/cmdline (default 20,
 * at most MAX_NPROC) and spawns, by re-executing itself with "--role=...":
 *   N sleepers               comm "wl-<i>", argv: vmt-workload --role=sleeper --index=<i> ...
 *   wl-threads               4 extra threads named wl-worker-0..3
 *   wl-longargv              LONG_ARGC arguments of LONG_ARGLEN bytes (> 4096 bytes of argv)
 *   wl-zparent               parent of the zombie wl-zombie, which it never waits for
 *   wl-uid1000 / wl-uid1001 / wl-uid65534   uid:gid 1000:1000, 1001:1002, 65534:65534
 *   wl-net                   TCP 0.0.0.0:7001, TCP [::]:7002 (v6only), UDP 0.0.0.0:7003,
 *                            UDP [::]:7004, UNIX stream /run/vmt.sock and @vmt-abstract; its forked
 *                            child wl-tcpclient holds ESTABLISHED connections to 127.0.0.1:7001,
 *                            [::1]:7002 and /run/vmt.sock, accepted and kept open by wl-net
 *   wl-env                   environment VMT_ROLE=env VMT_MARKER=vmt-env-marker-42 ...
 * Every role process reports "<label> <pid> [details]\n" on the ready pipe (fd READY_FD) when it is
 * set up. When all have, the leader writes "nproc <N>", "vmt-workload <its pid>" and those lines to
 * /run/vmt-workload.ready, prints "VMT-WORKLOAD READY <N>" on /dev/console and then only reaps.
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>

#define DEFAULT_NPROC	  20
#define MAX_NPROC	  16384
#define READY_FD	  3
#define READY_TIMEOUT_MS  (600 * 1000)
#define ACCEPT_TIMEOUT_MS (60 * 1000)
#define RECORD_MAX	  256 /* one ready record; < PIPE_BUF so each write is atomic */
#define NR_THREADS	  4
#define NR_FIXED_ROLES	  8 /* all roles but the sleepers, see spawn_fixed_roles */
#define LONG_ARGC	  40
#define LONG_ARGLEN	  200 /* bytes per long argument, NUL included: 8000 bytes in all */
#define READY_PATH	  "/run/vmt-workload.ready"
#define UNIX_PATH	  "/run/vmt.sock"
#define UNIX_ABSTRACT	  "vmt-abstract"
#define PORT_TCP4	  7001
#define PORT_TCP6	  7002
#define PORT_UDP4	  7003
#define PORT_UDP6	  7004

static void die(const char *what)
{
	fprintf(stderr, "vmt-workload[%d]: %s: %s\n", (int)getpid(), what, strerror(errno));
	exit(1);
}

static void set_comm(const char *name)
{
	if (prctl(PR_SET_NAME, name, 0, 0, 0) < 0)
		die("prctl PR_SET_NAME");
}

static void sleep_forever(void)
{
	for (;;)
		pause();
}

/* Tells the leader this role is up: one record, one atomic write, then the fd is closed. */
static void report_ready(const char *fmt, ...)
{
	char rec[RECORD_MAX];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(rec, sizeof(rec) - 1, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(rec) - 1)
		n = (int)sizeof(rec) - 2;
	rec[n++] = '\n';
	if (write(READY_FD, rec, (size_t)n) != n)
		die("write ready record");
	if (close(READY_FD) < 0)
		die("close ready fd");
}

/* Value of "--key=" in argv, or NULL. */
static const char *arg_value(int argc, char **argv, const char *key)
{
	size_t klen = strlen(key);

	for (int i = 1; i < argc; i++)
		if (strncmp(argv[i], key, klen) == 0 && argv[i][klen] == '=')
			return argv[i] + klen + 1;
	return NULL;
}

static long arg_long(int argc, char **argv, const char *key, long min, long max)
{
	const char *s = arg_value(argc, argv, key);
	char *end;
	long v;

	if (!s) {
		fprintf(stderr, "vmt-workload: missing %s=\n", key);
		exit(2);
	}
	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || end == s || *end || v < min || v > max) {
		fprintf(stderr, "vmt-workload: bad %s=%s\n", key, s);
		exit(2);
	}
	return v;
}

/* ---- roles (each runs in its own re-executed process) ---- */

static void role_sleeper(int argc, char **argv)
{
	long i = arg_long(argc, argv, "--index", 0, MAX_NPROC);
	char name[16];

	snprintf(name, sizeof(name), "wl-%ld", i);
	set_comm(name);
	report_ready("%s %d", name, (int)getpid());
	sleep_forever();
}

struct thread_arg {
	pthread_barrier_t *barrier;
	int index;
	pid_t tid;
};

static void *worker_main(void *p)
{
	struct thread_arg *a = p;
	char name[16];

	snprintf(name, sizeof(name), "wl-worker-%d", a->index);
	set_comm(name);
	a->tid = (pid_t)syscall(SYS_gettid);
	pthread_barrier_wait(a->barrier);
	sleep_forever();
	return NULL;
}

static void role_threads(int argc, char **argv)
{
	struct thread_arg args[NR_THREADS];
	pthread_barrier_t barrier;
	pthread_attr_t attr;
	pthread_t th;
	int r;

	(void)argc; /* roles share one signature; this one takes no options */
	(void)argv;
	set_comm("wl-threads");
	if ((r = pthread_barrier_init(&barrier, NULL, NR_THREADS + 1)) ||
	    (r = pthread_attr_init(&attr)) || (r = pthread_attr_setstacksize(&attr, 64 * 1024))) {
		errno = r;
		die("pthread setup");
	}
	for (int i = 0; i < NR_THREADS; i++) {
		args[i] = (struct thread_arg){.barrier = &barrier, .index = i};
		r = pthread_create(&th, &attr, worker_main, &args[i]);
		if (r) {
			errno = r;
			die("pthread_create");
		}
	}
	pthread_barrier_wait(&barrier);
	report_ready("wl-threads %d tids=%d,%d,%d,%d", (int)getpid(), (int)args[0].tid,
		     (int)args[1].tid, (int)args[2].tid, (int)args[3].tid);
	sleep_forever();
}

static void role_longargv(int argc, char **argv)
{
	size_t total = 0;

	set_comm("wl-longargv");
	for (int i = 0; i < argc; i++)
		total += strlen(argv[i]) + 1;
	report_ready("wl-longargv %d argc=%d bytes=%zu", (int)getpid(), argc, total);
	sleep_forever();
}

static void role_zparent(int argc, char **argv)
{
	siginfo_t si = {0};
	pid_t child;

	(void)argc; /* roles share one signature; this one takes no options */
	(void)argv;
	set_comm("wl-zparent");
	child = fork();
	if (child < 0)
		die("fork");
	if (child == 0) {
		set_comm("wl-zombie");
		_exit(7);
	}
	/* Wait for the exit but leave the child unreaped: WNOWAIT keeps the zombie. */
	while (waitid(P_PID, (id_t)child, &si, WEXITED | WNOWAIT) < 0)
		if (errno != EINTR)
			die("waitid");
	report_ready("wl-zparent %d zombie=%d", (int)getpid(), (int)child);
	sleep_forever();
}

static void role_user(int argc, char **argv)
{
	uid_t uid = (uid_t)arg_long(argc, argv, "--uid", 1, 65534);
	gid_t gid = (gid_t)arg_long(argc, argv, "--gid", 1, 65534);
	char name[16];

	snprintf(name, sizeof(name), "wl-uid%u", (unsigned)uid);
	set_comm(name);
	if (setgroups(1, &gid) < 0 || setresgid(gid, gid, gid) < 0 || setresuid(uid, uid, uid) < 0)
		die("drop privileges");
	if (getuid() != uid || geteuid() != uid || getgid() != gid)
		die("uid/gid check");
	report_ready("%s %d uid=%u gid=%u", name, (int)getpid(), (unsigned)uid, (unsigned)gid);
	sleep_forever();
}

static int inet_socket(int family, int type, uint16_t port, bool any)
{
	struct sockaddr_storage ss = {0};
	socklen_t len;
	int one = 1, fd;

	fd = socket(family, type | SOCK_CLOEXEC, 0);
	if (fd < 0)
		die("socket");
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0)
		die("SO_REUSEADDR");
	if (family == AF_INET) {
		struct sockaddr_in *sin = (struct sockaddr_in *)&ss;

		sin->sin_family = AF_INET;
		sin->sin_port = htons(port);
		sin->sin_addr.s_addr = htonl(any ? INADDR_ANY : INADDR_LOOPBACK);
		len = sizeof(*sin);
	} else {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;

		/* v6only: the socket shows up in /proc/net/tcp6 only, never as a v4 one. */
		if (setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one)) < 0)
			die("IPV6_V6ONLY");
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons(port);
		sin6->sin6_addr = any ? in6addr_any : in6addr_loopback;
		len = sizeof(*sin6);
	}
	if (any) {
		if (bind(fd, (struct sockaddr *)&ss, len) < 0)
			die("bind inet");
		if (type == SOCK_STREAM && listen(fd, 16) < 0)
			die("listen inet");
	} else if (connect(fd, (struct sockaddr *)&ss, len) < 0) {
		die("connect inet");
	}
	return fd;
}

/* Abstract names start with a NUL byte and are not NUL-terminated. */
static int unix_socket(const char *name, bool abstract, bool server)
{
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	size_t n = strlen(name);
	socklen_t len;
	int fd;

	if (n + 2 > sizeof(sun.sun_path)) {
		errno = ENAMETOOLONG;
		die(name);
	}
	memcpy(sun.sun_path + (abstract ? 1 : 0), name, n);
	len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n + (abstract ? 1 : 0));
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		die("socket unix");
	if (!server) {
		if (connect(fd, (struct sockaddr *)&sun, len) < 0)
			die("connect unix");
		return fd;
	}
	if (!abstract && unlink(name) < 0 && errno != ENOENT)
		die("unlink unix socket");
	if (bind(fd, (struct sockaddr *)&sun, len) < 0 || listen(fd, 16) < 0)
		die("bind/listen unix");
	return fd;
}

static int accept_timeout(int lfd)
{
	struct pollfd p = {.fd = lfd, .events = POLLIN};
	int r, fd;

	while ((r = poll(&p, 1, ACCEPT_TIMEOUT_MS)) < 0)
		if (errno != EINTR)
			die("poll accept");
	if (r == 0) {
		errno = ETIMEDOUT;
		die("accept");
	}
	fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
	if (fd < 0)
		die("accept");
	return fd;
}

static void net_client(void)
{
	set_comm("wl-tcpclient");
	/* The connected ends below are this process's only sockets. */
	inet_socket(AF_INET, SOCK_STREAM, PORT_TCP4, false);
	inet_socket(AF_INET6, SOCK_STREAM, PORT_TCP6, false);
	unix_socket(UNIX_PATH, false, false);
	sleep_forever();
}

static void role_net(int argc, char **argv)
{
	enum { TCP4, TCP6, UDP4, UDP6, UNIX_FS, UNIX_ABS, NR_LISTEN };
	int fds[NR_LISTEN];
	pid_t client;

	(void)argc; /* roles share one signature; this one takes no options */
	(void)argv;
	set_comm("wl-net");
	fds[TCP4] = inet_socket(AF_INET, SOCK_STREAM, PORT_TCP4, true);
	fds[TCP6] = inet_socket(AF_INET6, SOCK_STREAM, PORT_TCP6, true);
	fds[UDP4] = inet_socket(AF_INET, SOCK_DGRAM, PORT_UDP4, true);
	fds[UDP6] = inet_socket(AF_INET6, SOCK_DGRAM, PORT_UDP6, true);
	fds[UNIX_FS] = unix_socket(UNIX_PATH, false, true);
	fds[UNIX_ABS] = unix_socket(UNIX_ABSTRACT, true, true);

	client = fork();
	if (client < 0)
		die("fork");
	if (client == 0) {
		/* Only wl-net owns the listeners and reports readiness. */
		for (int i = 0; i < NR_LISTEN; i++)
			close(fds[i]);
		close(READY_FD);
		net_client();
	}
	accept_timeout(fds[TCP4]);
	accept_timeout(fds[TCP6]);
	accept_timeout(fds[UNIX_FS]);
	report_ready("wl-net %d client=%d", (int)getpid(), (int)client);
	sleep_forever();
}

static void role_env(int argc, char **argv)
{
	const char *marker = getenv("VMT_MARKER");

	(void)argc; /* roles share one signature; this one takes no options */
	(void)argv;
	set_comm("wl-env");
	report_ready("wl-env %d marker=%s", (int)getpid(), marker ? marker : "(none)");
	sleep_forever();
}

static const struct {
	const char *name;
	void (*run)(int argc, char **argv);
} roles[] = {
    {"sleeper", role_sleeper}, {"threads", role_threads}, {"longargv", role_longargv},
    {"zparent", role_zparent}, {"user", role_user},	  {"net", role_net},
    {"env", role_env},
};

static int run_role(int argc, char **argv)
{
	const char *role = argv[1] + strlen("--role=");

	for (size_t i = 0; i < sizeof(roles) / sizeof(roles[0]); i++) {
		if (strcmp(roles[i].name, role) == 0) {
			roles[i].run(argc, argv);
			return 0;
		}
	}
	fprintf(stderr, "vmt-workload: unknown role %s\n", role);
	return 2;
}

/* ---- leader ---- */

struct leader {
	char exe[PATH_MAX];
	int ready_w; /* kept above READY_FD; dup'ed onto it in each child */
	unsigned spawned;
};

static char *const role_env_default[] = {"PATH=/sbin:/bin:/usr/sbin:/usr/bin", "VMT_ROLE=workload",
					 NULL};
static char *const role_env_marked[] = {"PATH=/sbin:/bin:/usr/sbin:/usr/bin",
					"HOME=/home/vmt",
					"LANG=C.UTF-8",
					"VMT_ROLE=env",
					"VMT_MARKER=vmt-env-marker-42",
					"VMT_SECRET=correct-horse-battery-staple",
					NULL};

static int spawn_role(struct leader *l, char **argv, char *const *envp)
{
	posix_spawn_file_actions_t fa;
	pid_t pid;
	int r;

	r = posix_spawn_file_actions_init(&fa);
	if (r == 0)
		r = posix_spawn_file_actions_adddup2(&fa, l->ready_w, READY_FD);
	if (r == 0)
		r = posix_spawn(&pid, l->exe, &fa, NULL, argv, envp);
	posix_spawn_file_actions_destroy(&fa);
	if (r) {
		fprintf(stderr, "vmt-workload: spawn %s: %s\n", argv[1], strerror(r));
		return -r;
	}
	l->spawned++;
	return 0;
}

static int spawn_sleepers(struct leader *l, unsigned nproc)
{
	char idx[32], tag[32], payload[48];
	char *argv[] = {"vmt-workload", "--role=sleeper", idx, tag, payload, NULL};

	for (unsigned i = 0; i < nproc; i++) {
		snprintf(idx, sizeof(idx), "--index=%u", i);
		snprintf(tag, sizeof(tag), "--tag=wl-%u", i);
		snprintf(payload, sizeof(payload), "payload-%08x", i * 2654435761u);
		if (spawn_role(l, argv, role_env_default) < 0)
			return -1;
	}
	return 0;
}

/* Argument k is "L<kk>:" then letters, LONG_ARGLEN - 1 characters, so tests can check bytes. */
static int spawn_longargv(struct leader *l)
{
	static char args[LONG_ARGC][LONG_ARGLEN];
	char *argv[LONG_ARGC + 3];
	int k, j;

	argv[0] = "vmt-workload";
	argv[1] = "--role=longargv";
	for (k = 0; k < LONG_ARGC; k++) {
		j = snprintf(args[k], LONG_ARGLEN, "L%02d:", k);
		for (; j < LONG_ARGLEN - 1; j++)
			args[k][j] = (char)('a' + (k + j) % 26);
		args[k][LONG_ARGLEN - 1] = '\0';
		argv[k + 2] = args[k];
	}
	argv[LONG_ARGC + 2] = NULL;
	return spawn_role(l, argv, role_env_default);
}

static int spawn_fixed_roles(struct leader *l)
{
	static const char *const users[][2] = {{"--uid=1000", "--gid=1000"},
					       {"--uid=1001", "--gid=1002"},
					       {"--uid=65534", "--gid=65534"}};
	char *threads[] = {"vmt-workload", "--role=threads", NULL};
	char *zparent[] = {"vmt-workload", "--role=zparent", NULL};
	char *net[] = {"vmt-workload", "--role=net", NULL};
	char *env[] = {"vmt-workload", "--role=env", NULL};

	if (spawn_role(l, threads, role_env_default) || spawn_longargv(l) ||
	    spawn_role(l, zparent, role_env_default) || spawn_role(l, net, role_env_default) ||
	    spawn_role(l, env, role_env_marked))
		return -1;
	for (size_t i = 0; i < sizeof(users) / sizeof(users[0]); i++) {
		char *argv[] = {"vmt-workload", "--role=user", (char *)users[i][0],
				(char *)users[i][1], NULL};

		if (spawn_role(l, argv, role_env_default))
			return -1;
	}
	return 0;
}

static unsigned nproc_from_cmdline(void)
{
	static const char key[] = "vmt.nproc=";
	char buf[4096], *tok, *save = NULL, *end;
	unsigned long v = DEFAULT_NPROC;
	ssize_t n;
	int fd;

	fd = open("/proc/cmdline", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return DEFAULT_NPROC;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return DEFAULT_NPROC;
	buf[n] = '\0';
	for (tok = strtok_r(buf, " \n", &save); tok; tok = strtok_r(NULL, " \n", &save)) {
		if (strncmp(tok, key, sizeof(key) - 1) != 0)
			continue;
		errno = 0;
		v = strtoul(tok + sizeof(key) - 1, &end, 10);
		if (errno || *end || end == tok + sizeof(key) - 1) {
			fprintf(stderr, "vmt-workload: ignoring bad %s\n", tok);
			v = DEFAULT_NPROC;
		}
	}
	if (v > MAX_NPROC) {
		fprintf(stderr, "vmt-workload: vmt.nproc capped at %d\n", MAX_NPROC);
		v = MAX_NPROC;
	}
	return (unsigned)v;
}

/* The introspection target needs lo up for its loopback sockets; /init does it too. */
static void loopback_up(void)
{
	struct ifreq ifr = {0};
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		die("socket");
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "lo");
	if (ioctl(fd, SIOCGIFFLAGS, &ifr) < 0)
		die("SIOCGIFFLAGS lo");
	ifr.ifr_flags |= IFF_UP | IFF_RUNNING;
	if (ioctl(fd, SIOCSIFFLAGS, &ifr) < 0)
		die("SIOCSIFFLAGS lo");
	close(fd);
}

static int64_t now_ms(void)
{
	struct timespec ts;

	if (clock_gettime(CLOCK_MONOTONIC, &ts) < 0)
		die("clock_gettime");
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Collects one record per spawned role into buf. Returns the number of records received. */
static unsigned collect_ready(int rfd, char *buf, size_t size, unsigned expected)
{
	int64_t deadline = now_ms() + READY_TIMEOUT_MS;
	unsigned records = 0;
	size_t len = 0;

	while (records < expected) {
		struct pollfd p = {.fd = rfd, .events = POLLIN};
		int64_t left = deadline - now_ms();
		ssize_t n;
		int r;

		if (left <= 0)
			break;
		r = poll(&p, 1, (int)left);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		n = read(rfd, buf + len, size - 1 - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break; /* every writer gone: a role died before reporting */
		for (ssize_t i = 0; i < n; i++)
			records += buf[len + (size_t)i] == '\n';
		len += (size_t)n;
		if (len + 1 >= size)
			break;
	}
	buf[len] = '\0';
	return records;
}

static void write_ready_file(unsigned nproc, const char *records)
{
	FILE *f = fopen(READY_PATH ".tmp", "we");

	if (!f)
		die("open " READY_PATH ".tmp");
	fprintf(f, "nproc %u\nvmt-workload %d\n%s", nproc, (int)getpid(), records);
	if (fclose(f) != 0)
		die("write " READY_PATH ".tmp");
	if (rename(READY_PATH ".tmp", READY_PATH) < 0)
		die("rename " READY_PATH);
}

static void console_say(const char *fmt, ...)
{
	char msg[128];
	va_list ap;
	int fd, n;

	va_start(ap, fmt);
	n = vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(msg))
		return;
	fd = open("/dev/console", O_WRONLY | O_NOCTTY | O_CLOEXEC);
	if (fd < 0) {
		fputs(msg, stderr);
		return;
	}
	if (write(fd, msg, (size_t)n) != n)
		fputs(msg, stderr);
	close(fd);
}

/* Reaps its direct children forever; the zombie belongs to wl-zparent, not to us. */
static void reap_forever(void)
{
	int status;

	for (;;) {
		pid_t pid = waitpid(-1, &status, 0);

		if (pid < 0 && errno == ECHILD)
			sleep_forever();
		if (pid > 0)
			fprintf(stderr, "vmt-workload: role process %d ended (status 0x%x)\n",
				(int)pid, status);
	}
}

static int run_leader(int argc, char **argv)
{
	struct leader l = {0};
	unsigned nproc = nproc_from_cmdline();
	size_t cap;
	char *records;
	unsigned got;
	int p[2];
	ssize_t n;

	if (argc > 1)
		nproc = (unsigned)arg_long(argc, argv, "--nproc", 0, MAX_NPROC);
	set_comm("vmt-workload");
	n = readlink("/proc/self/exe", l.exe, sizeof(l.exe) - 1);
	if (n <= 0)
		die("readlink /proc/self/exe");
	l.exe[n] = '\0';
	loopback_up();
	if (pipe2(p, O_CLOEXEC) < 0)
		die("pipe2");
	/* Keep the write end off READY_FD so the dup2 in each child really happens. */
	l.ready_w = fcntl(p[1], F_DUPFD_CLOEXEC, 10);
	if (l.ready_w < 0)
		die("F_DUPFD_CLOEXEC");
	close(p[1]);
	cap = ((size_t)nproc + 16) * RECORD_MAX;
	records = malloc(cap);
	if (!records)
		die("malloc");

	if (spawn_fixed_roles(&l) < 0 || spawn_sleepers(&l, nproc) < 0)
		console_say("VMT-WORKLOAD FAILED spawning (%u started)\n", l.spawned);
	close(l.ready_w);
	got = collect_ready(p[0], records, cap, l.spawned);
	close(p[0]);
	if (got == l.spawned && l.spawned == nproc + NR_FIXED_ROLES) {
		write_ready_file(nproc, records);
		console_say("VMT-WORKLOAD READY %u\n", nproc);
	} else {
		console_say("VMT-WORKLOAD FAILED %u of %u roles ready\n", got,
			    nproc + NR_FIXED_ROLES);
	}
	free(records);
	reap_forever();
	return 0;
}

int main(int argc, char **argv)
{
	if (argc > 1 && strncmp(argv[1], "--role=", 7) == 0)
		return run_role(argc, argv);
	return run_leader(argc, argv);
}

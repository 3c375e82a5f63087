// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * test_subhost.c - the sub-host client against real nbdkit servers on
 * 127.0.0.1 (memory plugin, TLS-PSK): data round trips, batches over two
 * servers, request splitting, wrong or missing keys, a server that dies
 * or stops answering, addresses and key files.  Every nbdkit started here
 * runs with --exit-with-parent and is killed in teardown, pass or fail.
 * Skipped (77) without nbdkit.
 */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <arpa/inet.h>
#include <unistd.h>

#include <cmocka.h>

#include "subhost/subhost.h"

#define EXPORT_SIZE (64u << 20)
#define MAX_SERVERS 8

struct server {
	pid_t pid;
	unsigned port;
	char addr[32];
};

static char tmpdir[64];
static char key_a[128], key_b[128], key_c[128];
static struct server servers[MAX_SERVERS];
static int nr_servers;
/* Long-lived servers of the whole run: TLS x2, TLS with a 64K request limit. */
static struct server *srv1, *srv2, *srv_small;

static unsigned free_port(void)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	unsigned port = 0;

	if (fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0 &&
	    getsockname(fd, (struct sockaddr *)&a, &len) == 0)
		port = ntohs(a.sin_port);
	if (fd >= 0)
		close(fd);
	return port;
}

/* nbdkit writes its pid file once it listens; wait for that (bounded). */
static int wait_ready(pid_t pid, const char *pidfile)
{
	for (int i = 0; i < 200; i++) {
		int st;

		if (access(pidfile, F_OK) == 0)
			return 0;
		if (waitpid(pid, &st, WNOHANG) == pid)
			return -1;
		usleep(25000);
	}
	return -1;
}

/* What the server is: plain memory, a 64K request limit, or writes that fail with ENOSPC. */
enum server_kind { SRV_MEMORY, SRV_SMALL, SRV_FULL };

static pid_t spawn_nbdkit(unsigned port, const char *psk, enum server_kind kind,
			  const char *pidfile)
{
	char portarg[16], log[128], tls[160];
	const char *argv[24];
	int k = 0;
	pid_t pid;

	snprintf(portarg, sizeof(portarg), "%u", port);
	snprintf(log, sizeof(log), "%s/nbdkit.log", tmpdir);
	argv[k++] = "nbdkit";
	argv[k++] = "-f";
	argv[k++] = "--exit-with-parent";
	argv[k++] = "-i";
	argv[k++] = "127.0.0.1";
	argv[k++] = "-p";
	argv[k++] = portarg;
	argv[k++] = "-P";
	argv[k++] = pidfile;
	if (psk) {
		snprintf(tls, sizeof(tls), "--tls-psk=%s", psk);
		argv[k++] = "--tls=require";
		argv[k++] = tls;
	}
	if (kind == SRV_SMALL)
		argv[k++] = "--filter=blocksize-policy";
	if (kind == SRV_FULL)
		argv[k++] = "--filter=error";
	argv[k++] = "memory";
	argv[k++] = "size=64M";
	if (kind == SRV_SMALL) {
		argv[k++] = "blocksize-maximum=65536";
		argv[k++] = "blocksize-error-policy=error";
	}
	if (kind == SRV_FULL) {
		argv[k++] = "error=ENOSPC";
		argv[k++] = "error-pwrite-rate=100%";
	}
	argv[k] = NULL;
	pid = fork();
	if (pid == 0) {
		int fd = open(log, O_WRONLY | O_CREAT | O_APPEND, 0600);

		if (fd >= 0) {
			dup2(fd, 1);
			dup2(fd, 2);
		}
		execvp("nbdkit", (char **)argv);
		_exit(127);
	}
	return pid;
}

/* Start nbdkit on a free port; psk NULL = plain NBD. */
static struct server *start_server(const char *psk, enum server_kind kind)
{
	struct server *sv;
	char pidfile[128];

	assert_true(nr_servers < MAX_SERVERS);
	sv = &servers[nr_servers];
	snprintf(pidfile, sizeof(pidfile), "%s/nbdkit-%d.pid", tmpdir, nr_servers);
	for (int attempt = 0; attempt < 5; attempt++) {
		unsigned port = free_port();

		unlink(pidfile);
		sv->pid = spawn_nbdkit(port, psk, kind, pidfile);
		if (sv->pid > 0 && wait_ready(sv->pid, pidfile) == 0) {
			sv->port = port;
			snprintf(sv->addr, sizeof(sv->addr), "127.0.0.1:%u", port);
			unlink(pidfile);
			nr_servers++;
			return sv;
		}
		if (sv->pid > 0) {
			kill(sv->pid, SIGKILL);
			waitpid(sv->pid, NULL, 0);
		}
	}
	fail_msg("nbdkit did not start");
	return NULL;
}

static void stop_server(struct server *sv)
{
	if (sv->pid > 0) {
		kill(sv->pid, SIGCONT);
		kill(sv->pid, SIGKILL);
		waitpid(sv->pid, NULL, 0);
		sv->pid = 0;
	}
}

static struct vmt_subhost_opts opts_for(const struct server *sv, const char *psk)
{
	return (struct vmt_subhost_opts){.sz = sizeof(struct vmt_subhost_opts),
					 .addr = sv->addr,
					 .psk_file = psk,
					 .insecure = psk == NULL,
					 .connect_timeout_ms = 3000,
					 .io_timeout_ms = 3000};
}

static struct vmt_subhost *connect_ok(const struct server *sv)
{
	struct vmt_subhost_opts o = opts_for(sv, key_a);
	struct vmt_subhost *s = NULL;
	int r = vmt_subhost_connect(&o, &s);

	if (r)
		fail_msg("connect %s: %d %s", sv->addr, r, vmt_subhost_last_error());
	return s;
}

static void fill_pattern(unsigned char *b, size_t len, uint64_t off, unsigned seed)
{
	for (size_t i = 0; i < len; i++) {
		uint64_t x = (off + i) * 2654435761u + seed;

		b[i] = (unsigned char)(x >> 13);
	}
}

static int setup(void **state)
{
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/hb-subhost-XXXXXX");
	if (!mkdtemp(tmpdir))
		return -1;
	snprintf(key_a, sizeof(key_a), "%s/a.psk", tmpdir);
	snprintf(key_b, sizeof(key_b), "%s/b.psk", tmpdir);
	snprintf(key_c, sizeof(key_c), "%s/c.psk", tmpdir);
	if (vmt_subhost_psk_create(key_a, "vmt") || vmt_subhost_psk_create(key_b, "vmt") ||
	    vmt_subhost_psk_create(key_c, "other"))
		return -1;
	srv1 = start_server(key_a, SRV_MEMORY);
	srv2 = start_server(key_a, SRV_MEMORY);
	srv_small = start_server(key_a, SRV_SMALL);
	return 0;
}

static int teardown(void **state)
{
	char cmd[128];

	for (int i = 0; i < nr_servers; i++)
		stop_server(&servers[i]);
	if (getenv("HB_KEEP_LOG") == NULL) {
		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
		if (system(cmd) != 0)
			return -1;
	}
	return 0;
}

static void test_parse_addr(void **state)
{
	static const struct {
		const char *in, *host;
		unsigned port;
	} ok[] = {
	    {"127.0.0.1:10810", "127.0.0.1", 10810},
	    {"subhost1", "subhost1", 10809},
	    {"[::1]:99", "::1", 99},
	    {"[fe80::1]", "fe80::1", 10809},
	    {"h:65535", "h", 65535},
	    {"10.0.0.2:1", "10.0.0.2", 1},
	};
	static const char *const bad[] = {
	    "",	      ":10809",	  "h:",	    "h:0",    "h:65536", "h:-1",  "h:12a",
	    "h:+80",  "::1",	  "[::1",   "[::1]x", "[]:80",	 "h:1:2", "a b:1",
	    "h:0x50", "h:123456", "[::1]:", "h/x:1",  "u@h:1",
	};
	char host[64];
	unsigned port;

	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		assert_int_equal(vmt_subhost_parse_addr(ok[i].in, host, sizeof(host), &port), 0);
		assert_string_equal(host, ok[i].host);
		assert_int_equal(port, ok[i].port);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (vmt_subhost_parse_addr(bad[i], host, sizeof(host), &port) != -EINVAL)
			fail_msg("'%s' accepted", bad[i]);
	}
	assert_int_equal(vmt_subhost_parse_addr("averylonghostname:1", host, 8, &port), -EINVAL);
}

static void test_psk_create(void **state)
{
	char path[128], link[128], line[256];
	struct stat st;
	mode_t old = umask(0);
	FILE *f;

	snprintf(path, sizeof(path), "%s/new.psk", tmpdir);
	snprintf(link, sizeof(link), "%s/link.psk", tmpdir);
	assert_int_equal(vmt_subhost_psk_create(path, "vm-7"), 0);
	umask(old);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);
	f = fopen(path, "r");
	assert_non_null(f);
	assert_non_null(fgets(line, sizeof(line), f));
	fclose(f);
	assert_int_equal(strlen(line), strlen("vm-7:") + 64 + 1);
	assert_memory_equal(line, "vm-7:", 5);
	assert_int_equal(strspn(line + 5, "0123456789abcdef"), 64);
	assert_int_equal(line[69], '\n');
	/* Never overwrite, never follow a link. */
	assert_int_equal(vmt_subhost_psk_create(path, "vm-7"), -EEXIST);
	assert_int_equal(symlink("/nonexistent-hb-target", link), 0);
	assert_true(vmt_subhost_psk_create(link, "vm-7") < 0);
	assert_int_equal(access("/nonexistent-hb-target", F_OK), -1);
	assert_int_equal(vmt_subhost_psk_create(path, "a:b"), -EINVAL);
	assert_int_equal(vmt_subhost_psk_create(path, ""), -EINVAL);
	unlink(link);
	unlink(path);
}

static void test_connect_bad_opts(void **state)
{
	struct vmt_subhost_opts o = opts_for(srv1, key_a);
	struct vmt_subhost *s = (void *)1;

	assert_int_equal(vmt_subhost_connect(NULL, &s), -EINVAL);
	assert_null(s);
	o.sz = 0;
	assert_int_equal(vmt_subhost_connect(&o, &s), -EINVAL);
	o = opts_for(srv1, key_a);
	o.psk_file = NULL;
	assert_int_equal(vmt_subhost_connect(&o, &s), -EINVAL);
	o = opts_for(srv1, key_a);
	o.addr = "127.0.0.1:0";
	assert_int_equal(vmt_subhost_connect(&o, &s), -EINVAL);
	assert_true(strlen(vmt_subhost_last_error()) > 0);
	o = opts_for(srv1, key_a);
	o.psk_file = "/nonexistent/hb.psk";
	assert_true(vmt_subhost_connect(&o, &s) < 0);
	assert_null(s);
	vmt_subhost_close(NULL);
}

static void test_roundtrip(void **state)
{
	static const struct {
		uint64_t off;
		size_t len;
	} cases[] = {
	    {0, 1},	      {1, 4095}, {4097, 12345}, {(32u << 20) - 3, 7}, {EXPORT_SIZE - 5, 5},
	    {123457, 1 << 20}};
	struct vmt_subhost *s = connect_ok(srv1);
	struct vmt_subhost_stats st;
	unsigned char *w = malloc(1 << 20), *r = malloc(1 << 20);

	assert_int_equal(vmt_subhost_size(s), EXPORT_SIZE);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		fill_pattern(w, cases[i].len, cases[i].off, 11);
		assert_int_equal(vmt_subhost_pwrite(s, w, cases[i].len, cases[i].off), 0);
		memset(r, 0xee, cases[i].len);
		assert_int_equal(vmt_subhost_pread(s, r, cases[i].len, cases[i].off), 0);
		assert_memory_equal(r, w, cases[i].len);
	}
	assert_int_equal(vmt_subhost_flush(s), 0);
	/* Empty is fine; outside the export is not, and sends nothing. */
	assert_int_equal(vmt_subhost_pread(s, r, 0, 0), 0);
	assert_int_equal(vmt_subhost_pread(s, r, 2, EXPORT_SIZE - 1), -EINVAL);
	assert_int_equal(vmt_subhost_pread(s, r, 1, UINT64_MAX), -EINVAL);
	assert_int_equal(vmt_subhost_pwrite(s, NULL, 1, 0), -EINVAL);
	vmt_subhost_stats(s, &st);
	assert_int_equal(st.reads, 6);
	assert_int_equal(st.writes, 6);
	assert_int_equal(st.flushes, 1);
	assert_int_equal(st.bytes_read, st.bytes_written);
	/* The handle is still good after refused requests. */
	assert_int_equal(vmt_subhost_pread(s, r, 1, 0), 0);
	vmt_subhost_close(s);
	free(w);
	free(r);
}

static void test_trim(void **state)
{
	struct vmt_subhost *s = connect_ok(srv1);
	size_t len = 1 << 20;
	uint64_t off = 8u << 20;
	unsigned char *w = malloc(len), *r = malloc(len), *z = calloc(1, len);

	fill_pattern(w, len, off, 5);
	assert_int_equal(vmt_subhost_pwrite(s, w, len, off), 0);
	assert_int_equal(vmt_subhost_trim(s, off + 256 * 1024, 512 * 1024), 0);
	assert_int_equal(vmt_subhost_pread(s, r, len, off), 0);
	assert_memory_equal(r, w, 256 * 1024);
	assert_memory_equal(r + 256 * 1024, z, 512 * 1024);
	assert_memory_equal(r + 768 * 1024, w + 768 * 1024, 256 * 1024);
	assert_int_equal(vmt_subhost_trim(s, EXPORT_SIZE, 1), -EINVAL);
	/* The whole export in one call (more than one NBD request would allow). */
	assert_int_equal(vmt_subhost_trim(s, 0, EXPORT_SIZE), 0);
	assert_int_equal(vmt_subhost_pread(s, r, len, off), 0);
	assert_memory_equal(r, z, len);
	vmt_subhost_close(s);
	free(w);
	free(r);
	free(z);
}

/* 200 ranges over two servers: written in one batch, read back in another. */
static void test_batch_two_hosts(void **state)
{
	enum { N = 200 };
	struct vmt_subhost *h[2] = {connect_ok(srv1), connect_ok(srv2)};
	struct vmt_subhost_io wio[N], rio[N];
	unsigned char *w[N], *r[N];
	struct vmt_subhost_stats st[2];

	for (int i = 0; i < N; i++) {
		size_t len = 1 + (size_t)((i * 7919) % 20000);
		uint64_t off = (uint64_t)i * 300000 + (uint64_t)(i % 13);

		w[i] = malloc(len);
		r[i] = malloc(len);
		fill_pattern(w[i], len, off, (unsigned)(i & 1) + 100);
		wio[i] =
		    (struct vmt_subhost_io){.host = h[i & 1], .off = off, .len = len, .buf = w[i]};
		rio[i] =
		    (struct vmt_subhost_io){.host = h[i & 1], .off = off, .len = len, .buf = r[i]};
		rio[i].err = 12345; /* overwritten */
	}
	assert_int_equal(vmt_subhost_pwrite_batch(wio, N), 0);
	assert_int_equal(vmt_subhost_pread_batch(rio, N), 0);
	for (int i = 0; i < N; i++) {
		assert_int_equal(rio[i].err, 0);
		assert_memory_equal(r[i], w[i], rio[i].len);
		free(w[i]);
		free(r[i]);
	}
	for (int k = 0; k < 2; k++) {
		vmt_subhost_stats(h[k], &st[k]);
		assert_int_equal(st[k].reads, N / 2);
		assert_int_equal(st[k].writes, N / 2);
		assert_int_equal(st[k].flushes, 1);
		vmt_subhost_close(h[k]);
	}
	assert_int_equal(vmt_subhost_pread_batch(NULL, 0), 0);
}

/* One bad entry fails alone; the others are served. */
static void test_batch_partial(void **state)
{
	struct vmt_subhost *s = connect_ok(srv1);
	unsigned char a[16], b[16];
	struct vmt_subhost_io io[3] = {
	    {.host = s, .off = 0, .len = 16, .buf = a},
	    {.host = s, .off = EXPORT_SIZE, .len = 16, .buf = b},
	    {.host = NULL, .off = 0, .len = 16, .buf = b},
	};

	assert_int_equal(vmt_subhost_pread_batch(io, 3), -EINVAL);
	assert_int_equal(io[0].err, 0);
	assert_int_equal(io[1].err, -EINVAL);
	assert_int_equal(io[2].err, -EINVAL);
	vmt_subhost_close(s);
}

/* The server refuses requests over 64K: everything bigger must be split. */
static void test_split_small_server(void **state)
{
	struct vmt_subhost *s = connect_ok(srv_small);
	size_t len = (1 << 20) + 123;
	uint64_t off = 4095;
	unsigned char *w = malloc(len), *r = malloc(len);
	struct vmt_subhost_io io[3];
	struct vmt_subhost_stats st;

	fill_pattern(w, len, off, 9);
	assert_int_equal(vmt_subhost_pwrite(s, w, len, off), 0);
	memset(r, 0, len);
	assert_int_equal(vmt_subhost_pread(s, r, len, off), 0);
	assert_memory_equal(r, w, len);
	vmt_subhost_stats(s, &st);
	assert_int_equal(st.reads, (len + 65535) / 65536);
	memset(r, 0, len);
	for (int i = 0; i < 3; i++)
		io[i] = (struct vmt_subhost_io){.host = s,
						.off = off + (uint64_t)i * 300000,
						.len = 300000,
						.buf = r + i * 300000};
	assert_int_equal(vmt_subhost_pread_batch(io, 3), 0);
	assert_memory_equal(r, w, 900000);
	vmt_subhost_close(s);
	free(w);
	free(r);
}

/* The server's own errors come back as its errno, and the handle stays usable. */
static void test_server_error(void **state)
{
	struct server *sv = start_server(key_a, SRV_FULL);
	struct vmt_subhost *s = connect_ok(sv);
	unsigned char b[2][8192] = {{0}};
	struct vmt_subhost_io io[2] = {{.host = s, .off = 0, .len = 8192, .buf = b[0]},
				       {.host = s, .off = 1 << 20, .len = 8192, .buf = b[1]}};

	assert_int_equal(vmt_subhost_pwrite(s, b[0], 4096, 0), -ENOSPC);
	assert_non_null(strstr(vmt_subhost_error(s), "write"));
	assert_int_equal(vmt_subhost_pwrite_batch(io, 2), -ENOSPC);
	assert_int_equal(io[0].err, -ENOSPC);
	assert_int_equal(io[1].err, -ENOSPC);
	assert_int_equal(vmt_subhost_pread_batch(io, 2), 0);
	assert_int_equal(vmt_subhost_pread(s, b[0], 4096, 0), 0);
	vmt_subhost_close(s);
	stop_server(sv);
}

/* Bigger than libnbd's 32M default cap in one call. */
static void test_split_large(void **state)
{
	struct vmt_subhost *s = connect_ok(srv1);
	size_t len = 40u << 20;
	unsigned char *w = malloc(len), *r = malloc(len);
	struct vmt_subhost_io io = {.host = s, .off = 1, .len = len, .buf = w};

	fill_pattern(w, len, 1, 3);
	assert_int_equal(vmt_subhost_pwrite_batch(&io, 1), 0);
	assert_int_equal(vmt_subhost_pread(s, r, len, 1), 0);
	assert_memory_equal(r, w, len);
	vmt_subhost_close(s);
	free(w);
	free(r);
}

static void test_wrong_key(void **state)
{
	struct vmt_subhost_opts o = opts_for(srv1, key_b);
	struct vmt_subhost *s = (void *)1;

	assert_int_equal(vmt_subhost_connect(&o, &s), -EACCES);
	assert_null(s);
	print_message("wrong key: %s\n", vmt_subhost_last_error());
	assert_true(strlen(vmt_subhost_last_error()) > 0);
	/* A username the server does not know. */
	o = opts_for(srv1, key_c);
	assert_int_equal(vmt_subhost_connect(&o, &s), -EACCES);
	assert_null(s);
	/* A username missing from our own file is a local mistake. */
	o = opts_for(srv1, key_a);
	o.psk_username = "nobody";
	assert_int_equal(vmt_subhost_connect(&o, &s), -EINVAL);
	assert_null(s);
	o.psk_username = "vmt";
	assert_int_equal(vmt_subhost_connect(&o, &s), 0);
	vmt_subhost_close(s);
}

/* Plain NBD against a TLS-only server gets no export, hence no byte. */
static void test_no_key(void **state)
{
	struct vmt_subhost_opts o = opts_for(srv1, NULL);
	struct vmt_subhost *s = (void *)1;
	int r = vmt_subhost_connect(&o, &s);

	print_message("no key: %s\n", vmt_subhost_last_error());
	if (r != -EACCES)
		fail_msg("insecure connect: %d %s", r, vmt_subhost_last_error());
	assert_null(s);
}

/* TLS required: a plain server is refused, whatever it offers. */
static void test_plain_server(void **state)
{
	struct server *plain = start_server(NULL, SRV_MEMORY);
	struct vmt_subhost_opts o = opts_for(plain, key_a);
	struct vmt_subhost *s = (void *)1;
	int r = vmt_subhost_connect(&o, &s);

	print_message("plain server: %s\n", vmt_subhost_last_error());
	if (r != -EACCES)
		fail_msg("TLS connect to a plain server: %d %s", r, vmt_subhost_last_error());
	assert_null(s);
	o = opts_for(plain, NULL);
	assert_int_equal(vmt_subhost_connect(&o, &s), 0);
	assert_int_equal(vmt_subhost_size(s), EXPORT_SIZE);
	vmt_subhost_close(s);
	stop_server(plain);
}

/* Also: a kept idle handle tells whether its server is still there, without a round trip. */
static void test_server_killed(void **state)
{
	struct server *sv = start_server(key_a, SRV_MEMORY);
	struct vmt_subhost *s = connect_ok(sv);
	unsigned char b[4096];
	bool idle_ok = true;
	int r;

	assert_false(vmt_subhost_idle_ok(NULL));
	assert_true(vmt_subhost_idle_ok(s));
	assert_int_equal(vmt_subhost_pread(s, b, sizeof(b), 0), 0);
	assert_true(vmt_subhost_idle_ok(s)); /* an answered read leaves nothing behind */
	stop_server(sv);
	for (int i = 0; i < 200 && idle_ok; i++) { /* until the close reaches the socket */
		idle_ok = vmt_subhost_idle_ok(s);
		if (idle_ok)
			usleep(5000);
	}
	assert_false(idle_ok);
	r = vmt_subhost_pread(s, b, sizeof(b), 0);
	print_message("dead server: %s\n", vmt_subhost_error(s));
	if (r != -ECONNRESET)
		fail_msg("read from a dead server: %d %s", r, vmt_subhost_error(s));
	/* Dead stays dead, at once. */
	assert_int_equal(vmt_subhost_pwrite(s, b, sizeof(b), 0), -ECONNRESET);
	assert_int_equal(vmt_subhost_flush(s), -ECONNRESET);
	vmt_subhost_close(s);
}

/* Writing into a connection whose server died: an error, not a SIGPIPE. */
static void test_server_killed_write(void **state)
{
	struct server *sv = start_server(key_a, SRV_MEMORY);
	struct vmt_subhost *s = connect_ok(sv);
	size_t len = 4u << 20;
	unsigned char *b = calloc(1, len);
	int r;

	assert_int_equal(vmt_subhost_pwrite(s, b, 4096, 0), 0);
	stop_server(sv);
	r = vmt_subhost_pwrite(s, b, len, 0);
	if (r != -ECONNRESET)
		fail_msg("write to a dead server: %d %s", r, vmt_subhost_error(s));
	vmt_subhost_close(s);
	free(b);
}

/* SIGSTOP takes effect asynchronously: wait (bounded) until every thread is stopped. */
static void wait_stopped(pid_t pid)
{
	char path[64], buf[512];

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	for (int i = 0; i < 200; i++) {
		FILE *f = fopen(path, "r");
		size_t n = f ? fread(buf, 1, sizeof(buf) - 1, f) : 0;
		char *p;

		if (f)
			fclose(f);
		buf[n] = '\0';
		p = strrchr(buf, ')');
		if (p && p[1] == ' ' && p[2] == 'T')
			break;
		usleep(5000);
	}
	usleep(20000); /* the state is per process; let its threads settle too */
}

/* A server that stops answering (SIGSTOP) costs io_timeout_ms, never a hang. */
static void test_server_hung(void **state)
{
	struct server *sv = start_server(key_a, SRV_MEMORY);
	struct vmt_subhost_opts o = opts_for(sv, key_a);
	struct vmt_subhost *s = NULL;
	struct vmt_subhost_io io[8];
	unsigned char b[8][4096];

	o.io_timeout_ms = 300;
	assert_int_equal(vmt_subhost_connect(&o, &s), 0);
	assert_int_equal(kill(sv->pid, SIGSTOP), 0);
	wait_stopped(sv->pid);
	for (int i = 0; i < 8; i++)
		io[i] = (struct vmt_subhost_io){
		    .host = s, .off = (uint64_t)i << 12, .len = 4096, .buf = b[i]};
	assert_int_equal(vmt_subhost_pread_batch(io, 8), -ETIMEDOUT);
	for (int i = 0; i < 8; i++)
		assert_int_equal(io[i].err, -ETIMEDOUT);
	assert_non_null(strstr(vmt_subhost_error(s), "300 ms"));
	assert_int_equal(vmt_subhost_pread(s, b[0], 1, 0), -ETIMEDOUT);
	vmt_subhost_close(s);
	stop_server(sv);
}

static void test_closed_port(void **state)
{
	struct server fake = {0};
	struct vmt_subhost_opts o;
	struct vmt_subhost *s = (void *)1;

	snprintf(fake.addr, sizeof(fake.addr), "127.0.0.1:%u", free_port());
	o = opts_for(&fake, key_a);
	assert_int_equal(vmt_subhost_connect(&o, &s), -ECONNREFUSED);
	assert_null(s);
}

static int listen_any(unsigned *port)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	assert_true(fd >= 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(listen(fd, 4), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &len), 0);
	*port = ntohs(a.sin_port);
	return fd;
}

/* A port that accepts but never speaks: bounded by connect_timeout_ms. */
static void test_silent_server(void **state)
{
	struct server fake = {0};
	struct vmt_subhost_opts o;
	struct vmt_subhost *s = (void *)1;
	int fd = listen_any(&fake.port);

	snprintf(fake.addr, sizeof(fake.addr), "127.0.0.1:%u", fake.port);
	o = opts_for(&fake, key_a);
	o.connect_timeout_ms = 300;
	assert_int_equal(vmt_subhost_connect(&o, &s), -ETIMEDOUT);
	assert_null(s);
	close(fd);
}

/*
 * SYNs dropped (a full accept queue drops them on Linux): the TCP connect
 * itself never completes, and connect_timeout_ms bounds it.
 */
static void test_blackhole(void **state)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	struct server fake = {0};
	struct vmt_subhost_opts o;
	struct vmt_subhost *s = (void *)1;
	int lfd = listen_any(&fake.port), fill[4];

	assert_int_equal(listen(lfd, 0), 0);
	a.sin_port = htons((uint16_t)fake.port);
	for (int i = 0; i < 4; i++) {
		fill[i] = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		connect(fill[i], (struct sockaddr *)&a, sizeof(a));
	}
	usleep(50000);
	snprintf(fake.addr, sizeof(fake.addr), "127.0.0.1:%u", fake.port);
	o = opts_for(&fake, key_a);
	o.connect_timeout_ms = 300;
	assert_int_equal(vmt_subhost_connect(&o, &s), -ETIMEDOUT);
	assert_null(s);
	for (int i = 0; i < 4; i++)
		close(fill[i]);
	close(lfd);
}

static void *answer_garbage(void *arg)
{
	struct pollfd p = {.fd = *(int *)arg, .events = POLLIN};
	/* Bounded: a client that never connects must not hang the test. */
	int c = poll(&p, 1, 5000) == 1 ? accept(p.fd, NULL, NULL) : -1;
	static const char junk[] = "SSH-2.0-OpenSSH_9.2p1 Debian-2\r\n";

	if (c >= 0) {
		if (write(c, junk, sizeof(junk) - 1) < 0)
			c = c; /* the client may be gone already */
		usleep(200000);
		close(c);
	}
	return NULL;
}

/* Something that is not NBD: -EPROTO (with TLS or without). */
static void test_not_nbd(void **state)
{
	for (int tls = 0; tls < 2; tls++) {
		struct server fake = {0};
		struct vmt_subhost_opts o;
		struct vmt_subhost *s = (void *)1;
		int fd = listen_any(&fake.port), r;
		pthread_t t;

		snprintf(fake.addr, sizeof(fake.addr), "127.0.0.1:%u", fake.port);
		o = opts_for(&fake, tls ? key_a : NULL);
		assert_int_equal(pthread_create(&t, NULL, answer_garbage, &fd), 0);
		r = vmt_subhost_connect(&o, &s);
		pthread_join(t, NULL);
		close(fd);
		print_message("not NBD: %s\n", vmt_subhost_last_error());
		if (r != -EPROTO)
			fail_msg("not NBD (tls=%d): %d %s", tls, r, vmt_subhost_last_error());
		assert_null(s);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_parse_addr),
	    cmocka_unit_test(test_psk_create),
	    cmocka_unit_test(test_connect_bad_opts),
	    cmocka_unit_test(test_roundtrip),
	    cmocka_unit_test(test_trim),
	    cmocka_unit_test(test_batch_two_hosts),
	    cmocka_unit_test(test_batch_partial),
	    cmocka_unit_test(test_split_small_server),
	    cmocka_unit_test(test_split_large),
	    cmocka_unit_test(test_server_error),
	    cmocka_unit_test(test_wrong_key),
	    cmocka_unit_test(test_no_key),
	    cmocka_unit_test(test_plain_server),
	    cmocka_unit_test(test_server_killed),
	    cmocka_unit_test(test_server_killed_write),
	    cmocka_unit_test(test_server_hung),
	    cmocka_unit_test(test_closed_port),
	    cmocka_unit_test(test_silent_server),
	    cmocka_unit_test(test_blackhole),
	    cmocka_unit_test(test_not_nbd),
	};

	if (system("nbdkit --version >/dev/null 2>&1") != 0) {
		printf("nbdkit not found: skipped\n");
		return 77;
	}
	return cmocka_run_group_tests(tests, setup, teardown);
}

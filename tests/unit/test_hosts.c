// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * test_hosts.c - the hosts part without root: option checks, the state
 * file's round trip, and `vmt_serve` of one VM on 127.0.0.1 (nbdkit file
 * plugin, TLS-PSK) driven through the library, read and written with the
 * project's sub-host client: data round trip, wrong key, a killed nbdkit
 * brought back by its supervisor with the data, stop and list.  Making
 * namespaces needs root and is covered by tests/system/test_hosts.py.
 * Everything runs in a private run dir and store; every server started
 * here is stopped in teardown.  Skipped (77) without nbdkit.
 */
#include <errno.h>
#include <netinet/in.h>
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

#include "hosts/hosts.h"
#include "hosts/hosts_priv.h"
#include "hosts/state.h"
#include "subhost/subhost.h"
#include "vmemtrans.h"

static char tmpdir[64], store[128], key[160], wrong[160], listen_at[64];

static unsigned free_port(void)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	unsigned port = 0;

	if (fd >= 0 && !bind(fd, (struct sockaddr *)&a, sizeof(a)) &&
	    !getsockname(fd, (struct sockaddr *)&a, &len))
		port = ntohs(a.sin_port);
	if (fd >= 0)
		close(fd);
	return port;
}

static void test_prefix(void **state)
{
	char p[VMT_HOSTS_PREFIX_MAX + 1];

	unsetenv("VMT_HOSTS_PREFIX");
	assert_int_equal(vmt_hosts_prefix(NULL, p), 0);
	assert_string_equal(p, "vmt");
	setenv("VMT_HOSTS_PREFIX", "env1", 1);
	assert_int_equal(vmt_hosts_prefix(NULL, p), 0);
	assert_string_equal(p, "env1");
	unsetenv("VMT_HOSTS_PREFIX");
	assert_int_equal(vmt_hosts_prefix("ab12cd34", p), 0);
	assert_int_equal(vmt_hosts_prefix("ab12cd345", p), -EINVAL);
	assert_int_equal(vmt_hosts_prefix("Ab", p), -EINVAL);
	assert_int_equal(vmt_hosts_prefix("a-b", p), -EINVAL);
	assert_int_equal(vmt_hosts_prefix("a/b", p), -EINVAL);
}

/* Bad options are refused before anything needs root or touches the system. */
static void test_up_bad_options(void **state)
{
	static const struct {
		int nr_sub;
		const char *link, *subnet;
		uint64_t cap;
	} bad[] = {
	    {17, NULL, NULL, 0},    {-1, NULL, NULL, 0},   {2, "fast", NULL, 0},
	    {2, "1gbitx", NULL, 0}, {2, "0mbit", NULL, 0}, {2, "-5mbit", NULL, 0},
	    {2, NULL, "10.300", 0}, {2, NULL, "10", 0},	   {2, NULL, "10.77.1", 0},
	    {2, NULL, NULL, 1000},
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct vmt_hosts_up_opts o = {.sz = sizeof(o),
					      .prefix = "zz",
					      .nr_sub = bad[i].nr_sub,
					      .link = bad[i].link,
					      .subnet = bad[i].subnet,
					      .capacity = bad[i].cap};

		assert_int_equal(vmt_hosts_up(&o, NULL, NULL), -EINVAL);
	}
	struct vmt_hosts_up_opts small = {.sz = 8};

	assert_int_equal(vmt_hosts_up(&small, NULL, NULL), -EINVAL);
}

static void test_state_roundtrip(void **state)
{
	struct vmt_hosts *h = calloc(1, sizeof(*h)), *g = calloc(1, sizeof(*g));
	char path[4300];
	FILE *f;

	assert_non_null(h);
	assert_non_null(g);
	assert_int_equal(hosts_state_dir("rt", h->dir, sizeof(h->dir)), 0);
	assert_int_equal(vmt_hosts_load("rt", g), -ENOENT);
	assert_int_equal(hosts_mkdir_p(h->dir, 0700), 0);
	hosts_layout(h, "rt", "10.90", 3);
	strcpy(h->link, "100mbit");
	h->capacity = 1 << 30;
	h->complete = true;
	h->sub[1].nr_exports = 1;
	strcpy(h->sub[1].exports[0].vm, "vm7");
	strcpy(h->sub[1].exports[0].addr, "10.90.2.2:10810");
	h->sub[1].exports[0].port = 10810;
	h->sub[1].exports[0].size = 1ull << 33;
	assert_int_equal(hosts_state_save(h), 0);

	assert_int_equal(vmt_hosts_load("rt", g), 0);
	assert_string_equal(g->main_netns, "rt-main");
	assert_string_equal(g->link, "100mbit");
	assert_true(g->complete && g->capacity == 1 << 30 && g->nr_sub == 3);
	assert_string_equal(g->sub[2].netns, "rt-sub3");
	assert_string_equal(g->sub[2].main_if, "rt-m3");
	assert_string_equal(g->sub[2].sub_if, "rt-s3");
	assert_string_equal(g->sub[2].addr, "10.90.3.2");
	assert_string_equal(g->sub[2].main_addr, "10.90.3.1");
	assert_int_equal(g->sub[1].nr_exports, 1);
	assert_string_equal(g->sub[1].exports[0].addr, "10.90.2.2:10810");
	assert_true(g->sub[1].exports[0].size == 1ull << 33);
	assert_ptr_equal(vmt_hosts_sub_find(g, "sub2"), &g->sub[1]);
	assert_ptr_equal(vmt_hosts_sub_find(g, "rt-sub3"), &g->sub[2]);
	assert_null(vmt_hosts_sub_find(g, "sub4"));

	snprintf(path, sizeof(path), "%s/hosts.json", h->dir);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs("{\"main_netns\": \"rt-main\", \"subhosts\": 7}", f);
	fclose(f);
	assert_int_equal(vmt_hosts_load("rt", g), -EBADMSG);
	unlink(path);
	free(h);
	free(g);
}

static struct vmt_serve_opts serve_opts(const char *vm, const char *psk)
{
	struct vmt_serve_opts o = {.sz = sizeof(o),
				   .vm = vm,
				   .size = 4 << 20,
				   .store = store,
				   .listen = listen_at,
				   .psk_file = psk,
				   .insecure = !psk};

	return o;
}

/* psk NULL: a plain (insecure) client. */
static int connect_to(const char *psk, const char *vm, struct vmt_subhost **h)
{
	struct vmt_subhost_opts o = {.sz = sizeof(o),
				     .addr = listen_at,
				     .export_name = vm,
				     .psk_file = psk,
				     .insecure = !psk,
				     .connect_timeout_ms = 3000,
				     .io_timeout_ms = 5000};

	return vmt_subhost_connect(&o, h);
}

static struct vmt_serve_entry find_entry(const char *vm)
{
	struct vmt_serve_entry *e, r = {.pid = 0};
	size_t n;

	assert_int_equal(vmt_serve_list(store, &e, &n), 0);
	for (size_t i = 0; i < n; i++)
		if (!strcmp(e[i].vm, vm))
			r = e[i];
	free(e);
	return r;
}

static void test_serve_tls(void **state)
{
	struct vmt_serve_opts o = serve_opts("vm1", key);
	struct vmt_subhost *h = NULL;
	char buf[8192], back[8192];
	struct vmt_serve_entry e;
	pid_t pid = 0;

	assert_int_equal(vmt_serve(&o, &pid), 0);
	assert_true(pid > 0);
	assert_int_equal(vmt_serve(&o, NULL), -EALREADY);
	assert_int_equal(connect_to(key, "vm1", &h), 0);
	assert_true(vmt_subhost_size(h) == 4 << 20);
	for (size_t i = 0; i < sizeof(buf); i++)
		buf[i] = (char)(i * 7 + 1);
	assert_int_equal(vmt_subhost_pwrite(h, buf, sizeof(buf), 1 << 20), 0);
	assert_int_equal(vmt_subhost_flush(h), 0);
	vmt_subhost_close(h);
	h = NULL;
	assert_int_equal(connect_to(wrong, "vm1", &h), -EACCES);
	assert_true(connect_to(NULL, "vm1", &h) < 0); /* no key: no byte */
	assert_null(h);

	e = find_entry("vm1");
	assert_true(e.alive && e.pid == pid && e.nbdkit_pid > 0);
	assert_string_equal(e.listen, listen_at);
	assert_int_equal(kill(e.nbdkit_pid, SIGKILL), 0);
	for (int i = 0; i < 200; i++) { /* the supervisor restarts it after 0.2 s */
		struct vmt_serve_entry now = find_entry("vm1");

		if (now.alive && now.nbdkit_pid != e.nbdkit_pid)
			break;
		usleep(50000);
	}
	assert_int_equal(connect_to(key, "vm1", &h), 0);
	assert_int_equal(vmt_subhost_pread(h, back, sizeof(back), 1 << 20), 0);
	assert_memory_equal(buf, back, sizeof(buf));
	vmt_subhost_close(h);

	assert_int_equal(vmt_serve_stop(store, "vm1", true), 0);
	e = find_entry("vm1");
	assert_true(!e.alive && e.pid == 0 && e.size == 4 << 20);
	/* served again from the kept data file */
	assert_int_equal(vmt_serve(&o, NULL), 0);
	assert_int_equal(connect_to(key, "vm1", &h), 0);
	memset(back, 0, sizeof(back));
	assert_int_equal(vmt_subhost_pread(h, back, sizeof(back), 1 << 20), 0);
	assert_memory_equal(buf, back, sizeof(buf));
	vmt_subhost_close(h);
	assert_int_equal(vmt_serve_stop(store, "vm1", false), 0);
	assert_int_equal(vmt_serve_stop(store, "vm1", false), -ENOENT);
}

static void test_serve_bad(void **state)
{
	struct vmt_serve_opts o = serve_opts("vm2", NULL);
	char path[256];

	o.insecure = false;
	assert_int_equal(vmt_serve(&o, NULL), -EINVAL); /* no key, not insecure */
	o = serve_opts("vm2", "/nonexistent/key");
	assert_int_equal(vmt_serve(&o, NULL), -ENOENT);
	o = serve_opts("vm2", key);
	o.size = 1000;
	assert_int_equal(vmt_serve(&o, NULL), -EINVAL);
	o = serve_opts("bad/name", key);
	assert_int_equal(vmt_serve(&o, NULL), -EINVAL);
	o = serve_opts("vm2", key);
	o.listen = "127.0.0.1";
	assert_int_equal(vmt_serve(&o, NULL), -EINVAL);
	o.listen = "localhost:10809";
	assert_int_equal(vmt_serve(&o, NULL), -EINVAL); /* numeric addresses only */
	/* an existing data file of another size is someone else's */
	snprintf(path, sizeof(path), "%s/vm2.mem", store);
	assert_int_equal(truncate(path, 0) && errno != ENOENT, 0);
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs("x", f);
	fclose(f);
	o = serve_opts("vm2", key);
	assert_int_equal(vmt_serve(&o, NULL), -EEXIST);
	unlink(path);
}

static int setup(void **state)
{
	char run[96];

	snprintf(tmpdir, sizeof(tmpdir), "/tmp/vmt-test-hosts-XXXXXX");
	if (!mkdtemp(tmpdir))
		return -1;
	snprintf(run, sizeof(run), "%s/run", tmpdir);
	snprintf(store, sizeof(store), "%s/store", tmpdir);
	snprintf(key, sizeof(key), "%s/key.psk", tmpdir);
	snprintf(wrong, sizeof(wrong), "%s/wrong.psk", tmpdir);
	snprintf(listen_at, sizeof(listen_at), "127.0.0.1:%u", free_port());
	if (mkdir(run, 0700) || mkdir(store, 0700))
		return -1;
	setenv("VMT_RUN_DIR", run, 1);
	if (vmt_subhost_psk_create(key, "vm1") || vmt_subhost_psk_create(wrong, "vm1"))
		return -1;
	return 0;
}

static int teardown(void **state)
{
	char cmd[128];

	vmt_serve_stop(store, "vm1", false);
	vmt_serve_stop(store, "vm2", false);
	/* the test made only files under tmpdir: remove them (no shell: execvp rm) */
	snprintf(cmd, sizeof(cmd), "%s", tmpdir);
	if (!fork()) {
		execlp("rm", "rm", "-rf", cmd, (char *)NULL);
		_exit(127);
	}
	wait(NULL);
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_prefix),	    cmocka_unit_test(test_up_bad_options),
	    cmocka_unit_test(test_state_roundtrip), cmocka_unit_test(test_serve_tls),
	    cmocka_unit_test(test_serve_bad),
	};

	if (access("/usr/bin/nbdkit", X_OK) && access("/usr/sbin/nbdkit", X_OK)) {
		printf("nbdkit not found: skipped\n");
		return 77;
	}
	return cmocka_run_group_tests(tests, setup, teardown);
}

// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * test_socket_views.c - the sockets cross-view (linux/socket_views.c) over
 * a fake guest (fake_guest.h: the real profile of the test guest's 6.1
 * kernel over a RAM buffer): processes whose fd tables hold sockets built
 * by hand (file -> struct socket -> struct sock), against a listing of the
 * protocol tables built by hand (the table walkers have their own tests
 * in test_linux.c).  A held socket its state puts in a table that lacks it
 * is exactly one discrepancy; unbound and closed sockets are none; hostile
 * fd tables and sock pointers to nowhere cost nothing but themselves.
 * Without a test kernel every test is skipped.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "fake_guest.h"
#include "linux/socket_views.h"

#define AF_UNIX_       1
#define AF_INET_       2
#define AF_INET6_      10
#define STREAM	       1
#define DGRAM	       2
#define TCP	       6
#define UDP	       17
#define ST_ESTABLISHED 1
#define ST_CLOSE       7
#define ST_LISTEN      10
#define MAX_TEST_SOCKS 16
#define MAX_TEST_TASKS 4

struct world {
	struct vmt_task tasks[MAX_TEST_TASKS];
	struct vmt_task_list tl;
	struct vmt_socket socks[MAX_TEST_SOCKS];
	struct vmt_socket_list l;
	uint64_t *arr[MAX_TEST_TASKS]; /* each task's fd array (host view) */
};

static uint64_t task_add_fds(struct fake *f, struct world *w, int32_t pid, uint32_t nfds)
{
	struct vmt_task *t = &w->tasks[w->tl.n];
	uint64_t task = kalloc(f, off("task_struct", NULL));
	uint64_t files = kalloc(f, off("files_struct", NULL));
	uint64_t fdt = kalloc(f, off("fdtable", NULL)), arr = kalloc(f, 8ull * nfds);

	memset(t, 0, sizeof(*t));
	t->pid = t->tgid = pid;
	t->kva = t->leader = task;
	snprintf(t->comm, sizeof(t->comm), "proc%d", pid);
	put32(f, task + off("task_struct", "pid"), (uint32_t)pid);
	put64(f, task + off("task_struct", "files"), files);
	put64(f, files + off("files_struct", "fdt"), fdt);
	put32(f, fdt + off("fdtable", "max_fds"), nfds);
	put64(f, fdt + off("fdtable", "fd"), arr);
	w->arr[w->tl.n] = at(f, arr, 8ull * nfds);
	w->tl.tasks = w->tasks;
	return (uint64_t)w->tl.n++;
}

static uint64_t task_add(struct fake *f, struct world *w, int32_t pid)
{
	return task_add_fds(f, w, pid, 16);
}

/* A struct sock of family/type/protocol in state, local port lport. */
static uint64_t sock_new(struct fake *f, uint16_t family, uint16_t type, uint16_t proto,
			 uint8_t state, uint16_t lport)
{
	uint64_t sk = kalloc(f, VMT_MAX(off("tcp6_sock", NULL), off("unix_sock", NULL)));
	uint64_t skc = sk + off("sock", "__sk_common");

	put16(f, skc + off("sock_common", "skc_family"), family);
	put8(f, skc + off("sock_common", "skc_state"), state);
	put16(f, skc + off("sock_common", "skc_num"), lport);
	put16(f, sk + off("sock", "sk_type"), type);
	put16(f, sk + off("sock", "sk_protocol"), proto);
	return sk;
}

/* fd slot of task ti: a socket file (socket_file_ops) whose socket's sk is sk. */
static void fd_sock(struct fake *f, struct world *w, size_t ti, int fd, uint64_t sk, uint64_t ino)
{
	uint64_t file = kalloc(f, off("file", NULL)), inode = kalloc(f, off("inode", NULL));
	uint64_t sock = kalloc(f, off("socket", NULL));

	put64(f, inode + off("inode", "i_ino"), ino);
	put64(f, file + off("file", "f_inode"), inode);
	put64(f, file + off("file", "f_op"), sym("socket_file_ops"));
	put64(f, file + off("file", "private_data"), sock);
	put64(f, sock + off("socket", "sk"), sk);
	w->arr[ti][fd] = file;
}

/* An entry of the tables' listing. */
static void listed(struct world *w, int proto, int state, uint64_t sk)
{
	struct vmt_socket *s = &w->socks[w->l.n++];

	memset(s, 0, sizeof(*s));
	s->proto = proto;
	s->state = state;
	s->kva = sk;
	w->l.socks = w->socks;
}

static struct vmt_sock_views *views(struct fake *f, struct world *w)
{
	struct vmt_sock_views *v = NULL;

	vmt_listing_begin(&f->g);
	assert_int_equal(socket_views_of(&f->g, &w->tl, &w->l, &v), 0);
	assert_non_null(v);
	return v;
}

static const struct vmt_sock_held *held(const struct vmt_sock_views *v, uint64_t sk)
{
	for (size_t i = 0; i < v->n; i++)
		if (v->socks[i].sk == sk)
			return &v->socks[i];
	fail_msg("sock 0x%llx not held", (unsigned long long)sk);
	return NULL;
}

static size_t findings(const struct vmt_sock_views *v)
{
	size_t n = 0;

	for (size_t i = 0; i < v->n; i++)
		n += v->socks[i].missing != 0;
	return n;
}

static int teardown(void **state)
{
	struct fake *f = *state;

	free(f->g.detail_off);
	f->g.detail_off = NULL;
	return fake_teardown(state);
}

/*
 * A TCP listener, an established TCP socket, a bound UDP socket and a
 * bound UNIX socket, all in their tables; an unbound TCP socket (CLOSE), an
 * unbound UDP socket and an unbound UNIX socket in none: clean.  Then the
 * listener unlinked from the listing: exactly one discrepancy, that one.
 */
static void test_held_against_tables(void **state)
{
	struct fake *f = *state;
	struct world *w = calloc(1, sizeof(*w));
	uint64_t lis, est, udp, ux, tcp0, udp0, ux0, addr;
	struct vmt_sock_views *v;
	const struct vmt_sock_held *h;

	task_add(f, w, 100);
	task_add(f, w, 101);
	lis = sock_new(f, AF_INET_, STREAM, TCP, ST_LISTEN, 7001);
	est = sock_new(f, AF_INET6_, STREAM, TCP, ST_ESTABLISHED, 7001);
	udp = sock_new(f, AF_INET_, DGRAM, UDP, ST_CLOSE, 7003);
	ux = sock_new(f, AF_UNIX_, STREAM, 0, ST_LISTEN, 0);
	addr = kalloc(f, 64);
	put64(f, ux + off("unix_sock", "addr"), addr);
	tcp0 = sock_new(f, AF_INET_, STREAM, TCP, ST_CLOSE, 0);
	udp0 = sock_new(f, AF_INET6_, DGRAM, UDP, ST_CLOSE, 0);
	ux0 = sock_new(f, AF_UNIX_, STREAM, 0, ST_CLOSE, 0);
	fd_sock(f, w, 0, 3, lis, 1000);
	fd_sock(f, w, 0, 4, est, 1001);
	fd_sock(f, w, 0, 5, udp, 1002);
	fd_sock(f, w, 0, 6, ux, 1003);
	fd_sock(f, w, 1, 3, tcp0, 1004);
	fd_sock(f, w, 1, 4, udp0, 1005);
	fd_sock(f, w, 1, 5, ux0, 1006);
	fd_sock(f, w, 1, 6, lis, 1000); /* inherited: one sock, two holders */
	listed(w, VMT_SOCK_TCP, ST_ESTABLISHED, sock_new(f, AF_INET_, STREAM, TCP, 1, 1));
	listed(w, VMT_SOCK_TCP6, ST_ESTABLISHED, est);
	listed(w, VMT_SOCK_UDP, ST_CLOSE, udp);
	listed(w, VMT_SOCK_UNIX, 1, ux);
	listed(w, VMT_SOCK_TCP, ST_LISTEN, lis);

	v = views(f, w);
	assert_int_equal(v->n, 7);
	assert_int_equal(v->tasks_read, 2);
	assert_int_equal(findings(v), 0);
	h = held(v, lis);
	assert_int_equal(h->must, VMT_SOCKV_TCP_LISTEN);
	assert_int_equal(h->seen_by, VMT_SOCKV_FDS | VMT_SOCKV_TCP_LISTEN);
	assert_int_equal(h->nholders, 2);
	assert_int_equal(h->pid, 100);
	assert_int_equal(h->inode, 1000);
	assert_int_equal(held(v, est)->must, VMT_SOCKV_TCP_EHASH);
	assert_int_equal(held(v, udp)->must, VMT_SOCKV_UDP);
	assert_int_equal(held(v, ux)->must, VMT_SOCKV_UNIX);
	assert_int_equal(held(v, tcp0)->must, 0);
	assert_int_equal(held(v, udp0)->must, 0);
	assert_int_equal(held(v, ux0)->must, 0);
	assert_int_equal(v->view_n[1], 1); /* tcp_listen */
	assert_int_equal(v->view_n[2], 2); /* tcp_ehash */
	vmt_sock_views_free(v);

	w->l.n--; /* the listener unlinked from lhash2 */
	v = views(f, w);
	assert_int_equal(findings(v), 1);
	h = held(v, lis);
	assert_int_equal(h->missing, VMT_SOCKV_TCP_LISTEN);
	assert_int_equal(h->seen_by, VMT_SOCKV_FDS);
	assert_int_equal(h->lport, 7001);
	assert_int_equal(h->state, ST_LISTEN);
	vmt_sock_views_free(v);

	/* Broken tables prove nothing by lacking it. */
	w->l.flags = VMT_F_PARTIAL;
	w->l.bad_chains = 1;
	v = views(f, w);
	assert_true(v->tables_broken);
	assert_int_equal(findings(v), 0);
	vmt_sock_views_free(v);
	free(w);
}

/* Each table a held socket must be in, lacking it: one finding each. */
static void test_each_table(void **state)
{
	struct fake *f = *state;
	struct world *w = calloc(1, sizeof(*w));
	uint64_t sk[4], addr = kalloc(f, 64);
	struct vmt_sock_views *v;

	task_add(f, w, 300);
	sk[0] = sock_new(f, AF_INET6_, STREAM, TCP, ST_LISTEN, 22);
	sk[1] = sock_new(f, AF_INET_, STREAM, TCP, ST_ESTABLISHED, 40000);
	sk[2] = sock_new(f, AF_INET6_, DGRAM, UDP, ST_CLOSE, 53);
	sk[3] = sock_new(f, AF_UNIX_, DGRAM, 0, ST_CLOSE, 0);
	put64(f, sk[3] + off("unix_sock", "addr"), addr);
	for (int i = 0; i < 4; i++)
		fd_sock(f, w, 0, 3 + i, sk[i], 500 + (uint64_t)i);
	/* the listener listed as established, the rest not at all */
	listed(w, VMT_SOCK_TCP6, ST_ESTABLISHED, sk[0]);
	v = views(f, w);
	assert_int_equal(findings(v), 4);
	assert_int_equal(held(v, sk[0])->missing, VMT_SOCKV_TCP_LISTEN);
	assert_int_equal(held(v, sk[1])->missing, VMT_SOCKV_TCP_EHASH);
	assert_int_equal(held(v, sk[2])->missing, VMT_SOCKV_UDP);
	assert_int_equal(held(v, sk[3])->missing, VMT_SOCKV_UNIX);
	vmt_sock_views_free(v);
	free(w);
}

/*
 * Hostile: fd slots pointing at garbage and at nowhere, a socket file whose
 * struct socket is nowhere, a socket whose sk is nowhere, a task whose fd
 * table is nowhere: no finding, no crash; the sock to nowhere is counted
 * unreadable, the sane listener beside them still judged.
 */
static void test_hostile(void **state)
{
	struct fake *f = *state;
	struct world *w = calloc(1, sizeof(*w));
	uint64_t lis = sock_new(f, AF_INET_, STREAM, TCP, ST_LISTEN, 80), file;
	struct vmt_sock_views *v;

	task_add(f, w, 400);
	task_add(f, w, 401);
	w->arr[0][0] = 0x1234;	    /* not a kernel pointer */
	w->arr[0][1] = UNMAPPED_VA; /* nowhere */
	fd_sock(f, w, 0, 2, UNMAPPED_VA, 600);
	fd_sock(f, w, 0, 3, lis, 601);
	fd_sock(f, w, 0, 4, PAGE_OFFSET + f->ram_len - 8, 602); /* sock straddles the end */
	fd_sock(f, w, 0, 5, lis, 601);
	file = w->arr[0][5];
	put64(f, file + off("file", "private_data"), UNMAPPED_VA); /* socket nowhere */
	put64(f, w->tasks[1].kva + off("task_struct", "files"), UNMAPPED_VA);
	listed(w, VMT_SOCK_TCP, ST_LISTEN, lis);
	listed(w, VMT_SOCK_UNIX, 1, UNMAPPED_VA); /* a listing entry nobody holds: normal */
	v = views(f, w);
	assert_int_equal(findings(v), 0);
	assert_int_equal(v->n, 1);
	assert_int_equal(held(v, lis)->seen_by, VMT_SOCKV_FDS | VMT_SOCKV_TCP_LISTEN);
	assert_int_equal(v->unreadable, 2);
	vmt_sock_views_free(v);
	free(w);
}

/*
 * Many sockets, each held twice (dup): one entry per sock with two holders,
 * found in its table (the index of held socks grows past its first size).
 */
static void test_many(void **state)
{
	struct fake *f = *state;
	struct world *w = calloc(1, sizeof(*w));
	struct vmt_socket_list big = {0};
	struct vmt_sock_views *v = NULL;
	enum { N = 600 };
	uint64_t sk[N];

	big.socks = calloc(N, sizeof(*big.socks));
	task_add_fds(f, w, 500, 2 * N);
	for (int i = 0; i < N; i++) {
		sk[i] = sock_new(f, AF_INET_, STREAM, TCP, ST_LISTEN, (uint16_t)(1000 + i));
		fd_sock(f, w, 0, i, sk[i], 7000 + (uint64_t)i);
		w->arr[0][N + i] = w->arr[0][i];
		if (i != 123) /* that one unlinked */
			big.socks[big.n++] = (struct vmt_socket){
			    .proto = VMT_SOCK_TCP, .state = ST_LISTEN, .kva = sk[i]};
	}
	vmt_listing_begin(&f->g);
	assert_int_equal(socket_views_of(&f->g, &w->tl, &big, &v), 0);
	assert_int_equal(v->n, N);
	assert_int_equal(findings(v), 1);
	assert_int_equal(held(v, sk[123])->missing, VMT_SOCKV_TCP_LISTEN);
	assert_int_equal(held(v, sk[123])->lport, 1123);
	for (int i = 0; i < N; i++)
		assert_int_equal(held(v, sk[i])->nholders, 2);
	vmt_sock_views_free(v);
	free(big.socks);
	free(w);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_held_against_tables, fake_setup, teardown),
	    cmocka_unit_test_setup_teardown(test_each_table, fake_setup, teardown),
	    cmocka_unit_test_setup_teardown(test_hostile, fake_setup, teardown),
	    cmocka_unit_test_setup_teardown(test_many, fake_setup, teardown),
	};
	int rc;

	if (!profile_load())
		return 77;
	rc = cmocka_run_group_tests(tests, NULL, NULL);
	profile_unload();
	return rc;
}

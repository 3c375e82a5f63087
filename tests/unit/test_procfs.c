// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * test_procfs.c - the shadow /proc's tree, text buffers and basic renderers
 * (no guest: lists are built by hand, expected text is what Linux 6.1
 * prints for the same objects, taken from a real guest's files).
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cmocka.h>

#include "procfs/procfs.h"
#include "procfs/render_basic.h"

/* ------------------------------------------------------------ text */

static void test_textbuf(void **state)
{
	struct textbuf b;
	char big[5000];

	(void)state;
	tb_init(&b);
	tb_printf(&b, "%s=%d\n", "a", 1);
	tb_put(&b, "xyz", 3);
	assert_int_equal(b.len, 7);
	assert_string_equal(b.p, "a=1\nxyz");
	memset(big, 'q', sizeof(big));
	tb_put(&b, big, sizeof(big));
	tb_printf(&b, "%s", "!");
	assert_int_equal(b.len, 7 + sizeof(big) + 1);
	assert_int_equal(b.p[b.len - 1], '!');
	assert_int_equal(b.p[b.len], '\0');
	assert_int_equal(b.err, 0);
	tb_free(&b);
	assert_null(b.p);
	assert_int_equal(b.len, 0);
}

static void test_textbuf_overflow_is_an_error(void **state)
{
	struct textbuf b;

	(void)state;
	tb_init(&b);
	tb_put(&b, "x", 1);
	tb_put(&b, "y", SIZE_MAX / 2); /* cannot be reserved: the buffer keeps what it had */
	assert_int_equal(b.err, -ENOMEM);
	tb_put(&b, "z", 1);
	assert_int_equal(b.len, 1);
	tb_free(&b);
}

/* ------------------------------------------------------------ tree */

static void test_tree_build_and_seal(void **state)
{
	struct pfs_tree *t = pfs_tree_new();
	struct pfs_node *net, *again, *p1, *p10, *p2;
	char *names[3];

	(void)state;
	assert_non_null(t);
	assert_int_equal(t->root->ino, 1);
	net = pfs_dir(t, t->root, "net", 0555, 0, 0);
	again = pfs_dir(t, t->root, "net", 0555, 0, 0);
	assert_ptr_equal(net, again); /* two fill functions may both add to net/ */
	p10 = pfs_dir_new(t, t->root, "10", 0555, 1000, 100);
	p2 = pfs_dir_new(t, t->root, "2", 0555, 0, 0);
	p1 = pfs_dir_new(t, t->root, "1", 0555, 0, 0);
	assert_int_equal(pfs_file(t, p10, "cmdline", 0444, "a\0b\0", 4), 0);
	assert_int_equal(pfs_file(t, p10, "cmdline", 0444, "x", 1), -EEXIST);
	assert_int_equal(pfs_link(t, p10, "exe", "/bin/sh"), 0);
	assert_int_equal(pfs_link(t, p10, "bad", ""), -EINVAL);
	assert_int_equal(pfs_file(t, p10, "a/b", 0444, "", 0), -EINVAL);
	assert_int_equal(pfs_file(t, p10, "..", 0444, "", 0), -EINVAL);
	assert_null(pfs_dir(t, p10, "cmdline", 0555, 0, 0)); /* a file, not a directory */
	assert_int_equal(errno, EEXIST);
	/* Files take their directory's owner: ps takes the owner from stat(2). */
	assert_int_equal(pfs_child(p10, "cmdline")->uid, 1000);
	assert_int_equal(pfs_child(p10, "cmdline")->gid, 100);
	pfs_seal(t);
	for (int i = 0; i < 3; i++)
		names[i] = t->root->kids[i]->name;
	assert_string_equal(names[0], "1");
	assert_string_equal(names[1], "10");
	assert_string_equal(names[2], "2");
	assert_ptr_equal(pfs_child(t->root, "2"), p2);
	assert_ptr_equal(pfs_child(t->root, "1"), p1);
	assert_null(pfs_child(t->root, "3"));
	assert_ptr_equal(pfs_walk(t->root, "10/exe"), pfs_child(p10, "exe"));
	assert_string_equal(pfs_walk(t->root, "10/exe")->data, "/bin/sh");
	assert_int_equal(pfs_walk(t->root, "10/cmdline")->len, 4);
	assert_null(pfs_walk(t->root, "10/nothing"));
	assert_ptr_equal(pfs_walk(t->root, "net/"), net);
	/* Inodes are unique. */
	assert_true(p1->ino != p2->ino && p2->ino != p10->ino && net->ino != p1->ino);
	assert_int_equal(t->bytes, 4 + 7);
	pfs_tree_free(t);
	pfs_tree_free(NULL);
}

/* An fd link's target: hidden (never listed), with the object's type and inode for stat. */
static void test_tree_link_target(void **state)
{
	struct pfs_tree *t = pfs_tree_new();
	struct pfs_node *fd, *n;

	(void)state;
	assert_non_null(t);
	fd = pfs_dir(t, t->root, "fd", 0500, 0, 0);
	assert_int_equal(pfs_link(t, fd, "3", "socket:[10230]"), 0);
	assert_int_equal(pfs_target(t, fd, "socket:[10230]", S_IFSOCK, 0777, 10230), 0);
	/* Another fd on the same socket: one node serves both. */
	assert_int_equal(pfs_target(t, fd, "socket:[10230]", S_IFSOCK, 0777, 10230), 0);
	assert_int_equal(fd->nkids, 2);
	assert_int_equal(pfs_target(t, fd, "a/b", S_IFIFO, 0600, 1), -EINVAL);
	pfs_seal(t);
	n = pfs_child(fd, "socket:[10230]");
	assert_non_null(n);
	assert_true(n->hidden && n->fmt_set);
	assert_int_equal(n->fmt, S_IFSOCK);
	assert_int_equal(n->mode, 0777);
	assert_int_equal(n->st_ino, 10230);
	assert_false(pfs_child(fd, "3")->hidden);
	pfs_tree_free(t);
}

/* ------------------------------------------------------------ basic renderers */

static char *render(void (*fn)(struct textbuf *, const void *), const void *arg)
{
	struct textbuf b;

	tb_init(&b);
	fn(&b, arg);
	assert_int_equal(b.err, 0);
	return b.p ? b.p : strdup("");
}

static void test_uptime(void **state)
{
	struct textbuf b;

	(void)state;
	tb_init(&b);
	pfs_render_uptime(&b, 73860000000ull + 999999999ull, 43420000000ull);
	assert_string_equal(b.p, "74.85 43.42\n");
	tb_free(&b);
	tb_init(&b);
	pfs_render_uptime(&b, 5000000ull, 0);
	assert_string_equal(b.p, "0.00 0.00\n");
	tb_free(&b);
}

static void test_version(void **state)
{
	static const char banner[] =
	    "Linux version 6.1.0-56-cloud-amd64 (debian-kernel@lists.debian.org) (gcc-12 (Debian "
	    "12.2.0-14+deb12u1) 12.2.0, GNU ld (GNU Binutils for Debian) 2.40) #1 SMP "
	    "PREEMPT_DYNAMIC Debian 6.1.192-2 (2026-11-16)\n";
	struct vmt_sysinfo si = {
	    .sysname = "Linux",
	    .release = "6.1.0-56-cloud-amd64",
	    .version = "#1 SMP PREEMPT_DYNAMIC Debian 6.1.192-2 (2026-11-16)",
	};
	struct textbuf b;

	(void)state;
	tb_init(&b);
	pfs_render_version(&b, &si, banner);
	assert_string_equal(b.p, banner);
	tb_free(&b);
	/* No banner: what utsname gives, without the build part. */
	tb_init(&b);
	pfs_render_version(&b, &si, NULL);
	assert_string_equal(b.p, "Linux version 6.1.0-56-cloud-amd64 #1 SMP PREEMPT_DYNAMIC "
				 "Debian 6.1.192-2 (2026-11-16)\n");
	tb_free(&b);
}

static void modules_fn(struct textbuf *b, const void *arg)
{
	pfs_render_modules(b, arg);
}

static struct vmt_module mods[] = {
    {.name = "tcp_diag",
     .size = 16384,
     .refcnt = 0,
     .state = "Live",
     .deps = "-",
     .base = 0xffffffffc0499000ull},
    {.name = "inet_diag",
     .size = 24576,
     .refcnt = 2,
     .state = "Live",
     .deps = "tcp_diag,udp_diag,",
     .base = 0xffffffffc0480000ull,
     .taints = "(OE)"},
};

static void test_modules(void **state)
{
	struct vmt_module_list l = {.n = 2, .mods = mods};
	char *s = render(modules_fn, &l);

	(void)state;
	assert_string_equal(s,
			    "tcp_diag 16384 0 - Live 0xffffffffc0499000\n"
			    "inet_diag 24576 2 tcp_diag,udp_diag, Live 0xffffffffc0480000 (OE)\n");
	free(s);
}

struct net_arg {
	const struct vmt_socket_list *l;
	int proto;
};

static void net_fn(struct textbuf *b, const void *arg)
{
	const struct net_arg *a = arg;

	pfs_render_net(b, a->l, a->proto, 0);
}

static void test_net_tcp4(void **state)
{
	struct vmt_socket s[2] = {
	    {.proto = VMT_SOCK_TCP,
	     .state = 10,
	     .lport = 7001,
	     .inode = 10226,
	     .refcnt = 1,
	     .kva = 0xffff8acd5fe19b00ull},
	    {.proto = VMT_SOCK_TCP,
	     .state = 1,
	     .laddr = {127, 0, 0, 1},
	     .raddr = {127, 0, 0, 1},
	     .lport = 7001,
	     .rport = 42562,
	     .inode = 10251,
	     .refcnt = 1,
	     .uid = 1000,
	     .tx_queue = 5,
	     .rx_queue = 7,
	     .kva = 0xffff8acd5fe1bf00ull},
	};
	struct vmt_socket_list l = {.n = 2, .socks = s};
	struct net_arg a = {&l, VMT_SOCK_TCP};
	char *out = render(net_fn, &a), *line2, *line3;

	(void)state;
	/* The guest's own lines, up to the columns memory does not give (timers, rto). */
	assert_memory_equal(out,
			    "  sl  local_address rem_address   st tx_queue rx_queue tr "
			    "tm->when retrnsmt   uid  timeout inode",
			    95);
	line2 = strchr(out, '\n') + 1;
	line3 = strchr(line2, '\n') + 1;
	assert_int_equal(line2 - out, 150); /* seq_pad(): 149 characters and '\n' */
	assert_int_equal(line3 - line2, 150);
	assert_memory_equal(line2,
			    "   0: 00000000:1B59 00000000:0000 0A 00000000:00000000 00:00000000 "
			    "00000000     0        0 10226 1 ffff8acd5fe19b00 ",
			    116);
	assert_memory_equal(line3,
			    "   1: 0100007F:1B59 0100007F:A642 01 00000005:00000007 00:00000000 "
			    "00000000  1000        0 10251 1 ffff8acd5fe1bf00 ",
			    116);
	free(out);
}

static void test_net_tcp6_and_udp(void **state)
{
	struct vmt_socket s[3] = {
	    {.proto = VMT_SOCK_TCP6,
	     .state = 1,
	     .laddr = {[15] = 1},
	     .raddr = {[15] = 1},
	     .lport = 7002,
	     .rport = 37214,
	     .inode = 10263,
	     .refcnt = 1},
	    {.proto = VMT_SOCK_UDP, .state = 7, .lport = 7003, .inode = 10232, .refcnt = 2},
	    {.proto = VMT_SOCK_TCP, .state = 10, .lport = 1, .netns_ino = 99}, /* not tcp6 */
	};
	struct vmt_socket_list l = {.n = 3, .socks = s};
	struct net_arg a6 = {&l, VMT_SOCK_TCP6}, a4 = {&l, VMT_SOCK_UDP};
	char *out6 = render(net_fn, &a6), *out4 = render(net_fn, &a4), *row;

	(void)state;
	row = strchr(out6, '\n') + 1;
	assert_memory_equal(row,
			    "   0: 00000000000000000000000001000000:1B5A "
			    "00000000000000000000000001000000:915E 01 ",
			    85);
	assert_null(strchr(row, '\n')[1] ? strchr(row, '\n') + 1 : NULL);
	row = strchr(out4, '\n') + 1;
	assert_int_equal(row - out4, 128);
	assert_memory_equal(row,
			    "    0: 00000000:1B5B 00000000:0000 07 00000000:00000000 00:00000000 "
			    "00000000     0        0 10232 2 ",
			    100);
	free(out6);
	free(out4);
}

static void test_net_unix_and_netns(void **state)
{
	struct vmt_socket s[3] = {
	    {.proto = VMT_SOCK_UNIX,
	     .state = 1,
	     .unix_type = 1,
	     .unix_flags = 1u << 16,
	     .inode = 10234,
	     .refcnt = 2,
	     .path = "/run/vmt.sock",
	     .kva = 0xffff8acd42761c00ull,
	     .netns_ino = 7},
	    {.proto = VMT_SOCK_UNIX,
	     .state = 3,
	     .unix_type = 1,
	     .inode = 10268,
	     .refcnt = 3,
	     .kva = 0xffff8acd42760000ull,
	     .netns_ino = 7},
	    {.proto = VMT_SOCK_UNIX,
	     .state = 1,
	     .unix_type = 2,
	     .inode = 5,
	     .refcnt = 2,
	     .path = "@abstract",
	     .netns_ino = 8}, /* another namespace: not shown */
	};
	struct vmt_socket_list l = {.n = 3, .socks = s};
	struct textbuf b;

	(void)state;
	tb_init(&b);
	pfs_render_net(&b, &l, VMT_SOCK_UNIX, 7);
	assert_string_equal(b.p, "Num       RefCount Protocol Flags    Type St Inode Path\n"
				 "ffff8acd42761c00: 00000002 00000000 00010000 0001 01 10234 "
				 "/run/vmt.sock\n"
				 "ffff8acd42760000: 00000003 00000000 00000000 0001 03 10268\n");
	tb_free(&b);
}

static void test_sysmodule(void **state)
{
	struct vmt_module m[3] = {
	    mods[0],
	    mods[1],
	    {.name = "udp_diag", .size = 16384, .state = "Loading", .deps = "[permanent],"}};
	struct vmt_module_list l = {.n = 3, .mods = m};
	struct pfs_tree *t = pfs_tree_new();
	struct pfs_node *dir = pfs_dir(t, t->root, "module", 0755, 0, 0);

	(void)state;
	assert_int_equal(pfs_sysmodule_fill(t, &l, dir), 0);
	pfs_seal(t);
	assert_string_equal(pfs_walk(dir, "inet_diag/refcnt")->data, "2\n");
	assert_string_equal(pfs_walk(dir, "inet_diag/coresize")->data, "24576\n");
	assert_string_equal(pfs_walk(dir, "inet_diag/initsize")->data, "0\n");
	assert_string_equal(pfs_walk(dir, "inet_diag/initstate")->data, "live\n");
	assert_string_equal(pfs_walk(dir, "inet_diag/taint")->data, "OE\n");
	assert_string_equal(pfs_walk(dir, "tcp_diag/taint")->data, "\n");
	assert_string_equal(pfs_walk(dir, "udp_diag/initstate")->data, "coming\n");
	assert_int_equal(pfs_walk(dir, "inet_diag/holders")->nkids, 2);
	assert_int_equal(pfs_walk(dir, "inet_diag/holders/tcp_diag")->type, PFS_LINK);
	assert_string_equal(pfs_walk(dir, "inet_diag/holders/udp_diag")->data, "../../udp_diag");
	assert_int_equal(pfs_walk(dir, "tcp_diag/holders")->nkids, 0);
	assert_int_equal(pfs_walk(dir, "udp_diag/holders")->nkids, 0); /* "[permanent]" */
	pfs_tree_free(t);
}

static void test_task_basic(void **state)
{
	char cmd[] = "/bin/wl\0-n\0"
		     "3",
	     env[] = "A=1";
	struct vmt_task user = {.pid = 115,
				.comm = "wl-0",
				.name = "wl-0",
				.cmdline = cmd,
				.cmdline_len = sizeof(cmd),
				.environ = env,
				.environ_len = sizeof(env)};
	struct vmt_task kw = {
	    .pid = 7, .comm = "kworker/0:0", .name = "kworker/0:0-events", .flags = VMT_F_KTHREAD};
	struct pfs_tree *t = pfs_tree_new();
	struct pfs_node *d1 = pfs_dir_new(t, t->root, "115", 0555, 1000, 1000);
	struct pfs_node *d2 = pfs_dir_new(t, t->root, "7", 0555, 0, 0);
	struct pfs_ctx c = {0};

	(void)state;
	assert_int_equal(pfs_basic_task_fill(t, &c, &user, d1), 0);
	assert_int_equal(pfs_basic_task_fill(t, &c, &kw, d2), 0);
	assert_int_equal(pfs_child(d1, "cmdline")->len, sizeof(cmd));
	assert_memory_equal(pfs_child(d1, "cmdline")->data, cmd, sizeof(cmd));
	assert_int_equal(pfs_child(d1, "environ")->mode, 0400);
	assert_int_equal(pfs_child(d1, "environ")->uid, 1000);
	assert_string_equal(pfs_child(d1, "comm")->data, "wl-0\n");
	/* A worker's comm is its full name, as proc_task_name() writes it. */
	assert_string_equal(pfs_child(d2, "comm")->data, "kworker/0:0-events\n");
	assert_int_equal(pfs_child(d2, "cmdline")->len, 0);
	pfs_tree_free(t);
}

static void test_system_basic_fill(void **state)
{
	struct vmt_sysinfo si = {
	    .sysname = "Linux", .release = "6.1.0", .version = "#1", .uptime_ns = 1500000000ull};
	struct vmt_module_list ml = {.n = 1, .mods = mods};
	struct vmt_socket_list sl = {0};
	struct pfs_ctx c = {.si = &si, .mods = &ml, .socks = &sl, .idle_ns = 250000000ull};
	struct pfs_tree *t = pfs_tree_new();

	(void)state;
	assert_int_equal(pfs_basic_system_fill(t, &c, t->root), 0);
	pfs_seal(t);
	assert_string_equal(pfs_walk(t->root, "uptime")->data, "1.50 0.25\n");
	assert_string_equal(pfs_walk(t->root, "version")->data, "Linux version 6.1.0 #1\n");
	assert_non_null(pfs_walk(t->root, "modules"));
	for (const char *f = "tcp\0tcp6\0udp\0udp6\0unix\0"; *f; f += strlen(f) + 1) {
		char path[16];

		snprintf(path, sizeof(path), "net/%s", f);
		assert_non_null(pfs_walk(t->root, path));
	}
	assert_int_equal(pfs_walk(t->root, "net/tcp")->len, 150); /* header only */
	pfs_tree_free(t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_textbuf),
	    cmocka_unit_test(test_textbuf_overflow_is_an_error),
	    cmocka_unit_test(test_tree_build_and_seal),
	    cmocka_unit_test(test_tree_link_target),
	    cmocka_unit_test(test_uptime),
	    cmocka_unit_test(test_version),
	    cmocka_unit_test(test_modules),
	    cmocka_unit_test(test_net_tcp4),
	    cmocka_unit_test(test_net_tcp6_and_udp),
	    cmocka_unit_test(test_net_unix_and_netns),
	    cmocka_unit_test(test_sysmodule),
	    cmocka_unit_test(test_task_basic),
	    cmocka_unit_test(test_system_basic_fill),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

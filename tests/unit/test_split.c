// SPDX-License-Identifier: LGPL-2.1-or-later
/* test_split.c - the split's pure parts: QEMU command lines, zero scan, placement. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "pagetable/pagetable.h"
#include "split/split_priv.h"

static void qargs_of(struct qargs *a, const char *const *v)
{
	a->n = 0;
	for (; *v; v++)
		a->v[a->n++] = strdup(*v);
	a->v[a->n] = NULL;
}

static int find(const struct qargs *a, const char *s)
{
	for (int i = 0; i < a->n; i++)
		if (!strcmp(a->v[i], s))
			return i;
	return -1;
}

static const char *const hand[] = {
    "qemu-system-x86_64",
    "-machine",
    "pc-q35-7.2,memory-backend=ram0",
    "-m",
    "512M",
    "-object",
    "memory-backend-file,id=ram0,size=512M,mem-path=/dev/shm/x.ram,share=on",
    "-kernel",
    "/k/vmlinuz",
    "-append",
    "-daemonize console=ttyS0",
    "-nographic",
    "-serial",
    "file:/var/log/x.log",
    "-serial",
    "unix:/run/x/agent.sock,server=on,wait=off",
    "-qmp",
    "unix:/run/x/qmp.sock,server,nowait",
    "-chardev",
    "socket,id=c0,path=/run/x/c0.sock,server=on",
    "-chardev",
    "socket,id=c1,path=/run/x/cl.sock",
    "-chardev",
    "file,id=f0,path=/var/log/f0.log",
    "-daemonize",
    "-pidfile",
    "/run/x/q.pid",
    "-incoming",
    "tcp:0:4444",
    NULL};

static void test_inspect(void **state)
{
	struct qargs a;
	struct qemu_info qi;

	qargs_of(&a, hand);
	assert_int_equal(qargs_inspect(&a, &qi), 0);
	assert_string_equal(qi.mem_path, "/dev/shm/x.ram");
	assert_true(qi.mem_share);
	assert_int_equal(qi.mem_bytes, 512ull << 20);
	assert_string_equal(qi.machine, "q35");
	assert_string_equal(qi.kernel, "/k/vmlinuz");
	assert_string_equal(qi.append, "-daemonize console=ttyS0");
	assert_string_equal(qi.qmp_sock, "/run/x/qmp.sock");
	assert_string_equal(qi.console_log, "/var/log/x.log");
	assert_string_equal(qi.pidfile, "/run/x/q.pid");
	assert_true(qi.daemonize);
	qargs_free(&a);
}

static void test_inspect_not_shared(void **state)
{
	static const char *const v[] = {
	    "qemu", "-object", "memory-backend-file,id=r,size=1G,mem-path=/dev/shm/y", NULL};
	static const char *const none[] = {"qemu", "-m", "1G", NULL};
	struct qargs a;
	struct qemu_info qi;

	qargs_of(&a, v);
	assert_int_equal(qargs_inspect(&a, &qi), 0);
	assert_false(qi.mem_share);
	assert_int_equal(qi.mem_bytes, 1ull << 30);
	assert_string_equal(qi.machine, "pc");
	qargs_free(&a);
	qargs_of(&a, none);
	assert_int_equal(qargs_inspect(&a, &qi), -ENOENT);
	qargs_free(&a);
}

/* Two file backends (NUMA nodes): the rewrite would point both at the one new file. */
static void test_inspect_two_backends(void **state)
{
	static const char *const v[] = {
	    "qemu",
	    "-object",
	    "memory-backend-file,id=r0,size=1G,mem-path=/dev/shm/a,share=on",
	    "-object",
	    "memory-backend-file,id=r1,size=1G,mem-path=/dev/shm/b,share=on",
	    NULL};
	struct qargs a;
	struct qemu_info qi;

	qargs_of(&a, v);
	assert_int_equal(qargs_inspect(&a, &qi), 0);
	assert_string_equal(qi.mem_path, "/dev/shm/a");
	assert_int_equal(qi.file_backends, 2); /* vmt split refuses it */
	qargs_free(&a);
}

static void test_rewrite(void **state)
{
	struct qargs a, b;
	static struct qmap map;
	int i;

	qargs_of(&a, hand);
	assert_int_equal(qargs_rewrite(&a, "/dev/shm/new.ram", "/d", 1, &b, &map), 0);
	/* -daemonize and the old -incoming are gone; -incoming defer ends it. */
	assert_int_equal(find(&b, "-daemonize"), -1);
	assert_int_equal(find(&b, "tcp:0:4444"), -1);
	assert_string_equal(b.v[b.n - 2], "-incoming");
	assert_string_equal(b.v[b.n - 1], "defer");
	/* An -append value is never an option. */
	assert_true(find(&b, "-daemonize console=ttyS0") > 0);
	assert_true(find(&b, "memory-backend-file,id=ram0,size=512M,mem-path=/dev/shm/new.ram,"
			     "share=on") > 0);
	/* Server sockets and logs move into the VM folder; a client socket stays. */
	assert_string_equal(qmap_get(&map, "/run/x/qmp.sock"), "/d/g1-2.sock");
	assert_true(find(&b, "unix:/d/g1-2.sock,server,nowait") > 0);
	assert_string_equal(qmap_get(&map, "/run/x/agent.sock"), "/d/g1-1.sock");
	assert_string_equal(qmap_get(&map, "/var/log/x.log"), "/d/g1-0-x.log");
	assert_true(find(&b, "file:/d/g1-0-x.log") > 0);
	assert_true(find(&b, "socket,id=c0,path=/d/g1-3.sock,server=on") > 0);
	assert_true(find(&b, "socket,id=c1,path=/run/x/cl.sock") > 0);
	assert_true(find(&b, "file,id=f0,path=/d/g1-4-f0.log") > 0);
	i = find(&b, "-pidfile");
	assert_true(i > 0);
	assert_string_equal(b.v[i + 1], "/d/g1-5-q.pid");
	assert_string_equal(qmap_get(&map, "/not/there"), "/not/there");
	qargs_free(&a);
	qargs_free(&b);
}

static void test_qsize(void **state)
{
	uint64_t v;

	assert_int_equal(qsize_parse("512M", &v), 0);
	assert_int_equal(v, 512ull << 20);
	assert_int_equal(qsize_parse("2G", &v), 0);
	assert_int_equal(v, 2ull << 30);
	assert_int_equal(qsize_parse("4096", &v), 0);
	assert_int_equal(v, 4096);
	assert_int_equal(qsize_parse("1x", &v), -EINVAL);
	assert_int_equal(qsize_parse("", &v), -EINVAL);
	assert_int_equal(qsize_parse("99999999999999999999T", &v), -EINVAL);
}

/* ------------------------------------------------------------ placement */

static void place_new(struct place *p, uint64_t nr)
{
	memset(p, 0, sizeof(*p));
	p->shift = 16;
	p->nr_chunks = nr;
	p->ram_size = nr << 16;
	p->flags = calloc(nr, 1);
	p->loc = calloc(nr, 1);
}

static void place_free(struct place *p)
{
	free(p->flags);
	free(p->loc);
}

static void test_decide_address(void **state)
{
	uint64_t quota[2] = {100, 100};
	struct place p;

	place_new(&p, 20);
	for (int i = 0; i < 20; i++)
		p.flags[i] = i % 5 == 4 ? 0 : CH_DATA; /* 4 zero chunks */
	p.flags[18] |= CH_CORE;
	p.flags[3] |= CH_RECENT;
	assert_int_equal(place_decide(&p, VMT_SPLIT_ADDRESS, 4, 2, quota), 0);
	/* Core first, then the lowest addresses; zero chunks nowhere. */
	assert_int_equal(p.loc[18], VMT_PT_MAIN);
	assert_int_equal(p.loc[0], VMT_PT_MAIN);
	assert_int_equal(p.loc[1], VMT_PT_MAIN);
	assert_int_equal(p.loc[2], VMT_PT_MAIN);
	assert_int_equal(p.loc[3], VMT_PT_SUB + 0);
	for (int i = 4; i < 20; i += 5)
		assert_int_equal(p.loc[i], VMT_PT_ABSENT);
	assert_int_equal(p.main, 4);
	assert_int_equal(p.core, 1);
	/* 12 left, balanced and contiguous: the first 6 on host 0, the rest on host 1. */
	assert_int_equal(p.host_chunks[0], 6);
	assert_int_equal(p.host_chunks[1], 6);
	assert_int_equal(p.loc[17], VMT_PT_SUB + 1);
	place_free(&p);
}

/* What goes to the sub-hosts is dealt in 2 MiB stripes, in turn, each host to its share. */
static void test_decide_stripes(void **state)
{
	uint64_t quota[2] = {1000, 1000}, small[2] = {40, 1000};
	struct place p;

	place_new(&p, 160); /* 64 KiB chunks: 32 a stripe, 5 stripes */
	for (int i = 0; i < 160; i++)
		p.flags[i] = i == 40 ? 0 : CH_DATA; /* one zero chunk in the second stripe */
	p.flags[0] |= CH_CORE;
	assert_int_equal(place_decide(&p, VMT_SPLIT_ADDRESS, 32, 2, quota), 0);
	/* main: the first stripe; then stripes 2, 4 on host 0 and 3, 5 on host 1 */
	for (int i = 0; i < 32; i++)
		assert_int_equal(p.loc[i], VMT_PT_MAIN);
	assert_int_equal(p.loc[40], VMT_PT_ABSENT);
	for (int i = 32; i < 160; i++)
		if (i != 40)
			assert_int_equal(p.loc[i], VMT_PT_SUB + (i / 32 - 1) % 2);
	assert_int_equal(p.host_chunks[0] + p.host_chunks[1], 127);
	assert_true(p.host_chunks[0] >= 63 && p.host_chunks[1] >= 63);

	/* A host with little room takes its share, the other the rest; never above a quota. */
	assert_int_equal(place_decide(&p, VMT_SPLIT_ADDRESS, 32, 2, small), 0);
	assert_true(p.host_chunks[0] <= 40);
	assert_int_equal(p.host_chunks[0] + p.host_chunks[1], 127);
	assert_int_equal(p.loc[32], VMT_PT_SUB + 0);
	assert_int_equal(p.loc[64], VMT_PT_SUB + 1);
	place_free(&p);
}

static void test_decide_recent(void **state)
{
	uint64_t quota[1] = {100};
	struct place p;

	place_new(&p, 10);
	for (int i = 0; i < 10; i++)
		p.flags[i] = CH_DATA;
	p.flags[9] |= CH_CORE;
	p.flags[7] |= CH_RECENT;
	p.flags[5] |= CH_RECENT;
	assert_int_equal(place_decide(&p, VMT_SPLIT_KERNEL_RECENT, 4, 1, quota), 0);
	assert_int_equal(p.loc[9], VMT_PT_MAIN);
	assert_int_equal(p.loc[7], VMT_PT_MAIN);
	assert_int_equal(p.loc[5], VMT_PT_MAIN);
	assert_int_equal(p.loc[0], VMT_PT_MAIN);
	assert_int_equal(p.loc[1], VMT_PT_SUB);
	assert_int_equal(p.recent, 2);
	place_free(&p);
}

/* Free chunks go nowhere (unless core); the kernel's own pages right after the core (not with
 * address). */
static void test_decide_free_kernel(void **state)
{
	uint64_t quota[1] = {100};
	struct place p;

	place_new(&p, 12);
	for (int i = 0; i < 12; i++)
		p.flags[i] = CH_DATA;
	p.flags[11] |= CH_CORE;
	p.flags[10] |= CH_CORE | CH_FREE; /* core wins: placed */
	p.flags[1] |= CH_FREE;
	p.flags[2] |= CH_FREE;
	p.flags[3] = CH_FREE; /* free and zero: one of the zero chunks */
	p.flags[8] |= CH_KERNEL;
	p.flags[9] |= CH_KERNEL;
	assert_int_equal(place_decide(&p, VMT_SPLIT_KERNEL_ADDRESS, 5, 1, quota), 0);
	assert_int_equal(p.loc[11], VMT_PT_MAIN);
	assert_int_equal(p.loc[10], VMT_PT_MAIN);
	assert_int_equal(p.loc[8], VMT_PT_MAIN);
	assert_int_equal(p.loc[9], VMT_PT_MAIN);
	assert_int_equal(p.loc[0], VMT_PT_MAIN); /* then by address, free ones skipped */
	for (int i = 1; i <= 3; i++)
		assert_int_equal(p.loc[i], VMT_PT_ABSENT);
	for (int i = 4; i <= 7; i++)
		assert_int_equal(p.loc[i], VMT_PT_SUB);
	assert_int_equal(p.free, 2);
	assert_int_equal(p.kernel, 2);
	assert_int_equal(p.core, 2);
	assert_int_equal(p.main, 5);
	assert_int_equal(p.host_chunks[0], 4);
	/* address alone (the paper's experiment) leaves the kernel's pages where they fall */
	assert_int_equal(place_decide(&p, VMT_SPLIT_ADDRESS, 5, 1, quota), 0);
	assert_int_equal(p.loc[0], VMT_PT_MAIN);
	assert_int_equal(p.loc[4], VMT_PT_MAIN);
	assert_int_equal(p.loc[5], VMT_PT_MAIN);
	assert_int_equal(p.loc[8], VMT_PT_SUB);
	assert_int_equal(p.loc[1], VMT_PT_ABSENT); /* free pages skipped all the same */
	assert_int_equal(p.kernel, 0);
	place_free(&p);
}

/*
 * Kernel pages that do not all fit: the page tables down to the processes'
 * arguments first, then slab, then the other kernel pages, each lowest first.
 */
static void test_decide_kernel_tiers(void **state)
{
	uint64_t quota[1] = {100};
	struct place p;

	place_new(&p, 10);
	for (int i = 0; i < 10; i++)
		p.flags[i] = CH_DATA | CH_KERNEL;
	p.flags[0] |= CH_CORE;
	p.flags[9] |= CH_PATH;
	p.flags[7] |= CH_PATH;
	p.flags[8] |= CH_SLAB;
	p.flags[5] |= CH_SLAB;
	p.flags[4] = CH_DATA | CH_PATH; /* not the kernel's: a tier bit alone is nothing */
	assert_int_equal(place_decide(&p, VMT_SPLIT_KERNEL_RECENT, 4, 1, quota), 0);
	assert_int_equal(p.loc[0], VMT_PT_MAIN); /* core */
	assert_int_equal(p.loc[7], VMT_PT_MAIN); /* path, lowest first */
	assert_int_equal(p.loc[9], VMT_PT_MAIN);
	assert_int_equal(p.loc[5], VMT_PT_MAIN); /* slab, lowest first */
	assert_int_equal(p.loc[8], VMT_PT_SUB);	 /* no room left */
	for (int i = 1; i <= 4; i++)
		assert_int_equal(p.loc[i], VMT_PT_SUB);
	assert_int_equal(p.loc[6], VMT_PT_SUB);
	/* with room for all of them, every kernel page still comes before the rest */
	assert_int_equal(place_decide(&p, VMT_SPLIT_KERNEL_ADDRESS, 9, 1, quota), 0);
	for (int i = 0; i < 10; i++)
		assert_int_equal(p.loc[i], i == 4 ? VMT_PT_SUB : VMT_PT_MAIN);
	/* address alone ignores the tiers too */
	assert_int_equal(place_decide(&p, VMT_SPLIT_ADDRESS, 3, 1, quota), 0);
	for (int i = 0; i < 10; i++)
		assert_int_equal(p.loc[i], i < 3 ? VMT_PT_MAIN : VMT_PT_SUB);
	place_free(&p);
}

static void test_decide_refusals(void **state)
{
	uint64_t quota[2] = {3, 2};
	struct place p;

	place_new(&p, 10);
	for (int i = 0; i < 10; i++)
		p.flags[i] = CH_DATA | (i < 3 ? CH_CORE : 0);
	/* The core does not fit the main host. */
	assert_int_equal(place_decide(&p, VMT_SPLIT_ADDRESS, 2, 2, quota), -ENOSPC);
	/* 7 to place, 5 of room. */
	assert_int_equal(place_decide(&p, VMT_SPLIT_ADDRESS, 3, 2, quota), -ENOSPC);
	/* Exactly enough: quotas respected. */
	assert_int_equal(place_decide(&p, VMT_SPLIT_ADDRESS, 5, 2, quota), 0);
	assert_true(p.host_chunks[0] <= 3 && p.host_chunks[1] <= 2);
	assert_int_equal(p.host_chunks[0] + p.host_chunks[1], 5);
	place_free(&p);
}

static void test_scan_zero(void **state)
{
	char path[] = "/dev/shm/vmt-test-split-XXXXXX", page[4096];
	static unsigned char scratch[1 << 16];
	const unsigned char *v;
	uint64_t h0[8], h1[8];
	struct stat st0, st1;
	struct srcmap m;
	struct place p;
	int fd = mkstemp(path);

	assert_true(fd >= 0);
	unlink(path);
	place_new(&p, 8);
	assert_int_equal(ftruncate(fd, (off_t)p.ram_size), 0);
	memset(page, 0, sizeof(page));
	/* chunk 1: written zeros (data on disk, all zero); chunk 3: one byte; chunk 7: last page.
	 */
	assert_int_equal(pwrite(fd, page, sizeof(page), 1 << 16), 4096);
	page[100] = 1;
	assert_int_equal(pwrite(fd, page, sizeof(page), (3 << 16) + 8192), 4096);
	assert_int_equal(pwrite(fd, page, sizeof(page), (8 << 16) - 4096), 4096);
	assert_int_equal(fstat(fd, &st0), 0);
	assert_int_equal(place_scan_zero(fd, NULL, &p), 0);
	for (int i = 0; i < 8; i++)
		assert_int_equal(!!(p.flags[i] & CH_DATA), i == 3 || i == 7);
	assert_int_equal(p.data, 2);
	/* The same through a mapping made once (the split's), and a view of a part-hole chunk. */
	assert_int_equal(srcmap_open(fd, p.ram_size, &m), 0);
	assert_int_equal(place_scan_zero(fd, &m, &p), 0);
	assert_int_equal(p.data, 2);
	assert_true(srcmap_view(&m, 0, 1 << 16, scratch) == NULL);
	memset(scratch, 0xff, sizeof(scratch));
	v = srcmap_view(&m, 3 << 16, 1 << 16, scratch);
	assert_true(v == scratch);
	for (int i = 0; i < (1 << 16); i++)
		assert_int_equal(v[i], i == 8192 + 100);
	v = srcmap_view(&m, (3 << 16) + 8192, 4096, scratch);
	assert_true((const char *)v == m.base + (3 << 16) + 8192);
	srcmap_close(&m);
	/* Holes stay holes: nothing was allocated by reading (tmpfs allocates a hole read through a
	 * mapping). */
	assert_int_equal(fstat(fd, &st1), 0);
	assert_int_equal(st1.st_blocks, st0.st_blocks);
	assert_int_equal(place_hash_pass(fd, &p, h0), 0);
	page[100] = 2;
	assert_int_equal(pwrite(fd, page, sizeof(page), (3 << 16) + 8192), 4096);
	assert_int_equal(place_hash_pass(fd, &p, h1), 0);
	for (int i = 0; i < 8; i++)
		assert_int_equal(h0[i] != h1[i], i == 3);
	assert_int_equal(h0[0], 0); /* a hole */
	close(fd);
	place_free(&p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_inspect),
	    cmocka_unit_test(test_inspect_not_shared),
	    cmocka_unit_test(test_inspect_two_backends),
	    cmocka_unit_test(test_rewrite),
	    cmocka_unit_test(test_qsize),
	    cmocka_unit_test(test_decide_address),
	    cmocka_unit_test(test_decide_stripes),
	    cmocka_unit_test(test_decide_recent),
	    cmocka_unit_test(test_decide_free_kernel),
	    cmocka_unit_test(test_decide_kernel_tiers),
	    cmocka_unit_test(test_decide_refusals),
	    cmocka_unit_test(test_scan_zero),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * fuzz_walkers.c - the Linux walkers (tasks + mm, modules, sockets,
 * sysinfo) over fuzzed guest memory.
 *
 * The fake guest of tests/unit/fake_guest.h (real profile of the test
 * kernel, RAM buffer, direct map, empty kernel page table) is set up once
 * per baseline by running unit tests that build sane kernel structures in
 * it (test_tasks.c, test_linux.c are compiled in, their main renamed):
 *   0 test_tasks_sane            6 tasks, threads, a zombie, kthreads
 *   1 test_tasks_cmdline_two_pages  argv across two user pages
 *   2 test_tasks_exe_path        exe dentries and mounts
 *   3 test_modules_proc_format   4 test_sockets_proc_format   5 test_sysinfo
 * Each input is byte 0 = baseline, then up to 64 patches of 8 bytes
 *   [window][off lo][off mid][off hi][op][v0][v1][v2]  (then 8 more for op 2)
 * window 0 = the heap the tests used, 1.. = the kernel globals the walkers
 * start from (init_task, modules, init_net, tcp_hashinfo, ...);
 * op & 3: 0 write v0, 1 write v0..v2 as a u32 (zero-extended) 2 write the u64
 * that follows, 3 write a pointer to window v0 offset v1|v2<<8 (scaled by 8).
 * Every walker runs, with every task flag; then the patches are undone.
 *
 * Needs VMT_TEST_KERNEL (the test guest's vmlinuz).  Timeouts and RSS are
 * bugs here: run with -timeout=10 -rss_limit_mb=2048.
 */
#include "fuzz_common.h"

#include <stdarg.h>
#include <setjmp.h>
#include <cmocka.h>

#define main vmt_unit_tasks_main
#include "../unit/test_tasks.c"
#undef main
#define main vmt_unit_linux_main
#include "../unit/test_linux.c"
#undef main

#define NB     6
#define NW_MAX 40

struct window {
	uint64_t va;
	uint64_t len;
};

struct base {
	struct fake *f;
	struct window w[NW_MAX];
	int nw;
};

static struct base bases[NB];

static const char *const globals[] = {
    "init_task",
    "modules",
    "init_net",
    "net_namespace_list",
    "tcp_hashinfo",
    "udp_table",
    "udplite_table",
    "unix_socket_table",
    "init_uts_ns",
    "tk_core",
    "shadow_timekeeper",
    "node_data",
    "nr_node_ids",
    "contig_page_data",
    "blockdev_superblock",
    "__num_online_cpus",
    "nr_cpu_ids",
    "__cpu_online_mask",
    "nr_threads",
    "_totalram_pages",
    "totalreserve_pages",
    "vm_zone_stat",
    "vm_node_stat",
    "init_mm",
};

static void base_windows(struct base *b, uint64_t heap_start)
{
	struct fake *f = b->f;

	b->w[0] = (struct window){PAGE_OFFSET + heap_start, f->heap - heap_start + 4096};
	b->nw = 1;
	for (size_t i = 0; i < sizeof(globals) / sizeof(globals[0]) && b->nw < NW_MAX; i++) {
		uint64_t va, len = 4096;

		if (vmt_profile_symbol(prof, globals[i], &va))
			continue;
		if (!strcmp(globals[i], "init_task"))
			len = off("task_struct", NULL);
		else if (!strcmp(globals[i], "init_net"))
			len = off("net", NULL);
		if (va - f->g.text_va + len > f->g.image_size)
			len = f->g.image_size - (va - f->g.text_va);
		b->w[b->nw++] = (struct window){va, len};
	}
}

static void setup(void)
{
	typedef void (*test_fn)(void **);
	static const test_fn builders[NB][3] = {
	    {test_tasks_sane},		{test_tasks_cmdline_two_pages}, {test_tasks_exe_path},
	    {test_modules_proc_format}, {test_sockets_proc_format},	{test_sysinfo},
	};

	if (!profile_load()) {
		fprintf(stderr, "fuzz_walkers: set VMT_TEST_KERNEL\n");
		exit(1);
	}
	for (int i = 0; i < NB; i++) {
		void *state;
		uint64_t heap_start;

		fake_setup(&state);
		bases[i].f = state;
		heap_start = bases[i].f->heap;
		for (int k = 0; k < 3 && builders[i][k]; k++)
			builders[i][k](&state);
		base_windows(&bases[i], heap_start);
	}
	fuzz_quiet();
}

struct undo {
	uint8_t *p;
	uint8_t old[8];
	size_t n;
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int init;
	struct undo u[64];
	int nu = 0;
	struct base *b;
	struct fake *f;
	size_t pos = 1;

	if (!init++)
		setup();
	if (size < 1)
		return 0;
	b = &bases[data[0] % NB];
	f = b->f;
	while (size - pos >= 8 && nu < 64) {
		const uint8_t *r = data + pos;
		const struct window *w = &b->w[r[0] % b->nw];
		uint64_t o = (r[1] | r[2] << 8 | (uint64_t)r[3] << 16) % w->len, v;
		size_t n;

		pos += 8;
		switch (r[4] & 3) {
		case 0:
			v = r[5];
			n = 1;
			break;
		case 1:
			v = r[5] | r[6] << 8 | (uint64_t)r[7] << 16;
			n = 4;
			break;
		case 2:
			if (size - pos < 8)
				goto done;
			memcpy(&v, data + pos, 8);
			pos += 8;
			n = 8;
			break;
		default: {
			const struct window *t = &b->w[r[5] % b->nw];

			v = t->va + (8 * (uint64_t)(r[6] | r[7] << 8)) % t->len;
			n = 8;
			break;
		}
		}
		if (o + n > w->len)
			o = w->len - n;
		u[nu].p = at(f, w->va + o, n);
		u[nu].n = n;
		memcpy(u[nu].old, u[nu].p, n);
		memcpy(u[nu].p, &v, n);
		nu++;
	}
done:;
	struct vmt_task_list *tl = NULL;
	struct vmt_module_list *ml = NULL;
	struct vmt_socket_list *sl = NULL;
	struct vmt_sysinfo si;

	vmt_listing_begin(&f->g);
	if (!vmt_tasks(&f->g, VMT_TASK_CMDLINE | VMT_TASK_ENVIRON | VMT_TASK_EXE | VMT_TASK_THREADS,
		       &tl))
		vmt_task_list_free(tl);
	if (!vmt_tasks(&f->g, VMT_TASK_BASIC, &tl))
		vmt_task_list_free(tl);
	if (!vmt_modules(&f->g, &ml))
		vmt_module_list_free(ml);
	if (!vmt_sockets(&f->g, &sl))
		vmt_socket_list_free(sl);
	vmt_sysinfo(&f->g, &si);
	while (nu--)
		memcpy(u[nu].p, u[nu].old, u[nu].n);
	return 0;
}

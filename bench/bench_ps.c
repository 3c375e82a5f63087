// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * bench_ps.c - how fast the runtime lists a guest's processes.
 *
 * usage: bench_ps --mem RAMFILE --kernel VMLINUZ [--runs N] [--cache-dir D]
 *
 * Prints one line per figure (median and min over N runs, in ms):
 *   open      vmt_guest_open: profile from the on-disk cache + KASLR search
 *   walk      vmt_tasks(BASIC): the task walk alone, cold page cache
 *   walk+cmd  vmt_tasks(CMDLINE): with every cmdline from user memory
 *   pages     pages read from the memory file per listing, cache hits, and
 *             evictions (0: no page was read twice within the listing)
 * Every listing starts with an empty page cache (vmt_listing_begin), so the
 * figures include reading the memory file.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "vmemtrans.h"

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static void report(const char *what, double *v, int n, const char *extra)
{
	qsort(v, n, sizeof(*v), cmp_double);
	printf("%-10s median %8.3f ms  min %8.3f ms  runs %d%s\n", what, v[n / 2], v[0], n, extra);
}

static int bench_walk(struct vmt_guest *g, unsigned what, int runs, const char *name)
{
	double *t = calloc(runs, sizeof(*t));
	struct vmt_mem_stats st = {.sz = sizeof(st)};
	size_t ntasks = 0;
	char extra[160];

	for (int i = 0; i < runs; i++) {
		struct vmt_task_list *l;
		double t0;

		vmt_listing_begin(g);
		vmt_mem_stats_reset(g);
		t0 = now_ms();
		if (vmt_tasks(g, what, &l)) {
			fprintf(stderr, "bench_ps: %s\n", vmt_last_error());
			free(t);
			return 1;
		}
		t[i] = now_ms() - t0;
		vmt_mem_stats(g, &st);
		ntasks = l->n;
		vmt_task_list_free(l);
	}
	/* No eviction means no page was read twice within the listing. */
	snprintf(extra, sizeof(extra),
		 "  tasks %zu  pages read %llu  cache hits %llu  evictions %llu", ntasks,
		 (unsigned long long)st.pages_read, (unsigned long long)st.cache_hits,
		 (unsigned long long)st.evictions);
	report(name, t, runs, extra);
	free(t);
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"mem", required_argument, NULL, 'm'},
	    {"kernel", required_argument, NULL, 'k'},
	    {"runs", required_argument, NULL, 'n'},
	    {"cache-dir", required_argument, NULL, 'c'},
	    {0},
	};
	struct vmt_guest_opts o = {.sz = sizeof(o)};
	struct vmt_guest *g = NULL;
	int runs = 20, c, ret;
	double *t;

	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (c) {
		case 'm':
			o.mem_path = optarg;
			break;
		case 'k':
			o.kernel_path = optarg;
			break;
		case 'n':
			runs = atoi(optarg);
			break;
		case 'c':
			o.cache_dir = optarg;
			break;
		default:
			fprintf(stderr, "usage: bench_ps --mem F --kernel K [--runs N]\n");
			return 2;
		}
	}
	if (!o.mem_path || !o.kernel_path || runs < 1) {
		fprintf(stderr, "usage: bench_ps --mem F --kernel K [--runs N]\n");
		return 2;
	}
	t = calloc(runs, sizeof(*t));
	for (int i = 0; i < runs; i++) {
		double t0 = now_ms();

		vmt_guest_close(g);
		g = vmt_guest_open(&o);
		if (!g) {
			fprintf(stderr, "bench_ps: %s\n", vmt_last_error());
			return 1;
		}
		t[i] = now_ms() - t0;
	}
	report("open", t, runs, "");
	free(t);
	ret = bench_walk(g, VMT_TASK_BASIC, runs, "walk");
	if (!ret)
		ret = bench_walk(g, VMT_TASK_CMDLINE, runs, "walk+cmd");
	vmt_guest_close(g);
	return ret;
}

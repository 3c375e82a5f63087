// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * bench_overlap.c - how fast a listing that needs remote pages could be on
 * this machine at best: the fetch of its N scattered 4 KiB pages from the
 * sub-hosts (one batch, through src/subhost), a CPU load standing for the
 * listing's own work (W ms: the unsplit listing's time), each alone and
 * then both at once on two threads -- the schedule no listing can beat,
 * since a real one finds its pages while it works instead of knowing them
 * all before.  bench/split_read.sh runs it against a split VM's sub-hosts.
 *
 *   bench_overlap --psk FILE [--export NAME] [--pages N] [--work-ms W]
 *                 [--reps R] HOST:PORT...
 *
 * Reads only.  Pages are spread over each export as xorshift picks them,
 * round-robin over the sub-hosts.  Prints medians of R repetitions.
 */
#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "subhost/subhost.h"

#define PAGE	  4096u
#define MAX_HOSTS 16
#define MAX_REPS  101

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec * 1e-6;
}

static double thread_cpu_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec * 1e-6;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double median(double *v, int n)
{
	qsort(v, (size_t)n, sizeof(*v), cmp_double);
	return v[n / 2];
}

/* The listing's stand-in: copies within a 64 KiB buffer (cache-resident) for work_ms of CPU. */
static double work_ms;
static volatile unsigned char sink;

static void *work(void *arg)
{
	static unsigned char a[1 << 16], b[1 << 16];
	double c0 = thread_cpu_ms();

	while (thread_cpu_ms() - c0 < work_ms) {
		memcpy(a, b, sizeof(a));
		sink = a[sink];
	}
	return arg;
}

struct fetch {
	struct vmt_subhost *h[MAX_HOSTS];
	int nh;
	struct vmt_subhost_io *io;
	unsigned char *buf;
	unsigned pages;
	uint64_t rnd;
};

static void fetch_pick(struct fetch *f)
{
	for (unsigned i = 0; i < f->pages; i++) {
		struct vmt_subhost *h = f->h[i % (unsigned)f->nh];
		uint64_t slots = vmt_subhost_size(h) / PAGE;

		f->rnd ^= f->rnd << 13;
		f->rnd ^= f->rnd >> 7;
		f->rnd ^= f->rnd << 17;
		f->io[i] = (struct vmt_subhost_io){.host = h,
						   .off = (f->rnd % slots) * PAGE,
						   .len = PAGE,
						   .buf = f->buf + (size_t)i * PAGE};
	}
}

static void fetch_run(struct fetch *f)
{
	int r = vmt_subhost_pread_batch(f->io, f->pages);

	if (r) {
		fprintf(stderr, "bench_overlap: read: %s\n", strerror(-r));
		exit(1);
	}
}

static void usage(void)
{
	fprintf(stderr, "usage: bench_overlap --psk FILE [--export NAME] [--pages N] "
			"[--work-ms W] [--reps R] HOST:PORT...\n");
	exit(2);
}

static void connect_all(struct fetch *f, char **addr, int n, const char *psk, const char *export)
{
	for (int k = 0; k < n; k++) {
		struct vmt_subhost_opts o = {
		    .sz = sizeof(o), .addr = addr[k], .export_name = export, .psk_file = psk};
		int r = vmt_subhost_connect(&o, &f->h[k]);

		if (r) {
			fprintf(stderr, "bench_overlap: %s: %s\n", addr[k],
				vmt_subhost_last_error());
			exit(1);
		}
	}
	f->nh = n;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"psk", required_argument, NULL, 'k'},   {"export", required_argument, NULL, 'e'},
	    {"pages", required_argument, NULL, 'n'}, {"work-ms", required_argument, NULL, 'w'},
	    {"reps", required_argument, NULL, 'r'},  {NULL, 0, NULL, 0}};
	const char *psk = NULL, *export = NULL;
	struct fetch f = {.pages = 1000, .rnd = 88172645463325252ull};
	double alone[MAX_REPS], loaded[MAX_REPS], both[MAX_REPS];
	int reps = 11, c;

	work_ms = 20;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'k':
			psk = optarg;
			break;
		case 'e':
			export = optarg;
			break;
		case 'n':
			f.pages = (unsigned)strtoul(optarg, NULL, 10);
			break;
		case 'w':
			work_ms = strtod(optarg, NULL);
			break;
		case 'r':
			reps = atoi(optarg);
			break;
		default:
			usage();
		}
	}
	if (!psk || optind >= argc || argc - optind > MAX_HOSTS || !f.pages || f.pages > 1u << 20 ||
	    reps < 1 || reps > MAX_REPS || !(work_ms >= 0 && work_ms <= 10000))
		usage();
	connect_all(&f, argv + optind, argc - optind, psk, export);
	f.io = calloc(f.pages, sizeof(*f.io));
	f.buf = malloc((size_t)f.pages * PAGE);
	if (!f.io || !f.buf)
		return 1;
	for (int r = 0; r < reps; r++) {
		pthread_t th;
		double t0;

		fetch_pick(&f);
		t0 = now_ms();
		fetch_run(&f);
		alone[r] = now_ms() - t0;
		t0 = now_ms();
		work(NULL);
		loaded[r] = now_ms() - t0;
		fetch_pick(&f);
		t0 = now_ms();
		if (pthread_create(&th, NULL, work, NULL))
			return 1;
		fetch_run(&f);
		pthread_join(th, NULL);
		both[r] = now_ms() - t0;
	}
	printf("fetch of %u pages from %d sub-hosts alone %.1f ms; %.1f ms of CPU alone %.1f ms; "
	       "both at once %.1f ms (medians of %d)\n",
	       f.pages, f.nh, median(alone, reps), work_ms, median(loaded, reps),
	       median(both, reps), reps);
	for (int k = 0; k < f.nh; k++)
		vmt_subhost_close(f.h[k]);
	free(f.io);
	free(f.buf);
	return 0;
}

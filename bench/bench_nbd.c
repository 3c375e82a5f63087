// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * bench_nbd.c - what a sub-host costs through the sub-host client: 4 KB
 * read latency (a page-in), 1 MB and 4 MB read throughput (chunk fetches),
 * 32-deep pipelined 4 KB reads through the batch API (a burst of faults),
 * and the same for writes, each acknowledged after a flush (page-out).
 *
 *   bench_nbd --addr HOST:PORT (--psk FILE | --insecure) [--export NAME]
 *             [--count N] [--region MB]
 *
 * Writes go first over --region MB from offset 0, so that the reads that
 * follow fetch real data (a sparse server would answer holes cheaply).
 * The export's contents are overwritten.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "subhost/subhost.h"

#define PAGE  4096u
#define DEPTH 32u

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static void die(const char *what, int r, struct vmt_subhost *s)
{
	fprintf(stderr, "bench_nbd: %s: %s (%s)\n", what, strerror(-r),
		s ? vmt_subhost_error(s) : vmt_subhost_last_error());
	exit(1);
}

/* xorshift: offsets spread over the region without libc's shared state. */
static uint64_t rnd(uint64_t *x)
{
	*x ^= *x << 13;
	*x ^= *x >> 7;
	*x ^= *x << 17;
	return *x;
}

/* Single 4 KB requests, one at a time: median and p90 in microseconds. */
static void latency_4k(struct vmt_subhost *s, uint64_t region, unsigned count, bool write,
		       unsigned char *buf)
{
	double *t = calloc(count, sizeof(*t));
	uint64_t x = 88172645463325252ull;

	if (!t)
		die("calloc", -ENOMEM, NULL);
	for (unsigned i = 0; i < count; i++) {
		uint64_t off = (rnd(&x) % (region / PAGE)) * PAGE;
		double t0 = now_s();
		int r = write ? vmt_subhost_pwrite(s, buf, PAGE, off)
			      : vmt_subhost_pread(s, buf, PAGE, off);

		if (!r && write)
			r = vmt_subhost_flush(s);
		if (r)
			die(write ? "pwrite+flush 4K" : "pread 4K", r, s);
		t[i] = (now_s() - t0) * 1e6;
	}
	qsort(t, count, sizeof(*t), cmp_double);
	printf("%-34s median %8.1f us   p90 %8.1f us   (%u requests)\n",
	       write ? "4 KB write+flush latency" : "4 KB read latency", t[count / 2],
	       t[count * 9 / 10], count);
	free(t);
}

/* Sequential requests of `bs` bytes over the region (one in flight). */
static void throughput(struct vmt_subhost *s, uint64_t region, size_t bs, bool write,
		       unsigned char *buf)
{
	double t0 = now_s(), dt;
	uint64_t done = 0;

	for (uint64_t off = 0; off + bs <= region; off += bs) {
		int r = write ? vmt_subhost_pwrite(s, buf, bs, off)
			      : vmt_subhost_pread(s, buf, bs, off);

		if (r)
			die(write ? "pwrite" : "pread", r, s);
		done += bs;
	}
	if (write) {
		int r = vmt_subhost_flush(s);

		if (r)
			die("flush", r, s);
	}
	dt = now_s() - t0;
	char what[64];

	snprintf(what, sizeof(what), "%s %zu MB requests%s", write ? "write" : "read", bs >> 20,
		 write ? " (+flush)" : "");
	printf("%-34s %8.1f MB/s              (%llu MB in %.2f s)\n", what, done / dt / 1e6,
	       (unsigned long long)(done >> 20), dt);
}

/* Batches of DEPTH 4 KB requests at random pages (writes: one flush per batch). */
static void pipelined_4k(struct vmt_subhost *s, uint64_t region, unsigned count, bool write,
			 unsigned char *buf)
{
	struct vmt_subhost_io io[DEPTH];
	unsigned batches = count / DEPTH ? count / DEPTH : 1;
	uint64_t x = 0x9e3779b97f4a7c15ull;
	double t0 = now_s(), dt;

	for (unsigned b = 0; b < batches; b++) {
		for (unsigned i = 0; i < DEPTH; i++)
			io[i] = (struct vmt_subhost_io){.host = s,
							.off = (rnd(&x) % (region / PAGE)) * PAGE,
							.len = PAGE,
							.buf = buf + (size_t)i * PAGE};
		int r = write ? vmt_subhost_pwrite_batch(io, DEPTH)
			      : vmt_subhost_pread_batch(io, DEPTH);

		if (r)
			die(write ? "pwrite_batch" : "pread_batch", r, s);
	}
	dt = now_s() - t0;
	printf("%-34s %8.0f req/s  %6.1f MB/s  (%u batches of %u)\n",
	       write ? "4 KB writes, 32 deep (+flush)" : "4 KB reads, 32 deep",
	       batches * DEPTH / dt, batches * DEPTH * (double)PAGE / dt / 1e6, batches, DEPTH);
}

static void usage(void)
{
	fprintf(stderr, "usage: bench_nbd --addr HOST:PORT (--psk FILE | --insecure) "
			"[--export NAME] [--count N] [--region MB]\n");
	exit(2);
}

static void parse_args(int argc, char **argv, struct vmt_subhost_opts *o, unsigned *count,
		       uint64_t *region)
{
	static const struct option lo[] = {{"addr", required_argument, NULL, 'a'},
					   {"psk", required_argument, NULL, 'p'},
					   {"insecure", no_argument, NULL, 'i'},
					   {"export", required_argument, NULL, 'e'},
					   {"count", required_argument, NULL, 'c'},
					   {"region", required_argument, NULL, 'r'},
					   {NULL, 0, NULL, 0}};
	int c;

	while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (c) {
		case 'a':
			o->addr = optarg;
			break;
		case 'p':
			o->psk_file = optarg;
			break;
		case 'i':
			o->insecure = true;
			break;
		case 'e':
			o->export_name = optarg;
			break;
		case 'c':
			*count = (unsigned)strtoul(optarg, NULL, 10);
			break;
		case 'r':
			*region = strtoull(optarg, NULL, 10) << 20;
			break;
		default:
			usage();
		}
	}
}

int main(int argc, char **argv)
{
	struct vmt_subhost_opts o = {.sz = sizeof(o), .io_timeout_ms = 30000};
	struct vmt_subhost *s = NULL;
	struct vmt_subhost_stats st;
	unsigned count = 2000;
	uint64_t region = 64u << 20;
	unsigned char *buf;
	int r;

	parse_args(argc, argv, &o, &count, &region);
	if (!o.addr || (!o.psk_file && !o.insecure) || count < 10 || region < (4u << 20))
		usage();
	r = vmt_subhost_connect(&o, &s);
	if (r)
		die("connect", r, NULL);
	if (vmt_subhost_size(s) < region)
		region = vmt_subhost_size(s) & ~((uint64_t)(4u << 20) - 1);
	buf = malloc(4u << 20);
	if (!buf || region < (4u << 20))
		die("setup", -ENOMEM, s);
	for (size_t i = 0; i < (4u << 20); i++)
		buf[i] = (unsigned char)(i * 131 + 7);
	printf("sub-host %s (%s), export %llu MB, region %llu MB\n", o.addr,
	       o.insecure ? "plain NBD" : "TLS-PSK",
	       (unsigned long long)(vmt_subhost_size(s) >> 20), (unsigned long long)(region >> 20));
	throughput(s, region, 1u << 20, true, buf);
	throughput(s, region, 4u << 20, true, buf);
	latency_4k(s, region, count, true, buf);
	pipelined_4k(s, region, count * 4, true, buf);
	throughput(s, region, 1u << 20, false, buf);
	throughput(s, region, 4u << 20, false, buf);
	latency_4k(s, region, count, false, buf);
	pipelined_4k(s, region, count * 4, false, buf);
	vmt_subhost_stats(s, &st);
	printf("requests: %llu reads, %llu writes, %llu flushes; %.2f s waiting\n",
	       (unsigned long long)st.reads, (unsigned long long)st.writes,
	       (unsigned long long)st.flushes, st.wait_ns / 1e9);
	vmt_subhost_close(s);
	free(buf);
	return 0;
}

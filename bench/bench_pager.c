// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * bench_pager.c - the pager's figures beside their limits, in one run
 * (bench/pager.sh starts the NBD server and runs this):
 *   - fault to resume of a page whose chunk is on the sub-host, per chunk
 *     size 4K..2M, beside a plain vmt_subhost_pread of 4 KB and of the
 *     chunk on the same link (the limit: 4K median <= 1.5x pread);
 *   - a toucher streaming (read + write every page) through 2x the cap:
 *     MB/s and page-ins/s, beside sequential NBD reads of the same chunks.
 * The probe itself (the child with LD_PRELOAD=libvmt-pager.so, its page
 * table and config) is src/bench/pager_probe.c, which `vmt bench micro`
 * uses too; this program prints its table.
 *
 *   bench_pager --addr HOST:PORT --psk FILE --pager PATH [--ram 256M] [--samples N]
 *               [--tail after|parallel]
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench/bench.h"
#include "bench/pager_probe.h"
#include "pagetable/pagetable.h"
#include "subhost/subhost.h"

#define PAGE 4096u

static double median_us(struct vmt_subhost *s, const struct pager_probe *p, uint64_t len,
			uint64_t gap_ns)
{
	double *v = calloc(p->samples, sizeof(*v));
	struct bench_summary sm;

	if (!v || pager_probe_nbd_us(s, p->ram, len, gap_ns, p->samples, v)) {
		fprintf(stderr, "bench_pager: %s\n", bench_error());
		exit(1);
	}
	bench_summarize(v, p->samples, &sm);
	free(v);
	return sm.median;
}

/* MB/s of sequential reads of len-byte blocks over bytes. */
static double nbd_stream_mbs(struct vmt_subhost *s, uint64_t ram, uint64_t len, uint64_t bytes)
{
	char *buf = malloc(len);
	struct timespec a, b;

	clock_gettime(CLOCK_MONOTONIC, &a);
	for (uint64_t off = 0; buf && off < bytes; off += len)
		if (vmt_subhost_pread(s, buf, len, off % ram))
			exit(1);
	clock_gettime(CLOCK_MONOTONIC, &b);
	free(buf);
	return (double)bytes / 1e6 /
	       ((double)(b.tv_sec - a.tv_sec) + (b.tv_nsec - a.tv_nsec) / 1e9);
}

static void fault_table(struct pager_probe *p, struct vmt_subhost *s, double base4k)
{
	static const uint64_t sizes[] = {4096, 16384, 65536, 262144, 1048576, 2097152};

	printf("fault to resume (cap none)  | pager p50 | pager p90 | nbd pread 4K p50 | "
	       "ratio (limit 1.5x at 4K) | nbd pread of the chunk p50 | pager's own p50 "
	       "(read fault .. head installed)\n");
	for (unsigned ci = 0; ci < 6; ci++) {
		uint64_t chunk = sizes[ci];
		double pc = median_us(s, p, chunk, 2000000 + chunk * 20), *us, f50 = 0, f90 = 0,
		       own = 0;
		struct bench_summary sm;
		unsigned n = 0;

		if (!pager_probe_fault(p, chunk, &us, &n, &own)) {
			bench_summarize(us, n, &sm); /* sorts us */
			f50 = sm.median;
			f90 = bench_quantile(us, n, 0.9);
			free(us);
		} else {
			fprintf(stderr, "bench_pager: %s\n", bench_error());
		}
		printf("chunk %7llu                | %7.1f us | %7.1f us | %13.1f us | %22.2fx | "
		       "%9.1f us | %6.0f us\n",
		       (unsigned long long)chunk, f50, f90, base4k, f50 / base4k, pc, own);
	}
}

static void stream_table(struct pager_probe *p, struct vmt_subhost *s)
{
	printf("\nstreaming read+write through RAM = 2x cap, two passes\n");
	printf("chunk   | pager MB/s | page-ins/s | nbd sequential read MB/s (limit)\n");
	for (uint64_t chunk = 4096; chunk <= (2u << 20); chunk *= 8) {
		/* 4K, 32K, 256K, 2M */
		double mbs = 0, lim = nbd_stream_mbs(s, p->ram, chunk, 2 * p->ram);

		if (pager_probe_stream(p, chunk, &mbs))
			fprintf(stderr, "bench_pager: %s\n", bench_error());
		printf("%7llu | %10.1f | %10.0f | %10.1f\n", (unsigned long long)chunk, mbs,
		       mbs * 1e6 / (double)chunk, lim);
	}
}

static void usage(void)
{
	fprintf(stderr, "usage: bench_pager --addr HOST:PORT --psk FILE --pager LIB "
			"[--ram SIZE] [--samples N] [--tail after|parallel]\n");
	exit(2);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"addr", 1, 0, 'a'},    {"psk", 1, 0, 'k'},	  {"pager", 1, 0, 'p'}, {"ram", 1, 0, 'r'},
	    {"samples", 1, 0, 'n'}, {"child", 0, 0, 'c'}, {"tail", 1, 0, 't'},	{0, 0, 0, 0}};
	static const char *const child[] = {"/proc/self/exe", "--child", NULL};
	char mem[64];
	struct pager_probe p = {.tail = "parallel",
				.ram = 256ull << 20,
				.samples = 300,
				.mem = mem,
				.child_argv = child};
	struct vmt_subhost_opts so = {.sz = sizeof(so)};
	struct vmt_subhost *s;
	bool is_child = false;
	int c;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (c == 'a')
			p.addr = optarg;
		else if (c == 'k')
			p.psk = optarg;
		else if (c == 'p')
			p.pager_so = optarg;
		else if (c == 'r' && vmt_pt_parse_size(optarg, &p.ram))
			usage();
		else if (c == 'n')
			p.samples = (unsigned)atoi(optarg);
		else if (c == 'c')
			is_child = true;
		else if (c == 't')
			p.tail = optarg;
		else if (c == '?')
			usage();
	}
	if (is_child)
		return pager_probe_child(argc - optind, argv + optind);
	if (!p.addr || !p.psk || !p.pager_so || !p.samples || pager_probe_init(&p))
		usage();
	snprintf(mem, sizeof(mem), "/dev/shm/bench-pager-%d.ram", (int)getpid());
	so.addr = p.addr;
	so.psk_file = p.psk;
	if (vmt_subhost_connect(&so, &s)) {
		fprintf(stderr, "connect %s: %s\n", p.addr, vmt_subhost_last_error());
		pager_probe_fini(&p);
		return 1;
	}
	/* Back to back, and 2 ms apart like the faults (a cold path both ways). */
	double hot4k = median_us(s, &p, PAGE, 0), base4k = median_us(s, &p, PAGE, 2000000);

	printf("NBD server %s (TLS-PSK), guest RAM %llu MiB, %u samples, tail=%s\n\n", p.addr,
	       (unsigned long long)(p.ram >> 20), p.samples, p.tail);
	printf("plain nbd pread 4K p50: %.1f us back to back, %.1f us 2 ms apart (the limit's "
	       "base)\n\n",
	       hot4k, base4k);
	fault_table(&p, s, base4k);
	stream_table(&p, s);
	vmt_subhost_close(s);
	pager_probe_fini(&p);
	return 0;
}

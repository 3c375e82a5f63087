// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * bench_pager.c - the pager's figures beside their limits, in one run
 * (bench/pager.sh starts the NBD server and runs this):
 *   - fault to resume of a page whose chunk is on the sub-host, per chunk
 *     size 4K..2M, beside a plain vmt_subhost_pread of 4 KB and of the
 *     chunk on the same link (the limit: 4K median <= 1.5x pread);
 *   - a toucher streaming (read + write every page) through 2x the cap:
 *     MB/s and page-ins/s, beside sequential NBD reads of the same chunks.
 * Each pager run is a child process with LD_PRELOAD=libvmt-pager.so.
 *
 *   bench_pager --addr HOST:PORT --psk FILE --pager PATH [--ram 256M] [--samples N]
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "pagetable/pagetable.h"
#include "pager/pager_proto.h"
#include "subhost/subhost.h"

#define PAGE 4096u

static const char *addr, *psk, *pager_so, *tail = "parallel";
static uint64_t ram = 256ull << 20;
static unsigned samples = 300;

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static double pct(uint64_t *v, unsigned n, double p)
{
	qsort(v, n, sizeof(*v), cmp_u64);
	return n ? (double)v[(unsigned)((n - 1) * p / 100.0)] / 1000.0 : 0;
}

static uint64_t rnd(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

/* ---------------------------------------------------------- baselines */

static struct vmt_subhost *connect_host(void)
{
	struct vmt_subhost_opts o = {.sz = sizeof(o), .addr = addr, .psk_file = psk};
	struct vmt_subhost *s;

	if (vmt_subhost_connect(&o, &s)) {
		fprintf(stderr, "connect %s: %s\n", addr, vmt_subhost_last_error());
		exit(1);
	}
	return s;
}

/* Median microseconds of a plain pread of len bytes at random aligned offsets, gap_ns apart. */
static double nbd_pread_us(struct vmt_subhost *s, uint64_t len, uint64_t gap_ns)
{
	struct timespec gap = {(time_t)(gap_ns / 1000000000), (long)(gap_ns % 1000000000)};

	uint64_t *t = calloc(samples, sizeof(*t)), seed = 88172645463325252ull;
	char *buf = malloc(len);
	double r;

	for (unsigned i = 0; i < samples; i++) {
		uint64_t off = (rnd(&seed) % (ram / len)) * len, t0;

		if (gap_ns)
			nanosleep(&gap, NULL);
		t0 = now_ns();

		if (vmt_subhost_pread(s, buf, len, off))
			exit(1);
		t[i] = now_ns() - t0;
	}
	r = pct(t, samples, 50);
	free(t);
	free(buf);
	return r;
}

/* MB/s of sequential reads of len-byte blocks over bytes. */
static double nbd_stream_mbs(struct vmt_subhost *s, uint64_t len, uint64_t bytes)
{
	char *buf = malloc(len);
	uint64_t t0 = now_ns();

	for (uint64_t off = 0; off < bytes; off += len)
		if (vmt_subhost_pread(s, buf, len, off % ram))
			exit(1);
	free(buf);
	return (double)bytes / 1e6 / ((double)(now_ns() - t0) / 1e9);
}

/* -------------------------------------------------------- pager runs */

static const char *mem = "/dev/shm/hc-bench-pager.ram";
static char dir[] = "/tmp/bpg-XXXXXX";

/* A table with every chunk on sub-host 0 and a config for the child. */
static void make_vm(uint64_t chunk, uint64_t cap)
{
	char path[512];
	struct vmt_pt_host h = {.quota_chunks = 0};
	struct vmt_pt pt;
	struct vmt_pt_create_opts o = {.sz = sizeof(o),
				       .ram_size = ram,
				       .chunk_shift = (unsigned)vmt_pt_chunk_shift_of(chunk),
				       .cap_chunks = cap / chunk,
				       .nr_hosts = 1,
				       .hosts = &h};
	int fd;
	FILE *f;

	snprintf(h.addr, sizeof(h.addr), "%s", addr);
	snprintf(path, sizeof(path), "%s/pt", dir);
	unlink(path);
	unlink(mem);
	if (vmt_pt_create(path, &o, &pt))
		exit(1);
	for (uint64_t i = 0; i < pt.hdr->nr_chunks; i++)
		vmt_pt_set(&pt, i, VMT_PT_SUB, -1);
	vmt_pt_close(&pt);
	fd = open(mem, O_RDWR | O_CREAT | O_TRUNC, 0600);
	if (fd < 0 || ftruncate(fd, (off_t)ram))
		exit(1);
	close(fd);
	snprintf(path, sizeof(path), "%s/pager.conf", dir);
	f = fopen(path, "w");
	fprintf(f,
		"mem=%s\npagetable=%s/pt\nlog=%s/pager.log\npsk=%s\ncap=%llu\nsocket=%s/"
		"sock\ntail=%s\n",
		mem, dir, dir, psk, (unsigned long long)cap, dir, tail);
	fclose(f);
}

/* Run this program as a child with the pager preloaded; its one output line. */
static void run_child(const char *mode, uint64_t chunk, char *out, size_t outsz)
{
	char conf[512], arg[32], rams[32], ns[16];
	int p[2];
	pid_t pid;
	ssize_t n;

	snprintf(conf, sizeof(conf), "%s/pager.conf", dir);
	snprintf(arg, sizeof(arg), "%llu", (unsigned long long)chunk);
	snprintf(rams, sizeof(rams), "%llu", (unsigned long long)ram);
	snprintf(ns, sizeof(ns), "%u", samples);
	if (pipe(p))
		exit(1);
	pid = fork();
	if (pid == 0) {
		dup2(p[1], 1);
		setenv("LD_PRELOAD", pager_so, 1);
		setenv("VMT_PAGER_CONF", conf, 1);
		execl("/proc/self/exe", "bench_pager", "--ram", rams, "--samples", ns, "--child",
		      mode, arg, (char *)NULL);
		_exit(127);
	}
	close(p[1]);
	n = read(p[0], out, outsz - 1);
	out[n > 0 ? n : 0] = '\0';
	close(p[0]);
	waitpid(pid, NULL, 0);
}

static uint8_t *child_map(void)
{
	int fd = open(mem, O_RDWR);
	uint8_t *m = mmap64(NULL, ram, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);

	if (m == MAP_FAILED)
		exit(1);
	return m;
}

/* The pager's own pagein_us p50 from STATS on its socket (0 if unavailable). */
static uint64_t pager_pagein_p50(void)
{
	struct sockaddr_un a = {.sun_family = AF_UNIX};
	struct vmt_pager_req q = {
	    .magic = VMT_PAGER_MAGIC, .version = VMT_PAGER_VERSION, .op = VMT_PAGER_STATS};
	struct vmt_pager_rep r;
	static char buf[65536];
	unsigned long long v = 0;
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);
	char *p;

	/* The child learns the folder from its config's path. */
	snprintf(a.sun_path, sizeof(a.sun_path), "%s", getenv("VMT_PAGER_CONF"));
	if (strrchr(a.sun_path, '/'))
		strcpy(strrchr(a.sun_path, '/'), "/sock");
	if (fd >= 0 && !connect(fd, (struct sockaddr *)&a, sizeof(a)) &&
	    write(fd, &q, sizeof(q)) == sizeof(q) &&
	    recv(fd, &r, sizeof(r), MSG_WAITALL) == sizeof(r) && r.len < sizeof(buf) &&
	    recv(fd, buf, r.len, MSG_WAITALL) == (ssize_t)r.len) {
		buf[r.len] = '\0';
		p = strstr(buf, "\"pagein_us\":");
		if (p && (p = strstr(p, "\"p50\":")))
			v = strtoull(p + 6, NULL, 10);
	}
	if (fd >= 0)
		close(fd);
	return v;
}

/* Fault to resume: one read in each of `samples` distinct chunks, none resident. */
static int child_fault(uint64_t chunk)
{
	volatile uint8_t *m = child_map();
	uint64_t nr = ram / chunk, *t = calloc(samples, sizeof(*t)), seed = 2463534242ull;
	unsigned n = samples < nr ? samples : (unsigned)nr;
	/* Let the previous chunk's tail land first: 2 ms + 20 ns a byte (44 ms for 2M). */
	uint64_t gap_ns = 2000000 + chunk * 20;
	struct timespec gap = {(time_t)(gap_ns / 1000000000), (long)(gap_ns % 1000000000)};

	for (unsigned i = 0; i < n; i++) {
		uint64_t c = (i * 7919) % nr, pg = rnd(&seed) % (chunk / PAGE);
		uint64_t off = c * chunk + pg * PAGE, t0;

		nanosleep(&gap, NULL);
		t0 = now_ns();
		(void)m[off];
		t[i] = now_ns() - t0;
	}
	printf("%.1f %.1f %u %llu\n", pct(t, n, 50), pct(t, n, 90), n,
	       (unsigned long long)pager_pagein_p50());
	return 0;
}

/* Stream through all of RAM (2x the cap) twice, reading and writing every page. */
static int child_stream(uint64_t chunk)
{
	uint8_t *m = child_map();
	uint64_t t0 = now_ns();

	for (int pass = 0; pass < 2; pass++)
		for (uint64_t off = 0; off < ram; off += PAGE)
			m[off] = (uint8_t)(m[off + 1] + pass + 1);
	printf("%.1f\n", 2.0 * (double)ram / 1e6 / ((double)(now_ns() - t0) / 1e9));
	return 0;
}

static void usage(void)
{
	fprintf(stderr, "usage: bench_pager --addr HOST:PORT --psk FILE --pager LIB "
			"[--ram SIZE] [--samples N]\n");
	exit(2);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"addr", 1, 0, 'a'},    {"psk", 1, 0, 'k'},	  {"pager", 1, 0, 'p'}, {"ram", 1, 0, 'r'},
	    {"samples", 1, 0, 'n'}, {"child", 0, 0, 'c'}, {"tail", 1, 0, 't'},	{0, 0, 0, 0}};
	bool child = false;
	int c;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (c == 'a')
			addr = optarg;
		else if (c == 'k')
			psk = optarg;
		else if (c == 'p')
			pager_so = optarg;
		else if (c == 'r' && vmt_pt_parse_size(optarg, &ram))
			usage();
		else if (c == 'n')
			samples = (unsigned)atoi(optarg);
		else if (c == 'c')
			child = true;
		else if (c == 't')
			tail = optarg;
		else if (c == '?')
			usage();
	}
	if (child && optind + 2 == argc) {
		uint64_t chunk = strtoull(argv[optind + 1], NULL, 0);

		return !strcmp(argv[optind], "fault") ? child_fault(chunk) : child_stream(chunk);
	}
	if (!addr || !psk || !pager_so || !mkdtemp(dir))
		usage();

	struct vmt_subhost *s = connect_host();
	/* Back to back, and 2 ms apart like the faults below (a cold path both ways). */
	double hot4k = nbd_pread_us(s, PAGE, 0), base4k = nbd_pread_us(s, PAGE, 2000000);
	char out[256];

	printf("NBD server %s (TLS-PSK), guest RAM %llu MiB, %u samples, tail=%s\n\n", addr,
	       (unsigned long long)(ram >> 20), samples, tail);
	printf("plain nbd pread 4K p50: %.1f us back to back, %.1f us 2 ms apart (the limit's "
	       "base)\n\n",
	       hot4k, base4k);
	printf("fault to resume (cap none)  | pager p50 | pager p90 | nbd pread 4K p50 | "
	       "ratio (limit 1.5x at 4K) | nbd pread of the chunk p50 | pager's own p50 "
	       "(read fault .. head installed)\n");
	for (unsigned ci = 0; ci < 6; ci++) {
		static const uint64_t sizes[] = {4096, 16384, 65536, 262144, 1048576, 2097152};
		uint64_t chunk = sizes[ci];
		double f50, f90, in50 = 0, pc = nbd_pread_us(s, chunk, 2000000 + chunk * 20);
		unsigned n;

		make_vm(chunk, 0);
		run_child("fault", chunk, out, sizeof(out));
		if (sscanf(out, "%lf %lf %u %lf", &f50, &f90, &n, &in50) < 3)
			f50 = f90 = 0;
		printf("chunk %7llu                | %7.1f us | %7.1f us | %13.1f us | %22.2fx | "
		       "%9.1f us | %6.0f us\n",
		       (unsigned long long)chunk, f50, f90, base4k, f50 / base4k, pc, in50);
	}
	printf("\nstreaming read+write through RAM = 2x cap, two passes\n");
	printf("chunk   | pager MB/s | page-ins/s | nbd sequential read MB/s (limit)\n");
	for (uint64_t chunk = 4096; chunk <= (2u << 20); chunk *= 8) {
		/* 4K, 32K, 256K, 2M */
		double mbs = 0, lim = nbd_stream_mbs(s, chunk, 2 * ram);

		make_vm(chunk, ram / 2);
		run_child("stream", chunk, out, sizeof(out));
		sscanf(out, "%lf", &mbs);
		printf("%7llu | %10.1f | %10.0f | %10.1f\n", (unsigned long long)chunk, mbs,
		       mbs * 1e6 / (double)chunk, lim);
	}
	vmt_subhost_close(s);
	unlink(mem);
	char cmd[600];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	return system(cmd) ? 1 : 0;
}

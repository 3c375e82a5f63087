// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * pager_harness.c - libvmt-pager.so without QEMU.  The harness plays QEMU:
 * it maps a tmpfs memory file shared (the pager, LD_PRELOADed, registers
 * the mapping) and its threads read and write guest pages, checking every
 * byte against what they last wrote.
 *
 *   pager_harness setup MEM PT STORE RAM CHUNK CAP ADDR
 *       make the memory file, the sub-host's backing file (served by
 *       nbdkit's file plugin) and a page table: chunk i is ABSENT when
 *       i % 8 == 0, MAIN (data in MEM) for the first few with i % 8 == 1,
 *       else on sub-host 0 (data in STORE); data is pattern(page, gen 0).
 *   pager_harness mktable PT RAM CHUNK CAP ADDR
 *       a page table with every chunk ABSENT and one sub-host (for QEMU).
 *   pager_harness run MEM PT SOCK THREADS OPS SECONDS
 *       touch pages at random (verify, then write gen+1 half the time),
 *       sample the memory file's blocks and the table's MAIN count, then
 *       verify every page; prints one JSON line; exit 0 iff no mismatch
 *       and the cap held.  HARNESS_HOT=P sends P% of the touches to a hot
 *       set of half the cap (to compare policies).
 *   pager_harness quit MEM PT PAGE
 *       exit while a read of PAGE waits on a sub-host that is down; prints
 *       the chunk's location in the table once the pager has stopped.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "pagetable/pagetable.h"
#include "pager/pager_proto.h"

#define PAGE 4096u

static uint64_t mix(uint64_t x)
{
	x += 0x9e3779b97f4a7c15ull;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
	return x ^ (x >> 31);
}

/* Page p at generation gen; gen < 0 is a page of zeros. */
static void pattern(uint64_t *w, uint64_t p, int32_t gen)
{
	for (unsigned j = 0; j < PAGE / 8; j++)
		w[j] = gen < 0 ? 0 : mix((p << 20) ^ ((uint64_t)gen << 44) ^ j);
}

static unsigned chunk_kind(uint64_t i, uint64_t main_max)
{
	if (i % 8 == 0)
		return VMT_PT_ABSENT;
	if (i % 8 == 1 && i / 8 < main_max)
		return VMT_PT_MAIN;
	return VMT_PT_SUB;
}

static int fill(int fd, uint64_t start, uint64_t len)
{
	uint64_t w[PAGE / 8];

	for (uint64_t o = start; o < start + len; o += PAGE) {
		pattern(w, o / PAGE, 0);
		if (pwrite(fd, w, PAGE, (off_t)o) != PAGE)
			return -errno;
	}
	return 0;
}

static int setup(char **a)
{
	uint64_t ram, chunk, cap;
	struct vmt_pt_host h = {.quota_chunks = 0};
	struct vmt_pt pt;
	int mfd, sfd, err;

	if (vmt_pt_parse_size(a[3], &ram) || vmt_pt_parse_size(a[4], &chunk) ||
	    vmt_pt_parse_size(a[5], &cap) || vmt_pt_chunk_shift_of(chunk) < 0)
		return 2;
	snprintf(h.addr, sizeof(h.addr), "%s", a[6]);
	snprintf(h.name, sizeof(h.name), "sub1");
	struct vmt_pt_create_opts o = {
	    .sz = sizeof(o),
	    .ram_size = ram,
	    .chunk_shift = (unsigned)vmt_pt_chunk_shift_of(chunk),
	    .cap_chunks = cap / chunk,
	    .nr_hosts = 1,
	    .hosts = &h,
	};
	mfd = open(a[0], O_RDWR | O_CREAT | O_TRUNC, 0600);
	sfd = open(a[2], O_RDWR | O_CREAT | O_TRUNC, 0600);
	if (mfd < 0 || sfd < 0 || ftruncate(mfd, (off_t)ram) || ftruncate(sfd, (off_t)ram))
		return perror("setup files"), 1;
	err = vmt_pt_create(a[1], &o, &pt);
	if (err)
		return fprintf(stderr, "pagetable: %s\n", strerror(-err)), 1;
	for (uint64_t i = 0; i < pt.hdr->nr_chunks; i++) {
		unsigned k = chunk_kind(i, o.cap_chunks / 2);

		if (k != VMT_PT_ABSENT)
			err =
			    fill(k == VMT_PT_MAIN ? mfd : sfd, i * chunk, vmt_pt_chunk_len(&pt, i));
		if (!err)
			err = vmt_pt_set(&pt, i, k, -1);
		if (err)
			return fprintf(stderr, "fill: %s\n", strerror(-err)), 1;
	}
	vmt_pt_close(&pt);
	close(mfd);
	close(sfd);
	return 0;
}

static int mktable(char **a)
{
	uint64_t ram, chunk, cap;
	struct vmt_pt_host h = {.quota_chunks = 0};
	struct vmt_pt pt;
	int err;

	if (vmt_pt_parse_size(a[1], &ram) || vmt_pt_parse_size(a[2], &chunk) ||
	    vmt_pt_parse_size(a[3], &cap) || vmt_pt_chunk_shift_of(chunk) < 0)
		return 2;
	snprintf(h.addr, sizeof(h.addr), "%s", a[4]);
	snprintf(h.name, sizeof(h.name), "sub1");
	struct vmt_pt_create_opts o = {
	    .sz = sizeof(o),
	    .ram_size = ram,
	    .chunk_shift = (unsigned)vmt_pt_chunk_shift_of(chunk),
	    .cap_chunks = cap / chunk,
	    .nr_hosts = 1,
	    .hosts = &h,
	};
	err = vmt_pt_create(a[0], &o, &pt);
	if (err)
		return fprintf(stderr, "pagetable: %s\n", strerror(-err)), 1;
	vmt_pt_close(&pt);
	return 0;
}

/* ------------------------------------------------------------- run */

static struct {
	uint8_t *mem;
	uint64_t pages, ops_max, hot_pages, hot_pct;
	int32_t *gen;
	unsigned threads;
	int mfd;
	struct vmt_pt pt;
	atomic_bool stop;
	_Atomic uint64_t ops, mismatches, max_blocks, max_main, samples;
	double seconds;
} h;

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static bool check_page(uint64_t p, uint64_t *w)
{
	pattern(w, p, h.gen[p]);
	if (!memcmp(h.mem + p * PAGE, w, PAGE))
		return true;
	if (atomic_fetch_add(&h.mismatches, 1) < 5)
		fprintf(stderr, "mismatch at page %llu (gen %d)\n", (unsigned long long)p,
			h.gen[p]);
	return false;
}

static void *toucher(void *arg)
{
	unsigned t = (unsigned)(uintptr_t)arg;
	uint64_t seed = mix(t + 1), w[PAGE / 8];
	double end = now_s() + h.seconds;

	while (!atomic_load(&h.stop)) {
		uint64_t r = seed = mix(seed), span = h.pages / h.threads;

		/* HARNESS_HOT=P: P% of the touches go to a hot set of hot_pages. */
		if (h.hot_pct && (r >> 32) % 100 < h.hot_pct && h.hot_pages / h.threads)
			span = h.hot_pages / h.threads;
		uint64_t p = (r % span) * h.threads + t;

		if (p >= h.pages)
			continue;
		check_page(p, w);
		if (r >> 63) {
			pattern(w, p, ++h.gen[p]);
			memcpy(h.mem + p * PAGE, w, PAGE);
		}
		if (atomic_fetch_add(&h.ops, 1) + 1 >= h.ops_max ||
		    ((h.ops & 255) == 0 && now_s() > end))
			atomic_store(&h.stop, true);
	}
	return NULL;
}

static void *sampler(void *arg)
{
	while (!atomic_load(&h.stop)) {
		struct stat st;
		uint64_t m = atomic_load(&h.pt.hdr->main_chunks), b;
		struct timespec ts = {0, 2 * 1000000};

		if (fstat(h.mfd, &st) == 0) {
			b = (uint64_t)st.st_blocks * 512;
			if (b > h.max_blocks)
				h.max_blocks = b;
		}
		if (m > h.max_main)
			h.max_main = m;
		h.samples++;
		nanosleep(&ts, NULL);
	}
	return NULL;
}

/* STATS over the pager's socket, printed as is. */
static void print_stats(const char *sock)
{
	struct sockaddr_un a = {.sun_family = AF_UNIX};
	struct vmt_pager_req q = {
	    .magic = VMT_PAGER_MAGIC, .version = VMT_PAGER_VERSION, .op = VMT_PAGER_STATS};
	struct vmt_pager_rep r;
	static char buf[65536];
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);

	snprintf(a.sun_path, sizeof(a.sun_path), "%s", sock);
	if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof(a)) ||
	    write(fd, &q, sizeof(q)) != sizeof(q) ||
	    recv(fd, &r, sizeof(r), MSG_WAITALL) != sizeof(r) || r.len >= sizeof(buf) ||
	    recv(fd, buf, r.len, MSG_WAITALL) != (ssize_t)r.len) {
		printf("{\"stats_error\":\"%s\"}\n", strerror(errno));
	} else {
		buf[r.len] = '\0';
		printf("%s\n", buf);
	}
	if (fd >= 0)
		close(fd);
}

static int run(char **a)
{
	pthread_t th[64], sm;
	struct stat st;
	uint64_t w[PAGE / 8], cap_bytes;
	int err;

	h.threads = (unsigned)atoi(a[3]);
	if (getenv("HARNESS_HOT"))
		h.hot_pct = strtoull(getenv("HARNESS_HOT"), NULL, 10);
	h.ops_max = strtoull(a[4], NULL, 0);
	h.seconds = atof(a[5]);
	if (h.threads < 1 || h.threads > 64)
		return 2;
	err = vmt_pt_open(a[1], false, &h.pt);
	h.mfd = open(a[0], O_RDWR);
	if (err || h.mfd < 0 || fstat(h.mfd, &st))
		return fprintf(stderr, "open: %s\n", strerror(err ? -err : errno)), 1;
	h.pages = (uint64_t)st.st_size / PAGE;
	/* The hot set: half the cap, from the start of the file. */
	h.hot_pages = (h.pt.hdr->cap_chunks << h.pt.hdr->chunk_shift) / 2 / PAGE;
	h.gen = calloc(h.pages, sizeof(*h.gen));
	/* mmap64 is what QEMU calls; the pager wraps it. */
	h.mem = mmap64(NULL, (size_t)st.st_size, PROT_READ | PROT_WRITE, MAP_SHARED, h.mfd, 0);
	if (h.mem == MAP_FAILED || !h.gen)
		return perror("mmap"), 1;
	for (uint64_t p = 0; p < h.pages; p++) {
		uint64_t i = (p * PAGE) >> h.pt.hdr->chunk_shift;

		h.gen[p] = chunk_kind(i, h.pt.hdr->cap_chunks / 2) == VMT_PT_ABSENT ? -1 : 0;
	}
	double t0 = now_s();
	pthread_create(&sm, NULL, sampler, NULL);
	for (unsigned t = 0; t < h.threads; t++)
		pthread_create(&th[t], NULL, toucher, (void *)(uintptr_t)t);
	for (unsigned t = 0; t < h.threads; t++)
		pthread_join(th[t], NULL);
	double t1 = now_s();
	for (uint64_t p = 0; p < h.pages; p++) /* every byte, once more */
		check_page(p, w);
	atomic_store(&h.stop, true);
	pthread_join(sm, NULL);
	cap_bytes = h.pt.hdr->cap_chunks << h.pt.hdr->chunk_shift;
	printf(
	    "{\"ops\":%llu,\"seconds\":%.2f,\"mismatches\":%llu,\"max_resident_bytes\":%llu,"
	    "\"max_main_chunks\":%llu,\"cap_chunks\":%llu,\"cap_bytes\":%llu,\"samples\":%llu}\n",
	    (unsigned long long)h.ops, t1 - t0, (unsigned long long)h.mismatches,
	    (unsigned long long)h.max_blocks, (unsigned long long)h.max_main,
	    (unsigned long long)h.pt.hdr->cap_chunks, (unsigned long long)cap_bytes,
	    (unsigned long long)h.samples);
	print_stats(a[2]);
	fflush(stdout);
	return h.mismatches ||
	       (cap_bytes && (h.max_blocks > cap_bytes || h.max_main > h.pt.hdr->cap_chunks));
}

/* ------------------------------------------------- quit mid page-in */

static struct {
	struct vmt_pt pt;
	uint64_t chunk;
	volatile char *page;
} q;

static void *quit_reader(void *arg)
{
	return (void *)(uintptr_t)*q.page; /* blocks: the sub-host is down */
}

/* After the pager's atexit handler (registered later, so run first). */
static void quit_report(void)
{
	printf("{\"loc\":%u}\n", vmt_pt_e_loc(vmt_pt_load(&q.pt, q.chunk)));
	fflush(stdout);
}

/*
 * pager_harness quit MEM PT PAGE: a thread reads PAGE (whose sub-host is
 * down) and the process exits while the pager still retries; prints where
 * the page table says the chunk is once the pager has stopped.
 */
static int quit(char **a)
{
	struct timespec ts = {1, 500 * 1000000};
	struct stat st;
	pthread_t t;
	char *mem;
	int fd = open(a[0], O_RDWR), err = vmt_pt_open(a[1], false, &q.pt);

	if (err || fd < 0 || fstat(fd, &st))
		return fprintf(stderr, "open: %s\n", strerror(err ? -err : errno)), 1;
	q.chunk = strtoull(a[2], NULL, 0) * PAGE >> q.pt.hdr->chunk_shift;
	atexit(quit_report);
	mem = mmap64(NULL, (size_t)st.st_size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (mem == MAP_FAILED)
		return perror("mmap"), 1;
	q.page = mem + strtoull(a[2], NULL, 0) * PAGE;
	pthread_create(&t, NULL, quit_reader, NULL);
	nanosleep(&ts, NULL);
	exit(0);
}

int main(int argc, char **argv)
{
	if (argc == 9 && !strcmp(argv[1], "setup"))
		return setup(argv + 2);
	if (argc == 7 && !strcmp(argv[1], "mktable"))
		return mktable(argv + 2);
	if (argc == 8 && !strcmp(argv[1], "run"))
		return run(argv + 2);
	if (argc == 5 && !strcmp(argv[1], "quit"))
		return quit(argv + 2);
	fprintf(stderr, "usage: pager_harness setup MEM PT STORE RAM CHUNK CAP ADDR\n"
			"       pager_harness mktable PT RAM CHUNK CAP ADDR\n"
			"       pager_harness run MEM PT SOCK THREADS OPS SECONDS\n");
	return 2;
}

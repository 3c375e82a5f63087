// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * micro_mem.c - section mem: a memory file read 4 KB at a time through the
 * library (the page source and the page cache: vmt_mem_read, what
 * vmt_read_phys does; and through the x86 translation: vmt_x86_read of
 * virtual pages mapped 4K each) beside a plain pread of the same pages and
 * a memcpy from a mapping of the file (the limits).
 *
 * The file is one of our own in /dev/shm (tmpfs, like a VM's RAM file): a
 * 4-level page table at its start maps VA_BASE.. onto every data page, the
 * data pages hold a non-zero pattern.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "arch/x86_64.h"
#include "bench/micro.h"
#include "mem/mem.h"

#define PG	  4096u
#define ROOT	  0x1000ull		/* PML4; the PDPT, PDs and PTs follow it */
#define DATA_BASE (8ull << 20)		/* first data page (room for the tables) */
#define VA_BASE	  0xffff888000000000ull /* the kernel's direct map, as a guest has it */
#define PTE_P_RW  3ull

struct memfile {
	char path[256];
	uint64_t size, pages; /* file bytes, data pages */
	int fd;
};

static double now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

/*
 * Tables for VA_BASE + i * 4K -> DATA_BASE + i * 4K, i < pages: one PDPT,
 * then as many PDs and PTs as the range needs, laid out one after another.
 */
static void build_tables(uint8_t *m, uint64_t pages)
{
	uint64_t nr_pt = (pages + 511) / 512, nr_pd = (nr_pt + 511) / 512;
	uint64_t pdpt = ROOT + PG, pd = pdpt + PG, pt = pd + nr_pd * PG;
	uint64_t *e;

	e = (uint64_t *)(m + ROOT);
	e[(VA_BASE >> 39) & 511] = pdpt | PTE_P_RW;
	e = (uint64_t *)(m + pdpt);
	for (uint64_t i = 0; i < nr_pd; i++)
		e[((VA_BASE >> 30) & 511) + i] = (pd + i * PG) | PTE_P_RW;
	e = (uint64_t *)(m + pd);
	for (uint64_t i = 0; i < nr_pt; i++)
		e[i] = (pt + i * PG) | PTE_P_RW; /* the PDs are contiguous: one array */
	e = (uint64_t *)(m + pt);
	for (uint64_t i = 0; i < pages; i++)
		e[i] = (DATA_BASE + i * PG) | PTE_P_RW;
}

static int memfile_make(struct micro_ctx *c, struct memfile *f)
{
	uint8_t *m;

	snprintf(f->path, sizeof(f->path), "/dev/shm/%s-mem.ram", c->o->shm_tag);
	f->size = c->o->mem_bytes;
	f->pages = (f->size - DATA_BASE) / PG;
	f->fd = open(f->path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (f->fd < 0)
		return bench_fail(-errno, "%s: %s", f->path, strerror(errno));
	if (ftruncate(f->fd, (off_t)f->size))
		return bench_fail(-errno, "%s: %s", f->path, strerror(errno));
	m = mmap(NULL, f->size, PROT_READ | PROT_WRITE, MAP_SHARED, f->fd, 0);
	if (m == MAP_FAILED)
		return bench_fail(-errno, "mmap %s: %s", f->path, strerror(errno));
	build_tables(m, f->pages);
	for (uint64_t off = DATA_BASE; off < f->size; off += 8)
		*(uint64_t *)(m + off) = off * 0x9e3779b97f4a7c15ull | 1;
	munmap(m, f->size);
	return 0;
}

static void memfile_drop(struct memfile *f)
{
	if (f->fd >= 0)
		close(f->fd);
	if (f->path[0])
		unlink(f->path);
}

enum way { PREAD, MEMCPY, PHYS_COLD, PHYS_CACHED, VIRT_COLD, NR_WAYS };

static const char *const way_name[NR_WAYS] = {"pread", "mmap_memcpy", "phys_read_cold",
					      "phys_read_cached", "virt_read_cold"};

struct readers {
	const struct memfile *f;
	const uint8_t *map;
	struct vmt_mem *mem;
	struct vmt_x86_mmu *mmu;
	uint8_t buf[PG];
	uint64_t sink;
};

/* One pass over every data page one way; ns per page, or < 0 on a read error. */
static double pass(struct readers *rd, enum way w)
{
	double t0;
	int err = 0;

	if (w == PHYS_COLD || w == VIRT_COLD)
		vmt_mem_epoch(rd->mem); /* nothing cached: every page from the source */
	t0 = now_ns();
	for (uint64_t i = 0; i < rd->f->pages && !err; i++) {
		uint64_t pa = DATA_BASE + i * PG;

		if (w == PREAD)
			err = pread(rd->f->fd, rd->buf, PG, (off_t)pa) == PG ? 0 : -EIO;
		else if (w == MEMCPY)
			memcpy(rd->buf, rd->map + pa, PG);
		else if (w == VIRT_COLD)
			err = vmt_x86_read(rd->mmu, ROOT, VA_BASE + i * PG, rd->buf, PG);
		else
			err = vmt_mem_read(rd->mem, pa, rd->buf, PG);
		rd->sink += rd->buf[i & (PG - 1)];
	}
	return err ? err : (now_ns() - t0) / (double)rd->f->pages;
}

static int readers_open(struct readers *rd, const struct memfile *f)
{
	struct vmt_ram_layout l = {.n = 1, .r = {{.gpa = 0, .len = f->size, .file_off = 0}}};
	struct vmt_memsrc *src;
	int err;

	rd->f = f;
	rd->map = mmap(NULL, f->size, PROT_READ, MAP_SHARED, f->fd, 0);
	if (rd->map == MAP_FAILED)
		return bench_fail(-errno, "mmap %s: %s", f->path, strerror(errno));
	err = vmt_memsrc_file_open(f->path, &l, &src);
	if (!err) {
		/* Room for every page: the cached pass finds them all. */
		err = vmt_mem_new(src, f->pages + 64, &rd->mem);
		if (err)
			vmt_memsrc_free(src);
	}
	if (!err)
		err = vmt_x86_mmu_new(rd->mem, 4, &rd->mmu);
	return err ? bench_fail(err, "the library over %s: %s", f->path, strerror(-err)) : 0;
}

static void readers_close(struct readers *rd)
{
	if (rd->mmu)
		vmt_x86_mmu_free(rd->mmu);
	if (rd->mem)
		vmt_mem_free(rd->mem);
	if (rd->map && rd->map != MAP_FAILED)
		munmap((void *)rd->map, rd->f->size);
}

/* Rows: ns per page and MB/s of each way; the library's ways beside their limits. */
static int mem_rows(struct micro_ctx *c, double ns[NR_WAYS][64], unsigned reps)
{
	static const enum way lim_of[NR_WAYS] = {PREAD, MEMCPY, PREAD, MEMCPY, PREAD};
	int idx_ns[NR_WAYS], idx_mbs[NR_WAYS];
	char m[64];

	for (int w = 0; w < NR_WAYS; w++) {
		double mbs[64];

		for (unsigned i = 0; i < reps; i++)
			mbs[i] = PG / ns[w][i] * 1e3; /* bytes per ns = GB/s; x 1e3 MB/s */
		snprintf(m, sizeof(m), "%s_ns", way_name[w]);
		idx_ns[w] = micro_add(c->r, "mem", m, PG, "ns/page", w <= MEMCPY, ns[w], reps);
		snprintf(m, sizeof(m), "%s_mbs", way_name[w]);
		idx_mbs[w] = micro_add(c->r, "mem", m, PG, "MB/s", w <= MEMCPY, mbs, reps);
		if (idx_ns[w] < 0 || idx_mbs[w] < 0)
			return -ENOMEM;
	}
	for (int w = PHYS_COLD; w < NR_WAYS; w++) {
		micro_set_limit(c->r, idx_ns[w], idx_ns[lim_of[w]]);
		micro_set_limit(c->r, idx_mbs[w], idx_mbs[lim_of[w]]);
	}
	return 0;
}

int micro_mem_run(struct micro_ctx *c)
{
	struct memfile f = {.fd = -1};
	struct readers *rd = calloc(1, sizeof(*rd));
	unsigned reps = c->o->reps * 2 > 64 ? 64 : c->o->reps * 2; /* a pass is short */
	static double ns[NR_WAYS][64];
	int err;

	if (!rd)
		return -ENOMEM;
	micro_step(c, "mem: a %llu MiB memory file of our own",
		   (unsigned long long)(c->o->mem_bytes >> 20));
	err = memfile_make(c, &f);
	if (!err)
		err = readers_open(rd, &f);
	for (unsigned i = 0; !err && i < reps && !bench_stop; i++)
		for (int w = 0; w < NR_WAYS && !err; w++) {
			ns[w][i] = pass(rd, w);
			if (ns[w][i] < 0)
				err = bench_fail((int)ns[w][i], "mem: %s failed", way_name[w]);
		}
	if (!err && bench_stop)
		err = -EINTR;
	if (!err)
		err = mem_rows(c, ns, reps);
	readers_close(rd);
	memfile_drop(&f);
	free(rd);
	return err;
}

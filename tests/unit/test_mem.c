// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * test_mem.c - page sources (RAM layout, RAM file, buffer) and the page
 * cache above them.  No VM: guest RAM is a buffer or a sparse tmpfs file.
 */
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "core/internal.h"
#include "mem/mem.h"
#include "memsrc/memsrc.h"
#include "pagetable/pagetable.h"

#define MIB (1ull << 20)
#define GIB (1ull << 30)

/* ---------------------------------------------------------- RAM layout */

static void expect_layout(uint64_t ram, const char *machine, uint64_t over, uint64_t below)
{
	struct vmt_ram_layout l;

	assert_int_equal(vmt_ram_layout_x86(ram, machine, over, &l), 0);
	assert_int_equal(l.r[0].gpa, 0);
	assert_int_equal(l.r[0].file_off, 0);
	assert_int_equal(l.r[0].len, below);
	if (ram == below) {
		assert_int_equal(l.n, 1);
		assert_int_equal(vmt_ram_layout_end(&l), ram);
		return;
	}
	assert_int_equal(l.n, 2);
	assert_int_equal(l.r[1].gpa, 4 * GIB);
	assert_int_equal(l.r[1].len, ram - below);
	assert_int_equal(l.r[1].file_off, below);
	assert_int_equal(vmt_ram_layout_end(&l), 4 * GIB + ram - below);
}

static void test_layout_pc(void **state)
{
	expect_layout(512 * MIB, "pc", 0, 512 * MIB);
	expect_layout(512 * MIB, NULL, 0, 512 * MIB); /* pc is the default */
	expect_layout(3 * GIB, "pc", 0, 3 * GIB);     /* fits under 3.5 GiB */
	/* 3.5 GiB does not fit under the 3.5 GiB default: gigabyte-aligned at 3 GiB */
	expect_layout(3584 * MIB, "pc", 0, 3 * GIB);
	expect_layout(4 * GIB, "pc", 0, 3 * GIB);
	expect_layout(4 * GIB, "pc-i440fx-7.2", 0, 3 * GIB);
}

static void test_layout_q35(void **state)
{
	expect_layout(2816 * MIB, "q35", 0, 2 * GIB); /* 2.75 GiB: split at 2 GiB */
	expect_layout(2815 * MIB, "q35", 0, 2815 * MIB);
	expect_layout(8 * GIB, "pc-q35-7.2", 0, 2 * GIB);
}

static void test_layout_override(void **state)
{
	struct vmt_ram_layout l;

	/* QEMU's own examples (pc_piix.c) */
	expect_layout(4 * GIB, "pc", 2 * GIB, 2 * GIB);
	expect_layout(3968 * MIB, "pc", 4 * GIB, 3968 * MIB);
	expect_layout(1 * GIB, "pc", 512 * MIB, 512 * MIB);
	/* q35 only lowers its split */
	expect_layout(1 * GIB, "q35", 512 * MIB, 512 * MIB);
	expect_layout(1 * GIB, "q35", 4 * GIB, 1 * GIB);
	assert_int_equal(vmt_ram_layout_x86(1 * GIB, "pc", 5 * GIB, &l), -EINVAL);
	assert_int_equal(vmt_ram_layout_x86(1 * GIB, "virt", 0, &l), -EINVAL);
	assert_int_equal(vmt_ram_layout_x86(0, "pc", 0, &l), -EINVAL);
}

/* ------------------------------------------------------- buffer source */

static void test_buffer_source(void **state)
{
	static uint8_t ram[2 * 4096 + 100];
	struct vmt_memsrc *src;
	uint8_t page[4096];

	memset(ram, 0xab, sizeof(ram));
	assert_int_equal(vmt_memsrc_buffer_new(ram, sizeof(ram), &src), 0);
	assert_int_equal(src->ram_end, sizeof(ram));
	assert_int_equal(vmt_memsrc_read_page(src, 1, page), 0);
	assert_int_equal(page[4095], 0xab);
	/* the partial last page reads zero-filled */
	assert_int_equal(vmt_memsrc_read_page(src, 2, page), 0);
	assert_int_equal(page[99], 0xab);
	assert_int_equal(page[100], 0);
	assert_int_equal(vmt_memsrc_read_page(src, 3, page), -EFAULT);
	vmt_memsrc_free(src);
	vmt_memsrc_free(NULL);
}

/* ----------------------------------------------- page cache over a counting source */

/*
 * A source that plugs in through the ops table like a sub-host would: it
 * counts how often each page is asked for and fails on chosen frames.
 */
#define CNT_PAGES 64

struct counting_src {
	struct vmt_memsrc base;
	uint8_t ram[CNT_PAGES * 4096];
	unsigned reads[CNT_PAGES];
	uint64_t fail_pfn;
	int fail_err;
};

static int counting_read_page(struct vmt_memsrc *src, uint64_t pfn, void *buf)
{
	struct counting_src *c = (struct counting_src *)src;

	if (pfn >= CNT_PAGES)
		return -EFAULT;
	c->reads[pfn]++;
	if (pfn == c->fail_pfn) {
		memset(buf, 0xee, 4096); /* like a read that failed half-way */
		return c->fail_err;
	}
	memcpy(buf, c->ram + pfn * 4096, 4096);
	return 0;
}

static void counting_destroy(struct vmt_memsrc *src)
{
	free(src);
}

static const struct vmt_memsrc_ops counting_ops = {
    .name = "counting",
    .read_page = counting_read_page,
    .destroy = counting_destroy,
};

static struct counting_src *counting_new(void)
{
	struct counting_src *c = calloc(1, sizeof(*c));
	size_t i;

	assert_non_null(c);
	c->base.ops = &counting_ops;
	c->base.ram_end = sizeof(c->ram);
	c->fail_pfn = UINT64_MAX;
	for (i = 0; i < sizeof(c->ram); i++)
		c->ram[i] = (uint8_t)(i * 7 + i / 4096);
	return c;
}

struct cache_fixture {
	struct counting_src *src; /* owned by mem */
	struct vmt_mem *mem;
};

static int cache_setup_cap(void **state, size_t cap)
{
	struct cache_fixture *f = calloc(1, sizeof(*f));

	if (!f)
		return -1;
	f->src = counting_new();
	if (vmt_mem_new(&f->src->base, cap, &f->mem)) {
		free(f->src);
		free(f);
		return -1;
	}
	*state = f;
	return 0;
}

static int cache_setup(void **state)
{
	return cache_setup_cap(state, 0);
}

static int cache_setup_small(void **state)
{
	return cache_setup_cap(state, 4);
}

static int cache_setup_one(void **state)
{
	return cache_setup_cap(state, 1);
}

static int cache_teardown(void **state)
{
	struct cache_fixture *f = *state;

	vmt_mem_free(f->mem);
	free(f);
	return 0;
}

static void test_cache_once_per_epoch(void **state)
{
	struct cache_fixture *f = *state;
	const struct vmt_mem_stats *st = vmt_mem_stats_ptr(f->mem);
	uint64_t v, pfn, round;

	for (round = 0; round < 3; round++)
		for (pfn = 0; pfn < CNT_PAGES; pfn++) {
			assert_int_equal(vmt_mem_read_u64(f->mem, pfn * 4096 + 8 * round, &v), 0);
			assert_memory_equal(&v, f->src->ram + pfn * 4096 + 8 * round, 8);
		}
	for (pfn = 0; pfn < CNT_PAGES; pfn++)
		assert_int_equal(f->src->reads[pfn], 1);
	assert_int_equal(st->pages_read, CNT_PAGES);
	assert_int_equal(st->cache_hits, 2 * CNT_PAGES);
	assert_int_equal(st->bytes_copied, 3 * CNT_PAGES * 8);
	assert_int_equal(st->evictions, 0);

	/* a new epoch reads every page again, once */
	uint64_t epoch = vmt_mem_epoch_id(f->mem);
	vmt_mem_epoch(f->mem);
	assert_int_not_equal(vmt_mem_epoch_id(f->mem), epoch);
	for (round = 0; round < 2; round++)
		for (pfn = 0; pfn < CNT_PAGES; pfn++)
			assert_int_equal(vmt_mem_read_u64(f->mem, pfn * 4096, &v), 0);
	for (pfn = 0; pfn < CNT_PAGES; pfn++)
		assert_int_equal(f->src->reads[pfn], 2);
	assert_int_equal(st->pages_read, 2 * CNT_PAGES);
}

/* Between epochs the guest runs: the next listing must see what changed. */
static void test_cache_epoch_sees_changes(void **state)
{
	struct cache_fixture *f = *state;
	uint64_t v, changed = 0x1122334455667788ull;

	assert_int_equal(vmt_mem_read_u64(f->mem, 4096, &v), 0);
	memcpy(f->src->ram + 4096, &changed, 8);
	assert_int_equal(vmt_mem_read_u64(f->mem, 4096, &v), 0);
	assert_int_not_equal(v, changed); /* one consistent view within an epoch */
	vmt_mem_epoch(f->mem);
	assert_int_equal(vmt_mem_read_u64(f->mem, 4096, &v), 0);
	assert_int_equal(v, changed);
}

static void test_cache_cross_page(void **state)
{
	struct cache_fixture *f = *state;
	uint8_t buf[3 * 4096];

	assert_int_equal(vmt_mem_read(f->mem, 5 * 4096 - 3, buf, 6), 0);
	assert_memory_equal(buf, f->src->ram + 5 * 4096 - 3, 6);
	assert_int_equal(vmt_mem_read(f->mem, 7 * 4096 + 17, buf, sizeof(buf)), 0);
	assert_memory_equal(buf, f->src->ram + 7 * 4096 + 17, sizeof(buf));
	assert_int_equal(vmt_mem_read(f->mem, 0, buf, 0), 0);
}

static void test_cache_eviction(void **state)
{
	struct cache_fixture *f = *state;
	const struct vmt_mem_stats *st = vmt_mem_stats_ptr(f->mem);
	uint8_t buf[64];
	unsigned i;

	srand(1);
	for (i = 0; i < 20000; i++) {
		uint64_t pa = (uint64_t)rand() % (CNT_PAGES * 4096 - sizeof(buf));
		size_t len = 1 + (size_t)rand() % sizeof(buf);

		assert_int_equal(vmt_mem_read(f->mem, pa, buf, len), 0);
		assert_memory_equal(buf, f->src->ram + pa, len);
	}
	assert_true(st->evictions > 0);
	assert_int_equal(st->pages_read - st->evictions, 4); /* the cache stays full */
	/* a mostly-hot page keeps hitting despite the churn */
	vmt_mem_epoch(f->mem);
	for (i = 0; i < 1000; i++) {
		assert_int_equal(vmt_mem_read(f->mem, 3 * 4096, buf, 8), 0);
		assert_int_equal(vmt_mem_read(f->mem, (uint64_t)(i % CNT_PAGES) * 4096, buf, 8), 0);
		assert_memory_equal(buf, f->src->ram + (i % CNT_PAGES) * 4096, 8);
	}
}

static void test_cache_past_ram_end(void **state)
{
	struct cache_fixture *f = *state;
	uint64_t end = vmt_mem_ram_end(f->mem), v;
	uint8_t buf[16];

	assert_int_equal(end, CNT_PAGES * 4096);
	assert_int_equal(vmt_mem_read_u64(f->mem, end - 8, &v), 0);
	assert_int_equal(vmt_mem_read_u64(f->mem, end, &v), -EFAULT);
	assert_int_equal(vmt_mem_read(f->mem, end - 8, buf, 16), -EFAULT);
	assert_int_equal(vmt_mem_read(f->mem, UINT64_MAX - 4, buf, 16), -EFAULT);
	assert_int_equal(vmt_mem_read_u64(f->mem, 1ull << 52, &v), -EFAULT);
}

static void test_cache_source_error(void **state)
{
	struct cache_fixture *f = *state;
	const struct vmt_mem_stats *st = vmt_mem_stats_ptr(f->mem);
	uint8_t buf[8192];

	f->src->fail_pfn = 9;
	f->src->fail_err = -ETIMEDOUT;
	/* a read that ends in the failing page fails as a whole */
	assert_int_equal(vmt_mem_read(f->mem, 8 * 4096 + 100, buf, 4096), -ETIMEDOUT);
	assert_int_equal(vmt_mem_read(f->mem, 9 * 4096, buf, 1), -ETIMEDOUT);
	/* failures are not cached: the source is asked again, and may recover */
	f->src->fail_pfn = UINT64_MAX;
	assert_int_equal(vmt_mem_read(f->mem, 8 * 4096 + 100, buf, 4096), 0);
	assert_memory_equal(buf, f->src->ram + 8 * 4096 + 100, 4096);
	assert_int_equal(f->src->reads[9], 3);
	assert_int_equal(st->pages_read, 2);
}

/* A fill that fails after the clock took a slot must not leave stale data behind. */
static void test_cache_failed_fill(void **state)
{
	struct cache_fixture *f = *state;
	uint64_t pfn, v;

	f->src->fail_err = -EIO;
	for (pfn = 0; pfn < 8; pfn++) {
		assert_int_equal(vmt_mem_read_u64(f->mem, pfn * 4096, &v), 0);
		f->src->fail_pfn = pfn + 20;
		assert_int_equal(vmt_mem_read_u64(f->mem, (pfn + 20) * 4096, &v), -EIO);
		f->src->fail_pfn = UINT64_MAX;
		/* the page read last may have been the victim */
		assert_int_equal(vmt_mem_read_u64(f->mem, pfn * 4096, &v), 0);
		assert_memory_equal(&v, f->src->ram + pfn * 4096, 8);
	}
}

static void test_cache_new_args(void **state)
{
	struct vmt_mem *m = NULL;
	struct counting_src *c = counting_new();

	assert_int_equal(vmt_mem_new(NULL, 0, &m), -EINVAL);
	assert_int_equal(vmt_mem_new(&c->base, (size_t)1 << 40, &m), -EINVAL);
	assert_null(m);
	free(c); /* still ours after a failed vmt_mem_new */
	vmt_mem_free(NULL);
}

/* ------------------------------------------------------------ RAM file */

#define SHM_SIZE  (64 * MIB)
#define SHM_PAGES (SHM_SIZE / 4096)
#define SHM_DATA  (SHM_PAGES / 2) /* the one page written */

struct shm_fixture {
	char path[64];
	int fd;
};

static int shm_setup(void **state)
{
	struct shm_fixture *f = calloc(1, sizeof(*f));
	uint8_t page[4096];

	if (!f)
		return -1;
	*state = f; /* teardown removes whatever got created */
	snprintf(f->path, sizeof(f->path), "/dev/shm/vmt-test-mem-%d", (int)getpid());
	f->fd = open(f->path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (f->fd < 0 || ftruncate(f->fd, SHM_SIZE) < 0)
		return -1;
	memset(page, 0x5a, sizeof(page));
	if (pwrite(f->fd, page, sizeof(page), (off_t)SHM_DATA * 4096) != sizeof(page))
		return -1;
	return 0;
}

static int shm_teardown(void **state)
{
	struct shm_fixture *f = *state;

	if (!f)
		return 0;
	if (f->fd >= 0)
		close(f->fd);
	unlink(f->path);
	free(f);
	return 0;
}

static struct vmt_mem *shm_open_mem(struct shm_fixture *f, unsigned flags, size_t cache)
{
	struct vmt_ram_layout l;
	struct vmt_memsrc *src;
	struct vmt_mem *m;

	assert_int_equal(vmt_ram_layout_x86(SHM_SIZE, "pc", 0, &l), 0);
	assert_int_equal(vmt_memsrc_file_open_flags(f->path, &l, flags, &src), 0);
	assert_int_equal(vmt_mem_new(src, cache, &m), 0);
	return m;
}

static blkcnt_t shm_blocks(struct shm_fixture *f)
{
	struct stat st;

	assert_int_equal(fstat(f->fd, &st), 0);
	return st.st_blocks;
}

/* DESIGN.md invariant: reading never creates a page in the memory file. */
static void test_file_reads_allocate_nothing(void **state)
{
	struct shm_fixture *f = *state;
	blkcnt_t before = shm_blocks(f);
	struct vmt_mem *m = shm_open_mem(f, 0, 0);
	static uint8_t zero[4096];
	uint8_t buf[4096];
	uint64_t pfn;

	assert_true(before > 0 && before <= 8 * 2);
	for (pfn = 0; pfn < SHM_PAGES; pfn++) {
		assert_int_equal(vmt_mem_read(m, pfn * 4096, buf, sizeof(buf)), 0);
		if (pfn == SHM_DATA)
			assert_int_equal(buf[123], 0x5a);
		else
			assert_memory_equal(buf, zero, sizeof(buf));
	}
	assert_int_equal(vmt_mem_stats_ptr(m)->holes, SHM_PAGES - 1);
	assert_int_equal(vmt_mem_stats_ptr(m)->pages_read, SHM_PAGES);
	assert_int_equal(vmt_mem_read(m, SHM_SIZE, buf, 1), -EFAULT);
	vmt_mem_free(m);
	assert_int_equal(shm_blocks(f), before);

	/*
	 * Control: the check above can see the failure it guards against.  A
	 * read fault through a shared mapping of a hole does allocate.
	 */
	volatile uint8_t *map = mmap(NULL, 4096, PROT_READ, MAP_SHARED, f->fd, 0);
	assert_true(map != MAP_FAILED);
	assert_int_equal(map[0], 0);
	munmap((void *)map, 4096);
	assert_true(shm_blocks(f) > before);
}

/*
 * An unsplit file is read through a mapping guarded by the data map taken
 * when each listing begins (file.c, srcmap.c): a
 * page the guest writes during a listing was a hole to the map and is read
 * with pread (its new bytes, nothing allocated), the next listing reads it
 * through the mapping, and no hole is ever allocated.
 */
static void test_file_mapped_listings(void **state)
{
	struct shm_fixture *f = *state;
	struct vmt_mem *m = shm_open_mem(f, 0, 0);
	uint8_t page[4096];
	blkcnt_t before;
	uint64_t v;

	vmt_mem_epoch(m); /* the first listing: the data map is taken now */
	assert_int_equal(vmt_mem_read_u64(m, SHM_DATA * 4096 + 8, &v), 0);
	assert_int_equal(v, 0x5a5a5a5a5a5a5a5aull);
	memset(page, 0x33, sizeof(page));
	assert_int_equal(pwrite(f->fd, page, sizeof(page), 3 * 4096), sizeof(page));
	before = shm_blocks(f);
	assert_int_equal(vmt_mem_read_u64(m, 3 * 4096, &v), 0);
	assert_int_equal(v, 0x3333333333333333ull); /* a hole when the listing began: pread */
	vmt_mem_epoch(m);
	assert_int_equal(vmt_mem_read_u64(m, 3 * 4096 + 16, &v), 0);
	assert_int_equal(v, 0x3333333333333333ull);
	for (uint64_t pfn = 0; pfn < SHM_PAGES; pfn += 7)
		assert_int_equal(vmt_mem_read_u64(m, pfn * 4096, &v), 0);
	assert_int_equal(vmt_mem_stats_ptr(m)->holes, (SHM_PAGES + 6) / 7);
	vmt_mem_free(m);
	assert_int_equal(shm_blocks(f), before);
}

/* ------------------------------------------------ the RAM file's lock */

/* Kilobytes of the file's mapping in this process that are resident (0: no mapping touched). */
static long shm_map_rss_kb(struct shm_fixture *f)
{
	FILE *sm = fopen("/proc/self/smaps", "re");
	char line[512];
	unsigned long lo, hi;
	bool in = false;
	long kb, sum = 0;

	assert_non_null(sm);
	while (fgets(line, sizeof(line), sm)) {
		if (sscanf(line, "%lx-%lx ", &lo, &hi) == 2) /* a mapping's first line */
			in = strstr(line, f->path) != NULL;
		else if (in && sscanf(line, "Rss: %ld kB", &kb) == 1)
			sum += kb;
	}
	fclose(sm);
	return sum;
}

static struct vmt_mem *shm_open_src(struct shm_fixture *f, struct vmt_memsrc **src)
{
	struct vmt_ram_layout l;
	struct vmt_mem *m;

	assert_int_equal(vmt_ram_layout_x86(SHM_SIZE, "pc", 0, &l), 0);
	assert_int_equal(vmt_memsrc_file_open(f->path, &l, src), 0);
	assert_int_equal(vmt_mem_new(*src, 0, &m), 0);
	return m;
}

/* Another open file description of the file: a puncher's (or a competing reader's). */
static int shm_other(struct shm_fixture *f)
{
	int fd = open(f->path, O_RDWR | O_CLOEXEC);

	assert_true(fd >= 0);
	return fd;
}

/* Every page of the file, hole or data: values checked. */
static void shm_read_all(struct vmt_mem *m, uint8_t data_byte)
{
	uint64_t v;

	for (uint64_t pfn = 0; pfn < SHM_PAGES; pfn += 5) {
		assert_int_equal(vmt_mem_read_u64(m, pfn * 4096, &v), 0);
		assert_int_equal(v, 0);
	}
	assert_int_equal(vmt_mem_read_u64(m, SHM_DATA * 4096 + 64, &v), 0);
	assert_int_equal(v, data_byte * 0x0101010101010101ull);
}

/*
 * A puncher holds LOCK_EX (a split VM's pager): a listing does not get its
 * shared lock and reads with pread only, its mapping never touched; the
 * values are right and nothing is allocated.
 */
static void test_file_lock_held_pread(void **state)
{
	struct shm_fixture *f = *state;
	int punch_fd = shm_other(f);
	struct vmt_memsrc *src;
	struct vmt_mem *m;
	blkcnt_t before = shm_blocks(f);

	assert_int_equal(flock(punch_fd, LOCK_EX | LOCK_NB), 0);
	m = shm_open_src(f, &src);
	vmt_mem_epoch(m);
	shm_read_all(m, 0x5a);
	assert_int_equal(shm_map_rss_kb(f), 0);
	vmt_memsrc_epoch_end(src);
	assert_int_equal(shm_blocks(f), before);
	vmt_mem_free(m);
	close(punch_fd);
}

/*
 * No one else holds it: the listing reads through the mapping (the
 * control: the data page is resident in it) and holds LOCK_SH until it
 * ends, so that a puncher cannot take LOCK_EX meanwhile; after the end it
 * can.  The open holds it too, until the first listing ends.  A listing
 * never ended is ended by the next one and by destroy.
 */
static void test_file_lock_listing(void **state)
{
	struct shm_fixture *f = *state;
	int punch_fd = shm_other(f), reader_fd = shm_other(f);
	struct vmt_memsrc *src;
	struct vmt_mem *m = shm_open_src(f, &src);
	blkcnt_t before = shm_blocks(f);

	/* Opening reads too (the kernel): it holds the lock until the first listing ends. */
	assert_int_equal(flock(punch_fd, LOCK_EX | LOCK_NB), -1);
	vmt_memsrc_epoch_end(src);
	assert_int_equal(flock(punch_fd, LOCK_EX | LOCK_NB), 0); /* outside a listing: free */
	assert_int_equal(flock(punch_fd, LOCK_UN), 0);
	vmt_mem_epoch(m);
	assert_int_equal(flock(punch_fd, LOCK_EX | LOCK_NB), -1);
	assert_int_equal(errno, EWOULDBLOCK);
	assert_int_equal(flock(reader_fd, LOCK_SH | LOCK_NB), 0); /* readers share */
	assert_int_equal(flock(reader_fd, LOCK_UN), 0);
	shm_read_all(m, 0x5a);
	assert_true(shm_map_rss_kb(f) > 0); /* read through the mapping */
	vmt_memsrc_epoch_end(src);
	assert_int_equal(flock(punch_fd, LOCK_EX | LOCK_NB), 0);
	assert_int_equal(flock(punch_fd, LOCK_UN), 0);
	vmt_memsrc_epoch_end(src); /* twice: harmless */
	vmt_mem_epoch(m);
	vmt_mem_epoch(m); /* not ended: the next listing takes it again */
	assert_int_equal(flock(punch_fd, LOCK_EX | LOCK_NB), -1);
	vmt_mem_free(m);
	assert_int_equal(flock(punch_fd, LOCK_EX | LOCK_NB), 0);
	assert_int_equal(shm_blocks(f), before);
	close(punch_fd);
	close(reader_fd);
}

/*
 * A puncher takes LOCK_EX between two listings and punches a page the
 * first one read through the mapping: the next listing, while it holds the
 * lock, reads the hole's zeros with pread and allocates nothing; once it
 * lets go, the listing after maps again.
 */
static void test_file_lock_punch_between(void **state)
{
	struct shm_fixture *f = *state;
	int punch_fd = shm_other(f);
	struct vmt_memsrc *src;
	struct vmt_mem *m = shm_open_src(f, &src);
	blkcnt_t before;
	uint64_t v;

	vmt_mem_epoch(m);
	shm_read_all(m, 0x5a);
	vmt_memsrc_epoch_end(src);
	assert_int_equal(flock(punch_fd, LOCK_EX | LOCK_NB), 0);
	assert_int_equal(fallocate(punch_fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
				   (off_t)SHM_DATA * 4096, 4096),
			 0);
	before = shm_blocks(f);
	vmt_mem_epoch(m);
	assert_int_equal(vmt_mem_read_u64(m, SHM_DATA * 4096 + 64, &v), 0);
	assert_int_equal(v, 0);
	shm_read_all(m, 0);
	vmt_memsrc_epoch_end(src);
	assert_int_equal(shm_blocks(f), before);
	assert_int_equal(flock(punch_fd, LOCK_UN), 0);
	vmt_mem_epoch(m); /* unlocked: the mapping again, the hole still untouched */
	shm_read_all(m, 0);
	vmt_memsrc_epoch_end(src);
	assert_int_equal(shm_blocks(f), before);
	vmt_mem_free(m);
	close(punch_fd);
}

/* A mapped file cut short by hand: the next listing reads it with pread (an error, not SIGBUS). */
static void test_file_cut_short(void **state)
{
	struct shm_fixture *f = *state;
	struct vmt_mem *m = shm_open_mem(f, 0, 0);
	uint64_t v;

	vmt_mem_epoch(m);
	assert_int_equal(vmt_mem_read_u64(m, SHM_DATA * 4096, &v), 0);
	assert_int_equal(ftruncate(f->fd, SHM_SIZE / 4), 0);
	vmt_mem_epoch(m);
	assert_int_equal(vmt_mem_read_u64(m, SHM_DATA * 4096, &v), -EIO);
	assert_int_equal(vmt_mem_read_u64(m, 4096, &v), 0);
	vmt_mem_free(m);
}

static void test_file_holes_enodata(void **state)
{
	struct shm_fixture *f = *state;
	blkcnt_t before = shm_blocks(f);
	struct vmt_mem *m = shm_open_mem(f, VMT_MEMSRC_HOLE_ENODATA, 8);
	uint64_t v;

	assert_int_equal(vmt_mem_read_u64(m, 0, &v), -ENODATA);
	assert_int_equal(vmt_mem_read_u64(m, SHM_DATA * 4096, &v), 0);
	assert_int_equal(v, 0x5a5a5a5a5a5a5a5aull);
	/* a read spanning data and a hole fails as a whole */
	assert_int_equal(vmt_mem_read_u64(m, SHM_DATA * 4096 + 4092, &v), -ENODATA);
	assert_int_equal(vmt_mem_stats_ptr(m)->holes, 2);
	vmt_mem_free(m);
	assert_int_equal(shm_blocks(f), before);
}

static void test_file_split_layout(void **state)
{
	struct shm_fixture *f = *state;
	struct vmt_ram_layout l = {
	    .n = 2,
	    .r = {{.gpa = 0, .len = SHM_DATA * 4096},
		  {.gpa = 4 * GIB, .len = SHM_SIZE - SHM_DATA * 4096, .file_off = SHM_DATA * 4096}},
	};
	struct vmt_memsrc *src;
	uint8_t page[4096];

	assert_int_equal(vmt_memsrc_file_open(f->path, &l, &src), 0);
	assert_int_equal(src->ram_end, 4 * GIB + SHM_SIZE - SHM_DATA * 4096);
	/* the first page above 4 GiB is at file offset below_4g */
	assert_int_equal(vmt_memsrc_read_page(src, (4 * GIB) >> 12, page), 0);
	assert_int_equal(page[0], 0x5a);
	/* the PCI hole between the ranges is not RAM */
	assert_int_equal(vmt_memsrc_read_page(src, SHM_DATA, page), -EFAULT);
	assert_int_equal(vmt_memsrc_read_page(src, (4 * GIB - 4096) >> 12, page), -EFAULT);
	vmt_memsrc_free(src);
}

static void test_file_open_errors(void **state)
{
	struct shm_fixture *f = *state;
	struct vmt_ram_layout l;
	struct vmt_memsrc *src = (void *)1;

	assert_int_equal(vmt_ram_layout_x86(SHM_SIZE, "pc", 0, &l), 0);
	assert_int_equal(vmt_memsrc_file_open("/dev/shm/vmt-no-such-file", &l, &src), -ENOENT);
	assert_null(src);
	assert_non_null(strstr(vmt_last_error(), "no such memory file"));

	/* truncated: the file is shorter than the layout */
	assert_int_equal(ftruncate(f->fd, SHM_SIZE - 4096), 0);
	assert_int_equal(vmt_memsrc_file_open(f->path, &l, &src), -EINVAL);
	assert_non_null(strstr(vmt_last_error(), f->path));
	assert_non_null(strstr(vmt_last_error(), "67104768"));
	assert_non_null(strstr(vmt_last_error(), "67108864"));
	/* empty */
	assert_int_equal(ftruncate(f->fd, 0), 0);
	assert_int_equal(vmt_memsrc_file_open(f->path, &l, &src), -EINVAL);
	assert_non_null(strstr(vmt_last_error(), " 0 bytes"));
	/* not a regular file; a bad layout */
	assert_int_equal(vmt_memsrc_file_open("/dev/shm", &l, &src), -EINVAL);
	l.r[0].len = 100;
	assert_int_equal(vmt_memsrc_file_open(f->path, &l, &src), -EINVAL);
}

/* ------------------------------------------------ split VM: page table */

#define PT_SHIFT       16 /* 64 KiB chunks */
#define PT_CHUNK_PAGES (1u << (PT_SHIFT - 12))

/* A page table for the fixture's file with one sub-host; its path in f->path + ".pt". */
static void pt_make(struct shm_fixture *f, struct vmt_pt *pt, char *path, size_t path_sz)
{
	struct vmt_pt_host host = {.addr = "127.0.0.1:10809", .name = "sub1", .quota_chunks = 1024};
	struct vmt_pt_create_opts o = {.sz = sizeof(o),
				       .ram_size = SHM_SIZE,
				       .chunk_shift = PT_SHIFT,
				       .nr_hosts = 1,
				       .hosts = &host};

	snprintf(path, path_sz, "%s.pt", f->path);
	unlink(path);
	assert_int_equal(vmt_pt_create(path, &o, pt), 0);
}

static struct vmt_mem *split_open_mem(struct shm_fixture *f, const char *pt_path)
{
	struct vmt_ram_layout l;
	struct vmt_memsrc *src;
	struct vmt_mem *m;

	assert_int_equal(vmt_ram_layout_x86(SHM_SIZE, "pc", 0, &l), 0);
	assert_int_equal(vmt_memsrc_split_open(f->path, &l, pt_path, &src), 0);
	assert_int_equal(vmt_mem_new(src, 0, &m), 0);
	return m;
}

/* The page table, not the file, says where a page is; sub-host pages are -ENODATA. */
static void test_split_locations(void **state)
{
	struct shm_fixture *f = *state;
	uint64_t data_chunk = (uint64_t)SHM_DATA / PT_CHUNK_PAGES, v;
	blkcnt_t before = shm_blocks(f);
	char path[96];
	struct vmt_pt pt;
	struct vmt_mem *m;

	pt_make(f, &pt, path, sizeof(path));
	assert_int_equal(vmt_pt_set(&pt, data_chunk, VMT_PT_MAIN, -1), 0);
	assert_int_equal(vmt_pt_set(&pt, 0, VMT_PT_SUB + 0, -1), 0);
	m = split_open_mem(f, path);
	/* MAIN: the file's data; a hole inside a MAIN chunk is a page of zeros */
	assert_int_equal(vmt_mem_read_u64(m, SHM_DATA * 4096ull, &v), 0);
	assert_int_equal(v, 0x5a5a5a5a5a5a5a5aull);
	assert_int_equal(vmt_mem_read_u64(m, (SHM_DATA + 1) * 4096ull, &v), 0);
	assert_int_equal(v, 0);
	/* on a sub-host: not read, counted, never the zeros of the hole */
	assert_int_equal(vmt_mem_read_u64(m, 8, &v), -ENODATA);
	assert_int_equal(vmt_mem_read_u64(m, 4096 * 3, &v), -ENODATA);
	assert_int_equal(vmt_mem_stats_ptr(m)->remote, 2);
	/* ABSENT: zeros */
	assert_int_equal(vmt_mem_read_u64(m, PT_CHUNK_PAGES * 4096ull * 5, &v), 0);
	assert_int_equal(v, 0);
	vmt_mem_free(m);
	assert_int_equal(shm_blocks(f), before);
	vmt_pt_close(&pt);
	unlink(path);
}

/* A chunk stuck in motion (a pager waiting on a dead sub-host) is an error, not zeros. */
static void test_split_stuck_chunk(void **state)
{
	struct shm_fixture *f = *state;
	uint64_t data_chunk = (uint64_t)SHM_DATA / PT_CHUNK_PAGES, old, v = 1;
	char path[96];
	struct vmt_pt pt;
	struct vmt_mem *m;

	pt_make(f, &pt, path, sizeof(path));
	assert_int_equal(vmt_pt_set(&pt, data_chunk, VMT_PT_MAIN, -1), 0);
	assert_int_equal(vmt_pt_move_begin(&pt, data_chunk, &old), 0);
	m = split_open_mem(f, path);
	assert_int_equal(vmt_mem_read_u64(m, SHM_DATA * 4096ull, &v), -EAGAIN);
	assert_non_null(strstr(vmt_last_error(), "kept moving"));
	assert_int_equal(vmt_pt_move_end(&pt, data_chunk, VMT_PT_MAIN, -1), 0);
	vmt_mem_epoch(m);
	assert_int_equal(vmt_mem_read_u64(m, SHM_DATA * 4096ull, &v), 0);
	assert_int_equal(v, 0x5a5a5a5a5a5a5a5aull);
	vmt_mem_free(m);
	vmt_pt_close(&pt);
	unlink(path);
}

struct flipper {
	struct vmt_pt *pt;
	int fd;
	uint64_t chunk;
	_Atomic int stop;
	unsigned moves;
};

/* A writer that rewrites a chunk under the seqlock, as the pager does. */
static void *flipper_run(void *arg)
{
	struct flipper *fl = arg;
	static uint64_t page[512];
	uint64_t old;

	for (uint64_t gen = 1; !fl->stop && gen < 200000; gen++) {
		if (vmt_pt_move_begin(fl->pt, fl->chunk, &old))
			break;
		for (unsigned i = 0; i < 512; i++)
			page[i] = gen;
		for (unsigned p = 0; p < PT_CHUNK_PAGES; p++)
			if (pwrite(fl->fd, page, sizeof(page),
				   (off_t)(((fl->chunk << PT_SHIFT)) + p * 4096ull)) != 4096)
				break;
		vmt_pt_move_end(fl->pt, fl->chunk, VMT_PT_MAIN, -1);
		fl->moves++;
	}
	return NULL;
}

/* Reads that race a writer are retried: every page read is one generation throughout. */
static void test_split_reads_race_moves(void **state)
{
	struct shm_fixture *f = *state;
	struct flipper fl = {.fd = f->fd, .chunk = 7};
	uint64_t page[512];
	unsigned torn = 0, ok = 0, again = 0;
	struct vmt_memsrc *src;
	struct vmt_ram_layout l;
	char path[96];
	struct vmt_pt pt;
	pthread_t th;

	pt_make(f, &pt, path, sizeof(path));
	assert_int_equal(vmt_pt_set(&pt, fl.chunk, VMT_PT_MAIN, -1), 0);
	fl.pt = &pt;
	assert_int_equal(vmt_ram_layout_x86(SHM_SIZE, "pc", 0, &l), 0);
	assert_int_equal(vmt_memsrc_split_open(f->path, &l, path, &src), 0);
	assert_int_equal(pthread_create(&th, NULL, flipper_run, &fl), 0);
	for (unsigned i = 0; i < 20000; i++) {
		uint64_t pfn = (fl.chunk << (PT_SHIFT - 12)) + i % PT_CHUNK_PAGES;
		int err = vmt_memsrc_read_page(src, pfn, page);

		if (err == -EAGAIN) {
			again++;
			continue;
		}
		assert_int_equal(err, 0);
		for (unsigned w = 1; w < 512; w++)
			torn += page[w] != page[0];
		ok++;
	}
	fl.stop = 1;
	pthread_join(th, NULL);
	print_message("split race: %u reads, %u gave up, %u moves by the writer\n", ok, again,
		      fl.moves);
	assert_int_equal(torn, 0);
	assert_true(ok > 0);
	vmt_memsrc_free(src);
	vmt_pt_close(&pt);
	unlink(path);
}

static void test_split_open_errors(void **state)
{
	struct shm_fixture *f = *state;
	struct vmt_ram_layout l;
	struct vmt_memsrc *src;
	char path[96];
	struct vmt_pt pt;
	int fd;

	assert_int_equal(vmt_ram_layout_x86(SHM_SIZE, "pc", 0, &l), 0);
	assert_int_equal(vmt_memsrc_split_open(f->path, &l, "/dev/shm/vmt-no-such-pt", &src),
			 -ENOENT);
	assert_null(src);
	/* a file that is not a page table */
	snprintf(path, sizeof(path), "%s.junk", f->path);
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, 65536), 0);
	close(fd);
	assert_int_equal(vmt_memsrc_split_open(f->path, &l, path, &src), -EBADMSG);
	unlink(path);
	/* a page table of another VM size */
	pt_make(f, &pt, path, sizeof(path));
	vmt_pt_close(&pt);
	assert_int_equal(ftruncate(f->fd, SHM_SIZE * 2), 0);
	assert_int_equal(vmt_ram_layout_x86(SHM_SIZE * 2, "pc", 0, &l), 0);
	assert_int_equal(vmt_memsrc_split_open(f->path, &l, path, &src), -EINVAL);
	assert_non_null(strstr(vmt_last_error(), "is for"));
	unlink(path);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_layout_pc),
	    cmocka_unit_test(test_layout_q35),
	    cmocka_unit_test(test_layout_override),
	    cmocka_unit_test(test_buffer_source),
	    cmocka_unit_test_setup_teardown(test_cache_once_per_epoch, cache_setup, cache_teardown),
	    cmocka_unit_test_setup_teardown(test_cache_epoch_sees_changes, cache_setup,
					    cache_teardown),
	    cmocka_unit_test_setup_teardown(test_cache_cross_page, cache_setup, cache_teardown),
	    cmocka_unit_test_setup_teardown(test_cache_eviction, cache_setup_small, cache_teardown),
	    cmocka_unit_test_setup_teardown(test_cache_past_ram_end, cache_setup, cache_teardown),
	    cmocka_unit_test_setup_teardown(test_cache_source_error, cache_setup, cache_teardown),
	    cmocka_unit_test_setup_teardown(test_cache_failed_fill, cache_setup_one,
					    cache_teardown),
	    cmocka_unit_test(test_cache_new_args),
	    cmocka_unit_test_setup_teardown(test_file_mapped_listings, shm_setup, shm_teardown),
	    cmocka_unit_test_setup_teardown(test_file_cut_short, shm_setup, shm_teardown),
	    cmocka_unit_test_setup_teardown(test_file_lock_held_pread, shm_setup, shm_teardown),
	    cmocka_unit_test_setup_teardown(test_file_lock_listing, shm_setup, shm_teardown),
	    cmocka_unit_test_setup_teardown(test_file_lock_punch_between, shm_setup, shm_teardown),
	    cmocka_unit_test_setup_teardown(test_file_reads_allocate_nothing, shm_setup,
					    shm_teardown),
	    cmocka_unit_test_setup_teardown(test_file_holes_enodata, shm_setup, shm_teardown),
	    cmocka_unit_test_setup_teardown(test_file_split_layout, shm_setup, shm_teardown),
	    cmocka_unit_test_setup_teardown(test_file_open_errors, shm_setup, shm_teardown),
	    cmocka_unit_test_setup_teardown(test_split_locations, shm_setup, shm_teardown),
	    cmocka_unit_test_setup_teardown(test_split_stuck_chunk, shm_setup, shm_teardown),
	    cmocka_unit_test_setup_teardown(test_split_reads_race_moves, shm_setup, shm_teardown),
	    cmocka_unit_test_setup_teardown(test_split_open_errors, shm_setup, shm_teardown),
	};

	vmt_set_log(NULL, NULL, VMT_LOG_ERROR);
	return cmocka_run_group_tests(tests, NULL, NULL);
}

// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * test_pagetable.c - the split VM's page table (src/pagetable) on files in a
 * private temporary directory: geometry and size parsing, create/open round
 * trips, every way a file can be refused, the writer's counters and
 * sequence parity, its error codes, the reader's timeout on a stuck move,
 * and a reader racing a writer for 200k moves with the seqlock protocol of
 * pagetable.h: no read that is not retried may see data that disagrees with
 * the location it read.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "pagetable/pagetable.h"

static char dir[] = "/tmp/vmt-test-pt-XXXXXX";
static char path[sizeof(dir) + 32];
static unsigned file_no;

/* A fresh path in the test directory for each table. */
static const char *next_path(void)
{
	snprintf(path, sizeof(path), "%s/pt%u", dir, file_no++);
	return path;
}

static int group_setup(void **state)
{
	(void)state;
	return mkdtemp(dir) ? 0 : -1;
}

static int group_teardown(void **state)
{
	char p[sizeof(path)];

	(void)state;
	for (unsigned i = 0; i < file_no; i++) {
		snprintf(p, sizeof(p), "%s/pt%u", dir, i);
		unlink(p);
	}
	return rmdir(dir);
}

static const struct vmt_pt_host test_hosts[2] = {
    {.addr = "127.0.0.1:10809", .export = "", .name = "sub1", .quota_chunks = 100},
    {.addr = "127.0.0.2:10809", .export = "ram", .name = "sub2", .quota_chunks = 7},
};

/* A table of ram bytes in chunks of 1 << shift, with the two test hosts. */
static int create(uint64_t ram, unsigned shift, struct vmt_pt *pt)
{
	struct vmt_pt_create_opts o = {
	    .sz = sizeof(o),
	    .ram_size = ram,
	    .chunk_shift = shift,
	    .cap_chunks = 5,
	    .nr_hosts = 2,
	    .hosts = test_hosts,
	};

	return vmt_pt_create(next_path(), &o, pt);
}

/* The header's counters must say what the entries say. */
static void assert_census_matches(const struct vmt_pt *pt)
{
	struct vmt_pt_census c;

	vmt_pt_census(pt, &c);
	assert_int_equal(c.moving, 0);
	assert_int_equal(c.absent, atomic_load(&pt->hdr->absent_chunks));
	assert_int_equal(c.main, atomic_load(&pt->hdr->main_chunks));
	for (unsigned k = 0; k < VMT_PT_MAX_HOSTS; k++) {
		uint64_t chunks =
		    k < pt->hdr->nr_hosts ? atomic_load(&pt->hdr->hosts[k].chunks) : 0;
		uint64_t copies =
		    k < pt->hdr->nr_hosts ? atomic_load(&pt->hdr->hosts[k].copies) : 0;

		assert_int_equal(c.sub[k], chunks);
		assert_int_equal(c.copies[k], copies);
	}
	assert_int_equal(c.absent + c.main + c.sub[0] + c.sub[1], pt->hdr->nr_chunks);
}

/* ------------------------------------------------------------- geometry */

static void test_chunk_shift(void **state)
{
	(void)state;
	for (unsigned s = 0; s < 64; s++) {
		bool ok = s >= 12 && s <= 21;

		assert_int_equal(vmt_pt_chunk_shift_ok(s), ok);
		assert_int_equal(vmt_pt_chunk_shift_of(1ull << s), ok ? (int)s : -EINVAL);
	}
	assert_int_equal(vmt_pt_chunk_shift_of(0), -EINVAL);
	assert_int_equal(vmt_pt_chunk_shift_of(3000), -EINVAL);
	assert_int_equal(vmt_pt_chunk_shift_of(4096 + 1), -EINVAL);
	assert_int_equal(vmt_pt_chunk_shift_of((2u << 20) - 4096), -EINVAL);
}

static void test_nr_chunks_and_last_chunk(void **state)
{
	struct vmt_pt pt;

	(void)state;
	assert_int_equal(vmt_pt_nr_chunks(1, 12), 1);
	assert_int_equal(vmt_pt_nr_chunks(4096, 12), 1);
	assert_int_equal(vmt_pt_nr_chunks(4097, 12), 2);
	assert_int_equal(vmt_pt_nr_chunks(512ull << 20, 21), 256);
	assert_int_equal(vmt_pt_nr_chunks((512ull << 20) + 1, 21), 257);

	assert_int_equal(create(10000, 12, &pt), 0);
	assert_int_equal(pt.hdr->nr_chunks, 3);
	assert_int_equal(vmt_pt_chunk_len(&pt, 0), 4096);
	assert_int_equal(vmt_pt_chunk_len(&pt, 1), 4096);
	assert_int_equal(vmt_pt_chunk_len(&pt, 2), 10000 - 8192);
	assert_int_equal(vmt_pt_chunk_len(&pt, 3), 0);
	assert_int_equal(vmt_pt_chunk_len(&pt, UINT64_MAX), 0);
	assert_int_equal(vmt_pt_chunk_of(&pt, 8191), 1);
	assert_int_equal(vmt_pt_chunk_of(&pt, 8192), 2);
	vmt_pt_close(&pt);

	assert_int_equal(create(4u << 20, 21, &pt), 0);
	assert_int_equal(pt.hdr->nr_chunks, 2);
	assert_int_equal(vmt_pt_chunk_len(&pt, 1), 2u << 20);
	vmt_pt_close(&pt);
}

static void test_parse_size(void **state)
{
	static const struct {
		const char *s;
		int err;
		uint64_t v;
	} t[] = {
	    {"4K", 0, 4096},
	    {"64k", 0, 65536},
	    {"2M", 0, 2u << 20},
	    {"1048576", 0, 1048576},
	    {"1G", 0, 1ull << 30},
	    {"3T", 0, 3ull << 40},
	    {"4KiB", 0, 4096},
	    {"4KB", 0, 4096},
	    {"2mb", 0, 2u << 20},
	    {"7B", 0, 7},
	    {"0", 0, 0},
	    {"18446744073709551615", 0, UINT64_MAX},
	    {"16777215T", 0, 16777215ull << 40},
	    {"99999999999T", -EINVAL, 0},
	    {"16777216T", -EINVAL, 0},
	    {"18446744073709551616", -EINVAL, 0},
	    {"", -EINVAL, 0},
	    {"K", -EINVAL, 0},
	    {"-1", -EINVAL, 0},
	    {"+1", -EINVAL, 0},
	    {" -1", -EINVAL, 0},
	    {" 4K", -EINVAL, 0},
	    {"4 K", -EINVAL, 0},
	    {"4X", -EINVAL, 0},
	    {"4KK", -EINVAL, 0},
	    {"4iB", -EINVAL, 0},
	    {"4Bx", -EINVAL, 0},
	    {"0x10", -EINVAL, 0},
	    {"1.5M", -EINVAL, 0},
	    {"4K ", -EINVAL, 0},
	};
	uint64_t v;

	(void)state;
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		v = 12345;
		int err = vmt_pt_parse_size(t[i].s, &v);

		if (err != t[i].err)
			fail_msg("parse_size(\"%s\") = %d, want %d", t[i].s, err, t[i].err);
		assert_int_equal(v, t[i].err ? 12345 : t[i].v);
	}
	assert_int_equal(vmt_pt_parse_size(NULL, &v), -EINVAL);
}

/* ------------------------------------------------------- create and open */

static void test_create_open_round_trip(void **state)
{
	struct vmt_pt pt, ro;
	const struct vmt_pt_header *h;

	(void)state;
	assert_int_equal(create(64ull << 20, 16, &pt), 0);
	assert_true(pt.writable);
	vmt_pt_close(&pt);
	assert_null(pt.hdr);
	vmt_pt_close(&pt); /* a closed pt is fine */

	assert_int_equal(vmt_pt_open(path, false, &ro), 0);
	h = ro.hdr;
	assert_false(ro.writable);
	assert_memory_equal(h->magic, VMT_PT_MAGIC, 8);
	assert_int_equal(h->version, VMT_PT_VERSION);
	assert_int_equal(h->header_size, VMT_PT_HEADER_SIZE);
	assert_int_equal(h->ram_size, 64ull << 20);
	assert_int_equal(h->chunk_shift, 16);
	assert_int_equal(h->nr_chunks, 1024);
	assert_int_equal(h->cap_chunks, 5);
	assert_int_equal(h->nr_hosts, 2);
	for (unsigned k = 0; k < 2; k++) {
		assert_string_equal(h->hosts[k].addr, test_hosts[k].addr);
		assert_string_equal(h->hosts[k].export, test_hosts[k].export);
		assert_string_equal(h->hosts[k].name, test_hosts[k].name);
		assert_int_equal(h->hosts[k].quota_chunks, test_hosts[k].quota_chunks);
	}
	assert_int_equal(atomic_load(&h->absent_chunks), 1024);
	assert_int_equal(atomic_load(&h->main_chunks), 0);
	assert_int_equal(atomic_load(&h->generation), 0);
	for (uint64_t i = 0; i < h->nr_chunks; i++)
		assert_int_equal(vmt_pt_load(&ro, i), 0); /* ABSENT, seq 0, no copy */
	assert_census_matches(&ro);
	vmt_pt_close(&ro);

	assert_int_equal(vmt_pt_open(path, true, &pt), 0);
	assert_true(pt.writable);
	vmt_pt_close(&pt);
}

static void test_create_truncates_long_host_strings(void **state)
{
	struct vmt_pt_host long_host;
	struct vmt_pt_create_opts o = {.sz = sizeof(o),
				       .ram_size = 1 << 20,
				       .chunk_shift = 12,
				       .nr_hosts = 1,
				       .hosts = &long_host};
	struct vmt_pt pt;

	(void)state;
	memset(&long_host, 'x', sizeof(long_host)); /* no NUL anywhere */
	assert_int_equal(vmt_pt_create(next_path(), &o, &pt), 0);
	assert_int_equal(strlen(pt.hdr->hosts[0].addr), VMT_PT_ADDR_MAX - 1);
	assert_int_equal(strlen(pt.hdr->hosts[0].export), VMT_PT_NAME_MAX - 1);
	assert_int_equal(strlen(pt.hdr->hosts[0].name), VMT_PT_NAME_MAX - 1);
	assert_int_equal(atomic_load(&pt.hdr->hosts[0].chunks), 0); /* counters ignored */
	vmt_pt_close(&pt);
}

static void test_create_refuses_bad_geometry(void **state)
{
	struct vmt_pt_create_opts o = {
	    .sz = sizeof(o), .ram_size = 1 << 20, .chunk_shift = 12, .hosts = test_hosts};
	struct vmt_pt pt;
	struct stat st;

	(void)state;
	o.chunk_shift = 11;
	assert_int_equal(vmt_pt_create(next_path(), &o, &pt), -EINVAL);
	o.chunk_shift = 22;
	assert_int_equal(vmt_pt_create(next_path(), &o, &pt), -EINVAL);
	o.chunk_shift = 12;
	o.ram_size = 0;
	assert_int_equal(vmt_pt_create(next_path(), &o, &pt), -EINVAL);
	o.ram_size = 1ull << 50; /* 2^38 entries: too big a table */
	assert_int_equal(vmt_pt_create(next_path(), &o, &pt), -EINVAL);
	o.ram_size = 1 << 20;
	o.nr_hosts = VMT_PT_MAX_HOSTS + 1;
	assert_int_equal(vmt_pt_create(next_path(), &o, &pt), -EINVAL);
	assert_int_equal(stat(path, &st), -1); /* nothing left behind */
	assert_null(pt.hdr);
}

static void test_create_on_existing_path(void **state)
{
	struct vmt_pt pt, again;
	struct vmt_pt_create_opts o = {
	    .sz = sizeof(o), .ram_size = 1 << 20, .chunk_shift = 12, .hosts = test_hosts};

	(void)state;
	assert_int_equal(create(1 << 20, 12, &pt), 0);
	assert_int_equal(vmt_pt_move_begin(&pt, 3, &(uint64_t){0}), 0);
	assert_int_equal(vmt_pt_move_end(&pt, 3, VMT_PT_MAIN, -1), 0);
	assert_int_equal(vmt_pt_create(path, &o, &again), -EEXIST);
	assert_null(again.hdr);
	/* The existing table is untouched. */
	assert_int_equal(vmt_pt_e_loc(vmt_pt_load(&pt, 3)), VMT_PT_MAIN);
	vmt_pt_close(&pt);
	assert_int_equal(vmt_pt_open(path, false, &pt), 0);
	assert_int_equal(vmt_pt_e_loc(vmt_pt_load(&pt, 3)), VMT_PT_MAIN);
	vmt_pt_close(&pt);
}

/* A good table at a fresh path, closed; its path is left in `path`. */
static void make_good_table(void)
{
	struct vmt_pt pt;

	assert_int_equal(create(1 << 20, 12, &pt), 0); /* 256 entries */
	vmt_pt_close(&pt);
}

static void pwrite_at(size_t off, const void *p, size_t n)
{
	int fd = open(path, O_WRONLY);

	assert_true(fd >= 0);
	assert_int_equal(pwrite(fd, p, n, (off_t)off), (ssize_t)n);
	close(fd);
}

static void assert_open_fails(int want)
{
	struct vmt_pt pt;

	assert_int_equal(vmt_pt_open(path, false, &pt), want);
	assert_null(pt.hdr);
	assert_int_equal(pt.fd, -1);
	assert_int_equal(vmt_pt_open(path, true, &pt), want);
	assert_null(pt.hdr);
}

static void test_open_refuses_bad_files(void **state)
{
	uint32_t u32;
	uint64_t u64;

	(void)state;
	snprintf(path, sizeof(path), "%s/missing", dir);
	assert_open_fails(-ENOENT);

	make_good_table(); /* one entry short */
	assert_int_equal(truncate(path, VMT_PT_HEADER_SIZE + 255 * 8), 0);
	assert_open_fails(-EBADMSG);
	assert_int_equal(truncate(path, 100), 0); /* shorter than the header */
	assert_open_fails(-EBADMSG);
	assert_int_equal(truncate(path, 0), 0);
	assert_open_fails(-EBADMSG);

	make_good_table();
	pwrite_at(offsetof(struct vmt_pt_header, magic), "VMTPGTB2", 8);
	assert_open_fails(-EBADMSG);

	make_good_table();
	u32 = VMT_PT_VERSION + 1;
	pwrite_at(offsetof(struct vmt_pt_header, version), &u32, sizeof(u32));
	assert_open_fails(-EBADMSG);

	make_good_table();
	u32 = 4096;
	pwrite_at(offsetof(struct vmt_pt_header, header_size), &u32, sizeof(u32));
	assert_open_fails(-EBADMSG);

	make_good_table();
	u32 = 22;
	pwrite_at(offsetof(struct vmt_pt_header, chunk_shift), &u32, sizeof(u32));
	assert_open_fails(-EBADMSG);

	make_good_table();
	u32 = VMT_PT_MAX_HOSTS + 1;
	pwrite_at(offsetof(struct vmt_pt_header, nr_hosts), &u32, sizeof(u32));
	assert_open_fails(-EBADMSG);

	make_good_table(); /* nr_chunks lies, and the file is long enough for the lie */
	u64 = 1000;
	pwrite_at(offsetof(struct vmt_pt_header, nr_chunks), &u64, sizeof(u64));
	assert_int_equal(truncate(path, VMT_PT_HEADER_SIZE + 1000 * 8), 0);
	assert_open_fails(-EBADMSG);

	make_good_table(); /* nr_chunks lies small: entries past it would be lost */
	u64 = 10;
	pwrite_at(offsetof(struct vmt_pt_header, nr_chunks), &u64, sizeof(u64));
	assert_open_fails(-EBADMSG);

	make_good_table(); /* ram_size lies big: the file no longer holds every entry */
	u64 = 2 << 20;
	pwrite_at(offsetof(struct vmt_pt_header, ram_size), &u64, sizeof(u64));
	u64 = 512;
	pwrite_at(offsetof(struct vmt_pt_header, nr_chunks), &u64, sizeof(u64));
	assert_open_fails(-EBADMSG);
}

/* ------------------------------------------------------------- writer */

static uint64_t seq_of(const struct vmt_pt *pt, uint64_t i)
{
	return vmt_pt_e_seq(vmt_pt_load(pt, i));
}

/* Move chunk i to (loc, copy) with begin/end, checking the parity on the way. */
static void move(struct vmt_pt *pt, uint64_t i, unsigned loc, int copy)
{
	uint64_t old, seq = seq_of(pt, i), gen = atomic_load(&pt->hdr->generation);

	assert_int_equal(seq % 2, 0);
	assert_int_equal(vmt_pt_move_begin(pt, i, &old), 0);
	assert_int_equal(vmt_pt_e_seq(old), seq);
	assert_true(vmt_pt_e_moving(vmt_pt_load(pt, i)));
	assert_int_equal(seq_of(pt, i), seq + 1);
	assert_int_equal(atomic_load(&pt->hdr->generation), gen); /* not yet */
	assert_int_equal(vmt_pt_move_end(pt, i, loc, copy), 0);
	assert_false(vmt_pt_e_moving(vmt_pt_load(pt, i)));
	assert_int_equal(seq_of(pt, i), seq + 2);
	assert_int_equal(vmt_pt_e_loc(vmt_pt_load(pt, i)), loc);
	assert_int_equal(vmt_pt_e_copy(vmt_pt_load(pt, i)), copy);
	assert_int_equal(atomic_load(&pt->hdr->generation), gen + 1);
	assert_census_matches(pt);
}

static void test_move_counters(void **state)
{
	struct vmt_pt pt, ro;
	struct vmt_pt_header *h;

	(void)state;
	assert_int_equal(create(16 << 12, 12, &pt), 0); /* 16 chunks */
	h = pt.hdr;
	move(&pt, 0, VMT_PT_MAIN, -1);
	move(&pt, 1, VMT_PT_MAIN, -1);
	assert_int_equal(atomic_load(&h->main_chunks), 2);
	assert_int_equal(atomic_load(&h->absent_chunks), 14);
	move(&pt, 0, VMT_PT_SUB + 1, -1); /* page-out to sub2 */
	assert_int_equal(atomic_load(&h->main_chunks), 1);
	assert_int_equal(atomic_load(&h->hosts[1].chunks), 1);
	move(&pt, 0, VMT_PT_MAIN, 1); /* page-in; sub2 keeps a clean copy */
	assert_int_equal(atomic_load(&h->hosts[1].chunks), 0);
	assert_int_equal(atomic_load(&h->hosts[1].copies), 1);
	assert_int_equal(atomic_load(&h->main_chunks), 2);
	move(&pt, 0, VMT_PT_SUB + 1, -1); /* page-out again: the copy becomes the data */
	assert_int_equal(atomic_load(&h->hosts[1].copies), 0);
	move(&pt, 0, VMT_PT_MAIN, 1);

	/* The guest writes the chunk: the copy goes, the sequence does not move. */
	uint64_t seq = seq_of(&pt, 0), gen = atomic_load(&h->generation);

	assert_int_equal(vmt_pt_drop_copy(&pt, 0), 0);
	assert_int_equal(vmt_pt_e_copy(vmt_pt_load(&pt, 0)), -1);
	assert_int_equal(seq_of(&pt, 0), seq);
	assert_int_equal(atomic_load(&h->hosts[1].copies), 0);
	assert_int_equal(vmt_pt_drop_copy(&pt, 0), 0); /* no copy: nothing to do */
	assert_int_equal(atomic_load(&h->generation), gen);
	assert_census_matches(&pt);

	move(&pt, 2, VMT_PT_SUB + 0, -1);
	move(&pt, 2, VMT_PT_ABSENT, -1); /* a zero chunk: no data anywhere */
	assert_int_equal(atomic_load(&h->hosts[0].chunks), 0);

	/* vmt_pt_set: no moving state, the sequence still advances by two. */
	seq = seq_of(&pt, 5);
	assert_int_equal(vmt_pt_set(&pt, 5, VMT_PT_SUB + 0, -1), 0);
	assert_int_equal(seq_of(&pt, 5), seq + 2);
	assert_int_equal(atomic_load(&h->hosts[0].chunks), 1);
	assert_int_equal(atomic_load(&h->generation), gen + 3);
	assert_census_matches(&pt);

	/* A second, read-only mapping of the file sees the same table. */
	assert_int_equal(vmt_pt_open(path, false, &ro), 0);
	assert_census_matches(&ro);
	assert_int_equal(vmt_pt_load(&ro, 5), vmt_pt_load(&pt, 5));
	vmt_pt_close(&ro);
	vmt_pt_close(&pt);
}

/* A pinned chunk (the VM's core) keeps its pin through every move and set. */
static void test_pin_survives_moves(void **state)
{
	struct vmt_pt pt, ro;
	struct vmt_pt_census c;
	uint64_t seq;

	(void)state;
	assert_int_equal(create(16 << 12, 12, &pt), 0);
	assert_int_equal(vmt_pt_set(&pt, 3, VMT_PT_MAIN, -1), 0);
	seq = seq_of(&pt, 3);
	assert_int_equal(vmt_pt_pin(&pt, 3), 0);
	assert_true(vmt_pt_e_pinned(vmt_pt_load(&pt, 3)));
	assert_int_equal(seq_of(&pt, 3), seq);
	assert_int_equal(vmt_pt_e_loc(vmt_pt_load(&pt, 3)), VMT_PT_MAIN);
	move(&pt, 3, VMT_PT_MAIN, 0);
	assert_true(vmt_pt_e_pinned(vmt_pt_load(&pt, 3)));
	assert_int_equal(vmt_pt_drop_copy(&pt, 3), 0);
	assert_int_equal(vmt_pt_set(&pt, 3, VMT_PT_MAIN, -1), 0);
	assert_true(vmt_pt_e_pinned(vmt_pt_load(&pt, 3)));
	assert_false(vmt_pt_e_pinned(vmt_pt_load(&pt, 4)));
	vmt_pt_census(&pt, &c);
	assert_int_equal(c.pinned, 1);
	assert_census_matches(&pt);
	assert_int_equal(vmt_pt_pin(&pt, 16), -ERANGE);
	assert_int_equal(vmt_pt_open(path, false, &ro), 0);
	assert_int_equal(vmt_pt_pin(&ro, 3), -ERANGE); /* read-only */
	vmt_pt_close(&ro);
	vmt_pt_close(&pt);
}

static void test_writer_errors(void **state)
{
	struct vmt_pt pt;
	uint64_t old, e;
	struct vmt_pt_header *h;

	(void)state;
	assert_int_equal(create(16 << 12, 12, &pt), 0);
	h = pt.hdr;
	assert_int_equal(vmt_pt_move_begin(&pt, 4, &old), 0);
	e = vmt_pt_load(&pt, 4);
	assert_int_equal(vmt_pt_move_begin(&pt, 4, &old), -EBUSY);
	assert_int_equal(vmt_pt_set(&pt, 4, VMT_PT_MAIN, -1), -EBUSY);
	/* Bad locations and copies leave the chunk moving, counters untouched. */
	assert_int_equal(vmt_pt_move_end(&pt, 4, VMT_PT_SUB + 2, -1), -ERANGE); /* 2 hosts */
	assert_int_equal(vmt_pt_move_end(&pt, 4, 200, -1), -ERANGE);
	assert_int_equal(vmt_pt_move_end(&pt, 4, VMT_PT_SUB + 0, 0), -ERANGE); /* copy: MAIN only */
	assert_int_equal(vmt_pt_move_end(&pt, 4, VMT_PT_ABSENT, 1), -ERANGE);
	assert_int_equal(vmt_pt_move_end(&pt, 4, VMT_PT_MAIN, 2), -ERANGE); /* no host 2 */
	assert_int_equal(vmt_pt_load(&pt, 4), e);
	assert_int_equal(atomic_load(&h->generation), 0);
	assert_int_equal(vmt_pt_move_end(&pt, 4, VMT_PT_MAIN, 0), 0);
	assert_int_equal(vmt_pt_move_end(&pt, 4, VMT_PT_MAIN, -1), -EINVAL); /* no begin */
	assert_int_equal(vmt_pt_move_end(&pt, 5, VMT_PT_MAIN, -1), -EINVAL);

	assert_int_equal(vmt_pt_move_begin(&pt, 16, &old), -ERANGE);
	assert_int_equal(vmt_pt_move_begin(&pt, UINT64_MAX, &old), -ERANGE);
	assert_int_equal(vmt_pt_move_end(&pt, 16, VMT_PT_MAIN, -1), -ERANGE);
	assert_int_equal(vmt_pt_set(&pt, 16, VMT_PT_MAIN, -1), -ERANGE);
	assert_int_equal(vmt_pt_set(&pt, 1, VMT_PT_SUB + 2, -1), -ERANGE);
	assert_int_equal(vmt_pt_drop_copy(&pt, 16), -ERANGE);
	assert_int_equal(vmt_pt_read_begin(&pt, 16, 10, &e), -ERANGE);
	assert_census_matches(&pt);
	vmt_pt_close(&pt);

	/* Read-only: every write is refused and nothing changes. */
	assert_int_equal(vmt_pt_open(path, false, &pt), 0);
	e = vmt_pt_load(&pt, 4);
	assert_int_equal(vmt_pt_move_begin(&pt, 0, &old), -ERANGE);
	assert_int_equal(vmt_pt_move_end(&pt, 0, VMT_PT_MAIN, -1), -ERANGE);
	assert_int_equal(vmt_pt_set(&pt, 0, VMT_PT_MAIN, -1), -ERANGE);
	assert_int_equal(vmt_pt_drop_copy(&pt, 4), -ERANGE);
	assert_int_equal(vmt_pt_load(&pt, 4), e);
	assert_int_equal(vmt_pt_e_copy(e), 0);
	vmt_pt_close(&pt);
}

/* ------------------------------------------------------------- readers */

static void test_read_begin_times_out_on_stuck_move(void **state)
{
	struct vmt_pt pt, ro;
	uint64_t old, e = 0;

	(void)state;
	assert_int_equal(create(16 << 12, 12, &pt), 0);
	assert_int_equal(vmt_pt_open(path, false, &ro), 0);
	move(&pt, 2, VMT_PT_MAIN, -1);
	assert_int_equal(vmt_pt_move_begin(&pt, 3, &old), 0); /* left moving: a stuck pager */
	assert_int_equal(vmt_pt_read_begin(&ro, 3, 50, &e), -EAGAIN);
	assert_int_equal(vmt_pt_read_begin(&ro, 3, 0, &e), -EAGAIN);
	assert_int_equal(vmt_pt_read_begin(&ro, 2, 50, &e), 0);
	assert_int_equal(e, vmt_pt_load(&pt, 2));

	/* A move that starts and ends while a reader holds e makes it retry. */
	assert_false(vmt_pt_read_retry(&ro, 2, e));
	assert_int_equal(vmt_pt_move_begin(&pt, 2, &old), 0);
	assert_true(vmt_pt_read_retry(&ro, 2, e));
	assert_int_equal(vmt_pt_move_end(&pt, 2, VMT_PT_MAIN, -1), 0); /* same place again */
	assert_true(vmt_pt_read_retry(&ro, 2, e));
	assert_int_equal(vmt_pt_read_begin(&ro, 2, 50, &e), 0);
	assert_false(vmt_pt_read_retry(&ro, 2, e));

	assert_int_equal(vmt_pt_move_end(&pt, 3, VMT_PT_MAIN, -1), 0);
	assert_int_equal(vmt_pt_read_begin(&ro, 3, 50, &e), 0);
	assert_int_equal(vmt_pt_e_seq(e), 2);
	vmt_pt_close(&ro);
	vmt_pt_close(&pt);
}

/*
 * The race: a writer moves RACE_CHUNKS chunks round a cycle of locations,
 * RACE_MOVES times; between move_begin and move_end it rewrites the chunk's
 * simulated data (RACE_WORDS words, one at a time, through a scribbled
 * state) to a tag of the new entry.  A reader on its own read-only mapping
 * follows the protocol: read_begin, copy the data, read_retry.  A read that
 * is not retried must see every word equal to the tag of the entry it read.
 */
#define RACE_CHUNKS 8
#define RACE_WORDS  8
#define RACE_MOVES  200000

struct race {
	struct vmt_pt w, r;
	_Atomic uint64_t data[RACE_CHUNKS][RACE_WORDS];
	atomic_bool done;
	uint64_t reads, retries, timeouts, inconsistent;
};

static uint64_t tag_of(uint64_t entry)
{
	uint64_t z = entry * 0x9e3779b97f4a7c15ull;

	return z ^ (z >> 29);
}

static const struct {
	unsigned loc;
	int copy;
} race_cycle[] = {
    {VMT_PT_MAIN, -1},	  {VMT_PT_SUB + 0, -1}, {VMT_PT_MAIN, 0},
    {VMT_PT_SUB + 1, -1}, {VMT_PT_MAIN, 1},	{VMT_PT_ABSENT, -1},
};

static void *race_writer(void *arg)
{
	struct race *rc = arg;
	size_t n = sizeof(race_cycle) / sizeof(race_cycle[0]);

	for (uint64_t m = 0; m < RACE_MOVES; m++) {
		uint64_t i = m % RACE_CHUNKS, old, next;
		unsigned loc = race_cycle[(m / RACE_CHUNKS) % n].loc;
		int copy = race_cycle[(m / RACE_CHUNKS) % n].copy;

		if (vmt_pt_move_begin(&rc->w, i, &old))
			break;
		/* What the entry will be after move_end: seq + 2, the new place. */
		next = ((vmt_pt_e_seq(old) + 2) << VMT_PT_SEQ_SHIFT) |
		       ((uint64_t)(copy + 1) << VMT_PT_COPY_SHIFT) | loc;
		for (unsigned w = 0; w < RACE_WORDS; w++)
			atomic_store_explicit(&rc->data[i][w], ~0ull, memory_order_relaxed);
		for (unsigned w = 0; w < RACE_WORDS; w++)
			atomic_store_explicit(&rc->data[i][w], tag_of(next), memory_order_relaxed);
		if (vmt_pt_move_end(&rc->w, i, loc, copy))
			break;
	}
	atomic_store(&rc->done, true);
	return NULL;
}

/* One read of chunk i by the protocol; counts what happened. */
static void race_read(struct race *rc, uint64_t i)
{
	uint64_t e, copy[RACE_WORDS];

	rc->reads++;
	if (vmt_pt_read_begin(&rc->r, i, 2000, &e)) {
		rc->timeouts++;
		return;
	}
	for (unsigned w = 0; w < RACE_WORDS; w++)
		copy[w] = atomic_load_explicit(&rc->data[i][w], memory_order_relaxed);
	if (vmt_pt_read_retry(&rc->r, i, e)) {
		rc->retries++;
		return;
	}
	for (unsigned w = 0; w < RACE_WORDS; w++)
		if (copy[w] != tag_of(e)) {
			rc->inconsistent++;
			break;
		}
}

static void *race_reader(void *arg)
{
	struct race *rc = arg;

	for (uint64_t n = 0; !atomic_load(&rc->done) && n < 100000000; n++)
		race_read(rc, n % RACE_CHUNKS);
	return NULL;
}

static void test_reader_writer_race(void **state)
{
	struct race *rc = calloc(1, sizeof(*rc));
	pthread_t tw, tr;
	struct vmt_pt_census c;
	uint64_t seqs = 0;

	(void)state;
	assert_non_null(rc);
	assert_int_equal(create(RACE_CHUNKS << 12, 12, &rc->w), 0);
	assert_int_equal(vmt_pt_open(path, false, &rc->r), 0);
	for (unsigned i = 0; i < RACE_CHUNKS; i++)
		for (unsigned w = 0; w < RACE_WORDS; w++)
			atomic_init(&rc->data[i][w], tag_of(0)); /* ABSENT, seq 0 */
	assert_int_equal(pthread_create(&tr, NULL, race_reader, rc), 0);
	assert_int_equal(pthread_create(&tw, NULL, race_writer, rc), 0);
	pthread_join(tw, NULL);
	pthread_join(tr, NULL);

	print_message("race: %" PRIu64 " reads, %" PRIu64 " retried, %" PRIu64
		      " timed out, %" PRIu64 " inconsistent\n",
		      rc->reads, rc->retries, rc->timeouts, rc->inconsistent);
	assert_int_equal(rc->inconsistent, 0);
	assert_true(rc->reads > rc->retries + rc->timeouts); /* some reads got through */
	assert_int_equal(atomic_load(&rc->w.hdr->generation), RACE_MOVES);
	for (unsigned i = 0; i < RACE_CHUNKS; i++)
		seqs += seq_of(&rc->w, i);
	assert_int_equal(seqs, 2 * RACE_MOVES); /* every move ended, each +2 */
	vmt_pt_census(&rc->r, &c);
	assert_int_equal(c.moving, 0);
	assert_census_matches(&rc->r);
	assert_census_matches(&rc->w);
	vmt_pt_close(&rc->r);
	vmt_pt_close(&rc->w);
	free(rc);
}

/* The RAM file's punch lock: a reader's shared lock keeps it out for the wait, no longer. */
static void test_ramfile_punch_lock(void **state)
{
	const char *p = next_path();
	int reader, puncher, other;

	(void)state;
	reader = open(p, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	puncher = open(p, O_RDWR | O_CLOEXEC);
	other = open(p, O_RDWR | O_CLOEXEC);
	assert_true(reader >= 0 && puncher >= 0 && other >= 0);
	assert_int_equal(flock(reader, LOCK_SH | LOCK_NB), 0);
	assert_int_equal(vmt_ramfile_punch_lock(puncher, 50), -EWOULDBLOCK);
	assert_int_equal(flock(reader, LOCK_UN), 0);
	assert_int_equal(vmt_ramfile_punch_lock(puncher, 50), 0);
	/* Held: a reader's listing cannot take its shared lock (it reads with pread). */
	assert_int_equal(flock(other, LOCK_SH | LOCK_NB), -1);
	assert_int_equal(errno, EWOULDBLOCK);
	close(puncher);
	assert_int_equal(flock(other, LOCK_SH | LOCK_NB), 0);
	close(other);
	close(reader);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_chunk_shift),
	    cmocka_unit_test(test_nr_chunks_and_last_chunk),
	    cmocka_unit_test(test_parse_size),
	    cmocka_unit_test(test_create_open_round_trip),
	    cmocka_unit_test(test_create_truncates_long_host_strings),
	    cmocka_unit_test(test_create_refuses_bad_geometry),
	    cmocka_unit_test(test_create_on_existing_path),
	    cmocka_unit_test(test_open_refuses_bad_files),
	    cmocka_unit_test(test_move_counters),
	    cmocka_unit_test(test_pin_survives_moves),
	    cmocka_unit_test(test_writer_errors),
	    cmocka_unit_test(test_read_begin_times_out_on_stuck_move),
	    cmocka_unit_test(test_reader_writer_race),
	    cmocka_unit_test(test_ramfile_punch_lock),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}

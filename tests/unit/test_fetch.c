// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * test_fetch.c - the runtime's two methods over split memory, against real
 * nbdkit servers on 127.0.0.1 (memory plugin, TLS-PSK):
 *  - method 1 (runtime fetch): a sparse memory file and a page table with
 *    chunks MAIN, ABSENT, on sub-host 0 and on sub-host 1 read back right
 *    through the page cache at fetch chunks 4K and 1M (single pages and
 *    batches); the memory file is neither written nor grown; the fetch
 *    cache stays under its bound; a chunk that moves during a fetch is read
 *    again from its new place; a dead sub-host costs only its pages and
 *    works again in the next listing once it is back; a wrong key gets no
 *    byte;
 *  - method 2 (VM remote paging) against a fake pager that does what the
 *    pager does (moves the chunk home: data into the file, page table
 *    move_begin/move_end): right bytes, chunks MAIN afterwards; hints
 *    (the prefetch stream) start page-ins that a read then waits for.
 * Every nbdkit runs with --exit-with-parent and is killed in teardown.
 * Skipped (77) without nbdkit.
 */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <arpa/inet.h>
#include <unistd.h>

#include <cmocka.h>

#include "mem/mem.h"
#include "memsrc/memsrc.h"
#include "memsrc/split.h"
#include "pager/pager_proto.h"
#include "pagetable/pagetable.h"
#include "subhost/subhost.h"

#define RAM_SIZE  (16u << 20)
#define PT_SHIFT  16 /* 64 KiB page-table chunks */
#define PT_CHUNK  (1u << PT_SHIFT)
#define NR_CHUNKS (RAM_SIZE / PT_CHUNK)
#define PAGE	  4096u

struct server {
	pid_t pid;
	unsigned port;
	char addr[32];
};

static char tmpdir[64], key[128], bad_key[128];
static struct server srv[2];

/* ------------------------------------------------------------ nbdkit */

static unsigned free_port(void)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	unsigned port = 0;

	if (fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0 &&
	    getsockname(fd, (struct sockaddr *)&a, &len) == 0)
		port = ntohs(a.sin_port);
	if (fd >= 0)
		close(fd);
	return port;
}

static pid_t spawn_nbdkit(unsigned port, const char *pidfile)
{
	char portarg[16], log[128], tls[160];
	pid_t pid;

	snprintf(portarg, sizeof(portarg), "%u", port);
	snprintf(log, sizeof(log), "%s/nbdkit.log", tmpdir);
	snprintf(tls, sizeof(tls), "--tls-psk=%s", key);
	pid = fork();
	if (pid == 0) {
		int fd = open(log, O_WRONLY | O_CREAT | O_APPEND, 0600);

		if (fd >= 0) {
			dup2(fd, 1);
			dup2(fd, 2);
		}
		execlp("nbdkit", "nbdkit", "-f", "--exit-with-parent", "-i", "127.0.0.1", "-p",
		       portarg, "-P", pidfile, "--tls=require", tls, "memory", "size=64M",
		       (char *)NULL);
		_exit(127);
	}
	return pid;
}

/* Start sv on its port (or a free one if 0); bounded wait for its pid file. */
static int server_start(struct server *sv)
{
	char pidfile[128];

	snprintf(pidfile, sizeof(pidfile), "%s/nbdkit-%d.pid", tmpdir, (int)(sv - srv));
	for (int attempt = 0; attempt < 5; attempt++) {
		unsigned port = sv->port ? sv->port : free_port();

		unlink(pidfile);
		sv->pid = spawn_nbdkit(port, pidfile);
		for (int i = 0; i < 200 && sv->pid > 0; i++) {
			if (access(pidfile, F_OK) == 0) {
				sv->port = port;
				snprintf(sv->addr, sizeof(sv->addr), "127.0.0.1:%u", port);
				return 0;
			}
			if (waitpid(sv->pid, NULL, WNOHANG) == sv->pid)
				break;
			usleep(25000);
		}
		if (sv->pid > 0) {
			kill(sv->pid, SIGKILL);
			waitpid(sv->pid, NULL, 0);
		}
		sv->pid = 0;
		usleep(100000); /* a restarted server's port may still be held briefly */
	}
	return -1;
}

static void server_stop(struct server *sv)
{
	if (sv->pid > 0) {
		kill(sv->pid, SIGKILL);
		waitpid(sv->pid, NULL, 0);
		sv->pid = 0;
	}
}

static struct vmt_subhost *server_connect(const struct server *sv)
{
	struct vmt_subhost_opts o = {.sz = sizeof(o),
				     .addr = sv->addr,
				     .psk_file = key,
				     .connect_timeout_ms = 3000,
				     .io_timeout_ms = 3000};
	struct vmt_subhost *s = NULL;

	if (vmt_subhost_connect(&o, &s))
		fail_msg("connect %s: %s", sv->addr, vmt_subhost_last_error());
	return s;
}

/* --------------------------------------------------------- the world */

/*
 * Where each chunk lives: 0..3 MAIN, 4..7 ABSENT, 8..15 sub-host 0,
 * 16..23 sub-host 1, 32..55 cycling sub-host 0 / sub-host 1 / MAIN (so a
 * 1M fetch chunk holds runs of both hosts and MAIN in between), 64..66
 * sub-host 0, the rest ABSENT.
 */
static int chunk_loc(uint64_t c)
{
	if (c < 4)
		return VMT_PT_MAIN;
	if (c >= 8 && c < 16)
		return VMT_PT_SUB + 0;
	if (c >= 16 && c < 24)
		return VMT_PT_SUB + 1;
	if (c >= 32 && c < 56)
		return (int[]){VMT_PT_SUB + 0, VMT_PT_SUB + 1, VMT_PT_MAIN}[c % 3];
	if (c >= 64 && c < 67)
		return VMT_PT_SUB + 0;
	return VMT_PT_ABSENT;
}

/* The bytes of location loc at off: distinct per place, so a mix-up shows. */
static void fill(uint8_t *b, size_t len, uint64_t off, unsigned seed)
{
	for (size_t i = 0; i < len; i++) {
		uint64_t a = off + i,
			 x = ((a & ~7ull) * 0x9e3779b97f4a7c15ull) ^ ((uint64_t)seed << 56) ^ seed;

		b[i] = (uint8_t)(x >> (a & 7) * 8);
	}
}

static void expect_bytes(uint8_t *b, size_t len, uint64_t off)
{
	for (size_t done = 0; done < len;) {
		uint64_t c = (off + done) / PT_CHUNK,
			 n = VMT_MIN(len - done, (c + 1) * PT_CHUNK - off - done);
		int loc = chunk_loc(c);

		if (loc == VMT_PT_ABSENT)
			memset(b + done, 0, n);
		else
			fill(b + done, n, off + done, (unsigned)loc);
		done += n;
	}
}

struct world {
	char mem[96], pt_path[100], sock[100];
	int fd;
	struct vmt_pt pt; /* writable: the test plays the pager */
	struct vmt_subhost *h[2];
};

static void world_write_subhost(struct world *w, int k)
{
	uint8_t *buf = malloc(PT_CHUNK);

	/* Junk everywhere first: a read that crosses into another's chunk shows. */
	for (uint64_t c = 0; c < NR_CHUNKS; c++) {
		if (chunk_loc(c) == VMT_PT_SUB + k)
			fill(buf, PT_CHUNK, c * PT_CHUNK, (unsigned)(VMT_PT_SUB + k));
		else
			memset(buf, 0xa5 + k, PT_CHUNK);
		assert_int_equal(vmt_subhost_pwrite(w->h[k], buf, PT_CHUNK, c * PT_CHUNK), 0);
	}
	assert_int_equal(vmt_subhost_flush(w->h[k]), 0);
	free(buf);
}

static int world_setup(void **state)
{
	struct world *w = calloc(1, sizeof(*w));
	struct vmt_pt_host hosts[2] = {0};
	struct vmt_pt_create_opts o = {.sz = sizeof(o),
				       .ram_size = RAM_SIZE,
				       .chunk_shift = PT_SHIFT,
				       .nr_hosts = 2,
				       .hosts = hosts};
	uint8_t *buf = malloc(PT_CHUNK);

	snprintf(w->mem, sizeof(w->mem), "/dev/shm/hf-fetch-%d.ram", (int)getpid());
	snprintf(w->pt_path, sizeof(w->pt_path), "%s/pagetable", tmpdir);
	snprintf(w->sock, sizeof(w->sock), "%s/pager.sock", tmpdir);
	unlink(w->pt_path);
	w->fd = open(w->mem, O_RDWR | O_CREAT | O_TRUNC, 0600);
	assert_true(w->fd >= 0);
	assert_int_equal(ftruncate(w->fd, RAM_SIZE), 0);
	for (int k = 0; k < 2; k++) {
		snprintf(hosts[k].addr, sizeof(hosts[k].addr), "%s", srv[k].addr);
		snprintf(hosts[k].name, sizeof(hosts[k].name), "sub%d", k + 1);
		hosts[k].quota_chunks = NR_CHUNKS;
	}
	assert_int_equal(vmt_pt_create(w->pt_path, &o, &w->pt), 0);
	for (uint64_t c = 0; c < NR_CHUNKS; c++) {
		int loc = chunk_loc(c);

		assert_int_equal(vmt_pt_set(&w->pt, c, (unsigned)loc, -1), 0);
		if (loc != VMT_PT_MAIN)
			continue;
		fill(buf, PT_CHUNK, c * PT_CHUNK, VMT_PT_MAIN);
		assert_int_equal(pwrite(w->fd, buf, PT_CHUNK, (off_t)(c * PT_CHUNK)), PT_CHUNK);
	}
	for (int k = 0; k < 2; k++) {
		w->h[k] = server_connect(&srv[k]);
		world_write_subhost(w, k);
	}
	free(buf);
	*state = w;
	return 0;
}

static int world_teardown(void **state)
{
	struct world *w = *state;

	vmt_fetch_test_hook = NULL;
	for (int k = 0; k < 2; k++) {
		kill(srv[k].pid, SIGCONT); /* a test that froze it and failed */
		vmt_subhost_close(w->h[k]);
	}
	vmt_pt_close(&w->pt);
	close(w->fd);
	unlink(w->mem);
	unlink(w->pt_path);
	unlink(w->sock);
	free(w);
	return 0;
}

static struct vmt_memsrc_split_opts opts_runtime(unsigned fetch_shift, uint64_t cache)
{
	return (struct vmt_memsrc_split_opts){.fetch = VMT_FETCH_RUNTIME,
					      .fetch_shift = fetch_shift,
					      .fetch_cache_bytes = cache,
					      .psk_file = key,
					      .timeout_ms = 3000};
}

static struct vmt_mem *open_mem(struct world *w, const struct vmt_memsrc_split_opts *o)
{
	struct vmt_ram_layout l;
	struct vmt_memsrc *src;
	struct vmt_mem *m;
	int err;

	assert_int_equal(vmt_ram_layout_x86(RAM_SIZE, "pc", 0, &l), 0);
	err = vmt_memsrc_split_open_opts(w->mem, &l, w->pt_path, o, &src);
	if (err)
		fail_msg("split open: %d %s", err, vmt_last_error());
	assert_int_equal(vmt_mem_new(src, 0, &m), 0);
	return m;
}

static void check_read(struct vmt_mem *m, uint64_t off, size_t len)
{
	uint8_t *got = malloc(len), *want = malloc(len);
	int err = vmt_mem_read(m, off, got, len);

	if (err)
		fail_msg("read %zu bytes at %#llx: %d %s", len, (unsigned long long)off, err,
			 vmt_last_error());
	expect_bytes(want, len, off);
	for (size_t i = 0; i < len; i++)
		if (got[i] != want[i])
			fail_msg("byte %#llx (chunk %llu): got %#x, want %#x",
				 (unsigned long long)(off + i),
				 (unsigned long long)((off + i) / PT_CHUNK), got[i], want[i]);
	free(got);
	free(want);
}

/* Every page of the first 5 MiB one by one, then batches (multi-page reads). */
static void read_everything(struct vmt_mem *m)
{
	for (uint64_t off = 0; off < 5u << 20; off += PAGE)
		check_read(m, off, PAGE);
	vmt_mem_epoch(m);
	for (uint64_t off = 0; off < 5u << 20; off += 96 * 1024)
		check_read(m, off + 100, 96 * 1024);
	vmt_mem_epoch(m);
	check_read(m, 30 * PT_CHUNK - 8, 26 * PT_CHUNK); /* the mixed run: 4 batches */
}

static void file_state(const struct world *w, struct stat *st)
{
	assert_int_equal(fstat(w->fd, st), 0);
}

/* -------------------------------------------------------- method 1 */

static void runtime_reads(struct world *w, unsigned fetch_shift, uint64_t bound)
{
	struct vmt_memsrc_split_opts o = opts_runtime(fetch_shift, bound);
	struct stat before, after;
	struct vmt_mem_stats *st;
	struct vmt_mem *m;

	file_state(w, &before);
	m = open_mem(w, &o);
	read_everything(m);
	st = vmt_mem_stats_ptr(m);
	print_message(
	    "fetch 2^%u, cache %llu: local %llu, fetched %llu (cache hits %llu), round "
	    "trips %llu, host0 %llu req %llu B, host1 %llu req %llu B, cache max %llu\n",
	    fetch_shift, (unsigned long long)bound, (unsigned long long)st->pages_local,
	    (unsigned long long)st->pages_fetched, (unsigned long long)st->fetch_cache_hits,
	    (unsigned long long)st->round_trips, (unsigned long long)st->host_requests[0],
	    (unsigned long long)st->host_bytes[0], (unsigned long long)st->host_requests[1],
	    (unsigned long long)st->host_bytes[1], (unsigned long long)st->cache_bytes_max);
	assert_true(st->pages_fetched > 0 && st->pages_local > 0);
	assert_true(st->host_requests[0] > 0 && st->host_requests[1] > 0);
	assert_int_equal(st->remote, 0);
	assert_int_equal(st->fetch_errors, 0);
	assert_true(st->cache_bytes_max <= bound);
	/* The fetch chunk is what goes over the wire: never more, never across a foreign chunk. */
	assert_true(st->host_bytes[0] <= st->host_requests[0] * (1ull << fetch_shift));
	vmt_mem_free(m);
	file_state(w, &after);
	assert_int_equal(before.st_blocks, after.st_blocks);
	assert_int_equal(before.st_size, after.st_size);
	assert_int_equal(before.st_mtim.tv_sec, after.st_mtim.tv_sec);
	assert_int_equal(before.st_mtim.tv_nsec, after.st_mtim.tv_nsec);
}

static void test_runtime_4k(void **state)
{
	runtime_reads(*state, 12, 64 * 1024);
}

static void test_runtime_1m(void **state)
{
	runtime_reads(*state, 20, 1u << 20);
}

/* Fetched ranges bigger than the cache bound (512K runs, 256K bound): used once, never kept. */
static void test_runtime_2m_small_cache(void **state)
{
	runtime_reads(*state, 21, 256u << 10);
}

/* The cache survives a listing for chunks that did not move, and only those. */
static void test_cache_across_listings(void **state)
{
	struct world *w = *state;
	struct vmt_memsrc_split_opts o = opts_runtime(16, 4u << 20);
	struct vmt_mem *m = open_mem(w, &o);
	struct vmt_mem_stats *st = vmt_mem_stats_ptr(m);
	uint8_t *buf = malloc(PT_CHUNK);
	uint64_t old;

	check_read(m, 8 * PT_CHUNK, PAGE);
	check_read(m, 16 * PT_CHUNK, PAGE);
	assert_int_equal(st->round_trips, 2);
	vmt_mem_epoch(m);
	check_read(m, 8 * PT_CHUNK + PAGE, PAGE);
	assert_int_equal(st->round_trips, 2); /* unchanged chunk: from the cache */
	assert_int_equal(st->fetch_cache_hits, 1);
	/* Chunk 16 goes home with new data: the cached copy must not be used. */
	assert_int_equal(vmt_pt_move_begin(&w->pt, 16, &old), 0);
	fill(buf, PT_CHUNK, 16 * PT_CHUNK, 77);
	assert_int_equal(pwrite(w->fd, buf, PT_CHUNK, 16 * PT_CHUNK), PT_CHUNK);
	assert_int_equal(vmt_pt_move_end(&w->pt, 16, VMT_PT_MAIN, -1), 0);
	vmt_mem_epoch(m);
	assert_int_equal(vmt_mem_read(m, 16 * PT_CHUNK + PAGE, buf, 8), 0);
	fill(buf + 8, 8, 16 * PT_CHUNK + PAGE, 77);
	assert_memory_equal(buf, buf + 8, 8);
	assert_int_equal(st->round_trips, 2);
	vmt_mem_free(m);
	free(buf);
}

struct mover {
	struct world *w;
	uint64_t chunk;
	bool fired;
};

/* Plays a page-in racing the fetch: the chunk comes home with new data. */
static void move_home(void *arg)
{
	struct mover *mv = arg;
	uint8_t *buf;
	uint64_t old;

	if (mv->fired)
		return;
	mv->fired = true;
	buf = malloc(PT_CHUNK);
	assert_int_equal(vmt_pt_move_begin(&mv->w->pt, mv->chunk, &old), 0);
	fill(buf, PT_CHUNK, mv->chunk * PT_CHUNK, 99);
	assert_int_equal(pwrite(mv->w->fd, buf, PT_CHUNK, (off_t)(mv->chunk * PT_CHUNK)), PT_CHUNK);
	assert_int_equal(vmt_pt_move_end(&mv->w->pt, mv->chunk, VMT_PT_MAIN, -1), 0);
	free(buf);
}

static void test_moved_during_fetch(void **state)
{
	struct world *w = *state;
	struct vmt_memsrc_split_opts o = opts_runtime(20, 4u << 20);
	struct mover mv = {.w = w, .chunk = 9};
	struct vmt_mem *m = open_mem(w, &o);
	uint8_t got[64], want[64];

	vmt_fetch_test_arg = &mv;
	vmt_fetch_test_hook = move_home;
	assert_int_equal(vmt_mem_read(m, 9 * PT_CHUNK + 4 * PAGE, got, sizeof(got)), 0);
	vmt_fetch_test_hook = NULL;
	assert_true(mv.fired);
	fill(want, sizeof(want), 9 * PT_CHUNK + 4 * PAGE, 99);
	assert_memory_equal(got, want, sizeof(got)); /* the new data, not the stale fetch */
	assert_true(vmt_mem_stats_ptr(m)->fetch_retries >= 1);
	/* Its neighbours of the same fetch were not disturbed. */
	check_read(m, 10 * PT_CHUNK, PAGE);
	vmt_mem_free(m);
}

static bool is_conn_error(int err)
{
	return err == -ECONNREFUSED || err == -ECONNRESET || err == -EIO || err == -ETIMEDOUT;
}

static void test_dead_subhost(void **state)
{
	struct world *w = *state;
	struct vmt_memsrc_split_opts o = opts_runtime(16, 0);
	struct vmt_mem *m = open_mem(w, &o);
	uint8_t buf[16];
	int err;

	check_read(m, 16 * PT_CHUNK, PAGE); /* a live connection to sub-host 1 */
	server_stop(&srv[1]);
	vmt_mem_epoch(m);
	err = vmt_mem_read(m, 17 * PT_CHUNK, buf, sizeof(buf));
	print_message("dead sub-host: %d (%s)\n", err, vmt_last_error());
	assert_true(is_conn_error(err));
	err = vmt_mem_read(m, 18 * PT_CHUNK, buf, sizeof(buf)); /* down: fails at once */
	assert_true(is_conn_error(err));
	check_read(m, 8 * PT_CHUNK, PAGE); /* the other sub-host and MAIN still read */
	check_read(m, 0, PAGE);
	assert_true(vmt_mem_stats_ptr(m)->fetch_errors >= 2);
	/* Back (empty: the memory plugin lost its data; the test puts it back). */
	assert_int_equal(server_start(&srv[1]), 0);
	vmt_subhost_close(w->h[1]);
	w->h[1] = server_connect(&srv[1]);
	world_write_subhost(w, 1);
	vmt_mem_epoch(m);
	check_read(m, 17 * PT_CHUNK, 3 * PAGE);
	vmt_mem_free(m);
}

struct restart_read {
	struct vmt_mem *m;
	uint8_t buf[16];
	int err;
};

static void *read_during_restart(void *arg)
{
	struct restart_read *r = arg;

	r->err = vmt_mem_read(r->m, 17 * PT_CHUNK, r->buf, sizeof(r->buf));
	return NULL;
}

/* A sub-host's server dies and is back 0.3 s later (as its supervisor does): the
 * read that found the connection dead waits for it instead of losing it.  (The
 * server is restarted by this thread, its parent: nbdkit --exit-with-parent.) */
static void test_subhost_restarts(void **state)
{
	struct world *w = *state;
	struct vmt_memsrc_split_opts o = opts_runtime(16, 0);
	struct restart_read r = {.m = open_mem(w, &o)};
	uint64_t errors;
	pthread_t thr;

	check_read(r.m, 16 * PT_CHUNK, PAGE); /* a live connection to sub-host 1 */
	errors = vmt_mem_stats_ptr(r.m)->fetch_errors;
	server_stop(&srv[1]);
	assert_int_equal(pthread_create(&thr, NULL, read_during_restart, &r), 0);
	usleep(300 * 1000);
	assert_int_equal(server_start(&srv[1]), 0);
	assert_int_equal(pthread_join(thr, NULL), 0);
	/* Same listing (no epoch).  The memory plugin came back empty: the bytes are
	 * not checked, the read is. */
	assert_int_equal(r.err, 0);
	assert_int_equal(vmt_mem_stats_ptr(r.m)->fetch_errors, errors);
	vmt_subhost_close(w->h[1]);
	w->h[1] = server_connect(&srv[1]);
	vmt_mem_free(r.m);
}

static void test_wrong_key(void **state)
{
	struct world *w = *state;
	struct vmt_memsrc_split_opts o = opts_runtime(16, 0);
	struct vmt_ram_layout l;
	struct vmt_memsrc *src;
	uint8_t page[PAGE], junk[PAGE];
	int err;

	o.psk_file = bad_key;
	assert_int_equal(vmt_ram_layout_x86(RAM_SIZE, "pc", 0, &l), 0);
	assert_int_equal(vmt_memsrc_split_open_opts(w->mem, &l, w->pt_path, &o, &src), 0);
	memset(page, 0xee, sizeof(page));
	memset(junk, 0xee, sizeof(junk));
	err = vmt_memsrc_read_page(src, 8 * PT_CHUNK / PAGE, page);
	print_message("wrong key: %d (%s)\n", err, vmt_last_error());
	assert_int_equal(err, -EACCES);
	assert_memory_equal(page, junk, PAGE);			 /* no byte */
	assert_int_equal(vmt_memsrc_read_page(src, 0, page), 0); /* MAIN still reads */
	vmt_memsrc_free(src);
	/* No key and not insecure: refused at open. */
	o.psk_file = NULL;
	assert_int_equal(vmt_memsrc_split_open_opts(w->mem, &l, w->pt_path, &o, &src), -EINVAL);
}

/* Batches through the source directly: one round trip for pages on both hosts. */
static void test_batch_one_round_trip(void **state)
{
	struct world *w = *state;
	struct vmt_memsrc_split_opts o = opts_runtime(16, 0);
	struct vmt_mem *m = open_mem(w, &o);
	struct vmt_memsrc *src;
	struct vmt_ram_layout l;
	struct vmt_page_req req[6];
	uint64_t pfns[6] = {0, 5 * 16, 8 * 16, 9 * 16 + 3, 16 * 16, 33 * 16 + 15};
	uint8_t *bufs = malloc(6 * PAGE), want[PAGE];
	struct vmt_mem_stats *st;

	vmt_mem_free(m);
	assert_int_equal(vmt_ram_layout_x86(RAM_SIZE, "pc", 0, &l), 0);
	assert_int_equal(vmt_memsrc_split_open_opts(w->mem, &l, w->pt_path, &o, &src), 0);
	st = vmt_memsrc_stats(src);
	memset(st, 0, sizeof(*st));
	for (int i = 0; i < 6; i++)
		req[i] = (struct vmt_page_req){.pfn = pfns[i], .buf = bufs + i * PAGE};
	assert_int_equal(vmt_memsrc_read_pages(src, req, 6), 0);
	for (int i = 0; i < 6; i++) {
		assert_int_equal(req[i].err, 0);
		expect_bytes(want, PAGE, pfns[i] * PAGE);
		assert_memory_equal(bufs + i * PAGE, want, PAGE);
	}
	assert_int_equal(st->round_trips, 1);
	assert_int_equal(st->host_requests[0], 3);
	assert_int_equal(st->host_requests[1], 1);
	vmt_memsrc_free(src);
	free(bufs);
}

/*
 * Correctness under motion: a writer plays the pager, moving chunks 8..15
 * between sub-host 0 and the main host in both directions in the order the
 * pager does (page-out: send, flush, move_begin, punch, move_end; page-in:
 * move_begin, fetch, write, move_end), while the runtime reads them.  The
 * data is the same wherever the chunk is, so every successful read must
 * give exactly it: never zeros of a hole, never junk; -EAGAIN is allowed.
 */
struct churn {
	struct world *w;
	struct vmt_subhost *h; /* the writer's own connection */
	unsigned moves;
	_Atomic bool stop; /* between the test and its churn thread */
};

static int churn_move(struct churn *ch, uint64_t c, uint8_t *buf)
{
	uint64_t e = vmt_pt_load(&ch->w->pt, c), old;
	off_t off = (off_t)(c * PT_CHUNK);

	if (vmt_pt_e_loc(e) == VMT_PT_MAIN) {
		if (pread(ch->w->fd, buf, PT_CHUNK, off) != PT_CHUNK ||
		    vmt_subhost_pwrite(ch->h, buf, PT_CHUNK, (uint64_t)off) ||
		    vmt_subhost_flush(ch->h) || vmt_pt_move_begin(&ch->w->pt, c, &old) ||
		    fallocate(ch->w->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, off, PT_CHUNK))
			return -1;
		return vmt_pt_move_end(&ch->w->pt, c, VMT_PT_SUB + 0, -1);
	}
	if (vmt_pt_move_begin(&ch->w->pt, c, &old) ||
	    vmt_subhost_pread(ch->h, buf, PT_CHUNK, (uint64_t)off) ||
	    pwrite(ch->w->fd, buf, PT_CHUNK, off) != PT_CHUNK)
		return -1;
	return vmt_pt_move_end(&ch->w->pt, c, VMT_PT_MAIN, 0);
}

static void *churn_main(void *arg)
{
	struct churn *ch = arg;
	uint8_t *buf = malloc(PT_CHUNK);
	unsigned seed = 12345;

	for (unsigned i = 0; i < 400 && !ch->stop; i++) {
		if (churn_move(ch, 8 + rand_r(&seed) % 8, buf))
			break;
		ch->moves++;
		usleep(200);
	}
	free(buf);
	ch->stop = true;
	return NULL;
}

static void churn_run(struct world *w, const struct vmt_memsrc_split_opts *o)
{
	struct churn ch = {.w = w, .h = server_connect(&srv[0])};
	struct vmt_mem *m = open_mem(w, o);
	uint8_t *got = malloc(3 * PAGE), *want = malloc(3 * PAGE);
	unsigned ok = 0, again = 0, seed = 7;
	pthread_t thr;

	assert_int_equal(pthread_create(&thr, NULL, churn_main, &ch), 0);
	for (unsigned i = 0; i < 20000 && !ch.stop; i++) {
		uint64_t off =
		    8 * PT_CHUNK + (uint64_t)(rand_r(&seed) % (8 * PT_CHUNK / PAGE - 2)) * PAGE;
		int err;

		vmt_mem_epoch(m); /* every read a new listing: nothing from the page cache */
		err = vmt_mem_read(m, off, got, 3 * PAGE);
		if (err == -EAGAIN) {
			again++;
			continue;
		}
		if (err)
			fail_msg("read at %#llx: %d %s", (unsigned long long)off, err,
				 vmt_last_error());
		expect_bytes(want, 3 * PAGE, off);
		if (memcmp(got, want, 3 * PAGE))
			fail_msg("wrong data at %#llx after %u moves", (unsigned long long)off,
				 ch.moves);
		ok++;
	}
	ch.stop = true;
	pthread_join(thr, NULL);
	print_message("churn (fetch %d): %u reads right, %u gave up (-EAGAIN), %u moves, %llu "
		      "retries\n",
		      o->fetch, ok, again, ch.moves,
		      (unsigned long long)vmt_mem_stats_ptr(m)->fetch_retries);
	assert_true(ok > 0 && ch.moves > 0);
	vmt_mem_free(m);
	vmt_subhost_close(ch.h);
	free(got);
	free(want);
}

static void test_runtime_under_motion(void **state)
{
	struct vmt_memsrc_split_opts o = opts_runtime(16, 1u << 20);

	churn_run(*state, &o);
}

/* Probes (the KASLR search) never fetch: a remote page is -ENODATA, uncounted. */
static void test_local_probe(void **state)
{
	struct vmt_memsrc_split_opts o = opts_runtime(16, 0);
	struct vmt_mem *m = open_mem(*state, &o);
	struct vmt_mem_stats *st = vmt_mem_stats_ptr(m);
	uint8_t b[64];

	assert_int_equal(vmt_mem_read_local(m, 8 * PT_CHUNK, b, sizeof(b)), -ENODATA);
	assert_int_equal(st->round_trips, 0);
	assert_int_equal(st->remote, 0);
	assert_int_equal(st->fetch_errors, 0);
	assert_int_equal(vmt_mem_read_local(m, 0, b, sizeof(b)), 0);
	check_read(m, 8 * PT_CHUNK, PAGE); /* a real read still fetches it */
	assert_int_equal(st->round_trips, 1);
	vmt_mem_free(m);
}

/* A prefetch hint brings many pages of both sub-hosts in one round trip; huge chunks: no hint. */
static void test_prefetch_hint(void **state)
{
	struct world *w = *state;
	struct vmt_memsrc_split_opts o = opts_runtime(12, 4u << 20); /* 1024 chunks fit */
	struct vmt_mem *m = open_mem(w, &o);
	struct vmt_mem_stats *st = vmt_mem_stats_ptr(m);
	uint64_t pfns[40], trips;

	assert_true(vmt_mem_hints_pay(m));
	for (unsigned i = 0; i < 40; i++) /* chunks 8..47: both hosts, MAIN, a few twice */
		pfns[i] = (8 + i) * (PT_CHUNK / PAGE) + (i % 3);
	pfns[39] = pfns[0];
	vmt_mem_prefetch(m, pfns, 40);
	assert_int_equal(st->round_trips, 1);
	for (unsigned i = 0; i < 39; i++)
		check_read(m, pfns[i] * PAGE, PAGE);
	assert_int_equal(st->round_trips, 1); /* every read was a page-cache hit */
	assert_int_equal(st->fetch_errors, 0);
	vmt_mem_free(m);
	/* 1M chunks, 4M cache: batches of at most 4 pages, still right. */
	o = opts_runtime(20, 4u << 20);
	m = open_mem(w, &o);
	st = vmt_mem_stats_ptr(m);
	assert_true(vmt_mem_hints_pay(m));
	vmt_mem_prefetch(m, pfns, 40);
	trips = st->round_trips;
	assert_true(trips >= 1);
	for (unsigned i = 0; i < 39; i++)
		check_read(m, pfns[i] * PAGE, PAGE);
	assert_int_equal(st->round_trips, trips); /* the hint brought every page */
	assert_int_equal(st->fetch_errors, 0);
	vmt_mem_free(m);
	/* 2M chunks, 4M cache: two chunks a batch are no better than reading on demand. */
	o = opts_runtime(21, 4u << 20);
	m = open_mem(w, &o);
	assert_false(vmt_mem_hints_pay(m));
	vmt_mem_prefetch(m, pfns, 40);
	assert_int_equal(vmt_mem_stats_ptr(m)->round_trips, 0);
	vmt_mem_free(m);
}

/*
 * A hint (hint()) with sub-host 1 down: its pages fail without a word (the
 * batch's and the stream's reads straight into slots must leave none
 * behind: a later read is that sub-host's error, never stale or zero
 * bytes), the real read names the error, the hint's other pages, the other
 * sub-host's and MAIN's, read right without another round trip; once the
 * sub-host is back the same pages read right.
 */
static void hint_with_host_down(struct world *w,
				void (*hint)(struct vmt_mem *m, const uint64_t *pfns, size_t n))
{
	struct vmt_memsrc_split_opts o = opts_runtime(12, 4u << 20);
	struct vmt_mem *m = open_mem(w, &o);
	struct vmt_mem_stats *st = vmt_mem_stats_ptr(m);
	uint64_t pfns[40], trips;
	uint8_t buf[16];
	int err;

	for (unsigned i = 0; i < 40; i++) /* chunks 0..39: MAIN and both sub-hosts */
		pfns[i] = i * (PT_CHUNK / PAGE);
	check_read(m, 16 * PT_CHUNK, PAGE); /* a live connection to sub-host 1 */
	server_stop(&srv[1]);
	vmt_mem_epoch(m);
	hint(m, pfns, 40);
	assert_int_equal(st->fetch_errors, 0); /* a hint's failures are the reads' to report */
	trips = st->round_trips;
	err = vmt_mem_read(m, 17 * PT_CHUNK, buf, sizeof(buf));
	assert_true(is_conn_error(err));
	for (unsigned i = 0; i < 16; i++) /* MAIN and sub-host 0: brought by the hint */
		check_read(m, pfns[i] * PAGE, PAGE);
	assert_int_equal(st->round_trips, trips);
	assert_int_equal(server_start(&srv[1]), 0);
	vmt_subhost_close(w->h[1]);
	w->h[1] = server_connect(&srv[1]);
	world_write_subhost(w, 1);
	vmt_mem_epoch(m);
	hint(m, pfns, 40);
	for (unsigned i = 0; i < 40; i++)
		check_read(m, pfns[i] * PAGE, PAGE);
	vmt_mem_free(m);
}

static void test_prefetch_with_host_down(void **state)
{
	hint_with_host_down(*state, vmt_mem_prefetch);
}

/*
 * The prefetch stream (vmt_mem_stream_add): the reads go out at once and a
 * fetcher thread takes the answers in while the caller goes on; the first
 * read that needs a sub-host ends the stream, and every page then reads
 * right, counted as fetched (not as a second use of the cache), in one
 * round trip for the whole stream.
 */
static void test_stream_hint(void **state)
{
	struct world *w = *state;
	struct vmt_memsrc_split_opts o = opts_runtime(12, 4u << 20);
	struct vmt_mem *m = open_mem(w, &o);
	struct vmt_mem_stats *st = vmt_mem_stats_ptr(m);
	uint64_t pfns[40];

	assert_true(vmt_mem_streams(m));
	for (unsigned i = 0; i < 40; i++) /* chunks 8..47: both hosts, MAIN, a few twice */
		pfns[i] = (8 + i) * (PT_CHUNK / PAGE) + (i % 3);
	pfns[39] = pfns[0];
	for (unsigned i = 0; i < 40; i += 8) { /* as a walk finds them, a few at a time */
		vmt_mem_stream_add(m, pfns + i, 8);
		vmt_mem_stream_pump(m);
	}
	assert_int_equal(st->round_trips, 0); /* nothing waited for yet */
	for (unsigned i = 0; i < 39; i++)
		check_read(m, pfns[i] * PAGE, PAGE);
	assert_int_equal(st->round_trips, 1);
	assert_int_equal(st->fetch_errors, 0);
	assert_int_equal(st->fetch_cache_hits, 0);
	assert_true(st->pages_fetched > 0);
	vmt_mem_stream_end(m); /* ended already: nothing happens */
	assert_int_equal(st->round_trips, 1);
	vmt_mem_free(m);
	/* Without streams (method 2's or 2M chunks), a stream hint is an ordinary prefetch. */
	o = opts_runtime(21, 4u << 20);
	m = open_mem(w, &o);
	assert_false(vmt_mem_streams(m));
	vmt_mem_stream_add(m, pfns, 40);
	check_read(m, pfns[0] * PAGE, PAGE);
	vmt_mem_free(m);
}

/*
 * A hint's peek (vmt_mem_peek_local) reads a page here without caching it,
 * reads an absent chunk as zeros, and answers -ENODATA for a page on a
 * sub-host without fetching it; a page already cached comes from the cache.
 */
static void test_peek_local(void **state)
{
	struct world *w = *state;
	struct vmt_memsrc_split_opts o = opts_runtime(12, 4u << 20);
	struct vmt_mem *m = open_mem(w, &o);
	struct vmt_mem_stats *st = vmt_mem_stats_ptr(m);
	uint8_t got[24], want[24];
	uint64_t at = 2 * PT_CHUNK + 3 * PAGE + 100; /* MAIN */

	assert_int_equal(vmt_mem_peek_local(m, at, got, sizeof(got)), 0);
	expect_bytes(want, sizeof(want), at);
	assert_memory_equal(got, want, sizeof(got));
	assert_int_equal(st->pages_read, 0);				      /* not cached */
	assert_int_equal(vmt_mem_peek_local(m, 5 * PT_CHUNK + 8, got, 8), 0); /* ABSENT */
	assert_true(got[0] == 0 && got[7] == 0);
	assert_int_equal(vmt_mem_peek_local(m, 9 * PT_CHUNK, got, 8), -ENODATA); /* sub-host 0 */
	assert_int_equal(vmt_mem_peek_local(m, PAGE - 4, got, 8), -EINVAL); /* crosses a page */
	assert_int_equal(st->round_trips, 0);
	check_read(m, 9 * PT_CHUNK, PAGE); /* now cached: the peek reads the cache */
	assert_int_equal(vmt_mem_peek_local(m, 9 * PT_CHUNK + 16, got, 8), 0);
	expect_bytes(want, 8, 9 * PT_CHUNK + 16);
	assert_memory_equal(got, want, 8);
	vmt_mem_free(m);
}

/*
 * A read takes its own want from the stream as soon as it came, without
 * waiting for the rest: with sub-host 1 frozen (SIGSTOP), a page streamed
 * from sub-host 0 is read, the stream stays open, and sub-host 1's page,
 * read after it thaws, comes from the same stream: one round trip for
 * the stream, no errors.  (Ending the stream instead would wait for the
 * frozen sub-host's timeout and fetch its page again: three round trips.)
 */
static void test_stream_take_one(void **state)
{
	struct world *w = *state;
	struct vmt_memsrc_split_opts o = opts_runtime(12, 4u << 20);
	struct vmt_mem *m = open_mem(w, &o);
	struct vmt_mem_stats *st = vmt_mem_stats_ptr(m);
	uint64_t pfns[2] = {9 * (PT_CHUNK / PAGE) + 1, 17 * (PT_CHUNK / PAGE) + 2};

	check_read(m, 16 * PT_CHUNK, PAGE); /* both connections up before the freeze */
	check_read(m, 8 * PT_CHUNK, PAGE);
	assert_int_equal(st->round_trips, 2);
	assert_int_equal(kill(srv[1].pid, SIGSTOP), 0);
	vmt_mem_stream_add(m, pfns, 2);
	vmt_mem_stream_pump(m);
	check_read(m, pfns[0] * PAGE, PAGE);
	assert_int_equal(st->round_trips, 3);
	assert_int_equal(st->host_requests[1], 1); /* its streamed read still on its way */
	assert_int_equal(kill(srv[1].pid, SIGCONT), 0);
	check_read(m, pfns[1] * PAGE, PAGE);
	assert_int_equal(st->round_trips, 3);
	assert_int_equal(st->host_requests[1], 2);
	assert_int_equal(st->fetch_errors, 0);
	assert_int_equal(st->fetch_retries, 0);
	vmt_mem_free(m);
}

/* A chunk that moves while the stream fetches it is not kept: its read gets the new data. */
static void test_stream_moved(void **state)
{
	struct world *w = *state;
	struct vmt_memsrc_split_opts o = opts_runtime(12, 4u << 20);
	struct mover mv = {.w = w, .chunk = 9};
	struct vmt_mem *m = open_mem(w, &o);
	uint64_t pfns[2] = {9 * (PT_CHUNK / PAGE) + 4, 10 * (PT_CHUNK / PAGE)};
	uint8_t got[64], want[64];

	vmt_mem_stream_add(m, pfns, 2);
	vmt_fetch_test_arg = &mv;
	vmt_fetch_test_hook = move_home; /* at the stream's end, before its pages are checked */
	vmt_mem_stream_end(m);
	vmt_fetch_test_hook = NULL;
	assert_true(mv.fired);
	assert_int_equal(vmt_mem_read(m, 9 * PT_CHUNK + 4 * PAGE, got, sizeof(got)), 0);
	fill(want, sizeof(want), 9 * PT_CHUNK + 4 * PAGE, 99);
	assert_memory_equal(got, want, sizeof(got)); /* the new data, not the stale fetch */
	check_read(m, 10 * PT_CHUNK, PAGE);
	vmt_mem_free(m);
}

/*
 * Exact reads: a hint that names its bytes (vmt_mem_stream_bytes) has just
 * those fetched, in one round trip; reads inside them are answered from
 * them without caching the page; a read that needs more of the page reads
 * the page; a part whose chunk moved meanwhile is not used; fetch_whole
 * fetches the pages instead; a hint past its page asks for nothing.
 */
static void test_exact_reads(void **state)
{
	struct world *w = *state;
	struct vmt_memsrc_split_opts o = opts_runtime(12, 4u << 20);
	struct mover mv = {.w = w, .chunk = 10};
	struct vmt_mem *m = open_mem(w, &o);
	struct vmt_mem_stats *st = vmt_mem_stats_ptr(m);
	uint64_t a = 9 * PT_CHUNK + PAGE + 100, b = 17 * PT_CHUNK + 2 * PAGE - 96;
	uint64_t c = 10 * PT_CHUNK + 300, main_at = 2 * PT_CHUNK + 40;
	uint8_t got[96], want[96];

	assert_true(vmt_mem_parts(m));
	vmt_mem_stream_bytes(m, a, 80);			      /* sub-host 0 */
	vmt_mem_stream_bytes(m, b, 96);			      /* sub-host 1, up to its page's end */
	vmt_mem_stream_bytes(m, main_at, 16);		      /* MAIN: nothing to fetch */
	vmt_mem_stream_bytes(m, 9 * PT_CHUNK + PAGE - 8, 16); /* crosses a page: ignored */
	vmt_mem_stream_pump(m);
	check_read(m, a, 80);
	check_read(m, a + 79, 1); /* inside the part: answered from it again */
	check_read(m, b, 96);
	check_read(m, main_at, 16);
	assert_int_equal(st->round_trips, 1);
	assert_int_equal(st->exact_reads, 3);
	assert_int_equal(st->host_bytes[0] + st->host_bytes[1], 80 + 96);
	assert_int_equal(st->host_chunks[0] + st->host_chunks[1], 0);
	assert_int_equal(st->pages_fetched, 0);
	check_read(m, a - 8, 96); /* more than the part: the page, from its sub-host */
	assert_int_equal(st->pages_fetched, 1);
	assert_int_equal(st->exact_reads, 3);
	/* A part whose chunk moves home while it is fetched: the read gets the new data. */
	vmt_mem_stream_bytes(m, c, 64);
	vmt_fetch_test_arg = &mv;
	vmt_fetch_test_hook = move_home;
	vmt_mem_stream_end(m);
	vmt_fetch_test_hook = NULL;
	assert_true(mv.fired);
	assert_int_equal(vmt_mem_read(m, c, got, 64), 0);
	fill(want, 64, c, 99);
	assert_memory_equal(got, want, 64);
	assert_int_equal(st->exact_reads, 3);
	vmt_mem_free(m);
	/* fetch_whole: the same hint brings the whole page. */
	o.fetch_whole = true;
	m = open_mem(w, &o);
	st = vmt_mem_stats_ptr(m);
	assert_false(vmt_mem_parts(m));
	vmt_mem_stream_bytes(m, b, 96);
	check_read(m, b, 96);
	assert_int_equal(st->exact_reads, 0);
	assert_int_equal(st->host_bytes[1], PAGE);
	vmt_mem_free(m);
}

/* The stream as a hint that is over when it returns. */
static void stream_hint(struct vmt_mem *m, const uint64_t *pfns, size_t n)
{
	vmt_mem_stream_add(m, pfns, n);
	vmt_mem_stream_end(m);
}

static void test_stream_with_host_down(void **state)
{
	hint_with_host_down(*state, stream_hint);
}

/* -------------------------------------------------------- method 2 */

struct fake_pager {
	struct world *w;
	int lfd, quit[2];
	pthread_t thr;
	unsigned requests, chunks;
	int fail;      /* answer PAGEINs with this status (a sub-host that is gone): */
	int fail_host; /* those that need sub-host fail_host - 1 (0: every one) */
	/* HINTs: chunks hinted; held in motion until the next PAGEIN (a page-in under way) */
	_Atomic unsigned hinted;
	uint64_t held[64];
	unsigned nheld;
};

/* What the pager does for a chunk on sub-host k: fetch, install, move_end(MAIN). */
static int fake_page_in(struct fake_pager *fp, uint64_t c, uint8_t *buf)
{
	uint64_t e = vmt_pt_load(&fp->w->pt, c), old;
	int k = vmt_pt_loc_host(vmt_pt_e_loc(e));

	if (k < 0)
		return 0;
	if (fp->fail && fp->fail_host == k + 1)
		return fp->fail;
	if (vmt_pt_move_begin(&fp->w->pt, c, &old) ||
	    vmt_subhost_pread(fp->w->h[k], buf, PT_CHUNK, c * PT_CHUNK) ||
	    pwrite(fp->w->fd, buf, PT_CHUNK, (off_t)(c * PT_CHUNK)) != PT_CHUNK)
		return -EIO;
	fp->chunks++;
	return vmt_pt_move_end(&fp->w->pt, c, VMT_PT_MAIN, k);
}

/* A HINT: start moving each chunk on a sub-host home, and finish at the next PAGEIN. */
static void fake_hint(struct fake_pager *fp, const struct vmt_pager_range *r, uint32_t n)
{
	for (uint32_t i = 0; i < n; i++) {
		for (uint64_t c = r[i].off / PT_CHUNK; c <= (r[i].off + r[i].len - 1) / PT_CHUNK;
		     c++) {
			uint64_t old;

			if (vmt_pt_loc_host(vmt_pt_e_loc(vmt_pt_load(&fp->w->pt, c))) < 0 ||
			    fp->nheld == ARRAY_SIZE(fp->held) ||
			    vmt_pt_move_begin(&fp->w->pt, c, &old))
				continue;
			fp->held[fp->nheld++] = c;
			fp->hinted++;
		}
	}
}

/* The page-ins the hints started: fetch, install, move_end(MAIN). */
static int fake_finish_held(struct fake_pager *fp, uint8_t *buf)
{
	int err = 0;

	for (unsigned i = 0; i < fp->nheld; i++) {
		uint64_t c = fp->held[i];
		int k = vmt_pt_loc_host(vmt_pt_e_loc(vmt_pt_load(&fp->w->pt, c)));

		if (vmt_subhost_pread(fp->w->h[k], buf, PT_CHUNK, c * PT_CHUNK) ||
		    pwrite(fp->w->fd, buf, PT_CHUNK, (off_t)(c * PT_CHUNK)) != PT_CHUNK)
			err = -EIO;
		else
			fp->chunks++;
		if (vmt_pt_move_end(&fp->w->pt, c, VMT_PT_MAIN, k))
			err = -EIO;
	}
	fp->nheld = 0;
	return err;
}

static bool full_read(int fd, void *b, size_t len)
{
	for (size_t done = 0; done < len;) {
		ssize_t n = read(fd, (uint8_t *)b + done, len - done);

		if (n <= 0)
			return false;
		done += (size_t)n;
	}
	return true;
}

static void fake_serve(struct fake_pager *fp, int fd)
{
	struct vmt_pager_range *r = calloc(VMT_PAGER_MAX_RANGES, sizeof(*r));
	uint8_t *buf = malloc(PT_CHUNK);
	struct vmt_pager_req req;

	while (full_read(fd, &req, sizeof(req))) {
		struct vmt_pager_rep rep = {
		    .magic = VMT_PAGER_MAGIC, .version = VMT_PAGER_VERSION, .op = req.op};
		unsigned before = fp->chunks;

		if (req.magic != VMT_PAGER_MAGIC ||
		    (req.op != VMT_PAGER_PAGEIN && req.op != VMT_PAGER_HINT) ||
		    req.n > VMT_PAGER_MAX_RANGES || !full_read(fd, r, req.n * sizeof(*r)))
			break;
		if (req.op == VMT_PAGER_HINT) {
			fake_hint(fp, r, req.n); /* no reply */
			continue;
		}
		fp->requests++;
		rep.status = fake_finish_held(fp, buf) ?: (fp->fail_host ? 0 : fp->fail);
		for (uint32_t i = 0; i < req.n && !rep.status; i++)
			for (uint64_t c = r[i].off / PT_CHUNK;
			     c <= (r[i].off + r[i].len - 1) / PT_CHUNK && !rep.status; c++)
				rep.status = fake_page_in(fp, c, buf);
		rep.value = fp->chunks - before;
		if (write(fd, &rep, sizeof(rep)) != sizeof(rep))
			break;
	}
	free(r);
	free(buf);
}

static void *fake_pager_main(void *arg)
{
	struct fake_pager *fp = arg;

	for (int i = 0; i < 100; i++) { /* bounded: a few connections per test */
		struct pollfd p[2] = {{.fd = fp->lfd, .events = POLLIN},
				      {.fd = fp->quit[0], .events = POLLIN}};
		int fd;

		if (poll(p, 2, 10000) <= 0 || p[1].revents)
			break;
		fd = accept(fp->lfd, NULL, NULL);
		if (fd < 0)
			break;
		fake_serve(fp, fd);
		close(fd);
	}
	return NULL;
}

static void fake_pager_start(struct fake_pager *fp, struct world *w)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};

	fp->w = w;
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", w->sock);
	unlink(w->sock);
	fp->lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(fp->lfd >= 0);
	assert_int_equal(bind(fp->lfd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(fp->lfd, 4), 0);
	assert_int_equal(pipe(fp->quit), 0);
	assert_int_equal(pthread_create(&fp->thr, NULL, fake_pager_main, fp), 0);
}

static void fake_pager_stop(struct fake_pager *fp)
{
	assert_int_equal(write(fp->quit[1], "q", 1), 1);
	pthread_join(fp->thr, NULL);
	close(fp->lfd);
	close(fp->quit[0]);
	close(fp->quit[1]);
}

static void vm_reads(struct world *w, unsigned fetch_shift)
{
	struct vmt_memsrc_split_opts o = {.fetch = VMT_FETCH_VM,
					  .fetch_shift = fetch_shift,
					  .pager_sock = w->sock,
					  .timeout_ms = 3000};
	struct fake_pager fp = {0};
	struct vmt_pt_census cs;
	struct vmt_mem_stats *st;
	struct vmt_mem *m;

	fake_pager_start(&fp, w);
	m = open_mem(w, &o);
	check_read(m, 9 * PT_CHUNK + 5 * PAGE, 100);
	assert_int_equal(vmt_pt_e_loc(vmt_pt_load(&w->pt, 9)), VMT_PT_MAIN);
	read_everything(m);
	st = vmt_mem_stats_ptr(m);
	print_message("method 2, fetch 2^%u: %u PAGEIN requests, %u chunks paged in; stats: "
		      "round trips %llu, fetched %llu, host0 %llu chunks, host1 %llu chunks\n",
		      fetch_shift, fp.requests, fp.chunks, (unsigned long long)st->round_trips,
		      (unsigned long long)st->pages_fetched, (unsigned long long)st->host_chunks[0],
		      (unsigned long long)st->host_chunks[1]);
	assert_int_equal(st->fetch_errors, 0);
	assert_int_equal(st->round_trips, fp.requests);
	vmt_mem_free(m);
	fake_pager_stop(&fp);
	/* Everything that was read is home now: the first 5 MiB has no sub-host chunk. */
	for (uint64_t c = 0; c < (5u << 20) / PT_CHUNK; c++)
		assert_true(vmt_pt_loc_host(vmt_pt_e_loc(vmt_pt_load(&w->pt, c))) < 0);
	vmt_pt_census(&w->pt, &cs);
	assert_int_equal(cs.sub[0], 0); /* chunks 64..66 were read too (96K batches past 4M) */
	assert_int_equal(cs.sub[1], 0);
}

/*
 * Method 2's prefetch stream: the hinted chunks go to the pager at once,
 * which starts paging them in (here: holds them in motion); a read of one
 * still in motion waits for all of them in one PAGEIN, and each chunk is
 * counted once, its pages as fetched.
 */
static void test_vm_stream(void **state)
{
	struct world *w = *state;
	struct vmt_memsrc_split_opts o = {
	    .fetch = VMT_FETCH_VM, .fetch_shift = 12, .pager_sock = w->sock, .timeout_ms = 3000};
	struct fake_pager fp = {0};
	struct vmt_mem_stats *st;
	uint64_t pfns[16], chunks = 0;
	struct vmt_mem *m;

	for (unsigned i = 0; i < 16; i++) /* chunks 8..23: on sub-hosts 0 and 1 */
		pfns[i] = (8 + i) * (PT_CHUNK / PAGE);
	fake_pager_start(&fp, w);
	m = open_mem(w, &o);
	st = vmt_mem_stats_ptr(m);
	vmt_mem_epoch(m);
	vmt_mem_stream_add(m, pfns, 16);
	vmt_mem_stream_end(m);
	for (int i = 0; i < 500 && fp.hinted < 16; i++) /* bounded: 5 s */
		usleep(10000);
	assert_int_equal(fp.hinted, 16);
	assert_int_equal(st->round_trips, 0);
	assert_true(vmt_pt_e_moving(vmt_pt_load(&w->pt, 9)));
	check_read(m, 9 * PT_CHUNK, PAGE);
	assert_int_equal(st->round_trips, 1);
	assert_int_equal(fp.requests, 1);
	for (unsigned i = 0; i < 16; i++)
		check_read(m, pfns[i] * PAGE, PAGE);
	assert_int_equal(st->round_trips, 1);
	assert_int_equal(st->fetch_errors, 0);
	assert_int_equal(st->pages_fetched, 16);
	for (int k = 0; k < 2; k++)
		chunks += st->host_chunks[k];
	assert_int_equal(chunks, 16);
	assert_int_equal(fp.chunks, 16);
	vmt_mem_free(m);
	fake_pager_stop(&fp);
	for (uint64_t c = 8; c < 24; c++)
		assert_int_equal(vmt_pt_e_loc(vmt_pt_load(&w->pt, c)), VMT_PT_MAIN);
}

static void test_vm_4k(void **state)
{
	vm_reads(*state, 12);
}

static void test_vm_1m(void **state)
{
	vm_reads(*state, 20);
}

/* One PAGEIN for a batch of pages in many chunks; a failed page-in is those pages' error. */
static void test_vm_batch_and_failure(void **state)
{
	struct world *w = *state;
	struct vmt_memsrc_split_opts o = {
	    .fetch = VMT_FETCH_VM, .fetch_shift = 16, .pager_sock = w->sock, .timeout_ms = 3000};
	uint64_t pfns[6] = {0, 8 * 16, 9 * 16 + 3, 16 * 16, 33 * 16 + 15, 34 * 16};
	struct vmt_ram_layout l;
	struct vmt_page_req req[6];
	uint8_t *bufs = malloc(6 * PAGE), want[PAGE];
	struct fake_pager fp = {0};
	struct vmt_memsrc *src;

	fake_pager_start(&fp, w);
	assert_int_equal(vmt_ram_layout_x86(RAM_SIZE, "pc", 0, &l), 0);
	assert_int_equal(vmt_memsrc_split_open_opts(w->mem, &l, w->pt_path, &o, &src), 0);
	for (int i = 0; i < 6; i++)
		req[i] = (struct vmt_page_req){.pfn = pfns[i], .buf = bufs + i * PAGE};
	fp.fail = -ETIMEDOUT;
	assert_int_equal(vmt_memsrc_read_pages(src, req, 6), -ETIMEDOUT);
	assert_int_equal(req[0].err, 0); /* MAIN */
	for (int i = 1; i < 6; i++)
		assert_int_equal(req[i].err, -ETIMEDOUT);
	/* One request, then one per sub-host to find which fails: both do. */
	assert_int_equal(fp.requests, 3);
	/* Down for the rest of the listing: failed at once, no request. */
	assert_int_equal(vmt_memsrc_read_pages(src, req, 6), -ETIMEDOUT);
	assert_int_equal(fp.requests, 3);
	assert_int_equal(req[3].err, -ETIMEDOUT);
	/* The next listing asks again. */
	fp.fail = 0;
	vmt_memsrc_epoch(src);
	assert_int_equal(vmt_memsrc_read_pages(src, req, 6), 0);
	assert_int_equal(fp.requests, 4); /* five chunks on two sub-hosts: one request */
	assert_int_equal(fp.chunks, 5);
	for (int i = 0; i < 6; i++) {
		expect_bytes(want, PAGE, pfns[i] * PAGE);
		assert_memory_equal(bufs + i * PAGE, want, PAGE);
	}
	vmt_memsrc_free(src);
	fake_pager_stop(&fp);
	free(bufs);
}

/* The pager cannot page in from sub-host 0 (gone): its pages fail, sub-host 1's are read,
 * and sub-host 0 costs no further request in this listing. */
static void test_vm_one_subhost_gone(void **state)
{
	struct world *w = *state;
	struct vmt_memsrc_split_opts o = {
	    .fetch = VMT_FETCH_VM, .fetch_shift = 16, .pager_sock = w->sock, .timeout_ms = 3000};
	/* MAIN, sub0, sub0, sub1, sub0, sub1 */
	uint64_t pfns[6] = {0, 8 * 16, 9 * 16 + 3, 16 * 16, 33 * 16 + 15, 34 * 16};
	bool on_sub0[6] = {false, true, true, false, true, false};
	struct vmt_ram_layout l;
	struct vmt_page_req req[6];
	uint8_t *bufs = malloc(6 * PAGE), want[PAGE];
	struct fake_pager fp = {.fail = -ETIMEDOUT, .fail_host = 1};
	struct vmt_memsrc *src;

	fake_pager_start(&fp, w);
	assert_int_equal(vmt_ram_layout_x86(RAM_SIZE, "pc", 0, &l), 0);
	assert_int_equal(vmt_memsrc_split_open_opts(w->mem, &l, w->pt_path, &o, &src), 0);
	for (int round = 0; round < 2; round++) {
		for (int i = 0; i < 6; i++)
			req[i] = (struct vmt_page_req){.pfn = pfns[i], .buf = bufs + i * PAGE};
		assert_int_equal(vmt_memsrc_read_pages(src, req, 6), -ETIMEDOUT);
		/* Both sub-hosts in one request, then each alone; nothing more after. */
		assert_int_equal(fp.requests, 3);
		assert_int_equal(fp.chunks, 2);
		for (int i = 0; i < 6; i++) {
			assert_int_equal(req[i].err, on_sub0[i] ? -ETIMEDOUT : 0);
			if (on_sub0[i])
				continue;
			expect_bytes(want, PAGE, pfns[i] * PAGE);
			assert_memory_equal(bufs + i * PAGE, want, PAGE);
		}
	}
	assert_non_null(strstr(vmt_last_error(), "sub-host 0"));
	vmt_memsrc_free(src);
	fake_pager_stop(&fp);
	free(bufs);
}

/* Method 2's per-host figures count a chunk once however many 4K wants of a batch fall in it. */
static void test_vm_stats_count_chunks_once(void **state)
{
	struct world *w = *state;
	struct vmt_memsrc_split_opts o = {
	    .fetch = VMT_FETCH_VM, .fetch_shift = 12, .pager_sock = w->sock, .timeout_ms = 3000};
	/* Three pages of chunk 8 (sub-host 0), two of chunk 16 (sub-host 1), one MAIN. */
	uint64_t pfns[6] = {8 * 16, 8 * 16 + 1, 8 * 16 + 9, 16 * 16 + 2, 16 * 16 + 3, 0};
	struct vmt_ram_layout l;
	struct vmt_page_req req[6];
	uint8_t *bufs = malloc(6 * PAGE);
	struct fake_pager fp = {0};
	struct vmt_memsrc *src;
	struct vmt_mem_stats *st, st0;

	fake_pager_start(&fp, w);
	assert_int_equal(vmt_ram_layout_x86(RAM_SIZE, "pc", 0, &l), 0);
	assert_int_equal(vmt_memsrc_split_open_opts(w->mem, &l, w->pt_path, &o, &src), 0);
	for (int i = 0; i < 6; i++)
		req[i] = (struct vmt_page_req){.pfn = pfns[i], .buf = bufs + i * PAGE};
	st = vmt_memsrc_stats(src); /* a scratch block shared by page-cache-less sources */
	st0 = *st;
	assert_int_equal(vmt_memsrc_read_pages(src, req, 6), 0);
	assert_int_equal(fp.chunks, 2);
	assert_int_equal(st->host_requests[0] - st0.host_requests[0], 3); /* one per 4K want */
	assert_int_equal(st->host_chunks[0] - st0.host_chunks[0], 1);
	assert_int_equal(st->host_bytes[0] - st0.host_bytes[0], PT_CHUNK);
	assert_int_equal(st->host_chunks[1] - st0.host_chunks[1], 1);
	assert_int_equal(st->host_bytes[1] - st0.host_bytes[1], PT_CHUNK);
	vmt_memsrc_free(src);
	fake_pager_stop(&fp);
	free(bufs);
}

static void test_vm_no_pager(void **state)
{
	struct world *w = *state;
	struct vmt_memsrc_split_opts o = {
	    .fetch = VMT_FETCH_VM, .fetch_shift = 16, .pager_sock = w->sock, .timeout_ms = 1000};
	struct vmt_mem *m = open_mem(w, &o);
	uint8_t b[8];

	unlink(w->sock);
	assert_int_equal(vmt_mem_read(m, 8 * PT_CHUNK, b, 8), -ENOENT);
	check_read(m, 0, PAGE);
	vmt_mem_free(m);
}

/* ------------------------------------------------------------- main */

/* A world whose setup failed partway has no teardown: its RAM file goes at exit. */
static void remove_ram_file(void)
{
	char path[64];

	snprintf(path, sizeof(path), "/dev/shm/hf-fetch-%d.ram", (int)getpid());
	unlink(path);
}

static int group_setup(void **state)
{
	atexit(remove_ram_file);
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/hf-fetch-XXXXXX");
	if (!mkdtemp(tmpdir))
		return -1;
	snprintf(key, sizeof(key), "%s/vm.psk", tmpdir);
	snprintf(bad_key, sizeof(bad_key), "%s/bad.psk", tmpdir);
	if (vmt_subhost_psk_create(key, "vmt") || vmt_subhost_psk_create(bad_key, "vmt"))
		return -1;
	for (int k = 0; k < 2; k++)
		if (server_start(&srv[k]))
			return -1;
	return 0;
}

static int group_teardown(void **state)
{
	char cmd[128];

	for (int k = 0; k < 2; k++)
		server_stop(&srv[k]);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	return system(cmd) == 0 ? 0 : -1;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_runtime_4k, world_setup, world_teardown),
	    cmocka_unit_test_setup_teardown(test_runtime_1m, world_setup, world_teardown),
	    cmocka_unit_test_setup_teardown(test_runtime_2m_small_cache, world_setup,
					    world_teardown),
	    cmocka_unit_test_setup_teardown(test_cache_across_listings, world_setup,
					    world_teardown),
	    cmocka_unit_test_setup_teardown(test_moved_during_fetch, world_setup, world_teardown),
	    cmocka_unit_test_setup_teardown(test_batch_one_round_trip, world_setup, world_teardown),
	    cmocka_unit_test_setup_teardown(test_wrong_key, world_setup, world_teardown),
	    cmocka_unit_test_setup_teardown(test_local_probe, world_setup, world_teardown),
	    cmocka_unit_test_setup_teardown(test_prefetch_hint, world_setup, world_teardown),
	    cmocka_unit_test_setup_teardown(test_prefetch_with_host_down, world_setup,
					    world_teardown),
	    cmocka_unit_test_setup_teardown(test_stream_hint, world_setup, world_teardown),
	    cmocka_unit_test_setup_teardown(test_stream_take_one, world_setup, world_teardown),
	    cmocka_unit_test_setup_teardown(test_stream_moved, world_setup, world_teardown),
	    cmocka_unit_test_setup_teardown(test_exact_reads, world_setup, world_teardown),
	    cmocka_unit_test_setup_teardown(test_peek_local, world_setup, world_teardown),
	    cmocka_unit_test_setup_teardown(test_stream_with_host_down, world_setup,
					    world_teardown),
	    cmocka_unit_test_setup_teardown(test_runtime_under_motion, world_setup, world_teardown),
	    cmocka_unit_test_setup_teardown(test_dead_subhost, world_setup, world_teardown),
	    cmocka_unit_test_setup_teardown(test_subhost_restarts, world_setup, world_teardown),
	    cmocka_unit_test_setup_teardown(test_vm_4k, world_setup, world_teardown),
	    cmocka_unit_test_setup_teardown(test_vm_1m, world_setup, world_teardown),
	    cmocka_unit_test_setup_teardown(test_vm_batch_and_failure, world_setup, world_teardown),
	    cmocka_unit_test_setup_teardown(test_vm_one_subhost_gone, world_setup, world_teardown),
	    cmocka_unit_test_setup_teardown(test_vm_stats_count_chunks_once, world_setup,
					    world_teardown),
	    cmocka_unit_test_setup_teardown(test_vm_no_pager, world_setup, world_teardown),
	    cmocka_unit_test_setup_teardown(test_vm_stream, world_setup, world_teardown),
	};

	if (system("nbdkit --version >/dev/null 2>&1") != 0) {
		fprintf(stderr, "nbdkit not installed: skipped\n");
		return 77;
	}
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}

// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * test_profile.c - the whole profile: build from a synthetic vmlinux (and a
 * bzImage around it), the on-disk cache (hit by stat link, hit by content,
 * memo written back, corrupt files rebuilt, no_cache writing nothing), the
 * symbol lookups, and then the real Debian vmlinuz if one is around
 * ($VMT_TEST_KERNEL, else $VMT_BUILD_ROOT/guest/vmlinuz, else the project's
 * cache/kernel/).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <dirent.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <bpf/libbpf.h>
#include <cmocka.h>
#include <zlib.h>

#include "core/internal.h"
#include "profile/profile_priv.h"
#include "profile_fixture.h"

#define NFILL 1000

struct env {
	char dir[256];	   /* scratch directory */
	char cache[300];   /* cache directory inside it */
	char vmlinux[300]; /* synthetic ELF */
	char bzimage[300]; /* the same, gzip'ed in a bzImage */
};

static void write_file(const char *path, const void *p, size_t n)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, p, n), (ssize_t)n);
	close(fd);
}

static uint8_t *read_file(const char *path, size_t *n)
{
	struct stat st;
	uint8_t *p;
	int fd = open(path, O_RDONLY);

	assert_true(fd >= 0);
	fstat(fd, &st);
	p = malloc((size_t)st.st_size);
	assert_int_equal(read(fd, p, (size_t)st.st_size), st.st_size);
	close(fd);
	*n = (size_t)st.st_size;
	return p;
}

static void write_bzimage(const char *path, const uint8_t *elf, size_t len)
{
	size_t start = 2 * 512, cap = len + 4096, plen;
	uint8_t *img = calloc(1, start + cap);
	z_stream zs = {0};
	uint32_t v;

	assert_int_equal(deflateInit2(&zs, 1, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY),
			 Z_OK);
	zs.next_in = (uint8_t *)elf;
	zs.avail_in = (uInt)len;
	zs.next_out = img + start;
	zs.avail_out = (uInt)cap;
	assert_int_equal(deflate(&zs, Z_FINISH), Z_STREAM_END);
	plen = zs.total_out;
	deflateEnd(&zs);
	img[0x1f1] = 1; /* setup_sects */
	memcpy(img + 0x202, "HdrS", 4);
	img[0x206] = 0x0f;
	img[0x207] = 0x02;
	v = 0;
	memcpy(img + 0x248, &v, 4);
	v = (uint32_t)plen;
	memcpy(img + 0x24c, &v, 4);
	write_file(path, img, start + plen);
	free(img);
}

static int setup(void **state)
{
	struct env *e = calloc(1, sizeof(*e));
	struct btf *b = fx_btf();
	struct fx_sym *syms;
	uint32_t blen;
	const void *braw = btf__raw_data(b, &blen);
	uint8_t *elf;
	size_t n, len;

	snprintf(e->dir, sizeof(e->dir), "/tmp/vmt-test-profile.XXXXXX");
	if (!mkdtemp(e->dir))
		return -1;
	snprintf(e->cache, sizeof(e->cache), "%s/cache", e->dir);
	snprintf(e->vmlinux, sizeof(e->vmlinux), "%s/vmlinux", e->dir);
	snprintf(e->bzimage, sizeof(e->bzimage), "%s/vmlinuz", e->dir);
	syms = fx_syms(NFILL, &n);
	elf = fx_vmlinux(syms, n, braw, blen, &len);
	write_file(e->vmlinux, elf, len);
	write_bzimage(e->bzimage, elf, len);
	free(elf);
	fx_syms_free(syms, n);
	btf__free(b);
	*state = e;
	return 0;
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static int teardown(void **state)
{
	struct env *e = *state;

	nftw(e->dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	free(e);
	return 0;
}

/* Each test starts with an empty cache. */
static int clean_cache(void **state)
{
	struct env *e = *state;

	nftw(e->cache, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	return 0;
}

static struct vmt_profile *load(const char *kernel, const char *cache, int flags)
{
	struct vmt_profile_opts o = {.sz = sizeof(o),
				     .kernel_path = kernel,
				     .cache_dir = cache,
				     .no_cache = !cache,
				     .rebuild = flags};

	return vmt_profile_load(&o);
}

static bool from_cache(const struct vmt_profile *p)
{
	struct vmt_profile_info in;

	vmt_profile_info(p, &in);
	return in.from_cache;
}

static void check_contents(struct vmt_profile *p)
{
	uint64_t addr, off;
	uint32_t o, s;
	char type;

	assert_string_equal(vmt_profile_banner(p), FX_BANNER);
	assert_int_equal(vmt_profile_nr_symbols(p), NFILL + 5);
	assert_int_equal(vmt_profile_symbol(p, "init_task", &addr), 0);
	assert_true(addr == FX_DATA);
	assert_int_equal(vmt_profile_symbol2(p, "current_task", &addr, &type), 0);
	assert_true(addr == 0x1fb80);
	assert_int_equal(type, 'A');
	assert_int_equal(vmt_profile_symbol(p, "sym_00999", &addr), 0);
	assert_true(addr == FX_TEXT + 0x1000 + 16 * 999);
	assert_int_equal(vmt_profile_symbol(p, "nosuch", &addr), -ENOENT);
	assert_string_equal(vmt_profile_symbol_at(p, FX_TEXT + 0x1000 + 16 * 7 + 3, &off),
			    "sym_00007");
	assert_true(off == 3);
	assert_string_equal(vmt_profile_symbol_at(p, FX_DATA, &off), "init_task");
	assert_null(vmt_profile_symbol_at(p, FX_DATA + 1, &off)); /* past the last symbol */
	assert_int_equal(vmt_profile_field2(p, "task_struct", "se.sum_exec_runtime", &o, &s), 0);
	assert_int_equal(o, 32);
	assert_int_equal(s, 8);
	assert_int_equal(vmt_profile_field(p, "task_struct", "hi", &o), 0);
	assert_int_equal(o, 44);
	assert_int_equal(vmt_profile_field(p, "task_struct", "in_execve", &o), -EINVAL);
	assert_int_equal(vmt_profile_field(p, "task_struct", "nosuch", &o), -ENOENT);
	assert_int_equal(vmt_profile_struct_size(p, "task_struct", &s), 0);
	assert_int_equal(s, 64);
}

static void test_build_no_cache(void **state)
{
	struct env *e = *state;
	struct vmt_profile *p = load(e->vmlinux, NULL, 0);
	struct stat st;

	assert_non_null(p);
	assert_false(from_cache(p));
	check_contents(p);
	vmt_profile_free(p);
	assert_int_equal(stat(e->cache, &st), -1); /* nothing written */
}

static void test_bzimage(void **state)
{
	struct env *e = *state;
	struct vmt_profile *p = load(e->bzimage, NULL, 0);

	assert_non_null(p);
	check_contents(p);
	vmt_profile_free(p);
}

static void test_cache_and_memo(void **state)
{
	struct env *e = *state;
	struct vmt_profile_info in;
	struct vmt_profile *p;
	uint32_t o;
	int64_t v;

	p = load(e->bzimage, e->cache, 0);
	assert_non_null(p);
	assert_false(from_cache(p));
	vmt_profile_free(p);

	p = load(e->bzimage, e->cache, 0);
	assert_true(from_cache(p));
	check_contents(p); /* fills the memo */
	assert_int_equal(vmt_profile_enum(p, NULL, "TCP_LISTEN", &v), 0);
	assert_int_equal(v, 10);
	vmt_profile_free(p); /* writes the memo back */

	p = load(e->bzimage, e->cache, 0);
	vmt_profile_info(p, &in);
	assert_true(in.from_cache);
	assert_int_equal(in.nr_memo, 6);
	assert_int_equal(vmt_profile_verify(p), 0);
	/* memo answers, failures included, with their errno */
	assert_int_equal(vmt_profile_field(p, "task_struct", "hi", &o), 0);
	assert_int_equal(o, 44);
	assert_int_equal(vmt_profile_field(p, "task_struct", "in_execve", &o), -EINVAL);
	assert_int_equal(vmt_profile_field(p, "task_struct", "nosuch", &o), -ENOENT);
	vmt_profile_free(p);
}

/* The memo answers without the BTF: even with the cached BTF blob ruined. */
static void test_memo_avoids_btf(void **state)
{
	struct env *e = *state;
	struct vmt_profile_info in;
	struct vmt_profile *p;
	uint8_t *img;
	size_t len;
	uint32_t o;

	p = load(e->vmlinux, e->cache, 0);
	assert_int_equal(vmt_profile_field(p, "task_struct", "comm", &o), 0);
	vmt_profile_info(p, &in);
	char *path = strdup(in.cache_path);
	vmt_profile_free(p);

	img = read_file(path, &len);
	{
		const struct vmt_prof_hdr *h = (const void *)img;

		memset(img + h->sec[VMT_PSEC_BTF].off, 0x77, 16);
	}
	write_file(path, img, len);
	free(img);

	p = load(e->vmlinux, e->cache, 0);
	assert_true(from_cache(p));
	assert_int_equal(vmt_profile_field(p, "task_struct", "comm", &o), 0);
	assert_int_equal(o, 48);
	assert_int_equal(vmt_profile_verify(p), -EBADMSG);
	/* a miss needs the BTF: the profile heals itself from the kernel image */
	assert_int_equal(vmt_profile_field(p, "task_struct", "tasks", &o), 0);
	assert_int_equal(o, 8);
	vmt_profile_free(p);
	p = load(e->vmlinux, e->cache, 0);
	assert_true(from_cache(p));
	assert_int_equal(vmt_profile_verify(p), 0);
	vmt_profile_free(p);
	free(path);
}

/* Overwrite len bytes at off of the cache file with junk (off < 0: from the end). */
static void corrupt(const char *path, long off, size_t len, bool truncate_there)
{
	size_t n;
	uint8_t *img = read_file(path, &n);
	size_t at = off < 0 ? n - (size_t)-off : (size_t)off;

	if (truncate_there) {
		write_file(path, img, at);
	} else {
		memset(img + at, 0x5c, len);
		write_file(path, img, n);
	}
	free(img);
}

static void test_corrupt_cache_rebuilt(void **state)
{
	static const struct {
		long off;
		size_t len;
		bool truncate;
	} cases[] = {
	    {0, 8, false},    /* magic */
	    {40, 4, false},   /* nr_syms: the header checksum catches it */
	    {-1, 0, true},    /* truncated by one byte */
	    {100, 0, true},   /* inside the header */
	    {0, 0, true},     /* empty */
	    {-8, 8, false},   /* memo */
	    {0, 4096, false}, /* garbage */
	};
	struct env *e = *state;
	struct vmt_profile_info in;
	struct vmt_profile *p;

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		p = load(e->vmlinux, e->cache, 0);
		assert_non_null(p);
		vmt_profile_info(p, &in);
		char *path = strdup(in.cache_path);
		vmt_profile_free(p);

		corrupt(path, cases[i].off, cases[i].len, cases[i].truncate);
		p = load(e->vmlinux, e->cache, 0);
		assert_non_null(p);
		assert_false(from_cache(p)); /* detected, rebuilt */
		check_contents(p);
		vmt_profile_free(p);
		free(path);
	}
}

/* Random damage anywhere in the cache file: lookups may be wrong, never crash. */
static void test_cache_fuzz(void **state)
{
	struct env *e = *state;
	struct vmt_profile_info in;
	struct vmt_profile *p;
	uint8_t *img, *orig;
	size_t n;
	char *path;

	p = load(e->vmlinux, e->cache, 0);
	check_contents(p);
	vmt_profile_info(p, &in);
	path = strdup(in.cache_path);
	vmt_profile_free(p);
	orig = read_file(path, &n);
	img = malloc(n);
	srand(99);
	for (int round = 0; round < 300; round++) {
		const char *name;
		uint64_t addr, off;
		uint32_t o;

		memcpy(img, orig, n);
		for (int f = 0; f < 1 + round % 8; f++)
			img[(size_t)rand() % n] = (uint8_t)rand();
		write_file(path, img, n);
		p = load(e->vmlinux, e->cache, 0);
		assert_non_null(p);
		vmt_profile_symbol(p, "init_task", &addr);
		vmt_profile_symbol_at(p, FX_TEXT + 0x2000, &off);
		for (size_t i = 0; !vmt_profile_symbol_by_index(p, i, &name, &addr, NULL); i++)
			assert_non_null(name);
		vmt_profile_field(p, "task_struct", "comm", &o);
		vmt_profile_field(p, "task_struct", "tasks.prev", &o);
		vmt_profile_free(p);
	}
	free(img);
	free(orig);
	free(path);
}

/* A touched image misses the stat link but is found again by its content. */
static void test_found_by_content(void **state)
{
	struct env *e = *state;
	struct timespec ts[2] = {{0, UTIME_NOW}, {12345, 0}};
	struct vmt_profile *p;

	p = load(e->vmlinux, e->cache, 0);
	vmt_profile_free(p);
	assert_int_equal(utimensat(AT_FDCWD, e->vmlinux, ts, 0), 0);
	p = load(e->vmlinux, e->cache, 0);
	assert_true(from_cache(p));
	vmt_profile_free(p);
	p = load(e->vmlinux, e->cache, 1); /* rebuild on request */
	assert_false(from_cache(p));
	vmt_profile_free(p);
}

static void test_bad_inputs(void **state)
{
	struct env *e = *state;
	struct vmt_profile_opts o = {0};
	char path[320];
	size_t n;
	uint8_t *img;

	assert_null(vmt_profile_load(NULL));
	assert_int_equal(errno, EINVAL);
	o.kernel_path = e->vmlinux; /* sz not set */
	assert_null(vmt_profile_load(&o));
	assert_int_equal(errno, EINVAL);

	assert_null(load("/nonexistent/vmlinuz", NULL, 0));
	assert_int_equal(errno, ENOENT);

	snprintf(path, sizeof(path), "%s/text", e->dir);
	write_file(path, "hello, world\n", 13);
	assert_null(load(path, NULL, 0));
	assert_int_equal(errno, ENOEXEC);
	assert_non_null(strstr(vmt_last_error(), "not a Linux kernel image"));

	/* an ELF whose .rodata holds no kallsyms */
	img = read_file(e->vmlinux, &n);
	memset(img + 0x1000, 0, n - 0x1000 - 0x200);
	snprintf(path, sizeof(path), "%s/nosyms", e->dir);
	write_file(path, img, n);
	free(img);
	assert_null(load(path, NULL, 0));
	assert_int_equal(errno, ENOENT);
	assert_non_null(strstr(vmt_last_error(), "kallsyms"));
}

/* ------------------------------------------------------- the real kernel */

static char found[4096];

static int find_vmlinuz(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	if (flag == FTW_F && !strncmp(path + ftw->base, "vmlinuz-", 8)) {
		vmt_strlcpy(found, path, sizeof(found));
		return 1;
	}
	return 0;
}

static const char *real_vmlinuz(void)
{
	const char *env = getenv("VMT_TEST_KERNEL"), *root = getenv("VMT_SOURCE_ROOT");
	const char *build = getenv("VMT_BUILD_ROOT");
	static char path[4096];
	char dir[4096];

	if (env && *env) /* named: it must be there (a missing one fails the test) */
		return env;
	snprintf(path, sizeof(path), "%s/guest/vmlinuz", build ? build : "build");
	if (!access(path, R_OK))
		return path;
	snprintf(dir, sizeof(dir), "%s/cache/kernel", root ? root : ".");
	if (nftw(dir, find_vmlinuz, 16, FTW_PHYS) == 1)
		return found;
	return NULL;
}

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static void test_real_kernel(void **state)
{
	static const char *const syms[] = {
	    "init_task",	"linux_banner",		"init_top_pgt",
	    "page_offset_base", "__pgtable_l5_enabled", "_end"};
	struct env *e = *state;
	const char *k = real_vmlinuz();
	struct vmt_profile *p;
	uint64_t addr;
	uint32_t off;
	double t0, cold, warm;

	if (!k) {
		print_message("skipped: no real vmlinuz (set VMT_TEST_KERNEL, or build the "
			      "guest with guest/build.sh)\n");
		skip();
	}
	t0 = now_ms();
	p = load(k, e->cache, 0);
	cold = now_ms() - t0;
	if (!p)
		fail_msg("%s: %s", k, vmt_last_error());
	assert_false(from_cache(p));
	assert_int_equal(strncmp(vmt_profile_banner(p), "Linux version 6.1", 17), 0);
	assert_true(vmt_profile_nr_symbols(p) > 50000);
	assert_int_equal(vmt_profile_symbol(p, "_text", &addr), 0);
	assert_true(addr == 0xffffffff81000000ull);
	for (size_t i = 0; i < ARRAY_SIZE(syms); i++)
		if (vmt_profile_symbol(p, syms[i], &addr))
			fail_msg("%s missing", syms[i]);
	vmt_profile_free(p);

	t0 = now_ms();
	p = load(k, e->cache, 0);
	warm = now_ms() - t0;
	assert_non_null(p);
	assert_true(from_cache(p));
	assert_int_equal(vmt_profile_field(p, "task_struct", "tasks", &off), 0);
	assert_true(off > 0);
	assert_int_equal(vmt_profile_field(p, "task_struct", "pid", &off), 0);
	assert_true(off > 0);
	assert_int_equal(vmt_profile_field(p, "task_struct", "comm", &off), 0);
	assert_true(off > 0);
	assert_int_equal(vmt_profile_field(p, "sock", "__sk_common.skc_family", &off), 0);
	print_message("real kernel %s: %zu symbols, cold load %.1f ms, warm load %.3f ms\n", k,
		      vmt_profile_nr_symbols(p), cold, warm);
	vmt_profile_free(p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup(test_build_no_cache, clean_cache),
	    cmocka_unit_test_setup(test_bzimage, clean_cache),
	    cmocka_unit_test_setup(test_cache_and_memo, clean_cache),
	    cmocka_unit_test_setup(test_memo_avoids_btf, clean_cache),
	    cmocka_unit_test_setup(test_corrupt_cache_rebuilt, clean_cache),
	    cmocka_unit_test_setup(test_cache_fuzz, clean_cache),
	    cmocka_unit_test_setup(test_found_by_content, clean_cache),
	    cmocka_unit_test_setup(test_bad_inputs, clean_cache),
	    cmocka_unit_test_setup(test_real_kernel, clean_cache),
	};

	vmt_set_log(NULL, NULL, VMT_LOG_ERROR);
	libbpf_set_print(NULL);
	return cmocka_run_group_tests(tests, setup, teardown);
}

// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * test_kfind.c - the kernel profile from guest memory alone
 * (profile/from_memory.c) over synthetic guest RAM: no vmlinuz, no VM.
 *
 * A fake kernel image is laid out in a RAM buffer at a 2 MiB-aligned
 * physical address, at a KASLR-slid virtual address, the way the running
 * kernel holds it: _text, 20,000 filler symbols, linux_banner, the kallsyms
 * tables (profile_fixture.h, Debian 6.1 layout, relative base = run-time
 * _text), the .BTF blob between __start_BTF and __stop_BTF, init_top_pgt
 * with 4-level tables mapping the image, and vmcoreinfo's KERNELOFFSET in
 * a direct-map page.  The memory callbacks read the buffer; the page-table
 * check walks those tables.  Then the same image broken in each way a
 * hostile or unusual guest may break it.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "core/internal.h"
#include "profile/profile_priv.h"
#include "profile_fixture.h"

#define RAM	   (64ull << 20)
#define SZ_2M	   (2ull << 20)
#define LOAD	   (24ull << 20) /* physical _text */
#define OFFSET	   0x19000000ull /* KASLR: run-time _text - link-time _text */
#define TEXT	   (FX_TEXT + OFFSET)
#define BANNER_AT  0x200000 /* offsets from _text */
#define KSYMS_AT   0x210000
#define BTF_AT	   0x900000
#define PGT_AT	   0xb00000
#define VMCI_AT	   0xb10000 /* vmcoreinfo_data, page_offset_base */
#define END_AT	   0xc00000
#define PO_BASE	   0xffff888000000000ull
#define VMCI_PA	   (60ull << 20)
#define NR_FILLERS 20000

struct ram {
	uint8_t *b;
	unsigned scans; /* calls of the scan callback */
	struct fx_ktab kt;
	size_t btf_len;
};

static int rd(void *ctx, uint64_t pa, void *buf, size_t len)
{
	struct ram *r = ctx;

	if (pa > RAM || len > RAM - pa)
		return -EFAULT;
	memcpy(buf, r->b + pa, len);
	return 0;
}

static int scan(void *ctx, uint64_t pa, void *buf, size_t len)
{
	((struct ram *)ctx)->scans++;
	return rd(ctx, pa, buf, len);
}

/* 4-level walk over the buffer, 2 MiB pages in the PD. */
static bool maps(void *ctx, uint64_t pgd, uint64_t va, uint64_t pa)
{
	struct ram *r = ctx;
	uint64_t t = pgd, e = 0;

	for (int level = 4; level >= 2; level--) {
		if (rd(r, t + 8 * ((va >> (12 + 9 * (level - 1))) & 511), &e, 8) || !(e & 1))
			return false;
		t = e & 0x000ffffffffff000ull;
	}
	return (e & 0x80) && (t & ~(SZ_2M - 1)) + (va & (SZ_2M - 1)) == pa;
}

static struct vmt_physmem pm_of(struct ram *r)
{
	return (struct vmt_physmem){
	    .ctx = r, .size = RAM, .name = "test RAM", .scan = scan, .read = rd, .maps = maps};
}

static void put(struct ram *r, uint64_t pa, const void *d, size_t n)
{
	assert_true(pa + n <= RAM);
	memcpy(r->b + pa, d, n);
}

static void put64(struct ram *r, uint64_t pa, uint64_t v)
{
	put(r, pa, &v, 8);
}

/* Tables rooted at load + PGT_AT mapping TEXT.. to load.. (2 MiB pages). */
static void pgt_build(struct ram *r, uint64_t load)
{
	uint64_t root = load + PGT_AT, pdpt = root + 0x1000, pd = root + 0x2000;

	put64(r, root + 8 * ((TEXT >> 39) & 511), pdpt | 3);
	put64(r, pdpt + 8 * ((TEXT >> 30) & 511), pd | 3);
	for (uint64_t o = 0; o < END_AT; o += SZ_2M)
		put64(r, pd + 8 * (((TEXT + o) >> 21) & 511), (load + o) | 0x83);
}

static struct fx_sym *syms_make(size_t *n)
{
	static const struct {
		const char *name;
		char type;
		uint64_t off;
	} tail[] = {
	    {"linux_banner", 'D', BANNER_AT},
	    {"__start_BTF", 'R', BTF_AT},
	    {"__stop_BTF", 'R', 0},
	    {"init_top_pgt", 'D', PGT_AT},
	    {"vmcoreinfo_data", 'B', VMCI_AT},
	    {"page_offset_base", 'D', VMCI_AT + 8},
	    {"_end", 'B', END_AT},
	};
	struct fx_sym *s = calloc(NR_FILLERS + 16, sizeof(*s));
	size_t k = 0;

	s[k++] = (struct fx_sym){strdup("fixed_percpu_data"), 'A', 0};
	s[k++] = (struct fx_sym){strdup("_text"), 'T', TEXT};
	for (size_t i = 0; i < NR_FILLERS; i++) {
		char name[32];

		snprintf(name, sizeof(name), "sym_%05zu", i);
		s[k++] = (struct fx_sym){strdup(name), 't', TEXT + 0x1000 + 16 * i};
	}
	for (size_t i = 0; i < ARRAY_SIZE(tail); i++)
		s[k++] = (struct fx_sym){strdup(tail[i].name), tail[i].type, TEXT + tail[i].off};
	*n = k;
	return s;
}

/* The whole kernel image at load; __stop_BTF is patched once the BTF's size is known. */
static void image_put(struct ram *r, uint64_t load, bool with_btf)
{
	struct fx_buf kb = {.va = TEXT + KSYMS_AT};
	struct btf *b = fx_btf();
	uint32_t blen;
	const void *braw = btf__raw_data(b, &blen);
	size_t n;
	struct fx_sym *s = syms_make(&n);

	for (size_t i = 0; i < n; i++)
		if (!strcmp(s[i].name, "__stop_BTF"))
			s[i].addr = TEXT + BTF_AT + (with_btf ? blen : 0);
	if (!with_btf) /* no BTF at all: the symbols are gone too */
		for (size_t i = 0; i < n; i++)
			if (!strncmp(s[i].name, "__st", 4))
				((char *)s[i].name)[2] = 'x';
	put(r, load + BANNER_AT, FX_BANNER, sizeof(FX_BANNER));
	r->kt = fx_kallsyms(&kb, s, n, FX_61_SEQS);
	put(r, load + KSYMS_AT, kb.p, kb.len);
	if (with_btf)
		put(r, load + BTF_AT, braw, blen);
	r->btf_len = with_btf ? blen : 0;
	pgt_build(r, load);
	put64(r, load + VMCI_AT, PO_BASE + VMCI_PA);
	put64(r, load + VMCI_AT + 8, PO_BASE);
	free(kb.p);
	fx_syms_free(s, n);
	btf__free(b);
}

static struct ram *ram_new(bool with_btf)
{
	static const char vmci[] =
	    "OSRELEASE=6.1.0-fixture\nPAGESIZE=4096\nKERNELOFFSET=19000000\n";
	struct ram *r = calloc(1, sizeof(*r));

	r->b = calloc(1, RAM);
	assert_non_null(r->b);
	image_put(r, LOAD, with_btf);
	put(r, VMCI_PA, vmci, sizeof(vmci));
	return r;
}

static void ram_free(struct ram *r)
{
	free(r->b);
	free(r);
}

static uint64_t ksym(const struct vmt_kfound *k, const char *name)
{
	for (size_t i = 0; i < k->ks.n; i++)
		if (!strcmp(k->ks.names + k->ks.syms[i].name, name))
			return k->ks.syms[i].addr;
	fail_msg("no symbol %s", name);
	return 0;
}

/* ------------------------------------------------------------- found */

static void test_kfind_found(void **state)
{
	struct ram *r = ram_new(true);
	struct vmt_physmem pm = pm_of(r);
	struct vmt_kfound k;

	(void)state;
	assert_int_equal(vmt_kfind(&pm, &k), 0);
	assert_int_equal(k.text_pa, LOAD);
	assert_int_equal(k.banner_pa, LOAD + BANNER_AT);
	assert_int_equal(k.btf_pa, LOAD + BTF_AT);
	assert_int_equal(k.btf_len, r->btf_len);
	assert_true(k.running);
	assert_string_equal(k.banner, FX_BANNER);
	assert_int_equal(k.ks.n, NR_FILLERS + 9);
	/* run-time addresses as kallsyms decodes them, link-time ones after KERNELOFFSET */
	assert_int_equal(ksym(&k, "_text"), TEXT);
	assert_true(k.have_offset);
	assert_int_equal(k.kaslr_offset, OFFSET);
	vmt_kfind_unslide(&k);
	assert_int_equal(ksym(&k, "_text"), FX_TEXT);
	assert_int_equal(ksym(&k, "sym_00007"), FX_TEXT + 0x1000 + 16 * 7);
	assert_int_equal(ksym(&k, "fixed_percpu_data"), 0); /* absolute: not moved */
	vmt_kfound_free(&k);
	ram_free(r);
}

/* The whole profile, cached: the second open finds it by the hint and scans nothing. */
static void test_kfind_profile_cached(void **state)
{
	char dir[] = "/tmp/vmt-test-kfind.XXXXXX";
	struct ram *r = ram_new(true);
	struct vmt_physmem pm = pm_of(r);
	struct vmt_profile_mem_opts o = {.sz = sizeof(o), .cache_dir = dir};
	struct vmt_profile_info in;
	struct vmt_profile *p;
	uint64_t a;
	uint32_t off;
	char cmd[128];

	(void)state;
	assert_non_null(mkdtemp(dir));
	p = vmt_profile_from_memory(&pm, &o);
	assert_non_null(p);
	vmt_profile_info(p, &in);
	assert_false(in.from_cache);
	assert_int_equal(in.source, VMT_PROFILE_FROM_MEMORY);
	assert_int_equal(in.mem_text_pa, LOAD);
	assert_int_equal(in.mem_btf_pa, LOAD + BTF_AT);
	assert_string_equal(vmt_profile_banner(p), FX_BANNER);
	assert_int_equal(vmt_profile_symbol(p, "linux_banner", &a), 0);
	assert_int_equal(a, FX_TEXT + BANNER_AT);
	assert_int_equal(vmt_profile_field(p, "task_struct", "comm", &off), 0);
	assert_int_equal(off, 48);
	vmt_profile_free(p);
	r->scans = 0;
	p = vmt_profile_from_memory(&pm, &o);
	assert_non_null(p);
	vmt_profile_info(p, &in);
	assert_true(in.from_cache);
	assert_int_equal(r->scans, 0);
	assert_int_equal(in.source, VMT_PROFILE_FROM_MEMORY);
	assert_int_equal(vmt_profile_field(p, "task_struct", "comm", &off), 0);
	vmt_profile_free(p);
	/* memory now holds another kernel (BTF changed): the hint is not taken */
	r->b[LOAD + BTF_AT + r->btf_len - 2] ^= 0x01;
	p = vmt_profile_from_memory(&pm, &o);
	if (p) { /* a string byte flipped: libbpf may still accept it, as a new kernel */
		vmt_profile_info(p, &in);
		assert_false(in.from_cache);
		vmt_profile_free(p);
	}
	assert_true(r->scans > 0);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	assert_int_equal(system(cmd), 0);
	ram_free(r);
}

/* A copy of the image below the real one: the running one is taken. */
static void test_kfind_two_images(void **state)
{
	struct ram *r = ram_new(true);
	struct vmt_physmem pm = pm_of(r);
	uint64_t copy = 8ull << 20;
	struct vmt_kfound k;

	(void)state;
	memcpy(r->b + copy, r->b + LOAD, END_AT);
	assert_int_equal(vmt_kfind(&pm, &k), 0);
	assert_int_equal(k.text_pa, LOAD);
	assert_true(k.running);
	vmt_kfound_free(&k);
	/* without a page-table check the first one found is taken (and kaslr.c decides) */
	pm.maps = NULL;
	assert_int_equal(vmt_kfind(&pm, &k), 0);
	assert_int_equal(k.text_pa, copy);
	assert_false(k.running);
	vmt_kfound_free(&k);
	ram_free(r);
}

/* ------------------------------------------------------------- errors */

static void test_kfind_no_kernel(void **state)
{
	struct ram *r = calloc(1, sizeof(*r));
	struct vmt_physmem pm = pm_of(r);
	struct vmt_kfound k;

	(void)state;
	r->b = malloc(RAM);
	for (size_t i = 0; i < RAM; i++)
		r->b[i] = (uint8_t)(i * 2654435761u >> 13);
	assert_int_equal(vmt_kfind(&pm, &k), -ENOENT);
	assert_non_null(strstr(vmt_last_error(), "no Linux kernel"));
	/* a banner alone (a log, a file in the page cache) is not a kernel */
	memcpy(r->b + 0x12345, FX_BANNER, sizeof(FX_BANNER));
	assert_int_equal(vmt_kfind(&pm, &k), -ENOEXEC);
	assert_non_null(strstr(vmt_last_error(), "--kernel"));
	ram_free(r);
}

static void test_kfind_no_btf(void **state)
{
	struct ram *r = ram_new(false);
	struct vmt_physmem pm = pm_of(r);
	struct vmt_profile_mem_opts o = {.sz = sizeof(o), .no_cache = 1};

	(void)state;
	assert_null(vmt_profile_from_memory(&pm, &o));
	assert_int_equal(errno, ENOEXEC);
	assert_non_null(strstr(vmt_last_error(), "no BTF"));
	assert_non_null(strstr(vmt_last_error(), "--kernel"));
	ram_free(r);
}

/* Corrupt BTF: a bad header is no BTF; a bad body is refused by libbpf. */
static void test_kfind_bad_btf(void **state)
{
	struct ram *r = ram_new(true);
	struct vmt_physmem pm = pm_of(r);
	struct vmt_profile_mem_opts o = {.sz = sizeof(o), .no_cache = 1};
	uint32_t huge = 0x7fffffff;

	(void)state;
	memset(r->b + LOAD + BTF_AT + 24, 0xff, 32); /* the first types */
	assert_null(vmt_profile_from_memory(&pm, &o));
	assert_int_equal(errno, EBADMSG);
	assert_non_null(strstr(vmt_last_error(), "BTF"));
	memcpy(r->b + LOAD + BTF_AT + 12, &huge, 4); /* type_len far past __stop_BTF */
	assert_null(vmt_profile_from_memory(&pm, &o));
	assert_non_null(strstr(vmt_last_error(), "BTF"));
	ram_free(r);
}

/* Broken kallsyms: markers, names, token index each in turn: an error, never a crash. */
static void test_kfind_bad_kallsyms(void **state)
{
	struct vmt_kfound k;

	(void)state;
	for (int what = 0; what < 4; what++) {
		struct ram *r = ram_new(true);
		struct vmt_physmem pm = pm_of(r);
		uint8_t *ks = r->b + LOAD + KSYMS_AT;
		/* marker 1, the first name's length, num_syms, token 0's first byte */
		size_t at[] = {r->kt.markers + 4, r->kt.names, r->kt.num_syms + 1, r->kt.tokens};
		uint8_t val[] = {0xff, 0, 0x7f, 0};

		ks[at[what]] = val[what];
		assert_int_not_equal(vmt_kfind(&pm, &k), 0);
		ram_free(r);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_kfind_found),	       cmocka_unit_test(test_kfind_profile_cached),
	    cmocka_unit_test(test_kfind_two_images),   cmocka_unit_test(test_kfind_no_kernel),
	    cmocka_unit_test(test_kfind_no_btf),       cmocka_unit_test(test_kfind_bad_btf),
	    cmocka_unit_test(test_kfind_bad_kallsyms),
	};

	vmt_set_log(NULL, NULL, VMT_LOG_ERROR);
	return cmocka_run_group_tests(tests, NULL, NULL);
}

// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * test_kallsyms.c - kallsyms recovery from synthetic tables laid out as
 * scripts/kallsyms.c does (6.1, 6.1 + seqs_of_names, 6.4+), and hostile
 * variants of them: every corruption must end in -ENOENT, never a crash or
 * an out-of-bounds read (run under ASan/valgrind to make that visible).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/internal.h"
#include "profile/profile_priv.h"
#include "profile_fixture.h"

#define NFILL 600 /* > 2 * 256: three markers */

struct kfix {
	struct fx_sym *syms;
	size_t n;
	struct fx_buf b;
	struct fx_ktab at;
};

/* Tables after some junk, as in .rodata, at an 8-aligned address. */
static struct kfix *kfix_new(enum fx_layout l, size_t nfill)
{
	struct kfix *k = calloc(1, sizeof(*k));

	k->syms = fx_syms(nfill, &k->n);
	k->b.va = FX_RODATA + 0x100;
	for (int i = 0; i < 40; i++)
		fx_u8(&k->b, (uint8_t)(0xa5 + i));
	k->at = fx_kallsyms(&k->b, k->syms, k->n, l);
	for (int i = 0; i < 40; i++)
		fx_u8(&k->b, 0x5a);
	return k;
}

static void kfix_free(struct kfix *k)
{
	fx_syms_free(k->syms, k->n);
	free(k->b.p);
	free(k);
}

static int recover(const struct kfix *k, size_t len, struct vmt_ksyms *out)
{
	struct vmt_region r = {k->b.p, len, k->b.va};

	return vmt_kallsyms_recover(&r, out);
}

static void check_all(const struct kfix *k, const struct vmt_ksyms *ks)
{
	assert_int_equal(ks->n, k->n);
	for (size_t i = 0; i < k->n; i++) {
		assert_string_equal(ks->names + ks->syms[i].name, k->syms[i].name);
		assert_int_equal(ks->syms[i].type, k->syms[i].type);
		assert_true(ks->syms[i].addr == k->syms[i].addr);
	}
}

static void recover_layout(enum fx_layout l)
{
	struct kfix *k = kfix_new(l, NFILL);
	struct vmt_ksyms ks;

	assert_int_equal(recover(k, k->b.len, &ks), 0);
	check_all(k, &ks);
	vmt_ksyms_free(&ks);
	kfix_free(k);
}

static void test_layout_61(void **state)
{
	(void)state;
	recover_layout(FX_61);
}

static void test_layout_61_seqs(void **state)
{
	(void)state;
	recover_layout(FX_61_SEQS);
}

static void test_layout_64(void **state)
{
	(void)state;
	recover_layout(FX_64);
}

/* Symbol counts around the marker boundaries and the odd/even padding cases. */
static void test_counts(void **state)
{
	static const size_t fills[] = {0, 1, 250, 251, 252, 253, 254, 509, 510, 1021};

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(fills); i++)
		for (enum fx_layout l = FX_61; l <= FX_64; l++) {
			struct kfix *k = kfix_new(l, fills[i]);
			struct vmt_ksyms ks;

			assert_int_equal(recover(k, k->b.len, &ks), 0);
			check_all(k, &ks);
			vmt_ksyms_free(&ks);
			kfix_free(k);
		}
}

/* A name over 127 tokens: 2-byte ULEB128 length (6.1 "big symbols"). */
static void test_big_symbol(void **state)
{
	struct kfix *k = calloc(1, sizeof(*k));
	struct vmt_ksyms ks;
	char big[301];

	(void)state;
	memset(big, 'x', 300);
	big[300] = '\0';
	k->syms = fx_syms(10, &k->n);
	free((char *)k->syms[5].name);
	k->syms[5].name = strdup(big);
	k->b.va = FX_RODATA;
	k->at = fx_kallsyms(&k->b, k->syms, k->n, FX_61);
	assert_int_equal(recover(k, k->b.len, &ks), 0);
	assert_string_equal(ks.names + ks.syms[5].name, big);
	check_all(k, &ks);
	vmt_ksyms_free(&ks);
	kfix_free(k);
}

static void expect_enoent(struct kfix *k)
{
	struct vmt_ksyms ks = {0};

	assert_int_equal(recover(k, k->b.len, &ks), -ENOENT);
	assert_null(ks.syms);
	assert_non_null(strstr(vmt_last_error(), "kallsyms"));
}

static void test_markers_not_increasing(void **state)
{
	struct kfix *k = kfix_new(FX_61, NFILL);
	uint32_t m[3];

	(void)state;
	memcpy(m, k->b.p + k->at.markers, sizeof(m));
	m[2] = m[1] - 1;
	memcpy(k->b.p + k->at.markers, m, sizeof(m));
	expect_enoent(k);
	kfix_free(k);
}

static void test_name_length_past_end(void **state)
{
	struct kfix *k = kfix_new(FX_61, NFILL);
	size_t pos = k->at.names;

	(void)state;
	/* Walk to the last entry and make its length run into the markers. */
	for (size_t i = 0; i + 1 < k->n; i++)
		pos += 1 + k->b.p[pos];
	k->b.p[pos] = 0x7f;
	expect_enoent(k);
	kfix_free(k);
}

static void test_num_syms_huge(void **state)
{
	struct kfix *k = kfix_new(FX_61, NFILL);
	uint32_t huge = 0xfffffff0u;

	(void)state;
	memcpy(k->b.p + k->at.num_syms, &huge, 4);
	expect_enoent(k);
	kfix_free(k);
}

static void test_token_index_wrong(void **state)
{
	struct kfix *k = kfix_new(FX_61, NFILL);

	(void)state;
	/* token "5" claims to start one byte later */
	k->b.p[k->b.len - 40 - 512 + 2 * 0x35] += 1;
	expect_enoent(k);
	kfix_free(k);
}

static void test_addresses_unsorted(void **state)
{
	struct kfix *k = kfix_new(FX_61, NFILL);
	size_t off_tab = k->at.num_syms - 8 - ((4 * k->n + 7) & ~(size_t)7);
	int32_t o;

	(void)state;
	memcpy(&o, k->b.p + off_tab + 4 * 100, 4);
	o -= 0x100000; /* symbol 100 moves far above its successors */
	memcpy(k->b.p + off_tab + 4 * 100, &o, 4);
	expect_enoent(k);
	kfix_free(k);
}

static void test_no_tables(void **state)
{
	struct kfix *k = calloc(1, sizeof(*k));
	static const char junk[] = "0\0"
				   "1\0"
				   "2\0"
				   "3\0"
				   "4\0"
				   "5\0"
				   "6\0"
				   "7\0"
				   "8\0"
				   "9";

	(void)state;
	for (int i = 0; i < 100; i++)
		fx_put(&k->b, junk, sizeof(junk));
	expect_enoent(k);
	free(k->b.p);
	free(k);
}

/* Every truncation of a small table set fails cleanly (or, uncut, succeeds). */
static void test_truncations(void **state)
{
	struct kfix *k = kfix_new(FX_61_SEQS, 40);

	(void)state;
	for (size_t len = 0; len < k->b.len; len++) {
		struct vmt_ksyms ks = {0};
		int err = recover(k, len, &ks);

		/* the tail after the tables is junk: cutting it loses nothing */
		if (!err)
			check_all(k, &ks);
		else
			assert_int_equal(err, -ENOENT);
		vmt_ksyms_free(&ks);
	}
	kfix_free(k);
}

/* Random byte flips: any result is fine as long as nothing crashes. */
static void test_random_flips(void **state)
{
	struct kfix *k = kfix_new(FX_61, 300);
	uint8_t *orig = malloc(k->b.len);

	(void)state;
	memcpy(orig, k->b.p, k->b.len);
	srand(1234);
	for (int round = 0; round < 400; round++) {
		struct vmt_ksyms ks = {0};

		memcpy(k->b.p, orig, k->b.len);
		for (int f = 0; f < 4; f++)
			k->b.p[(size_t)rand() % k->b.len] = (uint8_t)rand();
		if (!recover(k, k->b.len, &ks))
			assert_true(ks.n > 0);
		vmt_ksyms_free(&ks);
	}
	free(orig);
	kfix_free(k);
}

/*
 * Crafted to make a naive search quadratic: a valid token table behind 4 MB
 * of u32 values that decrease, going back, all the way down to 0 (a
 * "markers" array for any end position).  Must fail, and fast.
 */
static void test_crafted_slow(void **state)
{
	struct kfix *k = calloc(1, sizeof(*k));
	uint16_t idx[256];
	char one[2];
	size_t start;

	(void)state;
	k->b.va = FX_RODATA;
	for (uint32_t i = 0; i < (1u << 20); i++)
		fx_u32(&k->b, i);
	start = k->b.len;
	for (unsigned i = 0; i < 256; i++) {
		const char *t = fx_token(i, one);

		idx[i] = (uint16_t)(k->b.len - start);
		fx_put(&k->b, t, strlen(t) + 1);
	}
	fx_align(&k->b, 8);
	fx_put(&k->b, idx, sizeof(idx));
	expect_enoent(k);
	free(k->b.p);
	free(k);
}

static void test_sysmap(void **state)
{
	static const char placeholder[] =
	    "ffffffffffffffff B The real System.map is in the linux-image-<version>-dbg "
	    "package\n";
	static const char good[] = "ffffffff81000000 T _text\n"
				   "ffffffff82a1aa40 D init_task\n"
				   "garbage line\n"
				   "ffffffff8211ffe0 D linux_banner";
	struct vmt_ksyms ks;

	(void)state;
	assert_int_equal(vmt_sysmap_parse(placeholder, strlen(placeholder), &ks), -ENOENT);
	assert_int_equal(vmt_sysmap_parse(good, strlen(good), &ks), 0);
	assert_int_equal(ks.n, 3);
	assert_string_equal(ks.names + ks.syms[2].name, "linux_banner");
	assert_true(ks.syms[1].addr == 0xffffffff82a1aa40ull);
	assert_int_equal(ks.syms[1].type, 'D');
	vmt_ksyms_free(&ks);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_layout_61),
	    cmocka_unit_test(test_layout_61_seqs),
	    cmocka_unit_test(test_layout_64),
	    cmocka_unit_test(test_counts),
	    cmocka_unit_test(test_big_symbol),
	    cmocka_unit_test(test_markers_not_increasing),
	    cmocka_unit_test(test_name_length_past_end),
	    cmocka_unit_test(test_num_syms_huge),
	    cmocka_unit_test(test_token_index_wrong),
	    cmocka_unit_test(test_addresses_unsorted),
	    cmocka_unit_test(test_no_tables),
	    cmocka_unit_test(test_truncations),
	    cmocka_unit_test(test_random_flips),
	    cmocka_unit_test(test_crafted_slow),
	    cmocka_unit_test(test_sysmap),
	};

	vmt_set_log(NULL, NULL, VMT_LOG_ERROR);
	return cmocka_run_group_tests(tests, NULL, NULL);
}

// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * test_pager_policy.c - the pager's victim choice (src/pager/policy.h).
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "pager/policy.h"

static bool ok_all(uint64_t i, void *ctx)
{
	return true;
}

static bool ok_not_busy(uint64_t i, void *ctx)
{
	return i != *(uint64_t *)ctx;
}

static void test_parse(void **state)
{
	enum pager_policy_kind k;

	assert_int_equal(pager_policy_parse("clock", &k), 0);
	assert_int_equal(k, POLICY_CLOCK);
	assert_int_equal(pager_policy_parse("fifo", &k), 0);
	assert_int_equal(pager_policy_parse("address", &k), 0);
	assert_string_equal(pager_policy_name(k), "address");
	assert_int_equal(pager_policy_parse("lru", &k), -EINVAL);
}

static void test_empty(void **state)
{
	struct pager_policy p;
	uint64_t v;

	assert_int_equal(pager_policy_init(&p, POLICY_CLOCK, 0), -EINVAL);
	assert_int_equal(pager_policy_init(&p, POLICY_CLOCK, 16), 0);
	assert_int_equal(pager_policy_pick(&p, ok_all, NULL, &v), -ENOENT);
	pager_policy_add(&p, 3);
	pager_policy_remove(&p, 3);
	assert_int_equal(pager_policy_pick(&p, ok_all, NULL, &v), -ENOENT);
	pager_policy_add(&p, 99); /* out of range: ignored */
	assert_int_equal(p.resident, 0);
	pager_policy_free(&p);
}

/* Oldest first, whatever the use; removed and busy chunks are skipped. */
static void test_fifo(void **state)
{
	struct pager_policy p;
	uint64_t v, busy = 7;

	assert_int_equal(pager_policy_init(&p, POLICY_FIFO, 16), 0);
	pager_policy_add(&p, 7);
	pager_policy_add(&p, 2);
	pager_policy_add(&p, 9);
	pager_policy_add(&p, 2); /* twice: no change */
	pager_policy_touch(&p, 7);
	assert_int_equal(pager_policy_pick(&p, ok_all, NULL, &v), 0);
	assert_int_equal(v, 7);
	assert_int_equal(pager_policy_pick(&p, ok_not_busy, &busy, &v), 0);
	assert_int_equal(v, 2);
	pager_policy_remove(&p, 2);
	pager_policy_remove(&p, 7);
	pager_policy_add(&p, 7); /* back in: now newest */
	assert_int_equal(pager_policy_pick(&p, ok_all, NULL, &v), 0);
	assert_int_equal(v, 9);
	assert_int_equal(p.resident, 2);
	pager_policy_free(&p);
}

/* Second chance: a used chunk survives one pass of the hand, an unused one does not. */
static void test_clock(void **state)
{
	struct pager_policy p;
	uint64_t v;

	assert_int_equal(pager_policy_init(&p, POLICY_CLOCK, 8), 0);
	for (uint64_t i = 0; i < 4; i++)
		pager_policy_add(&p, i); /* new chunks count as used */
	/* First pass clears every bit, then chunk 0 is the victim. */
	assert_int_equal(pager_policy_pick(&p, ok_all, NULL, &v), 0);
	assert_int_equal(v, 0);
	pager_policy_remove(&p, 0);
	pager_policy_touch(&p, 1); /* 1 is used again: 2 goes next */
	assert_int_equal(pager_policy_pick(&p, ok_all, NULL, &v), 0);
	assert_int_equal(v, 2);
	pager_policy_remove(&p, 2);
	assert_int_equal(pager_policy_pick(&p, ok_all, NULL, &v), 0);
	assert_int_equal(v, 3);
	pager_policy_free(&p);
}

static void count_aged(uint64_t i, void *ctx)
{
	((unsigned *)ctx)[i]++;
}

static bool ok_all_counting(uint64_t i, void *ctx)
{
	return true;
}

/* The hand tells the pager each chunk whose young bit it takes, once per pass. */
static void test_clock_aged(void **state)
{
	struct pager_policy p;
	unsigned aged[8] = {0};
	uint64_t v;

	assert_int_equal(pager_policy_init(&p, POLICY_CLOCK, 8), 0);
	p.aged = count_aged;
	pager_policy_add(&p, 2);
	pager_policy_add(&p, 5);
	assert_int_equal(pager_policy_pick(&p, ok_all_counting, aged, &v), 0);
	assert_int_equal(v, 2);
	assert_int_equal(aged[2], 1);
	assert_int_equal(aged[5], 1);
	assert_int_equal(aged[0] + aged[1] + aged[3], 0);
	pager_policy_free(&p);
}

/* Address order, round robin, use ignored. */
static void test_address(void **state)
{
	struct pager_policy p;
	uint64_t v, busy = 5;

	assert_int_equal(pager_policy_init(&p, POLICY_ADDRESS, 8), 0);
	pager_policy_add(&p, 6);
	pager_policy_add(&p, 5);
	pager_policy_add(&p, 1);
	pager_policy_touch(&p, 1);
	assert_int_equal(pager_policy_pick(&p, ok_all, NULL, &v), 0);
	assert_int_equal(v, 1);
	assert_int_equal(pager_policy_pick(&p, ok_not_busy, &busy, &v), 0);
	assert_int_equal(v, 6);
	assert_int_equal(pager_policy_pick(&p, ok_all, NULL, &v), 0);
	assert_int_equal(v, 1); /* wrapped */
	pager_policy_free(&p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_parse),   cmocka_unit_test(test_empty),
	    cmocka_unit_test(test_fifo),    cmocka_unit_test(test_clock),
	    cmocka_unit_test(test_address), cmocka_unit_test(test_clock_aged),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * test_btf.c - field/size/enum resolution over a small BTF blob built with
 * libbpf: nested and anonymous members, typedef/const in the way, array
 * subscripts, and the refusals (bitfields, pointers, missing names, corrupt
 * blobs).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>

#include <bpf/libbpf.h>
#include <cmocka.h>

#include "core/internal.h"
#include "profile/profile_priv.h"
#include "profile_fixture.h"

static int setup(void **state)
{
	struct btf *b = fx_btf();
	uint32_t len;
	const void *raw = btf__raw_data(b, &len);

	*state = vmt_btf_new(raw, len);
	btf__free(b);
	return *state ? 0 : -1;
}

static int teardown(void **state)
{
	vmt_btf_free(*state);
	return 0;
}

static void expect_field(struct vmt_btf *b, const char *path, uint32_t off, uint32_t size)
{
	uint32_t o = 0xdead, s = 0xdead;

	if (vmt_btf_field(b, "task_struct", path, &o, &s))
		fail_msg("%s: %s", path, vmt_last_error());
	assert_int_equal(o, off);
	assert_int_equal(s, size);
}

static void test_plain_and_nested(void **state)
{
	expect_field(*state, "pid", 0, 4);
	expect_field(*state, "tasks", 8, 16);
	expect_field(*state, "tasks.next", 8, 8);
	expect_field(*state, "tasks.prev", 16, 8);
	/* se is "const se_t": a const of a typedef of the struct */
	expect_field(*state, "se", 24, 16);
	expect_field(*state, "se.sum_exec_runtime", 32, 8);
}

static void test_anonymous_members(void **state)
{
	/* union { u64 a; struct { u32 lo, hi; }; } at 40, both anonymous */
	expect_field(*state, "a", 40, 8);
	expect_field(*state, "lo", 40, 4);
	expect_field(*state, "hi", 44, 4);
}

static void test_arrays(void **state)
{
	uint32_t off;

	expect_field(*state, "comm", 48, 16);
	expect_field(*state, "comm[3]", 51, 1);
	assert_int_equal(vmt_btf_field(*state, "task_struct", "comm[16]", &off, NULL), -EINVAL);
	assert_int_equal(vmt_btf_field(*state, "task_struct", "pid[0]", &off, NULL), -EINVAL);
	assert_int_equal(vmt_btf_field(*state, "task_struct", "comm[x]", &off, NULL), -EINVAL);
}

static void test_type_spellings(void **state)
{
	uint32_t off, size;

	assert_int_equal(vmt_btf_field(*state, "struct task_struct", "pid", &off, &size), 0);
	assert_int_equal(vmt_btf_struct_size(*state, "struct task_struct", &size), 0);
	assert_int_equal(size, 64);
	/* a typedef name resolves to its struct */
	assert_int_equal(vmt_btf_field(*state, "se_t", "vruntime", &off, &size), 0);
	assert_int_equal(off, 0);
	assert_int_equal(vmt_btf_struct_size(*state, "se_t", &size), 0);
	assert_int_equal(size, 16);
	assert_int_equal(vmt_btf_struct_size(*state, "list_head", &size), 0);
	assert_int_equal(size, 16);
}

static void test_refusals(void **state)
{
	uint32_t off, size;

	assert_int_equal(vmt_btf_field(*state, "task_struct", "in_execve", &off, NULL), -EINVAL);
	assert_non_null(strstr(vmt_last_error(), "bitfield"));
	assert_int_equal(vmt_btf_field(*state, "task_struct", "flags", &off, NULL), -EINVAL);
	assert_int_equal(vmt_btf_field(*state, "task_struct", "nosuch", &off, NULL), -ENOENT);
	assert_non_null(strstr(vmt_last_error(), "nosuch"));
	assert_int_equal(vmt_btf_field(*state, "task_struct", "se.nosuch", &off, NULL), -ENOENT);
	assert_int_equal(vmt_btf_field(*state, "nosuch_struct", "pid", &off, NULL), -ENOENT);
	assert_non_null(strstr(vmt_last_error(), "nosuch_struct"));
	/* next is a pointer: no member offset through it */
	assert_int_equal(vmt_btf_field(*state, "task_struct", "tasks.next.prev", &off, NULL),
			 -EINVAL);
	assert_int_equal(vmt_btf_field(*state, "task_struct", "pid.x", &off, NULL), -EINVAL);
	assert_int_equal(vmt_btf_field(*state, "task_struct", "pid.", &off, NULL), -EINVAL);
	assert_int_equal(vmt_btf_field(*state, "task_struct", "", &off, NULL), -EINVAL);
	assert_int_equal(vmt_btf_field(*state, "task_struct", ".pid", &off, NULL), -ENOENT);
	/* an enum is not a struct */
	assert_int_equal(vmt_btf_struct_size(*state, "pid_type", &size), -ENOENT);
}

static void test_enums(void **state)
{
	int64_t v;

	assert_int_equal(vmt_btf_enum(*state, "pid_type", "PIDTYPE_TGID", &v), 0);
	assert_int_equal(v, 1);
	assert_int_equal(vmt_btf_enum(*state, "enum pid_type", "PIDTYPE_PGID", &v), 0);
	assert_int_equal(v, 2);
	/* anonymous enum: search them all */
	assert_int_equal(vmt_btf_enum(*state, NULL, "TCP_LISTEN", &v), 0);
	assert_int_equal(v, 10);
	assert_int_equal(vmt_btf_enum(*state, "pid_type", "TCP_LISTEN", &v), -ENOENT);
	assert_int_equal(vmt_btf_enum(*state, "nosuch", "PIDTYPE_PID", &v), -ENOENT);
	assert_int_equal(vmt_btf_enum(*state, NULL, "NOSUCH", &v), -ENOENT);
}

static void test_corrupt_blob(void **state)
{
	struct btf *b = fx_btf();
	uint32_t len;
	const void *raw = btf__raw_data(b, &len);
	uint8_t *bad = malloc(len);
	struct vmt_btf *vb;

	(void)state;
	memcpy(bad, raw, len);
	bad[0] ^= 0xff; /* magic */
	vb = vmt_btf_new(bad, len);
	assert_null(vb);
	assert_int_equal(errno, EBADMSG);
	assert_non_null(strstr(vmt_last_error(), "BTF is corrupt"));
	memcpy(bad, raw, len);
	assert_null(vmt_btf_new(bad, len / 2)); /* truncated */
	assert_null(vmt_btf_new(bad, 0));
	assert_int_equal(errno, ENOENT);
	free(bad);
	btf__free(b);
}

/*
 * Hostile BTF: two anonymous struct types that nest six of each other.  A
 * search for a missing member would visit 6^16 paths; the lookup must give
 * up after a bounded number of visits (found by fuzzing).
 */
static void test_anonymous_blowup(void **state)
{
	struct btf *b = btf__new_empty();
	struct vmt_btf *vb;
	uint32_t len, off, size;
	const void *raw;
	int i_int, a, c, task;

	(void)state;
	i_int = btf__add_int(b, "int", 4, BTF_INT_SIGNED);
	a = btf__add_struct(b, "", 8);
	for (int i = 0; i < 6; i++)
		assert_int_equal(btf__add_field(b, "", a + 1, 0, 0), 0);
	c = btf__add_struct(b, "", 8);
	for (int i = 0; i < 6; i++)
		assert_int_equal(btf__add_field(b, "", a, 0, 0), 0);
	task = btf__add_struct(b, "task_struct", 16);
	assert_int_equal(btf__add_field(b, "", a, 0, 0), 0);
	assert_int_equal(btf__add_field(b, "pid", i_int, 64, 0), 0);
	assert_true(i_int > 0 && c == a + 1 && task > c);
	raw = btf__raw_data(b, &len);
	vb = vmt_btf_new(raw, len);
	assert_non_null(vb);
	assert_int_equal(vmt_btf_field(vb, "task_struct", "pid", &off, &size), 0);
	assert_int_equal(off, 8);
	assert_int_equal(vmt_btf_field(vb, "task_struct", "nosuch", &off, &size), -ELOOP);
	vmt_btf_free(vb);
	btf__free(b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_plain_and_nested), cmocka_unit_test(test_anonymous_members),
	    cmocka_unit_test(test_arrays),	     cmocka_unit_test(test_type_spellings),
	    cmocka_unit_test(test_refusals),	     cmocka_unit_test(test_enums),
	    cmocka_unit_test(test_corrupt_blob),     cmocka_unit_test(test_anonymous_blowup),
	};

	vmt_set_log(NULL, NULL, VMT_LOG_ERROR);
	libbpf_set_print(NULL);
	return cmocka_run_group_tests(tests, setup, teardown);
}

// SPDX-License-Identifier: LGPL-2.1-or-later
/* test_bench.c - vmt bench's pure parts: statistics, child runner, results files. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <errno.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench/bench.h"

static void test_summary(void **state)
{
	double odd[] = {5, 1, 3}, even[] = {4, 1, 3, 2}, one[] = {7};
	struct bench_summary s;

	bench_summarize(odd, 3, &s);
	assert_int_equal(s.n, 3);
	assert_true(s.median == 3 && s.min == 1 && s.max == 5 && s.q1 == 2 && s.q3 == 4);
	bench_summarize(even, 4, &s);
	assert_true(s.median == 2.5 && s.q1 == 1.75 && s.q3 == 3.25);
	bench_summarize(one, 1, &s);
	assert_true(s.median == 7 && s.min == 7 && s.max == 7);
	bench_summarize(NULL, 0, &s);
	assert_int_equal(s.n, 0);
}

static void test_run_captures(void **state)
{
	char *argv[] = {"/bin/sh", "-c", "echo out; echo err >&2; exit 3", NULL};
	struct bench_out o;

	assert_int_equal(bench_run(argv, 10, false, &o), 0);
	assert_int_equal(o.status, 3);
	assert_string_equal(o.out, "out\n");
	assert_string_equal(o.err, "err\n");
	bench_out_free(&o);
}

static void test_run_timeout(void **state)
{
	char *argv[] = {"/bin/sh", "-c", "exec sleep 30", NULL};
	struct bench_out o;

	assert_int_equal(bench_run(argv, 1, false, &o), -ETIMEDOUT);
	assert_int_equal(o.status, 128 + SIGKILL);
	assert_true(o.ms < 10000);
	bench_out_free(&o);
}

static void test_run_missing(void **state)
{
	char *argv[] = {"/nonexistent/vmt", NULL};
	struct bench_out o;

	assert_int_equal(bench_run(argv, 5, false, &o), 0);
	assert_int_equal(o.status, 127);
	bench_out_free(&o);
}

static void add(struct bench_results *r, const char *fig, const char *method, uint64_t chunk,
		double ms, bool split)
{
	struct bench_row w = {.chunk = chunk, .ms = ms, .pages_read = 10, .pageins = -1};

	snprintf(w.figure, sizeof(w.figure), "%s", fig);
	snprintf(w.method, sizeof(w.method), "%s", method);
	w.before.split = split;
	w.before.nr_sub = 1;
	w.before.main = 100;
	w.before.sub[0] = 50;
	w.before.moved = 0;
	w.before.differs_first = 2;
	assert_int_equal(bench_results_add(r, &w), 0);
}

static void test_results_files(void **state)
{
	char dir[] = "/tmp/vmt-test-bench-XXXXXX", path[256], line[512];
	struct bench_results r;
	struct bench_summary s;
	struct json_object *j, *rows;
	FILE *f;
	int n = 0;

	assert_non_null(mkdtemp(dir));
	assert_int_equal(bench_results_init(&r), 0);
	for (int i = 0; i < 100; i++) /* past the first allocation */
		add(&r, "4a", "runtime", 4096, i, true);
	add(&r, "4a", "vm", 4096, 7, true);
	add(&r, "4b", "unsplit", 0, 3, false);
	bench_results_summary(&r, "4a", "runtime", 4096, &s);
	assert_int_equal(s.n, 100);
	assert_true(s.median == 49.5);
	bench_results_summary(&r, "4a", "runtime", ~0ull, &s);
	assert_int_equal(s.n, 100);
	bench_results_summary(&r, "4a", "vm", 65536, &s);
	assert_int_equal(s.n, 0);
	json_object_object_add(r.meta, "knobs", json_object_new_object());
	assert_int_equal(bench_results_write(&r, dir), 0);

	snprintf(path, sizeof(path), "%s/results.csv", dir);
	assert_non_null(f = fopen(path, "r"));
	assert_non_null(fgets(line, sizeof(line), f));
	assert_non_null(strstr(line, "figure,method,chunk_bytes,"));
	while (fgets(line, sizeof(line), f))
		n++;
	fclose(f);
	assert_int_equal(n, 102);
	unlink(path);

	snprintf(path, sizeof(path), "%s/results.json", dir);
	assert_non_null(j = json_object_from_file(path));
	assert_true(json_object_object_get_ex(j, "rows", &rows));
	assert_int_equal(json_object_array_length(rows), 102);
	assert_true(json_object_object_get_ex(j, "knobs", NULL));
	assert_true(json_object_object_get_ex(j, "summary", &rows));
	assert_int_equal(json_object_array_length(rows), 3);
	json_object_put(j);
	unlink(path);
	rmdir(dir);
	bench_results_free(&r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_summary),	  cmocka_unit_test(test_run_captures),
	    cmocka_unit_test(test_run_timeout),	  cmocka_unit_test(test_run_missing),
	    cmocka_unit_test(test_results_files),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

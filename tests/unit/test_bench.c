// SPDX-License-Identifier: LGPL-2.1-or-later
/* test_bench.c - vmt bench's pure parts: statistics, child runner, results
 * files. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <errno.h>
#include <json-c/json.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench/bench.h"
#include "bench/scale.h"
#include "bench/micro.h"
#include "bench/pager_probe.h"

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

static void test_quantile(void **state)
{
	double v[] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10}, one[] = {4};

	assert_true(bench_quantile(v, 10, 0.5) == 5.5);
	assert_true(fabs(bench_quantile(v, 10, 0.9) - 9.1) < 1e-9);
	assert_true(bench_quantile(v, 10, 0) == 1 && bench_quantile(v, 10, 1) == 10);
	assert_true(bench_quantile(one, 1, 0.9) == 4);
	assert_true(bench_quantile(NULL, 0, 0.5) == 0);
}

/* Every figure row names its limit and ratio; limits have none; empty rows are refused. */
static void test_micro_results(void **state)
{
	char dir[] = "/tmp/vmt-test-micro-XXXXXX", path[256], line[512];
	double fig[] = {30, 10, 20}, lim[] = {5, 5, 5, 5};
	struct json_object *j, *rows, *row, *v;
	struct micro_results r;
	int f, l, n = 0;
	FILE *fp;

	assert_non_null(mkdtemp(dir));
	assert_int_equal(micro_results_init(&r), 0);
	for (int i = 0; i < 40; i++) { /* past the first allocation */
		double x = i;

		assert_true(micro_add(&r, "mem", "pad", (uint64_t)i, "us", true, &x, 1) >= 0);
	}
	f = micro_add(&r, "nbd", "nbd_read_latency", 4096, "us", false, fig, 3);
	l = micro_add(&r, "nbd", "tcp_rr_latency", 4096, "us", true, lim, 4);
	assert_int_equal(micro_add(&r, "nbd", "empty", 0, "us", false, fig, 0), -ENODATA);
	assert_int_equal(micro_set_limit(&r, f, l), 0);
	assert_int_equal(micro_set_limit(&r, f, 999), -ENOENT);
	assert_true(r.rows[f].s.median == 20 && r.rows[f].limit == 5 && r.rows[f].ratio == 4);
	assert_true(fabs(r.rows[f].p90 - 28) < 1e-9);
	assert_ptr_equal(micro_find(&r, "nbd", "tcp_rr_latency", 4096), &r.rows[l]);
	assert_null(micro_find(&r, "nbd", "tcp_rr_latency", 8192));
	json_object_object_add(r.meta, "machine", json_object_new_object());
	assert_int_equal(micro_results_write(&r, dir), 0);

	snprintf(path, sizeof(path), "%s/results.csv", dir);
	assert_non_null(fp = fopen(path, "r"));
	assert_non_null(fgets(line, sizeof(line), fp));
	assert_string_equal(line, "section,metric,param,unit,role,n,value,p90,min,max,q1,q3,"
				  "limit_metric,limit,ratio\n");
	while (fgets(line, sizeof(line), fp))
		if (++n == 41)
			assert_string_equal(line, "nbd,nbd_read_latency,4096,us,figure,3,20,28,10,"
						  "30,15,25,tcp_rr_latency,5,4\n");
	fclose(fp);
	assert_int_equal(n, 42);
	unlink(path);

	snprintf(path, sizeof(path), "%s/results.json", dir);
	assert_non_null(j = json_object_from_file(path));
	assert_true(json_object_object_get_ex(j, "machine", NULL));
	assert_true(json_object_object_get_ex(j, "rows", &rows));
	assert_int_equal(json_object_array_length(rows), 42);
	row = json_object_array_get_idx(rows, (size_t)f);
	assert_true(json_object_object_get_ex(row, "ratio", &v) && json_object_get_double(v) == 4);
	row = json_object_array_get_idx(rows, (size_t)l);
	assert_true(json_object_object_get_ex(row, "limit", &v) && v == NULL);
	json_object_put(j);
	unlink(path);
	rmdir(dir);
	micro_results_free(&r);
}

/* The pager probe's child refuses what it cannot run, before touching anything. */
static void test_pager_child_args(void **state)
{
	char *few[] = {"fault", "4096"}, *odd[] = {"fault", "5000", "65536", "10", "/nonexistent"};
	char *mode[] = {"dance", "4096", "65536", "10", "/nonexistent"};
	char *nofile[] = {"fault", "4096", "65536", "10", "/nonexistent/ram"};

	assert_int_equal(pager_probe_child(2, few), 2);
	assert_int_equal(pager_probe_child(5, odd), 2);
	assert_int_equal(pager_probe_child(5, mode), 2);
	assert_int_equal(pager_probe_child(5, nofile), 1);
}

/* Least squares: an exact line, a known noisy set, the degenerate cases, a
 * power law. */
static void test_fit(void **state)
{
	double x[] = {1, 2, 3, 4}, line[] = {5, 7, 9, 11}, noisy[] = {2, 4, 5, 8};
	double flat[] = {3, 3, 3, 3}, same[] = {2, 2, 2, 2}, pw[4], neg[] = {1, -2, 3, 4};
	struct bench_fit f;

	assert_int_equal(bench_fit_linear(x, line, 4, &f), 0);
	assert_true(f.n == 4 && fabs(f.slope - 2) < 1e-12 && fabs(f.intercept - 3) < 1e-12);
	assert_true(fabs(f.r2 - 1) < 1e-12);
	/* by hand: sxx 5, sxy 9.5, sse 0.7, syy 18.75 */
	assert_int_equal(bench_fit_linear(x, noisy, 4, &f), 0);
	assert_true(fabs(f.slope - 1.9) < 1e-12 && fabs(f.intercept) < 1e-12);
	assert_true(fabs(f.r2 - (1 - 0.7 / 18.75)) < 1e-12);
	assert_int_equal(bench_fit_linear(x, flat, 4, &f), 0);
	assert_true(f.slope == 0 && f.intercept == 3 && f.r2 == 1);
	assert_int_equal(bench_fit_linear(x, line, 1, &f), -EINVAL);
	assert_int_equal(bench_fit_linear(same, line, 4, &f), -EINVAL);
	for (int i = 0; i < 4; i++)
		pw[i] = 5 * pow(x[i], 1.5);
	assert_int_equal(bench_fit_loglog(x, pw, 4, &f), 0);
	assert_true(fabs(f.slope - 1.5) < 1e-9 && fabs(exp(f.intercept) - 5) < 1e-9);
	assert_int_equal(bench_fit_loglog(x, neg, 4, &f), -EINVAL);
}

static void test_link_wire_ms(void **state)
{
	double ms;

	assert_int_equal(bench_link_wire_ms("1gbit", &ms), 0);
	assert_true(fabs(ms - 8) < 1e-9);
	assert_int_equal(bench_link_wire_ms("10gbit", &ms), 0);
	assert_true(fabs(ms - 0.8) < 1e-9);
	assert_int_equal(bench_link_wire_ms("100mbit", &ms), 0);
	assert_true(fabs(ms - 80) < 1e-9);
	assert_int_equal(bench_link_wire_ms("125mbps", &ms), 0);
	assert_true(fabs(ms - 8) < 1e-9);
	assert_int_equal(bench_link_wire_ms("none", &ms), 0);
	assert_true(ms == 0);
	assert_int_equal(bench_link_wire_ms("fast", &ms), -EINVAL);
	assert_int_equal(bench_link_wire_ms("1parsec", &ms), -EINVAL);
}

static void scale_add(struct bench_scale_results *s, const char *axis, double x, const char *method,
		      double ms)
{
	struct bench_scale_row w = {.x = x, .ms = ms, .pages_read = 10, .pageins = -1};

	snprintf(w.axis, sizeof(w.axis), "%s", axis);
	snprintf(w.label, sizeof(w.label), "%g", x);
	snprintf(w.method, sizeof(w.method), "%s", method);
	snprintf(w.link, sizeof(w.link), "1gbit");
	assert_int_equal(bench_scale_results_add(s, &w), 0);
}

/* Fits on the medians per x, the verdicts they give, and the files with their
 * fits. */
static void test_scale_results(void **state)
{
	char dir[] = "/tmp/vmt-test-scale-XXXXXX", path[256], line[512], v[160];
	struct bench_scale_results s;
	struct json_object *j, *fits;
	struct bench_fit f;
	FILE *fp;
	int n = 0;

	assert_non_null(mkdtemp(dir));
	assert_int_equal(bench_scale_results_init(&s), 0);
	for (int rep = 0; rep < 3; rep++) { /* procs: 60 us a process, the outlier is no median */
		scale_add(&s, "procs", 100, "runtime", 6 + (rep == 2 ? 100 : 0));
		scale_add(&s, "procs", 1000, "runtime", 60);
		scale_add(&s, "procs", 10000, "runtime", 600);
		scale_add(&s, "mem", 0.5, "runtime", 30 + rep);
		scale_add(&s, "mem", 8, "runtime", 31 + rep);
	}
	scale_add(&s, "subhosts", 1, "runtime", 30);
	assert_int_equal(bench_scale_fit(&s, "procs", "runtime", false, &f), 0);
	assert_true(f.n == 3 && fabs(f.slope * 1000 - 60) < 1e-9 && fabs(f.r2 - 1) < 1e-9);
	assert_int_equal(bench_scale_fit(&s, "procs", "runtime", true, &f), 0);
	assert_true(fabs(f.slope - 1) < 1e-9);
	assert_int_equal(bench_scale_verdict(&s, "procs", "runtime", v, sizeof(v)), 0);
	assert_non_null(strstr(v, "linearly or better"));
	assert_int_equal(bench_scale_verdict(&s, "mem", "runtime", v, sizeof(v)), 0);
	assert_non_null(strstr(v, "does not grow"));
	assert_int_equal(bench_scale_fit(&s, "subhosts", "runtime", false, &f), -EINVAL);
	assert_int_equal(bench_scale_fit(&s, "procs", "vm", false, &f), -EINVAL);
	assert_int_equal(bench_scale_results_write(&s, dir, true), 0);

	snprintf(path, sizeof(path), "%s/results.csv", dir);
	assert_non_null(fp = fopen(path, "r"));
	assert_non_null(fgets(line, sizeof(line), fp));
	assert_non_null(strstr(line, "axis,x,label,method,chunk_bytes,rep,instance,ms,"));
	while (fgets(line, sizeof(line), fp))
		n++;
	fclose(fp);
	assert_int_equal(n, 16);
	unlink(path);
	snprintf(path, sizeof(path), "%s/results.json", dir);
	assert_non_null(j = json_object_from_file(path));
	assert_true(json_object_object_get_ex(j, "fits", &fits));
	assert_int_equal(json_object_array_length(fits), 2); /* procs and mem; subhosts has 1 x */
	json_object_put(j);
	unlink(path);
	rmdir(dir);
	bench_scale_results_free(&s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_summary),	  cmocka_unit_test(test_run_captures),
	    cmocka_unit_test(test_run_timeout),	  cmocka_unit_test(test_run_missing),
	    cmocka_unit_test(test_results_files), cmocka_unit_test(test_quantile),
	    cmocka_unit_test(test_micro_results), cmocka_unit_test(test_pager_child_args),
	    cmocka_unit_test(test_fit),		  cmocka_unit_test(test_link_wire_ms),
	    cmocka_unit_test(test_scale_results),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

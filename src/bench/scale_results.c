// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * scale_results.c - `vmt bench scale`'s rows and what is made of them: the
 * least-squares fits, results.csv and results.json, and one plot per axis
 * (a generic x/y gnuplot driver: medians with min..max bars and the fit).
 */
#include <errno.h>
#include <json-c/json.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench/scale.h"

/* ------------------------------------------------------------ the fit */

int bench_fit_linear(const double *x, const double *y, size_t n, struct bench_fit *f)
{
	double mx = 0, my = 0, sxx = 0, sxy = 0, syy = 0, sse = 0;

	memset(f, 0, sizeof(*f));
	f->n = n;
	if (n < 2)
		return -EINVAL;
	for (size_t i = 0; i < n; i++) {
		mx += x[i] / (double)n;
		my += y[i] / (double)n;
	}
	for (size_t i = 0; i < n; i++) {
		sxx += (x[i] - mx) * (x[i] - mx);
		sxy += (x[i] - mx) * (y[i] - my);
		syy += (y[i] - my) * (y[i] - my);
	}
	if (sxx <= 0)
		return -EINVAL;
	f->slope = sxy / sxx;
	f->intercept = my - f->slope * mx;
	for (size_t i = 0; i < n; i++) {
		double e = y[i] - f->intercept - f->slope * x[i];

		sse += e * e;
	}
	/* every y equal: a flat line explains them all */
	f->r2 = syy > 0 ? 1 - sse / syy : 1;
	return 0;
}

int bench_fit_loglog(const double *x, const double *y, size_t n, struct bench_fit *f)
{
	double *lx = calloc(n ? n : 1, sizeof(*lx)), *ly = calloc(n ? n : 1, sizeof(*ly));
	int err = lx && ly ? 0 : -ENOMEM;

	for (size_t i = 0; !err && i < n; i++) {
		if (x[i] <= 0 || y[i] <= 0)
			err = -EINVAL;
		else
			lx[i] = log(x[i]), ly[i] = log(y[i]);
	}
	if (!err)
		err = bench_fit_linear(lx, ly, n, f);
	else
		memset(f, 0, sizeof(*f));
	free(lx);
	free(ly);
	return err;
}

/* -------------------------------------------------------------- rows */

int bench_scale_results_init(struct bench_scale_results *s)
{
	memset(s, 0, sizeof(*s));
	return bench_results_init(&s->base);
}

void bench_scale_results_free(struct bench_scale_results *s)
{
	if (!s)
		return;
	free(s->rows);
	bench_results_free(&s->base);
	memset(s, 0, sizeof(*s));
}

int bench_scale_results_add(struct bench_scale_results *s, const struct bench_scale_row *w)
{
	if (bench_grow((void **)&s->rows, s->n, &s->cap, sizeof(*s->rows)))
		return -ENOMEM;
	s->rows[s->n++] = *w;
	return 0;
}

static bool row_matches(const struct bench_scale_row *w, const char *axis, const char *method,
			double x)
{
	return !strcmp(w->axis, axis) && !strcmp(w->method, method) && (isnan(x) || w->x == x);
}

void bench_scale_summary(const struct bench_scale_results *s, const char *axis, const char *method,
			 double x, struct bench_summary *sm)
{
	double *v = calloc(s->n ? s->n : 1, sizeof(*v));
	size_t n = 0;

	for (size_t i = 0; v && i < s->n; i++)
		if (row_matches(&s->rows[i], axis, method, x))
			v[n++] = s->rows[i].ms;
	bench_summarize(v, v ? n : 0, sm);
	free(v);
}

double bench_scale_cpu_median(const struct bench_scale_results *s, const char *axis,
			      const char *method, double x)
{
	double *v = calloc(s->n ? s->n : 1, sizeof(*v));
	struct bench_summary sm;
	size_t n = 0;

	for (size_t i = 0; v && i < s->n; i++)
		if (row_matches(&s->rows[i], axis, method, x))
			v[n++] = s->rows[i].cpu_ms;
	bench_summarize(v, v ? n : 0, &sm);
	free(v);
	return sm.n ? sm.median : -1;
}

size_t bench_scale_xs(const struct bench_scale_results *s, const char *axis, double *xs,
		      const char **labels, size_t max)
{
	size_t n = 0;

	for (size_t i = 0; i < s->n; i++) {
		const struct bench_scale_row *w = &s->rows[i];
		bool seen = false;

		if (strcmp(w->axis, axis))
			continue;
		for (size_t k = 0; k < n && !seen; k++)
			seen = xs[k] == w->x;
		if (seen || n == max)
			continue;
		if (labels)
			labels[n] = w->label;
		xs[n++] = w->x;
	}
	return n;
}

int bench_scale_fit(const struct bench_scale_results *s, const char *axis, const char *method,
		    bool lg, struct bench_fit *f)
{
	double xs[BENCH_SCALE_MAX_X], x[BENCH_SCALE_MAX_X], y[BENCH_SCALE_MAX_X];
	size_t nx = bench_scale_xs(s, axis, xs, NULL, BENCH_SCALE_MAX_X), n = 0;

	for (size_t k = 0; k < nx; k++) {
		struct bench_summary sm;

		bench_scale_summary(s, axis, method, xs[k], &sm);
		if (!sm.n)
			continue;
		x[n] = xs[k];
		y[n++] = sm.median;
	}
	return lg ? bench_fit_loglog(x, y, n, f) : bench_fit_linear(x, y, n, f);
}

/* ----------------------------------------------------------- verdicts */

struct axis_unit {
	const char *axis, *unit, *what;
	double scale; /* slope * scale is in unit */
};

static const struct axis_unit units[] = {
    {"procs", "ms per 1,000 processes", "processes", 1000},
    {"mem", "ms per GiB", "guest memory", 1},
    {"subhosts", "ms per sub-host", "sub-hosts", 1},
    {"link", "ms per wire-ms/MB (= MB through the link)", "the links' time per MB", 1},
};

static const struct axis_unit *axis_unit(const char *axis)
{
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++)
		if (!strcmp(units[i].axis, axis))
			return &units[i];
	return &units[0];
}

/* The first and last x of an axis. */
static void axis_range(const struct bench_scale_results *s, const char *axis, double *lo,
		       double *hi)
{
	double xs[BENCH_SCALE_MAX_X];
	size_t nx = bench_scale_xs(s, axis, xs, NULL, BENCH_SCALE_MAX_X);

	*lo = INFINITY;
	*hi = -INFINITY;
	for (size_t k = 0; k < nx; k++) {
		*lo = xs[k] < *lo ? xs[k] : *lo;
		*hi = xs[k] > *hi ? xs[k] : *hi;
	}
}

/*
 * One line: does the construction grow along the axis?  It grows when the
 * fitted change over the whole range is at least 20 % of the first point's
 * median, the first and last points' min..max do not overlap (more than
 * the run-to-run spread) and the line explains the medians (R^2 >= 0.5).  Processes: the log-log
 * exponent then says linear or better (k <= 1.1) or worse.
 */
int bench_scale_verdict(const struct bench_scale_results *s, const char *axis, const char *method,
			char *buf, size_t n)
{
	const struct axis_unit *u = axis_unit(axis);
	struct bench_summary first, last;
	struct bench_fit f, lg;
	double lo, hi, rel;
	bool apart;

	if (bench_scale_fit(s, axis, method, false, &f)) {
		snprintf(buf, n, "too few points for a fit");
		return -EINVAL;
	}
	axis_range(s, axis, &lo, &hi);
	bench_scale_summary(s, axis, method, lo, &first);
	bench_scale_summary(s, axis, method, hi, &last);
	rel = first.n && first.median > 0 ? f.slope * (hi - lo) / first.median : 0;
	apart = first.n && last.n && (last.min > first.max || last.max < first.min);
	if (fabs(rel) < 0.2 || !apart)
		snprintf(buf, n, "does not grow with %s (%+.0f %% over the range; %s)", u->what,
			 rel * 100,
			 fabs(rel) < 0.2 ? "within 20 %" : "within the run-to-run spread");
	else if (f.r2 < 0.5) /* a line explains little: scattered points, not a trend */
		snprintf(buf, n,
			 "no clear trend with %s (%+.0f %% over the range by the fit, R^2 %.2f)",
			 u->what, rel * 100, f.r2);
	else if (!strcmp(axis, "procs") && rel > 0 && !bench_scale_fit(s, axis, method, true, &lg))
		snprintf(buf, n, "grows with %s %s (time ~ processes^%.2f)", u->what,
			 lg.slope <= 1.1 ? "linearly or better" : "faster than linearly", lg.slope);
	else
		snprintf(buf, n, "%s with %s: %+.0f %% over the range (%zu points, R^2 %.2f)",
			 rel > 0 ? "grows" : "falls", u->what, rel * 100, f.n, f.r2);
	return 0;
}

const char *bench_scale_slope_unit(const char *axis, double *scale)
{
	const struct axis_unit *u = axis_unit(axis);

	*scale = u->scale;
	return u->unit;
}

static struct json_object *fit_json(const struct bench_scale_results *s, const char *axis,
				    const char *method)
{
	struct json_object *o;
	struct bench_fit f, lg;
	double scale;
	const char *unit = bench_scale_slope_unit(axis, &scale);
	char v[160];

	if (bench_scale_fit(s, axis, method, false, &f))
		return NULL;
	o = json_object_new_object();
	json_object_object_add(o, "axis", json_object_new_string(axis));
	json_object_object_add(o, "method", json_object_new_string(method));
	json_object_object_add(o, "n", json_object_new_int((int)f.n));
	json_object_object_add(o, "slope", json_object_new_double(f.slope * scale));
	json_object_object_add(o, "slope_unit", json_object_new_string(unit));
	json_object_object_add(o, "intercept_ms", json_object_new_double(f.intercept));
	json_object_object_add(o, "r2", json_object_new_double(f.r2));
	json_object_object_add(
	    o, "exponent",
	    bench_scale_fit(s, axis, method, true, &lg) ? NULL : json_object_new_double(lg.slope));
	bench_scale_verdict(s, axis, method, v, sizeof(v));
	json_object_object_add(o, "verdict", json_object_new_string(v));
	json_object_object_add(o, "fitted_on",
			       json_object_new_string("the median of every x, least squares"));
	return o;
}

static const char *const methods[] = {"unsplit", "runtime", "vm"};

static struct json_object *fits_json(const struct bench_scale_results *s)
{
	struct json_object *a = json_object_new_array();

	for (int ax = 0; ax < BENCH_NR_AXES; ax++)
		for (size_t m = 0; m < 3; m++) {
			struct json_object *o = fit_json(s, bench_axis_name(ax), methods[m]);

			if (o)
				json_object_array_add(a, o);
		}
	return a;
}

/* ------------------------------------------------------------- files */

static void opt_int(FILE *f, int64_t v)
{
	if (v >= 0)
		fprintf(f, "%lld", (long long)v);
	fputc(',', f);
}

static void row_csv(FILE *f, const struct bench_scale_row *w)
{
	const struct bench_census *c = &w->before;
	uint64_t sub = 0;

	fprintf(f, "%s,%g,%s,%s,%llu,%u,%u,%.3f,%.3f,", w->axis, w->x, w->label, w->method,
		(unsigned long long)w->chunk, w->rep, w->instance, w->ms, w->cpu_ms);
	opt_int(f, w->pages_read);
	opt_int(f, w->pageins);
	fprintf(f, "%u,%u,%u,%s,", w->mem_mib, w->procs, w->subhosts, w->link);
	for (unsigned k = 0; k < c->nr_sub; k++)
		sub += c->sub[k];
	if (c->split)
		fprintf(f, "%llu,%llu,%llu,%llu,%lld,", (unsigned long long)c->main,
			(unsigned long long)sub, (unsigned long long)c->absent,
			(unsigned long long)c->pinned, (long long)c->moved);
	else
		fputs(",,,,,", f);
	fprintf(f, "%.0f,%.0f,%.0f,%.2f\n", w->boot_ms, w->fill_ms, w->split_ms, w->load1);
}

static int write_csv(const struct bench_scale_results *s, const char *path)
{
	FILE *f = fopen(path, "w");

	if (!f)
		return bench_fail(-errno, "%s: %s", path, strerror(errno));
	fputs("axis,x,label,method,chunk_bytes,rep,instance,ms,cpu_ms,pages_read,pageins,mem_mib,"
	      "procs,"
	      "subhosts,link,main_chunks,sub_chunks,absent_chunks,pinned_chunks,moved_since_split,"
	      "boot_ms,fill_ms,split_ms,load1\n",
	      f);
	for (size_t i = 0; i < s->n; i++)
		row_csv(f, &s->rows[i]);
	return fclose(f) ? bench_fail(-EIO, "%s: write failed", path) : 0;
}

static struct json_object *census_json(const struct bench_census *c)
{
	struct json_object *o, *a;

	if (!c->split)
		return NULL;
	o = json_object_new_object();
	a = json_object_new_array();
	json_object_object_add(o, "main", json_object_new_int64((int64_t)c->main));
	for (unsigned k = 0; k < c->nr_sub; k++)
		json_object_array_add(a, json_object_new_int64((int64_t)c->sub[k]));
	json_object_object_add(o, "sub", a);
	json_object_object_add(o, "absent", json_object_new_int64((int64_t)c->absent));
	json_object_object_add(o, "pinned", json_object_new_int64((int64_t)c->pinned));
	json_object_object_add(o, "moved_since_split", json_object_new_int64(c->moved));
	return o;
}

static struct json_object *opt_int_json(int64_t v)
{
	return v >= 0 ? json_object_new_int64(v) : NULL;
}

static struct json_object *row_json(const struct bench_scale_row *w)
{
	struct json_object *o = json_object_new_object();

	json_object_object_add(o, "axis", json_object_new_string(w->axis));
	json_object_object_add(o, "x", json_object_new_double(w->x));
	json_object_object_add(o, "label", json_object_new_string(w->label));
	json_object_object_add(o, "method", json_object_new_string(w->method));
	json_object_object_add(o, "chunk_bytes", json_object_new_int64((int64_t)w->chunk));
	json_object_object_add(o, "rep", json_object_new_int((int)w->rep));
	json_object_object_add(o, "instance", json_object_new_int((int)w->instance));
	json_object_object_add(o, "ms", json_object_new_double(w->ms));
	json_object_object_add(o, "cpu_ms", json_object_new_double(w->cpu_ms));
	json_object_object_add(o, "pages_read", opt_int_json(w->pages_read));
	json_object_object_add(o, "pageins", opt_int_json(w->pageins));
	json_object_object_add(o, "mem_mib", json_object_new_int((int)w->mem_mib));
	json_object_object_add(o, "procs", json_object_new_int((int)w->procs));
	json_object_object_add(o, "subhosts", json_object_new_int((int)w->subhosts));
	json_object_object_add(o, "link", json_object_new_string(w->link));
	json_object_object_add(o, "placement_before", census_json(&w->before));
	json_object_object_add(o, "load1", json_object_new_double(w->load1));
	json_object_object_add(o, "boot_ms", json_object_new_double(w->boot_ms));
	json_object_object_add(o, "fill_ms", json_object_new_double(w->fill_ms));
	json_object_object_add(o, "split_ms", json_object_new_double(w->split_ms));
	return o;
}

static struct json_object *summary_json(const struct bench_scale_results *s, const char *axis,
					double x, const char *label, const char *method)
{
	struct json_object *o;
	struct bench_summary sm;

	bench_scale_summary(s, axis, method, x, &sm);
	if (!sm.n)
		return NULL;
	o = json_object_new_object();
	json_object_object_add(o, "axis", json_object_new_string(axis));
	json_object_object_add(o, "x", json_object_new_double(x));
	json_object_object_add(o, "label", json_object_new_string(label));
	json_object_object_add(o, "method", json_object_new_string(method));
	json_object_object_add(o, "n", json_object_new_int((int)sm.n));
	json_object_object_add(o, "median_ms", json_object_new_double(sm.median));
	json_object_object_add(o, "min_ms", json_object_new_double(sm.min));
	json_object_object_add(o, "max_ms", json_object_new_double(sm.max));
	json_object_object_add(o, "q1_ms", json_object_new_double(sm.q1));
	json_object_object_add(o, "q3_ms", json_object_new_double(sm.q3));
	json_object_object_add(o, "cpu_median_ms",
			       json_object_new_double(bench_scale_cpu_median(s, axis, method, x)));
	return o;
}

/* One summary per (axis, x, method) with rows. */
static struct json_object *summaries_json(const struct bench_scale_results *s)
{
	struct json_object *a = json_object_new_array();

	for (int ax = 0; ax < BENCH_NR_AXES; ax++) {
		const char *axis = bench_axis_name(ax), *labels[BENCH_SCALE_MAX_X];
		double xs[BENCH_SCALE_MAX_X];
		size_t nx = bench_scale_xs(s, axis, xs, labels, BENCH_SCALE_MAX_X);

		for (size_t k = 0; k < nx; k++)
			for (size_t m = 0; m < 3; m++) {
				struct json_object *o =
				    summary_json(s, axis, xs[k], labels[k], methods[m]);

				if (o)
					json_object_array_add(a, o);
			}
	}
	return a;
}

static int write_json(const struct bench_scale_results *s, const char *path)
{
	struct json_object *o = json_object_new_object(), *rows = json_object_new_array();
	int ret = 0;

	json_object_object_foreach(s->base.meta, k, v)
	    json_object_object_add(o, k, json_object_get(v));
	for (size_t i = 0; i < s->n; i++)
		json_object_array_add(rows, row_json(&s->rows[i]));
	json_object_object_add(o, "rows", rows);
	json_object_object_add(o, "summary", summaries_json(s));
	json_object_object_add(o, "fits", fits_json(s));
	if (json_object_to_file_ext(path, o,
				    JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE))
		ret = bench_fail(-EIO, "%s: %s", path, json_util_get_last_err());
	json_object_put(o);
	return ret;
}

int bench_scale_results_write(const struct bench_scale_results *s, const char *dir, bool csv)
{
	char path[4096];
	int err;

	snprintf(path, sizeof(path), "%s/results.csv", dir);
	err = csv ? write_csv(s, path) : 0;
	if (err)
		return err;
	snprintf(path, sizeof(path), "%s/results.json", dir);
	return write_json(s, path);
}

/* --------------------------------------------------------------- plots */

struct axis_plot {
	const char *axis, *title, *xlabel;
};

static const struct axis_plot axis_plots[] = {
    {"procs", "shadow /proc construction vs guest processes", "guest processes"},
    {"mem", "shadow /proc construction vs guest memory (half on the main host)",
     "guest memory (GiB)"},
    {"subhosts", "shadow /proc construction vs sub-hosts the remote half is spread over",
     "sub-hosts"},
    {"link", "shadow /proc construction vs link rate (x: wire time of a MB)",
     "ms per MB on the wire (8: 1gbit, 0.8: 10gbit, 0: bare veth)"},
};

static const char *const method_titles[] = {"unsplit VM", "method 1: runtime fetch",
					    "method 2: VM remote paging"};

/* One series: the medians and min..max of axis and method at every x (into the arrays). */
static size_t series_points(const struct bench_scale_results *s, const char *axis,
			    const char *method, double *x, double *y, double *lo, double *hi)
{
	double xs[BENCH_SCALE_MAX_X];
	size_t nx = bench_scale_xs(s, axis, xs, NULL, BENCH_SCALE_MAX_X), n = 0;

	for (size_t k = 0; k < nx; k++) {
		struct bench_summary sm;

		bench_scale_summary(s, axis, method, xs[k], &sm);
		if (!sm.n)
			continue;
		x[n] = xs[k];
		y[n] = sm.median;
		lo[n] = sm.min;
		hi[n++] = sm.max;
	}
	return n;
}

static int plot_axis(const struct bench_scale_results *s, const char *dir,
		     const struct axis_plot *ap)
{
	double v[3][4][BENCH_SCALE_MAX_X];
	struct bench_xy_series ser[3];
	char name[64], fit_titles[3][96];
	struct bench_xy_plot p = {.name = name,
				  .title = ap->title,
				  .xlabel = ap->xlabel,
				  .ylabel = "construction (ms): median, min..max"};
	unsigned ns = 0;

	snprintf(name, sizeof(name), "scale_%s", ap->axis);
	for (size_t m = 0; m < 3; m++) {
		struct bench_xy_series *e = &ser[ns];
		struct bench_fit f;
		double scale;
		const char *unit = bench_scale_slope_unit(ap->axis, &scale);

		memset(e, 0, sizeof(*e));
		e->n = series_points(s, ap->axis, methods[m], v[m][0], v[m][1], v[m][2], v[m][3]);
		if (!e->n)
			continue;
		e->title = method_titles[m];
		e->x = v[m][0], e->y = v[m][1], e->lo = v[m][2], e->hi = v[m][3];
		if (!bench_scale_fit(s, ap->axis, methods[m], false, &f)) {
			e->fit = true;
			e->a = f.intercept;
			e->b = f.slope;
			snprintf(fit_titles[m], sizeof(fit_titles[m]), "%.3g %s, R^2 %.2f",
				 f.slope * scale, unit, f.r2);
			e->fit_title = fit_titles[m];
		}
		ns++;
	}
	return ns ? bench_plot_xy(dir, &p, ser, ns) : 0;
}

int bench_scale_plot(const struct bench_scale_results *s, const char *dir)
{
	int err = 0;

	for (size_t i = 0; !err && i < sizeof(axis_plots) / sizeof(axis_plots[0]); i++)
		err = plot_axis(s, dir, &axis_plots[i]);
	return err;
}

/* ------------------------------------------------------- reading back */

static double jd(struct json_object *o, const char *k)
{
	struct json_object *v;

	return json_object_object_get_ex(o, k, &v) && v ? json_object_get_double(v) : 0;
}

static int64_t ji(struct json_object *o, const char *k, int64_t none)
{
	struct json_object *v;

	return json_object_object_get_ex(o, k, &v) && v ? json_object_get_int64(v) : none;
}

static void js(struct json_object *o, const char *k, char *buf, size_t n)
{
	struct json_object *v;

	snprintf(buf, n, "%s",
		 json_object_object_get_ex(o, k, &v) && v ? json_object_get_string(v) : "");
}

static void census_load(struct json_object *o, struct bench_census *c)
{
	struct json_object *sub;

	memset(c, 0, sizeof(*c));
	c->moved = c->differs_first = -1;
	if (!o)
		return;
	c->split = true;
	c->main = (uint64_t)ji(o, "main", 0);
	c->absent = (uint64_t)ji(o, "absent", 0);
	c->pinned = (uint64_t)ji(o, "pinned", 0);
	c->moved = ji(o, "moved_since_split", -1);
	if (json_object_object_get_ex(o, "sub", &sub))
		for (size_t k = 0; k < json_object_array_length(sub) && k < BENCH_MAX_SUB; k++)
			c->sub[c->nr_sub++] =
			    (uint64_t)json_object_get_int64(json_object_array_get_idx(sub, k));
}

static void row_load(struct json_object *o, struct bench_scale_row *w)
{
	struct json_object *pl = NULL;

	memset(w, 0, sizeof(*w));
	js(o, "axis", w->axis, sizeof(w->axis));
	js(o, "label", w->label, sizeof(w->label));
	js(o, "method", w->method, sizeof(w->method));
	js(o, "link", w->link, sizeof(w->link));
	w->x = jd(o, "x");
	w->chunk = (uint64_t)ji(o, "chunk_bytes", 0);
	w->rep = (unsigned)ji(o, "rep", 0);
	w->instance = (unsigned)ji(o, "instance", 0);
	w->ms = jd(o, "ms");
	w->cpu_ms = jd(o, "cpu_ms");
	w->pages_read = ji(o, "pages_read", -1);
	w->pageins = ji(o, "pageins", -1);
	w->mem_mib = (unsigned)ji(o, "mem_mib", 0);
	w->procs = (unsigned)ji(o, "procs", 0);
	w->subhosts = (unsigned)ji(o, "subhosts", 0);
	w->load1 = jd(o, "load1");
	w->boot_ms = jd(o, "boot_ms");
	w->fill_ms = jd(o, "fill_ms");
	w->split_ms = jd(o, "split_ms");
	json_object_object_get_ex(o, "placement_before", &pl);
	census_load(pl, &w->before);
}

int bench_scale_results_load(struct bench_scale_results *s, const char *dir)
{
	struct json_object *j, *rows = NULL;
	char path[4096];
	int err = 0;

	snprintf(path, sizeof(path), "%s/results.json", dir);
	j = json_object_from_file(path);
	if (!j || !json_object_object_get_ex(j, "rows", &rows) ||
	    !json_object_is_type(rows, json_type_array)) {
		json_object_put(j);
		return bench_fail(-EPROTO, "%s: no results of vmt bench scale", path);
	}
	for (size_t i = 0; !err && i < json_object_array_length(rows); i++) {
		struct bench_scale_row w;

		row_load(json_object_array_get_idx(rows, i), &w);
		err = bench_scale_results_add(s, &w);
	}
	json_object_object_foreach(j, k, v) if (strcmp(k, "rows") && strcmp(k, "summary") &&
						strcmp(k, "fits"))
	    json_object_object_add(s->base.meta, k, json_object_get(v));
	json_object_put(j);
	return err;
}

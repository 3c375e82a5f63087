// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * micro_results.c - the rows of `vmt bench micro` and their two files:
 * results.csv (one row per figure: its summary, the limit it is compared
 * with, the ratio) and results.json (the machine, every knob, the rows).
 */
#include <errno.h>
#include <json-c/json.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench/micro.h"

int micro_results_init(struct micro_results *r)
{
	memset(r, 0, sizeof(*r));
	r->meta = json_object_new_object();
	return r->meta ? 0 : -ENOMEM;
}

void micro_results_free(struct micro_results *r)
{
	if (!r)
		return;
	free(r->rows);
	json_object_put(r->meta);
	memset(r, 0, sizeof(*r));
}

int micro_add(struct micro_results *r, const char *section, const char *metric, uint64_t param,
	      const char *unit, bool is_limit, double *v, size_t n)
{
	struct micro_row *w;

	if (!n)
		return -ENODATA;
	if (bench_grow((void **)&r->rows, r->n, &r->cap, sizeof(*r->rows)))
		return -ENOMEM;
	w = &r->rows[r->n];
	memset(w, 0, sizeof(*w));
	snprintf(w->section, sizeof(w->section), "%s", section);
	snprintf(w->metric, sizeof(w->metric), "%s", metric);
	snprintf(w->unit, sizeof(w->unit), "%s", unit);
	w->param = param;
	w->is_limit = is_limit;
	bench_summarize(v, n, &w->s);
	w->p90 = bench_quantile(v, n, 0.9);
	w->limit = w->ratio = NAN;
	return (int)r->n++;
}

struct micro_row *micro_find(struct micro_results *r, const char *section, const char *metric,
			     uint64_t param)
{
	for (size_t i = 0; i < r->n; i++)
		if (!strcmp(r->rows[i].section, section) && !strcmp(r->rows[i].metric, metric) &&
		    r->rows[i].param == param)
			return &r->rows[i];
	return NULL;
}

int micro_set_limit(struct micro_results *r, int fig, int lim)
{
	struct micro_row *f, *l;

	if (fig < 0 || lim < 0 || (size_t)fig >= r->n || (size_t)lim >= r->n)
		return -ENOENT;
	f = &r->rows[fig];
	l = &r->rows[lim];
	snprintf(f->limit_metric, sizeof(f->limit_metric), "%s", l->metric);
	f->limit = l->s.median;
	f->ratio = f->limit > 0 ? f->s.median / f->limit : NAN;
	return 0;
}

/* A number, or an empty cell for NAN. */
static void csv_num(FILE *f, double v)
{
	if (!isnan(v))
		fprintf(f, "%.6g", v);
	fputc(',', f);
}

static int write_csv(const struct micro_results *r, const char *path)
{
	FILE *f = fopen(path, "w");

	if (!f)
		return bench_fail(-errno, "%s: %s", path, strerror(errno));
	fputs("section,metric,param,unit,role,n,value,p90,min,max,q1,q3,limit_metric,limit,ratio\n",
	      f);
	for (size_t i = 0; i < r->n; i++) {
		const struct micro_row *w = &r->rows[i];

		fprintf(f, "%s,%s,%llu,%s,%s,%zu,", w->section, w->metric,
			(unsigned long long)w->param, w->unit, w->is_limit ? "limit" : "figure",
			w->s.n);
		csv_num(f, w->s.median);
		csv_num(f, w->p90);
		csv_num(f, w->s.min);
		csv_num(f, w->s.max);
		csv_num(f, w->s.q1);
		csv_num(f, w->s.q3);
		fprintf(f, "%s,", w->limit_metric);
		csv_num(f, w->limit);
		if (!isnan(w->ratio))
			fprintf(f, "%.4g", w->ratio);
		fputc('\n', f);
	}
	return fclose(f) ? bench_fail(-EIO, "%s: write failed", path) : 0;
}

static struct json_object *num_or_null(double v)
{
	return isnan(v) ? NULL : json_object_new_double(v);
}

static struct json_object *row_json(const struct micro_row *w)
{
	struct json_object *o = json_object_new_object();

	json_object_object_add(o, "section", json_object_new_string(w->section));
	json_object_object_add(o, "metric", json_object_new_string(w->metric));
	json_object_object_add(o, "param", json_object_new_int64((int64_t)w->param));
	json_object_object_add(o, "unit", json_object_new_string(w->unit));
	json_object_object_add(o, "role", json_object_new_string(w->is_limit ? "limit" : "figure"));
	json_object_object_add(o, "n", json_object_new_int((int)w->s.n));
	json_object_object_add(o, "value", json_object_new_double(w->s.median));
	json_object_object_add(o, "p90", json_object_new_double(w->p90));
	json_object_object_add(o, "min", json_object_new_double(w->s.min));
	json_object_object_add(o, "max", json_object_new_double(w->s.max));
	json_object_object_add(o, "q1", json_object_new_double(w->s.q1));
	json_object_object_add(o, "q3", json_object_new_double(w->s.q3));
	json_object_object_add(o, "limit_metric",
			       w->limit_metric[0] ? json_object_new_string(w->limit_metric) : NULL);
	json_object_object_add(o, "limit", num_or_null(w->limit));
	json_object_object_add(o, "ratio", num_or_null(w->ratio));
	return o;
}

static int write_json(const struct micro_results *r, const char *path)
{
	struct json_object *o = json_object_new_object(), *rows = json_object_new_array();

	for (size_t i = 0; i < r->n; i++)
		json_object_array_add(rows, row_json(&r->rows[i]));
	json_object_object_add(o, "rows", rows);
	return bench_json_write(r->meta, o, path);
}

int micro_results_write(const struct micro_results *r, const char *dir)
{
	char path[4096];
	int err;

	snprintf(path, sizeof(path), "%s/results.csv", dir);
	err = write_csv(r, path);
	if (err)
		return err;
	snprintf(path, sizeof(path), "%s/results.json", dir);
	return write_json(r, path);
}

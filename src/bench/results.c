// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * results.c - the rows of a run and their two files: results.csv (one row
 * per measurement, for any tool) and results.json (the machine, every knob,
 * the instances, the rows and their summaries).
 */
#include <errno.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench/bench.h"

/* "pageins" first: BENCH_PAGER_PAGEINS. */
const char *const bench_pager_names[BENCH_PAGER_NR] = {
    "pageins",	    "pageouts",	      "bytes_in",      "bytes_out",	"faults",
    "wp_faults",    "zero_fills",     "cap_waits",     "pagein_cmds",	"pagein_batches",
    "pagein_reads", "pagein_wait_us", "pagein_cmd_us", "pagein_net_us", "pagein_install_us",
};

int bench_results_init(struct bench_results *r)
{
	memset(r, 0, sizeof(*r));
	r->meta = json_object_new_object();
	return r->meta ? 0 : -ENOMEM;
}

void bench_results_free(struct bench_results *r)
{
	if (!r)
		return;
	free(r->rows);
	json_object_put(r->meta);
	memset(r, 0, sizeof(*r));
}

int bench_results_add(struct bench_results *r, const struct bench_row *row)
{
	if (bench_grow((void **)&r->rows, r->n, &r->cap, sizeof(*r->rows)))
		return -ENOMEM;
	r->rows[r->n++] = *row;
	return 0;
}

int bench_grow(void **v, size_t n, size_t *cap, size_t size)
{
	size_t c = *cap ? *cap * 2 : 64;
	void *p;

	if (n < *cap)
		return 0;
	p = realloc(*v, c * size);
	if (!p)
		return -ENOMEM;
	*v = p;
	*cap = c;
	return 0;
}

static bool row_matches(const struct bench_row *w, const char *figure, const char *method,
			uint64_t chunk)
{
	return !strcmp(w->figure, figure) && !strcmp(w->method, method) &&
	       (chunk == ~0ull || w->chunk == chunk);
}

void bench_results_summary(const struct bench_results *r, const char *figure, const char *method,
			   uint64_t chunk, struct bench_summary *s)
{
	double *v = calloc(r->n ? r->n : 1, sizeof(*v));
	size_t n = 0;

	for (size_t i = 0; v && i < r->n; i++)
		if (row_matches(&r->rows[i], figure, method, chunk))
			v[n++] = r->rows[i].ms;
	bench_summarize(v, v ? n : 0, s);
	free(v);
}

double bench_results_pageins(const struct bench_results *r, const char *figure, const char *method,
			     uint64_t chunk)
{
	double *v = calloc(r->n ? r->n : 1, sizeof(*v));
	struct bench_summary s;
	size_t n = 0;

	for (size_t i = 0; v && i < r->n; i++)
		if (row_matches(&r->rows[i], figure, method, chunk) && r->rows[i].pageins >= 0)
			v[n++] = (double)r->rows[i].pageins;
	bench_summarize(v, v ? n : 0, &s);
	free(v);
	return s.n ? s.median : -1;
}

static void census_csv(FILE *f, const struct bench_census *c)
{
	uint64_t sub = 0;

	if (!c->split) {
		fputs(",,,,,,", f);
		return;
	}
	for (unsigned k = 0; k < c->nr_sub; k++)
		sub += c->sub[k];
	fprintf(f, "%llu,%llu,%llu,%llu,%lld,%lld", (unsigned long long)c->main,
		(unsigned long long)sub, (unsigned long long)c->absent,
		(unsigned long long)c->pinned, (long long)c->moved, (long long)c->differs_first);
}

static int write_csv(const struct bench_results *r, const char *path)
{
	FILE *f = fopen(path, "w");

	if (!f)
		return bench_fail(-errno, "%s: %s", path, strerror(errno));
	fputs("figure,method,chunk_bytes,rep,instance,ms,pages_read,pageins,"
	      "main_chunks,sub_chunks,absent_chunks,pinned_chunks,moved_since_split,"
	      "differs_from_first_split\n",
	      f);
	for (size_t i = 0; i < r->n; i++) {
		const struct bench_row *w = &r->rows[i];

		fprintf(f, "%s,%s,%llu,%u,%u,%.3f,", w->figure, w->method,
			(unsigned long long)w->chunk, w->rep, w->instance, w->ms);
		if (w->pages_read >= 0)
			fprintf(f, "%lld", (long long)w->pages_read);
		fputc(',', f);
		if (w->pageins >= 0)
			fprintf(f, "%lld", (long long)w->pageins);
		fputc(',', f);
		census_csv(f, &w->before);
		fputc('\n', f);
	}
	if (fclose(f))
		return bench_fail(-EIO, "%s: write failed", path);
	return 0;
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
	json_object_object_add(o, "moving", json_object_new_int64((int64_t)c->moving));
	json_object_object_add(o, "moved_since_split", json_object_new_int64(c->moved));
	json_object_object_add(o, "differs_from_first_split",
			       json_object_new_int64(c->differs_first));
	return o;
}

static struct json_object *pager_json(const struct bench_row *w)
{
	struct json_object *o;

	if (!w->has_pager)
		return NULL;
	o = json_object_new_object();
	for (unsigned i = 0; i < BENCH_PAGER_NR; i++)
		json_object_object_add(o, bench_pager_names[i], json_object_new_int64(w->pager[i]));
	return o;
}

static struct json_object *row_json(const struct bench_row *w)
{
	struct json_object *o = json_object_new_object();

	json_object_object_add(o, "figure", json_object_new_string(w->figure));
	json_object_object_add(o, "method", json_object_new_string(w->method));
	json_object_object_add(o, "chunk_bytes", json_object_new_int64((int64_t)w->chunk));
	json_object_object_add(o, "rep", json_object_new_int((int)w->rep));
	json_object_object_add(o, "instance", json_object_new_int((int)w->instance));
	json_object_object_add(o, "ms", json_object_new_double(w->ms));
	json_object_object_add(o, "pages_read",
			       w->pages_read >= 0 ? json_object_new_int64(w->pages_read) : NULL);
	json_object_object_add(o, "pageins",
			       w->pageins >= 0 ? json_object_new_int64(w->pageins) : NULL);
	json_object_object_add(o, "placement_before", census_json(&w->before));
	json_object_object_add(o, "pager", pager_json(w));
	return o;
}

static struct json_object *summary_json(const char *figure, const char *method, uint64_t chunk,
					const struct bench_summary *s)
{
	struct json_object *o = json_object_new_object();

	json_object_object_add(o, "figure", json_object_new_string(figure));
	json_object_object_add(o, "method", json_object_new_string(method));
	json_object_object_add(o, "chunk_bytes", json_object_new_int64((int64_t)chunk));
	json_object_object_add(o, "n", json_object_new_int((int)s->n));
	json_object_object_add(o, "median_ms", json_object_new_double(s->median));
	json_object_object_add(o, "min_ms", json_object_new_double(s->min));
	json_object_object_add(o, "max_ms", json_object_new_double(s->max));
	json_object_object_add(o, "q1_ms", json_object_new_double(s->q1));
	json_object_object_add(o, "q3_ms", json_object_new_double(s->q3));
	return o;
}

/* One summary per distinct (figure, method, chunk), in the rows' first-seen order. */
static struct json_object *summaries_json(const struct bench_results *r)
{
	struct json_object *a = json_object_new_array();

	for (size_t i = 0; i < r->n; i++) {
		const struct bench_row *w = &r->rows[i];
		struct bench_summary s;
		bool seen = false;

		for (size_t j = 0; j < i && !seen; j++)
			seen = row_matches(&r->rows[j], w->figure, w->method, w->chunk);
		if (seen)
			continue;
		bench_results_summary(r, w->figure, w->method, w->chunk, &s);
		json_object_array_add(a, summary_json(w->figure, w->method, w->chunk, &s));
	}
	return a;
}

int bench_json_write(struct json_object *meta, struct json_object *extra, const char *path)
{
	struct json_object *o = json_object_new_object();
	int ret = 0;

	json_object_object_foreach(meta, k, v) json_object_object_add(o, k, json_object_get(v));
	json_object_object_foreach(extra, k2, v2)
	    json_object_object_add(o, k2, json_object_get(v2));
	json_object_put(extra);
	if (json_object_to_file_ext(path, o,
				    JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE))
		ret = bench_fail(-EIO, "%s: %s", path, json_util_get_last_err());
	json_object_put(o);
	return ret;
}

static int write_json(const struct bench_results *r, const char *path)
{
	struct json_object *o = json_object_new_object(), *rows = json_object_new_array();

	for (size_t i = 0; i < r->n; i++)
		json_object_array_add(rows, row_json(&r->rows[i]));
	json_object_object_add(o, "rows", rows);
	json_object_object_add(o, "summary", summaries_json(r));
	return bench_json_write(r->meta, o, path);
}

int bench_results_write(const struct bench_results *r, const char *dir)
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

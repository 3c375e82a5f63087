// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * scale.c - the sweep of `vmt bench scale` (see scale.h): how the shadow
 * /proc's construction grows with the guest's processes and memory, the
 * sub-hosts and the link rate.  Every point is a fresh guest booted,
 * filled and split like fig4's (bench_inst), half of its memory on the
 * main host; a configuration that two axes share is measured once.
 */
#include <errno.h>
#include <json-c/json.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench/instance.h"
#include "bench/scale.h"
#include "pagetable/pagetable.h"

#define MAX_POINTS (BENCH_NR_AXES * BENCH_SCALE_MAX_X)

/* One guest configuration on one axis. */
struct point {
	enum bench_axis axis;
	double x;
	char label[16];
	char mem[24], main_mem[24]; /* main: half of mem */
	uint64_t mem_bytes;
	unsigned procs, subhosts;
	const char *link;
	int same_as; /* an earlier point of the same configuration, or -1 */
	size_t first_row, nr_rows;
	bool skipped;
};

struct scale {
	const struct bench_scale_opts *o;
	struct bench_scale_results *s;
	struct bench_inst b;
	struct point pts[MAX_POINTS];
	unsigned nr_pts;
	struct json_object *skipped; /* borrowed from meta */
};

static const char *const axis_names[BENCH_NR_AXES] = {"procs", "mem", "subhosts", "link"};

const char *bench_axis_name(enum bench_axis a)
{
	return (unsigned)a < BENCH_NR_AXES ? axis_names[a] : NULL;
}

int bench_link_wire_ms(const char *rate, double *ms_per_mb)
{
	double v;
	char unit[16] = "";

	if (!strcmp(rate, "none")) {
		*ms_per_mb = 0;
		return 0;
	}
	if (sscanf(rate, "%lf%15s", &v, unit) != 2 || v <= 0)
		return -EINVAL;
	/* tc's units: bit = bits/s, bps = bytes/s */
	if (!strcmp(unit, "kbit") || !strcmp(unit, "mbit") || !strcmp(unit, "gbit"))
		v *= unit[0] == 'k' ? 1e3 : unit[0] == 'm' ? 1e6 : 1e9;
	else if (!strcmp(unit, "kbps") || !strcmp(unit, "mbps") || !strcmp(unit, "gbps"))
		v *= 8 * (unit[0] == 'k' ? 1e3 : unit[0] == 'm' ? 1e6 : 1e9);
	else
		return -EINVAL;
	*ms_per_mb = 8e6 / v * 1e3;
	return 0;
}

/* ------------------------------------------------------------ planning */

static int point_add(struct scale *sc, enum bench_axis axis, double x, const char *label,
		     const char *mem, unsigned procs, unsigned subhosts, const char *link)
{
	struct point *p;

	if (sc->nr_pts == MAX_POINTS)
		return bench_fail(-E2BIG, "too many points");
	p = &sc->pts[sc->nr_pts];
	memset(p, 0, sizeof(*p));
	p->axis = axis;
	p->x = x;
	snprintf(p->label, sizeof(p->label), "%s", label);
	snprintf(p->mem, sizeof(p->mem), "%s", mem);
	if (vmt_pt_parse_size(mem, &p->mem_bytes) || p->mem_bytes < (64u << 20))
		return bench_fail(-EINVAL, "guest memory '%s': a size from 64M", mem);
	snprintf(p->main_mem, sizeof(p->main_mem), "%lluM",
		 (unsigned long long)(p->mem_bytes / 2 >> 20));
	p->procs = procs;
	p->subhosts = subhosts;
	p->link = link;
	p->same_as = -1;
	for (unsigned i = 0; i < sc->nr_pts && p->same_as < 0; i++) {
		const struct point *q = &sc->pts[i];

		if (q->mem_bytes == p->mem_bytes && q->procs == procs && q->subhosts == subhosts &&
		    !strcmp(q->link, link))
			p->same_as = (int)i;
	}
	sc->nr_pts++;
	return 0;
}

/* Every axis' points; the link axis last, the hosts' first rate first. */
static int plan(struct scale *sc)
{
	const struct bench_scale_opts *o = sc->o;
	char l[24];
	int err = 0;

	for (unsigned i = 0; !err && (o->axes & 1u << BENCH_AXIS_PROCS) && i < o->nr_procs; i++) {
		snprintf(l, sizeof(l), "%u", o->procs_x[i]);
		err = point_add(sc, BENCH_AXIS_PROCS, o->procs_x[i], l, o->procs_mem, o->procs_x[i],
				1, o->link);
	}
	for (unsigned i = 0; !err && (o->axes & 1u << BENCH_AXIS_MEM) && i < o->nr_mem; i++) {
		uint64_t b = 0;

		vmt_pt_parse_size(o->mem_x[i], &b);
		err = point_add(sc, BENCH_AXIS_MEM, (double)b / (1u << 30), o->mem_x[i],
				o->mem_x[i], o->procs, 1, o->link);
	}
	for (unsigned i = 0; !err && (o->axes & 1u << BENCH_AXIS_SUBHOSTS) && i < o->nr_subhosts;
	     i++) {
		snprintf(l, sizeof(l), "%u", o->subhosts_x[i]);
		err = point_add(sc, BENCH_AXIS_SUBHOSTS, o->subhosts_x[i], l, o->mem, o->procs,
				o->subhosts_x[i], o->link);
	}
	for (unsigned i = 0; !err && (o->axes & 1u << BENCH_AXIS_LINK) && i < o->nr_link; i++) {
		double x;

		if (bench_link_wire_ms(o->link_x[i], &x))
			return bench_fail(-EINVAL, "link rate '%s' not understood", o->link_x[i]);
		err = point_add(sc, BENCH_AXIS_LINK, x, o->link_x[i], o->mem, o->procs, 1,
				o->link_x[i]);
	}
	return err;
}

/* Measurements a point makes (0 if it copies an earlier one's). */
static unsigned point_steps(const struct scale *sc, const struct point *p)
{
	const struct bench_scale_opts *o = sc->o;

	return p->same_as >= 0 ? 0 : o->instances * (2 * o->reps + (o->vm ? 1 : 0));
}

/* The most any point needs: sub-hosts to make, each one's store. */
static void plan_hosts(const struct scale *sc, unsigned *subhosts, char *cap, size_t n)
{
	uint64_t mem = 0;

	*subhosts = 1;
	for (unsigned i = 0; i < sc->nr_pts; i++) {
		*subhosts = sc->pts[i].subhosts > *subhosts ? sc->pts[i].subhosts : *subhosts;
		mem = sc->pts[i].mem_bytes > mem ? sc->pts[i].mem_bytes : mem;
	}
	snprintf(cap, n, "%lluM", (unsigned long long)(mem >> 20));
}

/* ------------------------------------------------------------ the host */

/* The host's MemAvailable in bytes (0 if unreadable). */
static uint64_t host_mem_available(void)
{
	unsigned long long kb = 0;
	char line[256];
	FILE *f = fopen("/proc/meminfo", "r");

	while (f && fgets(line, sizeof(line), f))
		if (sscanf(line, "MemAvailable: %llu kB", &kb) == 1)
			break;
	if (f)
		fclose(f);
	return (uint64_t)kb << 10;
}

static double host_load1(void)
{
	double l = -1;
	FILE *f = fopen("/proc/loadavg", "r");

	if (f && fscanf(f, "%lf", &l) != 1)
		l = -1;
	if (f)
		fclose(f);
	return l;
}

/* Skip p (recorded with why) when the host cannot hold the guest twice (its RAM file and
 * the sub-hosts' stores) plus the margin for everything else; 1 skipped, 0 go on. */
static int check_memory(struct scale *sc, struct point *p)
{
	uint64_t avail = host_mem_available();
	uint64_t need = 2 * p->mem_bytes + ((uint64_t)sc->o->mem_margin_mib << 20);
	struct json_object *o;
	char why[160];

	if (avail >= need)
		return 0;
	snprintf(why, sizeof(why),
		 "host MemAvailable %.1f GiB < 2 x the guest's %s + %.1f GiB = %.1f GiB",
		 (double)avail / (1u << 30), p->mem, sc->o->mem_margin_mib / 1024.0,
		 (double)need / (1u << 30));
	o = json_object_new_object();
	json_object_object_add(o, "axis", json_object_new_string(bench_axis_name(p->axis)));
	json_object_object_add(o, "label", json_object_new_string(p->label));
	json_object_object_add(o, "reason", json_object_new_string(why));
	json_object_array_add(sc->skipped, o);
	bench_inst_progress(&sc->b, "%s %s: skipped: %s", bench_axis_name(p->axis), p->label, why);
	p->skipped = true;
	return 1;
}

/* The hosts behind link: taken down and made again when the rate differs. */
static int hosts_at(struct scale *sc, const char *link)
{
	int err;

	if (sc->b.hosts_made && !strcmp(sc->b.link, link))
		return 0;
	bench_inst_hosts_down(&sc->b);
	sc->b.link = link;
	err = bench_inst_hosts_up(&sc->b);
	return err;
}

/* ------------------------------------------------------------ a point */

static void row_init(const struct scale *sc, const struct point *p, struct bench_scale_row *w,
		     const char *method, uint64_t chunk, unsigned rep)
{
	memset(w, 0, sizeof(*w));
	snprintf(w->axis, sizeof(w->axis), "%s", bench_axis_name(p->axis));
	w->x = p->x;
	snprintf(w->label, sizeof(w->label), "%s", p->label);
	snprintf(w->method, sizeof(w->method), "%s", method);
	w->chunk = chunk;
	w->rep = rep;
	w->instance = sc->b.instance;
	w->mem_mib = (unsigned)(p->mem_bytes >> 20);
	w->procs = p->procs;
	w->subhosts = p->subhosts;
	snprintf(w->link, sizeof(w->link), "%s", p->link);
	w->boot_ms = sc->b.boot_ms;
	w->fill_ms = sc->b.fill_ms;
	w->split_ms = sc->b.split_ms;
}

/* One construction with the placement and the pager's page-ins around it. */
static int measure(struct scale *sc, const struct point *p, const char *method, uint64_t chunk,
		   unsigned rep)
{
	struct bench_inst *b = &sc->b;
	struct bench_scale_row w;
	int64_t p0, p1;
	char cn[24];
	int err;

	row_init(sc, p, &w, method, chunk, rep);
	err = bench_inst_census(b, &w.before, false);
	if (err)
		return err;
	w.load1 = host_load1();
	p0 = bench_inst_pager_count(b, "pageins");
	err = bench_inst_build_cpu(b, method, chunk, &w.ms, &w.cpu_ms, &w.pages_read);
	if (err)
		return err;
	p1 = bench_inst_pager_count(b, "pageins");
	w.pageins = p0 >= 0 && p1 >= p0 ? p1 - p0 : -1;
	b->done++;
	bench_inst_progress(b, "%s %s: instance %u: %-7s %4s rep %u: %.1f ms (cpu %.1f)",
			    bench_axis_name(p->axis), p->label, b->instance, method,
			    bench_chunk_name(chunk, cn, sizeof(cn)), rep + 1, w.ms, w.cpu_ms);
	return bench_scale_results_add(sc->s, &w);
}

/* One fresh instance: unsplit, split, method 1 (moves nothing), method 2 last. */
static int point_instance(struct scale *sc, const struct point *p)
{
	const struct bench_scale_opts *o = sc->o;
	struct bench_inst *b = &sc->b;
	double ms;
	int64_t pages;
	int err;

	b->mem = p->mem;
	b->main_mem = p->main_mem;
	b->procs = p->procs;
	err = bench_inst_start(b);
	if (!err)
		json_object_object_add(b->cur, "load1_at_start",
				       json_object_new_double(host_load1()));
	for (unsigned rep = 0; !err && rep < o->reps; rep++)
		err = measure(sc, p, "unsplit", 0, rep);
	if (!err)
		err = bench_inst_split(b, p->subhosts);
	if (!err) /* one-time costs (connections, caches) out of the first point */
		err = bench_inst_build(b, "runtime", o->chunk_runtime, &ms, &pages);
	for (unsigned rep = 0; !err && rep < o->reps; rep++)
		err = measure(sc, p, "runtime", o->chunk_runtime, rep);
	if (!err && o->vm)
		err = measure(sc, p, "vm", o->chunk_vm, 0);
	bench_inst_stop(b);
	b->instance++;
	return err;
}

/* An earlier axis measured this configuration: its rows again under this axis. */
static int point_copy(struct scale *sc, struct point *p, const struct point *q)
{
	int err = 0;

	p->skipped = q->skipped;
	p->first_row = sc->s->n;
	for (size_t i = q->first_row; !err && i < q->first_row + q->nr_rows; i++) {
		struct bench_scale_row w = sc->s->rows[i];

		snprintf(w.axis, sizeof(w.axis), "%s", bench_axis_name(p->axis));
		w.x = p->x;
		snprintf(w.label, sizeof(w.label), "%s", p->label);
		err = bench_scale_results_add(sc->s, &w);
	}
	p->nr_rows = sc->s->n - p->first_row;
	if (p->skipped && !err)
		check_memory(sc, p); /* the same reason, under this axis too */
	return err;
}

static int point_run(struct scale *sc, struct point *p)
{
	int err = 0;

	if (p->same_as >= 0)
		return point_copy(sc, p, &sc->pts[p->same_as]);
	p->first_row = sc->s->n;
	if (check_memory(sc, p))
		return 0;
	err = hosts_at(sc, p->link);
	for (unsigned i = 0; !err && i < sc->o->instances; i++)
		err = point_instance(sc, p);
	p->nr_rows = sc->s->n - p->first_row;
	return err;
}

int bench_scale_run(const struct bench_scale_opts *o, struct bench_scale_results *s)
{
	struct scale *sc = calloc(1, sizeof(*sc));
	char cap[32];
	int err;

	if (!sc)
		return -ENOMEM;
	sc->o = o;
	sc->s = s;
	if (!o->reps || !o->instances || !o->axes)
		err = bench_fail(-EINVAL, "bad sweep: reps, instances and an axis needed");
	else
		err = plan(sc);
	sc->b = (struct bench_inst){.vmt = o->vmt,
				    .prefix = o->prefix,
				    .tag = "sc",
				    .subnet = o->subnet,
				    .link = o->link,
				    .capacity = cap,
				    .pt_chunk = o->pt_chunk,
				    .policy = o->policy,
				    .kaslr = o->kaslr,
				    .fill_reserve_mib = o->fill_reserve_mib,
				    .r = &s->base,
				    .progress = o->progress,
				    .arg = o->arg};
	plan_hosts(sc, &sc->b.subhosts, cap, sizeof(cap));
	for (unsigned i = 0; i < sc->nr_pts; i++)
		sc->b.total += point_steps(sc, &sc->pts[i]);
	sc->skipped = json_object_new_array();
	json_object_object_add(s->base.meta, "skipped", sc->skipped);
	if (!err)
		err = bench_inst_init(&sc->b);
	/* what is measured so far survives a crash or a kill of the bench; the caller
	 * writes the last word ("complete") */
	json_object_object_add(s->base.meta, "complete", json_object_new_boolean(false));
	for (unsigned i = 0; !err && i < sc->nr_pts; i++) {
		err = point_run(sc, &sc->pts[i]);
		if (o->out)
			bench_scale_results_write(s, o->out, true);
	}
	bench_inst_finish(&sc->b);
	free(sc);
	if (bench_stop)
		return bench_fail(-EINTR, "interrupted; everything it started is stopped");
	return err;
}

/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * scale.h - `vmt bench scale`: how the shadow /proc's construction grows
 * with the guest's processes, its memory, the sub-hosts its remote half is
 * spread over and the links' rate, with a least-squares slope per axis.
 *
 * A point is one guest configuration (memory, processes, sub-hosts, link).
 * Per point and instance: a fresh guest booted and filled like fig4's,
 * the unsplit construction (reps times), the split (half of the memory on
 * the main host), a discarded method-1 build, method 1 at its chunk (reps
 * times; it moves nothing), then method 2 at its chunk once (it brings
 * pages home, so it comes last).  A point whose configuration an earlier
 * axis measured already is not run again: its rows are copied under the
 * new axis (same instance numbers).  A point whose guest does not fit the
 * host's MemAvailable (2x the guest + a margin, 2 GiB) is skipped, with the reason.
 */
#ifndef VMT_BENCH_SCALE_H
#define VMT_BENCH_SCALE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bench/bench.h"

struct json_object;

/* ------------------------------------------------------------ the fit */

struct bench_fit {
	size_t n;
	double slope, intercept, r2; /* y = intercept + slope * x; r2 1 for a perfect fit */
};

/* Least squares of y on x over n points; -EINVAL if n < 2 or every x is equal. */
int bench_fit_linear(const double *x, const double *y, size_t n, struct bench_fit *f);
/* The same on log x, log y (slope = exponent k of y ~ x^k); -EINVAL also if any x, y <= 0. */
int bench_fit_loglog(const double *x, const double *y, size_t n, struct bench_fit *f);

/* --------------------------------------------------------------- axes */

enum bench_axis {
	BENCH_AXIS_PROCS,
	BENCH_AXIS_MEM,
	BENCH_AXIS_SUBHOSTS,
	BENCH_AXIS_LINK,
	BENCH_NR_AXES,
};

#define BENCH_SCALE_MAX_X 8

/* "procs", "mem", "subhosts", "link"; NULL out of range. */
const char *bench_axis_name(enum bench_axis a);
/* The link axis' x: milliseconds a MB takes on the wire (1gbit 8, 10gbit 0.8, none 0);
 * -EINVAL for a rate it cannot read (100mbit, 2gbit, 50mbps... are read). */
int bench_link_wire_ms(const char *rate, double *ms_per_mb);

/* One measurement. */
struct bench_scale_row {
	char axis[12];	 /* bench_axis_name() */
	double x;	 /* processes, GiB, sub-hosts, wire ms per MB */
	char label[16];	 /* x as given: "1000", "512M", "2", "10gbit" */
	char method[12]; /* "unsplit", "runtime" (method 1), "vm" (method 2) */
	uint64_t chunk;	 /* fetch chunk (0 unsplit) */
	unsigned rep, instance;
	double ms;	    /* the snapshot's own build time */
	double cpu_ms;	    /* the building thread's CPU time in it */
	int64_t pages_read; /* guest pages the construction read */
	int64_t pageins;    /* pager page-ins during it; -1 n/a */
	unsigned mem_mib, procs, subhosts;
	char link[16];
	struct bench_census before;		  /* placement just before */
	double boot_ms, fill_ms, split_ms, load1; /* the instance's; load average (1 min) */
};

struct bench_scale_results {
	struct bench_results base; /* meta (machine, knobs, instances, skipped, fits); no rows */
	struct bench_scale_row *rows;
	size_t n, cap;
};

int bench_scale_results_init(struct bench_scale_results *s);
void bench_scale_results_free(struct bench_scale_results *s);
int bench_scale_results_add(struct bench_scale_results *s, const struct bench_scale_row *w);
/* Summary of the rows of axis, method and x (x NAN: any). */
void bench_scale_summary(const struct bench_scale_results *s, const char *axis, const char *method,
			 double x, struct bench_summary *sm);
/* Median CPU time of the same rows (-1 none). */
double bench_scale_cpu_median(const struct bench_scale_results *s, const char *axis,
			      const char *method, double x);
/* The distinct x of an axis in first-seen order (at most max); their number. */
size_t bench_scale_xs(const struct bench_scale_results *s, const char *axis, double *xs,
		      const char **labels, size_t max);
/* Fit of the medians per x of axis and method (linear, and log-log if lg); -EINVAL too few. */
int bench_scale_fit(const struct bench_scale_results *s, const char *axis, const char *method,
		    bool lg, struct bench_fit *f);
/* One line: does the construction of method grow along axis (see scale_results.c)? */
int bench_scale_verdict(const struct bench_scale_results *s, const char *axis, const char *method,
			char *buf, size_t n);
/* The unit of an axis' slope as printed; *scale turns a fitted slope into it. */
const char *bench_scale_slope_unit(const char *axis, double *scale);
/* The rows and meta of an earlier dir/results.json into s (initialized), to redo its
 * fits, verdicts and plots with this code. */
int bench_scale_results_load(struct bench_scale_results *s, const char *dir);
/* dir/results.csv (if csv), dir/results.json (meta + rows + summary + fits). */
int bench_scale_results_write(const struct bench_scale_results *s, const char *dir, bool csv);
/* dir/scale_AXIS.png (with .dat and .gp) per axis that has rows; -ENOENT no gnuplot. */
int bench_scale_plot(const struct bench_scale_results *s, const char *dir);

/* -------------------------------------------------------------- plots */

/*
 * A generic x/y plot: dir/NAME.png (with .dat and .gp), one line with
 * min..max error bars per series, and a dashed line y = a + b x where fit.
 * Titles and labels must not hold a '.  -ENOENT no gnuplot.
 */
struct bench_xy_plot {
	const char *name, *title, *xlabel, *ylabel;
	bool logx;
};

struct bench_xy_series {
	const char *title;
	size_t n;
	const double *x, *y, *lo, *hi; /* lo, hi may be NULL */
	bool fit;
	double a, b;
	const char *fit_title; /* NULL: "least squares" */
};

int bench_plot_xy(const char *dir, const struct bench_xy_plot *p, const struct bench_xy_series *s,
		  unsigned ns);

/* ---------------------------------------------------------------- run */

struct bench_scale_opts {
	size_t sz;
	const char *vmt;      /* path of the vmt executable the steps run */
	const char *prefix;   /* hosts prefix; VMs are PREFIX-sc-N */
	const char *subnet;   /* `vmt hosts up --subnet`, NULL: its default */
	const char *pt_chunk; /* the split's page-table chunk */
	const char *policy;   /* placement policy */
	unsigned axes;	      /* 1 << enum bench_axis for each axis to run */
	unsigned reps;	      /* unsplit and method-1 constructions per instance */
	unsigned instances;   /* fresh instances per point (method 2: one each) */
	bool vm;	      /* measure method 2 too */
	bool kaslr;
	unsigned fill_reserve_mib;
	unsigned mem_margin_mib;	  /* a point needs MemAvailable >= 2 x its guest + this */
	uint64_t chunk_runtime, chunk_vm; /* each method's fetch chunk */
	/* the axes' values */
	unsigned procs_x[BENCH_SCALE_MAX_X], nr_procs;
	const char *mem_x[BENCH_SCALE_MAX_X];
	unsigned nr_mem;
	unsigned subhosts_x[BENCH_SCALE_MAX_X], nr_subhosts;
	const char *link_x[BENCH_SCALE_MAX_X];
	unsigned nr_link;
	/* what the other axes hold fixed */
	const char *procs_mem; /* guest RAM on the processes axis */
	unsigned procs;	       /* workload on the other axes */
	const char *mem;       /* guest RAM on the sub-hosts and link axes */
	const char *link;      /* link on the processes, memory and sub-hosts axes */
	void (*progress)(void *arg, unsigned done, unsigned total, const char *line);
	void *arg;
	const char *out; /* results folder written after every point ("complete": false), or NULL */
};

/*
 * The sweep: hosts up (as many sub-hosts as the sub-hosts axis needs, at
 * o->link; made again for each other rate of the link axis), then the
 * points of every axis asked for.  Rows into s; meta gets "instances",
 * "skipped" and "guest_kernel".  Every VM and host it made is gone when it
 * returns, also after bench_stop.  0, -EINTR or -errno (bench_error()).
 */
int bench_scale_run(const struct bench_scale_opts *o, struct bench_scale_results *s);

#endif

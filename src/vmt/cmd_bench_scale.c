// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * cmd_bench_scale.c - `vmt bench scale` (issue 9, part 3): how the shadow
 * /proc's construction grows with the guest's processes and memory, the
 * sub-hosts and the link rate, each axis with a least-squares slope and a
 * one-line verdict.  The sweep is src/bench/scale.c.
 */
#include <errno.h>
#include <getopt.h>
#include <json-c/json.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench/instance.h"
#include "bench/scale.h"
#include "bench_cli.h"
#include "cli.h"
#include "pagetable/pagetable.h"

static const char scale_help[] =
    "usage: vmt bench scale [options]\n\n"
    "Shadow /proc construction time (vmt procfs --build-only --stats) unsplit, with\n"
    "method 1 (runtime fetch) and method 2 (VM remote paging) against: the guest's\n"
    "processes, its memory, the sub-hosts its remote half is spread over, and the link\n"
    "rate.  Every point is a fresh guest, filled and split like fig4's with half of\n"
    "its memory on the main host.  A fitted slope and a verdict per axis.\n\n"
    "options:\n"
    "  --quick             a reduced sweep (512M guests; 100 and 1000 processes,\n"
    "                      512M and 1G, 1 and 2 sub-hosts, 1gbit and bare veth;\n"
    "                      2 repetitions): a few minutes\n"
    "  --axes LIST         procs,mem,subhosts,link (default all)\n"
    "  --out DIR           results folder (default ./vmt-bench-scale-DATE)\n"
    "  --reps N            unsplit and method-1 constructions per instance (3; --quick 2)\n"
    "  --instances N       fresh instances per point, each one method-2 sample (1)\n"
    "  --procs-list LIST   the processes axis (100,1000,3000,10000)\n"
    "  --procs-mem SIZE    guest RAM on the processes axis (3G: 10,000 processes need\n"
    "                      about 1.5 GiB of it; --quick 512M)\n"
    "  --mem-list LIST     the memory axis (512M,1G,2G,4G,8G)\n"
    "  --subhosts-list L   the sub-hosts axis (1,2,3,4)\n"
    "  --links LIST        the link axis (1gbit,10gbit,none; none: bare veth)\n"
    "  --procs N           workload processes off the processes axis (100)\n"
    "  --mem SIZE          guest RAM on the sub-hosts and link axes (1G; --quick 512M)\n"
    "  --link RATE         link off the link axis (1gbit)\n"
    "  --chunk-runtime SZ  method 1's fetch chunk (16K, its best in fig4)\n"
    "  --chunk-vm SIZE     method 2's fetch chunk (4K, its best in fig4)\n"
    "  --no-vm             no method-2 points\n"
    "  --pt-chunk SIZE     the split's page-table chunk (4K)\n"
    "  --policy NAME       split placement policy (address)\n"
    "  --fill-reserve MIB  fill MemAvailable minus MIB before the split (64; 0 no fill)\n"
    "  --mem-margin MIB    a point needs the host's MemAvailable >= 2 x its guest + MIB\n"
    "                      (2048), else it is skipped and the reason recorded\n"
    "  --prefix P          hosts prefix and VM names P-sc-N (default vs; must not exist)\n"
    "  --subnet A.B        the hosts' subnet (vmt hosts up --subnet)\n"
    "  --kaslr             boot the guests with KASLR\n"
    "  --no-plots          skip gnuplot\n"
    "  --replot DIR        run nothing: redo the fits, verdicts, summary and plots of an\n"
    "                      earlier run's DIR/results.json (results.csv is kept)\n";

enum {
	O_QUICK = OPT_CMD_BASE,
	O_AXES,
	O_OUT,
	O_REPS,
	O_INSTANCES,
	O_PROCS_LIST,
	O_PROCS_MEM,
	O_MEM_LIST,
	O_SUB_LIST,
	O_LINKS,
	O_PROCS,
	O_MEM,
	O_LINK,
	O_CHUNK_RT,
	O_CHUNK_VM,
	O_NO_VM,
	O_PT_CHUNK,
	O_POLICY,
	O_RESERVE,
	O_PREFIX,
	O_SUBNET,
	O_KASLR,
	O_NO_PLOTS,
	O_REPLOT,
	O_MARGIN,
};

struct scale_cli {
	struct bench_scale_opts o;
	struct bench_cli cli;
	const char *replot; /* a results folder to redo the fits, verdicts and plots of */
	bool quick, no_plots, reps_set, procs_mem_set, mem_set;
	bool procs_set, mems_set, subs_set, links_set;
	char list[4][256]; /* copies of the string lists (mem, links) the opts point into */
};

/* "a,b,c" of numbers in lo..hi, at most BENCH_SCALE_MAX_X; EXIT_OK or EXIT_USAGE. */
static int parse_uints(const char *opt, const char *arg, unsigned lo, unsigned hi, unsigned *v,
		       unsigned *n)
{
	char buf[256], *save = NULL;

	snprintf(buf, sizeof(buf), "%s", arg);
	*n = 0;
	for (char *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
		if (*n == BENCH_SCALE_MAX_X) {
			cli_err("bench", "%s: at most %d values", opt, BENCH_SCALE_MAX_X);
			return EXIT_USAGE;
		}
		if (bench_cli_parse_uint(opt, t, lo, hi, &v[(*n)++]))
			return EXIT_USAGE;
	}
	if (!*n) {
		cli_err("bench", "%s: no value given", opt);
		return EXIT_USAGE;
	}
	return EXIT_OK;
}

static bool good_size(const char *s)
{
	uint64_t b;

	return !vmt_pt_parse_size(s, &b) && b >= (64u << 20);
}

static bool good_link(const char *s)
{
	double x;

	return !bench_link_wire_ms(s, &x);
}

/* "a,b,c" into buf (kept: v points into it), each one passing good(). */
static int parse_strs(const char *opt, const char *arg, char *buf, size_t bn,
		      bool (*good)(const char *), const char **v, unsigned *n)
{
	char *save = NULL;

	snprintf(buf, bn, "%s", arg);
	*n = 0;
	for (char *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
		if (*n == BENCH_SCALE_MAX_X || !good(t)) {
			cli_err("bench", "%s: '%s' is not a value here (or more than %d)", opt, t,
				BENCH_SCALE_MAX_X);
			return EXIT_USAGE;
		}
		v[(*n)++] = t;
	}
	if (!*n) {
		cli_err("bench", "%s: no value given", opt);
		return EXIT_USAGE;
	}
	return EXIT_OK;
}

static int parse_axes(const char *arg, unsigned *axes)
{
	char buf[128], *save = NULL;

	snprintf(buf, sizeof(buf), "%s", arg);
	*axes = 0;
	for (char *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
		int a = 0;

		while (a < BENCH_NR_AXES && strcmp(t, bench_axis_name(a)))
			a++;
		if (a == BENCH_NR_AXES) {
			cli_err("bench", "--axes: '%s' is none of procs, mem, subhosts, link", t);
			return EXIT_USAGE;
		}
		*axes |= 1u << a;
	}
	if (!*axes) {
		cli_err("bench", "--axes: no axis given");
		return EXIT_USAGE;
	}
	return EXIT_OK;
}

static int parse_chunk(const char *opt, const char *arg, uint64_t *c)
{
	unsigned n;

	if (bench_cli_parse_chunks(arg, c, 1, &n))
		return EXIT_USAGE;
	(void)opt;
	return EXIT_OK;
}

static int parse_size_opt(const char *opt, const char *arg, const char **out)
{
	if (!good_size(arg)) {
		cli_err("bench", "%s: '%s' is not a guest size from 64M", opt, arg);
		return EXIT_USAGE;
	}
	*out = arg;
	return EXIT_OK;
}

/* The options that take the axes' values and what the other axes hold fixed. */
static int scale_opt_axes(struct scale_cli *c, int opt, const char *arg)
{
	struct bench_scale_opts *o = &c->o;

	switch (opt) {
	case O_AXES:
		return parse_axes(arg, &o->axes);
	case O_PROCS_LIST:
		c->procs_set = true;
		return parse_uints("--procs-list", arg, 1, 16384, o->procs_x, &o->nr_procs);
	case O_PROCS_MEM:
		c->procs_mem_set = true;
		return parse_size_opt("--procs-mem", arg, &o->procs_mem);
	case O_MEM_LIST:
		c->mems_set = true;
		return parse_strs("--mem-list", arg, c->list[0], sizeof(c->list[0]), good_size,
				  o->mem_x, &o->nr_mem);
	case O_SUB_LIST:
		c->subs_set = true;
		return parse_uints("--subhosts-list", arg, 1, BENCH_MAX_SUB, o->subhosts_x,
				   &o->nr_subhosts);
	case O_LINKS:
		c->links_set = true;
		return parse_strs("--links", arg, c->list[1], sizeof(c->list[1]), good_link,
				  o->link_x, &o->nr_link);
	case O_PROCS:
		return bench_cli_parse_uint("--procs", arg, 1, 16384, &o->procs);
	case O_MEM:
		c->mem_set = true;
		return parse_size_opt("--mem", arg, &o->mem);
	case O_LINK:
		if (!good_link(arg)) {
			cli_err("bench", "--link: '%s' is not a rate (1gbit, 100mbit, none)", arg);
			return EXIT_USAGE;
		}
		o->link = arg;
		return EXIT_OK;
	}
	return -2;
}

/* One option; EXIT_OK, EXIT_USAGE or -1 (help printed). */
static int scale_opt(void *arg_c, int opt, const char *arg)
{
	struct scale_cli *c = arg_c;
	struct bench_scale_opts *o = &c->o;
	int r = scale_opt_axes(c, opt, arg);

	if (r != -2)
		return r;
	switch (opt) {
	case O_QUICK:
		c->quick = true;
		return EXIT_OK;
	case O_OUT:
		c->cli.out = arg;
		return EXIT_OK;
	case O_REPS:
		c->reps_set = true;
		return bench_cli_parse_uint("--reps", arg, 1, 100, &o->reps);
	case O_INSTANCES:
		return bench_cli_parse_uint("--instances", arg, 1, 100, &o->instances);
	case O_CHUNK_RT:
		return parse_chunk("--chunk-runtime", arg, &o->chunk_runtime);
	case O_CHUNK_VM:
		return parse_chunk("--chunk-vm", arg, &o->chunk_vm);
	case O_NO_VM:
		o->vm = false;
		return EXIT_OK;
	case O_PT_CHUNK:
		o->pt_chunk = arg;
		return EXIT_OK;
	case O_POLICY:
		o->policy = arg;
		return EXIT_OK;
	case O_RESERVE:
		return bench_cli_parse_uint("--fill-reserve", arg, 0, 1 << 20,
					    &o->fill_reserve_mib);
	case O_PREFIX:
		o->prefix = arg;
		return EXIT_OK;
	case O_SUBNET:
		o->subnet = arg;
		return EXIT_OK;
	case O_KASLR:
		o->kaslr = true;
		return EXIT_OK;
	case O_NO_PLOTS:
		c->no_plots = true;
		return EXIT_OK;
	case O_REPLOT:
		c->replot = arg;
		return EXIT_OK;
	case O_MARGIN:
		return bench_cli_parse_uint("--mem-margin", arg, 0, 1 << 24, &o->mem_margin_mib);
	case 'h':
	case OPT_HELP:
		fputs(scale_help, stdout);
		return -1;
	default:
		fputs(scale_help, stderr);
		return EXIT_USAGE;
	}
}

static int scale_parse(int argc, char **argv, struct scale_cli *c)
{
	static const struct option longopts[] = {
	    {"quick", no_argument, NULL, O_QUICK},
	    {"axes", required_argument, NULL, O_AXES},
	    {"out", required_argument, NULL, O_OUT},
	    {"reps", required_argument, NULL, O_REPS},
	    {"instances", required_argument, NULL, O_INSTANCES},
	    {"procs-list", required_argument, NULL, O_PROCS_LIST},
	    {"procs-mem", required_argument, NULL, O_PROCS_MEM},
	    {"mem-list", required_argument, NULL, O_MEM_LIST},
	    {"subhosts-list", required_argument, NULL, O_SUB_LIST},
	    {"links", required_argument, NULL, O_LINKS},
	    {"procs", required_argument, NULL, O_PROCS},
	    {"mem", required_argument, NULL, O_MEM},
	    {"link", required_argument, NULL, O_LINK},
	    {"chunk-runtime", required_argument, NULL, O_CHUNK_RT},
	    {"chunk-vm", required_argument, NULL, O_CHUNK_VM},
	    {"no-vm", no_argument, NULL, O_NO_VM},
	    {"pt-chunk", required_argument, NULL, O_PT_CHUNK},
	    {"policy", required_argument, NULL, O_POLICY},
	    {"fill-reserve", required_argument, NULL, O_RESERVE},
	    {"prefix", required_argument, NULL, O_PREFIX},
	    {"subnet", required_argument, NULL, O_SUBNET},
	    {"kaslr", no_argument, NULL, O_KASLR},
	    {"no-plots", no_argument, NULL, O_NO_PLOTS},
	    {"replot", required_argument, NULL, O_REPLOT},
	    {"mem-margin", required_argument, NULL, O_MARGIN},
	    {"help", no_argument, NULL, OPT_HELP},
	    {0},
	};

	return bench_cli_getopt(argc, argv, longopts, scale_opt, c);
}

/* Defaults: the full sweep, or --quick's; options given win. */
static void scale_defaults(struct scale_cli *c)
{
	static const unsigned procs_full[] = {100, 1000, 3000, 10000}, procs_quick[] = {100, 1000};
	static const unsigned subs_full[] = {1, 2, 3, 4}, subs_quick[] = {1, 2};
	static const char *const mem_full[] = {"512M", "1G", "2G", "4G", "8G"};
	static const char *const mem_quick[] = {"512M", "1G"};
	static const char *const links_full[] = {"1gbit", "10gbit", "none"};
	static const char *const links_quick[] = {"1gbit", "none"};
	struct bench_scale_opts *o = &c->o;

	if (!c->procs_set) {
		o->nr_procs = c->quick ? 2 : 4;
		memcpy(o->procs_x, c->quick ? procs_quick : procs_full,
		       o->nr_procs * sizeof(unsigned));
	}
	if (!c->subs_set) {
		o->nr_subhosts = c->quick ? 2 : 4;
		memcpy(o->subhosts_x, c->quick ? subs_quick : subs_full,
		       o->nr_subhosts * sizeof(unsigned));
	}
	if (!c->mems_set) {
		o->nr_mem = c->quick ? 2 : 5;
		memcpy(o->mem_x, c->quick ? mem_quick : mem_full, o->nr_mem * sizeof(char *));
	}
	if (!c->links_set) {
		o->nr_link = c->quick ? 2 : 3;
		memcpy(o->link_x, c->quick ? links_quick : links_full, o->nr_link * sizeof(char *));
	}
	if (!c->reps_set)
		o->reps = c->quick ? 2 : 3;
	if (!c->procs_mem_set)
		o->procs_mem = c->quick ? "512M" : "3G";
	if (!c->mem_set)
		o->mem = c->quick ? "512M" : "1G";
}

static struct json_object *str_array(const char *const *v, unsigned n)
{
	struct json_object *a = json_object_new_array();

	for (unsigned i = 0; i < n; i++)
		json_object_array_add(a, json_object_new_string(v[i]));
	return a;
}

static struct json_object *uint_array(const unsigned *v, unsigned n)
{
	struct json_object *a = json_object_new_array();

	for (unsigned i = 0; i < n; i++)
		json_object_array_add(a, json_object_new_int((int)v[i]));
	return a;
}

static struct json_object *scale_knobs(const struct scale_cli *c)
{
	const struct bench_scale_opts *o = &c->o;
	struct json_object *k = json_object_new_object(), *axes = json_object_new_array();

	for (int a = 0; a < BENCH_NR_AXES; a++)
		if (o->axes & 1u << a)
			json_object_array_add(axes, json_object_new_string(bench_axis_name(a)));
	json_object_object_add(k, "quick", json_object_new_boolean(c->quick));
	json_object_object_add(k, "axes", axes);
	json_object_object_add(k, "reps", json_object_new_int((int)o->reps));
	json_object_object_add(k, "instances", json_object_new_int((int)o->instances));
	json_object_object_add(k, "procs_list", uint_array(o->procs_x, o->nr_procs));
	json_object_object_add(k, "procs_mem", json_object_new_string(o->procs_mem));
	json_object_object_add(k, "mem_list", str_array(o->mem_x, o->nr_mem));
	json_object_object_add(k, "subhosts_list", uint_array(o->subhosts_x, o->nr_subhosts));
	json_object_object_add(k, "links", str_array(o->link_x, o->nr_link));
	json_object_object_add(k, "procs", json_object_new_int((int)o->procs));
	json_object_object_add(k, "mem", json_object_new_string(o->mem));
	json_object_object_add(k, "link", json_object_new_string(o->link));
	json_object_object_add(k, "main_mem", json_object_new_string("half of the guest"));
	json_object_object_add(k, "chunk_runtime",
			       json_object_new_int64((int64_t)o->chunk_runtime));
	json_object_object_add(k, "chunk_vm", json_object_new_int64((int64_t)o->chunk_vm));
	json_object_object_add(k, "vm", json_object_new_boolean(o->vm));
	json_object_object_add(k, "pt_chunk", json_object_new_string(o->pt_chunk));
	json_object_object_add(k, "policy", json_object_new_string(o->policy));
	json_object_object_add(k, "kaslr", json_object_new_boolean(o->kaslr));
	json_object_object_add(k, "fill_reserve_mib",
			       json_object_new_int((int)o->fill_reserve_mib));
	json_object_object_add(k, "prefix", json_object_new_string(o->prefix));
	json_object_object_add(k, "subnet", o->subnet ? json_object_new_string(o->subnet) : NULL);
	json_object_object_add(k, "mem_margin_mib", json_object_new_int((int)o->mem_margin_mib));
	json_object_object_add(
	    k, "min_host_mem_available",
	    json_object_new_string("2 x the guest + mem_margin_mib, else the point is skipped"));
	json_object_object_add(
	    k, "construction",
	    json_object_new_string("vmt procfs --build-only --stats (snapshot)"));
	return k;
}

/* ------------------------------------------------------------- summary */

static const char *const methods[] = {"unsplit", "runtime", "vm"};
static const char *const method_names[] = {"unsplit", "method 1", "method 2"};

/* "median [min..max] (n)" or "-". */
static const char *cell(const struct bench_summary *s, char *buf, size_t n)
{
	if (!s->n)
		snprintf(buf, n, "-");
	else
		snprintf(buf, n, "%.1f [%.1f..%.1f] (%zu)", s->median, s->min, s->max, s->n);
	return buf;
}

/* Median guest pages the constructions of one x read (-1 none). */
static double pages_read(const struct bench_scale_results *s, const char *axis, double x)
{
	for (size_t i = 0; i < s->n; i++)
		if (!strcmp(s->rows[i].axis, axis) && s->rows[i].x == x &&
		    !strcmp(s->rows[i].method, "runtime"))
			return (double)s->rows[i].pages_read;
	return -1;
}

static void print_axis_table(const struct bench_scale_results *s, const char *axis)
{
	const char *labels[BENCH_SCALE_MAX_X];
	double xs[BENCH_SCALE_MAX_X];
	size_t nx = bench_scale_xs(s, axis, xs, labels, BENCH_SCALE_MAX_X);
	char a[3][64];

	printf("%-9s %-28s %-28s %-28s %-10s %s\n", axis, "unsplit", "method 1 (runtime)",
	       "method 2 (vm)", "pages read", "cpu ms: unsplit, m1, m2");
	for (size_t k = 0; k < nx; k++) {
		for (size_t m = 0; m < 3; m++) {
			struct bench_summary sm;

			bench_scale_summary(s, axis, methods[m], xs[k], &sm);
			cell(&sm, a[m], sizeof(a[m]));
		}
		printf("%-9s %-28s %-28s %-28s %-10.0f %.1f, %.1f, %.1f\n", labels[k], a[0], a[1],
		       a[2], pages_read(s, axis, xs[k]),
		       bench_scale_cpu_median(s, axis, "unsplit", xs[k]),
		       bench_scale_cpu_median(s, axis, "runtime", xs[k]),
		       bench_scale_cpu_median(s, axis, "vm", xs[k]));
	}
}

static void print_axis_fits(const struct bench_scale_results *s, const char *axis)
{
	for (size_t m = 0; m < 3; m++) {
		struct bench_fit f, lg;
		double scale;
		const char *unit = bench_scale_slope_unit(axis, &scale);
		char v[160];

		if (bench_scale_fit(s, axis, methods[m], false, &f))
			continue;
		bench_scale_verdict(s, axis, methods[m], v, sizeof(v));
		printf("  %-8s slope %8.3f %s, R^2 %.2f", method_names[m], f.slope * scale, unit,
		       f.r2);
		if (!bench_scale_fit(s, axis, methods[m], true, &lg))
			printf(", exponent %.2f", lg.slope);
		printf(": %s\n", v);
	}
}

static void print_skipped(const struct bench_scale_results *s)
{
	struct json_object *sk, *e, *v;

	if (!json_object_object_get_ex(s->base.meta, "skipped", &sk) ||
	    !json_object_array_length(sk))
		return;
	printf("Skipped:\n");
	for (size_t i = 0; i < json_object_array_length(sk); i++) {
		e = json_object_array_get_idx(sk, i);
		printf("  %s",
		       json_object_object_get_ex(e, "axis", &v) ? json_object_get_string(v) : "");
		printf(" %s",
		       json_object_object_get_ex(e, "label", &v) ? json_object_get_string(v) : "");
		printf(": %s\n",
		       json_object_object_get_ex(e, "reason", &v) ? json_object_get_string(v) : "");
	}
	printf("\n");
}

static void print_summary(const struct scale_cli *c, const struct bench_scale_results *s)
{
	char c1[24], c2[24];

	printf("Shadow /proc construction, ms: median [min..max] (n); method 1 at %s, method 2 at "
	       "%s;\nhalf of every guest on the main host; slopes fitted on the medians (least "
	       "squares)\n\n",
	       bench_chunk_name(c->o.chunk_runtime, c1, sizeof(c1)),
	       bench_chunk_name(c->o.chunk_vm, c2, sizeof(c2)));
	for (int a = 0; a < BENCH_NR_AXES; a++) {
		const char *axis = bench_axis_name(a);
		double xs[1];

		if (!bench_scale_xs(s, axis, xs, NULL, 1))
			continue;
		print_axis_table(s, axis);
		print_axis_fits(s, axis);
		printf("\n");
	}
	print_skipped(s);
}

/* ------------------------------------------------------------------ run */

static int scale_finish(struct scale_cli *c, struct bench_scale_results *s, int err)
{
	const char *out = c->cli.out;
	int werr;

	bench_cli_meta_end(&c->cli, s->base.meta, err);
	werr = bench_scale_results_write(s, out, true);
	if (werr)
		cli_err("bench", "%s", bench_error());
	if (!werr && !c->no_plots && s->n && bench_scale_plot(s, out))
		cli_err("bench", "plots: %s", bench_error()), werr = -EIO;
	print_summary(c, s);
	printf("Results: %s/results.csv, results.json%s\n", out,
	       c->no_plots ? "" : ", scale_AXIS.png");
	return err || werr ? EXIT_FAIL : EXIT_OK;
}

/* --replot: an earlier run's rows, this code's fits, verdicts and plots. */
static int scale_replot(struct scale_cli *c)
{
	struct bench_scale_results s;
	struct json_object *k, *v;
	int ret = EXIT_OK;

	if (bench_scale_results_init(&s) || bench_scale_results_load(&s, c->replot)) {
		cli_err("bench", "%s", bench_error());
		bench_scale_results_free(&s);
		return EXIT_FAIL;
	}
	if (json_object_object_get_ex(s.base.meta, "knobs", &k)) {
		if (json_object_object_get_ex(k, "chunk_runtime", &v))
			c->o.chunk_runtime = (uint64_t)json_object_get_int64(v);
		if (json_object_object_get_ex(k, "chunk_vm", &v))
			c->o.chunk_vm = (uint64_t)json_object_get_int64(v);
	}
	if (bench_scale_results_write(&s, c->replot, false) ||
	    (!c->no_plots && bench_scale_plot(&s, c->replot))) {
		cli_err("bench", "%s", bench_error());
		ret = EXIT_FAIL;
	}
	print_summary(c, &s);
	bench_scale_results_free(&s);
	return ret;
}

int bench_scale_main(int argc, char **argv)
{
	struct scale_cli c = {
	    .cli = {.section = "scale"},
	    .o = {.sz = sizeof(c.o),
		  .prefix = "vs",
		  .link = "1gbit",
		  .pt_chunk = "4K",
		  .policy = "address",
		  .axes = (1u << BENCH_NR_AXES) - 1,
		  .instances = 1,
		  .vm = true,
		  .procs = 100,
		  .fill_reserve_mib = 64,
		  .mem_margin_mib = 2048,
		  .chunk_runtime = 16384,
		  .chunk_vm = 4096},
	};
	struct bench_scale_results s;
	int ret, err;

	ret = scale_parse(argc, argv, &c);
	if (ret)
		return ret < 0 ? EXIT_OK : ret;
	if (c.replot)
		return scale_replot(&c);
	scale_defaults(&c);
	ret = bench_cli_prepare(&c.cli);
	if (ret)
		return ret;
	c.o.vmt = c.cli.vmt;
	c.o.out = c.cli.out;
	c.o.progress = bench_cli_progress;
	c.o.arg = &c.cli;
	if (bench_scale_results_init(&s)) {
		cli_err("bench", "out of memory");
		return EXIT_FAIL;
	}
	bench_cli_meta_begin(&c.cli, s.base.meta, scale_knobs(&c));
	err = bench_scale_run(&c.o, &s);
	if (err)
		cli_err("bench", "scale: %s", bench_error());
	ret = scale_finish(&c, &s, err);
	bench_scale_results_free(&s);
	return ret;
}

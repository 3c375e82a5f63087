// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * cmd_bench.c - `vmt bench SECTION`: the paper's experiments, end to end,
 * into a results folder (CSV, JSON, PNG plots), with a progress line on
 * stderr and a summary table on stdout.  This file: the dispatch and fig4;
 * the other sections' CLIs are cmd_bench_scale.c and cmd_bench_micro.c, and
 * what they share is bench_cli.c.
 */
#include <errno.h>
#include <getopt.h>
#include <json-c/json.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench/bench.h"
#include "bench_cli.h"
#include "cli.h"
#include "pagetable/pagetable.h"

static const char bench_help[] =
    "usage: vmt bench SECTION [options]\n\n"
    "Run one of the paper's experiments end to end: make the hosts, boot, fill and\n"
    "split guests, sweep, and write results.csv, results.json (machine, every knob)\n"
    "and PNG plots into a results folder.  Everything it starts it stops, also on\n"
    "Ctrl-C.  A progress line goes to stderr, a summary table to stdout.\n\n"
    "sections:\n"
    "  fig4    Fig. 4: (a) shadow /proc construction time vs chunk size, method 1\n"
    "          (runtime fetch), method 2 (VM remote paging) and unsplit; (b) ps inside\n"
    "          the guest right after each construction, with the guest's page-ins\n"
    "  scale   construction vs processes, memory, sub-hosts, link rate, with fitted\n"
    "          slopes (vmt bench scale --help)\n"
    "  micro   memory-file, NBD, pager and split micro-benchmarks, each beside its\n"
    "          limit measured in the same run (vmt bench micro --help)\n\n"
    "fig4 options:\n"
    "  --quick            a reduced sweep in a few minutes (512M guest, half of it on\n"
    "                     a sub-host, chunks 4K,2M, 2 repetitions)\n"
    "  --out DIR          results folder (default ./vmt-bench-fig4-DATE)\n"
    "  --reps N           repetitions of every point (default 3; --quick 2)\n"
    "  --chunks LIST      fetch chunk sizes, e.g. 4K,64K,2M (default 4K..2M, powers of 2)\n"
    "  --mem SIZE         guest RAM (default 2G, the paper's; --quick 512M)\n"
    "  --main-mem SIZE    kept on the main host (default 1G; --quick 256M)\n"
    "  --subhosts N       sub-hosts the rest is spread over (default 1)\n"
    "  --link RATE        sub-host links (default 1gbit, the paper's Gigabit Ethernet)\n"
    "  --procs N          guest workload processes (default 100)\n"
    "  --pt-chunk SIZE    the split's page-table chunk, the pager's unit (default 4K)\n"
    "  --policy NAME      split placement policy (default address: deterministic)\n"
    "  --fill-reserve MIB fill the guest's MemAvailable minus MIB with data before the\n"
    "                     split (default 64; 0: no fill)\n"
    "  --prefix P         hosts prefix and VM names P-f4-N (default vb; must not exist)\n"
    "  --subnet A.B       the hosts' subnet (vmt hosts up --subnet)\n"
    "  --kaslr            boot the guests with KASLR (default off: every instance has\n"
    "                     the same physical layout, so the same placement)\n"
    "  --no-plots         skip gnuplot\n";

enum {
	O_QUICK = OPT_CMD_BASE,
	O_OUT,
	O_REPS,
	O_CHUNKS,
	O_MEM,
	O_MAIN,
	O_SUBHOSTS,
	O_LINK,
	O_PROCS,
	O_PT_CHUNK,
	O_POLICY,
	O_RESERVE,
	O_PREFIX,
	O_SUBNET,
	O_NO_PLOTS,
	O_KASLR,
};

struct fig4_cli {
	struct bench_fig4_opts o;
	struct bench_cli cli;
	bool quick, no_plots, reps_set, mem_set, main_set, chunks_set;
};

/* One option of fig4; EXIT_OK, EXIT_USAGE or -1 (help printed). */
static int fig4_opt(void *arg_c, int opt, const char *arg)
{
	struct fig4_cli *c = arg_c;
	struct bench_fig4_opts *o = &c->o;

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
	case O_CHUNKS:
		c->chunks_set = true;
		return bench_cli_parse_chunks(arg, o->chunks, BENCH_MAX_CHUNKS, &o->nr_chunks);
	case O_MEM:
		c->mem_set = true;
		o->mem = arg;
		return EXIT_OK;
	case O_MAIN:
		c->main_set = true;
		o->main_mem = arg;
		return EXIT_OK;
	case O_SUBHOSTS:
		return bench_cli_parse_uint("--subhosts", arg, 1, BENCH_MAX_SUB, &o->subhosts);
	case O_LINK:
		o->link = arg;
		return EXIT_OK;
	case O_PROCS:
		return bench_cli_parse_uint("--procs", arg, 0, 100000, &o->procs);
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
	case O_NO_PLOTS:
		c->no_plots = true;
		return EXIT_OK;
	case O_KASLR:
		o->kaslr = true;
		return EXIT_OK;
	case 'h':
	case OPT_HELP:
		fputs(bench_help, stdout);
		return -1;
	default:
		fputs(bench_help, stderr);
		return EXIT_USAGE;
	}
}

static int fig4_parse(int argc, char **argv, struct fig4_cli *c)
{
	static const struct option longopts[] = {
	    {"quick", no_argument, NULL, O_QUICK},
	    {"out", required_argument, NULL, O_OUT},
	    {"reps", required_argument, NULL, O_REPS},
	    {"chunks", required_argument, NULL, O_CHUNKS},
	    {"mem", required_argument, NULL, O_MEM},
	    {"main-mem", required_argument, NULL, O_MAIN},
	    {"subhosts", required_argument, NULL, O_SUBHOSTS},
	    {"link", required_argument, NULL, O_LINK},
	    {"procs", required_argument, NULL, O_PROCS},
	    {"pt-chunk", required_argument, NULL, O_PT_CHUNK},
	    {"policy", required_argument, NULL, O_POLICY},
	    {"fill-reserve", required_argument, NULL, O_RESERVE},
	    {"prefix", required_argument, NULL, O_PREFIX},
	    {"subnet", required_argument, NULL, O_SUBNET},
	    {"no-plots", no_argument, NULL, O_NO_PLOTS},
	    {"kaslr", no_argument, NULL, O_KASLR},
	    {"help", no_argument, NULL, OPT_HELP},
	    {0},
	};

	return bench_cli_getopt(argc, argv, longopts, fig4_opt, c);
}

/* Defaults: the paper's shape, or --quick's; options given win. */
static void fig4_defaults(struct fig4_cli *c)
{
	static const uint64_t quick[] = {4096, 2u << 20};
	struct bench_fig4_opts *o = &c->o;

	if (!c->reps_set)
		o->reps = c->quick ? 2 : 3;
	if (!c->mem_set)
		o->mem = c->quick ? "512M" : "2G";
	if (!c->main_set)
		o->main_mem = c->quick ? "256M" : "1G";
	if (!c->chunks_set && c->quick) {
		memcpy(o->chunks, quick, sizeof(quick));
		o->nr_chunks = 2;
	} else if (!c->chunks_set) {
		for (uint64_t v = 4096; v <= (2u << 20); v <<= 1)
			o->chunks[o->nr_chunks++] = v;
	}
}

static struct json_object *fig4_knobs(const struct fig4_cli *c)
{
	const struct bench_fig4_opts *o = &c->o;
	struct json_object *k = json_object_new_object(), *a = json_object_new_array();

	json_object_object_add(k, "quick", json_object_new_boolean(c->quick));
	json_object_object_add(k, "reps", json_object_new_int((int)o->reps));
	for (unsigned i = 0; i < o->nr_chunks; i++)
		json_object_array_add(a, json_object_new_int64((int64_t)o->chunks[i]));
	json_object_object_add(k, "chunks", a);
	json_object_object_add(k, "mem", json_object_new_string(o->mem));
	json_object_object_add(k, "main_mem", json_object_new_string(o->main_mem));
	json_object_object_add(k, "subhosts", json_object_new_int((int)o->subhosts));
	json_object_object_add(k, "link", json_object_new_string(o->link));
	json_object_object_add(k, "procs", json_object_new_int((int)o->procs));
	json_object_object_add(k, "pt_chunk", json_object_new_string(o->pt_chunk));
	json_object_object_add(k, "policy", json_object_new_string(o->policy));
	json_object_object_add(k, "kaslr", json_object_new_boolean(o->kaslr));
	json_object_object_add(k, "fill_reserve_mib",
			       json_object_new_int((int)o->fill_reserve_mib));
	json_object_object_add(k, "prefix", json_object_new_string(o->prefix));
	json_object_object_add(k, "subnet", o->subnet ? json_object_new_string(o->subnet) : NULL);
	json_object_object_add(k, "tls", json_object_new_string("TLS-PSK"));
	json_object_object_add(k, "ps", json_object_new_string("busybox ps, timed by the agent"));
	json_object_object_add(
	    k, "construction",
	    json_object_new_string("vmt procfs --build-only --stats (snapshot)"));
	return k;
}

/* ------------------------------------------------------------- summary */

static const char *kib(uint64_t c, char *buf, size_t n)
{
	if (c >= (1u << 20) && !(c & ((1u << 20) - 1)))
		snprintf(buf, n, "%lluM", (unsigned long long)(c >> 20));
	else
		snprintf(buf, n, "%lluK", (unsigned long long)(c >> 10));
	return buf;
}

/* "median [min..max] (n)" or "-". */
static const char *cell(const struct bench_summary *s, char *buf, size_t n)
{
	if (!s->n)
		snprintf(buf, n, "-");
	else
		snprintf(buf, n, "%.1f [%.1f..%.1f] (%zu)", s->median, s->min, s->max, s->n);
	return buf;
}

static void print_fig4a(const struct bench_results *r, const struct bench_fig4_opts *o)
{
	struct bench_summary m1, m2, u;
	char a[80], b[80], cn[24];

	printf("Fig. 4(a): shadow /proc construction, ms: median [min..max] (n)\n");
	printf("%-8s %-30s %-30s %s\n", "chunk", "method 1 (runtime)", "method 2 (vm)", "m2/m1");
	for (unsigned i = 0; i < o->nr_chunks; i++) {
		bench_results_summary(r, "4a", "runtime", o->chunks[i], &m1);
		bench_results_summary(r, "4a", "vm", o->chunks[i], &m2);
		printf("%-8s %-30s %-30s ", kib(o->chunks[i], cn, sizeof(cn)),
		       cell(&m1, a, sizeof(a)), cell(&m2, b, sizeof(b)));
		if (m1.n && m2.n)
			printf("%.2f\n", m2.median / m1.median);
		else
			printf("-\n");
	}
	bench_results_summary(r, "4a", "unsplit", ~0ull, &u);
	printf("%-8s %s\n\n", "unsplit", cell(&u, a, sizeof(a)));
}

static void print_fig4b(const struct bench_results *r, const struct bench_fig4_opts *o)
{
	struct bench_summary s;
	char a[80], cn[24], what[64];
	double pi;

	printf("Fig. 4(b): busybox ps inside the guest right after construction, ms: median "
	       "[min..max] (n); guest page-ins during ps (median)\n");
	for (unsigned i = 0; i < o->nr_chunks; i++) {
		bench_results_summary(r, "4b", "vm", o->chunks[i], &s);
		snprintf(what, sizeof(what), "after method 2 at %s",
			 kib(o->chunks[i], cn, sizeof(cn)));
		printf("%-24s %-30s %.0f\n", what, cell(&s, a, sizeof(a)),
		       bench_results_pageins(r, "4b", "vm", o->chunks[i]));
	}
	bench_results_summary(r, "4b", "runtime", ~0ull, &s);
	printf("%-24s %-30s %.0f\n", "after method 1", cell(&s, a, sizeof(a)),
	       bench_results_pageins(r, "4b", "runtime", ~0ull));
	bench_results_summary(r, "4b", "unsplit", ~0ull, &s);
	printf("%-24s %-30s %s\n", "unsplit", cell(&s, a, sizeof(a)), "-");
	bench_results_summary(r, "4b", "local", ~0ull, &s);
	pi = bench_results_pageins(r, "4b", "local", ~0ull);
	/* Nothing on a sub-host: the split loads no pager, and there is nothing to count. */
	if (pi < 0)
		snprintf(what, sizeof(what), "- (no pager)");
	else
		snprintf(what, sizeof(what), "%.0f", pi);
	printf("%-24s %-30s %s\n\n", "new QEMU, nothing remote", cell(&s, a, sizeof(a)), what);
}

/* Lowest median over the chunks of one method in one figure; its chunk in *at. */
static double best(const struct bench_results *r, const char *fig, const char *method,
		   const struct bench_fig4_opts *o, uint64_t *at)
{
	double b = 0;

	for (unsigned i = 0; i < o->nr_chunks; i++) {
		struct bench_summary s;

		bench_results_summary(r, fig, method, o->chunks[i], &s);
		if (s.n && (!b || s.median < b)) {
			b = s.median;
			*at = o->chunks[i];
		}
	}
	return b;
}

static void print_targets(const struct bench_results *r, const struct bench_fig4_opts *o)
{
	struct bench_summary u, ub, m2b, lb;
	uint64_t c1 = 0, c2 = 0;
	double b1 = best(r, "4a", "runtime", o, &c1), b2 = best(r, "4a", "vm", o, &c2);
	char x[24], y[24];

	bench_results_summary(r, "4a", "unsplit", ~0ull, &u);
	bench_results_summary(r, "4b", "unsplit", ~0ull, &ub);
	bench_results_summary(r, "4b", "vm", ~0ull, &m2b);
	bench_results_summary(r, "4b", "local", ~0ull, &lb);
	printf("Targets (issue 9):\n");
	if (b1 && b2)
		printf("  method 2 at its best chunk (%s) / method 1 at its best (%s): %.2fx "
		       "(target <= 1.3x; the paper: 1.6x)\n",
		       kib(c2, x, sizeof(x)), kib(c1, y, sizeof(y)), b2 / b1);
	if (b1 && u.n)
		printf("  method 1 at its best / unsplit: %.2fx (target <= 1.5x)\n", b1 / u.median);
	if (m2b.n && ub.n)
		printf("  ps after method 2 (all chunks) / ps on the unsplit VM: %.2fx "
		       "(target <= 1.1x)\n",
		       m2b.median / ub.median);
	if (m2b.n && lb.n)
		printf("  ps after method 2 / ps in a new QEMU with nothing remote (the control: "
		       "TCG's empty translation cache, no paging): %.2fx\n",
		       m2b.median / lb.median);
}

/* Placement before each split point: how far it was from right after its split and
 * from the first instance's split, over the run. */
static void print_placement(const struct bench_results *r)
{
	int64_t moved = 0, differs = 0;
	uint64_t mn = ~0ull, mx = 0;
	size_t n = 0;

	for (size_t i = 0; i < r->n; i++) {
		const struct bench_census *c = &r->rows[i].before;

		if (!c->split || strcmp(r->rows[i].figure, "4a"))
			continue;
		moved = c->moved > moved ? c->moved : moved;
		differs = c->differs_first > differs ? c->differs_first : differs;
		mn = c->main < mn ? c->main : mn;
		mx = c->main > mx ? c->main : mx;
		n++;
	}
	if (!n)
		return;
	printf("Placement before each of the %zu constructions on a split VM (page-table "
	       "chunks):\n  main host %llu..%llu; at most %lld chunks elsewhere than right after "
	       "their\n  instance's split, at most %lld elsewhere than after the first instance's "
	       "split\n  (per row in results.csv: moved_since_split, differs_from_first_split)\n",
	       n, (unsigned long long)mn, (unsigned long long)mx, (long long)moved,
	       (long long)differs);
}

/* ------------------------------------------------------------------ run */

static int fig4_finish(struct fig4_cli *c, struct bench_results *r, int err)
{
	const char *out = c->cli.out;
	int werr;

	bench_cli_meta_end(&c->cli, r->meta, err);
	werr = bench_results_write(r, out);
	if (werr)
		cli_err("bench", "%s", bench_error());
	if (!werr && !c->no_plots && r->n && bench_plot_fig4(r, out, c->o.chunks, c->o.nr_chunks))
		cli_err("bench", "plots: %s", bench_error()), werr = -EIO;
	print_fig4a(r, &c->o);
	print_fig4b(r, &c->o);
	print_targets(r, &c->o);
	print_placement(r);
	printf("Results: %s/results.csv, results.json%s\n", out,
	       c->no_plots ? "" : ", fig4a.png, fig4b.png");
	return err || werr ? EXIT_FAIL : EXIT_OK;
}

static int bench_fig4(int argc, char **argv)
{
	struct fig4_cli c = {
	    .cli = {.section = "fig4"},
	    .o = {.sz = sizeof(c.o),
		  .prefix = "vb",
		  .link = "1gbit",
		  .pt_chunk = "4K",
		  .policy = "address",
		  .subhosts = 1,
		  .procs = 100,
		  .fill_reserve_mib = 64},
	};
	struct bench_results r;
	int ret, err;

	ret = fig4_parse(argc, argv, &c);
	if (ret)
		return ret < 0 ? EXIT_OK : ret;
	fig4_defaults(&c);
	ret = bench_cli_prepare(&c.cli);
	if (ret)
		return ret;
	c.o.vmt = c.cli.vmt;
	c.o.progress = bench_cli_progress;
	c.o.arg = &c.cli;
	if (bench_results_init(&r)) {
		cli_err("bench", "out of memory");
		return EXIT_FAIL;
	}
	bench_cli_meta_begin(&c.cli, r.meta, fig4_knobs(&c));
	err = bench_fig4_run(&c.o, &r);
	if (err)
		cli_err("bench", "fig4: %s", bench_error());
	ret = fig4_finish(&c, &r, err);
	bench_results_free(&r);
	return ret;
}

int cmd_bench(int argc, char **argv)
{
	if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
		fputs(bench_help, argc < 2 ? stderr : stdout);
		return argc < 2 ? EXIT_USAGE : EXIT_OK;
	}
	if (!strcmp(argv[1], "fig4"))
		return bench_fig4(argc - 1, argv + 1);
	if (!strcmp(argv[1], "scale"))
		return bench_scale_main(argc - 1, argv + 1);
	if (!strcmp(argv[1], "micro"))
		return bench_micro_main(argc - 1, argv + 1);
	cli_err("bench", "unknown section '%s' (see vmt bench --help)", argv[1]);
	return EXIT_USAGE;
}

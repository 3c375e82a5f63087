// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * cmd_bench_micro.c - `vmt bench micro`: the layers' own costs, each beside
 * its limit measured in the same run (src/bench/micro.h): the options, the
 * knobs recorded, the summary table.
 */
#include <errno.h>
#include <getopt.h>
#include <json-c/json.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench/micro.h"
#include "bench/pager_probe.h"
#include "bench_cli.h"
#include "cli.h"
#include "pagetable/pagetable.h"

static const char micro_help[] =
    "usage: vmt bench micro [options]\n\n"
    "The layers' own costs, each figure beside its limit measured in the same run:\n"
    "  mem    a memory file read 4 KB at a time by the library (page source + page\n"
    "         cache; and through the x86 translation) beside pread and memcpy of it\n"
    "  nbd    chunk fetch through the sub-host client (TLS-PSK) from a sub-host of\n"
    "         `vmt hosts` per chunk size, beside plain TCP request/response of the\n"
    "         same size on the same link and the link's rate\n"
    "  pager  fault to resume through libvmt-pager.so per chunk, beside a plain 4 KB\n"
    "         NBD read on the same link\n"
    "  split  split-migration time per guest size beside the busiest link's bytes /\n"
    "         link rate, and the downtime\n"
    "results.csv, results.json, latency.png, throughput.png, pager.png, split.png.\n\n"
    "options:\n"
    "  --quick            a reduced run (about 90 s: chunks 4K,64K,2M, 2 repetitions,\n"
    "                     split of a 512M guest once)\n"
    "  --only LIST        sections, e.g. mem,nbd (default mem,nbd,pager,split)\n"
    "  --out DIR          results folder (default ./vmt-bench-micro-DATE)\n"
    "  --reps N           repetitions of every figure (default 5; --quick 2)\n"
    "  --samples N        requests per repetition of a latency (default 200; --quick 40)\n"
    "  --chunks LIST      chunk sizes (default 4K..2M, powers of 2; --quick 4K,64K,2M)\n"
    "  --sizes LIST       split: guest sizes (default 512M,1G,2G; --quick 512M)\n"
    "  --split-reps N     split: guests per size (default 2; --quick 1)\n"
    "  --mem-file SIZE    mem: the memory file (default 256M; --quick 64M)\n"
    "  --pager-ram SIZE   pager: its memory file (default 128M; --quick 64M)\n"
    "  --link RATE        sub-host links (default 1gbit)\n"
    "  --prefix P         hosts prefix and VM names P-mi-N (default vbm; must not exist)\n"
    "  --subnet A.B       the hosts' subnet (vmt hosts up --subnet)\n"
    "  --no-plots         skip gnuplot\n";

enum {
	O_QUICK = OPT_CMD_BASE,
	O_ONLY,
	O_OUT,
	O_REPS,
	O_SAMPLES,
	O_CHUNKS,
	O_SIZES,
	O_SPLIT_REPS,
	O_MEMFILE,
	O_PAGER_RAM,
	O_LINK,
	O_PREFIX,
	O_SUBNET,
	O_NO_PLOTS,
};

struct micro_cli {
	struct bench_micro_opts o;
	struct bench_cli cli;
	bool quick, no_plots;
	const char *mem_file, *pager_ram; /* NULL: default */
	char *sizes;			  /* --sizes (owned) */
	unsigned split_reps;		  /* 0: default */
};

static int parse_only(const char *arg, unsigned *sections)
{
	static const char *const names[] = {"mem", "nbd", "pager", "split"};
	char *dup = strdup(arg), *save = NULL;

	*sections = 0;
	for (char *t = strtok_r(dup, ",", &save); dup && t; t = strtok_r(NULL, ",", &save)) {
		unsigned k = 0;

		while (k < 4 && strcmp(t, names[k]))
			k++;
		if (k == 4) {
			cli_err("bench", "--only: no section '%s' (mem, nbd, pager, split)", t);
			free(dup);
			return EXIT_USAGE;
		}
		*sections |= 1u << k;
	}
	free(dup);
	return *sections ? EXIT_OK : EXIT_USAGE;
}

static int parse_sizes(struct micro_cli *c, const char *arg)
{
	char *save = NULL;
	uint64_t v;

	free(c->sizes);
	c->sizes = strdup(arg);
	c->o.nr_sizes = 0;
	for (char *t = strtok_r(c->sizes, ",", &save); c->sizes && t;
	     t = strtok_r(NULL, ",", &save)) {
		if (vmt_pt_parse_size(t, &v) || v < (256u << 20) ||
		    c->o.nr_sizes == MICRO_MAX_SIZES) {
			cli_err("bench",
				"--sizes: '%s' is not a guest size of 256M or more (at most "
				"%d of them)",
				t, MICRO_MAX_SIZES);
			return EXIT_USAGE;
		}
		c->o.sizes[c->o.nr_sizes++] = t;
	}
	return c->o.nr_sizes ? EXIT_OK : EXIT_USAGE;
}

/* One option; EXIT_OK, EXIT_USAGE or -1 (help printed). */
static int micro_opt(void *arg_c, int opt, const char *arg)
{
	struct micro_cli *c = arg_c;
	struct bench_micro_opts *o = &c->o;

	switch (opt) {
	case O_QUICK:
		c->quick = true;
		return EXIT_OK;
	case O_ONLY:
		return parse_only(arg, &o->sections);
	case O_OUT:
		c->cli.out = arg;
		return EXIT_OK;
	case O_REPS:
		return bench_cli_parse_uint("--reps", arg, 1, 64, &o->reps);
	case O_SAMPLES:
		return bench_cli_parse_uint("--samples", arg, 5, 10000, &o->samples);
	case O_CHUNKS:
		return bench_cli_parse_chunks(arg, o->chunks, BENCH_MAX_CHUNKS, &o->nr_chunks);
	case O_SIZES:
		return parse_sizes(c, arg);
	case O_SPLIT_REPS:
		return bench_cli_parse_uint("--split-reps", arg, 1, 16, &c->split_reps);
	case O_MEMFILE:
		c->mem_file = arg;
		return EXIT_OK;
	case O_PAGER_RAM:
		c->pager_ram = arg;
		return EXIT_OK;
	case O_LINK:
		o->link = arg;
		return EXIT_OK;
	case O_PREFIX:
		o->prefix = arg;
		return EXIT_OK;
	case O_SUBNET:
		o->subnet = arg;
		return EXIT_OK;
	case O_NO_PLOTS:
		c->no_plots = true;
		return EXIT_OK;
	case 'h':
	case OPT_HELP:
		fputs(micro_help, stdout);
		return -1;
	default:
		fputs(micro_help, stderr);
		return EXIT_USAGE;
	}
}

static int micro_parse(int argc, char **argv, struct micro_cli *c)
{
	static const struct option longopts[] = {
	    {"quick", no_argument, NULL, O_QUICK},
	    {"only", required_argument, NULL, O_ONLY},
	    {"out", required_argument, NULL, O_OUT},
	    {"reps", required_argument, NULL, O_REPS},
	    {"samples", required_argument, NULL, O_SAMPLES},
	    {"chunks", required_argument, NULL, O_CHUNKS},
	    {"sizes", required_argument, NULL, O_SIZES},
	    {"split-reps", required_argument, NULL, O_SPLIT_REPS},
	    {"mem-file", required_argument, NULL, O_MEMFILE},
	    {"pager-ram", required_argument, NULL, O_PAGER_RAM},
	    {"link", required_argument, NULL, O_LINK},
	    {"prefix", required_argument, NULL, O_PREFIX},
	    {"subnet", required_argument, NULL, O_SUBNET},
	    {"no-plots", no_argument, NULL, O_NO_PLOTS},
	    {"help", no_argument, NULL, OPT_HELP},
	    {0},
	};

	return bench_cli_getopt(argc, argv, longopts, micro_opt, c);
}

/* Defaults, --quick's or the full run's; options given win. */
static int micro_defaults(struct micro_cli *c)
{
	static const uint64_t quick_chunks[] = {4096, 65536, 2u << 20};
	struct bench_micro_opts *o = &c->o;
	const char *mf = c->mem_file ? c->mem_file : c->quick ? "64M" : "256M";
	const char *pr = c->pager_ram ? c->pager_ram : c->quick ? "64M" : "128M";

	if (!o->sections)
		o->sections = MICRO_ALL;
	if (!o->reps)
		o->reps = c->quick ? 2 : 5;
	if (!o->samples)
		o->samples = c->quick ? 40 : 200;
	if (!o->nr_chunks && c->quick) {
		memcpy(o->chunks, quick_chunks, sizeof(quick_chunks));
		o->nr_chunks = 3;
	}
	if (!o->nr_chunks)
		for (uint64_t v = 4096; v <= (2u << 20); v <<= 1)
			o->chunks[o->nr_chunks++] = v;
	if (!o->nr_sizes && parse_sizes(c, c->quick ? "512M" : "512M,1G,2G"))
		return EXIT_USAGE;
	o->split_reps = c->split_reps ? c->split_reps : c->quick ? 1 : 2;
	if (vmt_pt_parse_size(mf, &o->mem_bytes) || o->mem_bytes < (16u << 20) ||
	    o->mem_bytes > (2ull << 30) || vmt_pt_parse_size(pr, &o->pager_ram) ||
	    o->pager_ram < (4u << 20) || o->pager_ram > (1ull << 30)) {
		cli_err("bench", "--mem-file takes 16M..2G, --pager-ram 4M..1G");
		return EXIT_USAGE;
	}
	return EXIT_OK;
}

static struct json_object *micro_knobs(const struct micro_cli *c)
{
	const struct bench_micro_opts *o = &c->o;
	struct json_object *k = json_object_new_object(), *a = json_object_new_array();
	struct json_object *sz = json_object_new_array(), *sec = json_object_new_array();
	static const char *const names[] = {"mem", "nbd", "pager", "split"};

	for (unsigned i = 0; i < 4; i++)
		if (o->sections & (1u << i))
			json_object_array_add(sec, json_object_new_string(names[i]));
	json_object_object_add(k, "sections", sec);
	json_object_object_add(k, "quick", json_object_new_boolean(c->quick));
	json_object_object_add(k, "reps", json_object_new_int((int)o->reps));
	json_object_object_add(k, "samples", json_object_new_int((int)o->samples));
	for (unsigned i = 0; i < o->nr_chunks; i++)
		json_object_array_add(a, json_object_new_int64((int64_t)o->chunks[i]));
	json_object_object_add(k, "chunks", a);
	for (unsigned i = 0; i < o->nr_sizes; i++)
		json_object_array_add(sz, json_object_new_string(o->sizes[i]));
	json_object_object_add(k, "split_sizes", sz);
	json_object_object_add(k, "split_reps", json_object_new_int((int)o->split_reps));
	json_object_object_add(k, "split_shape",
			       json_object_new_string("half on the main host, the rest over 2 "
						      "sub-hosts, policy address, 64K chunks, "
						      "guest filled first"));
	json_object_object_add(k, "mem_file_bytes", json_object_new_int64((int64_t)o->mem_bytes));
	json_object_object_add(k, "pager_ram_bytes", json_object_new_int64((int64_t)o->pager_ram));
	json_object_object_add(k, "pager_tail", json_object_new_string("after"));
	json_object_object_add(k, "link", json_object_new_string(o->link));
	json_object_object_add(k, "prefix", json_object_new_string(o->prefix));
	json_object_object_add(k, "subnet", o->subnet ? json_object_new_string(o->subnet) : NULL);
	json_object_object_add(k, "tls", json_object_new_string("TLS-PSK"));
	return k;
}

/* ------------------------------------------------------------- summary */

static const char *param_name(const struct micro_row *w, char *buf, size_t n)
{
	uint64_t p = w->param;

	if (!p)
		snprintf(buf, n, "-");
	else if (p >= (1u << 20) && !(p & ((1u << 20) - 1)))
		snprintf(buf, n, "%lluM", (unsigned long long)(p >> 20));
	else
		snprintf(buf, n, "%lluK", (unsigned long long)(p >> 10));
	return buf;
}

static void print_summary(const struct micro_results *r)
{
	const char *sect = "";
	char pn[24], v[64], l[80];

	for (size_t i = 0; i < r->n; i++) {
		const struct micro_row *w = &r->rows[i];

		if (strcmp(sect, w->section)) {
			sect = w->section;
			printf("\n%s: median [min..max] (n), p90; limit: the row it is compared "
			       "with; ratio = median / limit\n",
			       sect);
			printf("  %-24s %-6s %-8s %-34s %-10s %-34s %s\n", "metric", "param",
			       "unit", "value", "p90", "limit", "ratio");
		}
		snprintf(v, sizeof(v), "%.4g [%.4g..%.4g] (%zu)", w->s.median, w->s.min, w->s.max,
			 w->s.n);
		if (w->is_limit)
			snprintf(l, sizeof(l), "(a limit)");
		else
			snprintf(l, sizeof(l), "%s %.4g", w->limit_metric, w->limit);
		printf("  %-24s %-6s %-8s %-34s %-10.4g %-34s ", w->metric,
		       param_name(w, pn, sizeof(pn)), w->unit, v, w->p90, l);
		if (isnan(w->ratio))
			printf("-\n");
		else
			printf("%.2f\n", w->ratio);
	}
}

/* ------------------------------------------------------------------ run */

static int micro_finish(struct micro_cli *c, struct micro_results *r, int err)
{
	const char *out = c->cli.out;
	int werr;

	bench_cli_meta_end(&c->cli, r->meta, err);
	werr = micro_results_write(r, out);
	if (werr)
		cli_err("bench", "%s", bench_error());
	if (!werr && !c->no_plots && r->n && micro_plot(r, out))
		cli_err("bench", "plots: %s", bench_error()), werr = -EIO;
	print_summary(r);
	printf("\nResults: %s/results.csv, results.json%s\n", out,
	       c->no_plots ? "" : ", *.png (with their .dat and .gp)");
	return err || werr ? EXIT_FAIL : EXIT_OK;
}

/* A private folder for the key; the /dev/shm files' tag. */
static int micro_tmp(struct micro_cli *c, char *tmp, size_t n, char *tag, size_t tn)
{
	snprintf(tmp, n, "/tmp/vmt-bench-micro-XXXXXX");
	if (!mkdtemp(tmp)) {
		cli_err("bench", "mkdtemp: %s", strerror(errno));
		return EXIT_FAIL;
	}
	snprintf(tag, tn, "%s-micro-%d", c->o.prefix, (int)getpid());
	c->o.tmp = tmp;
	c->o.shm_tag = tag;
	return EXIT_OK;
}

static void micro_tmp_drop(const char *tmp)
{
	char p[512];

	snprintf(p, sizeof(p), "%s/key.psk", tmp);
	unlink(p);
	rmdir(tmp);
}

int bench_micro_main(int argc, char **argv)
{
	struct micro_cli c = {
	    .cli = {.section = "micro"},
	    .o = {.sz = sizeof(c.o), .prefix = "vbm", .link = "1gbit"},
	};
	char tmp[64], tag[64];
	struct micro_results r;
	int ret, err;

	/* The pager probe's child (pager_probe.c runs it with the pager preloaded). */
	if (argc >= 2 && !strcmp(argv[1], "--pager-child"))
		return pager_probe_child(argc - 2, argv + 2);
	ret = micro_parse(argc, argv, &c);
	if (!ret)
		ret = micro_defaults(&c);
	if (!ret)
		ret = bench_cli_prepare(&c.cli);
	if (!ret)
		ret = micro_tmp(&c, tmp, sizeof(tmp), tag, sizeof(tag));
	if (ret) {
		free(c.sizes);
		return ret < 0 ? EXIT_OK : ret;
	}
	c.o.vmt = c.cli.vmt;
	c.o.progress = bench_cli_progress;
	c.o.arg = &c.cli;
	if (micro_results_init(&r)) {
		cli_err("bench", "out of memory");
		return EXIT_FAIL;
	}
	bench_cli_meta_begin(&c.cli, r.meta, micro_knobs(&c));
	err = bench_micro_run(&c.o, &r);
	if (err)
		cli_err("bench", "micro: %s", bench_error());
	ret = micro_finish(&c, &r, err);
	micro_results_free(&r);
	micro_tmp_drop(tmp);
	free(c.sizes);
	return ret;
}

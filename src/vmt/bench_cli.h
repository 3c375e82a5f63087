/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * bench_cli.h - what the sections of `vmt bench` share on the command line:
 * option parsing, the results folder, the progress line, Ctrl-C, and the
 * results' metadata.  Each section's CLI is its own file (cmd_bench.c:
 * fig4 and the dispatch; cmd_bench_scale.c; cmd_bench_micro.c).
 */
#ifndef VMT_BENCH_CLI_H
#define VMT_BENCH_CLI_H

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>

struct json_object;

struct bench_cli {
	const char *section;   /* "fig4", "scale", "micro" */
	const char *out;       /* results folder: --out, or ./vmt-bench-SECTION-DATE */
	bool tty;	       /* stderr is a terminal: the progress line redraws in place */
	char vmt[PATH_MAX];    /* this vmt executable, which the steps run */
	char outbuf[PATH_MAX]; /* the default out */
};

struct option;

/*
 * getopt_long over argv ("h" the one short option), each option to
 * opt(c, id, optarg) until one returns non-zero; a positional argument is a
 * usage error.  EXIT_OK, EXIT_USAGE or what opt returned.
 */
int bench_cli_getopt(int argc, char **argv, const struct option *longopts,
		     int (*opt)(void *c, int id, const char *arg), void *c);
/* "--opt N" in lo..hi; EXIT_OK or EXIT_USAGE (said why). */
int bench_cli_parse_uint(const char *opt, const char *arg, unsigned lo, unsigned hi, unsigned *out);
/* "4K,64K,2M": powers of two from 4K to 2M, at most max of them; EXIT_OK or EXIT_USAGE. */
int bench_cli_parse_chunks(const char *arg, uint64_t *chunks, unsigned max, unsigned *nr);

/*
 * Before a run: find this vmt, make the results folder (c->out, default
 * from c->section and the date), note whether stderr is a tty, and turn
 * SIGINT, SIGTERM and SIGHUP into bench_stop.  EXIT_OK or EXIT_FAIL (said why).
 */
int bench_cli_prepare(struct bench_cli *c);

/* A progress callback (arg: the struct bench_cli): "[done/total] line" on stderr. */
void bench_cli_progress(void *arg, unsigned done, unsigned total, const char *line);

/* meta: "bench", "vmt_version", "machine", and the section's knobs (taken). */
void bench_cli_meta_begin(const struct bench_cli *c, struct json_object *meta,
			  struct json_object *knobs);
/* meta: "machine_after", "finished", "complete", and the error if err. */
void bench_cli_meta_end(const struct bench_cli *c, struct json_object *meta, int err);

/* The sections besides fig4 (argv[0] is the section's name). */
int bench_scale_main(int argc, char **argv);
int bench_micro_main(int argc, char **argv);

#endif

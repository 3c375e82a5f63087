// SPDX-License-Identifier: LGPL-2.1-or-later
/* bench_cli.c - the shared command-line parts of `vmt bench`'s sections. */
#include <errno.h>
#include <getopt.h>
#include <json-c/json.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "bench/bench.h"
#include "bench_cli.h"
#include "cli.h"
#include "pagetable/pagetable.h"

int bench_cli_parse_uint(const char *opt, const char *arg, unsigned lo, unsigned hi, unsigned *out)
{
	char *end;
	unsigned long v = strtoul(arg, &end, 10);

	if (*end || end == arg || v < lo || v > hi) {
		cli_err("bench", "%s takes %u..%u, not '%s'", opt, lo, hi, arg);
		return EXIT_USAGE;
	}
	*out = (unsigned)v;
	return EXIT_OK;
}

int bench_cli_parse_chunks(const char *arg, uint64_t *chunks, unsigned max, unsigned *nr)
{
	char *dup = strdup(arg), *save = NULL;
	int ret = 0;

	*nr = 0;
	for (char *t = strtok_r(dup, ",", &save); dup && t; t = strtok_r(NULL, ",", &save)) {
		uint64_t v;

		if (vmt_pt_parse_size(t, &v) || v < 4096 || v > (2u << 20) || (v & (v - 1)) ||
		    *nr == max) {
			cli_err("bench", "--chunks: '%s' is not a power of two from 4K to 2M", t);
			ret = EXIT_USAGE;
			break;
		}
		chunks[(*nr)++] = v;
	}
	free(dup);
	if (!ret && !*nr) {
		cli_err("bench", "--chunks: no size given");
		ret = EXIT_USAGE;
	}
	return ret;
}

int bench_cli_getopt(int argc, char **argv, const struct option *longopts,
		     int (*opt)(void *c, int id, const char *arg), void *c)
{
	int id, r;

	optind = 0;
	while ((id = getopt_long(argc, argv, "h", longopts, NULL)) != -1)
		if ((r = opt(c, id, optarg)))
			return r;
	if (optind < argc) {
		cli_err("bench", "unexpected argument '%s'", argv[optind]);
		return EXIT_USAGE;
	}
	return EXIT_OK;
}

static int mkdir_p(const char *dir)
{
	char buf[PATH_MAX];

	snprintf(buf, sizeof(buf), "%s", dir);
	for (char *p = buf + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(buf, 0755) && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	return mkdir(buf, 0755) && errno != EEXIST ? -errno : 0;
}

static void on_signal(int sig)
{
	(void)sig;
	bench_stop = 1;
}

static void bench_cli_signals(void)
{
	struct sigaction sa = {.sa_handler = on_signal};

	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
}

int bench_cli_prepare(struct bench_cli *c)
{
	ssize_t n = readlink("/proc/self/exe", c->vmt, sizeof(c->vmt) - 1);
	int err;

	if (n <= 0) {
		cli_err("bench", "cannot find vmt itself: %s", strerror(errno));
		return EXIT_FAIL;
	}
	c->vmt[n] = '\0';
	if (!c->out) {
		time_t t = time(NULL);
		char ts[32];

		strftime(ts, sizeof(ts), "%Y%m%d-%H%M%S", gmtime(&t));
		snprintf(c->outbuf, sizeof(c->outbuf), "vmt-bench-%s-%s", c->section, ts);
		c->out = c->outbuf;
	}
	err = mkdir_p(c->out);
	if (err) {
		cli_err("bench", "results folder %s: %s", c->out, strerror(-err));
		return EXIT_FAIL;
	}
	c->tty = isatty(2);
	bench_cli_signals();
	return EXIT_OK;
}

void bench_cli_progress(void *arg, unsigned done, unsigned total, const char *line)
{
	const struct bench_cli *c = arg;

	fprintf(stderr, "%s[%3u/%u] %s%s", c->tty ? "\r\033[K" : "", done, total, line,
		c->tty ? "" : "\n");
	fflush(stderr);
}

void bench_cli_meta_begin(const struct bench_cli *c, struct json_object *meta,
			  struct json_object *knobs)
{
	json_object_object_add(meta, "bench", json_object_new_string(c->section));
	json_object_object_add(meta, "vmt_version", json_object_new_string("0.1.0"));
	json_object_object_add(meta, "machine", bench_machine_json());
	json_object_object_add(meta, "knobs", knobs);
}

void bench_cli_meta_end(const struct bench_cli *c, struct json_object *meta, int err)
{
	time_t t = time(NULL);
	char ts[32];

	if (c->tty)
		fputc('\n', stderr);
	json_object_object_add(meta, "machine_after", bench_machine_json());
	strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%SZ", gmtime(&t));
	json_object_object_add(meta, "finished", json_object_new_string(ts));
	json_object_object_add(meta, "complete", json_object_new_boolean(!err));
	if (err)
		json_object_object_add(meta, "error", json_object_new_string(bench_error()));
}

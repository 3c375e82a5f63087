/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * micro.h - `vmt bench micro`: the layers' own costs, each figure beside
 * its limit measured in the same run.
 *
 * Sections: mem (the library's physical reads and translated reads of a
 * memory file beside pread and memcpy of the same file), nbd (a chunk
 * fetched through src/subhost from a sub-host of `vmt hosts`, TLS-PSK,
 * beside plain TCP request/response of the same size on the same link and
 * the link's rate), pager (fault to resume through libvmt-pager.so per
 * chunk beside a plain 4 KB NBD read), split (split-migration time per
 * guest size beside the busiest link's bytes / link rate).
 *
 * Parts: micro_results.c (the rows, results.csv/json; pure), micro_mem.c,
 * micro_net.c (nbd and the TCP responder), pager_probe.c (the pager's
 * fault-to-resume probe, shared with bench/bench_pager.c), micro_split.c,
 * micro_plot.c, micro.c (the run: hosts, sections, clean-up).
 */
#ifndef VMT_BENCH_MICRO_H
#define VMT_BENCH_MICRO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bench/bench.h"
#include "bench/instance.h"

struct json_object;

/* ---------------------------------------------------------------- rows */

/*
 * One figure: the summary of its samples, and the row it is compared with
 * (its limit).  A row that is itself a limit has role "limit" and no limit
 * of its own; every other row ("figure") names one.  ratio = value / limit
 * (for times: how many times the limit; for rates: the fraction reached).
 */
struct micro_row {
	char section[8]; /* "mem", "nbd", "pager", "split" */
	char metric[48];
	uint64_t param; /* chunk or guest bytes; 0 none */
	char unit[12];	/* "MB/s", "us", "ns/page", "s" */
	bool is_limit;
	struct bench_summary s; /* median etc. of the samples */
	double p90;		/* of the samples */
	char limit_metric[48];	/* the limit row's metric ("" while none) */
	double limit, ratio;	/* NAN while none */
};

struct micro_results {
	struct micro_row *rows;
	size_t n, cap;
	struct json_object *meta; /* machine, knobs, per-section notes (owned) */
};

int micro_results_init(struct micro_results *r);
void micro_results_free(struct micro_results *r);
/*
 * Add a row summarizing v[0..n) (reordered).  Returns its index (>= 0) or
 * -ENOMEM.  A row with no samples is not added (-ENODATA).
 */
int micro_add(struct micro_results *r, const char *section, const char *metric, uint64_t param,
	      const char *unit, bool is_limit, double *v, size_t n);
/* The row (section, metric, param), or NULL. */
struct micro_row *micro_find(struct micro_results *r, const char *section, const char *metric,
			     uint64_t param);
/* Compare row fig with row lim: limit = lim's median, ratio = fig / limit.  -ENOENT either absent.
 */
int micro_set_limit(struct micro_results *r, int fig, int lim);
/* dir/results.csv and dir/results.json (meta + rows). */
int micro_results_write(const struct micro_results *r, const char *dir);

/* --------------------------------------------------------------- run */

enum {
	MICRO_MEM = 1u << 0,
	MICRO_NBD = 1u << 1,
	MICRO_PAGER = 1u << 2,
	MICRO_SPLIT = 1u << 3,
	MICRO_ALL = 15u,
};

#define MICRO_MAX_SIZES 4

struct bench_micro_opts {
	size_t sz;
	const char *vmt;     /* this vmt (the steps run it; the pager child too) */
	const char *prefix;  /* hosts prefix; must not exist */
	const char *subnet;  /* `vmt hosts up --subnet`, NULL its default */
	const char *link;    /* e.g. "1gbit" */
	const char *tmp;     /* a private folder for files (keys, memory files) */
	const char *shm_tag; /* /dev/shm files are /dev/shm/TAG-... */
	unsigned sections;   /* MICRO_* */
	unsigned reps;	     /* repetitions of every figure */
	unsigned samples;    /* samples per repetition of a latency */
	uint64_t mem_bytes;  /* the memory file of section mem */
	uint64_t pager_ram;  /* the pager's memory file */
	uint64_t chunks[BENCH_MAX_CHUNKS];
	unsigned nr_chunks;
	const char *sizes[MICRO_MAX_SIZES]; /* split: guest sizes, e.g. "512M" */
	unsigned nr_sizes;
	unsigned split_reps; /* split: fresh guests per size */
	void (*progress)(void *arg, unsigned done, unsigned total, const char *line);
	void *arg;
};

/*
 * The sections asked for, rows into r, notes into r->meta.  Everything it
 * made (hosts, exports, children, VMs, files) is gone when it returns, also
 * after bench_stop.  0, -EINTR (stopped) or -errno (bench_error()).
 */
int bench_micro_run(const struct bench_micro_opts *o, struct micro_results *r);

/* ------------------------------------------------------ the sections */

struct micro_ctx {
	const struct bench_micro_opts *o;
	struct micro_results *r;
	/* vmt's steps, hosts, guest instances (instance.c); its counters are the progress */
	struct bench_inst b;
	struct bench_results br; /* b's own records ("instances"), copied into r->meta */
	/* Hosts of sections nbd and pager: */
	char main_ns[64], sub_ns[64]; /* network namespaces */
	char sub_ip[32];	      /* the sub-host's address on its link */
	char nbd_addr[64];	      /* HOST:PORT of the export */
	char export_name[64];
	char psk[512];	 /* key file */
	double link_mbs; /* the link's rate by tc, MB/s (0 none) */
	uint64_t export_size;
	char split_main[32]; /* split: what the main host keeps, e.g. "256M" */
};

void micro_step(struct micro_ctx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/*
 * `vmt hosts up` of nsub sub-hosts (bench_inst_hosts_up: refuses hosts of the
 * prefix that exist), then sub1's namespace and address, the main host's
 * namespace and the link's rate as tc reports it into c.
 */
int micro_hosts_up(struct micro_ctx *c, unsigned nsub, const char *capacity);

int micro_mem_run(struct micro_ctx *c);
int micro_nbd_run(struct micro_ctx *c);
int micro_pager_run(struct micro_ctx *c);
int micro_split_run(struct micro_ctx *c);

/* Enter network namespace name (this thread); *back gets the current one to return to. */
int micro_netns_enter(const char *name, int *back);
/* Back to the namespace micro_netns_enter left (closes back). */
void micro_netns_leave(int back);

/* ---------------------------------------------------------- plots */

/* latency.png, throughput.png, split.png (those with rows) with .dat and .gp; -ENOENT no gnuplot.
 */
int micro_plot(const struct micro_results *r, const char *dir);

#endif

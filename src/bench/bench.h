/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * bench.h - `vmt bench`: the paper's experiments run end to end.
 *
 * Parts: run.c starts vmt's own subcommands as bounded child processes and
 * captures their output; stats.c reduces repetitions to a median and spread;
 * results.c holds the rows and writes results.csv and results.json;
 * machine.c describes the machine the numbers came from; plot.c drives
 * gnuplot; fig4.c is the sweep of the paper's Fig. 4.  Nothing here prints:
 * progress goes through the caller's callback, results into files.
 * Errors are negative errno values; text of the last one in bench_error().
 */
#ifndef VMT_BENCH_H
#define VMT_BENCH_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct json_object;

/* ------------------------------------------------------------ errors */

/* Record a message for the caller (printf-style); returns err. */
__attribute__((format(printf, 2, 3))) int bench_fail(int err, const char *fmt, ...);
/* The last message recorded (borrowed; "" if none). */
const char *bench_error(void);

/* ------------------------------------------------------ child processes */

/*
 * Set when the run must stop (SIGINT, SIGTERM, SIGHUP): the running child
 * gets SIGINT once (vmt split undoes on it), later steps are skipped and the
 * clean-up runs.  The CLI's signal handler sets it.
 */
extern volatile sig_atomic_t bench_stop;

struct bench_out {
	int status;	 /* exit code, or 128 + signal */
	char *out, *err; /* NUL-terminated, malloc'ed (caller frees with bench_out_free) */
	double ms;	 /* wall time of the child */
};

/*
 * Run argv[0] (a path) with argv, stdin from /dev/null, stdout and stderr
 * captured (at most 4 MiB each; the rest is read and dropped).  A child
 * still running after timeout_s gets SIGKILL (-ETIMEDOUT).  cleanup: the
 * child ignores SIGINT and bench_stop is not forwarded (clean-up steps run
 * to their end).  Returns 0 once the child was reaped (its status in o),
 * or -errno.
 */
int bench_run(char *const argv[], int timeout_s, bool cleanup, struct bench_out *o);
void bench_out_free(struct bench_out *o);

/* ----------------------------------------------------------- statistics */

struct bench_summary {
	size_t n;
	double median, min, max, q1, q3; /* quartiles by linear interpolation */
};

/* The q-quantile (0..1) of sorted v[0..n), linear between closest ranks (0 if n == 0). */
double bench_quantile(const double *v, size_t n, double q);
/* xorshift64: offsets spread over a region without libc's shared state (*x != 0). */
uint64_t bench_xorshift(uint64_t *x);
/* Room for one more element of size bytes in *v (n used, *cap held; doubling from 64). */
int bench_grow(void **v, size_t n, size_t *cap, size_t size);

/* Summarize v[0..n) (reordered in place); n == 0 gives all zeros. */
void bench_summarize(double *v, size_t n, struct bench_summary *s);

/* -------------------------------------------------------------- results */

#define BENCH_MAX_SUB 4

/* Where the VM's memory is, per page-table chunk (recomputed from the entries). */
struct bench_census {
	bool split;
	unsigned nr_sub;
	uint64_t main, absent, pinned, moving, sub[BENCH_MAX_SUB];
	/* Chunks whose location differs from right after this instance's split, and from
	 * right after the first instance's split (-1: not split). */
	int64_t moved, differs_first;
};

/* One measurement. */
#define BENCH_PAGER_NR	    15
#define BENCH_PAGER_PAGEINS 0 /* bench_pager_names[] index of "pageins" */

struct bench_row {
	char figure[4];	 /* "4a" construction, "4b" ps in the guest */
	char method[12]; /* "unsplit", "runtime" (method 1), "vm" (method 2) */
	uint64_t chunk;	 /* fetch chunk of the construction (bytes; 0 unsplit) */
	unsigned rep, instance;
	double ms;
	int64_t pages_read;	    /* guest pages the construction read; -1 n/a */
	int64_t pageins;	    /* pager page-ins during the measurement; -1 n/a */
	struct bench_census before; /* placement just before the measurement */
	/* The change of the pager's counters bench_pager_names[] during the measurement
	 * (results.json "pager"); has_pager false when not split. */
	int64_t pager[BENCH_PAGER_NR];
	bool has_pager;
};

/* The pager's counters (its STATS JSON) a row keeps: page-ins and -outs, bytes, PAGEIN
 * commands, batches and reads, and where a PAGEIN's time went. */
extern const char *const bench_pager_names[BENCH_PAGER_NR];

struct bench_results {
	struct bench_row *rows;
	size_t n, cap;
	struct json_object *meta; /* "machine", "knobs", "instances", times (owned) */
};

int bench_results_init(struct bench_results *r);
void bench_results_free(struct bench_results *r);
int bench_results_add(struct bench_results *r, const struct bench_row *row);
/* Summary of the rows matching figure, method and chunk (chunk ~0: any). */
void bench_results_summary(const struct bench_results *r, const char *figure, const char *method,
			   uint64_t chunk, struct bench_summary *s);
/* Median page-ins of the matching rows (-1 if none has any). */
double bench_results_pageins(const struct bench_results *r, const char *figure, const char *method,
			     uint64_t chunk);
/* path: meta's members and extra's (taken), pretty-printed.  0 or -EIO. */
int bench_json_write(struct json_object *meta, struct json_object *extra, const char *path);
/* dir/results.csv and dir/results.json (meta + rows + summary). */
int bench_results_write(const struct bench_results *r, const char *dir);

/* --------------------------------------------------------------- machine */

/* CPU, cores, memory, host kernel, QEMU and nbdkit versions, load, date (new object). */
struct json_object *bench_machine_json(void);

/* ----------------------------------------------------------------- plots */

/* Run gnuplot on the script gp (its output paths inside); -ENOENT no gnuplot. */
int bench_gnuplot(const char *gp);
/* dir/fig4a.png and dir/fig4b.png (with their .dat and .gp) from the rows; -ENOENT no gnuplot. */
int bench_plot_fig4(const struct bench_results *r, const char *dir, const uint64_t *chunks,
		    unsigned nr_chunks);

/* ---------------------------------------------------------------- fig. 4 */

#define BENCH_MAX_CHUNKS 12

struct bench_fig4_opts {
	size_t sz;
	const char *vmt;      /* path of the vmt executable the steps run */
	const char *prefix;   /* hosts prefix; VMs are PREFIX-f4-N */
	const char *subnet;   /* `vmt hosts up --subnet`, NULL: its default */
	const char *mem;      /* guest RAM, e.g. "2G" */
	const char *main_mem; /* kept on the main host, e.g. "1G" */
	const char *link;     /* link rate, e.g. "1gbit" */
	const char *pt_chunk; /* the split's page-table chunk (the pager's unit) */
	const char *policy;   /* placement policy (address: deterministic) */
	unsigned subhosts, procs, reps;
	bool kaslr; /* boot with KASLR (off: the same physical layout in every instance) */
	unsigned fill_reserve_mib; /* the filler leaves MemAvailable minus this; 0 no fill */
	uint64_t chunks[BENCH_MAX_CHUNKS];
	unsigned nr_chunks;
	/* Progress: a line per step (no newline); may be NULL. */
	void (*progress)(void *arg, unsigned done, unsigned total, const char *line);
	void *arg;
};

/*
 * The sweep (see README.md): hosts up, then fresh VM instances, each booted,
 * filled and split the same way, so every point starts from the same
 * placement.  Rows into r (meta: knobs, instances, guest kernel).  Every
 * VM and the hosts it made are gone when it returns, also after bench_stop.
 * Returns 0, -EINTR (stopped) or -errno (bench_error() says what failed).
 */
int bench_fig4_run(const struct bench_fig4_opts *o, struct bench_results *r);

#endif

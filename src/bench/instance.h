/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * instance.h - one guest instance's life in a bench, shared by the
 * sections (fig4.c, scale.c, micro*.c): vmt's own subcommands run as
 * bounded children with a progress line, the hosts made and taken down,
 * a guest booted, filled and split the same way every time, the pager let
 * settle, the page table's census, one shadow /proc construction, `ps`
 * inside the guest, the pager's counters.
 *
 * Contract for a section (what fig4, scale and micro may call):
 * - fill the configuration fields of a struct bench_inst (zeroed first),
 *   call bench_inst_init(), then bench_inst_hosts_up() once;
 * - per instance: set mem/main_mem/procs (they may change between
 *   instances), bench_inst_start() (boot + fill), bench_inst_split(),
 *   measure (bench_inst_build, bench_inst_guest_ps, bench_inst_census,
 *   bench_inst_pager_count), bench_inst_stop(), instance++;
 * - at the end, on every path: bench_inst_finish() (stops the VM if one
 *   is up, takes down the hosts it made, frees).
 * The steps return 0, -EINTR once bench_stop is set, or -errno with
 * bench_error() saying what failed.  bench_inst_stop() and
 * bench_inst_finish() are clean-up steps: they run to their end even after
 * Ctrl-C.  Nothing here prints; progress goes through the callback.
 */
#ifndef VMT_BENCH_INSTANCE_H
#define VMT_BENCH_INSTANCE_H

#include <stdbool.h>
#include <stdint.h>

#include "bench/bench.h"

struct json_object;

#define BENCH_T_START 300 /* seconds a step may take */
#define BENCH_T_FILL  1800
#define BENCH_T_SPLIT 900
#define BENCH_T_READ  300

struct bench_inst {
	/* ---- configuration, set by the section before bench_inst_init() */
	const char *vmt;	   /* path of the vmt executable the steps run */
	const char *prefix;	   /* hosts prefix */
	const char *tag;	   /* VMs are PREFIX-TAG-N (fig4: "f4") */
	const char *subnet;	   /* `vmt hosts up --subnet`, NULL: its default */
	const char *link;	   /* link rate of every sub-host ("none": bare veth) */
	const char *capacity;	   /* each sub-host's store (`--capacity`), NULL: mem */
	const char *pt_chunk;	   /* the split's page-table chunk (the pager's unit) */
	const char *policy;	   /* placement policy (address: deterministic) */
	unsigned subhosts;	   /* sub-hosts made by bench_inst_hosts_up() */
	bool kaslr;		   /* boot with KASLR (off: the same physical layout every time) */
	unsigned fill_reserve_mib; /* the filler leaves MemAvailable minus this; 0 no fill */
	/* per instance, may change between instances */
	const char *mem;	 /* guest RAM, e.g. "2G" */
	const char *main_mem;	 /* kept on the main host by the split, e.g. "1G" */
	unsigned procs;		 /* guest workload processes */
	struct bench_results *r; /* meta gets "instances" and "guest_kernel" */
	/* Progress: a line per step (no newline); may be NULL. */
	void (*progress)(void *arg, unsigned done, unsigned total, const char *line);
	void *arg;
	unsigned done, total; /* the section counts its points */

	/* ---- state (read-only for the section, except instance) */
	unsigned instance;	 /* number of the current instance (the section increments) */
	char vm[96];		 /* its VM name */
	bool vm_up, hosts_made;	 /* what bench_inst_finish() must undo */
	double boot_ms, fill_ms; /* the current instance's boot and fill (wall) */
	double split_ms;	 /* its `vmt split` (wall; the split's own times in "split") */
	struct json_object *instances;	/* borrowed from r->meta */
	struct json_object *cur;	/* this instance's entry in "instances" */
	uint8_t *loc_split, *loc_first; /* every chunk's location after the split (this, first) */
	uint64_t nr_loc, nr_first;	/* their lengths (chunks) */
};

/* Adds "instances" to b->r->meta; 0 or -ENOMEM. */
int bench_inst_init(struct bench_inst *b);
/* Stop the VM if up, take down the hosts if bench_inst_hosts_up() made them, free. */
void bench_inst_finish(struct bench_inst *b);

/* "[done/total] line" through the progress callback (printf-style). */
__attribute__((format(printf, 2, 3))) void bench_inst_progress(struct bench_inst *b,
							       const char *fmt, ...);

/*
 * Run `vmt ARGS...` (NULL-terminated, at most 38); 0 only if it exited 0
 * (else -EIO with its stderr's tail in bench_error(), -EINTR after a stop).
 * keep: its output (caller frees with bench_out_free), else freed.
 */
int bench_inst_vmt(struct bench_inst *b, int timeout_s, bool cleanup, struct bench_out *keep, ...);

/* `vmt hosts up`: the prefix's main host and b->subhosts sub-hosts behind b->link;
 * -EEXIST (nothing touched) if hosts of the prefix exist already. */
int bench_inst_hosts_up(struct bench_inst *b);
/* `vmt hosts down` of the hosts bench_inst_hosts_up() made (a clean-up step). */
void bench_inst_hosts_down(struct bench_inst *b);

/* Boot PREFIX-TAG-instance (b->mem, b->procs), wait for its workload, fill it. */
int bench_inst_start(struct bench_inst *b);
/* `vmt vm stop` of the current VM if up (a clean-up step). */
void bench_inst_stop(struct bench_inst *b);

/* Split onto sub1..sub<nsub> (0: all of b->subhosts) keeping b->main_mem, wait for the
 * pager to settle, and remember the placement as this instance's reference. */
int bench_inst_split(struct bench_inst *b, unsigned nsub);

/* Where the VM's memory is now (not split: c->split false). after_split: remember it. */
int bench_inst_census(struct bench_inst *b, struct bench_census *c, bool after_split);
/* The pager's counter (its STATS JSON) so far; -1 when not split or it does not answer. */
int64_t bench_inst_pager_count(struct bench_inst *b, const char *name);
/* All of bench_pager_names[] from one STATS; -ENOENT when not split or it does not answer. */
int bench_inst_pager_counts(struct bench_inst *b, int64_t v[BENCH_PAGER_NR]);

/* One construction `vmt procfs --build-only --stats` ("unsplit", or --fetch method at
 * chunk): its own time and the guest pages it read. */
int bench_inst_build(struct bench_inst *b, const char *method, uint64_t chunk, double *ms,
		     int64_t *pages);
/* The same, also the building thread's CPU time (less sensitive to a loaded machine). */
int bench_inst_build_cpu(struct bench_inst *b, const char *method, uint64_t chunk, double *ms,
			 double *cpu_ms, int64_t *pages);
/* busybox ps in the guest, timed by the agent inside the guest. */
int bench_inst_guest_ps(struct bench_inst *b, double *ms);

/* "4K", "2M" ("-" for 0) into buf. */
const char *bench_chunk_name(uint64_t c, char *buf, size_t n);

#endif

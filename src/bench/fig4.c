// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * fig4.c - the sweep of the paper's Fig. 4: shadow /proc construction time
 * vs chunk size for method 1 (runtime fetch), method 2 (VM remote paging)
 * and the unsplit VM (a), and `ps` inside the guest right after each
 * construction (b).
 *
 * Comparable points need the same placement before each one.  Method 1
 * only reads, so its points share one split; method 2 and the guest's own
 * `ps` bring chunks home, and there is no way back from a split, so each
 * of those points gets a fresh instance: the same guest booted, filled
 * and split the same way (policy address: deterministic).  The page
 * table's census before every point is recorded as the proof.
 *
 * The control for (b): each repetition also splits one instance keeping
 * all of its memory on the main host, and times the guest's first `ps`
 * there ("local").  After any split the guest runs in a new QEMU whose
 * TCG translation cache starts empty, which costs the first `ps` several
 * times the warm unsplit VM's time with nothing remote at all; `ps` after
 * method 2 is set beside both.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "bench/bench.h"
#include "bench/instance.h"

struct fig4 {
	const struct bench_fig4_opts *o;
	struct bench_inst b;
};

/* w->pager: the change of the pager's counters from p0 to p1, when both were read. */
static void pager_delta(struct bench_row *w, const int64_t *p0, int err0, const int64_t *p1,
			int err1)
{
	w->has_pager = !err0 && !err1;
	for (unsigned i = 0; w->has_pager && i < BENCH_PAGER_NR; i++)
		w->pager[i] = p1[i] - p0[i];
	w->pageins =
	    w->has_pager && w->pager[BENCH_PAGER_PAGEINS] >= 0 ? w->pager[BENCH_PAGER_PAGEINS] : -1;
}

/* One point: census and the pager's counters around a construction ("4a") or a ps ("4b"). */
static int point(struct fig4 *f, const char *figure, const char *method, uint64_t chunk,
		 unsigned rep)
{
	struct bench_inst *b = &f->b;
	struct bench_row w = {
	    .chunk = chunk, .rep = rep, .instance = b->instance, .pages_read = -1};
	int64_t p0[BENCH_PAGER_NR], p1[BENCH_PAGER_NR];
	char cn[24];
	int err, e0, e1;

	snprintf(w.figure, sizeof(w.figure), "%s", figure);
	snprintf(w.method, sizeof(w.method), "%s", method);
	err = bench_inst_census(b, &w.before, false);
	if (err)
		return err;
	e0 = bench_inst_pager_counts(b, p0);
	if (!strcmp(figure, "4a"))
		err = bench_inst_build(b, method, chunk, &w.ms, &w.pages_read);
	else
		err = bench_inst_guest_ps(b, &w.ms);
	if (err)
		return err;
	e1 = bench_inst_pager_counts(b, p1);
	pager_delta(&w, p0, e0, p1, e1);
	b->done++;
	bench_inst_progress(b, "instance %u: %s %-7s %4s rep %u: %.1f ms%s", b->instance,
			    figure[1] == 'a' ? "build" : "ps   ", method,
			    bench_chunk_name(chunk, cn, sizeof(cn)), rep + 1, w.ms,
			    w.before.split ? "" : " (unsplit)");
	return bench_results_add(b->r, &w);
}

/* ------------------------------------------------------------ instances */

/* A discarded method-1 build: one-time costs (connections, caches) out of the first point. */
static int warm(struct fig4 *f, const char *method)
{
	double ms;
	int64_t pages;

	return bench_inst_build(&f->b, method, 65536, &ms, &pages);
}

/* The first instance also measures the unsplit VM, before its split. */
static int instance_unsplit(struct fig4 *f)
{
	int err = warm(f, "unsplit");

	for (unsigned rep = 0; !err && rep < f->o->reps; rep++) {
		err = point(f, "4a", "unsplit", 0, rep);
		if (!err)
			err = point(f, "4b", "unsplit", 0, rep);
	}
	return err;
}

/* Method 1 at every chunk (it moves nothing), then ps in the guest. */
static int instance_runtime(struct fig4 *f, unsigned rep)
{
	int err = bench_inst_split(&f->b, 0);

	if (!err)
		err = warm(f, "runtime");
	for (unsigned c = 0; !err && c < f->o->nr_chunks; c++)
		err = point(f, "4a", "runtime", f->o->chunks[c], rep);
	if (!err)
		err = point(f, "4b", "runtime", f->o->chunks[f->o->nr_chunks - 1], rep);
	return err;
}

/* Method 2 at one chunk, then ps in the guest. */
static int instance_vm(struct fig4 *f, uint64_t chunk, unsigned rep)
{
	int err = bench_inst_split(&f->b, 0);

	if (!err)
		err = warm(f, "runtime"); /* same conditions as method 1's points */
	if (!err)
		err = point(f, "4a", "vm", chunk, rep);
	if (!err)
		err = point(f, "4b", "vm", chunk, rep);
	return err;
}

/* (b)'s control: a split that keeps everything on the main host, then ps in the guest. */
static int instance_local(struct fig4 *f, unsigned rep)
{
	const char *main_mem = f->b.main_mem;
	int err;

	f->b.main_mem = f->o->mem; /* the whole guest: nothing to page in */
	err = bench_inst_split(&f->b, 1);
	f->b.main_mem = main_mem;
	if (!err)
		err = point(f, "4b", "local", 0, rep);
	return err;
}

/* ---------------------------------------------------------------- sweep */

/* Instances in the order: per repetition, one for method 1, one per chunk for method 2, then
 * (b)'s control. */
static int sweep(struct fig4 *f)
{
	struct bench_inst *b = &f->b;
	int err = 0;

	for (unsigned rep = 0; !err && rep < f->o->reps; rep++) {
		err = bench_inst_start(b);
		if (!err && rep == 0)
			err = instance_unsplit(f);
		if (!err)
			err = instance_runtime(f, rep);
		bench_inst_stop(b);
		b->instance++;
		for (unsigned c = 0; !err && c < f->o->nr_chunks; c++) {
			err = bench_inst_start(b);
			if (!err)
				err = instance_vm(f, f->o->chunks[c], rep);
			bench_inst_stop(b);
			b->instance++;
		}
		if (!err)
			err = bench_inst_start(b);
		if (!err)
			err = instance_local(f, rep);
		bench_inst_stop(b);
		b->instance++;
	}
	return err;
}

int bench_fig4_run(const struct bench_fig4_opts *o, struct bench_results *r)
{
	struct fig4 f = {
	    .o = o,
	    .b = {.vmt = o->vmt,
		  .prefix = o->prefix,
		  .tag = "f4",
		  .subnet = o->subnet,
		  .link = o->link,
		  .pt_chunk = o->pt_chunk,
		  .policy = o->policy,
		  .subhosts = o->subhosts,
		  .kaslr = o->kaslr,
		  .fill_reserve_mib = o->fill_reserve_mib,
		  .mem = o->mem,
		  .main_mem = o->main_mem,
		  .procs = o->procs,
		  .r = r,
		  .progress = o->progress,
		  .arg = o->arg},
	};
	int err;

	if (!o->reps || !o->nr_chunks || o->nr_chunks > BENCH_MAX_CHUNKS || !o->subhosts ||
	    o->subhosts > BENCH_MAX_SUB)
		return bench_fail(-EINVAL, "bad sweep: reps, chunks and 1..%d sub-hosts needed",
				  BENCH_MAX_SUB);
	f.b.total =
	    o->reps * 2 + o->reps * (o->nr_chunks + 1) + o->reps * o->nr_chunks * 2 + o->reps;
	err = bench_inst_init(&f.b);
	if (!err)
		err = bench_inst_hosts_up(&f.b);
	if (!err)
		err = sweep(&f);
	bench_inst_finish(&f.b);
	if (bench_stop)
		return bench_fail(-EINTR, "interrupted; everything it started is stopped");
	return err;
}

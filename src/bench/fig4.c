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
 */
#include <errno.h>
#include <json-c/json.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench/bench.h"
#include "pagetable/pagetable.h"
#include "split/split.h"
#include "vmctl/vm.h"

#define T_START 300 /* seconds a step may take */
#define T_FILL	900
#define T_SPLIT 900
#define T_READ	300

struct fig4 {
	const struct bench_fig4_opts *o;
	struct bench_results *r;
	unsigned done, total, instance;
	char vm[96];
	bool vm_up;
	struct json_object *instances;	/* borrowed from r->meta */
	struct json_object *cur;	/* this instance's entry */
	uint8_t *loc_split, *loc_first; /* every chunk's location after the split (this, first) */
	uint64_t nr_loc;
};

static void progress(struct fig4 *f, const char *fmt, ...)
{
	char line[256];
	va_list ap;

	if (!f->o->progress)
		return;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	f->o->progress(f->o->arg, f->done, f->total, line);
}

/* Run `vmt ARGS...` (NULL-terminated); 0 only if it exited 0. out is freed unless kept. */
static int vmt(struct fig4 *f, int timeout_s, bool cleanup, struct bench_out *keep, ...)
{
	char *argv[40];
	struct bench_out out;
	unsigned n = 0;
	va_list ap;
	int err;

	argv[n++] = (char *)f->o->vmt;
	va_start(ap, keep);
	while (n < 39 && (argv[n] = va_arg(ap, char *)))
		n++;
	va_end(ap);
	argv[n] = NULL;
	err = bench_run(argv, timeout_s, cleanup, &out);
	if (!err && out.status) {
		size_t l = strlen(out.err);

		err = bench_fail(bench_stop ? -EINTR : -EIO, "vmt %s %s: exit %d: %s", argv[1],
				 argv[2] ? argv[2] : "", out.status,
				 l > 300 ? out.err + l - 300 : out.err);
	}
	if (!err && keep)
		*keep = out;
	else
		bench_out_free(&out);
	return err ? err : (bench_stop ? -EINTR : 0);
}

/* --------------------------------------------------- where the memory is */

/* Chunks of pt whose location differs from ref[]; with keep, ref[] is filled instead. */
static int64_t census_compare(const struct vmt_pt *pt, uint8_t **ref, uint64_t *nr, bool keep)
{
	uint64_t n = pt->hdr->nr_chunks;
	int64_t diff = 0;

	if (keep && !*ref) {
		*ref = malloc(n);
		*nr = n;
	}
	if (!*ref || *nr != n)
		return -1;
	for (uint64_t i = 0; i < n; i++) {
		uint8_t loc = (uint8_t)vmt_pt_e_loc(vmt_pt_load(pt, i));

		if (keep)
			(*ref)[i] = loc;
		else
			diff += (*ref)[i] != loc;
	}
	return keep ? 0 : diff;
}

/* Where the VM's memory is now; after_split: remember it as this instance's reference. */
static int census(struct fig4 *f, struct bench_census *c, bool after_split)
{
	struct vmt_pt_census pc;
	struct vmt_vm_desc d;
	struct vmt_pt pt = {.fd = -1};
	uint64_t nr_first = f->nr_loc;
	int err;

	memset(c, 0, sizeof(*c));
	c->moved = c->differs_first = -1;
	err = vmt_vm_load(f->vm, &d);
	if (err)
		return bench_fail(err, "VM %s: %s", f->vm, strerror(-err));
	if (d.split.gen <= 0)
		return 0;
	err = vmt_pt_open(d.split.pagetable, false, &pt);
	if (err)
		return bench_fail(err, "page table %s: %s", d.split.pagetable, strerror(-err));
	vmt_pt_census(&pt, &pc);
	c->split = true;
	c->nr_sub = d.split.nr_hosts < BENCH_MAX_SUB ? d.split.nr_hosts : BENCH_MAX_SUB;
	c->main = pc.main;
	c->absent = pc.absent;
	c->pinned = pc.pinned;
	c->moving = pc.moving;
	for (unsigned k = 0; k < c->nr_sub; k++)
		c->sub[k] = pc.sub[k];
	if (after_split) {
		free(f->loc_split);
		f->loc_split = NULL;
		census_compare(&pt, &f->loc_split, &f->nr_loc, true);
		if (!f->loc_first)
			census_compare(&pt, &f->loc_first, &nr_first, true);
	}
	c->moved = census_compare(&pt, &f->loc_split, &f->nr_loc, false);
	c->differs_first = census_compare(&pt, &f->loc_first, &nr_first, false);
	vmt_pt_close(&pt);
	return 0;
}

/* The pager's counter name so far; -1 when the VM is not split or the pager does not answer. */
static int64_t pager_count(struct fig4 *f, const char *name)
{
	struct json_object *o, *v;
	struct vmt_vm_desc d;
	char *text = NULL;
	int64_t n = -1;

	if (vmt_vm_load(f->vm, &d) || d.split.gen <= 0 ||
	    vmt_split_pager_stats(d.split.pager_sock, 2000, &text))
		return -1;
	o = json_tokener_parse(text);
	if (o && json_object_object_get_ex(o, name, &v))
		n = json_object_get_int64(v);
	json_object_put(o);
	free(text);
	return n;
}

static int64_t pageins(struct fig4 *f)
{
	return pager_count(f, "pageins");
}

/*
 * After a split the pager pages out down to its low watermark under the cap
 * and the guest faults in its working set, for seconds: wait until neither
 * page-ins nor page-outs move for SETTLE_QUIET polls (at most SETTLE_MAX),
 * so that the first point does not start from a placement still moving.
 */
#define SETTLE_QUIET 3
#define SETTLE_MAX   120

static int settle(struct fig4 *f)
{
	int64_t last = -2;
	unsigned quiet = 0, s;

	for (s = 0; s < SETTLE_MAX && quiet < SETTLE_QUIET && !bench_stop; s++) {
		int64_t now = pageins(f) + pager_count(f, "pageouts");

		quiet = now == last ? quiet + 1 : 0;
		last = now;
		sleep(1);
	}
	json_object_object_add(f->cur, "settle_s", json_object_new_int((int)s));
	json_object_object_add(f->cur, "settled", json_object_new_boolean(quiet >= SETTLE_QUIET));
	return bench_stop ? -EINTR : 0;
}

/* --------------------------------------------------------- measurements */

/* One construction: `vmt procfs --build-only --stats`, its own time and pages. */
static int build(struct fig4 *f, const char *method, uint64_t chunk, double *ms, int64_t *pages)
{
	char cs[32];
	struct bench_out out;
	const char *s;
	unsigned long long pg = 0;
	int err;

	snprintf(cs, sizeof(cs), "%llu", (unsigned long long)chunk);
	if (!strcmp(method, "unsplit"))
		err = vmt(f, T_READ, false, &out, "procfs", "--vm", f->vm, "--build-only",
			  "--stats", NULL);
	else
		err = vmt(f, T_READ, false, &out, "procfs", "--vm", f->vm, "--build-only",
			  "--stats", "--fetch", method, "--chunk", cs, NULL);
	if (err)
		return err;
	s = strstr(out.err, "stats: procfs snapshot: ");
	if (!s ||
	    sscanf(s, "stats: procfs snapshot: %lf ms (cpu %*f ms), pages read %llu", ms, &pg) != 2)
		err = bench_fail(-EPROTO, "vmt procfs --stats said: %.300s", out.err);
	*pages = (int64_t)pg;
	bench_out_free(&out);
	return err;
}

/* busybox ps in the guest, timed by the agent inside the guest. */
static int guest_ps(struct fig4 *f, double *ms)
{
	struct json_object *o, *code, *dur;
	struct bench_out out;
	int err;

	err = vmt(f, T_READ, false, &out, "vm", "exec", f->vm, "--json", "--timeout", "240", "--",
		  "ps >/dev/null", NULL);
	if (err)
		return err;
	o = json_tokener_parse(out.out);
	if (!o || !json_object_object_get_ex(o, "exit_code", &code) ||
	    !json_object_object_get_ex(o, "duration_ns", &dur) || json_object_get_int(code))
		err = bench_fail(-EPROTO, "ps in the guest: %.300s", out.out);
	else
		*ms = (double)json_object_get_int64(dur) / 1e6;
	json_object_put(o);
	bench_out_free(&out);
	return err;
}

static const char *chunk_name(uint64_t c, char *buf, size_t n)
{
	if (!c)
		snprintf(buf, n, "-");
	else if (c >= (1u << 20) && !(c & ((1u << 20) - 1)))
		snprintf(buf, n, "%lluM", (unsigned long long)(c >> 20));
	else
		snprintf(buf, n, "%lluK", (unsigned long long)(c >> 10));
	return buf;
}

/* One point: census and page-ins around a construction ("4a") or a ps ("4b"). */
static int point(struct fig4 *f, const char *figure, const char *method, uint64_t chunk,
		 unsigned rep)
{
	struct bench_row w = {
	    .chunk = chunk, .rep = rep, .instance = f->instance, .pages_read = -1};
	int64_t p0, p1;
	char cn[24];
	int err;

	snprintf(w.figure, sizeof(w.figure), "%s", figure);
	snprintf(w.method, sizeof(w.method), "%s", method);
	err = census(f, &w.before, false);
	if (err)
		return err;
	p0 = pageins(f);
	if (!strcmp(figure, "4a"))
		err = build(f, method, chunk, &w.ms, &w.pages_read);
	else
		err = guest_ps(f, &w.ms);
	if (err)
		return err;
	p1 = pageins(f);
	w.pageins = p0 >= 0 && p1 >= p0 ? p1 - p0 : -1;
	f->done++;
	progress(f, "instance %u: %s %-7s %4s rep %u: %.1f ms%s", f->instance,
		 figure[1] == 'a' ? "build" : "ps   ", method, chunk_name(chunk, cn, sizeof(cn)),
		 rep + 1, w.ms, w.before.split ? "" : " (unsplit)");
	return bench_results_add(f->r, &w);
}

/* ------------------------------------------------------------ instances */

/* Wait for the workload, then fill MemAvailable minus the reserve with held, non-zero data. */
static int fill(struct fig4 *f)
{
	char script[1024], rel[128] = "";
	struct bench_out out;
	int err, mb = 0;

	snprintf(script, sizeof(script),
		 "i=0; while [ ! -e /run/vmt-workload.ready ] && [ $i -lt 1500 ]; do sleep 0.2; "
		 "i=$((i+1)); done; test -e /run/vmt-workload.ready || exit 3; mb=0; "
		 "if [ %u -gt 0 ]; then "
		 "mb=$(awk '/MemAvailable/ {print int($2/1024) - %u}' /proc/meminfo); "
		 "[ $mb -gt 16 ] || mb=16; "
		 "vmt-memcheck --daemon --state /run/vmt-fill.json --size ${mb}M --passes 1 --hold "
		 "--seconds 86400 >/dev/null || exit 4; i=0; "
		 "while ! grep -q '\"phase\": \"hold\"' /run/vmt-fill.json && [ $i -lt 3000 ]; do "
		 "sleep 0.2; i=$((i+1)); done; grep -q '\"phase\": \"hold\"' /run/vmt-fill.json "
		 "|| exit 5; fi; echo $mb $(uname -r)",
		 f->o->fill_reserve_mib, f->o->fill_reserve_mib);
	err = vmt(f, T_FILL, false, &out, "vm", "exec", f->vm, "--timeout", "800", "--", script,
		  NULL);
	if (err)
		return err;
	if (sscanf(out.out, "%d %127s", &mb, rel) == 2) {
		json_object_object_add(f->cur, "filled_mib", json_object_new_int(mb));
		json_object_object_add(f->r->meta, "guest_kernel", json_object_new_string(rel));
	} else {
		err = bench_fail(-EPROTO, "filling the guest: %.300s", out.out);
	}
	bench_out_free(&out);
	return err;
}

static int instance_start(struct fig4 *f)
{
	char procs[16];
	int err;

	snprintf(f->vm, sizeof(f->vm), "%s-f4-%u", f->o->prefix, f->instance);
	snprintf(procs, sizeof(procs), "%u", f->o->procs);
	f->cur = json_object_new_object();
	json_object_object_add(f->cur, "instance", json_object_new_int((int)f->instance));
	json_object_object_add(f->cur, "vm", json_object_new_string(f->vm));
	json_object_array_add(f->instances, f->cur);
	progress(f, "instance %u: booting %s (%s, %u processes) and filling it", f->instance, f->vm,
		 f->o->mem, f->o->procs);
	f->vm_up = true; /* from here on, stop it whatever happens */
	/* Without KASLR the kernel and its first allocations sit at the same physical
	 * addresses in every instance, so the same policy gives the same placement. */
	err = vmt(f, T_START, false, NULL, "vm", "start", f->vm, "--mem", f->o->mem, "--procs",
		  procs, "--timeout", "240", f->o->kaslr ? NULL : "--no-kaslr", NULL);
	return err ? err : fill(f);
}

static void instance_stop(struct fig4 *f)
{
	if (!f->vm_up)
		return;
	vmt(f, 120, true, NULL, "vm", "stop", f->vm, NULL);
	f->vm_up = false;
}

/* The split, with its summary (placement by host, time) kept in the instance. */
static int split(struct fig4 *f)
{
	char subs[64] = "";
	struct bench_census c;
	struct bench_out out;
	struct json_object *j;
	int err;

	for (unsigned k = 1; k <= f->o->subhosts; k++)
		snprintf(subs + strlen(subs), sizeof(subs) - strlen(subs), "%ssub%u",
			 k > 1 ? "," : "", k);
	progress(f, "instance %u: splitting %s: main %s, the rest on %s", f->instance, f->vm,
		 f->o->main_mem, subs);
	err = vmt(f, T_SPLIT, false, &out, "split", f->vm, "--main-mem", f->o->main_mem,
		  "--subhosts", subs, "--hosts-prefix", f->o->prefix, "--policy", f->o->policy,
		  "--chunk", f->o->pt_chunk, "--json", NULL);
	if (err)
		return err;
	j = json_tokener_parse(out.out);
	if (j)
		json_object_object_add(f->cur, "split", j);
	bench_out_free(&out);
	progress(f, "instance %u: waiting for the pager to settle", f->instance);
	err = settle(f);
	return err ? err : census(f, &c, true);
}

/* A discarded method-1 build: one-time costs (connections, caches) out of the first point. */
static int warm(struct fig4 *f, const char *method)
{
	double ms;
	int64_t pages;

	return build(f, method, 65536, &ms, &pages);
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
	int err = split(f);

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
	int err = split(f);

	if (!err)
		err = warm(f, "runtime"); /* same conditions as method 1's points */
	if (!err)
		err = point(f, "4a", "vm", chunk, rep);
	if (!err)
		err = point(f, "4b", "vm", chunk, rep);
	return err;
}

/* ---------------------------------------------------------------- sweep */

static int hosts_up(struct fig4 *f)
{
	char n[16], cap[32];
	int err;

	/* Hosts of this prefix that exist already are someone's: never take them down. */
	if (!vmt(f, 60, true, NULL, "hosts", "show", "--prefix", f->o->prefix, NULL))
		return bench_fail(-EEXIST, "hosts of prefix '%s' exist already; pick --prefix",
				  f->o->prefix);
	snprintf(n, sizeof(n), "%u", f->o->subhosts);
	snprintf(cap, sizeof(cap), "%s", f->o->mem); /* room for all of the guest's memory */
	progress(f, "hosts up: prefix %s, %u sub-host(s), link %s", f->o->prefix, f->o->subhosts,
		 f->o->link);
	if (f->o->subnet)
		err =
		    vmt(f, 120, false, NULL, "hosts", "up", "--prefix", f->o->prefix, "--subhosts",
			n, "--link", f->o->link, "--capacity", cap, "--subnet", f->o->subnet, NULL);
	else
		err = vmt(f, 120, false, NULL, "hosts", "up", "--prefix", f->o->prefix,
			  "--subhosts", n, "--link", f->o->link, "--capacity", cap, NULL);
	return err;
}

/* Instances in the order: per repetition, one for method 1, then one per chunk for method 2. */
static int sweep(struct fig4 *f)
{
	int err = 0;

	for (unsigned rep = 0; !err && rep < f->o->reps; rep++) {
		err = instance_start(f);
		if (!err && rep == 0)
			err = instance_unsplit(f);
		if (!err)
			err = instance_runtime(f, rep);
		instance_stop(f);
		f->instance++;
		for (unsigned c = 0; !err && c < f->o->nr_chunks; c++) {
			err = instance_start(f);
			if (!err)
				err = instance_vm(f, f->o->chunks[c], rep);
			instance_stop(f);
			f->instance++;
		}
	}
	return err;
}

int bench_fig4_run(const struct bench_fig4_opts *o, struct bench_results *r)
{
	struct fig4 f = {.o = o, .r = r};
	int err, hosts_err;

	if (!o->reps || !o->nr_chunks || o->nr_chunks > BENCH_MAX_CHUNKS || !o->subhosts ||
	    o->subhosts > BENCH_MAX_SUB)
		return bench_fail(-EINVAL, "bad sweep: reps, chunks and 1..%d sub-hosts needed",
				  BENCH_MAX_SUB);
	f.total = o->reps * 2 + o->reps * (o->nr_chunks + 1) + o->reps * o->nr_chunks * 2;
	f.instances = json_object_new_array();
	json_object_object_add(r->meta, "instances", f.instances);
	hosts_err = err = hosts_up(&f);
	if (!err)
		err = sweep(&f);
	instance_stop(&f);
	if (hosts_err != -EEXIST) {
		progress(&f, "hosts down: prefix %s", o->prefix);
		vmt(&f, 120, true, NULL, "hosts", "down", "--prefix", o->prefix, NULL);
	}
	free(f.loc_split);
	free(f.loc_first);
	if (bench_stop)
		return bench_fail(-EINTR, "interrupted; everything it started is stopped");
	return err;
}

// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * instance.c - one guest instance's life in a bench (see instance.h): the
 * steps are the commands a user types, run from vmt itself as bounded
 * children, so a bench measures exactly what they do; the page table and
 * the pager's statistics are read directly.
 */
#include <errno.h>
#include <json-c/json.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench/instance.h"
#include "pagetable/pagetable.h"
#include "split/split.h"
#include "vmctl/vm.h"

void bench_inst_progress(struct bench_inst *b, const char *fmt, ...)
{
	char line[256];
	va_list ap;

	if (!b->progress)
		return;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	b->progress(b->arg, b->done, b->total, line);
}

/* The argv of `vmt ARGS...` from a va_list into argv[0..39]. */
static void vmt_argv(struct bench_inst *b, char **argv, va_list ap)
{
	unsigned n = 0;

	argv[n++] = (char *)b->vmt;
	while (n < 39 && (argv[n] = va_arg(ap, char *)))
		n++;
	argv[n] = NULL;
}

int bench_inst_vmt(struct bench_inst *b, int timeout_s, bool cleanup, struct bench_out *keep, ...)
{
	char *argv[40];
	struct bench_out out;
	va_list ap;
	int err;

	va_start(ap, keep);
	vmt_argv(b, argv, ap);
	va_end(ap);
	err = bench_run(argv, timeout_s, cleanup, &out);
	if (!err && out.status && cleanup) {
		err = -EIO; /* the error that made the run clean up stays the one reported */
	} else if (!err && out.status) {
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

static void census_fill(struct bench_census *c, const struct vmt_vm_desc *d,
			const struct vmt_pt_census *pc)
{
	c->split = true;
	c->nr_sub = d->split.nr_hosts < BENCH_MAX_SUB ? d->split.nr_hosts : BENCH_MAX_SUB;
	c->main = pc->main;
	c->absent = pc->absent;
	c->pinned = pc->pinned;
	c->moving = pc->moving;
	for (unsigned k = 0; k < c->nr_sub; k++)
		c->sub[k] = pc->sub[k];
}

int bench_inst_census(struct bench_inst *b, struct bench_census *c, bool after_split)
{
	struct vmt_pt_census pc;
	struct vmt_vm_desc d;
	struct vmt_pt pt = {.fd = -1};
	int err;

	memset(c, 0, sizeof(*c));
	c->moved = c->differs_first = -1;
	err = vmt_vm_load(b->vm, &d);
	if (err)
		return bench_fail(err, "VM %s: %s", b->vm, strerror(-err));
	if (d.split.gen <= 0)
		return 0;
	err = vmt_pt_open(d.split.pagetable, false, &pt);
	if (err)
		return bench_fail(err, "page table %s: %s", d.split.pagetable, strerror(-err));
	vmt_pt_census(&pt, &pc);
	census_fill(c, &d, &pc);
	if (after_split) {
		free(b->loc_split);
		b->loc_split = NULL;
		census_compare(&pt, &b->loc_split, &b->nr_loc, true);
		if (!b->loc_first)
			census_compare(&pt, &b->loc_first, &b->nr_first, true);
	}
	c->moved = census_compare(&pt, &b->loc_split, &b->nr_loc, false);
	/* -1 when this guest's size differs from the first one's (scale's axes) */
	c->differs_first = census_compare(&pt, &b->loc_first, &b->nr_first, false);
	vmt_pt_close(&pt);
	return 0;
}

/* The pager's STATS JSON, parsed (caller puts it); NULL when not split or it does not answer. */
static struct json_object *pager_stats(struct bench_inst *b)
{
	struct json_object *o;
	struct vmt_vm_desc d;
	char *text = NULL;

	if (vmt_vm_load(b->vm, &d) || d.split.gen <= 0 ||
	    vmt_split_pager_stats(d.split.pager_sock, 2000, &text))
		return NULL;
	o = json_tokener_parse(text);
	free(text);
	return o;
}

int64_t bench_inst_pager_count(struct bench_inst *b, const char *name)
{
	struct json_object *o = pager_stats(b), *v;
	int64_t n = -1;

	if (o && json_object_object_get_ex(o, name, &v))
		n = json_object_get_int64(v);
	json_object_put(o);
	return n;
}

int bench_inst_pager_counts(struct bench_inst *b, int64_t v[BENCH_PAGER_NR])
{
	struct json_object *o = pager_stats(b), *c;
	int err = o ? 0 : -ENOENT;

	for (unsigned i = 0; !err && i < BENCH_PAGER_NR; i++)
		if (json_object_object_get_ex(o, bench_pager_names[i], &c))
			v[i] = json_object_get_int64(c);
		else
			err = -ENOENT;
	json_object_put(o);
	return err;
}

/*
 * After a split the pager pages out down to its low watermark under the cap
 * and the guest faults in its working set, for seconds: wait until neither
 * page-ins nor page-outs move for SETTLE_QUIET polls (at most SETTLE_MAX),
 * so that the first point does not start from a placement still moving.
 */
#define SETTLE_QUIET 3
#define SETTLE_MAX   120

static int settle(struct bench_inst *b)
{
	int64_t last = -2;
	unsigned quiet = 0, s;

	for (s = 0; s < SETTLE_MAX && quiet < SETTLE_QUIET && !bench_stop; s++) {
		int64_t now =
		    bench_inst_pager_count(b, "pageins") + bench_inst_pager_count(b, "pageouts");

		quiet = now == last ? quiet + 1 : 0;
		last = now;
		sleep(1);
	}
	json_object_object_add(b->cur, "settle_s", json_object_new_int((int)s));
	json_object_object_add(b->cur, "settled", json_object_new_boolean(quiet >= SETTLE_QUIET));
	return bench_stop ? -EINTR : 0;
}

/* --------------------------------------------------------- measurements */

int bench_inst_build_cpu(struct bench_inst *b, const char *method, uint64_t chunk, double *ms,
			 double *cpu_ms, int64_t *pages)
{
	char cs[32];
	struct bench_out out;
	const char *s;
	unsigned long long pg = 0;
	int err;

	snprintf(cs, sizeof(cs), "%llu", (unsigned long long)chunk);
	if (!strcmp(method, "unsplit"))
		err = bench_inst_vmt(b, BENCH_T_READ, false, &out, "procfs", "--vm", b->vm,
				     "--build-only", "--stats", NULL);
	else /* the paper's methods: method 1 fetches whole chunks, no exact reads */
		err = bench_inst_vmt(b, BENCH_T_READ, false, &out, "procfs", "--vm", b->vm,
				     "--build-only", "--stats", "--fetch", method, "--chunk", cs,
				     !strcmp(method, "runtime") ? "--whole-chunks" : NULL, NULL);
	if (err)
		return err;
	s = strstr(out.err, "stats: procfs snapshot: ");
	if (!s || sscanf(s, "stats: procfs snapshot: %lf ms (cpu %lf ms), pages read %llu", ms,
			 cpu_ms, &pg) != 3)
		err = bench_fail(-EPROTO, "vmt procfs --stats said: %.300s", out.err);
	*pages = (int64_t)pg;
	bench_out_free(&out);
	return err;
}

int bench_inst_build(struct bench_inst *b, const char *method, uint64_t chunk, double *ms,
		     int64_t *pages)
{
	double cpu;

	return bench_inst_build_cpu(b, method, chunk, ms, &cpu, pages);
}

int bench_inst_guest_ps(struct bench_inst *b, double *ms)
{
	struct json_object *o, *code, *dur;
	struct bench_out out;
	int err;

	err = bench_inst_vmt(b, BENCH_T_READ, false, &out, "vm", "exec", b->vm, "--json",
			     "--timeout", "240", "--", "ps >/dev/null", NULL);
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

const char *bench_chunk_name(uint64_t c, char *buf, size_t n)
{
	if (!c)
		snprintf(buf, n, "-");
	else if (c >= (1u << 20) && !(c & ((1u << 20) - 1)))
		snprintf(buf, n, "%lluM", (unsigned long long)(c >> 20));
	else
		snprintf(buf, n, "%lluK", (unsigned long long)(c >> 10));
	return buf;
}

/* ------------------------------------------------------------ instances */

/*
 * Wait for the workload (at most 15 minutes: 10,000 processes start slowly
 * under TCG), then fill MemAvailable minus the reserve with held, non-zero data.
 */
static int fill(struct bench_inst *b)
{
	char script[1024], rel[128] = "";
	struct bench_out out;
	int err, mb = 0;

	snprintf(script, sizeof(script),
		 "i=0; while [ ! -e /run/vmt-workload.ready ] && [ $i -lt 4500 ]; do sleep 0.2; "
		 "i=$((i+1)); done; test -e /run/vmt-workload.ready || exit 3; mb=0; "
		 "if [ %u -gt 0 ]; then "
		 "mb=$(awk '/MemAvailable/ {print int($2/1024) - %u}' /proc/meminfo); "
		 "[ $mb -gt 16 ] || mb=16; "
		 "vmt-memcheck --daemon --state /run/vmt-fill.json --size ${mb}M --passes 1 --hold "
		 "--seconds 86400 >/dev/null || exit 4; i=0; "
		 "while ! grep -q '\"phase\": \"hold\"' /run/vmt-fill.json && [ $i -lt 3000 ]; do "
		 "sleep 0.2; i=$((i+1)); done; grep -q '\"phase\": \"hold\"' /run/vmt-fill.json "
		 "|| exit 5; fi; echo $mb $(uname -r)",
		 b->fill_reserve_mib, b->fill_reserve_mib);
	err = bench_inst_vmt(b, BENCH_T_FILL, false, &out, "vm", "exec", b->vm, "--timeout", "1700",
			     "--", script, NULL);
	if (err)
		return err;
	b->fill_ms = out.ms;
	if (sscanf(out.out, "%d %127s", &mb, rel) == 2) {
		json_object_object_add(b->cur, "filled_mib", json_object_new_int(mb));
		json_object_object_add(b->cur, "fill_ms", json_object_new_double(out.ms));
		json_object_object_add(b->r->meta, "guest_kernel", json_object_new_string(rel));
	} else {
		err = bench_fail(-EPROTO, "filling the guest: %.300s", out.out);
	}
	bench_out_free(&out);
	return err;
}

/* This instance's entry in "instances": its number, VM, size and workload. */
static void instance_entry(struct bench_inst *b)
{
	b->cur = json_object_new_object();
	json_object_object_add(b->cur, "instance", json_object_new_int((int)b->instance));
	json_object_object_add(b->cur, "vm", json_object_new_string(b->vm));
	json_object_object_add(b->cur, "mem", json_object_new_string(b->mem));
	json_object_object_add(b->cur, "procs", json_object_new_int((int)b->procs));
	json_object_array_add(b->instances, b->cur);
}

int bench_inst_start(struct bench_inst *b)
{
	struct bench_out out;
	char procs[16];
	int err;

	snprintf(b->vm, sizeof(b->vm), "%s-%s-%u", b->prefix, b->tag, b->instance);
	snprintf(procs, sizeof(procs), "%u", b->procs);
	b->boot_ms = b->fill_ms = b->split_ms = 0;
	instance_entry(b);
	bench_inst_progress(b, "instance %u: booting %s (%s, %u processes) and filling it",
			    b->instance, b->vm, b->mem, b->procs);
	b->vm_up = true; /* from here on, stop it whatever happens */
	/* Without KASLR the kernel and its first allocations sit at the same physical
	 * addresses in every instance, so the same policy gives the same placement. */
	err = bench_inst_vmt(b, BENCH_T_START, false, &out, "vm", "start", b->vm, "--mem", b->mem,
			     "--procs", procs, "--timeout", "240", b->kaslr ? NULL : "--no-kaslr",
			     NULL);
	if (err)
		return err;
	b->boot_ms = out.ms;
	json_object_object_add(b->cur, "boot_ms", json_object_new_double(out.ms));
	bench_out_free(&out);
	return fill(b);
}

void bench_inst_stop(struct bench_inst *b)
{
	if (!b->vm_up)
		return;
	bench_inst_vmt(b, 120, true, NULL, "vm", "stop", b->vm, NULL);
	b->vm_up = false;
}

int bench_inst_split(struct bench_inst *b, unsigned nsub)
{
	char subs[64] = "";
	struct bench_census c;
	struct bench_out out;
	struct json_object *j;
	int err;

	if (!nsub || nsub > b->subhosts)
		nsub = b->subhosts;
	for (unsigned k = 1; k <= nsub; k++)
		snprintf(subs + strlen(subs), sizeof(subs) - strlen(subs), "%ssub%u",
			 k > 1 ? "," : "", k);
	bench_inst_progress(b, "instance %u: splitting %s: main %s, the rest on %s", b->instance,
			    b->vm, b->main_mem, subs);
	err = bench_inst_vmt(b, BENCH_T_SPLIT, false, &out, "split", b->vm, "--main-mem",
			     b->main_mem, "--subhosts", subs, "--hosts-prefix", b->prefix,
			     "--policy", b->policy, "--chunk", b->pt_chunk, "--json", NULL);
	if (err)
		return err;
	b->split_ms = out.ms;
	j = json_tokener_parse(out.out);
	if (j)
		json_object_object_add(b->cur, "split", j);
	json_object_object_add(b->cur, "split_wall_ms", json_object_new_double(out.ms));
	bench_out_free(&out);
	bench_inst_progress(b, "instance %u: waiting for the pager to settle", b->instance);
	err = settle(b);
	return err ? err : bench_inst_census(b, &c, true);
}

/* ---------------------------------------------------------------- hosts */

int bench_inst_hosts_up(struct bench_inst *b)
{
	char n[16], cap[32];
	int err;

	/* Hosts of this prefix that exist already are someone's: never take them down. */
	if (!bench_inst_vmt(b, 60, true, NULL, "hosts", "show", "--prefix", b->prefix, NULL))
		return bench_fail(-EEXIST, "hosts of prefix '%s' exist already; pick --prefix",
				  b->prefix);
	snprintf(n, sizeof(n), "%u", b->subhosts);
	/* room for all of the guest's memory */
	snprintf(cap, sizeof(cap), "%s", b->capacity ? b->capacity : b->mem);
	bench_inst_progress(b, "hosts up: prefix %s, %u sub-host(s), link %s", b->prefix,
			    b->subhosts, b->link);
	b->hosts_made = true; /* a failure half-way undoes itself; down is harmless then */
	if (b->subnet)
		err = bench_inst_vmt(b, 120, false, NULL, "hosts", "up", "--prefix", b->prefix,
				     "--subhosts", n, "--link", b->link, "--capacity", cap,
				     "--subnet", b->subnet, NULL);
	else
		err = bench_inst_vmt(b, 120, false, NULL, "hosts", "up", "--prefix", b->prefix,
				     "--subhosts", n, "--link", b->link, "--capacity", cap, NULL);
	return err;
}

void bench_inst_hosts_down(struct bench_inst *b)
{
	if (!b->hosts_made)
		return;
	bench_inst_progress(b, "hosts down: prefix %s", b->prefix);
	bench_inst_vmt(b, 120, true, NULL, "hosts", "down", "--prefix", b->prefix, NULL);
	b->hosts_made = false;
}

int bench_inst_init(struct bench_inst *b)
{
	b->instances = json_object_new_array();
	if (!b->instances)
		return -ENOMEM;
	json_object_object_add(b->r->meta, "instances", b->instances);
	return 0;
}

void bench_inst_finish(struct bench_inst *b)
{
	bench_inst_stop(b);
	bench_inst_hosts_down(b);
	free(b->loc_split);
	free(b->loc_first);
	b->loc_split = b->loc_first = NULL;
}

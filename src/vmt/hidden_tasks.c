// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * hidden_tasks.c - `vmt hidden`'s processes check: the task views of
 * vmt_tasks(VMT_TASK_VIEWS) against each other.
 *
 * Which views must hold a task (absence elsewhere is no evidence):
 *   a thread-group leader   tasks, tasks_prev, children, pids, threads
 *   another thread          pids, threads (it is on no task or children list)
 * runqueue and scan are witnesses only: the runqueue holds what runs or
 * waits to, and the scan may miss a task that traces and is traced (its
 * signature); a task only they saw is still missing from the views above.
 * Only views walked to their end count: a broken view is reported itself
 * (a corrupt task list is what a clumsy rootkit leaves) and says nothing
 * about single tasks.
 *
 * Re-checks: each finding (a task, by task_struct address and pid, with
 * the views it is missing from; or a broken view) must be there again in
 * each of c->rechecks fresh listings; what is reported is what persisted,
 * missing from the views it was missing from every time.  A fork or exit
 * caught between two views clears at the first re-check.
 */
#include <errno.h>
#include <json-c/json.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "hidden.h"

#define LEADER_VIEWS                                                                               \
	(VMT_VIEW_TASKS | VMT_VIEW_TASKS_PREV | VMT_VIEW_CHILDREN | VMT_VIEW_PIDS |                \
	 VMT_VIEW_THREADS)
#define THREAD_VIEWS (VMT_VIEW_PIDS | VMT_VIEW_THREADS)

struct finding {
	uint64_t kva;
	int32_t pid, tgid;
	char comm[16];
	uint32_t seen, missing;
	bool thread;
};

struct round {
	struct finding *f;
	size_t n;
	uint32_t broken; /* views that broke */
	struct vmt_task_list *l;
};

/*
 * Idle tasks (pid 0, PF_IDLE) are not listed; any other task with pid 0 is
 * held to the same rules (it is in no pid index: a forged or wiped pid).
 */
static uint32_t task_expected(const struct vmt_task *t)
{
	return t->kva == t->leader ? LEADER_VIEWS : THREAD_VIEWS;
}

/* One fresh listing and its findings. */
static int round_read(struct hidden_ctx *c, struct round *r)
{
	int err;

	memset(r, 0, sizeof(*r));
	vmt_listing_begin(c->g);
	err = vmt_tasks(c->g, VMT_TASK_THREADS | VMT_TASK_VIEWS, &r->l);
	vmt_listing_end(c->g);
	if (err)
		return err;
	r->broken = r->l->views_broken;
	r->f = calloc(r->l->n + 1, sizeof(*r->f));
	if (!r->f)
		return -ENOMEM;
	for (size_t i = 0; i < r->l->n; i++) {
		const struct vmt_task *t = &r->l->tasks[i];
		uint32_t missing = task_expected(t) & r->l->views_ok & ~t->seen_by;
		struct finding *f = &r->f[r->n];

		if (!missing)
			continue;
		*f = (struct finding){.kva = t->kva,
				      .pid = t->pid,
				      .tgid = t->tgid,
				      .seen = t->seen_by,
				      .missing = missing,
				      .thread = t->kva != t->leader};
		memcpy(f->comm, t->comm, sizeof(f->comm));
		r->n++;
	}
	return 0;
}

static void round_free(struct round *r)
{
	vmt_task_list_free(r->l);
	free(r->f);
	memset(r, 0, sizeof(*r));
}

/* Keep in old what is in new too (same task, missing from some same view). */
static size_t round_keep(struct round *old, const struct round *new)
{
	size_t out = 0;

	for (size_t i = 0; i < old->n; i++) {
		struct finding *f = &old->f[i];

		for (size_t j = 0; j < new->n; j++) {
			const struct finding *g = &new->f[j];

			if (g->kva != f->kva || g->pid != f->pid || !(g->missing & f->missing))
				continue;
			f->missing &= g->missing;
			f->seen = g->seen;
			old->f[out++] = *f;
			break;
		}
	}
	old->n = out;
	old->broken &= new->broken;
	return out;
}

static void views_text(uint32_t bits, char *buf, size_t cap)
{
	if (!*cli_views_str(bits, VMT_VIEW_COUNT, vmt_task_view_name, buf, cap))
		snprintf(buf, cap, "none");
}

static json_object *views_json(uint32_t bits)
{
	return cli_views_json(bits, VMT_VIEW_COUNT, vmt_task_view_name);
}

static void report_text(const struct round *r, const struct vmt_task_list *last)
{
	char seen[128], missing[128];

	for (size_t i = 0; i < r->n; i++) {
		const struct finding *f = &r->f[i];

		views_text(f->seen, seen, sizeof(seen));
		views_text(f->missing, missing, sizeof(missing));
		if (f->thread)
			printf(
			    "hidden thread: tid %d of pid %d (%s) at 0x%llx: seen by %s; missing "
			    "from %s\n",
			    f->pid, f->tgid, f->comm, (unsigned long long)f->kva, seen, missing);
		else
			printf(
			    "hidden process: pid %d (%s) at 0x%llx: seen by %s; missing from %s\n",
			    f->pid, f->comm, (unsigned long long)f->kva, seen, missing);
	}
	for (unsigned i = 0; i < VMT_VIEW_COUNT; i++)
		if (r->broken & (1u << i))
			printf("broken view: %s: %s\n", vmt_task_view_name(1u << i),
			       last->view_err[i]);
}

static json_object *report_json(const struct round *r, const struct vmt_task_list *last,
				unsigned rounds, size_t cleared)
{
	json_object *o = json_object_new_object(), *a = json_object_new_array();
	json_object *views = json_object_new_object(), *b = json_object_new_array();

	for (size_t i = 0; i < r->n; i++) {
		const struct finding *f = &r->f[i];
		json_object *j = json_object_new_object();

		json_object_object_add(j, "pid", json_object_new_int(f->tgid));
		json_object_object_add(j, "tid", json_object_new_int(f->pid));
		json_object_object_add(j, "comm", json_object_new_string(f->comm));
		json_object_object_add(j, "kva", json_object_new_uint64(f->kva));
		json_object_object_add(j, "thread", json_object_new_boolean(f->thread));
		json_object_object_add(j, "seen_by", views_json(f->seen));
		json_object_object_add(j, "missing_from", views_json(f->missing));
		json_object_array_add(a, j);
	}
	for (unsigned i = 0; i < VMT_VIEW_COUNT; i++) {
		json_object *v = json_object_new_object();
		bool ok = last->views_ok & (1u << i);

		json_object_object_add(v, "ok", json_object_new_boolean(ok));
		json_object_object_add(v, "tasks", json_object_new_int64(last->view_n[i]));
		json_object_object_add(v, "error",
				       ok ? NULL : json_object_new_string(last->view_err[i]));
		json_object_object_add(views, vmt_task_view_name(1u << i), v);
		if (r->broken & (1u << i))
			json_object_array_add(b,
					      json_object_new_string(vmt_task_view_name(1u << i)));
	}
	json_object_object_add(o, "discrepancies", a);
	json_object_object_add(o, "broken_views", b);
	json_object_object_add(o, "views", views);
	json_object_object_add(o, "listed", json_object_new_uint64(last->n));
	json_object_object_add(o, "listings", json_object_new_int((int)rounds));
	json_object_object_add(o, "cleared_by_recheck", json_object_new_uint64(cleared));
	json_object_object_add(o, "scan_bytes", json_object_new_uint64(last->scan_bytes));
	json_object_object_add(o, "scan_ms", json_object_new_double(last->scan_ns / 1e6));
	json_object_object_add(o, "scan_candidates", json_object_new_uint64(last->scan_candidates));
	return o;
}

static void report_verbose(const struct vmt_task_list *l, unsigned rounds, size_t cleared)
{
	double ms = l->scan_ns / 1e6;

	fprintf(stderr, "vmt: hidden: processes: %zu tasks listed; views:", l->n);
	for (unsigned i = 0; i < VMT_VIEW_COUNT; i++)
		fprintf(stderr, " %s %u%s", vmt_task_view_name(1u << i), l->view_n[i],
			l->views_ok & (1u << i) ? "" : " (broken)");
	fprintf(stderr,
		"\nvmt: hidden: scan: %.1f MiB in %.1f ms (%.0f MB/s), %llu candidates\n"
		"vmt: hidden: processes: %u listing(s); %zu discrepancies cleared by re-checks\n",
		l->scan_bytes / 1048576.0, ms, ms > 0 ? l->scan_bytes / 1e3 / ms : 0.0,
		(unsigned long long)l->scan_candidates, rounds, cleared);
}

int hidden_tasks(struct hidden_ctx *c)
{
	struct round r, next;
	unsigned rounds = 1;
	size_t cleared = 0, first;
	int err = round_read(c, &r), n;

	if (err) {
		round_free(&r);
		return err;
	}
	first = r.n + (size_t)__builtin_popcount(r.broken);
	for (unsigned i = 0; i < c->rechecks && (r.n || r.broken); i++) {
		hidden_recheck_wait(c);
		err = round_read(c, &next);
		if (err) {
			round_free(&next);
			round_free(&r);
			return err;
		}
		rounds++;
		round_keep(&r, &next);
		/* The report's view counts and errors are the last listing's. */
		vmt_task_list_free(r.l);
		r.l = next.l;
		next.l = NULL;
		round_free(&next);
	}
	n = (int)(r.n + (size_t)__builtin_popcount(r.broken));
	cleared = first - (size_t)n;
	if (c->json)
		json_object_object_add(c->out, "processes", report_json(&r, r.l, rounds, cleared));
	else
		report_text(&r, r.l);
	if (c->verbose)
		report_verbose(r.l, rounds, cleared);
	round_free(&r);
	return n;
}

// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * hidden_kernel.c - `vmt hidden`'s modules and hooks checks.
 *
 * Modules: the views of vmt_modules_views (list, kset, tree, scan) against
 * each other.  A module is live in the kernel if any view finds it (the
 * scan only counts a struct module that holds together); it is a finding
 * when a view walked to its end lacks it.  A module missing from the list
 * is what `lsmod` cannot show: a rootkit's list_del(&THIS_MODULE->list).
 * A view that broke is reported itself.
 *
 * Hooks: vmt_hooks, every entry that is not what the kernel was built
 * with.  Tables are not expected to change at all, so a re-check only
 * guards against a torn read.
 *
 * Re-checks as hidden_tasks.c: a finding (module by struct address with
 * the views it is missing from; hook by table, slot and value; a broken
 * view) must be there in each of c->rechecks fresh listings; a module
 * loading or unloading meanwhile clears at the first re-check.
 */
#include <errno.h>
#include <stdio.h>
#include <json-c/json.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "hidden.h"

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

/* ------------------------------------------------------------- modules */

struct mfind {
	uint64_t kva;
	uint32_t seen, missing;
	const struct vmt_module *m; /* in the round's list */
};

struct mround {
	struct vmt_module_list *l;
	struct mfind *f;
	size_t n;
	uint32_t broken;
	double ms; /* the first listing's time (every view) */
};

static void mround_free(struct mround *r)
{
	vmt_module_list_free(r->l);
	free(r->f);
	memset(r, 0, sizeof(*r));
}

static int mround_read(struct hidden_ctx *c, struct mround *r)
{
	int err;

	double t0 = cli_now_ms();

	memset(r, 0, sizeof(*r));
	vmt_listing_begin(c->g);
	err = vmt_modules_views(c->g, &r->l);
	vmt_listing_end(c->g);
	r->ms = cli_now_ms() - t0;
	if (err)
		return err;
	r->broken = r->l->views_broken;
	r->f = calloc(r->l->n + 1, sizeof(*r->f));
	if (!r->f)
		return -ENOMEM;
	for (size_t i = 0; i < r->l->n; i++) {
		const struct vmt_module *m = &r->l->mods[i];
		uint32_t missing = r->l->views_ok & ~m->seen_by;

		if (missing)
			r->f[r->n++] = (struct mfind){
			    .kva = m->kva, .seen = m->seen_by, .missing = missing, .m = m};
	}
	return 0;
}

/* Keep in old what new has too (same module, missing from some same view); new's details. */
static void mround_keep(struct mround *old, struct mround *new)
{
	size_t out = 0;

	for (size_t i = 0; i < old->n; i++) {
		uint32_t missing = old->f[i].missing;
		uint64_t kva = old->f[i].kva;

		for (size_t j = 0; j < new->n; j++) {
			const struct mfind *g = &new->f[j];

			if (g->kva != kva || !(g->missing & missing))
				continue;
			old->f[out] = *g;
			old->f[out++].missing &= missing;
			break;
		}
	}
	old->n = out;
	old->broken &= new->broken;
	vmt_module_list_free(old->l); /* the findings point into new's list from now on */
	old->l = new->l;
	new->l = NULL;
}

static void mviews_text(uint32_t bits, char *buf, size_t cap)
{
	if (!*cli_views_str(bits, VMT_MVIEW_COUNT, vmt_module_view_name, buf, cap))
		snprintf(buf, cap, "none");
}

static json_object *mviews_json(uint32_t bits)
{
	return cli_views_json(bits, VMT_MVIEW_COUNT, vmt_module_view_name);
}

static void mreport_text(const struct mround *r)
{
	char seen[64], missing[64];

	for (size_t i = 0; i < r->n; i++) {
		const struct mfind *f = &r->f[i];

		mviews_text(f->seen, seen, sizeof(seen));
		mviews_text(f->missing, missing, sizeof(missing));
		printf("hidden module: %s at 0x%llx (%s, %llu bytes at 0x%llx): seen by %s; "
		       "missing from %s\n",
		       f->m->name, (unsigned long long)f->kva, f->m->state,
		       (unsigned long long)f->m->size, (unsigned long long)f->m->base, seen,
		       missing);
	}
	for (unsigned i = 0; i < VMT_MVIEW_COUNT; i++)
		if (r->broken & (1u << i))
			printf("broken view: module %s: %s\n", vmt_module_view_name(1u << i),
			       r->l->view_err[i]);
}

static json_object *mfind_json(const struct mfind *f)
{
	json_object *j = json_object_new_object();

	json_object_object_add(j, "name", json_object_new_string(f->m->name));
	json_object_object_add(j, "kva", json_object_new_uint64(f->kva));
	json_object_object_add(j, "base", json_object_new_uint64(f->m->base));
	json_object_object_add(j, "size", json_object_new_uint64(f->m->size));
	json_object_object_add(j, "state", json_object_new_string(f->m->state));
	json_object_object_add(j, "seen_by", mviews_json(f->seen));
	json_object_object_add(j, "missing_from", mviews_json(f->missing));
	return j;
}

static json_object *mreport_json(const struct mround *r, double ms, unsigned rounds, size_t cleared)
{
	const struct vmt_module_list *l = r->l;
	json_object *o = json_object_new_object(), *a = json_object_new_array();
	json_object *views = json_object_new_object();

	for (size_t i = 0; i < r->n; i++)
		json_object_array_add(a, mfind_json(&r->f[i]));
	for (unsigned i = 0; i < VMT_MVIEW_COUNT; i++) {
		json_object *v = json_object_new_object();
		bool ok = l->views_ok & (1u << i);

		json_object_object_add(v, "ok", json_object_new_boolean(ok));
		json_object_object_add(v, "modules", json_object_new_int64(l->view_n[i]));
		json_object_object_add(v, "error",
				       ok ? NULL : json_object_new_string(l->view_err[i]));
		json_object_object_add(views, vmt_module_view_name(1u << i), v);
	}
	json_object_object_add(o, "discrepancies", a);
	json_object_object_add(o, "broken_views", mviews_json(r->broken));
	json_object_object_add(o, "views", views);
	json_object_object_add(o, "listed", json_object_new_uint64(l->n));
	json_object_object_add(o, "listing_ms", json_object_new_double(ms));
	json_object_object_add(o, "listings", json_object_new_int((int)rounds));
	json_object_object_add(o, "cleared_by_recheck", json_object_new_uint64(cleared));
	json_object_object_add(o, "scan_bytes", json_object_new_uint64(l->scan_bytes));
	json_object_object_add(o, "scan_ms", json_object_new_double(l->scan_ns / 1e6));
	json_object_object_add(o, "scan_candidates", json_object_new_uint64(l->scan_candidates));
	return o;
}

static void mreport_verbose(const struct vmt_module_list *l, double list_ms, unsigned rounds,
			    size_t cleared)
{
	double ms = l->scan_ns / 1e6;

	fprintf(stderr, "vmt: hidden: modules: %zu found in %.1f ms; views:", l->n, list_ms);
	for (unsigned i = 0; i < VMT_MVIEW_COUNT; i++)
		fprintf(stderr, " %s %u%s", vmt_module_view_name(1u << i), l->view_n[i],
			l->views_ok & (1u << i) ? "" : " (not walked to its end)");
	fprintf(stderr,
		"\nvmt: hidden: module scan: %.1f MiB mapped in %.1f ms (%.0f MB/s), %llu "
		"candidates\nvmt: hidden: modules: %u listing(s); %zu discrepancies cleared by "
		"re-checks\n",
		l->scan_bytes / 1048576.0, ms, ms > 0 ? l->scan_bytes / 1e3 / ms : 0.0,
		(unsigned long long)l->scan_candidates, rounds, cleared);
}

int hidden_modules(struct hidden_ctx *c)
{
	struct mround r, next;
	unsigned rounds = 1;
	size_t first, n;
	int err = mround_read(c, &r);
	double ms = r.ms;

	first = r.n + (size_t)__builtin_popcount(r.broken);
	for (unsigned i = 0; !err && i < c->rechecks && (r.n || r.broken); i++) {
		hidden_recheck_wait(c);
		err = mround_read(c, &next);
		if (!err) {
			rounds++;
			mround_keep(&r, &next);
		}
		mround_free(&next);
	}
	if (err) {
		mround_free(&r);
		return err;
	}
	n = r.n + (size_t)__builtin_popcount(r.broken);
	if (c->json)
		json_object_object_add(c->out, "modules", mreport_json(&r, ms, rounds, first - n));
	else
		mreport_text(&r);
	if (c->verbose)
		mreport_verbose(r.l, ms, rounds, first - n);
	mround_free(&r);
	return (int)n;
}

/* --------------------------------------------------------------- hooks */

static const char *const table_names[] = {"sys_call_table", "ia32_sys_call_table",
					  "x32_sys_call_table", "idt"};

static bool hook_same(const struct vmt_hook *a, const struct vmt_hook *b)
{
	return !strcmp(a->table, b->table) && a->index == b->index && a->value == b->value &&
	       a->flags == b->flags;
}

/* Keep in old the hooks new has too (same slot, same value). */
static void hooks_keep(struct vmt_hook_list *old, const struct vmt_hook_list *new)
{
	size_t out = 0;

	for (size_t i = 0; i < old->n; i++)
		for (size_t j = 0; j < new->n; j++)
			if (hook_same(&old->hooks[i], &new->hooks[j])) {
				old->hooks[out++] = old->hooks[i];
				break;
			}
	old->n = out;
}

static int hooks_read(struct hidden_ctx *c, struct vmt_hook_list **l)
{
	int err;

	vmt_listing_begin(c->g);
	err = vmt_hooks(c->g, l);
	vmt_listing_end(c->g);
	return err;
}

static void hook_flags_text(uint32_t f, char *buf, size_t cap)
{
	snprintf(buf, cap, "%s%s%s%s", f & VMT_HOOK_OUTSIDE_TEXT ? ", outside kernel text" : "",
		 f & VMT_HOOK_IN_MODULE ? ", in a module" : "",
		 f & VMT_HOOK_MISMATCH ? ", another function" : "",
		 f & VMT_HOOK_UNREADABLE ? ", unreadable" : "");
}

static void hreport_text(const struct vmt_hook_list *l)
{
	char fl[96];

	for (size_t i = 0; i < l->n; i++) {
		const struct vmt_hook *h = &l->hooks[i];

		hook_flags_text(h->flags, fl, sizeof(fl));
		if (h->expected)
			printf("hooked: %s[%u] = 0x%llx %s; built with %s (0x%llx)%s\n", h->table,
			       h->index, (unsigned long long)h->value, h->actual_sym,
			       h->expected_sym, (unsigned long long)h->expected, fl);
		else
			printf("hooked: %s[%u] = 0x%llx %s; expected %s%s\n", h->table, h->index,
			       (unsigned long long)h->value, h->actual_sym, h->expected_sym, fl);
	}
}

static json_object *tables_json(uint32_t bits)
{
	json_object *a = json_object_new_array();

	for (unsigned i = 0; i < NELEM(table_names); i++)
		if (bits & (1u << i))
			json_object_array_add(a, json_object_new_string(table_names[i]));
	return a;
}

static json_object *hook_json(const struct vmt_hook *h)
{
	static const char *const fnames[] = {"outside_text", "mismatch", "in_module", "unreadable"};
	json_object *j = json_object_new_object(), *f = json_object_new_array();

	json_object_object_add(j, "table", json_object_new_string(h->table));
	json_object_object_add(j, "index", json_object_new_int64(h->index));
	json_object_object_add(j, "value", json_object_new_uint64(h->value));
	json_object_object_add(j, "actual_sym", json_object_new_string(h->actual_sym));
	json_object_object_add(j, "expected", json_object_new_uint64(h->expected));
	json_object_object_add(j, "expected_sym", json_object_new_string(h->expected_sym));
	for (unsigned i = 0; i < NELEM(fnames); i++)
		if (h->flags & (1u << i))
			json_object_array_add(f, json_object_new_string(fnames[i]));
	json_object_object_add(j, "flags", f);
	return j;
}

static json_object *hreport_json(const struct vmt_hook_list *l, double ms, unsigned rounds,
				 size_t cleared)
{
	json_object *o = json_object_new_object(), *a = json_object_new_array();

	for (size_t i = 0; i < l->n; i++)
		json_object_array_add(a, hook_json(&l->hooks[i]));
	json_object_object_add(o, "discrepancies", a);
	json_object_object_add(o, "tables", tables_json(l->tables));
	json_object_object_add(o, "exact", tables_json(l->exact));
	json_object_object_add(o, "checked", json_object_new_uint64(l->checked));
	json_object_object_add(o, "listing_ms", json_object_new_double(ms));
	json_object_object_add(o, "partial", json_object_new_boolean(l->flags & VMT_F_PARTIAL));
	json_object_object_add(o, "listings", json_object_new_int((int)rounds));
	json_object_object_add(o, "cleared_by_recheck", json_object_new_uint64(cleared));
	return o;
}

static void hreport_verbose(const struct vmt_hook_list *l, double ms, unsigned rounds,
			    size_t cleared)
{
	fprintf(stderr, "vmt: hidden: hooks: %zu entries checked in %.1f ms:", l->checked, ms);
	for (unsigned i = 0; i < NELEM(table_names); i++)
		if (l->tables & (1u << i))
			fprintf(stderr, " %s (%s)", table_names[i],
				l->exact & (1u << i) ? "slot by slot against the image"
				: i == 3	     ? "entry stubs in text"
						     : "by name only: no kernel image");
	fprintf(stderr, "\nvmt: hidden: hooks: %u listing(s); %zu cleared by re-checks\n", rounds,
		cleared);
}

/* ---------------------------------------------------------- kernel text */

static bool text_same(const struct vmt_text_mod *a, const struct vmt_text_mod *b)
{
	return a->va == b->va && a->len == b->len && !memcmp(a->actual, b->actual, 16);
}

static void text_keep(struct vmt_text_list *old, const struct vmt_text_list *new)
{
	size_t out = 0;

	for (size_t i = 0; i < old->n; i++)
		for (size_t j = 0; j < new->n; j++)
			if (text_same(&old->mods[i], &new->mods[j])) {
				old->mods[out++] = old->mods[i];
				break;
			}
	old->n = out;
	old->runs = out;
}

static void hex16(const uint8_t *b, uint32_t len, char *out)
{
	size_t n = len < 16 ? len : 16;

	for (size_t i = 0; i < n; i++)
		sprintf(out + 2 * i, "%02x", b[i]);
	out[2 * n] = '\0';
}

static json_object *text_json(const struct vmt_text_list *l, const char *why, double ms)
{
	json_object *o = json_object_new_object(), *a = json_object_new_array();
	char e[40], f[40];

	json_object_object_add(o, "checked", json_object_new_boolean(l != NULL));
	if (!l) {
		json_object_object_add(o, "why_not", json_object_new_string(why));
		json_object_object_add(o, "discrepancies", a);
		return o;
	}
	for (size_t i = 0; i < l->n; i++) {
		const struct vmt_text_mod *m = &l->mods[i];
		json_object *j = json_object_new_object();

		hex16(m->expected, m->len, e);
		hex16(m->actual, m->len, f);
		json_object_object_add(j, "va", json_object_new_uint64(m->va));
		json_object_object_add(j, "len", json_object_new_int64(m->len));
		json_object_object_add(j, "sym", json_object_new_string(m->sym));
		json_object_object_add(j, "kind", json_object_new_string(m->kind));
		json_object_object_add(j, "expected", json_object_new_string(e));
		json_object_object_add(j, "actual", json_object_new_string(f));
		json_object_array_add(a, j);
	}
	json_object_object_add(o, "discrepancies", a);
	json_object_object_add(o, "runs", json_object_new_uint64(l->runs));
	json_object_object_add(o, "compared", json_object_new_uint64(l->compared));
	json_object_object_add(o, "patch_sites", json_object_new_uint64(l->patch_sites));
	json_object_object_add(o, "partial", json_object_new_boolean(l->flags & VMT_F_PARTIAL));
	json_object_object_add(o, "listing_ms", json_object_new_double(ms));
	return o;
}

static void text_report(struct hidden_ctx *c, const struct vmt_text_list *l, const char *why,
			double ms)
{
	char e[40], f[40];

	if (c->json) {
		json_object_object_add(c->out, "text", text_json(l, why, ms));
		return;
	}
	for (size_t i = 0; l && i < l->n; i++) {
		const struct vmt_text_mod *m = &l->mods[i];

		hex16(m->expected, m->len, e);
		hex16(m->actual, m->len, f);
		printf("modified text: %s at 0x%llx (%u bytes, %s): built %s, now %s\n", m->sym,
		       (unsigned long long)m->va, m->len, m->kind, e, f);
	}
	if (l && l->runs > l->n)
		printf("modified text: %zu more runs not shown\n", l->runs - l->n);
	if (!c->verbose)
		return;
	if (l)
		fprintf(stderr,
			"vmt: hidden: text: %llu bytes compared with the image in %.1f ms, %llu at "
			"patch sites not compared\n",
			(unsigned long long)l->compared, ms, (unsigned long long)l->patch_sites);
	else
		fprintf(stderr, "vmt: hidden: text: not compared: %s\n", why);
}

/*
 * Kernel text against the image; its findings count with the hooks'.  No
 * image (a profile from guest memory) is said, not a failure: the tables
 * were still checked.
 */
static int hidden_text(struct hidden_ctx *c)
{
	struct vmt_text_list *l = NULL, *next = NULL;
	double t0 = cli_now_ms(), ms;
	char why[256];
	int err, n;

	vmt_listing_begin(c->g);
	err = vmt_text_check(c->g, &l);
	vmt_listing_end(c->g);
	ms = cli_now_ms() - t0;
	if (err == -ENOENT) {
		snprintf(why, sizeof(why), "%s", vmt_last_error());
		text_report(c, NULL, why, ms);
		return 0;
	}
	if (err)
		return err;
	for (unsigned i = 0; i < c->rechecks && l->n; i++) {
		hidden_recheck_wait(c);
		vmt_listing_begin(c->g);
		err = vmt_text_check(c->g, &next);
		vmt_listing_end(c->g);
		if (err) {
			vmt_text_list_free(l);
			return err;
		}
		text_keep(l, next);
		vmt_text_list_free(next);
	}
	text_report(c, l, NULL, ms);
	n = (int)l->runs;
	vmt_text_list_free(l);
	return n;
}

int hidden_hooks(struct hidden_ctx *c)
{
	struct vmt_hook_list *l = NULL, *next = NULL;
	unsigned rounds = 1;
	size_t first;
	double t0 = cli_now_ms(), ms;
	int err = hooks_read(c, &l);

	ms = cli_now_ms() - t0;
	if (err)
		return err;
	first = l->n;
	for (unsigned i = 0; i < c->rechecks && l->n; i++) {
		hidden_recheck_wait(c);
		err = hooks_read(c, &next);
		if (err) {
			vmt_hook_list_free(l);
			return err;
		}
		rounds++;
		hooks_keep(l, next);
		vmt_hook_list_free(next);
	}
	if (c->json)
		json_object_object_add(c->out, "hooks", hreport_json(l, ms, rounds, first - l->n));
	else
		hreport_text(l);
	if (c->verbose)
		hreport_verbose(l, ms, rounds, first - l->n);
	first = l->n;
	vmt_hook_list_free(l);
	err = hidden_text(c);
	return err < 0 ? err : (int)first + err;
}

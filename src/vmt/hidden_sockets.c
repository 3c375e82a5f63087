// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * hidden_sockets.c - `vmt hidden`'s sockets check: the sockets the
 * processes hold against the protocol tables (vmt_socket_views()).
 *
 * A finding is a held sock whose state says a table must hold it and that
 * table lacks it; or the tables themselves broken (a chain abandoned: what
 * a clumsy unlink leaves), when missing from them proves nothing.  A table
 * entry no process holds is normal and never reported.
 *
 * Re-checks: a finding (same sock address, missing from the same table)
 * must be there again in each of c->rechecks fresh listings.  A socket
 * opened or closed between reading the fd tables and the hash tables
 * clears at the first re-check.
 */
#include <errno.h>
#include <json-c/json.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "hidden.h"

struct sround {
	struct vmt_sock_views *v;
	struct vmt_sock_held *f; /* the findings: held, missing from h->must */
	size_t n;
	bool broken;
	double ms; /* the listing's time (fd tables and hash tables) */
};

static void sround_free(struct sround *r)
{
	vmt_sock_views_free(r->v);
	free(r->f);
	memset(r, 0, sizeof(*r));
}

static int sround_read(struct hidden_ctx *c, struct sround *r)
{
	int err;

	memset(r, 0, sizeof(*r));
	r->ms = cli_now_ms();
	vmt_listing_begin(c->g);
	err = vmt_socket_views(c->g, &r->v);
	vmt_listing_end(c->g);
	r->ms = cli_now_ms() - r->ms;
	if (err)
		return err;
	r->broken = r->v->tables_broken;
	r->f = calloc(r->v->n + 1, sizeof(*r->f));
	if (!r->f)
		return -ENOMEM;
	for (size_t i = 0; i < r->v->n && !r->broken; i++) {
		const struct vmt_sock_held *h = &r->v->socks[i];

		if (h->missing)
			r->f[r->n++] = *h;
	}
	return 0;
}

/* Keep in old what new has too: the same sock, missing from the same table. */
static void sround_keep(struct sround *old, const struct sround *new)
{
	size_t out = 0;

	for (size_t i = 0; i < old->n; i++)
		for (size_t j = 0; j < new->n; j++)
			if (new->f[j].sk == old->f[i].sk &&new->f[j].must ==
			    old->f[i].must &&new->f[j].inode == old->f[i].inode) {
				old->f[out++] = new->f[j];
				break;
			}
	old->n = out;
	old->broken = old->broken && new->broken;
}

static const char *family_name(unsigned family)
{
	return family == 1 ? "unix" : family == 2 ? "inet" : family == 10 ? "inet6" : "other";
}

static void sock_desc(const struct vmt_sock_held *h, char *buf, size_t cap)
{
	if (h->family == 1)
		snprintf(buf, cap, "unix %s", h->path[0] ? h->path : "(bound)");
	else
		snprintf(buf, cap, "%s %s port %u state %d", family_name(h->family),
			 h->protocol == 6 ? "tcp" : "udp", h->lport, h->state);
}

static void report_text(const struct sround *r)
{
	char d[160];

	for (size_t i = 0; i < r->n; i++) {
		const struct vmt_sock_held *h = &r->f[i];

		sock_desc(h, d, sizeof(d));
		printf("hidden socket: inode %llu (%s) at 0x%llx held by pid %d (%s) fd %d: seen "
		       "by fds; missing from %s\n",
		       (unsigned long long)h->inode, d, (unsigned long long)h->sk, h->pid, h->comm,
		       h->fd, vmt_sock_view_name(h->must));
	}
	if (r->broken)
		printf("broken view: socket tables: %u hash chains abandoned\n", r->v->bad_chains);
}

static json_object *held_json(const struct vmt_sock_held *h)
{
	json_object *j = json_object_new_object();
	json_object *seen = cli_views_json(h->seen_by, VMT_SOCKV_COUNT, vmt_sock_view_name);

	json_object_object_add(j, "inode", json_object_new_uint64(h->inode));
	json_object_object_add(j, "kva", json_object_new_uint64(h->sk));
	json_object_object_add(j, "family", json_object_new_string(family_name(h->family)));
	json_object_object_add(j, "type", json_object_new_int(h->type));
	json_object_object_add(j, "protocol", json_object_new_int(h->protocol));
	json_object_object_add(j, "state", json_object_new_int(h->state));
	json_object_object_add(j, "port", json_object_new_int(h->lport));
	json_object_object_add(j, "path", h->path[0] ? json_object_new_string(h->path) : NULL);
	json_object_object_add(j, "pid", json_object_new_int(h->pid));
	json_object_object_add(j, "comm", json_object_new_string(h->comm));
	json_object_object_add(j, "fd", json_object_new_int(h->fd));
	json_object_object_add(j, "seen_by", seen);
	json_object_object_add(
	    j, "must_be_in", h->must ? json_object_new_string(vmt_sock_view_name(h->must)) : NULL);
	return j;
}

/* -v: every held socket of the last listing, judged or not (what the fd view saw). */
static json_object *held_all_json(const struct vmt_sock_views *v)
{
	json_object *a = json_object_new_array();

	for (size_t i = 0; i < v->n; i++)
		json_object_array_add(a, held_json(&v->socks[i]));
	return a;
}

static json_object *report_json(const struct hidden_ctx *c, const struct sround *r, unsigned rounds,
				size_t cleared)
{
	json_object *o = json_object_new_object(), *a = json_object_new_array();
	json_object *views = json_object_new_object();
	unsigned judged = 0;

	for (size_t i = 0; i < r->n; i++) {
		json_object *j = held_json(&r->f[i]);

		json_object_object_add(j, "missing_from",
				       json_object_new_string(vmt_sock_view_name(r->f[i].must)));
		json_object_array_add(a, j);
	}
	for (size_t i = 0; i < r->v->n; i++)
		judged += r->v->socks[i].must != 0;
	for (unsigned b = 0; b < VMT_SOCKV_COUNT; b++)
		json_object_object_add(views, vmt_sock_view_name(1u << b),
				       json_object_new_int64(r->v->view_n[b]));
	json_object_object_add(o, "discrepancies", a);
	json_object_object_add(o, "tables_broken", json_object_new_boolean(r->broken));
	json_object_object_add(o, "bad_chains", json_object_new_int64(r->v->bad_chains));
	json_object_object_add(o, "views", views);
	json_object_object_add(o, "tasks_read", json_object_new_int64(r->v->tasks_read));
	json_object_object_add(o, "tasks_partial", json_object_new_int64(r->v->tasks_partial));
	json_object_object_add(o, "unreadable", json_object_new_int64(r->v->unreadable));
	json_object_object_add(o, "truncated", json_object_new_boolean(r->v->truncated));
	json_object_object_add(o, "judged", json_object_new_int64(judged));
	json_object_object_add(o, "listing_ms", json_object_new_double(r->ms));
	if (c->verbose)
		json_object_object_add(o, "held", held_all_json(r->v));
	json_object_object_add(o, "listings", json_object_new_int((int)rounds));
	json_object_object_add(o, "cleared_by_recheck", json_object_new_uint64(cleared));
	return o;
}

static void report_verbose(const struct sround *r, unsigned rounds, size_t cleared)
{
	const struct vmt_sock_views *v = r->v;

	fprintf(stderr, "vmt: hidden: sockets: %u fd tables read (%u partial) in %.1f ms; views:",
		v->tasks_read, v->tasks_partial, r->ms);
	for (unsigned b = 0; b < VMT_SOCKV_COUNT; b++)
		fprintf(stderr, " %s %u", vmt_sock_view_name(1u << b), v->view_n[b]);
	fprintf(stderr,
		"\nvmt: hidden: sockets: %u unreadable socks not judged; tables %s (%u chains "
		"abandoned); %u listing(s); %zu discrepancies cleared by re-checks\n",
		v->unreadable, v->tables_broken ? "broken" : "whole", v->bad_chains, rounds,
		cleared);
}

int hidden_sockets(struct hidden_ctx *c)
{
	struct sround r, next;
	unsigned rounds = 1;
	size_t first;
	int err = sround_read(c, &r), n;

	first = r.n + r.broken;
	for (unsigned i = 0; !err && i < c->rechecks && (r.n || r.broken); i++) {
		hidden_recheck_wait(c);
		err = sround_read(c, &next);
		if (!err) {
			rounds++;
			sround_keep(&r, &next);
			vmt_sock_views_free(r.v); /* the report's counts are the last listing's */
			r.v = next.v;
			r.ms = next.ms;
			next.v = NULL;
		}
		sround_free(&next);
	}
	if (err) {
		sround_free(&r);
		return err;
	}
	n = (int)(r.n + r.broken);
	if (c->json)
		json_object_object_add(c->out, "sockets",
				       report_json(c, &r, rounds, first - (size_t)n));
	else
		report_text(&r);
	if (c->verbose)
		report_verbose(&r, rounds, first - (size_t)n);
	sround_free(&r);
	return n;
}

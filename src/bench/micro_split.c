// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * micro_split.c - section split: split-migration time per guest size
 * beside its limit, the bytes on the busiest link / the link's rate (as
 * bench/bench_split.sh reports it), and the downtime.  Each point is a
 * fresh guest booted, filled (so half of it really goes over the links)
 * and split by instance.c: half kept on the main host, the rest over two
 * sub-hosts, policy address, 64K chunks.
 */
#include <errno.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench/micro.h"
#include "pagetable/pagetable.h"

#define SPLIT_SUBHOSTS 2
#define MAX_REPS       16

struct split_pt {
	double total[MAX_REPS], copy[MAX_REPS], down[MAX_REPS], limit[MAX_REPS];
	unsigned n;
};

static double jnum(struct json_object *o, const char *k)
{
	struct json_object *v;

	return json_object_object_get_ex(o, k, &v) ? json_object_get_double(v) : -1;
}

/* The split's own times from its --json (instance.c keeps it as "split"). */
static int take_split(struct micro_ctx *c, struct split_pt *p)
{
	struct json_object *j, *hosts;
	double busiest = 0;

	if (!c->b.cur || !json_object_object_get_ex(c->b.cur, "split", &j) ||
	    !json_object_object_get_ex(j, "hosts", &hosts))
		return bench_fail(-EPROTO, "vmt split --json: no hosts");
	for (size_t i = 0; i < json_object_array_length(hosts); i++) {
		double b = jnum(json_object_array_get_idx(hosts, i), "bytes");

		busiest = b > busiest ? b : busiest;
	}
	if (c->link_mbs <= 0 || busiest <= 0)
		return bench_fail(-EPROTO, "split: no link rate or nothing sent");
	p->total[p->n] = jnum(j, "total_ms") / 1e3;
	p->copy[p->n] = jnum(j, "copy_ms") / 1e3;
	p->down[p->n] = jnum(j, "downtime_ms") / 1e3;
	p->limit[p->n] = busiest / (c->link_mbs * 1e6);
	p->n++;
	return 0;
}

static int split_rows(struct micro_ctx *c, uint64_t size, struct split_pt *p)
{
	int lim = micro_add(c->r, "split", "split_limit_s", size, "s", true, p->limit, p->n);
	int t = micro_add(c->r, "split", "split_total_s", size, "s", false, p->total, p->n);
	int cp = micro_add(c->r, "split", "split_copy_s", size, "s", false, p->copy, p->n);
	int d = micro_add(c->r, "split", "split_downtime_s", size, "s", false, p->down, p->n);

	if (lim < 0 || t < 0 || cp < 0 || d < 0)
		return -ENOMEM;
	micro_set_limit(c->r, t, lim);
	micro_set_limit(c->r, cp, lim);
	micro_set_limit(c->r, d, lim);
	return 0;
}

/* reps fresh guests of one size, each booted, filled, split, stopped. */
static int one_size(struct micro_ctx *c, const char *mem)
{
	struct split_pt p = {0};
	uint64_t size;
	int err = 0;

	if (vmt_pt_parse_size(mem, &size) || size < (256u << 20))
		return bench_fail(-EINVAL, "split: bad guest size '%s'", mem);
	snprintf(c->split_main, sizeof(c->split_main), "%lluM", (unsigned long long)(size >> 21));
	c->b.mem = mem;
	c->b.main_mem = c->split_main;
	for (unsigned i = 0; !err && i < c->o->split_reps && i < MAX_REPS; i++) {
		micro_step(c, "split: %s guest, repetition %u", mem, i + 1);
		err = bench_inst_start(&c->b);
		if (!err)
			err = bench_inst_split(&c->b, 0);
		if (!err)
			err = take_split(c, &p);
		bench_inst_stop(&c->b);
		c->b.instance++;
	}
	return err ? err : split_rows(c, size, &p);
}

int micro_split_run(struct micro_ctx *c)
{
	uint64_t big = 0, v;
	char cap[32];
	int err;

	for (unsigned i = 0; i < c->o->nr_sizes; i++)
		if (!vmt_pt_parse_size(c->o->sizes[i], &v) && v > big)
			big = v;
	snprintf(cap, sizeof(cap), "%lluM", (unsigned long long)(big >> 20));
	err = micro_hosts_up(c, SPLIT_SUBHOSTS, cap);
	for (unsigned i = 0; !err && i < c->o->nr_sizes; i++)
		err = one_size(c, c->o->sizes[i]);
	bench_inst_stop(&c->b);
	bench_inst_hosts_down(&c->b);
	return err;
}

// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * micro.c - `vmt bench micro`: the sections asked for, in order mem, nbd,
 * pager, split.  nbd and pager share one set of hosts (`vmt hosts up`, one
 * sub-host behind the link) and one export on it (`vmt subhost start`,
 * TLS-PSK, filled with data first so that reads fetch real bytes); split
 * makes its own.  Everything made here is undone here, on every path.
 */
#include <errno.h>
#include <json-c/json.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench/micro.h"
#include "subhost/subhost.h"

void micro_step(struct micro_ctx *c, const char *fmt, ...)
{
	char line[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	c->b.done += c->b.done < c->b.total;
	bench_inst_progress(&c->b, "%s", line);
}

static unsigned count_steps(const struct bench_micro_opts *o)
{
	unsigned n = 0;

	if (o->sections & MICRO_MEM)
		n++;
	if (o->sections & (MICRO_NBD | MICRO_PAGER))
		n += 2; /* hosts up, the export filled */
	if (o->sections & MICRO_NBD)
		n += o->nr_chunks + 1;
	if (o->sections & MICRO_PAGER)
		n += o->nr_chunks + 1;
	if (o->sections & MICRO_SPLIT)
		n += 1 + o->nr_sizes * o->split_reps; /* hosts up, each guest */
	return n;
}

/* "1Gbit", "100Mbit", "50Mbps" (tc's words) in MB/s; 0 none or unknown. */
static double rate_mbs(const char *s)
{
	char *end;
	double v = s ? strtod(s, &end) : 0;
	double mul = 1;

	if (!s || end == s)
		return 0;
	if (*end == 'K' || *end == 'k')
		mul = 1e3, end++;
	else if (*end == 'M' || *end == 'm')
		mul = 1e6, end++;
	else if (*end == 'G' || *end == 'g')
		mul = 1e9, end++;
	if (!strcmp(end, "bit"))
		return v * mul / 8 / 1e6;
	if (!strcmp(end, "bps"))
		return v * mul / 1e6;
	return 0;
}

static const char *js(struct json_object *o, const char *k)
{
	struct json_object *v;

	return json_object_object_get_ex(o, k, &v) ? json_object_get_string(v) : "";
}

int micro_hosts_up(struct micro_ctx *c, unsigned nsub, const char *capacity)
{
	struct json_object *j = NULL, *subs, *s0;
	struct bench_out out;
	int err;

	c->b.subhosts = nsub;
	c->b.capacity = capacity;
	c->b.done += c->b.done < c->b.total;
	err = bench_inst_hosts_up(&c->b);
	if (!err)
		err = bench_inst_vmt(&c->b, 60, false, &out, "hosts", "show", "--prefix",
				     c->o->prefix, "--json", NULL);
	if (err)
		return err;
	if (!(j = json_tokener_parse(out.out)))
		err = bench_fail(-EPROTO, "vmt hosts show --json: not JSON");
	if (!err && (!json_object_object_get_ex(j, "subhosts", &subs) ||
		     !(s0 = json_object_array_get_idx(subs, 0))))
		err = bench_fail(-EPROTO, "vmt hosts show --json: no sub-host");
	if (!err) {
		snprintf(c->main_ns, sizeof(c->main_ns), "%s", js(j, "main_netns"));
		snprintf(c->sub_ns, sizeof(c->sub_ns), "%s", js(s0, "netns"));
		snprintf(c->sub_ip, sizeof(c->sub_ip), "%s", js(s0, "addr"));
		c->link_mbs = rate_mbs(js(s0, "rate_main"));
	}
	json_object_put(j);
	bench_out_free(&out);
	return err;
}

/* Fill the export (holes would be answered without reading anything). */
static int export_fill(struct micro_ctx *c)
{
	struct vmt_subhost_opts so = {.sz = sizeof(so),
				      .addr = c->nbd_addr,
				      .export_name = c->export_name,
				      .psk_file = c->psk,
				      .io_timeout_ms = 30000};
	struct vmt_subhost *s = NULL;
	unsigned char *buf = malloc(1u << 20);
	int back, err = buf ? 0 : -ENOMEM;

	micro_step(c, "export %s: filling %llu MiB", c->nbd_addr,
		   (unsigned long long)(c->export_size >> 20));
	for (size_t i = 0; buf && i < (1u << 20); i++)
		buf[i] = (unsigned char)(i * 131 + 7);
	if (!err && !(err = micro_netns_enter(c->main_ns, &back))) {
		err = vmt_subhost_connect(&so, &s);
		micro_netns_leave(back);
		if (err)
			bench_fail(err, "connect %s: %s", c->nbd_addr, vmt_subhost_last_error());
	}
	for (uint64_t off = 0; !err && off < c->export_size; off += 1u << 20) {
		buf[0] = (unsigned char)(off >> 20);
		err = bench_stop ? -EINTR : vmt_subhost_pwrite(s, buf, 1u << 20, off);
	}
	if (!err)
		err = vmt_subhost_flush(s);
	if (err && err != -EINTR && s)
		bench_fail(err, "filling the export: %s", vmt_subhost_error(s));
	vmt_subhost_close(s);
	free(buf);
	return err;
}

static int export_start(struct micro_ctx *c)
{
	const struct bench_micro_opts *o = c->o;
	char size[32];
	struct bench_out out;
	int err;

	snprintf(c->psk, sizeof(c->psk), "%s/key.psk", o->tmp);
	snprintf(c->export_name, sizeof(c->export_name), "%s-nbd", o->shm_tag);
	c->export_size = o->pager_ram > (64u << 20) ? o->pager_ram : (64u << 20);
	snprintf(size, sizeof(size), "%llu", (unsigned long long)c->export_size);
	err = bench_inst_vmt(&c->b, 30, false, NULL, "subhost", "key", "--out", c->psk, NULL);
	if (err)
		return err;
	err = bench_inst_vmt(&c->b, 60, false, &out, "subhost", "start", "--prefix", o->prefix,
			     "--on", "sub1", "--vm", c->export_name, "--size", size, "--psk",
			     c->psk, NULL);
	if (err)
		return err;
	if (sscanf(out.out, "%63s", c->nbd_addr) != 1)
		err = bench_fail(-EPROTO, "vmt subhost start: no address in '%s'", out.out);
	bench_out_free(&out);
	return err ? err : export_fill(c);
}

static void hosts_down(struct micro_ctx *c)
{
	if (c->nbd_addr[0])
		bench_inst_vmt(&c->b, 60, true, NULL, "subhost", "stop", "--vm", c->export_name,
			       "--on", "sub1", "--prefix", c->o->prefix, NULL);
	c->nbd_addr[0] = '\0';
	bench_inst_hosts_down(&c->b);
}

static void note_hosts(struct micro_ctx *c)
{
	struct json_object *h = json_object_new_object();

	json_object_object_add(h, "prefix", json_object_new_string(c->o->prefix));
	json_object_object_add(h, "main_netns", json_object_new_string(c->main_ns));
	json_object_object_add(h, "sub_netns", json_object_new_string(c->sub_ns));
	json_object_object_add(h, "export", json_object_new_string(c->nbd_addr));
	json_object_object_add(h, "export_bytes", json_object_new_int64((int64_t)c->export_size));
	json_object_object_add(h, "link", json_object_new_string(c->o->link));
	json_object_object_add(h, "link_tc_mbs", json_object_new_double(c->link_mbs));
	json_object_object_add(h, "tls", json_object_new_string("TLS-PSK"));
	json_object_object_add(c->r->meta, "hosts", h);
}

/* Sections nbd and pager on one set of hosts. */
static int net_sections(struct micro_ctx *c)
{
	int err = micro_hosts_up(c, 1, "2G");

	if (!err)
		err = export_start(c);
	if (!err)
		note_hosts(c);
	if (!err && (c->o->sections & MICRO_NBD))
		err = micro_nbd_run(c);
	if (!err && (c->o->sections & MICRO_PAGER))
		err = micro_pager_run(c);
	hosts_down(c);
	return err;
}

int bench_micro_run(const struct bench_micro_opts *o, struct micro_results *r)
{
	struct micro_ctx *c = calloc(1, sizeof(*c));
	struct json_object *inst;
	int err;

	if (!c || bench_results_init(&c->br)) {
		free(c);
		return -ENOMEM;
	}
	c->o = o;
	c->r = r;
	c->b = (struct bench_inst){.vmt = o->vmt,
				   .prefix = o->prefix,
				   .tag = "mi",
				   .subnet = o->subnet,
				   .link = o->link,
				   .pt_chunk = "64K",
				   .policy = "address",
				   .fill_reserve_mib = 64,
				   .procs = 10,
				   .r = &c->br,
				   .progress = o->progress,
				   .arg = o->arg,
				   .total = count_steps(o)};
	err = bench_inst_init(&c->b);
	if (!err && (o->sections & MICRO_MEM))
		err = micro_mem_run(c);
	if (!err && !bench_stop && (o->sections & (MICRO_NBD | MICRO_PAGER)))
		err = net_sections(c);
	if (!err && !bench_stop && (o->sections & MICRO_SPLIT))
		err = micro_split_run(c);
	bench_inst_finish(&c->b);
	if (json_object_object_get_ex(c->br.meta, "instances", &inst) &&
	    json_object_array_length(inst))
		json_object_object_add(r->meta, "instances", json_object_get(inst));
	bench_results_free(&c->br);
	free(c);
	if (bench_stop || err == -EINTR) /* a child stopped by the same Ctrl-C fails too */
		err = bench_fail(-EINTR, "stopped");
	return err;
}

// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * micro_pager.c - section pager: fault to resume through libvmt-pager.so
 * (no QEMU: a child of ours maps the memory file; pager_probe.c) per chunk
 * size, the chunks on the sub-host of section nbd's hosts, beside a plain
 * 4 KB NBD read on the same link, spaced like the faults (the issue's
 * limit: <= 1.5x at 4K), and a plain NBD read of the whole chunk.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench/micro.h"
#include "bench/pager_probe.h"
#include "split/split_int.h"
#include "subhost/subhost.h"

#define GAP_NS(chunk) (2000000ull + (chunk)*20) /* as the child's faults are spaced */

/* Plain NBD reads, spaced like the faults: 4K (the limit) and each chunk. */
static int nbd_baselines(struct micro_ctx *c, struct pager_probe *p, int *lim4k)
{
	struct vmt_subhost_opts so = {.sz = sizeof(so),
				      .addr = c->nbd_addr,
				      .export_name = c->export_name,
				      .psk_file = c->psk,
				      .io_timeout_ms = 30000};
	unsigned n = c->o->samples * c->o->reps;
	double *v = calloc(n, sizeof(*v));
	struct vmt_subhost *s = NULL;
	int back, err = v ? 0 : -ENOMEM;

	micro_step(c, "pager: plain NBD reads, 4K and each chunk, spaced as the faults");
	if (!err)
		err = micro_netns_enter(c->main_ns, &back);
	if (!err) {
		err = vmt_subhost_connect(&so, &s);
		micro_netns_leave(back);
		if (err)
			bench_fail(err, "connect %s: %s", c->nbd_addr, vmt_subhost_last_error());
	}
	if (!err)
		err = pager_probe_nbd_us(s, p->ram, 4096, GAP_NS(4096), n, v);
	if (!err)
		*lim4k = micro_add(c->r, "pager", "nbd_read_4k_spaced", 4096, "us", true, v, n);
	for (unsigned k = 0; !err && k < c->o->nr_chunks; k++) {
		uint64_t ch = c->o->chunks[k];
		unsigned m = (unsigned)(p->ram / ch) < c->o->samples ? (unsigned)(p->ram / ch)
								     : c->o->samples;

		err = pager_probe_nbd_us(s, p->ram, ch, GAP_NS(ch), m, v);
		if (!err)
			micro_add(c->r, "pager", "nbd_read_chunk_spaced", ch, "us", true, v, m);
	}
	vmt_subhost_close(s);
	free(v);
	return err;
}

/* reps child runs at one chunk size; their samples together in one row. */
static int fault_row(struct micro_ctx *c, struct pager_probe *p, uint64_t chunk, int lim4k)
{
	unsigned reps = c->o->reps, total = 0;
	double *all = calloc((size_t)reps * p->samples + 1, sizeof(*all)), own[64];
	int err = all ? 0 : -ENOMEM, f;

	micro_step(c, "pager: fault to resume, %llu KiB chunks, %u runs",
		   (unsigned long long)(chunk >> 10), reps);
	for (unsigned i = 0; !err && i < reps && i < 64; i++) {
		double *us;
		unsigned n;

		err = bench_stop ? -EINTR : pager_probe_fault(p, chunk, &us, &n, &own[i]);
		if (err)
			break;
		memcpy(all + total, us, n * sizeof(*us));
		total += n;
		free(us);
	}
	if (!err) {
		f = micro_add(c->r, "pager", "pager_fault_latency", chunk, "us", false, all, total);
		micro_set_limit(c->r, f, lim4k);
		/* the pager's own part: read fault .. page installed (its STATS) */
		f = micro_add(c->r, "pager", "pager_own_pagein_p50", chunk, "us", false, own,
			      reps < 64 ? reps : 64);
		micro_set_limit(c->r, f, lim4k);
	}
	free(all);
	return err;
}

int micro_pager_run(struct micro_ctx *c)
{
	const char *child[] = {c->o->vmt, "bench", "micro", "--pager-child", NULL};
	char so[PATH_MAX], mem[256];
	struct pager_probe p = {.addr = c->nbd_addr,
				.export_name = c->export_name,
				.psk = c->psk,
				.pager_so = so,
				.tail = "after",
				.netns = c->main_ns,
				.mem = mem,
				.child_argv = child,
				.ram = c->o->pager_ram,
				.samples = c->o->samples};
	int err, lim4k = -1;

	snprintf(mem, sizeof(mem), "/dev/shm/%s-pager.ram", c->o->shm_tag);
	if (p.ram > c->export_size)
		p.ram = c->export_size;
	err = split_find_pager(so, sizeof(so));
	if (err)
		return bench_fail(err, "libvmt-pager.so not found next to vmt (or VMT_PAGER)");
	err = pager_probe_init(&p);
	if (!err)
		err = nbd_baselines(c, &p, &lim4k);
	for (unsigned k = 0; !err && k < c->o->nr_chunks; k++)
		err = fault_row(c, &p, c->o->chunks[k], lim4k);
	pager_probe_fini(&p);
	return err;
}

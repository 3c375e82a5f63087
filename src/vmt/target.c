// SPDX-License-Identifier: LGPL-2.1-or-later
/* target.c - turn --vm / --mem [--kernel] into an open guest. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "hosts/hosts.h"
#include "pagetable/pagetable.h"
#include "vmctl/vm.h"

bool cli_target_opt(struct cli_target *t, int opt, const char *arg)
{
	switch (opt) {
	case OPT_VM:
		t->vm = arg;
		return true;
	case OPT_MEM:
		t->mem = arg;
		return true;
	case OPT_KERNEL:
		t->kernel = arg;
		return true;
	case OPT_CACHE_DIR:
		t->cache_dir = arg;
		return true;
	case OPT_SYSTEM_MAP:
		t->system_map = arg;
		return true;
	case OPT_MACHINE:
		t->machine = arg;
		return true;
	case OPT_PAGETABLE:
		t->pagetable = arg;
		return true;
	case OPT_JSON:
		t->json = true;
		return true;
	case OPT_STATS:
		t->stats = true;
		return true;
	case OPT_PAUSE:
		t->pause = true;
		return true;
	case OPT_FETCH:
		t->fetch = arg;
		return true;
	case OPT_CHUNK:
		t->chunk = arg;
		return true;
	case OPT_FETCH_CACHE:
		t->fetch_cache = arg;
		return true;
	case OPT_WHOLE_CHUNKS:
		t->whole_chunks = true;
		return true;
	case OPT_PSK:
		t->psk = arg;
		return true;
	case OPT_FROM:
		t->from = arg;
		return true;
	}
	return false;
}

double cli_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* "runtime" / "vm" / "none" (or "" = runtime) as enum vmt_fetch_method; -1 if neither. */
static int fetch_method_of(const char *s)
{
	if (!s || !*s || !strcmp(s, "runtime"))
		return VMT_FETCH_RUNTIME;
	if (!strcmp(s, "vm"))
		return VMT_FETCH_VM;
	if (!strcmp(s, "none"))
		return VMT_FETCH_NONE;
	return -1;
}

/* The fetch options, checked: usage errors are said here, before opening. */
static int cli_fetch_check(const char *cmd, const struct cli_target *t)
{
	uint64_t v;

	if (t->fetch && fetch_method_of(t->fetch) < 0) {
		cli_err(cmd, "--fetch takes runtime, vm or none, not '%s'", t->fetch);
		return EXIT_USAGE;
	}
	if (t->chunk && (vmt_pt_parse_size(t->chunk, &v) || vmt_pt_chunk_shift_of(v) < 0)) {
		cli_err(cmd, "--chunk takes a power of two from 4K to 2M, not '%s'", t->chunk);
		return EXIT_USAGE;
	}
	if (t->fetch_cache && (vmt_pt_parse_size(t->fetch_cache, &v) || v < 4096)) {
		cli_err(cmd, "--fetch-cache takes a size of at least 4K, not '%s'", t->fetch_cache);
		return EXIT_USAGE;
	}
	return EXIT_OK;
}

/* --from: what the local host cannot give (its memory file, its pager) is a usage error. */
static int cli_target_from_check(const char *cmd, const struct cli_target *t)
{
	const char *bad = t->mem	 ? "--mem"
			  : t->pagetable ? "--pagetable"
			  : t->pause	 ? "--pause"
					 : NULL;

	if (bad) {
		cli_err(cmd, "%s reads this host; --from reads the main host's export", bad);
		return EXIT_USAGE;
	}
	if (t->fetch && !strcmp(t->fetch, "vm")) {
		cli_err(cmd, "--fetch vm asks the VM's pager, whose socket is on the main host: "
			     "with --from use runtime (or none)");
		return EXIT_USAGE;
	}
	return cli_fetch_check(cmd, t);
}

int cli_target_check(const char *cmd, const struct cli_target *t)
{
	if (t->from)
		return cli_target_from_check(cmd, t);
	if (t->mem && t->vm) {
		cli_err(cmd, "give either --vm or --mem/--kernel, not both");
		return EXIT_USAGE;
	}
	if (t->pause && t->mem) {
		cli_err(cmd, "--pause needs --vm: a --mem guest's QEMU is not vmt's to stop");
		return EXIT_USAGE;
	}
	if (t->machine && strcmp(t->machine, "pc") && strcmp(t->machine, "q35")) {
		cli_err(cmd, "--machine takes pc or q35, not '%s'", t->machine);
		return EXIT_USAGE;
	}
	return cli_fetch_check(cmd, t);
}

/*
 * Stop the VM's vCPUs until cli_target_close() -- if they run: a VM the user
 * paused stays paused, and is not resumed behind the user's back.
 */
static int cli_target_pause(const char *cmd, struct cli_target *t, const struct vmt_vm_desc *vm)
{
	char status[32];
	int err;

	err = vmt_vm_status(vm, status, sizeof(status));
	if (!err && strcmp(status, "running"))
		return 0;
	t->paused = malloc(sizeof(*vm));
	if (!t->paused)
		return -ENOMEM;
	*t->paused = *vm;
	if (!err)
		err = vmt_vm_pause(vm, true);
	if (err) {
		cli_err(cmd, "cannot pause VM '%s': %s", vm->name, vmt_last_error());
		free(t->paused);
		t->paused = NULL;
	}
	return err;
}

/*
 * Pages of a split VM that a listing needed and did not get: not read
 * (--fetch none) or a sub-host / the pager failed.  Say how many, so that
 * entries marked partial are explained, and fail the command.
 */
static int cli_target_remote_check(const struct cli_target *t, struct vmt_guest *g)
{
	struct vmt_mem_stats st = {.sz = sizeof(st)};
	int ret = EXIT_OK;

	if (!g)
		return EXIT_OK;
	vmt_mem_stats(g, &st);
	if (st.remote) {
		cli_err(t->cmd,
			"%llu guest page%s needed here live%s on sub-hosts and were not read "
			"(split VM, --fetch none): entries marked partial are incomplete",
			(unsigned long long)st.remote, st.remote == 1 ? "" : "s",
			st.remote == 1 ? "s" : "");
		ret = EXIT_FAIL;
	}
	if (st.fetch_errors) {
		cli_err(t->cmd,
			"%llu guest page%s on sub-hosts could not be fetched (%s): entries marked "
			"partial are incomplete",
			(unsigned long long)st.fetch_errors, st.fetch_errors == 1 ? "" : "s",
			vmt_last_error()[0] ? vmt_last_error() : "sub-host or pager failed");
		ret = EXIT_FAIL;
	}
	return ret;
}

int cli_target_close(struct cli_target *t, struct vmt_guest *g)
{
	int ret = cli_target_remote_check(t, g);

	vmt_guest_close(g);
	if (!t->paused)
		return ret;
	if (vmt_vm_pause(t->paused, false))
		fprintf(stderr, "vmt: could not resume VM '%s': %s; run 'vmt vm resume %s'\n",
			t->paused->name, vmt_last_error(), t->paused->name);
	free(t->paused);
	t->paused = NULL;
	return ret;
}

/* What the VM descriptor records about reading its split memory. */
static void cli_target_split_defaults(struct vmt_guest_opts *o, const struct vmt_vm_split *s)
{
	o->fetch = fetch_method_of(s->fetch);
	if (o->fetch < 0)
		o->fetch = VMT_FETCH_RUNTIME;
	if (vmt_pt_chunk_shift_of(s->fetch_chunk) >= 0)
		o->fetch_chunk = s->fetch_chunk;
	o->psk_file = s->psk_file[0] ? s->psk_file : NULL;
	o->insecure = s->insecure;
	o->pager_sock = s->pager_sock[0] ? s->pager_sock : NULL;
}

/* The command line wins over the descriptor (values were checked by cli_fetch_check). */
static void cli_target_fetch_opts(struct cli_target *t, struct vmt_guest_opts *o)
{
	uint64_t v;

	t->split = o->pagetable_path != NULL;
	if (t->mem && t->split)
		o->fetch = t->psk ? VMT_FETCH_RUNTIME : VMT_FETCH_NONE;
	if (t->fetch)
		o->fetch = fetch_method_of(t->fetch);
	if (t->chunk && !vmt_pt_parse_size(t->chunk, &v))
		o->fetch_chunk = v;
	if (t->fetch_cache && !vmt_pt_parse_size(t->fetch_cache, &v))
		o->fetch_cache_bytes = v;
	o->fetch_whole = t->whole_chunks;
	if (t->psk)
		o->psk_file = t->psk;
}

/*
 * The sub-hosts' addresses are the main host's view: a VM that `vmt split`
 * put in a main-host namespace is read from inside it, or its sub-hosts'
 * addresses would go out through this host's default route.
 */
static int cli_target_netns(const char *cmd, struct cli_target *t, const struct vmt_guest_opts *o,
			    const struct vmt_vm_desc *vm)
{
	if (!t->split || o->fetch != VMT_FETCH_RUNTIME || !vm->split.main_netns[0])
		return 0;
	if (vmt_netns_enter(vm->split.main_netns)) {
		cli_err(cmd, "cannot read sub-hosts from the main host's namespace: %s",
			vmt_last_error());
		cli_target_close(t, NULL);
		return -1;
	}
	return 0;
}

/*
 * The key of a --from read: --psk, else the export's as this host's
 * descriptor of the VM records it (when the reader runs beside the VM).
 */
static const char *cli_target_remote_key(const struct cli_target *t, struct vmt_vm_desc *vm)
{
	if (t->psk)
		return t->psk;
	if (t->vm && !vmt_vm_load(t->vm, vm) && vm->export.on)
		return vm->export.psk_file;
	return NULL;
}

/* The IDS on another host: every page over NBD from the main host's export. */
static struct vmt_guest *cli_target_open_remote(const char *cmd, struct cli_target *t)
{
	struct vmt_guest_opts o = {.sz = sizeof(o)};
	struct vmt_vm_desc vm;
	struct vmt_guest *g;
	uint64_t v;

	if (cli_target_from_check(cmd, t))
		return NULL;
	o.psk_file = cli_target_remote_key(t, &vm);
	if (!o.psk_file) {
		cli_err(cmd, "--from needs the VM's key: --psk FILE");
		return NULL;
	}
	o.from = t->from;
	o.from_vm = t->vm;
	o.kernel_path = t->kernel;
	o.machine = t->machine;
	o.cache_dir = t->cache_dir;
	o.system_map = t->system_map;
	o.fetch = t->fetch ? fetch_method_of(t->fetch) : VMT_FETCH_RUNTIME;
	if (t->chunk && !vmt_pt_parse_size(t->chunk, &v))
		o.fetch_chunk = v;
	if (t->fetch_cache && !vmt_pt_parse_size(t->fetch_cache, &v))
		o.fetch_cache_bytes = v;
	o.fetch_whole = t->whole_chunks;
	t->split = true; /* --stats: where the pages came from */
	g = vmt_guest_open(&o);
	if (!g)
		cli_err(cmd, "%s", vmt_last_error()[0] ? vmt_last_error() : strerror(errno));
	return g;
}

struct vmt_guest *cli_target_open(const char *cmd, struct cli_target *t)
{
	struct vmt_guest_opts o = {.sz = sizeof(o)};
	struct vmt_vm_desc vm;
	struct vmt_guest *g;
	int err;

	t->cmd = cmd;
	if (t->from)
		return cli_target_open_remote(cmd, t);
	if (cli_target_check(cmd, t))
		return NULL;
	o.pagetable_path = t->pagetable;
	if (t->mem) {
		o.mem_path = t->mem;
		o.kernel_path = t->kernel;
		o.machine = t->machine;
	} else {
		err = vmt_vm_load(t->vm ? t->vm : "vmt", &vm);
		if (err) {
			cli_err(cmd, "%s", vmt_last_error()[0] ? vmt_last_error() : strerror(-err));
			return NULL;
		}
		o.mem_path = vm.mem_path;
		/* No kernel path anywhere: the profile comes from the guest's memory. */
		o.kernel_path = t->kernel			? t->kernel
				: vm.kernel[0] && !t->no_kernel ? vm.kernel
								: NULL;
		o.machine = vm.machine;
		o.ram_size = vm.mem_bytes;
		/* A split VM is read through its page table unless the user names one. */
		if (!o.pagetable_path && vm.split.gen > 0 && vm.split.pagetable[0])
			o.pagetable_path = vm.split.pagetable;
		if (vm.split.gen > 0)
			cli_target_split_defaults(&o, &vm.split);
		if (t->pause && cli_target_pause(cmd, t, &vm))
			return NULL;
	}
	cli_target_fetch_opts(t, &o);
	if (!t->mem && cli_target_netns(cmd, t, &o, &vm))
		return NULL;
	o.cache_dir = t->cache_dir;
	o.system_map = t->system_map;
	g = vmt_guest_open(&o);
	if (!g) {
		cli_err(cmd, "%s: %s", o.mem_path,
			vmt_last_error()[0] ? vmt_last_error() : strerror(errno));
		cli_target_close(t, NULL);
	}
	return g;
}

/* --stats of a split VM: where its pages came from, per sub-host. */
static void cli_target_split_stats(const struct vmt_mem_stats *st)
{
	fprintf(stderr,
		"stats: split: pages local %llu, from sub-hosts %llu (fetch cache hits %llu), "
		"exact reads %llu, round trips %llu, waiting %.2f ms, retries %llu, errors %llu, "
		"fetch cache max %llu KiB\n",
		(unsigned long long)st->pages_local, (unsigned long long)st->pages_fetched,
		(unsigned long long)st->fetch_cache_hits, (unsigned long long)st->exact_reads,
		(unsigned long long)st->round_trips, st->wait_ns / 1e6,
		(unsigned long long)st->fetch_retries, (unsigned long long)st->fetch_errors,
		(unsigned long long)st->cache_bytes_max >> 10);
	for (unsigned k = 0; k < VMT_MAX_SUBHOSTS; k++) {
		if (!st->host_requests[k])
			continue;
		fprintf(stderr, "stats: sub-host %u: %llu requests, %llu chunks, %llu bytes\n", k,
			(unsigned long long)st->host_requests[k],
			(unsigned long long)st->host_chunks[k],
			(unsigned long long)st->host_bytes[k]);
	}
}

void cli_target_stats(const struct cli_target *t, struct vmt_guest *g, double ms)
{
	struct vmt_mem_stats st = {.sz = sizeof(st)};

	if (!t->stats)
		return;
	vmt_mem_stats(g, &st);
	fprintf(stderr,
		"stats: %.2f ms, pages read %llu, cache hits %llu, tlb hits %llu, "
		"tlb misses %llu, evictions %llu, bytes copied %llu, pages on sub-hosts %llu\n",
		ms, (unsigned long long)st.pages_read, (unsigned long long)st.cache_hits,
		(unsigned long long)st.tlb_hits, (unsigned long long)st.tlb_misses,
		(unsigned long long)st.evictions, (unsigned long long)st.bytes_copied,
		(unsigned long long)st.remote);
	if (t->split)
		cli_target_split_stats(&st);
}

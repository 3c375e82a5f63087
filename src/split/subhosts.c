// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * subhosts.c - the sub-hosts of a split: names from `vmt hosts up` (an
 * export is started there for this VM, with a fresh key) or HOST:PORT
 * addresses of NBD servers someone else runs (the key is the caller's).
 * Each is connected (which proves it answers and that the key is right)
 * and asked for its room, before the source VM is touched.
 *
 * Named hosts are reachable only from the main host's namespace: the
 * connections are made from a thread that entered it (a socket stays in
 * the namespace it was made in, whichever thread uses it later).
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/internal.h"
#include "hosts/hosts.h"
#include "split/split_int.h"
#include "subhost/subhost.h"

struct conn_job {
	const char *netns;
	struct vmt_subhost_opts so;
	struct vmt_subhost *h;
	int err;
	char msg[256];
};

static void *conn_thread(void *arg)
{
	struct conn_job *j = arg;

	j->err = vmt_netns_enter(j->netns);
	if (j->err) {
		snprintf(j->msg, sizeof(j->msg), "cannot enter namespace %s: %s", j->netns,
			 vmt_last_error());
		return NULL;
	}
	j->err = vmt_subhost_connect(&j->so, &j->h);
	if (j->err)
		snprintf(j->msg, sizeof(j->msg), "%s", vmt_subhost_last_error());
	return NULL;
}

/* Connect to every host at once (from the main host's namespace when there is one). */
static int connect_hosts(struct split_ctx *c)
{
	struct conn_job j[VMT_SPLIT_MAX_HOSTS];
	pthread_t th[VMT_SPLIT_MAX_HOSTS];
	bool started[VMT_SPLIT_MAX_HOSTS] = {false};
	int r = 0;

	for (unsigned k = 0; k < c->sp.nr_hosts; k++) {
		struct vmt_vm_split_host *h = &c->sp.hosts[k];

		j[k] = (struct conn_job){.netns = c->sp.main_netns,
					 .so = {.sz = sizeof(j[k].so),
						.addr = h->addr,
						.export_name = h->export,
						.psk_file = c->sp.insecure ? NULL : c->sp.psk_file,
						.insecure = c->sp.insecure,
						.connect_timeout_ms = 5000,
						.io_timeout_ms = 30000}};
		started[k] = !pthread_create(&th[k], NULL, conn_thread, &j[k]);
		if (!started[k])
			j[k].err = -EAGAIN, snprintf(j[k].msg, sizeof(j[k].msg), "no thread");
	}
	for (unsigned k = 0; k < c->sp.nr_hosts; k++) {
		struct vmt_vm_split_host *h = &c->sp.hosts[k];

		if (started[k])
			pthread_join(th[k], NULL);
		c->conn[k] = j[k].h;
		if (r || !j[k].err)
			continue;
		if (j[k].err == -EACCES)
			r = vmt_error(
			    j[k].err, "sub-host %s (%s) refused the key%s: %s", h->name, h->addr,
			    c->sp.psk_file[0] ? "" : " (none given: --psk FILE or --insecure)",
			    j[k].msg);
		else
			r = vmt_error(j[k].err, "sub-host %s (%s) does not answer: %s", h->name,
				      h->addr, j[k].msg);
	}
	return r;
}

/* Room of an address host: its export must cover the VM's RAM offsets. */
static int room_addr(struct split_ctx *c, unsigned k)
{
	uint64_t size = vmt_subhost_size(c->conn[k]);

	if (size < c->p.ram_size)
		return vmt_error(-ENOSPC,
				 "sub-host %s lacks room: its export holds %llu MiB, the VM's RAM "
				 "offsets need %llu MiB",
				 c->sp.hosts[k].name, (unsigned long long)(size >> 20),
				 (unsigned long long)(c->p.ram_size >> 20));
	c->quota[k] = c->p.nr_chunks;
	return 0;
}

/* Start this VM's export on named sub-host k; its room is the store's free space. */
static int start_named(struct split_ctx *c, unsigned k)
{
	const struct vmt_hosts_sub *sub = vmt_hosts_sub_find(&c->hosts, c->sp.hosts[k].name);
	struct vmt_hosts_export_opts eo = {.sz = sizeof(eo),
					   .prefix = c->hosts.prefix,
					   .sub = c->sp.hosts[k].name,
					   .vm = c->vm.name,
					   .size = c->p.ram_size,
					   .psk_file = c->sp.insecure ? NULL : c->sp.psk_file,
					   .insecure = c->sp.insecure};
	struct vmt_hosts_export ex;
	uint64_t used = 0, room;
	int r;

	if (!sub)
		return vmt_error(-ENOENT, "no sub-host '%s' in hosts '%s' (see 'vmt hosts')",
				 c->sp.hosts[k].name, c->hosts.prefix);
	/* A stale export of a VM of this name (a split that crashed) has another key. */
	vmt_hosts_export_stop(c->hosts.prefix, sub->name, c->vm.name, false);
	r = vmt_hosts_export_start(&eo, &ex);
	if (r)
		return r;
	c->sp.hosts[k].ours = true;
	vmt_strlcpy(c->sp.hosts[k].addr, ex.addr, sizeof(c->sp.hosts[k].addr));
	vmt_strlcpy(c->sp.hosts[k].export, c->vm.name, sizeof(c->sp.hosts[k].export));
	vmt_hosts_store_used(sub->store, &used);
	room = c->hosts.capacity > used ? c->hosts.capacity - used : 0;
	c->quota[k] = VMT_MIN(room >> c->p.shift, c->p.nr_chunks);
	return 0;
}

static bool is_addr(const char *s)
{
	return strchr(s, ':') || strchr(s, '.');
}

static int parse_hosts(struct split_ctx *c)
{
	const struct vmt_split_opts *o = &c->o;
	bool named = false, addr = false;

	if (!o->nr_subhosts || o->nr_subhosts > VMT_SPLIT_MAX_HOSTS)
		return vmt_error(-EINVAL, "give 1 to %d sub-hosts", VMT_SPLIT_MAX_HOSTS);
	for (unsigned k = 0; k < o->nr_subhosts; k++) {
		const char *s = o->subhosts[k];
		char host[128];
		unsigned port;

		if (!s[0] || strlen(s) >= sizeof(c->sp.hosts[k].addr))
			return vmt_error(-EINVAL, "bad sub-host '%s'", s);
		for (unsigned m = 0; m < k; m++)
			if (!strcmp(o->subhosts[m], s))
				return vmt_error(-EINVAL, "sub-host %s given twice", s);
		vmt_strlcpy(c->sp.hosts[k].name, s, sizeof(c->sp.hosts[k].name));
		if (is_addr(s)) {
			if (vmt_subhost_parse_addr(s, host, sizeof(host), &port))
				return vmt_error(-EINVAL, "bad sub-host address '%s' (HOST:PORT)",
						 s);
			vmt_strlcpy(c->sp.hosts[k].addr, s, sizeof(c->sp.hosts[k].addr));
			addr = true;
		} else {
			named = true;
		}
	}
	if (named && addr)
		return vmt_error(-EINVAL, "give sub-hosts by name (from 'vmt hosts up') or as "
					  "HOST:PORT, not both");
	c->named = named;
	c->sp.nr_hosts = o->nr_subhosts;
	return 0;
}

/* The key: the caller's file, or a new one in the VM's folder for named hosts. */
static int setup_key(struct split_ctx *c)
{
	const struct vmt_split_opts *o = &c->o;
	int r;

	c->sp.insecure = o->insecure;
	if (o->insecure)
		return 0;
	if (o->psk_file) {
		if (access(o->psk_file, R_OK) < 0)
			return vmt_error(-errno, "key file %s: %s", o->psk_file, strerror(errno));
		if (!realpath(o->psk_file, c->sp.psk_file))
			return vmt_error(-errno, "key file %s: %s", o->psk_file, strerror(errno));
		return 0;
	}
	if (!c->named)
		return vmt_error(-EACCES, "sub-hosts given as HOST:PORT need their key: --psk FILE "
					  "(or --insecure for plain NBD)");
	if ((size_t)snprintf(c->sp.psk_file, sizeof(c->sp.psk_file), "%s/psk.key", c->vm.dir) >=
	    sizeof(c->sp.psk_file))
		return -ENAMETOOLONG;
	unlink(c->sp.psk_file);
	r = vmt_subhost_psk_create(c->sp.psk_file, "vmt");
	if (r)
		return vmt_error(r, "cannot create key file %s: %s", c->sp.psk_file, strerror(-r));
	c->key_made = true;
	return 0;
}

int split_hosts_open(struct split_ctx *c)
{
	int r = parse_hosts(c);

	if (!r && c->named) {
		r = vmt_hosts_load(c->o.hosts_prefix, &c->hosts);
		if (r)
			return vmt_error(r, "sub-hosts by name need 'vmt hosts up%s%s' first: %s",
					 c->o.hosts_prefix ? " --prefix " : "",
					 c->o.hosts_prefix ? c->o.hosts_prefix : "",
					 vmt_last_error());
		vmt_strlcpy(c->sp.hosts_prefix, c->hosts.prefix, sizeof(c->sp.hosts_prefix));
		vmt_strlcpy(c->sp.main_netns, c->hosts.main_netns, sizeof(c->sp.main_netns));
	}
	if (!r)
		r = setup_key(c);
	for (unsigned k = 0; !r && c->named && k < c->sp.nr_hosts; k++)
		r = start_named(c, k);
	if (!r)
		r = connect_hosts(c);
	for (unsigned k = 0; !r && !c->named && k < c->sp.nr_hosts; k++)
		r = room_addr(c, k);
	return r;
}

/* Undo: close connections, stop the exports we started (their data goes), remove a new key. */
void split_hosts_undo(struct split_ctx *c, bool trim)
{
	for (unsigned k = 0; k < c->sp.nr_hosts; k++) {
		if (c->conn[k] && trim && !c->sp.hosts[k].ours)
			vmt_subhost_trim(c->conn[k], 0, c->p.ram_size);
		vmt_subhost_close(c->conn[k]);
		c->conn[k] = NULL;
		if (c->sp.hosts[k].ours)
			vmt_hosts_export_stop(c->sp.hosts_prefix, c->sp.hosts[k].name, c->vm.name,
					      false);
		c->sp.hosts[k].ours = false;
	}
	if (c->key_made)
		unlink(c->sp.psk_file);
	c->key_made = false;
}

void split_hosts_close(struct split_ctx *c)
{
	for (unsigned k = 0; k < c->sp.nr_hosts; k++) {
		vmt_subhost_close(c->conn[k]);
		c->conn[k] = NULL;
	}
}

/* A server vmt does not run keeps running: free this VM's data there (NBD trim). */
static void trim_foreign(const struct vmt_vm_desc *vm, const struct vmt_vm_split_host *h)
{
	struct vmt_subhost_opts so = {.sz = sizeof(so),
				      .addr = h->addr,
				      .export_name = h->export,
				      .psk_file = vm->split.insecure ? NULL : vm->split.psk_file,
				      .insecure = vm->split.insecure,
				      .connect_timeout_ms = 3000,
				      .io_timeout_ms = 10000};
	struct vmt_subhost *s;

	if (vmt_subhost_connect(&so, &s))
		return;
	vmt_subhost_trim(s, 0, VMT_MIN(vm->mem_bytes, vmt_subhost_size(s)));
	vmt_subhost_close(s);
}

int vmt_split_cleanup(const struct vmt_vm_desc *vm)
{
	int ret = 0;

	for (unsigned k = 0; k < vm->split.nr_hosts; k++) {
		const struct vmt_vm_split_host *h = &vm->split.hosts[k];
		int r;

		if (!h->ours && !vm->split.main_netns[0])
			trim_foreign(vm, h);
		if (!h->ours)
			continue;
		r = vmt_hosts_export_stop(vm->split.hosts_prefix, h->name, vm->name, false);
		if (r && r != -ENOENT && !ret)
			ret = r;
	}
	return ret;
}

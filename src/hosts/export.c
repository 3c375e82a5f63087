// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * export.c - a VM's NBD export on one sub-host of a prefix: start it with
 * `vmt subhost serve --netns` (a fresh process, so the caller's threads and
 * namespace are untouched), record it in the state, stop it, crash it.
 */
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/internal.h"
#include "hosts/hosts.h"
#include "hosts/hosts_priv.h"
#include "hosts/state.h"

#define EXPORT_PORT_TRIES 64

/* The state of a prefix, locked; *lock >= 0 on success. */
static int export_load(const char *prefix, struct vmt_hosts *h, int *lock)
{
	char p[VMT_HOSTS_PREFIX_MAX + 1], dir[4096];
	int ret = vmt_hosts_prefix(prefix, p);

	*lock = -1;
	if (!ret)
		ret = hosts_state_dir(p, dir, sizeof(dir));
	if (ret)
		return ret;
	if (access(dir, F_OK))
		return vmt_error(-ENOENT, "no hosts of prefix '%s': run `vmt hosts up` first", p);
	*lock = hosts_lock(dir);
	if (*lock < 0)
		return *lock;
	ret = hosts_state_load_dir(p, dir, h);
	if (!ret && !h->complete)
		ret = vmt_error(-ENOENT, "hosts of prefix '%s' are half made", p);
	if (ret) {
		hosts_unlock(*lock);
		*lock = -1;
	}
	return ret;
}

static struct vmt_hosts_sub *export_sub(struct vmt_hosts *h, const char *name)
{
	struct vmt_hosts_sub *s = (struct vmt_hosts_sub *)vmt_hosts_sub_find(h, name);

	if (!s)
		vmt_error(-ENOENT, "no sub-host '%s' in prefix '%s' (%d sub-hosts)",
			  name ? name : "", h->prefix, h->nr_sub);
	return s;
}

static int export_find(const struct vmt_hosts_sub *s, const char *vm)
{
	for (size_t i = 0; i < s->nr_exports; i++)
		if (!strcmp(s->exports[i].vm, vm))
			return (int)i;
	return -1;
}

static bool export_alive(const struct vmt_hosts_sub *s, const char *vm)
{
	struct vmt_serve_entry *e;
	size_t n;
	bool alive = false;

	if (vmt_serve_list(s->store, &e, &n))
		return false;
	for (size_t i = 0; i < n; i++)
		if (!strcmp(e[i].vm, vm))
			alive = e[i].alive;
	free(e);
	return alive;
}

static bool port_taken(const struct vmt_hosts_sub *s, unsigned port, const char *except_vm)
{
	for (size_t i = 0; i < s->nr_exports; i++)
		if (s->exports[i].port == port && strcmp(s->exports[i].vm, except_vm))
			return true;
	return false;
}

/* The last line of a child's stderr (its error; earlier lines are warnings), "vmt: subhost: " cut.
 */
static const char *export_last_line(char *err)
{
	char *line = err, *nl;
	const char *tag = "vmt: subhost: ";

	while ((nl = strchr(line, '\n'))) {
		if (!nl[1]) {
			*nl = '\0';
			break;
		}
		line = nl + 1;
	}
	if (!strncmp(line, tag, strlen(tag)))
		line += strlen(tag);
	return *line ? line : "vmt subhost serve failed";
}

/* Run `vmt subhost serve` in the sub-host; -EADDRINUSE when the port is taken. */
static int export_serve(const struct vmt_hosts_export_opts *o, const struct vmt_hosts_sub *s,
			unsigned port)
{
	char size[32], listen[64], err[1024];
	char *argv[20];
	int i = 0, ret;

	snprintf(size, sizeof(size), "%" PRIu64, o->size);
	snprintf(listen, sizeof(listen), "%s:%u", s->addr, port);
	argv[i++] = (char *)(o->vmt_exe ? o->vmt_exe : "/proc/self/exe");
	argv[i++] = "subhost";
	argv[i++] = "serve";
	argv[i++] = "--netns";
	argv[i++] = (char *)s->netns;
	argv[i++] = "--vm";
	argv[i++] = (char *)o->vm;
	argv[i++] = "--size";
	argv[i++] = size;
	argv[i++] = "--store";
	argv[i++] = (char *)s->store;
	argv[i++] = "--listen";
	argv[i++] = listen;
	argv[i++] = o->insecure ? "--insecure" : "--psk";
	if (!o->insecure)
		argv[i++] = (char *)o->psk_file;
	argv[i] = NULL;
	ret = hosts_run(argv, NULL, 0, err, sizeof(err));
	if (!ret)
		return 0;
	if (strstr(err, "cannot listen on") && strstr(err, strerror(EADDRINUSE)))
		return -EADDRINUSE;
	return vmt_error(ret, "%s", export_last_line(err));
}

static int export_pick(const struct vmt_hosts_export_opts *o, struct vmt_hosts_sub *s,
		       unsigned first, struct vmt_hosts_export *e)
{
	int ret = -EADDRINUSE;
	char pid_path[4200];
	unsigned port = first;

	for (int t = 0; t < EXPORT_PORT_TRIES && ret == -EADDRINUSE; t++, port++) {
		while (port_taken(s, port, o->vm))
			port++;
		ret = export_serve(o, s, port);
	}
	if (ret == -EADDRINUSE)
		return vmt_error(ret, "no free port from %u on %s", first, s->addr);
	if (ret)
		return ret;
	port--;
	memset(e, 0, sizeof(*e));
	vmt_strlcpy(e->vm, o->vm, sizeof(e->vm));
	snprintf(e->addr, sizeof(e->addr), "%s:%u", s->addr, port);
	e->port = port;
	e->insecure = o->insecure;
	e->size = o->size;
	snprintf(pid_path, sizeof(pid_path), "%s/%s.pid", s->store, o->vm);
	e->pid = hosts_pid_read(pid_path);
	return 0;
}

static int export_check(const struct vmt_hosts_export_opts *o)
{
	if (!o || o->sz < sizeof(*o) || !o->vm || !o->sub)
		return vmt_error(-EINVAL, "export: sub-host and vm are required");
	if (!o->insecure && (!o->psk_file || !*o->psk_file))
		return vmt_error(-EINVAL, "export: a key file is required (or insecure)");
	if (!o->insecure && o->psk_file[0] != '/')
		return vmt_error(-EINVAL, "export: the key file path must be absolute");
	return 0;
}

int vmt_hosts_export_start(const struct vmt_hosts_export_opts *o, struct vmt_hosts_export *out)
{
	struct vmt_hosts *h = calloc(1, sizeof(*h));
	struct vmt_hosts_sub *s;
	unsigned first = VMT_HOSTS_FIRST_PORT;
	int ret, lock = -1, idx;

	if (!h)
		return -ENOMEM;
	ret = export_check(o);
	if (!ret)
		ret = export_load(o->prefix, h, &lock);
	if (ret)
		goto out;
	s = export_sub(h, o->sub);
	if (!s) {
		ret = -ENOENT;
		goto out;
	}
	idx = export_find(s, o->vm);
	if (idx >= 0 && s->exports[idx].size != o->size) {
		ret =
		    vmt_error(-EEXIST, "%s is exported on %s with %" PRIu64 " bytes, not %" PRIu64,
			      o->vm, s->name, s->exports[idx].size, o->size);
		goto out;
	}
	if (idx >= 0 && export_alive(s, o->vm)) {
		*out = s->exports[idx];
		goto out;
	}
	if (idx >= 0) { /* recorded but dead: bring it back on its port, with its data */
		first = s->exports[idx].port;
		vmt_serve_stop(s->store, o->vm, true);
		s->exports[idx] = s->exports[--s->nr_exports];
	}
	if (s->nr_exports >= VMT_HOSTS_EXPORT_MAX) {
		ret = vmt_error(-ENOSPC, "%s serves %d exports already", s->name,
				VMT_HOSTS_EXPORT_MAX);
		goto out;
	}
	ret = export_pick(o, s, first, &s->exports[s->nr_exports]);
	if (ret)
		goto out;
	*out = s->exports[s->nr_exports++];
	ret = hosts_state_save(h);
out:
	hosts_unlock(lock);
	free(h);
	return ret;
}

int vmt_hosts_export_stop(const char *prefix, const char *sub, const char *vm, bool keep_data)
{
	struct vmt_hosts *h = calloc(1, sizeof(*h));
	struct vmt_hosts_sub *s;
	int ret, lock = -1, idx;

	if (!h)
		return -ENOMEM;
	ret = export_load(prefix, h, &lock);
	if (ret)
		goto out;
	s = export_sub(h, sub);
	if (!s) {
		ret = -ENOENT;
		goto out;
	}
	idx = export_find(s, vm);
	ret = vmt_serve_stop(s->store, vm, keep_data);
	if (idx >= 0) {
		s->exports[idx] = s->exports[--s->nr_exports];
		ret = hosts_state_save(h);
	}
out:
	hosts_unlock(lock);
	free(h);
	return ret;
}

static pid_t export_nbdkit_pid(const struct vmt_hosts_sub *s, const char *vm, bool *alive)
{
	struct vmt_serve_entry *e;
	size_t n;
	pid_t pid = 0;

	*alive = false;
	if (vmt_serve_list(s->store, &e, &n))
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!strcmp(e[i].vm, vm)) {
			pid = e[i].nbdkit_pid;
			*alive = e[i].alive;
		}
	free(e);
	return pid;
}

int vmt_hosts_export_crash(const char *prefix, const char *sub, const char *vm, int timeout_ms)
{
	struct vmt_hosts *h = calloc(1, sizeof(*h));
	const struct vmt_hosts_sub *s;
	long long deadline;
	bool alive;
	pid_t old, now;
	int ret = h ? vmt_hosts_load(prefix, h) : -ENOMEM;

	if (ret)
		goto out;
	s = vmt_hosts_sub_find(h, sub);
	if (!s) {
		ret = vmt_error(-ENOENT, "no sub-host '%s'", sub);
		goto out;
	}
	old = export_nbdkit_pid(s, vm, &alive);
	if (!old || !alive) {
		ret = vmt_error(-ESRCH, "%s is not served on %s", vm, sub);
		goto out;
	}
	if (kill(old, SIGKILL)) {
		ret = vmt_error(-errno, "kill %d: %s", (int)old, strerror(errno));
		goto out;
	}
	ret = vmt_error(-ETIMEDOUT, "the supervisor did not bring %s back on %s", vm, sub);
	deadline = hosts_now_ms() + (timeout_ms > 0 ? timeout_ms : 15000);
	while (hosts_now_ms() < deadline) {
		now = export_nbdkit_pid(s, vm, &alive);
		/* nbdkit writes its pid file only once it accepts connections */
		if (alive && now != old) {
			ret = 0;
			break;
		}
		hosts_sleep_ms(50);
	}
out:
	free(h);
	return ret;
}

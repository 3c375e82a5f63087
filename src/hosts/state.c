// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * state.c - <run dir>/hosts/<P>/hosts.json: what `vmt hosts up` made and
 * which exports run, read by every other part.  Written to a temporary
 * file and renamed, so a reader never sees half a state.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/file.h>
#include <unistd.h>

#include <json-c/json.h>

#include "core/internal.h"
#include "hosts/hosts.h"
#include "hosts/state.h"
#include "vmctl/vm.h"

int vmt_hosts_prefix(const char *arg, char out[VMT_HOSTS_PREFIX_MAX + 1])
{
	const char *p = arg ? arg : getenv("VMT_HOSTS_PREFIX");
	size_t n;

	if (!p || !*p)
		p = "vmt";
	n = strlen(p);
	if (n > VMT_HOSTS_PREFIX_MAX || strspn(p, "abcdefghijklmnopqrstuvwxyz0123456789") != n)
		return vmt_error(-EINVAL, "bad prefix '%s': 1 to %d characters of [a-z0-9]", p,
				 VMT_HOSTS_PREFIX_MAX);
	memcpy(out, p, n + 1);
	return 0;
}

int hosts_state_dir(const char *prefix, char *dir, size_t dir_sz)
{
	int n = snprintf(dir, dir_sz, "%s/" VMT_RUN_HOSTS_DIR "/%s", vmt_vm_run_dir(), prefix);

	return n < 0 || (size_t)n >= dir_sz - 64 ? vmt_error(-ENAMETOOLONG, "run dir too long") : 0;
}

int hosts_lock(const char *dir)
{
	char path[4200];
	int fd;

	snprintf(path, sizeof(path), "%s/lock", dir);
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0)
		return vmt_error(-errno, "cannot open %s: %s", path, strerror(errno));
	while (flock(fd, LOCK_EX)) {
		if (errno != EINTR) {
			close(fd);
			return vmt_error(-errno, "cannot lock %s", path);
		}
	}
	return fd;
}

void hosts_unlock(int fd)
{
	if (fd >= 0)
		close(fd);
}

/* The names and addresses sub-host k gets; the state records them. */
void hosts_layout(struct vmt_hosts *h, const char *prefix, const char *subnet, int nr_sub)
{
	vmt_strlcpy(h->prefix, prefix, sizeof(h->prefix));
	vmt_strlcpy(h->subnet, subnet, sizeof(h->subnet));
	snprintf(h->main_netns, sizeof(h->main_netns), "%s-main", prefix);
	snprintf(h->mon.netns, sizeof(h->mon.netns), "%s-mon", prefix);
	snprintf(h->mon.main_if, sizeof(h->mon.main_if), "%s-mm", prefix);
	snprintf(h->mon.mon_if, sizeof(h->mon.mon_if), "%s-mo", prefix);
	snprintf(h->mon.main_addr, sizeof(h->mon.main_addr), "%s.0.1", subnet);
	snprintf(h->mon.addr, sizeof(h->mon.addr), "%s.0.2", subnet);
	h->nr_sub = nr_sub;
	for (int k = 1; k <= nr_sub; k++) {
		struct vmt_hosts_sub *s = &h->sub[k - 1];

		memset(s, 0, sizeof(*s));
		s->index = k;
		snprintf(s->name, sizeof(s->name), "sub%d", k);
		snprintf(s->netns, sizeof(s->netns), "%s-sub%d", prefix, k);
		snprintf(s->main_if, sizeof(s->main_if), "%s-m%d", prefix, k);
		snprintf(s->sub_if, sizeof(s->sub_if), "%s-s%d", prefix, k);
		snprintf(s->main_addr, sizeof(s->main_addr), "%s.%d.1", subnet, k);
		snprintf(s->addr, sizeof(s->addr), "%s.%d.2", subnet, k);
		/* h->dir was checked by hosts_state_dir() to leave room for this */
		if (snprintf(s->store, sizeof(s->store), "%s/sub%d/store", h->dir, k) < 0)
			s->store[0] = '\0';
	}
}

static void js_str(struct json_object *o, const char *k, const char *v)
{
	json_object_object_add(o, k, json_object_new_string(v));
}

static struct json_object *state_export_json(const struct vmt_hosts_export *e)
{
	struct json_object *o = json_object_new_object();

	js_str(o, "vm", e->vm);
	js_str(o, "addr", e->addr);
	json_object_object_add(o, "port", json_object_new_int((int)e->port));
	json_object_object_add(o, "pid", json_object_new_int((int)e->pid));
	json_object_object_add(o, "insecure", json_object_new_boolean(e->insecure));
	json_object_object_add(o, "size", json_object_new_int64((int64_t)e->size));
	return o;
}

static struct json_object *state_sub_json(const struct vmt_hosts_sub *s)
{
	struct json_object *o = json_object_new_object(), *ex = json_object_new_array();

	js_str(o, "name", s->name);
	js_str(o, "netns", s->netns);
	js_str(o, "main_if", s->main_if);
	js_str(o, "sub_if", s->sub_if);
	js_str(o, "main_addr", s->main_addr);
	js_str(o, "addr", s->addr);
	json_object_object_add(o, "prefix_len", json_object_new_int(24));
	js_str(o, "store", s->store);
	for (size_t i = 0; i < s->nr_exports; i++)
		json_object_array_add(ex, state_export_json(&s->exports[i]));
	json_object_object_add(o, "exports", ex);
	return o;
}

struct json_object *hosts_state_json(const struct vmt_hosts *h)
{
	struct json_object *o = json_object_new_object(), *subs = json_object_new_array();

	json_object_object_add(o, "version", json_object_new_int(1));
	js_str(o, "prefix", h->prefix);
	json_object_object_add(o, "complete", json_object_new_boolean(h->complete));
	js_str(o, "main_netns", h->main_netns);
	js_str(o, "link", h->link);
	js_str(o, "subnet", h->subnet);
	json_object_object_add(o, "capacity", json_object_new_int64((int64_t)h->capacity));
	for (int k = 0; k < h->nr_sub; k++)
		json_object_array_add(subs, state_sub_json(&h->sub[k]));
	json_object_object_add(o, "subhosts", subs);
	if (h->monitor) {
		struct json_object *m = json_object_new_object();

		js_str(m, "netns", h->mon.netns);
		js_str(m, "main_if", h->mon.main_if);
		js_str(m, "mon_if", h->mon.mon_if);
		js_str(m, "main_addr", h->mon.main_addr);
		js_str(m, "addr", h->mon.addr);
		json_object_object_add(o, "monitor", m);
	}
	return o;
}

int hosts_state_save(const struct vmt_hosts *h)
{
	char path[4200], tmp[4300];
	struct json_object *o = hosts_state_json(h);
	const char *txt = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY);
	int ret = 0, fd;
	size_t len = strlen(txt);

	snprintf(path, sizeof(path), "%s/hosts.json", h->dir);
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0) {
		ret = vmt_error(-errno, "cannot write %s: %s", tmp, strerror(errno));
		goto out;
	}
	if (write(fd, txt, len) != (ssize_t)len || write(fd, "\n", 1) != 1 || fsync(fd))
		ret = vmt_error(-EIO, "cannot write %s", tmp);
	close(fd);
	if (!ret && rename(tmp, path))
		ret = vmt_error(-errno, "cannot rename %s: %s", tmp, strerror(errno));
out:
	json_object_put(o);
	return ret;
}

static const char *js_get_str(struct json_object *o, const char *k)
{
	struct json_object *v;

	if (!json_object_object_get_ex(o, k, &v) || !json_object_is_type(v, json_type_string))
		return "";
	return json_object_get_string(v);
}

static int64_t js_get_int(struct json_object *o, const char *k)
{
	struct json_object *v;

	return json_object_object_get_ex(o, k, &v) ? json_object_get_int64(v) : 0;
}

static void state_export_load(struct json_object *o, struct vmt_hosts_export *e)
{
	struct json_object *v;

	vmt_strlcpy(e->vm, js_get_str(o, "vm"), sizeof(e->vm));
	vmt_strlcpy(e->addr, js_get_str(o, "addr"), sizeof(e->addr));
	e->port = (unsigned)js_get_int(o, "port");
	e->pid = (pid_t)js_get_int(o, "pid");
	e->size = (uint64_t)js_get_int(o, "size");
	e->insecure = json_object_object_get_ex(o, "insecure", &v) && json_object_get_boolean(v);
}

static int state_sub_load(struct json_object *o, struct vmt_hosts_sub *s, int k)
{
	struct json_object *ex;

	s->index = k;
	vmt_strlcpy(s->name, js_get_str(o, "name"), sizeof(s->name));
	vmt_strlcpy(s->netns, js_get_str(o, "netns"), sizeof(s->netns));
	vmt_strlcpy(s->main_if, js_get_str(o, "main_if"), sizeof(s->main_if));
	vmt_strlcpy(s->sub_if, js_get_str(o, "sub_if"), sizeof(s->sub_if));
	vmt_strlcpy(s->main_addr, js_get_str(o, "main_addr"), sizeof(s->main_addr));
	vmt_strlcpy(s->addr, js_get_str(o, "addr"), sizeof(s->addr));
	vmt_strlcpy(s->store, js_get_str(o, "store"), sizeof(s->store));
	if (!*s->name || !*s->netns || !*s->store)
		return -EBADMSG;
	if (json_object_object_get_ex(o, "exports", &ex) &&
	    json_object_is_type(ex, json_type_array)) {
		size_t n = json_object_array_length(ex);

		for (size_t i = 0; i < n && s->nr_exports < VMT_HOSTS_EXPORT_MAX; i++)
			state_export_load(json_object_array_get_idx(ex, i),
					  &s->exports[s->nr_exports++]);
	}
	return 0;
}

static int state_parse(struct json_object *o, struct vmt_hosts *h)
{
	struct json_object *subs, *v;
	size_t n;

	vmt_strlcpy(h->main_netns, js_get_str(o, "main_netns"), sizeof(h->main_netns));
	vmt_strlcpy(h->link, js_get_str(o, "link"), sizeof(h->link));
	vmt_strlcpy(h->subnet, js_get_str(o, "subnet"), sizeof(h->subnet));
	h->capacity = (uint64_t)js_get_int(o, "capacity");
	h->complete = json_object_object_get_ex(o, "complete", &v) && json_object_get_boolean(v);
	if (!json_object_object_get_ex(o, "subhosts", &subs) ||
	    !json_object_is_type(subs, json_type_array))
		return -EBADMSG;
	n = json_object_array_length(subs);
	if (n > VMT_HOSTS_SUB_MAX || !*h->main_netns)
		return -EBADMSG;
	h->nr_sub = (int)n;
	for (size_t k = 0; k < n; k++)
		if (state_sub_load(json_object_array_get_idx(subs, k), &h->sub[k], (int)k + 1))
			return -EBADMSG;
	/* Optional: states written before the monitor existed have none. */
	if (json_object_object_get_ex(o, "monitor", &v) &&
	    json_object_is_type(v, json_type_object)) {
		h->monitor = true;
		vmt_strlcpy(h->mon.netns, js_get_str(v, "netns"), sizeof(h->mon.netns));
		vmt_strlcpy(h->mon.main_if, js_get_str(v, "main_if"), sizeof(h->mon.main_if));
		vmt_strlcpy(h->mon.mon_if, js_get_str(v, "mon_if"), sizeof(h->mon.mon_if));
		vmt_strlcpy(h->mon.main_addr, js_get_str(v, "main_addr"), sizeof(h->mon.main_addr));
		vmt_strlcpy(h->mon.addr, js_get_str(v, "addr"), sizeof(h->mon.addr));
		if (!*h->mon.netns || !*h->mon.addr)
			return -EBADMSG;
	}
	return 0;
}

int hosts_state_load_dir(const char *prefix, const char *dir, struct vmt_hosts *h)
{
	char path[4200];
	struct json_object *o;
	int ret;

	memset(h, 0, sizeof(*h));
	vmt_strlcpy(h->prefix, prefix, sizeof(h->prefix));
	vmt_strlcpy(h->dir, dir, sizeof(h->dir));
	snprintf(path, sizeof(path), "%s/hosts.json", dir);
	if (access(path, F_OK))
		return vmt_error(-ENOENT, "no hosts of prefix '%s' (no %s)", prefix, path);
	o = json_object_from_file(path);
	if (!o)
		return vmt_error(-EBADMSG, "%s is not readable JSON", path);
	ret = state_parse(o, h);
	json_object_put(o);
	return ret ? vmt_error(ret, "%s is malformed", path) : 0;
}

int vmt_hosts_load(const char *prefix, struct vmt_hosts *out)
{
	char p[VMT_HOSTS_PREFIX_MAX + 1], dir[4096];
	int ret = vmt_hosts_prefix(prefix, p);

	if (!ret)
		ret = hosts_state_dir(p, dir, sizeof(dir));
	return ret ? ret : hosts_state_load_dir(p, dir, out);
}

const struct vmt_hosts_sub *vmt_hosts_sub_find(const struct vmt_hosts *h, const char *name)
{
	for (int k = 0; name && k < h->nr_sub; k++)
		if (!strcmp(h->sub[k].name, name) || !strcmp(h->sub[k].netns, name))
			return &h->sub[k];
	return NULL;
}

// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * vm_desc.c - VM descriptors: the folder <run_dir>/<name>/ and its vm.json,
 * how other vmt commands find a VM.  vm.json is replaced atomically
 * (temporary file + rename), so a reader sees the old or the new file,
 * never half of one.  A descriptor whose QEMU is gone stays readable so
 * that 'vmt vm stop' can clean it up.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <json-c/json.h>

#include "core/internal.h"
#include "vmctl/vm.h"
#include "vmctl/vm_priv.h"

#define DESC_FILE_MAX (1u << 20)
#define DESC_VERSION  1

const char *vmt_vm_run_dir(void)
{
	const char *d = getenv("VMT_RUN_DIR");

	return d && *d ? d : "/run/vmemtrans";
}

int vmt_vm_name_check(const char *name)
{
	size_t len = name ? strlen(name) : 0;

	if (!len)
		return vmt_error(-EINVAL, "empty VM name");
	if (len >= VMT_VM_NAME_MAX)
		return vmt_error(-EINVAL, "VM name '%.20s...' is too long (%zu bytes, at most %d)",
				 name, len, VMT_VM_NAME_MAX - 1);
	if (name[0] == '.' || name[0] == '-')
		return vmt_error(-EINVAL, "VM name '%s' must not start with '.' or '-'", name);
	if (!strcmp(name, VMT_RUN_HOSTS_DIR))
		return vmt_error(-EINVAL, "VM name '%s' is taken by the emulated hosts' folder",
				 name);
	/* The name ends up in paths and in QEMU options, where ',' and '/' mean things. */
	if (strspn(name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-") !=
	    len)
		return vmt_error(
		    -EINVAL, "VM name '%s' may hold only letters, digits, '_', '.' and '-'", name);
	return 0;
}

/* Fill the paths that follow from a folder and a name (the layout vm.c creates). */
void vmt_vm_desc_layout(struct vmt_vm_desc *d, const char *dir, const char *name)
{
	vmt_strlcpy(d->name, name, sizeof(d->name));
	vmt_strlcpy(d->dir, dir, sizeof(d->dir));
	snprintf(d->mem_path, sizeof(d->mem_path), "/dev/shm/vmt-%s.ram", name);
	snprintf(d->qmp_sock, sizeof(d->qmp_sock), "%s/qmp.sock", dir);
	snprintf(d->agent_sock, sizeof(d->agent_sock), "%s/agent.sock", dir);
	snprintf(d->console_log, sizeof(d->console_log), "%s/console.log", dir);
	vmt_strlcpy(d->machine, "pc", sizeof(d->machine));
}

bool vmt_pid_is_zombie(pid_t pid)
{
	char path[64], buf[512], *p;
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return false;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return false;
	buf[n] = '\0';
	/* comm may hold spaces and ')': the state follows the last ')'. */
	p = strrchr(buf, ')');
	return p && p[1] == ' ' && (p[2] == 'Z' || p[2] == 'X');
}

/* Does some argument hold path, followed by the end or a ','? */
static bool args_mention(const char *args, size_t len, const char *path)
{
	size_t plen = strlen(path);
	const char *p = args, *end = args + len;

	if (!plen)
		return false;
	while ((p = memmem(p, (size_t)(end - p), path, plen))) {
		char next = p + plen < end ? p[plen] : '\0';

		if (next == '\0' || next == ',')
			return true;
		p++;
	}
	return false;
}

/* Guards against a recycled pid: QEMU's argv names this VM's socket or RAM file. */
static bool pid_is_vm(const struct vmt_vm_desc *vm)
{
	char path[64], *args;
	ssize_t n, len = 0;
	bool ours;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/cmdline", (int)vm->qemu_pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return errno != ENOENT; /* unreadable: trust kill(2) */
	args = malloc(65536);
	if (!args) {
		close(fd);
		return true;
	}
	while (len < 65536 && (n = read(fd, args + len, (size_t)(65536 - len))) > 0)
		len += n;
	close(fd);
	ours = args_mention(args, (size_t)len, vm->qmp_sock) ||
	       args_mention(args, (size_t)len, vm->mem_path);
	free(args);
	return ours;
}

bool vmt_vm_is_running(const struct vmt_vm_desc *vm)
{
	if (vm->qemu_pid <= 0)
		return false;
	if (kill(vm->qemu_pid, 0) < 0 && errno != EPERM)
		return false;
	return !vmt_pid_is_zombie(vm->qemu_pid) && pid_is_vm(vm);
}

/* ------------------------------------------------------------ vm.json */

#define STR_FIELD(f, req)                                                                          \
	{                                                                                          \
#f, offsetof(struct vmt_vm_desc, f), sizeof(((struct vmt_vm_desc *)0)->f), req     \
	}

static const struct str_field {
	const char *key;
	size_t off, sz;
	bool required;
} str_fields[] = {
    STR_FIELD(name, true),	 STR_FIELD(dir, false),		STR_FIELD(mem_path, true),
    STR_FIELD(kernel, false),	 STR_FIELD(initrd, false),	STR_FIELD(qmp_sock, true),
    STR_FIELD(agent_sock, true), STR_FIELD(console_log, false), STR_FIELD(machine, false),
    STR_FIELD(cmdline, false),
};

/* ------------------------------------------------ vm.json: split part */

#define SPLIT_STR(f)                                                                               \
	{                                                                                          \
#f, offsetof(struct vmt_vm_split, f), sizeof(((struct vmt_vm_split *)0)->f)        \
	}
#define HOST_STR(f)                                                                                \
	{                                                                                          \
#f, offsetof(struct vmt_vm_split_host, f),                                         \
		    sizeof(((struct vmt_vm_split_host *)0)->f)                                     \
	}

static const struct sub_str {
	const char *key;
	size_t off, sz;
} split_strs[] = {SPLIT_STR(hosts_prefix), SPLIT_STR(main_netns), SPLIT_STR(psk_file),
		  SPLIT_STR(pagetable),	   SPLIT_STR(pager_sock), SPLIT_STR(pager_conf),
		  SPLIT_STR(devstate),	   SPLIT_STR(fetch)},
  host_strs[] = {HOST_STR(name), HOST_STR(addr), HOST_STR(export)};

#define EXPORT_STR(f)                                                                              \
	{                                                                                          \
#f, offsetof(struct vmt_vm_export, f), sizeof(((struct vmt_vm_export *)0)->f)      \
	}
static const struct sub_str export_strs[] = {EXPORT_STR(listen), EXPORT_STR(netns),
					     EXPORT_STR(psk_file), EXPORT_STR(dir),
					     EXPORT_STR(mem_path)};

static int add_strs(struct json_object *o, const void *base, const struct sub_str *f, size_t n)
{
	int bad = 0;

	for (size_t i = 0; i < n; i++)
		bad |= json_object_object_add(
		    o, f[i].key, json_object_new_string((const char *)base + f[i].off));
	return bad;
}

static struct json_object *split_host_json(const struct vmt_vm_split_host *h)
{
	struct json_object *o = json_object_new_object();

	if (o && (add_strs(o, h, host_strs, ARRAY_SIZE(host_strs)) ||
		  json_object_object_add(o, "ours", json_object_new_boolean(h->ours)))) {
		json_object_put(o);
		o = NULL;
	}
	return o;
}

static struct json_object *split_json(const struct vmt_vm_split *s)
{
	struct json_object *o = json_object_new_object(), *a = json_object_new_array();
	int bad = !o || !a;

	if (!bad)
		bad |= add_strs(o, s, split_strs, ARRAY_SIZE(split_strs));
	bad |= !o || json_object_object_add(o, "gen", json_object_new_int(s->gen));
	bad |= !o || json_object_object_add(o, "insecure", json_object_new_boolean(s->insecure));
	bad |= !o || json_object_object_add(o, "chunk_bytes",
					    json_object_new_int64((int64_t)s->chunk_bytes));
	bad |= !o ||
	       json_object_object_add(o, "cap_bytes", json_object_new_int64((int64_t)s->cap_bytes));
	bad |= !o || json_object_object_add(o, "main_bytes",
					    json_object_new_int64((int64_t)s->main_bytes));
	bad |= !o || json_object_object_add(o, "fetch_chunk",
					    json_object_new_int64((int64_t)s->fetch_chunk));
	for (unsigned i = 0; !bad && i < s->nr_hosts && i < VMT_VM_SPLIT_HOSTS; i++)
		bad |= json_object_array_add(a, split_host_json(&s->hosts[i]));
	if (!bad && !json_object_object_add(o, "hosts", a))
		return o;
	json_object_put(a);
	json_object_put(o);
	return NULL;
}

static struct json_object *export_json(const struct vmt_vm_export *e)
{
	struct json_object *o = json_object_new_object();

	if (o && (add_strs(o, e, export_strs, ARRAY_SIZE(export_strs)) ||
		  json_object_object_add(o, "own_key", json_object_new_boolean(e->own_key)) ||
		  json_object_object_add(o, "split_gen", json_object_new_int(e->split_gen)))) {
		json_object_put(o);
		o = NULL;
	}
	return o;
}

struct json_object *vmt_vm_desc_json(const struct vmt_vm_desc *d)
{
	struct json_object *o = json_object_new_object();
	int bad = !o;

	for (size_t i = 0; i < ARRAY_SIZE(str_fields) && !bad; i++)
		bad |= json_object_object_add(
		    o, str_fields[i].key,
		    json_object_new_string((const char *)d + str_fields[i].off));
	if (bad)
		goto fail;
	bad |= json_object_object_add(o, "version", json_object_new_int(DESC_VERSION));
	bad |= json_object_object_add(o, "mem_bytes", json_object_new_int64((int64_t)d->mem_bytes));
	bad |= json_object_object_add(o, "qemu_pid", json_object_new_int(d->qemu_pid));
	bad |= json_object_object_add(o, "nr_procs", json_object_new_int(d->nr_procs));
	bad |= json_object_object_add(o, "kaslr", json_object_new_boolean(d->kaslr));
	bad |= json_object_object_add(o, "la57", json_object_new_boolean(d->la57));
	bad |= json_object_object_add(o, "kvm", json_object_new_boolean(d->kvm));
	bad |= json_object_object_add(o, "started_s", json_object_new_int64(d->started_s));
	if (d->adopted)
		bad |= json_object_object_add(o, "adopted", json_object_new_boolean(true));
	if (d->split.gen > 0)
		bad |= json_object_object_add(o, "split", split_json(&d->split));
	if (d->export.on)
		bad |= json_object_object_add(o, "export", export_json(&d->export));
	if (!bad)
		return o;
fail:
	json_object_put(o);
	return NULL;
}

static int write_file_all(int fd, const char *buf, size_t len)
{
	while (len) {
		ssize_t n = write(fd, buf, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

int vmt_vm_desc_write(const struct vmt_vm_desc *vm)
{
	char tmp[4096 + 32], final[4096 + 16];
	struct json_object *o = vmt_vm_desc_json(vm);
	const char *text;
	int fd = -1, r = -ENOMEM;

	if (!o)
		return vmt_error(r, "out of memory building vm.json");
	snprintf(final, sizeof(final), "%s/vm.json", vm->dir);
	snprintf(tmp, sizeof(tmp), "%s/.vm.json.XXXXXX", vm->dir);
	fd = mkostemp(tmp, O_CLOEXEC);
	if (fd < 0) {
		r = vmt_error(-errno, "cannot create %s: %s", tmp, strerror(errno));
		goto out;
	}
	text = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY |
						     JSON_C_TO_STRING_NOSLASHESCAPE);
	r = write_file_all(fd, text, strlen(text));
	if (!r)
		r = write_file_all(fd, "\n", 1);
	if (!r && (fchmod(fd, 0644) < 0 || fsync(fd) < 0))
		r = -errno;
	if (close(fd) < 0 && !r)
		r = -errno;
	if (!r && rename(tmp, final) < 0)
		r = -errno;
	if (r) {
		unlink(tmp);
		r = vmt_error(r, "cannot write %s: %s", final, strerror(-r));
	}
out:
	json_object_put(o);
	return r;
}

static int read_small_file(const char *path, char **out)
{
	struct stat st;
	char *buf = NULL;
	ssize_t n;
	int fd, r = 0;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_size > DESC_FILE_MAX) {
		r = -EBADMSG;
		goto out;
	}
	buf = malloc((size_t)st.st_size + 1);
	if (!buf) {
		r = -ENOMEM;
		goto out;
	}
	n = read(fd, buf, (size_t)st.st_size);
	if (n != st.st_size) {
		free(buf);
		r = n < 0 ? -errno : -EBADMSG;
		goto out;
	}
	buf[n] = '\0';
	*out = buf;
out:
	close(fd);
	return r;
}

static int desc_bad(const char *path, const char *what)
{
	return vmt_error(-EBADMSG, "%s is malformed (%s); remove that VM with 'vmt vm stop'", path,
			 what);
}

static int desc_get_strings(struct json_object *o, const char *path, struct vmt_vm_desc *d)
{
	char what[96];

	for (size_t i = 0; i < ARRAY_SIZE(str_fields); i++) {
		const struct str_field *f = &str_fields[i];
		struct json_object *v;
		const char *s;

		if (!json_object_object_get_ex(o, f->key, &v)) {
			if (!f->required)
				continue;
			snprintf(what, sizeof(what), "no '%s'", f->key);
			return desc_bad(path, what);
		}
		s = json_object_get_string(v);
		if (!json_object_is_type(v, json_type_string) || strlen(s) >= f->sz) {
			snprintf(what, sizeof(what), "'%s' is not a string of at most %zu bytes",
				 f->key, f->sz - 1);
			return desc_bad(path, what);
		}
		memcpy((char *)d + f->off, s, strlen(s) + 1);
	}
	return 0;
}

/* Integer field in [lo, hi]; *val keeps its value when the field is optional and absent. */
static int desc_get_int(struct json_object *o, const char *path, const char *key, bool required,
			int64_t lo, int64_t hi, int64_t *val)
{
	struct json_object *v;
	char what[96];

	if (!json_object_object_get_ex(o, key, &v) && !required)
		return 0;
	if (!v || !json_object_is_type(v, json_type_int) || json_object_get_int64(v) < lo ||
	    json_object_get_int64(v) > hi) {
		snprintf(what, sizeof(what), "'%s' missing or not an integer in [%lld, %lld]", key,
			 (long long)lo, (long long)hi);
		return desc_bad(path, what);
	}
	*val = json_object_get_int64(v);
	return 0;
}

static bool desc_get_bool(struct json_object *o, const char *key, bool dflt)
{
	struct json_object *v;

	if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_boolean))
		return dflt;
	return json_object_get_boolean(v);
}

static bool get_strs(struct json_object *o, void *base, const struct sub_str *f, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		struct json_object *v;
		const char *s;

		if (!json_object_object_get_ex(o, f[i].key, &v))
			continue;
		s = json_object_get_string(v);
		if (!json_object_is_type(v, json_type_string) || strlen(s) >= f[i].sz)
			return false;
		memcpy((char *)base + f[i].off, s, strlen(s) + 1);
	}
	return true;
}

static uint64_t get_u64(struct json_object *o, const char *key)
{
	struct json_object *v;

	if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_int) ||
	    json_object_get_int64(v) < 0)
		return 0;
	return (uint64_t)json_object_get_int64(v);
}

/* The optional "split" object; absent in descriptors of VMs never split. */
static int desc_split_from_json(struct json_object *o, const char *path, struct vmt_vm_split *s)
{
	struct json_object *sp, *a, *v;
	size_t n;

	if (!json_object_object_get_ex(o, "split", &sp))
		return 0;
	if (!json_object_is_type(sp, json_type_object) ||
	    !get_strs(sp, s, split_strs, ARRAY_SIZE(split_strs)))
		return desc_bad(path, "bad 'split'");
	s->gen = (int)VMT_MIN(get_u64(sp, "gen"), 1000000u);
	s->chunk_bytes = get_u64(sp, "chunk_bytes");
	s->cap_bytes = get_u64(sp, "cap_bytes");
	s->main_bytes = get_u64(sp, "main_bytes");
	s->fetch_chunk = get_u64(sp, "fetch_chunk");
	s->insecure = desc_get_bool(sp, "insecure", false);
	if (!json_object_object_get_ex(sp, "hosts", &a) || !json_object_is_type(a, json_type_array))
		return 0;
	n = json_object_array_length(a);
	if (n > VMT_VM_SPLIT_HOSTS)
		return desc_bad(path, "too many split hosts");
	for (size_t i = 0; i < n; i++) {
		v = json_object_array_get_idx(a, i);
		if (!json_object_is_type(v, json_type_object) ||
		    !get_strs(v, &s->hosts[i], host_strs, ARRAY_SIZE(host_strs)))
			return desc_bad(path, "bad 'split' host");
		s->hosts[i].ours = desc_get_bool(v, "ours", false);
	}
	s->nr_hosts = (unsigned)n;
	return 0;
}

/* The optional "export" object: present while the VM is exported. */
static int desc_export_from_json(struct json_object *o, const char *path, struct vmt_vm_export *e)
{
	struct json_object *ex;

	if (!json_object_object_get_ex(o, "export", &ex))
		return 0;
	if (!json_object_is_type(ex, json_type_object) ||
	    !get_strs(ex, e, export_strs, ARRAY_SIZE(export_strs)))
		return desc_bad(path, "bad 'export'");
	e->on = true;
	e->own_key = desc_get_bool(ex, "own_key", false);
	e->split_gen = (int)VMT_MIN(get_u64(ex, "split_gen"), 1000000u);
	return 0;
}

static int desc_from_json(struct json_object *o, const char *path, struct vmt_vm_desc *d)
{
	int64_t mem = 0, pid = 0, procs = 0, started = 0;
	int r;

	if (!json_object_is_type(o, json_type_object))
		return desc_bad(path, "not a JSON object");
	r = desc_get_strings(o, path, d);
	if (!r)
		r = desc_get_int(o, path, "mem_bytes", true, 1, INT64_MAX, &mem);
	if (!r)
		r = desc_get_int(o, path, "qemu_pid", true, 1, INT_MAX, &pid);
	if (!r)
		r = desc_get_int(o, path, "nr_procs", false, 0, INT_MAX, &procs);
	if (!r)
		r = desc_get_int(o, path, "started_s", false, 0, INT64_MAX, &started);
	if (r)
		return r;
	if (vmt_vm_name_check(d->name))
		return desc_bad(path, "bad 'name'");
	d->mem_bytes = (uint64_t)mem;
	d->qemu_pid = (pid_t)pid;
	d->nr_procs = (int)procs;
	d->started_s = started;
	d->kaslr = desc_get_bool(o, "kaslr", true);
	d->la57 = desc_get_bool(o, "la57", false);
	d->kvm = desc_get_bool(o, "kvm", false);
	d->adopted = desc_get_bool(o, "adopted", false);
	r = desc_split_from_json(o, path, &d->split);
	if (!r)
		r = desc_export_from_json(o, path, &d->export);
	if (r)
		return r;
	if (!d->machine[0])
		vmt_strlcpy(d->machine, "pc", sizeof(d->machine));
	return 0;
}

int vmt_vm_desc_read(const char *path, struct vmt_vm_desc *out)
{
	enum json_tokener_error jerr;
	struct json_object *o;
	char *text = NULL;
	int r;

	memset(out, 0, sizeof(*out));
	r = read_small_file(path, &text);
	if (r == -ENOENT)
		return vmt_error(r, "%s does not exist", path);
	if (r == -EBADMSG)
		return desc_bad(path, "not a regular file of at most 1 MiB");
	if (r)
		return vmt_error(r, "cannot read %s: %s", path, strerror(-r));
	o = json_tokener_parse_verbose(text, &jerr);
	free(text);
	if (!o)
		return desc_bad(path, json_tokener_error_desc(jerr));
	r = desc_from_json(o, path, out);
	json_object_put(o);
	return r;
}

/* ------------------------------------------------------------ lookup */

/* The descriptor folder and vm.json that name_or_path designates. */
static int desc_resolve(const char *name_or_path, char *dir, char *json, size_t sz)
{
	char real[PATH_MAX], *slash;
	struct stat st;
	int r;

	if (!strchr(name_or_path, '/')) {
		r = vmt_vm_name_check(name_or_path);
		if (r)
			return r;
		if ((size_t)snprintf(dir, sz, "%s/%s", vmt_vm_run_dir(), name_or_path) >= sz ||
		    (size_t)snprintf(json, sz, "%s/vm.json", dir) >= sz)
			return vmt_error(-ENAMETOOLONG, "run dir path too long");
		if (stat(dir, &st) < 0)
			return vmt_error(-ENOENT, "no VM named '%s' in %s (see 'vmt vm list')",
					 name_or_path, vmt_vm_run_dir());
		return 0;
	}
	if (!realpath(name_or_path, real) || stat(real, &st) < 0)
		return vmt_error(-ENOENT, "no VM descriptor at %s: %s", name_or_path,
				 strerror(errno));
	if (strlen(real) + strlen("/vm.json") >= sz)
		return vmt_error(-ENAMETOOLONG, "path too long: %s", real);
	if (S_ISDIR(st.st_mode)) {
		vmt_strlcpy(dir, real, sz);
		snprintf(json, sz, "%s/vm.json", real);
		return 0;
	}
	/* A path to the descriptor file itself: its folder holds the rest. */
	vmt_strlcpy(json, real, sz);
	slash = strrchr(real, '/');
	if (slash == real)
		slash[1] = '\0';
	else
		*slash = '\0';
	vmt_strlcpy(dir, real, sz);
	return 0;
}

/* Is dir directly inside the run dir? */
static bool dir_in_run_dir(const char *dir)
{
	const char *slash = strrchr(dir, '/');
	char run[PATH_MAX], parent[PATH_MAX];

	if (!slash || (size_t)(slash - dir) >= sizeof(parent))
		return false;
	memcpy(parent, dir, (size_t)(slash - dir));
	parent[slash - dir] = '\0';
	return !strcmp(parent, vmt_vm_run_dir()) ||
	       (realpath(vmt_vm_run_dir(), run) && !strcmp(parent, run));
}

bool vmt_vm_folder_is_vm(const char *dir)
{
	static const char *const known[] = {"qmp.sock",	   "agent.sock", "agent.lock",
					    "console.log", "qemu.log",	 "qemu.pid"};
	struct dirent *e;
	bool ok = true;
	DIR *d = opendir(dir);

	if (!d)
		return false;
	/* vm.json anywhere in the folder settles it, whatever else a split left there. */
	while ((e = readdir(d))) {
		const char *n = e->d_name;
		bool known_file;

		if (!strcmp(n, "vm.json")) {
			closedir(d);
			return true;
		}
		known_file = !strcmp(n, ".") || !strcmp(n, "..") || !strncmp(n, ".vm.json.", 9);
		for (size_t i = 0; !known_file && i < ARRAY_SIZE(known); i++)
			known_file = !strcmp(n, known[i]);
		ok &= known_file;
	}
	closedir(d);
	return ok;
}

/* What a folder without a readable vm.json still tells: its name and QEMU's pidfile. */
static void desc_recover(const char *dir, struct vmt_vm_desc *out)
{
	const char *base = strrchr(dir, '/') ? strrchr(dir, '/') + 1 : dir;
	char pidfile[4096 + 16], buf[32];
	ssize_t n;
	int fd;

	memset(out, 0, sizeof(*out));
	vmt_vm_desc_layout(out, dir, vmt_vm_name_check(base) ? "unnamed" : base);
	/* The RAM file follows from the name only for a folder that vm.c made. */
	if (!dir_in_run_dir(dir))
		out->mem_path[0] = '\0';
	out->kaslr = true;
	snprintf(pidfile, sizeof(pidfile), "%s/qemu.pid", dir);
	fd = open(pidfile, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n > 0) {
		buf[n] = '\0';
		out->qemu_pid = (pid_t)strtol(buf, NULL, 10);
	}
}

int vmt_vm_load(const char *name_or_path, struct vmt_vm_desc *out)
{
	char dir[PATH_MAX], path[PATH_MAX];
	int r;

	memset(out, 0, sizeof(*out));
	r = desc_resolve(name_or_path, dir, path, sizeof(dir));
	if (r)
		return r;
	r = vmt_vm_desc_read(path, out);
	if (r == -ENOENT)
		r = vmt_error(-EBADMSG,
			      "%s has no vm.json (a start that crashed or is still "
			      "running?); remove it with 'vmt vm stop %s'",
			      dir, name_or_path);
	if (r == -EBADMSG) {
		desc_recover(dir, out);
		return r;
	}
	if (r)
		return r;
	/* The folder is where we found it, whatever vm.json says. */
	vmt_strlcpy(out->dir, dir, sizeof(out->dir));
	if (!vmt_vm_is_running(out))
		return vmt_error(-ESRCH,
				 "VM '%s' is not running (QEMU pid %d is gone); remove it "
				 "with 'vmt vm stop %s'",
				 out->name, (int)out->qemu_pid, name_or_path);
	return 0;
}

static int desc_cmp(const void *a, const void *b)
{
	return strcmp(((const struct vmt_vm_desc *)a)->name, ((const struct vmt_vm_desc *)b)->name);
}

/* Append the descriptor of folder dir to *v (capacity *cap). */
static int list_add(const char *dir, struct vmt_vm_desc **v, size_t *n, size_t *cap)
{
	struct vmt_vm_desc *nv;
	int r;

	if (*n == *cap) {
		size_t ncap = *cap ? *cap * 2 : 8;

		nv = realloc(*v, ncap * sizeof(**v));
		if (!nv)
			return -ENOMEM;
		*v = nv;
		*cap = ncap;
	}
	/* Other parts may keep their own folders in the run dir. */
	if (!vmt_vm_folder_is_vm(dir))
		return 0;
	r = vmt_vm_load(dir, &(*v)[*n]);
	if (r == 0 || r == -ESRCH || r == -EBADMSG) {
		(*n)++;
		return 0;
	}
	pr_warn("skipping %s: %s", dir, vmt_last_error());
	return 0;
}

int vmt_vm_list(struct vmt_vm_desc **out, size_t *n)
{
	const char *run_dir = vmt_vm_run_dir();
	struct vmt_vm_desc *v = NULL;
	size_t cap = 0;
	struct dirent *e;
	char dir[4096];
	DIR *d;
	int r = 0;

	*out = NULL;
	*n = 0;
	d = opendir(run_dir);
	if (!d)
		return errno == ENOENT
			   ? 0
			   : vmt_error(-errno, "cannot list %s: %s", run_dir, strerror(errno));
	while (!r && (e = readdir(d))) {
		struct stat st;

		if (e->d_name[0] == '.' || !strcmp(e->d_name, VMT_RUN_HOSTS_DIR))
			continue;
		if ((size_t)snprintf(dir, sizeof(dir), "%s/%s", run_dir, e->d_name) >= sizeof(dir))
			continue;
		if (stat(dir, &st) < 0 || !S_ISDIR(st.st_mode))
			continue;
		r = list_add(dir, &v, n, &cap);
	}
	closedir(d);
	if (r) {
		free(v);
		*n = 0;
		return vmt_error(r, "out of memory listing %s", run_dir);
	}
	if (*n)
		qsort(v, *n, sizeof(*v), desc_cmp);
	*out = v;
	return 0;
}

/* ------------------------------------------------------- guest image */

static bool guest_dir_ok(const char *dir, char *kernel, size_t ksz, char *initrd, size_t isz)
{
	char k[PATH_MAX + 16], i[PATH_MAX + 32], real[PATH_MAX];

	snprintf(k, sizeof(k), "%s/vmlinuz", dir);
	snprintf(i, sizeof(i), "%s/initramfs.cpio.gz", dir);
	if (access(k, R_OK) || access(i, R_OK))
		return false;
	if (!realpath(k, real) || strlen(real) >= ksz)
		return false;
	vmt_strlcpy(kernel, real, ksz);
	if (!realpath(i, real) || strlen(real) >= isz)
		return false;
	vmt_strlcpy(initrd, real, isz);
	return true;
}

int vmt_vm_default_guest(char *kernel, size_t kernel_sz, char *initrd, size_t initrd_sz)
{
	static const char *const rel[] = {"../../guest", "../guest", "../share/vmemtrans/guest"};
	const char *env = getenv("VMT_GUEST_DIR");
	char exe[PATH_MAX], dir[PATH_MAX + 64], *slash;
	ssize_t n;

	if (env && *env) {
		if (guest_dir_ok(env, kernel, kernel_sz, initrd, initrd_sz))
			return 0;
		return vmt_error(-ENOENT, "VMT_GUEST_DIR=%s holds no vmlinuz + initramfs.cpio.gz",
				 env);
	}
	n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n > 0) {
		exe[n] = '\0';
		slash = strrchr(exe, '/');
		if (slash)
			*slash = '\0';
		for (size_t i = 0; i < ARRAY_SIZE(rel); i++) {
			snprintf(dir, sizeof(dir), "%s/%s", exe, rel[i]);
			if (guest_dir_ok(dir, kernel, kernel_sz, initrd, initrd_sz))
				return 0;
		}
	}
	if (guest_dir_ok("build/guest", kernel, kernel_sz, initrd, initrd_sz))
		return 0;
	return vmt_error(-ENOENT, "no guest image (vmlinuz + initramfs.cpio.gz) found: build it "
				  "('ninja -C build'), set VMT_GUEST_DIR, or pass --kernel and "
				  "--initrd");
}

// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * vmexport.c - a VM's memory for readers on other hosts (`vmt vm export`).
 *
 * One nbdkit per VM, read-only (-r), TLS-PSK with the VM's key, in the
 * VM's main-host namespace, serving the folder <vm dir>/export/files with
 * the file plugin's dir= mode.  Each file there is an export of its name:
 *
 *   mem        symlink to the memory file: pread of the file, so a hole
 *              (a page never touched, or one that lives on a sub-host)
 *              reads as zeros and nothing is ever allocated by a read
 *   pagetable  symlink to the split VM's page table (split VMs only)
 *   kernel     symlink to the guest's vmlinuz (readers build the profile)
 *   meta       what a reader needs to interpret the rest (JSON, below)
 *
 * Why one nbdkit with four exports and not one per file: a reader opens
 * one connection per export either way (an NBD connection names its
 * export), so separate servers would only add processes, ports and
 * supervisors; the key is per VM, so VMs do not share a server (one server
 * with several keys would let any VM's key read every VM).
 *
 * The supervisor is vmt_serve() (serve.c): its files (VM.pid, VM.log,
 * VM.nbdkit.pid, the GnuTLS configuration) live in <vm dir>/export, never
 * in files/, which nbdkit serves whole.
 *
 * meta: {"version": 1, "vm": NAME, "ram_size": BYTES, "machine": "pc",
 *        "split_gen": N, "kernel_size": BYTES, "kernel_mtime_ns": NS,
 *        "fetch": "runtime", "fetch_chunk": BYTES, "subhosts_insecure": false}
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <json-c/json.h>

#include "core/internal.h"
#include "hosts/hosts.h"
#include "hosts/hosts_priv.h"
#include "subhost/subhost.h"
#include "vmctl/vm.h"

#define EXPORT_PORT_TRIES 64

struct export_paths {
	char dir[4096], files[4200], key[4200], npid[4200];
};

static int export_paths(const struct vmt_vm_desc *vm, struct export_paths *p)
{
	if (snprintf(p->dir, sizeof(p->dir), "%s/export", vm->dir) >= (int)sizeof(p->dir) - 64)
		return vmt_error(-ENAMETOOLONG, "VM folder path too long: %s", vm->dir);
	snprintf(p->files, sizeof(p->files), "%s/files", p->dir);
	snprintf(p->key, sizeof(p->key), "%s/psk", p->dir);
	snprintf(p->npid, sizeof(p->npid), "%s/%s.nbdkit.pid", p->dir, vm->name);
	return 0;
}

/* Is the export's nbdkit running (its pid file names a live nbdkit started with that file)? */
static bool export_alive(const struct export_paths *p)
{
	pid_t pid = hosts_pid_read(p->npid);

	return pid && hosts_pid_matches(pid, p->npid);
}

static int export_link(const char *files, const char *name, const char *target)
{
	char path[4300];

	snprintf(path, sizeof(path), "%s/%s", files, name);
	unlink(path);
	if (symlink(target, path))
		return vmt_error(-errno, "cannot link %s to %s: %s", path, target, strerror(errno));
	return 0;
}

static int export_meta(const struct vmt_vm_desc *vm, const char *files)
{
	struct json_object *o = json_object_new_object();
	struct stat st;
	char path[4300];
	int ret = 0;

	if (!o)
		return -ENOMEM;
	if (stat(vm->kernel, &st)) {
		ret = vmt_error(-errno, "kernel %s: %s", vm->kernel, strerror(errno));
		goto out;
	}
	json_object_object_add(o, "version", json_object_new_int(1));
	json_object_object_add(o, "vm", json_object_new_string(vm->name));
	json_object_object_add(o, "ram_size", json_object_new_int64((int64_t)vm->mem_bytes));
	json_object_object_add(o, "machine", json_object_new_string(vm->machine));
	json_object_object_add(o, "split_gen", json_object_new_int(vm->split.gen));
	json_object_object_add(o, "kernel_size", json_object_new_int64((int64_t)st.st_size));
	json_object_object_add(
	    o, "kernel_mtime_ns",
	    json_object_new_int64((int64_t)st.st_mtim.tv_sec * 1000000000ll + st.st_mtim.tv_nsec));
	json_object_object_add(o, "fetch", json_object_new_string(vm->split.fetch));
	json_object_object_add(o, "fetch_chunk",
			       json_object_new_int64((int64_t)vm->split.fetch_chunk));
	json_object_object_add(o, "subhosts_insecure",
			       json_object_new_boolean(vm->split.gen > 0 && vm->split.insecure));
	snprintf(path, sizeof(path), "%s/meta", files);
	if (json_object_to_file_ext(path, o, JSON_C_TO_STRING_PRETTY))
		ret = vmt_error(-EIO, "cannot write %s", path);
out:
	json_object_put(o);
	return ret;
}

/* The served folder: links to the VM's files and its meta. */
static int export_files(const struct vmt_vm_desc *vm, const struct export_paths *p)
{
	int ret = hosts_mkdir_p(p->files, 0700);

	if (ret)
		return vmt_error(ret, "cannot make %s: %s", p->files, strerror(-ret));
	ret = export_link(p->files, "mem", vm->mem_path);
	if (!ret)
		ret = export_link(p->files, "kernel", vm->kernel);
	if (!ret && vm->split.gen > 0)
		ret = export_link(p->files, "pagetable", vm->split.pagetable);
	if (!ret)
		ret = export_meta(vm, p->files);
	return ret;
}

/* Everything of the export goes; the descriptor is the caller's. */
static void export_remove(const struct vmt_vm_desc *vm, const struct export_paths *p, bool own_key)
{
	static const char *const names[] = {"mem", "kernel", "pagetable", "meta"};
	char path[4300];

	vmt_serve_stop(p->dir, vm->name, false);
	for (size_t i = 0; i < ARRAY_SIZE(names); i++) {
		snprintf(path, sizeof(path), "%s/%s", p->files, names[i]);
		unlink(path);
	}
	rmdir(p->files);
	if (own_key)
		unlink(p->key);
	rmdir(p->dir);
}

/* Key: the caller's, else the split's, else one made for the export. */
static int export_key(const struct vmt_vm_desc *vm, const struct vmt_vm_export_opts *o,
		      const struct export_paths *p, struct vmt_vm_export *e)
{
	const char *key = o->psk_file;
	int ret;

	if (!key && vm->split.gen > 0 && !vm->split.insecure && vm->split.psk_file[0])
		key = vm->split.psk_file;
	if (key) {
		if (key[0] != '/' || access(key, R_OK))
			return vmt_error(-EINVAL,
					 "key file %s: not an absolute path of a "
					 "readable file",
					 key);
		vmt_strlcpy(e->psk_file, key, sizeof(e->psk_file));
		return 0;
	}
	unlink(p->key);
	ret = vmt_subhost_psk_create(p->key, vm->name);
	if (ret)
		return vmt_error(ret, "cannot make key %s: %s", p->key, strerror(-ret));
	vmt_strlcpy(e->psk_file, p->key, sizeof(e->psk_file));
	e->own_key = true;
	return 0;
}

static int export_port_parse(const char *p, const char *s, unsigned *port)
{
	char *end;
	unsigned long v = strtoul(p, &end, 10);

	if (!*p || *end || !v || v > 65535)
		return vmt_error(-EINVAL, "--listen: bad port in '%s'", s);
	*port = (unsigned)v;
	return 0;
}

/* "ADDR[:PORT]" into host and port (0 = pick one). */
static int export_listen_parse(const char *s, char *host, size_t host_sz, unsigned *port)
{
	const char *colon = strchr(s, ':');
	size_t hl = colon ? (size_t)(colon - s) : strlen(s);

	*port = 0;
	/*
	 * libnbd (1.14) sends an IPv6 literal as the TLS server name and
	 * nbdkit's GnuTLS refuses the handshake ("disallowed SNI server name"):
	 * no reader could connect.
	 */
	if (s[0] == '[' || (colon && strchr(colon + 1, ':')))
		return vmt_error(-EINVAL, "--listen: an IPv6 address cannot be read over TLS-PSK "
					  "(libnbd sends it as the TLS server name, which GnuTLS "
					  "refuses): give an IPv4 address");
	if (!hl || hl >= host_sz)
		return vmt_error(-EINVAL, "--listen: bad address in '%s'", s);
	memcpy(host, s, hl);
	host[hl] = '\0';
	return colon ? export_port_parse(colon + 1, s, port) : 0;
}

/* Start nbdkit on the asked port, or on the first free one from 10809. */
static int export_serve(const struct vmt_vm_desc *vm, const struct export_paths *p,
			const char *host, unsigned port, struct vmt_vm_export *e)
{
	struct vmt_serve_opts so = {.sz = sizeof(so),
				    .vm = vm->name,
				    .store = p->dir,
				    .listen = e->listen,
				    .psk_file = e->psk_file,
				    .netns = e->netns,
				    .dir = p->files};
	unsigned first = port ? port : VMT_HOSTS_FIRST_PORT;
	int tries = port ? 1 : EXPORT_PORT_TRIES, ret = -EADDRINUSE;

	for (int t = 0; t < tries && ret == -EADDRINUSE; t++) {
		snprintf(e->listen, sizeof(e->listen), "%s:%u", host, first + t);
		ret = vmt_serve(&so, NULL);
		if (ret && strstr(vmt_last_error(), strerror(EADDRINUSE)))
			ret = -EADDRINUSE;
	}
	if (ret == -EADDRINUSE && tries > 1)
		return vmt_error(ret, "no free port from %u on %s", first, host);
	return ret;
}

/* Do the options ask for what runs?  0, or -EEXIST naming every difference. */
static int export_compare(const struct vmt_vm_desc *vm, const struct vmt_vm_export *want)
{
	const struct vmt_vm_export *e = &vm->export;
	char msg[1024] = "";
	size_t n = 0;

	if (want->listen[0] && strcmp(want->listen, e->listen))
		n += snprintf(msg + n, sizeof(msg) - n, "listen: %s running, %s asked; ", e->listen,
			      want->listen);
	if (strcmp(want->netns, e->netns))
		n += snprintf(msg + n, sizeof(msg) - n, "namespace: '%s' running, '%s' asked; ",
			      e->netns, want->netns);
	if (want->psk_file[0] && strcmp(want->psk_file, e->psk_file))
		n += snprintf(msg + n, sizeof(msg) - n, "key: %s running, %s asked; ", e->psk_file,
			      want->psk_file);
	if (!n)
		return 0;
	return vmt_error(-EEXIST,
			 "VM '%s' is exported with other options (%s`vmt vm unexport %s` "
			 "first)",
			 vm->name, msg, vm->name);
}

/* What the options ask for, before anything runs (listen without a port: any). */
static int export_want(const struct vmt_vm_desc *vm, const struct vmt_vm_export_opts *o,
		       struct vmt_vm_export *w, char *host, size_t host_sz, unsigned *port)
{
	int ret;

	memset(w, 0, sizeof(*w));
	vmt_strlcpy(w->netns, o->netns ? o->netns : vm->split.main_netns, sizeof(w->netns));
	/* In a namespace vmt made, every address is a link to a host vmt made. */
	ret = export_listen_parse(o->listen	? o->listen
				  : w->netns[0] ? "0.0.0.0"
						: "127.0.0.1",
				  host, host_sz, port);
	if (ret)
		return ret;
	if (o->listen && *port)
		vmt_strlcpy(w->listen, o->listen, sizeof(w->listen));
	if (o->psk_file)
		vmt_strlcpy(w->psk_file, o->psk_file, sizeof(w->psk_file));
	return 0;
}

int vmt_vm_export_start(struct vmt_vm_desc *vm, const struct vmt_vm_export_opts *o, bool *already)
{
	struct vmt_vm_export want;
	struct export_paths p;
	char host[64];
	unsigned port;
	int ret;

	*already = false;
	if (!o || o->sz < sizeof(*o))
		return vmt_error(-EINVAL, "export: options struct too small");
	ret = export_paths(vm, &p);
	if (!ret)
		ret = export_want(vm, o, &want, host, sizeof(host), &port);
	if (ret)
		return ret;
	if (vm->export.on && export_alive(&p) && vm->export.split_gen == vm->split.gen &&
	    !strcmp(vm->export.mem_path, vm->mem_path)) {
		ret = export_compare(vm, &want);
		*already = !ret;
		return ret;
	}
	/* Dead, or the VM was split since (new memory file, page table): make it again. */
	if (vm->export.on || !access(p.dir, F_OK))
		export_remove(vm, &p, vm->export.own_key);
	if (hosts_mkdir_p(p.dir, 0700))
		return vmt_error(-errno, "cannot make %s: %s", p.dir, strerror(errno));
	ret = export_key(vm, o, &p, &want);
	if (!ret)
		ret = export_files(vm, &p);
	if (!ret)
		ret = export_serve(vm, &p, host, port, &want);
	if (ret) {
		char why[512];

		vmt_strlcpy(why, vmt_last_error(), sizeof(why));
		export_remove(vm, &p, want.own_key);
		return vmt_error(ret, "%s", why);
	}
	want.on = true;
	want.split_gen = vm->split.gen;
	vmt_strlcpy(want.dir, p.dir, sizeof(want.dir));
	vmt_strlcpy(want.mem_path, vm->mem_path, sizeof(want.mem_path));
	vm->export = want;
	ret = vmt_vm_desc_write(vm);
	if (ret)
		vmt_vm_export_stop(vm, false);
	return ret;
}

int vmt_vm_export_stop(struct vmt_vm_desc *vm, bool write_desc)
{
	struct export_paths p;
	bool found;
	int ret = export_paths(vm, &p);

	if (ret)
		return ret;
	found = vm->export.on || !access(p.dir, F_OK);
	if (found)
		export_remove(vm, &p, vm->export.own_key || !access(p.key, F_OK));
	if (!access(p.dir, F_OK))
		return vmt_error(-EBUSY, "could not remove %s", p.dir);
	if (!found)
		return vmt_error(-ENOENT, "VM '%s' is not exported", vm->name);
	memset(&vm->export, 0, sizeof(vm->export));
	return write_desc ? vmt_vm_desc_write(vm) : 0;
}

// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * qargs.c - a running QEMU's command line, what it says about the VM, and
 * the destination's version of it for a split.
 *
 * The destination runs the same command line as the source, but it must
 * not take what the source still holds: the memory file (a new sparse one),
 * every server socket (QMP, monitor, agent serial: the source listens on
 * them until it quits), the pidfile, and file logs (a serial log given to
 * QEMU as file: is truncated when opened, and the source's log is the
 * operator's record).  -daemonize is dropped: vmt starts QEMU detached
 * itself and knows its pid.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/internal.h"
#include "split/split_priv.h"

#define CMDLINE_MAX (1u << 20)

void qargs_free(struct qargs *a)
{
	for (int i = 0; i < a->n; i++)
		free(a->v[i]);
	a->n = 0;
	a->v[0] = NULL;
}

static int qargs_add(struct qargs *a, const char *s)
{
	if (a->n >= QARGS_MAX)
		return vmt_error(-E2BIG, "QEMU command line has more than %d arguments", QARGS_MAX);
	a->v[a->n] = strdup(s);
	if (!a->v[a->n])
		return -ENOMEM;
	a->v[++a->n] = NULL;
	return 0;
}

int qargs_read_pid(pid_t pid, struct qargs *out)
{
	char path[64], *buf;
	ssize_t n, len = 0;
	int fd, r = 0;

	out->n = 0;
	snprintf(path, sizeof(path), "/proc/%d/cmdline", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return vmt_error(-errno, "cannot read %s: %s", path, strerror(errno));
	buf = malloc(CMDLINE_MAX + 1);
	if (!buf) {
		close(fd);
		return -ENOMEM;
	}
	while (len < CMDLINE_MAX && (n = read(fd, buf + len, CMDLINE_MAX - (size_t)len)) > 0)
		len += n;
	close(fd);
	if (len <= 0 || len >= CMDLINE_MAX) {
		free(buf);
		return vmt_error(-EINVAL, "%s is empty or too long", path);
	}
	buf[len] = '\0';
	for (char *p = buf; !r && p < buf + len; p += strlen(p) + 1)
		r = qargs_add(out, p);
	free(buf);
	if (r)
		qargs_free(out);
	return r;
}

int qsize_parse(const char *s, uint64_t *out)
{
	unsigned long long v;
	char *end;
	unsigned shift = 0;

	errno = 0;
	v = strtoull(s, &end, 10);
	if (end == s || errno)
		return -EINVAL;
	switch (*end) {
	case 'k':
	case 'K':
		shift = 10;
		break;
	case 'm':
	case 'M':
		shift = 20;
		break;
	case 'g':
	case 'G':
		shift = 30;
		break;
	case 't':
	case 'T':
		shift = 40;
		break;
	case '\0':
	case 'b':
	case 'B':
		break;
	default:
		return -EINVAL;
	}
	if (*end && end[1] && strcmp(end + 1, "B") && strcmp(end + 1, "iB"))
		return -EINVAL;
	if (shift && v > (~0ull >> shift))
		return -EINVAL;
	*out = (uint64_t)v << shift;
	return 0;
}

/* Value of key in a QEMU option string "a,k=v,..." (first match); false if absent. */
static bool qopt_get(const char *opts, const char *key, char *out, size_t sz)
{
	size_t klen = strlen(key);

	for (const char *p = opts; p && *p; p = strchr(p, ',') ? strchr(p, ',') + 1 : NULL) {
		if (!strncmp(p, key, klen) && p[klen] == '=') {
			const char *v = p + klen + 1;
			size_t n = strcspn(v, ",");

			if (n >= sz)
				n = sz - 1;
			memcpy(out, v, n);
			out[n] = '\0';
			return true;
		}
	}
	return false;
}

/* Does the option string hold flag as "flag", "flag=on" or (for server) "server=true"? */
static bool qopt_flag(const char *opts, const char *flag)
{
	char v[16];
	size_t flen = strlen(flag);

	for (const char *p = opts; p && *p; p = strchr(p, ',') ? strchr(p, ',') + 1 : NULL)
		if (!strncmp(p, flag, flen) && (p[flen] == ',' || !p[flen]))
			return true;
	return qopt_get(opts, flag, v, sizeof(v)) &&
	       (!strcmp(v, "on") || !strcmp(v, "true") || !strcmp(v, "yes"));
}

/* Options that take a value: the token after them is never an option. */
static bool opt_has_value(const char *o)
{
	static const char *const noval[] = {
	    "-daemonize",
	    "-no-reboot",
	    "-no-shutdown",
	    "-nographic",
	    "-S",
	    "-snapshot",
	    "-enable-kvm",
	    "-no-hpet",
	    "-no-acpi",
	    "-nodefaults",
	    "-no-user-config",
	    "-s",
	    "-full-screen",
	    "-usb",
	    "-only-migratable",
	    "-preconfig",
	    "-no-fd-bootchk",
	    "-semihosting",
	    "-win2k-hack",
	    "-old-param",
	    "-enable-fips",
	    "-version",
	    "-help",
	    "-h",
	};

	if (o[0] != '-')
		return false;
	if (o[1] == '-')
		o++;
	for (size_t i = 0; i < ARRAY_SIZE(noval); i++)
		if (!strcmp(o, noval[i]))
			return false;
	return true;
}

/* "-opt" and "--opt" are the same option. */
static bool opt_is(const char *arg, const char *name)
{
	if (arg[0] == '-' && arg[1] == '-')
		arg++;
	return !strcmp(arg, name);
}

static void machine_of(const char *v, char *out, size_t sz)
{
	char type[64];

	if (!qopt_get(v, "type", type, sizeof(type))) {
		size_t n = strcspn(v, ",");

		if (n >= sizeof(type))
			n = sizeof(type) - 1;
		memcpy(type, v, n);
		type[n] = '\0';
	}
	vmt_strlcpy(out, strstr(type, "q35") ? "q35" : "pc", sz);
}

/* A chardev spec "unix:PATH,server..." / "file:PATH": its path and kind. */
static bool spec_path(const char *spec, const char *kind, char *out, size_t sz)
{
	size_t klen = strlen(kind);
	size_t n;

	if (strncmp(spec, kind, klen))
		return false;
	n = strcspn(spec + klen, ",");
	if (n >= sz)
		return false;
	memcpy(out, spec + klen, n);
	out[n] = '\0';
	return true;
}

static void inspect_backend(const char *v, struct qemu_info *q)
{
	char sz[32], share[8];

	if (strncmp(v, "memory-backend-file,", 20))
		return;
	if (q->file_backends++)
		return;
	qopt_get(v, "mem-path", q->mem_path, sizeof(q->mem_path));
	q->mem_share = qopt_get(v, "share", share, sizeof(share)) &&
		       (!strcmp(share, "on") || !strcmp(share, "true") || !strcmp(share, "yes"));
	if (qopt_get(v, "size", sz, sizeof(sz)))
		qsize_parse(sz, &q->mem_bytes);
}

static void inspect_opt(const char *o, const char *v, struct qemu_info *q)
{
	char path[4096];

	if (opt_is(o, "-object"))
		inspect_backend(v, q);
	else if (opt_is(o, "-machine") || opt_is(o, "-M"))
		machine_of(v, q->machine, sizeof(q->machine));
	else if (opt_is(o, "-kernel"))
		vmt_strlcpy(q->kernel, v, sizeof(q->kernel));
	else if (opt_is(o, "-initrd"))
		vmt_strlcpy(q->initrd, v, sizeof(q->initrd));
	else if (opt_is(o, "-append"))
		vmt_strlcpy(q->append, v, sizeof(q->append));
	else if (opt_is(o, "-pidfile"))
		vmt_strlcpy(q->pidfile, v, sizeof(q->pidfile));
	else if (opt_is(o, "-m") && !q->mem_bytes)
		qsize_parse(strncmp(v, "size=", 5) ? v : v + 5, &q->mem_bytes);
	else if (opt_is(o, "-cpu") && strstr(v, "+la57"))
		q->la57 = true;
	else if (opt_is(o, "-accel") && !strncmp(v, "kvm", 3))
		q->kvm = true;
	else if ((opt_is(o, "-qmp") || opt_is(o, "-qmp-pretty")) && !q->qmp_sock[0] &&
		 spec_path(v, "unix:", path, sizeof(path)) && qopt_flag(v, "server"))
		vmt_strlcpy(q->qmp_sock, path, sizeof(q->qmp_sock));
	else if (opt_is(o, "-serial") && !q->console_log[0] &&
		 spec_path(v, "file:", path, sizeof(path)))
		vmt_strlcpy(q->console_log, path, sizeof(q->console_log));
}

int qargs_inspect(const struct qargs *a, struct qemu_info *q)
{
	memset(q, 0, sizeof(*q));
	vmt_strlcpy(q->machine, "pc", sizeof(q->machine));
	for (int i = 1; i < a->n; i++) {
		const char *o = a->v[i];

		if (opt_is(o, "-daemonize"))
			q->daemonize = true;
		else if (opt_is(o, "-enable-kvm"))
			q->kvm = true;
		if (!opt_has_value(o) || i + 1 >= a->n)
			continue;
		inspect_opt(o, a->v[i + 1], q);
		i++;
	}
	if (!q->mem_path[0])
		return vmt_error(-ENOENT, "QEMU's command line has no -object memory-backend-file");
	return 0;
}

/* ---------------------------------------------------------- rewrite */

const char *qmap_get(const struct qmap *map, const char *old)
{
	for (int i = 0; i < map->n; i++)
		if (!strcmp(map->e[i].old, old))
			return map->e[i].new;
	return old;
}

/* New path in dir for old: "<dir>/g<gen>-<n>.sock" (short: 108-byte socket paths) or a file. */
static int qmap_add(struct qmap *map, const char *old, const char *dir, int gen, bool sock,
		    const char **out)
{
	const char *base = strrchr(old, '/') ? strrchr(old, '/') + 1 : old;
	size_t sz = sizeof(map->e[0].new), n;
	char *nw;

	for (int i = 0; i < map->n; i++)
		if (!strcmp(map->e[i].old, old)) {
			*out = map->e[i].new;
			return 0;
		}
	if (map->n >= QMAP_MAX)
		return vmt_error(-E2BIG, "too many sockets and files in QEMU's command line");
	vmt_strlcpy(map->e[map->n].old, old, sizeof(map->e[0].old));
	nw = map->e[map->n].new;
	if (sock)
		n = (size_t)snprintf(nw, sz, "%s/g%d-%d.sock", dir, gen, map->n);
	else
		n = (size_t)snprintf(nw, sz, "%s/g%d-%d-%s", dir, gen, map->n, base);
	if (n >= sz)
		return vmt_error(-ENAMETOOLONG, "path too long for %s", old);
	if (sock && n >= 108)
		return vmt_error(-ENAMETOOLONG, "socket path %s is too long", nw);
	*out = nw;
	map->n++;
	return 0;
}

/* Replace the text of path (at p, length n) inside v with nw; *out malloc'ed. */
static int splice_str(const char *v, const char *p, size_t n, const char *nw, char **out)
{
	size_t pre = (size_t)(p - v);

	if (asprintf(out, "%.*s%s%s", (int)pre, v, nw, p + n) < 0)
		return -ENOMEM;
	return 0;
}

/* Rewrite "kind" spec (unix: server / file:) or a key=PATH of an option string. */
static int rewrite_path_at(const char *v, const char *p, size_t n, const char *dir, int gen,
			   bool sock, struct qmap *map, char **out)
{
	char old[4096];
	const char *nw = NULL;
	int r;

	if (n >= sizeof(old))
		return vmt_error(-ENAMETOOLONG, "path too long in QEMU option %s", v);
	memcpy(old, p, n);
	old[n] = '\0';
	r = qmap_add(map, old, dir, gen, sock, &nw);
	return r ? r : splice_str(v, p, n, nw, out);
}

static const char *key_at(const char *v, const char *key)
{
	size_t klen = strlen(key);

	for (const char *p = v; p && *p; p = strchr(p, ',') ? strchr(p, ',') + 1 : NULL)
		if (!strncmp(p, key, klen) && p[klen] == '=')
			return p + klen + 1;
	return NULL;
}

/* The rewritten value of option o (NULL *out: keep it as it is). */
static int rewrite_value(const char *o, const char *v, const char *new_mem, const char *dir,
			 int gen, struct qmap *map, char **out)
{
	const char *p;

	*out = NULL;
	if (opt_is(o, "-object") && !strncmp(v, "memory-backend-file,", 20) &&
	    (p = key_at(v, "mem-path")))
		return splice_str(v, p, strcspn(p, ","), new_mem, out);
	if (opt_is(o, "-pidfile") || opt_is(o, "-D"))
		return rewrite_path_at(v, v, strlen(v), dir, gen, false, map, out);
	if ((opt_is(o, "-qmp") || opt_is(o, "-qmp-pretty") || opt_is(o, "-monitor") ||
	     opt_is(o, "-serial") || opt_is(o, "-parallel")) &&
	    !strncmp(v, "unix:", 5) && qopt_flag(v, "server"))
		return rewrite_path_at(v, v + 5, strcspn(v + 5, ","), dir, gen, true, map, out);
	if ((opt_is(o, "-serial") || opt_is(o, "-parallel") || opt_is(o, "-debugcon")) &&
	    !strncmp(v, "file:", 5))
		return rewrite_path_at(v, v + 5, strcspn(v + 5, ","), dir, gen, false, map, out);
	if (opt_is(o, "-chardev") && (p = key_at(v, "path"))) {
		bool sock = !strncmp(v, "socket,", 7);

		if ((sock && qopt_flag(v, "server")) || !strncmp(v, "file,", 5))
			return rewrite_path_at(v, p, strcspn(p, ","), dir, gen, sock, map, out);
	}
	if (opt_is(o, "-chardev") && !strncmp(v, "file,", 5) && (p = key_at(v, "path")))
		return rewrite_path_at(v, p, strcspn(p, ","), dir, gen, false, map, out);
	return 0;
}

static int rewrite_one(const struct qargs *src, int *i, const char *new_mem, const char *dir,
		       int gen, struct qargs *out, struct qmap *map)
{
	const char *o = src->v[*i];
	char *nv = NULL;
	int r;

	if (opt_is(o, "-daemonize"))
		return 0;
	if (!opt_has_value(o) || *i + 1 >= src->n)
		return qargs_add(out, o);
	(*i)++;
	if (opt_is(o, "-incoming"))
		return 0;
	r = rewrite_value(o, src->v[*i], new_mem, dir, gen, map, &nv);
	if (!r)
		r = qargs_add(out, o);
	if (!r)
		r = qargs_add(out, nv ? nv : src->v[*i]);
	free(nv);
	return r;
}

int qargs_rewrite(const struct qargs *src, const char *new_mem, const char *dir, int gen,
		  struct qargs *out, struct qmap *map)
{
	int r = 0;

	out->n = 0;
	map->n = 0;
	if (src->n < 1)
		return -EINVAL;
	r = qargs_add(out, src->v[0]);
	for (int i = 1; !r && i < src->n; i++)
		r = rewrite_one(src, &i, new_mem, dir, gen, out, map);
	if (!r)
		r = qargs_add(out, "-incoming");
	if (!r)
		r = qargs_add(out, "defer");
	if (r)
		qargs_free(out);
	return r;
}

// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * supervisor.c - the loop that answers the tool's trapped system calls.
 *
 * One thread polls the listener and a stop event; each notification is
 * received, answered from a snapshot pinned for that call, and sent back
 * (an answer, an errno, or "continue": run it on the host).  The caller's
 * memory is read and written with process_vm_readv/writev; after reading
 * it, and before writing it or acting on what was read, the notification
 * is checked to be still valid (the caller may have died, its pid reused).
 * A caller that died before the answer (ENOENT) is not an error.  The
 * thread ends when the listener hangs up (no process uses the filter any
 * more) or on stop; nothing here waits on the guest: a gone guest is a
 * NULL snapshot, answered at once.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#include "core/internal.h"
#include "procfs/fuse.h"
#include "syscalls/sc_internal.h"

/* ------------------------------------------------------------ the caller's memory */

static int mem_read(const struct sc_mem *m, uint64_t addr, void *buf, size_t len)
{
	struct iovec local = {buf, len}, remote = {(void *)(uintptr_t)addr, len};
	ssize_t n;

	if (!len)
		return 0;
	n = process_vm_readv(m->pid, &local, 1, &remote, 1, 0);
	if (n < 0)
		return errno == ESRCH ? -ESRCH : -EFAULT;
	return (size_t)n == len ? 0 : -EFAULT;
}

/* Written only while the notification is still the caller's (its pid may be reused). */
static int mem_write(const struct sc_mem *m, uint64_t addr, const void *buf, size_t len)
{
	const struct sc_call *c =
	    (const struct sc_call *)((const char *)m - offsetof(struct sc_call, mem));
	struct iovec local = {(void *)buf, len}, remote = {(void *)(uintptr_t)addr, len};
	uint64_t id = c->n->id;
	ssize_t n;

	if (ioctl(c->sv->listener, SECCOMP_IOCTL_NOTIF_ID_VALID, &id))
		return -ESRCH;
	if (!len)
		return 0;
	n = process_vm_writev(m->pid, &local, 1, &remote, 1, 0);
	if (n < 0)
		return errno == ESRCH ? -ESRCH : -EFAULT;
	return (size_t)n == len ? 0 : -EFAULT;
}

/* ------------------------------------------------------------ the snapshot */

static void text_copy(char *dst, size_t cap, const struct pfs_node *f)
{
	size_t len = f && f->type == PFS_FILE ? VMT_MIN(f->len, cap - 1) : 0;

	if (len)
		memcpy(dst, f->data, len);
	dst[len] = '\0';
}

/* A lazy directory not filled yet: read through the mount, whose server fills it. */
static int text_via_mount(struct sc_call *c, const char *rel, const char *name, char *buf,
			  size_t cap)
{
	char path[256];
	ssize_t n;
	size_t len = 0;
	int fd;

	buf[0] = '\0';
	if (!c->sv->o.procpath)
		return -EIO;
	snprintf(path, sizeof(path), "%s/%s/%s", c->sv->o.procpath, rel, name);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? 0 : -EIO;
	while (len < cap - 1 && (n = read(fd, buf + len, cap - 1 - len)) > 0)
		len += (size_t)n;
	close(fd);
	buf[len] = '\0';
	return 0;
}

/* dir's path under /proc ("1234" or "1234/task/1240"), at most three names deep. */
static void node_relpath(const struct pfs_snapshot *snap, const struct pfs_node *dir, char *out,
			 size_t cap)
{
	const struct pfs_node *chain[4];
	size_t depth = 0, used = 0;

	for (; dir && dir != snap->procdir && depth < 4; dir = dir->parent)
		chain[depth++] = dir;
	out[0] = '\0';
	while (depth-- && used < cap)
		used += (size_t)snprintf(out + used, cap - used, "%s%s", used ? "/" : "",
					 chain[depth]->name);
}

int sc_pid_text(struct sc_call *c, long pid, struct sc_pid_text *t)
{
	const struct sc_source *src = &c->sv->o.src;
	bool lazy = c->snap && c->snap->nlazy && src->lock, alias = false, unfilled = false;
	const struct pfs_node *dir;
	char name[24], rel[64];
	int err = 0;

	t->stat[0] = t->status[0] = '\0';
	if (!c->snap)
		return -EIO;
	if (pid <= 0)
		return -ESRCH;
	snprintf(name, sizeof(name), "%ld", pid);
	if (lazy)
		src->lock(src->arg, true);
	dir = pfs_snapshot_lookup(c->snap, name, &alias);
	if (dir && dir->type == PFS_DIR) {
		const struct pfs_node *st = pfs_child(dir, "stat"), *ss = pfs_child(dir, "status");

		text_copy(t->stat, sizeof(t->stat), st);
		text_copy(t->status, sizeof(t->status), ss);
		unfilled = lazy && !st && !ss;
		if (unfilled)
			node_relpath(c->snap, dir, rel, sizeof(rel));
	}
	if (lazy)
		src->lock(src->arg, false);
	if (!dir || dir->type != PFS_DIR)
		return -ESRCH;
	if (unfilled) {
		err = text_via_mount(c, rel, "stat", t->stat, sizeof(t->stat));
		if (!err)
			err = text_via_mount(c, rel, "status", t->status, sizeof(t->status));
	}
	return err;
}

int sc_sys_text(struct sc_call *c, const char *path, char *buf, size_t cap)
{
	const struct pfs_node *f;

	buf[0] = '\0';
	if (!c->snap)
		return -EIO;
	/* System-wide files are made at build time, never by a lazy fill: no lock. */
	f = pfs_walk(c->snap->procdir, path);
	if (!f || f->type != PFS_FILE)
		return -ENOENT;
	text_copy(buf, cap, f);
	return 0;
}

/* ------------------------------------------------------------ the host */

bool sc_host_is_caller(struct sc_call *c, long pid)
{
	struct sc_supervisor *sv = c->sv;
	pid_t tid = (pid_t)c->n->pid;

	if (pid == tid)
		return true;
	if (sv->tgid_of_tid != tid) {
		sv->tgid = (pid_t)pfs_host_status_field(sv->o.hostproc, tid, "\nTgid:");
		sv->tgid_of_tid = tid;
	}
	/* The caller's other threads are in the tool's tree (sc_host_in_tree). */
	return sv->tgid > 0 && pid == sv->tgid;
}

/* Another thread of the caller's thread group: path lookups, no read. */
bool sc_host_caller_thread(struct sc_call *c, long pid)
{
	char path[48];

	if (c->sv->tgid <= 0 || pid <= 0 || c->sv->o.hostproc < 0)
		return false;
	/* No such host pid (chkproc's common case) fails at the first name, quicker. */
	snprintf(path, sizeof(path), "%ld", pid);
	if (faccessat(c->sv->o.hostproc, path, F_OK, 0))
		return false;
	snprintf(path, sizeof(path), "%d/task/%ld", (int)c->sv->tgid, pid);
	return !faccessat(c->sv->o.hostproc, path, F_OK, 0);
}

/* Descends from tree_root on the host (a subreaper keeps orphans under it); bounded. */
bool sc_host_in_tree(struct sc_call *c, long pid)
{
	long p = pid;

	if (c->sv->o.tree_root <= 0 || pid <= 0 || pid == c->sv->o.tree_root)
		return false;
	for (int depth = 0; depth < 256; depth++) {
		p = pfs_host_status_field(c->sv->o.hostproc, p, "\nPPid:");
		if (p == c->sv->o.tree_root)
			return true;
		if (p <= 1)
			return false;
	}
	return false;
}

long sc_host_caller_uid(struct sc_call *c)
{
	return pfs_host_status_field(c->sv->o.hostproc, (long)c->n->pid, "\nUid:\t");
}

pid_t sc_host_caller_pgrp(struct sc_call *c)
{
	char path[32], buf[512], *p;
	long pgrp = -1;
	ssize_t n;
	int fd;

	if (c->sv->o.hostproc < 0)
		return -1;
	snprintf(path, sizeof(path), "%d/stat", (int)c->n->pid);
	fd = openat(c->sv->o.hostproc, path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n > 0) {
		buf[n] = '\0';
		p = strrchr(buf, ')');
		/* ") S PPID PGRP" */
		if (p && sscanf(p + 1, " %*c %*d %ld", &pgrp) != 1)
			pgrp = -1;
	}
	return (pid_t)pgrp;
}

/* ------------------------------------------------------------ sources */

static const struct pfs_snapshot *server_get(void *arg)
{
	return pfs_server_snapshot_get(arg);
}

static void server_put(void *arg, const struct pfs_snapshot *snap)
{
	pfs_server_snapshot_put(arg, snap);
}

static void server_lock(void *arg, bool lock)
{
	pfs_server_guest_lock(arg, lock);
}

void sc_source_of_server(struct sc_source *src, struct pfs_server *s)
{
	*src =
	    (struct sc_source){.get = server_get, .put = server_put, .lock = server_lock, .arg = s};
}

/* ------------------------------------------------------------ dispatch */

#ifndef VMT_HAVE_NETIF
/* Until the guest's interfaces are answered (netif.c), the getters say "no such request". */
bool sc_netif_handles(unsigned long cmd)
{
	return cmd == 0x8912 || cmd == 0x8913 || cmd == 0x8933; /* CONF, FLAGS, INDEX */
}

int sc_netif_ioctl(const struct vmt_netdev_list *devs, unsigned long cmd, uint64_t argp,
		   const struct sc_mem *m)
{
	return -ENOTTY;
}
#endif

/* SIOCGIF* getters the guest does not answer run on the host; setters never do. */
static bool netif_host_getter(unsigned cmd)
{
	static const unsigned getters[] = {0x8910, 0x8912, 0x8913, 0x8915, 0x8917, 0x8919, 0x891b,
					   0x891d, 0x891f, 0x8921, 0x8925, 0x8927, 0x8929, 0x8933,
					   0x8935, 0x8938, 0x8940, 0x8942, 0x8970};

	for (size_t i = 0; i < sizeof(getters) / sizeof(getters[0]); i++)
		if (cmd == getters[i])
			return true;
	return false;
}

static long answer_ioctl(struct sc_call *c)
{
	unsigned cmd = (unsigned)c->n->data.args[1];

	if (sc_netif_handles(cmd)) {
		if (!c->snap)
			return -EIO;
#ifdef VMT_HAVE_NETIF
		return sc_netif_ioctl(c->snap->netdevs, cmd, c->n->data.args[2], &c->mem);
#else
		return sc_netif_ioctl(NULL, cmd, c->n->data.args[2], &c->mem);
#endif
	}
	return netif_host_getter(cmd) ? SC_CONTINUE : -EPERM;
}

static long answer(struct sc_call *c)
{
	switch (c->n->data.nr) {
	case SYS_uname:
		return sc_uname(c);
	case SYS_sysinfo:
		return sc_sysinfo(c);
	case SYS_ioctl:
		return answer_ioctl(c);
	default:
		return sc_probe_call(c);
	}
}

/* Receive one notification, answer it, send the answer. */
static void serve_one(struct sc_supervisor *sv, struct seccomp_notif *n,
		      struct seccomp_notif_resp *r, size_t nsz, size_t rsz)
{
	const struct sc_source *src = &sv->o.src;
	struct sc_call c = {.sv = sv, .n = n};
	long v;

	memset(n, 0, nsz);
	if (ioctl(sv->listener, SECCOMP_IOCTL_NOTIF_RECV, n))
		return; /* EINTR, or ENOENT: the caller died before we read it */
	sv->st.calls++;
	c.mem = (struct sc_mem){.pid = (pid_t)n->pid, .read = mem_read, .write = mem_write};
	c.snap = src->get(src->arg);
	v = answer(&c);
	if (c.snap)
		src->put(src->arg, c.snap);
	memset(r, 0, rsz);
	r->id = n->id;
	if (v == SC_CONTINUE) {
		r->flags = SECCOMP_USER_NOTIF_FLAG_CONTINUE;
		sv->st.continued++;
	} else {
		r->error = v < 0 ? (int32_t)v : 0;
		r->val = v < 0 ? 0 : v;
		sv->st.answered++;
	}
	if (ioctl(sv->listener, SECCOMP_IOCTL_NOTIF_SEND, r))
		sv->st.lost++; /* ENOENT: the caller is gone (killed mid-call) */
}

static void *supervisor_main(void *arg)
{
	struct sc_supervisor *sv = arg;
	struct seccomp_notif_sizes sz = {0};
	struct pollfd p[2] = {{.fd = sv->listener, .events = POLLIN},
			      {.fd = sv->stop_fd, .events = POLLIN}};
	struct seccomp_notif *n;
	struct seccomp_notif_resp *r;
	size_t nsz, rsz;
	sigset_t all;

	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, NULL);
	pfs_thread_pin(sv->o.cpu, "syscalls");
	/* The kernel's structs may be larger than our headers' (newer fields). */
	if (syscall(SYS_seccomp, SECCOMP_GET_NOTIF_SIZES, 0, &sz))
		sz = (struct seccomp_notif_sizes){sizeof(*n), sizeof(*r), 0};
	nsz = VMT_MAX((size_t)sz.seccomp_notif, sizeof(*n));
	rsz = VMT_MAX((size_t)sz.seccomp_notif_resp, sizeof(*r));
	n = calloc(1, nsz);
	r = calloc(1, rsz);
	while (n && r) {
		if (poll(p, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (p[1].revents)
			break;
		if (p[0].revents & POLLIN)
			serve_one(sv, n, r, nsz, rsz);
		else if (p[0].revents & (POLLHUP | POLLERR | POLLNVAL))
			break; /* no process uses the filter any more */
	}
	free(n);
	free(r);
	/*
	 * Ending here for any reason: closing the listener now makes a trapped
	 * call fail with ENOSYS instead of waiting for an answer no one gives
	 * (vmt exec waits for the tool before stopping us).
	 */
	close(sv->listener);
	sv->listener = -1;
	return NULL;
}

struct sc_supervisor *sc_supervisor_start(const struct sc_opts *o, int listener)
{
	struct sc_supervisor *sv = calloc(1, sizeof(*sv));
	int err;

	if (!sv) {
		close(listener);
		errno = ENOMEM;
		return NULL;
	}
	sv->o.hostproc = -1;
	sv->o.cpu = -1;
	memcpy(&sv->o, o, VMT_MIN(o->sz, sizeof(sv->o)));
	sv->listener = listener;
	sv->stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (sv->stop_fd < 0 || !sv->o.src.get || !sv->o.src.put) {
		err = sv->stop_fd < 0 ? errno : EINVAL;
		goto fail;
	}
	err = pthread_create(&sv->thread, NULL, supervisor_main, sv);
	if (err)
		goto fail;
	sv->running = true;
	return sv;
fail:
	sc_supervisor_stop(sv, NULL);
	errno = err;
	return NULL;
}

void sc_supervisor_stop(struct sc_supervisor *sv, struct sc_stats *st)
{
	uint64_t one = 1;

	if (!sv)
		return;
	if (sv->running) {
		if (write(sv->stop_fd, &one, sizeof(one)) < 0)
			pr_warn("syscalls: stop: %s", strerror(errno));
		pthread_join(sv->thread, NULL);
	}
	if (st)
		*st = sv->st;
	/* Closing the listener: a process still filtered gets ENOSYS for a trapped call. */
	if (sv->listener >= 0)
		close(sv->listener);
	if (sv->stop_fd >= 0)
		close(sv->stop_fd);
	free(sv);
}

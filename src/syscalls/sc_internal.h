/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * sc_internal.h - what the supervisor's parts share: one trapped call
 * being answered, and how its answers reach the snapshot and the host.
 */
#ifndef VMT_SYSCALLS_INTERNAL_H
#define VMT_SYSCALLS_INTERNAL_H

#include <limits.h>
#include <linux/seccomp.h>
#include <pthread.h>

#include "procfs/snapshot.h"
#include "syscalls/netif.h"
#include "syscalls/supervisor.h"

/* A handler's answer: pass the call to the host kernel (SECCOMP_USER_NOTIF_FLAG_CONTINUE). */
#define SC_CONTINUE LONG_MIN

/* A pid directory's text files we answer from (stat ~ 300 bytes, status ~ 1.5 KB). */
#define SC_TEXT_MAX 4096

/* The texts of one guest pid's stat and status files (each "" if absent). */
struct sc_pid_text {
	char stat[SC_TEXT_MAX];
	char status[SC_TEXT_MAX];
};

struct sc_supervisor {
	struct sc_opts o;
	int listener;
	int stop_fd;
	pthread_t thread;
	bool running;
	struct sc_stats st;
	/* The last caller's thread group (chkproc makes millions of calls from one thread). */
	pid_t tgid_of_tid, tgid;
	struct sc_pid_text text; /* one call at a time: the texts of the pid it asks about */
};

/* One trapped call. */
struct sc_call {
	struct sc_supervisor *sv;
	const struct seccomp_notif *n;
	const struct pfs_snapshot *snap; /* NULL: the guest is gone */
	struct sc_mem mem;
};

/*
 * /proc/PID as the shadow /proc's lookup answers it: 0 and its texts,
 * -ESRCH: no such guest pid, -EIO: no snapshot or the lazy fill failed.
 */
int sc_pid_text(struct sc_call *c, long pid, struct sc_pid_text *t);
/* A system-wide file of the snapshot (path under /proc), NUL-terminated; -ENOENT, -EIO. */
int sc_sys_text(struct sc_call *c, const char *path, char *buf, size_t cap);

/* Host side: is pid the calling thread or its thread group; is it in the tool's tree? */
bool sc_host_is_caller(struct sc_call *c, long pid);
/* After sc_host_is_caller (which learns the caller's group): one of its other threads? */
bool sc_host_caller_thread(struct sc_call *c, long pid);
bool sc_host_in_tree(struct sc_call *c, long pid);
/* The caller's process group, its real uid on the host; -1 if unknown. */
pid_t sc_host_caller_pgrp(struct sc_call *c);
long sc_host_caller_uid(struct sc_call *c);

/* Answers (probes.c, uts.c): a value >= 0, a negative errno, or SC_CONTINUE. */
long sc_probe_call(struct sc_call *c);
long sc_uname(struct sc_call *c);
long sc_sysinfo(struct sc_call *c);

#endif

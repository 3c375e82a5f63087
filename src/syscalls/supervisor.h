/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * supervisor.h - answer the tool's system calls from the guest (seccomp
 * user notification), for `vmt exec`.
 *
 * The tool's process installs the filter (sc_filter_install) between fork
 * and exec; every process it starts inherits it.  The filter traps only
 * the calls that must show the guest (process probes, uname, sysinfo, the
 * interface ioctls) and refuses netlink sock_diag sockets; every other
 * call runs natively, with no round trip.  The supervisor thread answers
 * the trapped calls from the snapshot the shadow /proc serves, so a probe
 * and the file it mirrors agree by construction.  See README.md.
 */
#ifndef VMT_SYSCALLS_SUPERVISOR_H
#define VMT_SYSCALLS_SUPERVISOR_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

struct pfs_server;
struct pfs_snapshot;

/* Where the answers come from: a snapshot pinned for one call. */
struct sc_source {
	/* The current snapshot (borrowed until put), or NULL: the guest is gone. */
	const struct pfs_snapshot *(*get)(void *arg);
	void (*put)(void *arg, const struct pfs_snapshot *snap);
	/* A lazy snapshot's pid directories are read under this lock; NULL: none. */
	void (*lock)(void *arg, bool lock);
	void *arg;
};

/* The snapshots a FUSE server serves (pfs_server_snapshot_get/put, its guest lock). */
void sc_source_of_server(struct sc_source *src, struct pfs_server *s);

struct sc_opts {
	size_t sz;
	struct sc_source src;
	/*
	 * O_PATH fd of the host's /proc (not owned): the caller's thread group
	 * and the ancestry of a pid that is not the guest's.  -1: no pid
	 * outside the guest is ever the tool's (ESRCH).
	 */
	int hostproc;
	/* The tool's tree: processes descending from this host pid (vmt exec: itself). */
	pid_t tree_root;
	/*
	 * The shadow /proc as mounted where the supervisor runs ("/proc" in
	 * vmt exec's namespace): a lazy pid directory not filled yet is read
	 * through it (the server fills it).  NULL: answer EIO instead.
	 */
	const char *procpath;
	int cpu; /* >= 0: the supervisor thread runs on that CPU only */
};

/* Counts since start (for --stats and tests). */
struct sc_stats {
	uint64_t calls;	    /* notifications received */
	uint64_t answered;  /* answered from the guest (success or errno) */
	uint64_t continued; /* passed to the host kernel */
	uint64_t lost;	    /* the caller died before the answer */
};

/*
 * In the tool's process, after fork and before exec: install the filter
 * with a new listener.  The listener fd, or a negative errno.  Sets
 * no_new_privs only when the process lacks CAP_SYS_ADMIN (a set-uid tool
 * then still gains root).  Async-signal-safe (no allocation): callable in
 * the child of a multi-threaded parent.
 */
int sc_filter_install(void);

/* Pass the listener over a unix socket (SCM_RIGHTS): 0 / the fd, or a negative errno. */
int sc_fd_send(int sock, int fd);
int sc_fd_recv(int sock);

struct sc_supervisor;

/*
 * Answer the listener's notifications on a thread of its own (listener
 * owned from here, also on failure).  NULL and errno on failure.  The
 * thread ends by itself once no process uses the filter any more.
 */
struct sc_supervisor *sc_supervisor_start(const struct sc_opts *o, int listener);
/* Stop (a pending call is answered first), join and free; st may be NULL.  NULL: nothing. */
void sc_supervisor_stop(struct sc_supervisor *sv, struct sc_stats *st);

#endif

/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * fuse.h - serve shadow /proc snapshots over FUSE (libfuse3, low level).
 *
 * A server owns the snapshot it serves and the ones that replace it: a
 * refresh (every refresh_ms, or pfs_server_refresh(), e.g. from SIGHUP)
 * builds a new snapshot on a thread of its own through the caller's
 * rebuild function and swaps it in between two requests; a snapshot is
 * freed once no open file or directory uses it.  The calling process's
 * own pid and threads, when the guest has no such pid, are answered from
 * the host's real /proc (hostproc, opened before anything is mounted over
 * /proc), never listed; /proc/self and /proc/thread-self point at the
 * caller.  Once check() or rebuild() says the guest is gone (-ENODEV),
 * every lookup and read fails with EIO; unmounting always works.
 */
#ifndef VMT_PROCFS_FUSE_H
#define VMT_PROCFS_FUSE_H

#include <stdbool.h>

#include "procfs/snapshot.h"

struct pfs_server_opts {
	size_t sz;
	const char *mountpoint;
	/*
	 * Build a fresh snapshot (0 and *out, or a negative errno; -ENODEV:
	 * the guest is gone).  Called with the guest lock held, from the
	 * refresh thread.  check(): 0 while the guest is there, -ENODEV once
	 * it is gone; called about once a second from the same thread.
	 * lazy_fill: pfs_snapshot_fill is called (guest lock held) on first
	 * use of a pid directory.
	 */
	int (*rebuild)(void *arg, struct pfs_snapshot **out);
	int (*check)(void *arg);
	void *arg;
	int refresh_ms;	      /* 0: only on pfs_server_refresh() */
	int hostproc;	      /* O_PATH fd of the host's /proc, or -1: no passthrough (not owned) */
	const char *fuse_dev; /* NULL: /dev/fuse */
	bool allow_other;
	/*
	 * Never refreshed (no refresh_ms, no pfs_server_refresh): reads skip
	 * open/release and use the page cache, one round trip a file less.
	 */
	bool one_snapshot;
	/*
	 * cpu >= 0: the request thread runs on that CPU only (vmt exec puts
	 * the tool there too: a round trip is then a switch on one CPU, not a
	 * wake-up of another, idle one).  -1: anywhere; the thread then stays
	 * awake a moment after each request instead.
	 */
	int cpu;
};

struct pfs_server;

/*
 * Mount snap (ownership passes to the server, also on failure) at
 * o->mountpoint.  NULL and errno on failure (message through vmt_log):
 * ENODEV / ENOENT: FUSE not available; EBUSY: mountpoint already a mount.
 */
struct pfs_server *pfs_server_new(const struct pfs_server_opts *o, struct pfs_snapshot *snap);
/* Serve in this thread until pfs_server_stop() or SIGINT/SIGTERM (handlers installed here). */
int pfs_server_run(struct pfs_server *s);
/* Serve on a thread of its own. */
int pfs_server_start(struct pfs_server *s);
/* Stop serving and unmount (lazily: works while files are open).  Safe to call twice. */
void pfs_server_stop(struct pfs_server *s);
void pfs_server_free(struct pfs_server *s);
/*
 * A number after key ("\nTgid:", "\nPPid:", "\nUid:\t") in /proc/PID/status of
 * the host, read through hostproc (an O_PATH fd of the host's /proc); -1 if none.
 */
long pfs_host_status_field(int hostproc, long pid, const char *key);
/* Run the calling thread on cpu only (cpu < 0: anywhere); a warning names who if it cannot. */
void pfs_thread_pin(int cpu, const char *who);
/* Ask for a rebuild (async-signal-safe). */
void pfs_server_refresh(struct pfs_server *s);
/* The lock that serialises every use of the guest (take it to read the guest yourself). */
void pfs_server_guest_lock(struct pfs_server *s, bool lock);
/* Snapshots swapped in so far (1 = the first), and whether the guest went away. */
unsigned pfs_server_generation(struct pfs_server *s);
bool pfs_server_gone(struct pfs_server *s);

/*
 * The snapshot served now, for another thread (thread-safe): borrowed
 * until pfs_server_snapshot_put(), which every non-NULL get needs; NULL
 * once the guest is gone.  Its tree is read-only, except that a lazy
 * snapshot (nlazy != 0) fills pid directories under the guest lock: read
 * those with pfs_server_guest_lock() held, and never fill one yourself
 * (the request thread reads them without the lock).
 */
const struct pfs_snapshot *pfs_server_snapshot_get(struct pfs_server *s);
void pfs_server_snapshot_put(struct pfs_server *s, const struct pfs_snapshot *snap);

#endif

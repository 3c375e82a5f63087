/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* split_int.h - one split in progress, shared by split.c, subhosts.c and dest.c. */
#ifndef VMT_SPLIT_INT_H
#define VMT_SPLIT_INT_H

#include <limits.h>
#include <pthread.h>

#include "hosts/hosts.h"
#include "pagetable/pagetable.h"
#include "split/split_priv.h"
#include "vmctl/vm.h"

struct vmt_qmp;
struct vmt_subhost;

struct split_ctx {
	struct vmt_split_opts o;
	struct vmt_split_result *res;
	struct vmt_vm_desc vm;	/* as loaded */
	struct vmt_vm_split sp; /* the split being made */
	struct qargs src_args;	/* the source QEMU's command line */
	struct qemu_info qi;
	struct place p;
	uint64_t *sent;	       /* --live: hash of what each chunk held when it was copied */
	struct srcmap src_map; /* after the stop: the source mapped, for the scan and the copy */
	bool src_mapped;
	pthread_t unmap_thr; /* unmaps it while the guest's agent is awaited */
	bool unmapping;
	/* sub-hosts */
	bool named, key_made;
	struct vmt_hosts hosts;
	struct vmt_subhost *conn[VMT_SPLIT_MAX_HOSTS];
	uint64_t quota[VMT_SPLIT_MAX_HOSTS];
	/* files */
	char new_mem[PATH_MAX];
	char pager_so[PATH_MAX];
	int src_fd, dst_fd;
	struct vmt_pt pt;
	bool pt_made, mem_made, conf_made;
	/* QEMUs */
	struct vmt_qmp *src_q, *dst_q;
	bool src_stopped;      /* by us: an undo continues it */
	bool src_migrated;     /* x-ignore-shared set and a migration begun on the source */
	bool src_quit;	       /* quit sent: the destination runs the guest */
	char copied[PATH_MAX]; /* the pager's start_after: made once the copy is complete */
	bool was_paused;       /* paused before the split: stays paused */
	pid_t dst_pid;
	pthread_t load_thr; /* split_dest_spawn's device-state load */
	bool load_started;  /* load_thr runs or has not been joined */
	int load_err;	    /* its result, and its message */
	char load_msg[256];
	struct qargs dst_args;
	struct qmap map;
	/* times (ms since some epoch, vmt_now_ms) */
	int64_t t0, t_stop, t_cont, t_copy0;
	int64_t last_tick;
	struct vmt_split_progress pr; /* last shown */
};

int split_hosts_open(struct split_ctx *c);
void split_hosts_undo(struct split_ctx *c, bool trim);
void split_hosts_close(struct split_ctx *c);

/*
 * Start the destination QEMU (-incoming defer, the pager preloaded) and, in a
 * thread, begin loading the device state into it; dest.c.
 */
int split_dest_spawn(struct split_ctx *c);
/* Start it unless split_dest_spawn() did, finish restoring the device state, continue. */
int split_dest_run(struct split_ctx *c);
/* Kill the destination QEMU if it runs. */
void split_dest_kill(struct split_ctx *c);
/* Wait until pid is gone, at most ms; true if it went. */
bool split_wait_gone(pid_t pid, int ms);
/* QMP steps shared by source and destination. */
int split_qmp_ignore_shared(struct vmt_qmp *q, bool on);
int split_qmp_wait_migrate(struct vmt_qmp *q, int timeout_ms, bool empty_ok);
int split_qmp_migrate(struct vmt_qmp *q, const char *cmd, const char *shell, const char *path);
/* Locate libvmt-pager.so ($VMT_PAGER, the build tree, the install). */
int split_find_pager(char *out, size_t sz);

#endif

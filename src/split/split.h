/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * split.h - split migration (`vmt split`) and adoption of QEMUs that vmt did
 * not start (`vmt vm adopt`).  See README.md in this folder for the flow and
 * the placement policies.
 *
 * Not part of the runtime library: this part runs VMs.  It never prints;
 * errors come back as -errno with vmt_last_error() saying why, progress
 * through a callback.
 */
#ifndef VMT_SPLIT_H
#define VMT_SPLIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vmctl/vm.h"

#define VMT_SPLIT_MAX_HOSTS 16

enum vmt_split_policy {
	VMT_SPLIT_KERNEL_RECENT = 0,  /* core, kernel's own, recent, by address */
	VMT_SPLIT_ADDRESS = 1,	      /* core, then lowest addresses (deterministic) */
	VMT_SPLIT_KERNEL_ADDRESS = 2, /* core, the kernel's own pages, then by address */
};

/* Progress of the copy, handed to the callback about 5 times a second. */
struct vmt_split_progress {
	unsigned nr_hosts;
	uint64_t host_total[VMT_SPLIT_MAX_HOSTS], host_done[VMT_SPLIT_MAX_HOSTS];
	char host_name[VMT_SPLIT_MAX_HOSTS][64];
	uint64_t main_total, main_done;
	const char *phase; /* "sampling", "saving device state", "copying", ... */
};

struct vmt_split_opts {
	size_t sz;
	const char *vm;		     /* name or path of the VM's descriptor */
	uint64_t main_mem;	     /* bytes that stay on the main host */
	const char *const *subhosts; /* names from `vmt hosts up` or HOST:PORT */
	unsigned nr_subhosts;
	uint64_t chunk; /* bytes; 0 = 64 KiB */
	enum vmt_split_policy policy;
	const char *hosts_prefix; /* of named hosts; NULL = the default prefix */
	const char *psk_file;	  /* key of HOST:PORT sub-hosts (named hosts get a new one) */
	bool insecure;		  /* plain NBD (comparison only) */
	uint64_t cap;		  /* main-host cap in bytes; 0 = main_mem */
	int sample_ms;		  /* kernel+recent: sampling window; 0 = 1000, < 0 none */
	bool live;		  /* pre-copy while the VM runs, then only what changed */
	/* Set (by a signal handler) to give up: what was made is undone, the source continues. */
	const volatile int *cancel;
	void (*progress)(const struct vmt_split_progress *p, void *arg);
	void *progress_arg;
	/*
	 * Defaults recorded in the descriptor for listings of the split VM
	 * (`vmt ps --fetch/--chunk`): "runtime", "vm" or "none" (NULL =
	 * runtime), and the fetch chunk (0 = 64 KiB).  The CLI checks them.
	 */
	const char *fetch;
	uint64_t fetch_chunk;
	/*
	 * Send the guest's free pages too.  By default (and not with --live,
	 * whose copy runs while they change) the pages on the guest's buddy free
	 * lists at the stop are placed nowhere, like zero pages, unless the guest
	 * poisons free pages.
	 */
	bool keep_free_pages;
};

struct vmt_split_result {
	uint64_t ram_bytes, chunk_bytes, nr_chunks;
	uint64_t zero_chunks;	     /* went nowhere (ABSENT) */
	uint64_t core_chunks;	     /* kernel image + kernel page tables, kept on main */
	uint64_t recent_chunks;	     /* kept on main for being recently written */
	uint64_t main_chunks;	     /* MAIN in the page table (core + recent + by address) */
	uint64_t main_bytes_written; /* non-zero bytes written to the new memory file */
	unsigned nr_hosts;
	char host_name[VMT_SPLIT_MAX_HOSTS][64];
	char host_addr[VMT_SPLIT_MAX_HOSTS][128];
	uint64_t host_chunks[VMT_SPLIT_MAX_HOSTS], host_bytes[VMT_SPLIT_MAX_HOSTS];
	int64_t host_ms[VMT_SPLIT_MAX_HOSTS]; /* sending to host k, flush included */
	int64_t main_ms;		      /* writing the new memory file */
	int64_t save_ms;		      /* device state out (stop -> saved) */
	int64_t place_ms;		      /* core, zero scan, policy (after the stop) */
	int64_t core_ms, zero_ms;	      /* of place_ms: the core's walk, the zero scan */
	int64_t prepare_ms;		      /* start -> source stopped (checks, sub-hosts) */
	int64_t finish_ms;		      /* cont -> done (agent answers, source quits) */
	int64_t agent_ms;		      /* of finish_ms: cont -> the guest's agent answered */
	int64_t dest_qmp_ms;		      /* of dest_ms: until its QMP answered */
	int64_t gone_ms;	 /* of finish_ms: waiting for the source QEMU to exit */
	int64_t release_ms;	 /* of finish_ms: waiting for the source's pages to be freed */
	int64_t dest_ms;	 /* destination start -> cont */
	int64_t precopy_ms;	 /* --live: copying while the VM ran */
	unsigned precopy_rounds; /* --live: rounds of it (the first copies all) */
	uint64_t dirty_chunks;	 /* --live: copied again after the stop */
	int64_t downtime_ms;	 /* source stop -> destination cont */
	int64_t copy_ms;	 /* after the stop: sub-hosts + main file */
	int64_t migrate_ms;	 /* start -> the guest runs on its new hosts (cont) */
	int64_t total_ms;	 /* the whole command (migrate_ms + finish_ms) */
	int64_t devstate_bytes;
	int dest_pid;
	char policy[32];
	uint64_t
	    kernel_chunks;    /* the kernel's own pages (reserved, slab, page tables): main first */
	uint64_t free_chunks; /* with data, free in the guest: placed nowhere (of zero_chunks) */
	uint64_t free_pages;  /* pages on the guest's free lists at the stop */
	int free_err; /* 0 walked; -ENODATA not asked; -ENOTSUP poisoning; else the walk failed */
};

/* Split a running VM; on any failure before the destination runs, the source runs as before. */
int vmt_split(const struct vmt_split_opts *o, struct vmt_split_result *res);

/*
 * After `vmt vm stop` of a split VM: stop the exports vmt started for it on
 * its sub-hosts and remove what the split made outside the VM's folder.
 */
int vmt_split_cleanup(const struct vmt_vm_desc *vm);

/* The pager's STATS (JSON text, malloc'ed) from its command socket. */
int vmt_split_pager_stats(const char *sock, int timeout_ms, char **json);

struct vmt_adopt_opts {
	size_t sz;
	const char *name;
	const char *qmp_sock;
	const char *agent_sock; /* NULL: the VM has no agent (splits check less) */
	const char *kernel;	/* the guest's vmlinuz if its command line has no -kernel */
};

/* Write a descriptor for a running QEMU that vmt did not start. */
int vmt_vm_adopt(const struct vmt_adopt_opts *o, struct vmt_vm_desc *out);

#endif

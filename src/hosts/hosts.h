/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * hosts.h - the emulated hosts of a split VM and the serving of sub-host
 * memory.
 *
 * A prefix P (1..8 of [a-z0-9], default "vmt", $VMT_HOSTS_PREFIX) names one
 * set of hosts: a main host (network namespace P-main) and sub-hosts
 * P-sub1..P-subN, sub-host k joined to the main host by its own veth pair
 * (P-m<k> in main, P-s<k> in the sub-host), rate-limited on both ends with
 * tc tbf, and a tmpfs memory store per sub-host whose size is the
 * sub-host's capacity.  Everything is recorded in
 * <run dir>/hosts/<P>/hosts.json; the addresses there are configuration:
 * callers take a sub-host as HOST[:PORT] and never assume 10.77.x.
 *
 * A VM's memory on a sub-host is an NBD export served by nbdkit (file
 * plugin on the store, so trim frees memory and a full store answers
 * ENOSPC), TLS-PSK by default, supervised by `vmt subhost serve`.
 *
 * Conventions: int functions return 0 or a negative errno and record a
 * one-line reason for vmt_last_error(); nothing here prints.  Structs
 * filled by these functions are plain values owned by the caller (no
 * pointers inside, nothing to free).  Input strings are copied.
 * struct vmt_hosts is large (~150 KB: 16 sub-hosts x 32 exports): allocate
 * it, do not put it on a thread's stack.  Key files are the caller's: the
 * state records where an export listens, never a key or its path.
 * Everything that changes hosts needs root (CAP_SYS_ADMIN, CAP_NET_ADMIN):
 * -EPERM otherwise.  Changes to one prefix are serialized by a lock file
 * (<run dir>/hosts/<P>/lock), so concurrent callers are safe.
 */
#ifndef VMT_HOSTS_H
#define VMT_HOSTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define VMT_HOSTS_SUB_MAX      16
#define VMT_HOSTS_PREFIX_MAX   8
#define VMT_HOSTS_EXPORT_MAX   32 /* exports per sub-host */
#define VMT_HOSTS_DEFAULT_RATE "1gbit"
#define VMT_HOSTS_DEFAULT_CAP  (8ull << 30)
#define VMT_HOSTS_FIRST_PORT   10809

struct vmt_hosts_export {
	char vm[64];   /* VM name = NBD export name */
	char addr[64]; /* "ADDR:PORT" to give a client */
	unsigned port;
	pid_t pid;     /* supervisor (`vmt subhost serve`) */
	bool insecure; /* plain NBD, no TLS */
	uint64_t size; /* export size in bytes */
};

struct vmt_hosts_sub {
	int index;	    /* k, 1-based */
	char name[16];	    /* "sub<k>" */
	char netns[32];	    /* "P-sub<k>" */
	char main_if[16];   /* veth end in the main host */
	char sub_if[16];    /* veth end in the sub-host */
	char main_addr[16]; /* main host's address on link k */
	char addr[16];	    /* the sub-host's address: what clients connect to */
	char store[4096];   /* tmpfs mount point: the sub-host's memory */
	size_t nr_exports;
	struct vmt_hosts_export exports[VMT_HOSTS_EXPORT_MAX];
};

struct vmt_hosts {
	char prefix[VMT_HOSTS_PREFIX_MAX + 1];
	char dir[4096];	     /* <run dir>/hosts/<P> */
	char main_netns[32]; /* "P-main" */
	char link[32];	     /* tc rate as given ("1gbit") or "none" */
	char subnet[16];     /* first two octets, "10.77" */
	uint64_t capacity;   /* bytes per sub-host store */
	bool complete;	     /* false: `up` was interrupted; only `down` makes sense */
	int nr_sub;
	struct vmt_hosts_sub sub[VMT_HOSTS_SUB_MAX];
	/*
	 * A monitoring host (`up --monitor`): namespace P-mon joined to the
	 * main host by its own veth (P-mm in main, P-mo in the monitor), rated
	 * like the sub-hosts' links, addressed SUBNET.0.1 (main side) and
	 * SUBNET.0.2.  An IDS there reads VMs through the main host's export
	 * (`vmt vm export`) and sub-hosts through the main host's routing.
	 */
	bool monitor;
	struct vmt_hosts_mon {
		char netns[32];	    /* "P-mon" */
		char main_if[16];   /* "P-mm" */
		char mon_if[16];    /* "P-mo" */
		char main_addr[16]; /* SUBNET.0.1 */
		char addr[16];	    /* SUBNET.0.2 */
	} mon;
};

/* ------------------------------------------------------------- hosts */

struct vmt_hosts_up_opts {
	size_t sz;	    /* sizeof(struct vmt_hosts_up_opts) */
	const char *prefix; /* NULL: $VMT_HOSTS_PREFIX or "vmt" */
	int nr_sub;	    /* 1..16; 0 = 2 */
	const char *link;   /* tc rate ("1gbit", "100mbit") or "none"; NULL = 1gbit */
	uint64_t capacity;  /* bytes per sub-host; 0 = 8 GiB */
	const char *subnet; /* "A.B"; NULL = "10.77" */
	bool monitor;	    /* also a monitoring host P-mon (struct vmt_hosts.mon) */
};

/*
 * Make the hosts, or check that they are already there as asked.
 * Every host reaches every other through the main host: each sub-host (and
 * the monitor) routes SUBNET.0.0/16 via its link's main side, and the main
 * namespace forwards (net.ipv4.ip_forward=1 there only), so a reader on a
 * sub-host or the monitor fetches chunks from the sub-hosts directly.
 * *already (may be NULL) is set when nothing had to be made.  -EEXIST when
 * hosts of this prefix exist with other options (vmt_last_error() says
 * what differs; nothing is changed); -EINVAL bad options; on any other
 * failure what was made is undone.  out (may be NULL) receives the state.
 */
int vmt_hosts_up(const struct vmt_hosts_up_opts *o, struct vmt_hosts *out, bool *already);

/*
 * Remove everything of a prefix: exports, stores, veths, namespaces and
 * the state, best effort, also from a half-made or stale state.  -ENOENT
 * when there was nothing to remove; -EBUSY when something could not be
 * removed (vmt_last_error() lists what).
 */
int vmt_hosts_down(const char *prefix);

/* Load the state of a prefix (NULL = default).  -ENOENT if it is not up. */
int vmt_hosts_load(const char *prefix, struct vmt_hosts *out);

/* Sub-host by name ("sub2"), or NULL (borrowed from h). */
const struct vmt_hosts_sub *vmt_hosts_sub_find(const struct vmt_hosts *h, const char *name);

/* Resolve a prefix (NULL: $VMT_HOSTS_PREFIX or "vmt") and check it; -EINVAL. */
int vmt_hosts_prefix(const char *arg, char out[VMT_HOSTS_PREFIX_MAX + 1]);

/*
 * Move the calling thread into network namespace netns (/run/netns/NAME,
 * as `ip netns` names it).  "" or NULL = stay.  Only the calling thread
 * moves; run it in a forked child or a dedicated thread.
 */
int vmt_netns_enter(const char *netns);

/* tc's view of an interface's root qdisc rate ("1Gbit"), or "none". */
int vmt_hosts_link_rate(const char *netns, const char *dev, char *buf, size_t buf_sz);

/* Bytes in use in a store (tmpfs blocks allocated). */
int vmt_hosts_store_used(const char *store, uint64_t *used);

/* ----------------------------------------------------- exports (NBD) */

struct vmt_hosts_export_opts {
	size_t sz;	      /* sizeof(struct vmt_hosts_export_opts) */
	const char *prefix;   /* NULL = default */
	const char *sub;      /* "sub1" */
	const char *vm;	      /* VM name = export name */
	uint64_t size;	      /* export size (the VM's RAM size) */
	const char *psk_file; /* key file (see vmt_subhost_psk_create); required unless insecure */
	bool insecure;	      /* plain NBD: guest memory in clear (comparison only) */
	const char *vmt_exe;  /* the vmt binary to run; NULL = /proc/self/exe */
};

/*
 * Start serving VM's memory on a sub-host: runs `vmt subhost serve
 * --netns P-subK` on a free port (10809 upward), waits until nbdkit
 * accepts connections, records the export in the state and fills *out.
 * An export of this VM already running there is returned as is (its size
 * must match: -EEXIST otherwise).  -ENOENT no such prefix/sub-host.
 */
int vmt_hosts_export_start(const struct vmt_hosts_export_opts *o, struct vmt_hosts_export *out);

/* Stop an export; its data file is removed unless keep_data.  -ENOENT if unknown. */
int vmt_hosts_export_stop(const char *prefix, const char *sub, const char *vm, bool keep_data);

/*
 * Kill the export's nbdkit with SIGKILL (a crash, for tests) and wait
 * (timeout_ms) until the supervisor has brought it back with its data.
 */
int vmt_hosts_export_crash(const char *prefix, const char *sub, const char *vm, int timeout_ms);

/* -------------------------------------- serving one VM (any host) */

struct vmt_serve_opts {
	size_t sz;	      /* sizeof(struct vmt_serve_opts) */
	const char *vm;	      /* export name; data in store/VM.mem */
	uint64_t size;	      /* bytes */
	const char *store;    /* folder (a tmpfs whose size is the capacity) */
	const char *listen;   /* "ADDR:PORT" */
	const char *psk_file; /* required unless insecure */
	bool insecure;
	bool foreground;   /* supervise in this process until SIGTERM/SIGINT */
	const char *netns; /* enter this namespace first; NULL/"" = stay */
	/*
	 * Serve every regular file in dir (symbolic links followed) as an
	 * export named after it, read-only: nbdkit -r, file plugin dir=DIR.
	 * Then no data file is made, size is not used, and store holds only
	 * the supervisor's files (VM.pid, VM.log, ...): never put them in dir.
	 */
	const char *dir;
};

/*
 * Serve store/VM.mem (sparse, created with ftruncate if absent, kept if
 * present; or o->dir's files read-only) with nbdkit's file plugin, supervised: nbdkit is restarted
 * if it dies (backoff 0.2 s doubling to 5 s, at most 10 restarts a
 * minute).  Writes store/VM.pid (supervisor), store/VM.nbdkit.pid and
 * store/VM.log.  Without foreground the supervisor runs detached and this
 * returns once nbdkit accepts connections (at most 15 s), *pid_out (may be
 * NULL) = the supervisor's pid.  With foreground it returns when stopped.
 * -EADDRINUSE the port is taken; -EALREADY this VM is served already.
 */
int vmt_serve(const struct vmt_serve_opts *o, pid_t *pid_out);

/* Stop a served VM (supervisor and nbdkit); remove VM.mem unless keep_data. */
int vmt_serve_stop(const char *store, const char *vm, bool keep_data);

struct vmt_serve_entry {
	char vm[64];
	pid_t pid;	  /* supervisor, 0 if none */
	pid_t nbdkit_pid; /* 0 if none */
	bool alive;	  /* supervisor and nbdkit both running */
	uint64_t size;	  /* data file size */
	uint64_t used;	  /* data file bytes allocated */
	char listen[64];  /* from the log's first line, "" if unknown */
};

/* What is served from a store; caller frees *out with free(). */
int vmt_serve_list(const char *store, struct vmt_serve_entry **out, size_t *n);

/* ------------------------------ a VM's memory for other hosts (vmexport.c) */

struct vmt_vm_desc;

struct vmt_vm_export_opts {
	size_t sz;	      /* sizeof(struct vmt_vm_export_opts) */
	const char *listen;   /* "ADDR[:PORT]" (IPv4); NULL: 0.0.0.0 in a main-host
			       * namespace, else 127.0.0.1; no port: the first free from 10809 */
	const char *netns;    /* NULL: the VM's main-host namespace (split.main_netns) */
	const char *psk_file; /* NULL: the split's key, else a key made for the export */
};

/*
 * Export vm's memory read-only for readers on other hosts: one nbdkit
 * (TLS-PSK, -r) serving the memory file, the page table, the kernel and a
 * meta file as exports "mem", "pagetable", "kernel", "meta" (vmexport.c),
 * supervised like a sub-host's export.  Recorded in vm->export and written
 * to the descriptor.  Idempotent: a live export asked again with the same
 * options sets *already; with other options -EEXIST names what differs.  A
 * dead one, or one made before the VM was split (its memory file changed),
 * is made again.
 */
int vmt_vm_export_start(struct vmt_vm_desc *vm, const struct vmt_vm_export_opts *o, bool *already);
/*
 * Stop the export and remove its files (and a key it made); clear
 * vm->export and, if write_desc, write the descriptor.  -ENOENT if the VM
 * was not exported.
 */
int vmt_vm_export_stop(struct vmt_vm_desc *vm, bool write_desc);

#endif

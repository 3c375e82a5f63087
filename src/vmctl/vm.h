/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * vm.h - the VMs that vmt starts: stock QEMU with RAM in a shared memory
 * file, a QMP socket and the in-guest agent's serial port, described by a
 * VM descriptor that every other vmt command takes with --vm.
 *
 * A descriptor is a folder <run_dir>/<name>/ holding vm.json (below) and
 * the sockets and logs of that VM.  run_dir is $VMT_RUN_DIR or
 * /run/vmemtrans.  --vm takes a name or a path to such a folder/vm.json.
 */
#ifndef VMT_VM_H
#define VMT_VM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define VMT_VM_NAME_MAX 64
/* The run dir's folder of the emulated hosts (src/hosts): not a VM, and no VM may take its name. */
#define VMT_RUN_HOSTS_DIR "hosts"

/* Where a split VM's memory lives (`vmt split`); in vm.json under "split". */
#define VMT_VM_SPLIT_HOSTS 16
struct vmt_vm_split_host {
	char name[64];	 /* as given: "sub1" or "HOST:PORT" */
	char addr[128];	 /* HOST:PORT of its NBD server */
	char export[64]; /* NBD export name ("" = default) */
	bool ours;	 /* vmt started this export: stopped with the VM */
};

struct vmt_vm_split {
	int gen;	       /* 0: not split; 1 after the first split, +1 each time */
	char hosts_prefix[64]; /* `vmt hosts up --prefix` of named hosts, "" for addresses */
	char main_netns[64];   /* network namespace QEMU runs in, "" = vmt's own */
	char psk_file[4096];   /* TLS-PSK key file, "" when insecure */
	bool insecure;
	char pagetable[4096];
	char pager_sock[4096];
	char pager_conf[4096];
	char devstate[4096];
	uint64_t chunk_bytes, cap_bytes, main_bytes;
	unsigned nr_hosts;
	struct vmt_vm_split_host hosts[VMT_VM_SPLIT_HOSTS];
	/* Listings' defaults (--fetch, --chunk): "runtime", "vm", "none"; ""/0: runtime, 64K */
	char fetch[16];
	uint64_t fetch_chunk;
};

/*
 * The VM's memory exported read-only for readers on other hosts (`vmt vm
 * export`, src/hosts/vmexport.c); in vm.json under "export".
 */
struct vmt_vm_export {
	bool on;
	char listen[128];    /* ADDR:PORT nbdkit listens on */
	char netns[64];	     /* namespace it runs in ("" = vmt's own) */
	char psk_file[4096]; /* key readers need */
	bool own_key;	     /* made by the export (not the split's): removed with it */
	char dir[4096];	     /* <vm dir>/export: supervisor files; files/ is what is served */
	int split_gen;	     /* split.gen when exported: a later split re-makes it */
	char mem_path[4096]; /* the memory file exported (a split replaces it) */
};

struct vmt_vm_desc {
	char name[VMT_VM_NAME_MAX];
	char dir[4096];	     /* descriptor folder */
	char mem_path[4096]; /* RAM file, e.g. /dev/shm/vmt-<name>.ram */
	char kernel[4096];   /* vmlinuz the guest booted */
	char initrd[4096];
	char qmp_sock[4096];
	char agent_sock[4096];
	char console_log[4096];
	char machine[16]; /* "pc" or "q35" */
	uint64_t mem_bytes;
	pid_t qemu_pid;
	int nr_procs; /* workload processes requested */
	bool kaslr, la57, kvm;
	int64_t started_s;	     /* epoch seconds */
	char cmdline[2048];	     /* guest kernel command line (-append) */
	bool adopted;		     /* started by someone else, taken over by `vmt vm adopt` */
	struct vmt_vm_split split;   /* split.gen == 0: all RAM in mem_path */
	struct vmt_vm_export export; /* export.on: readable from other hosts (`vmt vm export`) */
};

struct vmt_vm_start_opts {
	size_t sz;
	const char *name;
	const char *kernel; /* default: the project's guest image */
	const char *initrd;
	uint64_t mem_bytes; /* default 512 MiB */
	int nr_procs;	    /* workload size (guest cmdline vmt.nproc=) */
	bool no_kaslr, la57, kvm;
	int boot_timeout_s; /* wait for the agent; default 60 */
	const char *extra_cmdline;
};

/* Start QEMU, wait until the agent answers, write the descriptor. */
int vmt_vm_start(const struct vmt_vm_start_opts *opts, struct vmt_vm_desc *out);
/* QMP quit (then SIGTERM/SIGKILL), remove the RAM file and the descriptor. */
int vmt_vm_stop(const struct vmt_vm_desc *vm);
/*
 * Pause (QMP stop) or resume (QMP cont) the guest's vCPUs.  A paused guest's
 * memory holds still: listings of it are consistent snapshots.
 */
int vmt_vm_pause(const struct vmt_vm_desc *vm, bool pause);
/* QMP query-status: "running", "paused", ... into buf. */
int vmt_vm_status(const struct vmt_vm_desc *vm, char *buf, size_t cap);

/*
 * Load by name or path; -ENOENT if absent, -ESRCH if its QEMU is gone,
 * -EBADMSG if vm.json is malformed or missing from an existing folder.
 * On -ESRCH and -EBADMSG *out still holds what could be recovered (at
 * least name, dir and the usual paths), enough for vmt_vm_stop().
 */
int vmt_vm_load(const char *name_or_path, struct vmt_vm_desc *out);
/* All descriptors under run_dir; caller frees *out. */
int vmt_vm_list(struct vmt_vm_desc **out, size_t *n);
/* $VMT_RUN_DIR or /run/vmemtrans.  Borrowed (static). */
const char *vmt_vm_run_dir(void);

/* Additions beside the contract above. */

/* 1..63 bytes of [A-Za-z0-9_.-], not starting with '.' or '-'; -EINVAL with a message. */
int vmt_vm_name_check(const char *name);
/* A zombie or dead process (state Z or X in /proc/PID/stat); false if it is gone. */
bool vmt_pid_is_zombie(pid_t pid);
/* Is the VM's QEMU alive: pid exists, not a zombie, and its command line names this VM? */
bool vmt_vm_is_running(const struct vmt_vm_desc *vm);
/* Parse a vm.json; -ENOENT, or -EBADMSG naming the bad field. */
int vmt_vm_desc_read(const char *path, struct vmt_vm_desc *out);
/* vm.json's content as a json-c object (keys = field names); caller puts.  NULL: no memory. */
struct json_object;
struct json_object *vmt_vm_desc_json(const struct vmt_vm_desc *vm);
/* Write <vm->dir>/vm.json atomically (temporary file + rename). */
int vmt_vm_desc_write(const struct vmt_vm_desc *vm);
/*
 * The project's guest image: $VMT_GUEST_DIR, else the first folder holding
 * vmlinuz among <vmt binary>/../../guest (build tree), <binary>/../guest,
 * <binary>/../share/vmemtrans/guest, ./build/guest.  Absolute paths.
 */
int vmt_vm_default_guest(char *kernel, size_t kernel_sz, char *initrd, size_t initrd_sz);

/* In-guest agent: run cmd with /bin/sh -c; output buffers are malloc'ed. */
struct vmt_agent_result {
	int exit_code;
	uint64_t duration_ns; /* measured inside the guest */
	char *out;	      /* stdout, NUL-terminated */
	size_t out_len;
	char *err; /* stderr, NUL-terminated */
	size_t err_len;
};

/*
 * Run cmd in the guest, waiting at most timeout_s (<= 0: 60 s) for the
 * agent's lock, its answer and the whole output; res->exit_code is the
 * command's as the agent reports it.  Free with vmt_agent_result_free(),
 * which accepts a zeroed or freed result.
 */
int vmt_agent_exec(const struct vmt_vm_desc *vm, const char *cmd, int timeout_s,
		   struct vmt_agent_result *res);
void vmt_agent_result_free(struct vmt_agent_result *res);
/* 0 once the agent answers a ping within timeout_ms. */
int vmt_agent_ping(const struct vmt_vm_desc *vm, int timeout_ms);

#define VMT_AGENT_LEN_MAX (64u << 20) /* cap on a command and on each output */

#endif

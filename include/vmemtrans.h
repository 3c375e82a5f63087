/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * vmemtrans.h - public API of libvmemtrans, the VMemTrans runtime.
 *
 * The runtime gives an offloaded IDS one view of a VM's memory, wherever
 * the pages live: a guest handle (struct vmt_guest) stacks
 *
 *   walkers (tasks, modules, sockets, ...)        linux/
 *   kernel profile (kallsyms + BTF) and KASLR     profile/, guest/
 *   x86-64 translation (4/5-level) + TLB          arch/
 *   guest-physical page cache                     mem/
 *   a page source (memory file, sub-host, ...)    memsrc/
 *
 * Conventions (libbpf style):
 *  - int functions return 0 or a negative errno; pointer functions return
 *    NULL and set errno.  Domain failures map to errnos: page not present
 *    -EFAULT, guest structure insane -EBADMSG, profile mismatch -ENOEXEC,
 *    not a RAM file / no kernel found -ENOENT.
 *  - Guest physical address 0 is valid, so addresses come back through
 *    out-parameters, never as a return value.
 *  - Every object has a free or close function that accepts NULL.  Results handed to
 *    the caller are owned by the caller unless a comment says "borrowed".
 *  - The library never prints; messages go through vmt_set_log().
 */
#ifndef VMEMTRANS_H
#define VMEMTRANS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

#define VMT_API __attribute__((visibility("default")))

/* ------------------------------------------------------------------ log */

enum vmt_log_level {
	VMT_LOG_ERROR,
	VMT_LOG_WARN,
	VMT_LOG_INFO,
	VMT_LOG_DEBUG,
};

typedef void (*vmt_log_fn)(enum vmt_log_level level, const char *msg, void *arg);

/* Route library messages to fn (NULL: discard).  Default: WARN and ERROR to stderr. */
VMT_API void vmt_set_log(vmt_log_fn fn, void *arg, enum vmt_log_level max_level);

/* Human text for the last detailed error of this thread ("" if none).  Borrowed. */
VMT_API const char *vmt_last_error(void);

/* --------------------------------------------------------------- memory */

/*
 * A page source: where guest-physical pages come from.  The memory file of
 * a local VM is one; later a sub-host's page server or the pager plugs in
 * through the same table, and nothing above notices.
 */
struct vmt_memsrc;

/* Sub-hosts of one split VM (the page table's limit). */
#define VMT_MAX_SUBHOSTS 16

/*
 * Statistics of one memory stack; counters only grow until reset.  The
 * caller sets sz to sizeof(struct vmt_mem_stats) before vmt_mem_stats():
 * the library fills no more than that, so a caller built against an older,
 * shorter struct keeps working when fields are added at its end.
 */
struct vmt_mem_stats {
	size_t sz;	       /* sizeof(struct vmt_mem_stats), set by the caller */
	uint64_t pages_read;   /* pages fetched from the page source */
	uint64_t cache_hits;   /* page requests answered by the page cache */
	uint64_t bytes_copied; /* bytes handed to callers */
	uint64_t tlb_hits;
	uint64_t tlb_misses;
	uint64_t holes;	    /* pages absent from the source (sparse file holes) */
	uint64_t evictions; /* cached pages dropped to make room (cache full) */
	uint64_t remote;    /* pages on a split VM's sub-hosts, not read (fetch method none) */
	/*
	 * A split VM read with a fetch method (struct vmt_guest_opts.fetch).
	 * Method 1 (runtime) counts NBD reads it sent itself; method 2 (vm)
	 * counts the chunks it asked the pager to page in.
	 */
	uint64_t pages_local;	   /* pages read from the main host's memory file (or zeros) */
	uint64_t pages_fetched;	   /* sub-host pages delivered (method 1 or 2) */
	uint64_t fetch_cache_hits; /* of those, found in method 1's fetch cache */
	uint64_t round_trips;	   /* waits on sub-hosts (one parallel batch) or on the pager */
	uint64_t wait_ns;	   /* time spent in those waits */
	uint64_t fetch_retries;	   /* chunks read again because they moved meanwhile */
	uint64_t fetch_errors;	   /* pages not read: a sub-host or the pager failed */
	uint64_t cache_bytes;	   /* method 1's fetch cache now (bytes of data) */
	uint64_t cache_bytes_max;  /* ... and its high-water mark */
	uint64_t host_requests[VMT_MAX_SUBHOSTS]; /* fetches (or page-in ranges) per sub-host */
	uint64_t host_chunks[VMT_MAX_SUBHOSTS];	  /* page-table chunks fetched / paged in */
	uint64_t host_bytes[VMT_MAX_SUBHOSTS];	  /* bytes fetched / paged in */
	uint64_t prefetched; /* pages asked for ahead of use (a walker's hint) */
	/*
	 * Method 1's exact reads: reads answered from just the bytes a walker
	 * named ahead (struct vmt_guest_opts.fetch_whole), not from a whole
	 * chunk; their bytes are in host_bytes, their requests in host_requests.
	 */
	uint64_t exact_reads;
};

/* ---------------------------------------------------------------- guest */

struct vmt_guest;
struct vmt_profile;

struct vmt_guest_opts {
	size_t sz;		 /* sizeof(struct vmt_guest_opts) */
	const char *mem_path;	 /* QEMU RAM file (memory-backend-file) */
	const char *kernel_path; /* vmlinuz or vmlinux; NULL: the profile from guest memory */
	const char *cache_dir;	 /* profile cache; NULL: $XDG_CACHE_HOME/vmemtrans */
	const char *system_map;	 /* optional System.map; never required */
	const char *machine;	 /* "pc" (default) or "q35": RAM layout below 4 GiB */
	uint64_t below_4g;	 /* override RAM bytes below 4 GiB (0: from machine) */
	size_t cache_pages;	 /* page-cache capacity (0: default) */
	uint64_t ram_size;	 /* the VM's RAM size if known: a shorter file is truncated */
	/*
	 * A split VM's page table (next to its memory file): pages that live on
	 * sub-hosts are then reported unreadable (-ENODATA; the objects that
	 * need them are flagged VMT_F_PARTIAL) instead of being read as the
	 * zeros of the file's holes.  NULL: an unsplit VM.
	 */
	const char *pagetable_path;
	/*
	 * How pages on sub-hosts are read (split VM only; fields from here on
	 * may be absent from an older caller's struct: sz says).
	 *  VMT_FETCH_NONE     not read: -ENODATA, as above
	 *  VMT_FETCH_RUNTIME  method 1, "self paging": the runtime reads the
	 *                     chunk from its sub-host over NBD (addresses and
	 *                     exports from the page table's header, TLS-PSK with
	 *                     psk_file) into a bounded cache of its own; the
	 *                     memory file is never written
	 *  VMT_FETCH_VM       method 2, "proxy paging": the runtime asks the
	 *                     pager inside QEMU (pager_sock) to page the chunk in,
	 *                     then reads the memory file; the data stays resident
	 * Every read follows the page table's seqlock: a page is right or its
	 * read fails (-ECONNREFUSED, -ETIMEDOUT, -EACCES wrong key, -EAGAIN a
	 * chunk that kept moving, ...; the walkers flag the entry partial), never
	 * zeros passed off as data.  A sub-host that failed is tried again at the
	 * next vmt_listing_begin().  Connections are made from the caller's
	 * network namespace (the main host's view of the sub-hosts' addresses).
	 * Strings are copied at open.  Where the pages came from: struct
	 * vmt_mem_stats.
	 */
	int fetch;		    /* enum vmt_fetch_method */
	uint64_t fetch_chunk;	    /* bytes per fetch: 4K..2M, a power of two (0: 64K) */
	uint64_t fetch_cache_bytes; /* method 1's cache bound (0: 4 MiB) */
	const char *psk_file;	    /* TLS-PSK key file of the VM's sub-hosts */
	bool insecure;		    /* plain NBD, no key (comparison only) */
	const char *pager_sock;	    /* method 2: the pager's command socket */
	int fetch_timeout_ms;	    /* one sub-host or pager request (0: 10000) */
	/*
	 * The IDS on another host than the VM's (fields from here on may be
	 * absent from an older caller's struct).  from = "HOST[:PORT]" of the
	 * main host's read-only export (`vmt vm export`; port 10809 if none),
	 * read with TLS-PSK and psk_file (the same key as the sub-hosts').  Then
	 * mem_path and pagetable_path are not used: every page comes over NBD,
	 * a main-host page from the export under the page table's seqlock
	 * (read over the same export), a sub-host page from its sub-host
	 * (fetch RUNTIME; NONE: not read; VM: -EINVAL, the pager's socket is on
	 * the main host).  RAM size and machine come from the export (machine,
	 * if set, wins).  kernel_path may be NULL: the export's kernel image is
	 * fetched once into <cache_dir>/remote/.  from_vm: NULL, or the VM the
	 * export must serve (else the open fails, errno ESRCH).  fetch_chunk 0
	 * is the VM's recorded default.  Connections are made from the caller's
	 * network namespace.
	 */
	const char *from;
	const char *from_vm;
	/*
	 * Method 1 (fields from here on may be absent from an older caller's
	 * struct).  A walker that names ahead the bytes it will read (the task
	 * walk: each process's argument string, 50-200 bytes of its page) has
	 * just those bytes fetched, not the whole chunk around them: the read
	 * finds them if its chunk has not moved since, else it reads the chunk
	 * as usual.  fetch_whole: every fetch is a whole fetch chunk, as in the
	 * paper (the chunk-size experiments).
	 */
	bool fetch_whole;
};

enum vmt_fetch_method {
	VMT_FETCH_NONE = 0,
	VMT_FETCH_RUNTIME = 1,
	VMT_FETCH_VM = 2,
};

#define VMT_FETCH_CHUNK_DEFAULT	      (64u << 10)
#define VMT_FETCH_CACHE_BYTES_DEFAULT (4u << 20)

/* Open a guest; on failure NULL, errno set and vmt_last_error() says why. */
VMT_API struct vmt_guest *vmt_guest_open(const struct vmt_guest_opts *opts);
VMT_API void vmt_guest_close(struct vmt_guest *g);

/* What KASLR did to this boot and which paging mode runs. */
struct vmt_kernel_info {
	char banner[256];     /* linux_banner as found in memory */
	char release[65];     /* utsname release */
	uint64_t virt_slide;  /* runtime VA - link VA of kernel text */
	uint64_t phys_load;   /* physical address of _text */
	uint64_t page_offset; /* page_offset_base (direct map) */
	uint64_t vmemmap;     /* vmemmap_base */
	uint64_t kernel_pgd;  /* physical address of init_top_pgt */
	int paging_levels;    /* 4 or 5 */
};

VMT_API int vmt_guest_kernel_info(struct vmt_guest *g, struct vmt_kernel_info *info);

/* Physical and kernel-virtual reads (whole range or error). */
VMT_API int vmt_read_phys(struct vmt_guest *g, uint64_t pa, void *buf, size_t len);
VMT_API int vmt_read_kva(struct vmt_guest *g, uint64_t va, void *buf, size_t len);
/* Read at va in the address space whose top table is at pgd_pa (0: kernel's). */
VMT_API int vmt_read_va(struct vmt_guest *g, uint64_t pgd_pa, uint64_t va, void *buf, size_t len);
/* Translate va in the address space rooted at pgd_pa (0: kernel's). */
VMT_API int vmt_translate(struct vmt_guest *g, uint64_t pgd_pa, uint64_t va, uint64_t *pa);
/* Address of a kernel symbol at run time (KASLR applied). */
VMT_API int vmt_symbol(struct vmt_guest *g, const char *name, uint64_t *va);

/*
 * A listing is one consistent pass over guest state: the page cache keeps
 * every page it read until the next vmt_listing_begin(), so no page is read
 * twice within a listing, and pages change between listings.
 * vmt_listing_end() lets go of what only a listing holds (a RAM file's
 * shared lock, which a split VM's pager waits for): call it when the
 * listing's walks are done, above all in a long-lived reader; the next
 * vmt_listing_begin() and vmt_guest_close() end it too.  Reads after it
 * stay correct (they may cost a system call per page).
 */
VMT_API void vmt_listing_begin(struct vmt_guest *g);
VMT_API void vmt_listing_end(struct vmt_guest *g);
/* Fill st's first st->sz bytes (its sz stays); nothing if sz does not reach a counter. */
VMT_API void vmt_mem_stats(struct vmt_guest *g, struct vmt_mem_stats *st);
VMT_API void vmt_mem_stats_reset(struct vmt_guest *g);

/* -------------------------------------------------------------- walkers */

/* Set on an entry whose guest data was insane or unreadable. */
enum vmt_entry_flags {
	VMT_F_TRUNCATED = 1u << 0, /* a string or list was cut at its cap */
	VMT_F_PARTIAL = 1u << 1,   /* some field could not be read */
	VMT_F_KTHREAD = 1u << 2,   /* kernel thread (no mm) */
	VMT_F_THREAD = 1u << 3,	   /* not a thread-group leader */
	/* A task list that broke: the tasks it did not reach came from the pid index. */
	VMT_F_PIDINDEX = 1u << 4,
	/*
	 * A task the pid index finds and the task list does not (VMT_TASK_PIDINDEX
	 * on a list that did not break): unlinked from the list, as by a rootkit
	 * (DKOM); the guest's own /proc lookup still finds it, its listing not.
	 */
	VMT_F_UNLISTED = 1u << 5,
};

/*
 * The independent places a task can be found (cross-view detection, as
 * Volatility's psxview): a rootkit that unlinks a task from one structure
 * rarely fixes every other.
 */
enum vmt_task_view {
	VMT_VIEW_TASKS = 1u << 0,      /* init_task.tasks, forward (next) */
	VMT_VIEW_TASKS_PREV = 1u << 1, /* the same list backward (prev) */
	VMT_VIEW_PIDS = 1u << 2,       /* init_pid_ns.idr: pid -> struct pid -> tasks */
	VMT_VIEW_THREADS = 1u << 3,    /* each thread group's thread list (signal->thread_head) */
	VMT_VIEW_CHILDREN = 1u << 4,   /* parent -> children lists, from init_task down */
	VMT_VIEW_RUNQUEUE = 1u << 5,   /* each CPU's runqueue: current, idle, queued tasks */
	VMT_VIEW_SCAN = 1u << 6,       /* task_structs found by scanning memory (validated) */
	VMT_VIEW_COUNT = 7,
};

/* "tasks", "tasks_prev", "pids", "threads", "children", "runqueue", "scan"; NULL if unknown. */
VMT_API const char *vmt_task_view_name(unsigned view_bit);

struct vmt_task {
	int32_t pid, tgid, ppid;
	uint32_t uid, gid, euid, egid, suid, sgid, fsuid, fsgid;
	char comm[16];
	char name[64];	   /* as /proc/PID/status Name: comm, plus "-desc" for kworkers */
	char state;	   /* R S D T t Z X I, as /proc/PID/stat */
	uint32_t flags;	   /* enum vmt_entry_flags */
	uint32_t nthreads; /* signal->nr_threads */
	int32_t nice, prio;
	uint64_t start_ns;	     /* since boot (task->start_time) */
	uint64_t utime_ns, stime_ns; /* this task's own (raw, per thread; not group totals) */
	uint64_t vsize;		     /* bytes */
	uint64_t rss_pages;
	uint64_t kva;	 /* task_struct address */
	uint64_t leader; /* its thread-group leader's task_struct */
	uint64_t pgd_pa; /* physical address of mm->pgd (0: none) */
	char *cmdline;	 /* NUL-separated args as /proc/PID/cmdline */
	size_t cmdline_len;
	char *environ;
	size_t environ_len;
	char *exe; /* path of mm->exe_file, NULL if none */
	int32_t tty_nr;
	int32_t pgrp, session;
	uint32_t seen_by; /* enum vmt_task_view: the views that found it (VMT_TASK_VIEWS) */
};

struct vmt_task_list {
	size_t n;
	struct vmt_task *tasks; /* sorted by pid, threads included */
	uint32_t flags;		/* VMT_F_PARTIAL: the task list broke after these entries */
	/* VMT_TASK_VIEWS only (zero otherwise): how each view went. */
	uint32_t views_ok;		   /* views walked to their end */
	uint32_t views_broken;		   /* views that broke partway or could not run */
	uint32_t view_n[VMT_VIEW_COUNT];   /* tasks each view saw (bit i: view_n[i]) */
	char view_err[VMT_VIEW_COUNT][96]; /* why a broken view broke */
	uint64_t scan_bytes, scan_ns;	   /* VMT_VIEW_SCAN: guest RAM scanned, time */
	uint64_t scan_candidates;	   /* signature matches before validation */
};

enum vmt_task_what {
	VMT_TASK_BASIC = 0,	    /* ids, comm, state, times */
	VMT_TASK_CMDLINE = 1u << 0, /* read cmdline from user memory */
	VMT_TASK_ENVIRON = 1u << 1,
	VMT_TASK_EXE = 1u << 2,
	VMT_TASK_THREADS = 1u << 3, /* list every thread, not just leaders */
	/* also the tasks only the pid index finds, flagged VMT_F_UNLISTED */
	VMT_TASK_PIDINDEX = 1u << 4,
	/*
	 * Every view of enum vmt_task_view, each walked on its own: the list is
	 * their union and each task's seen_by names the views that found it, so
	 * a broken or forged structure costs only what no view reaches.
	 */
	VMT_TASK_VIEWS = 1u << 5,
};

/*
 * The walkers.  Each reads one listing (call vmt_listing_begin() first for
 * fresh guest state) into a list the caller frees with its *_free function.
 * A corrupt guest structure costs the entry it belongs to (flagged
 * VMT_F_PARTIAL or VMT_F_TRUNCATED); a list that breaks partway returns 0
 * with what was read before the damage and the list's flags set to
 * VMT_F_PARTIAL, vmt_last_error() saying why.  A negative errno means no
 * list at all (*out NULL): profile lacks a structure, memory unreadable.
 */
VMT_API int vmt_tasks(struct vmt_guest *g, unsigned what, struct vmt_task_list **out);
VMT_API void vmt_task_list_free(struct vmt_task_list *l);

/* The places a loaded module leaves traces. */
enum vmt_module_view {
	VMT_MVIEW_LIST = 1u << 0, /* the modules list (what lsmod and /proc/modules show) */
	VMT_MVIEW_KSET = 1u << 1, /* module_kset's kobjects (/sys/module/NAME with a module) */
	VMT_MVIEW_TREE = 1u << 2, /* the module address tree (mod_tree: what the unwinder uses) */
	VMT_MVIEW_SCAN = 1u << 3, /* a struct module found in module memory (validated) */
	VMT_MVIEW_COUNT = 4,
};

struct vmt_module {
	char name[56];
	uint64_t base; /* core layout base */
	uint64_t size; /* core + init size, as /proc/modules */
	int32_t refcnt;
	char state[12]; /* Live, Loading, Unloading */
	char deps[256]; /* comma-separated users as /proc/modules */
	uint32_t flags;
	uint64_t kva;	     /* struct module address */
	uint64_t taint_mask; /* module->taints: bit n is kernel TAINT_n */
	char taints[24];     /* "(OE)" as /proc/modules ends a line; "" if untainted */
	uint32_t seen_by;    /* enum vmt_module_view (vmt_modules_views; LIST for vmt_modules) */
};

struct vmt_module_list {
	size_t n;
	struct vmt_module *mods; /* in list order (newest first, like /proc/modules) */
	uint32_t flags;		 /* VMT_F_PARTIAL: the list broke after these entries */
	/* vmt_modules_views only (zero otherwise): how each view went. */
	uint32_t views_ok;		    /* views walked to their end */
	uint32_t views_broken;		    /* views that broke partway or could not run */
	uint32_t view_n[VMT_MVIEW_COUNT];   /* modules each view saw (bit i: view_n[i]) */
	char view_err[VMT_MVIEW_COUNT][96]; /* why a broken view broke */
	uint64_t scan_bytes, scan_ns;	    /* VMT_MVIEW_SCAN: module memory read, time */
	uint64_t scan_candidates;	    /* back-pointer matches before validation */
};

VMT_API int vmt_modules(struct vmt_guest *g, struct vmt_module_list **out);
VMT_API void vmt_module_list_free(struct vmt_module_list *l);

/* "list", "kset", "tree", "scan"; NULL if unknown. */
VMT_API const char *vmt_module_view_name(unsigned view_bit);

/*
 * Every module any view finds (the union, in list order then the others),
 * each with seen_by; a module one view lacks is what a rootkit hid.
 * Returns like vmt_modules (a view that breaks costs what only it saw).
 */
VMT_API int vmt_modules_views(struct vmt_guest *g, struct vmt_module_list **out);

/* ------------------------------------------ hooked system calls (hooks.c) */

enum vmt_hook_flags {
	VMT_HOOK_OUTSIDE_TEXT = 1u << 0, /* the entry points outside the kernel's text */
	VMT_HOOK_MISMATCH = 1u << 1,	 /* inside text, but not the function it should be */
	VMT_HOOK_IN_MODULE = 1u << 2,	 /* it points into a module (owner named) */
	VMT_HOOK_UNREADABLE = 1u << 3,	 /* the entry could not be read */
};

/* One entry of a dispatch table that is not what the kernel was built with. */
struct vmt_hook {
	char table[24];	       /* "sys_call_table", "ia32_sys_call_table", "idt", ... */
	uint32_t index;	       /* syscall number or vector */
	uint64_t value;	       /* the address the entry holds now */
	uint64_t expected;     /* the address it should hold (0: unknown) */
	char expected_sym[64]; /* e.g. "__x64_sys_getdents64" */
	char actual_sym[96];   /* symbol+0xoff, "module NAME+0xoff", or "?" */
	uint32_t flags;	       /* enum vmt_hook_flags */
};

struct vmt_hook_list {
	size_t n; /* hooks found */
	struct vmt_hook *hooks;
	size_t checked;	 /* entries compared, over every table */
	uint32_t tables; /* enum vmt_hook_table: the tables that could be checked */
	uint32_t exact;	 /* ... compared word for word with the kernel image's own */
	uint32_t flags;	 /* VMT_F_PARTIAL: a table or entry could not be read */
};

/*
 * The tables vmt_hooks checks.  A system-call table is compared with the
 * image's own copy (exact: slot N holds what slot N was built with) when
 * the profile has the image, else every slot must be some system-call entry
 * function (a swap of two syscalls passes).  The IDT is built at boot: each
 * present gate must point at an entry stub in kernel text (asm_*, entry_*,
 * vector v's stub in irq_entries_start, spurious_entries_start) or, for an
 * exception vector no handler claimed, its early_idt_handler_array stub.
 */
enum vmt_hook_table {
	VMT_HTABLE_SYSCALL = 1u << 0, /* sys_call_table */
	VMT_HTABLE_IA32 = 1u << 1,    /* ia32_sys_call_table */
	VMT_HTABLE_X32 = 1u << 2,     /* x32_sys_call_table */
	VMT_HTABLE_IDT = 1u << 3,     /* idt_table */
};

/*
 * The system-call tables and the IDT against the kernel profile: an entry
 * outside kernel text, or at another function than the one its slot is
 * built with, is a hook (Volatility's check_syscall / check_idt).  An
 * untouched kernel gives n == 0.
 */
VMT_API int vmt_hooks(struct vmt_guest *g, struct vmt_hook_list **out);
VMT_API void vmt_hook_list_free(struct vmt_hook_list *l);

/* ------------------------------------------------ kernel text (ktext_check.c) */

/* A run of kernel text bytes that are not what the image holds. */
struct vmt_text_mod {
	uint64_t va;	      /* first differing byte (run-time address) */
	uint32_t len;	      /* bytes from the run's first to its last differing byte */
	char sym[96];	      /* symbol+0xoff of va */
	char kind[16];	      /* "text", "ftrace-site", "return-site", "lock-prefix" */
	uint8_t expected[16]; /* the image's bytes at va (relocated): the first 16 */
	uint8_t actual[16];   /* memory's */
};

struct vmt_text_list {
	size_t n; /* runs reported (at most 256) */
	struct vmt_text_mod *mods;
	size_t runs;	      /* runs found (may exceed n) */
	uint64_t compared;    /* bytes compared with the image (or checked at their sites) */
	uint64_t patch_sites; /* bytes at sites the kernel rewrites freely, not compared */
	uint32_t flags;	      /* VMT_F_PARTIAL: some text could not be read */
};

/*
 * The kernel's text (_text.._etext) against the image the profile came
 * from, relocated for KASLR, minding what boot and run time patch
 * (alternatives, paravirt, retpolines, static keys and calls: not
 * compared; ftrace sites must be the NOP, return sites as built or ret,
 * lock prefixes lock or ds).  -ENOENT without the image.
 */
VMT_API int vmt_text_check(struct vmt_guest *g, struct vmt_text_list **out);
VMT_API void vmt_text_list_free(struct vmt_text_list *l);

enum vmt_sock_proto {
	VMT_SOCK_TCP = 1,
	VMT_SOCK_UDP,
	VMT_SOCK_TCP6,
	VMT_SOCK_UDP6,
	VMT_SOCK_UNIX,
};

struct vmt_socket {
	int proto;		      /* enum vmt_sock_proto */
	int state;		      /* TCP_* as /proc/net/tcp (1..12); UNIX: SS_* (St column) */
	uint8_t laddr[16], raddr[16]; /* network order; v4 in the first 4 bytes */
	uint16_t lport, rport;	      /* host order */
	uint32_t uid;		      /* sock_i_uid(): owner of the socket inode, 0 if none */
	uint64_t inode;		      /* sock_i_ino(): 0 if the sock has no socket */
	uint32_t tx_queue, rx_queue;
	int unix_type;	     /* SOCK_STREAM / SOCK_DGRAM for UNIX */
	uint32_t unix_flags; /* __SO_ACCEPTCON for listeners */
	char path[112];	     /* UNIX path ('@' first for abstract, NULs as '@') */
	uint64_t kva;	     /* struct sock address */
	uint32_t flags;
	uint32_t refcnt;    /* sk_refcnt (/proc/net/unix RefCount) */
	uint32_t netns_ino; /* inode of the socket's net namespace (0: unknown) */
};

/*
 * Sockets of every net namespace: TCP listeners then the established hash
 * (v4 and v6 interleaved in hash order, as /proc/net/tcp{,6} walk them),
 * then UDP, then UNIX.  Filter on netns_ino to get one namespace's view.
 */
struct vmt_socket_list {
	size_t n;
	struct vmt_socket *socks;
	uint32_t flags;		 /* PARTIAL: some chain was insane; TRUNCATED: VMT_MAX_SOCKETS */
	uint32_t bad_chains;	 /* hash chains abandoned (cycle, bad pointer, unreadable) */
	uint32_t init_netns_ino; /* netns_ino of init_net: the guest's own /proc/net view */
};

VMT_API int vmt_sockets(struct vmt_guest *g, struct vmt_socket_list **out);
VMT_API void vmt_socket_list_free(struct vmt_socket_list *l);

struct vmt_sysinfo {
	char sysname[65], nodename[65], release[65], version[65], machine[65];
	uint64_t uptime_ns;   /* since boot, from the timekeeper */
	uint64_t boot_time_s; /* wall clock at boot (epoch seconds) */
	uint64_t mem_total_kb, mem_free_kb, mem_available_kb;
	uint64_t buffers_kb, cached_kb;
	uint32_t nr_cpus;
	uint32_t nr_tasks;
	uint32_t flags; /* VMT_F_PARTIAL: some value could not be read (left 0) */
};

VMT_API int vmt_sysinfo(struct vmt_guest *g, struct vmt_sysinfo *si);

/* ------------------------------------------- per-process details (task_detail.c) */
/* (what /proc/PID shows beyond struct vmt_task: maps, open files, paths, namespaces) */

/* One memory area of a process: a line of /proc/PID/maps. */
struct vmt_vma {
	uint64_t start, end;
	uint64_t vm_flags; /* VM_READ 0x1, VM_WRITE 0x2, VM_EXEC 0x4, VM_MAYSHARE 0x80 */
	uint64_t pgoff;	   /* file offset in bytes (0 without a file) */
	uint32_t dev;	   /* kernel dev_t of the file's super block: major << 20 | minor */
	uint32_t flags;	   /* VMT_F_PARTIAL: the file or the name could not be read */
	uint64_t ino;
	/*
	 * What /proc/PID/maps prints after the padding: the file's path
	 * (d_path, unescaped), "[heap]", "[stack]", "[vdso]", "[vvar]",
	 * "[vsyscall]", "[anon:NAME]"; NULL: nothing (an anonymous area).
	 */
	char *name;
};

/* A descriptor an epoll instance watches: a "tfd:" line of its fdinfo. */
struct vmt_epoll_item {
	int32_t fd;
	uint32_t events;
	uint64_t data;
	int64_t pos; /* the watched file's position */
	uint64_t ino;
	uint32_t sdev; /* its super block's dev_t */
};

/* One open file descriptor: /proc/PID/fd/N and /proc/PID/fdinfo/N. */
struct vmt_fd {
	int32_t fd;
	uint32_t f_flags; /* file->f_flags, O_CLOEXEC added when close-on-exec (fdinfo "flags") */
	uint32_t f_mode;  /* FMODE_READ 0x1, FMODE_WRITE 0x2 (the link's permission bits) */
	int32_t mnt_id;
	int64_t pos;
	uint64_t ino;
	uint32_t flags; /* VMT_F_PARTIAL: some field unreadable (path NULL or fields 0) */
	/*
	 * What the file's show_fdinfo() adds to fdinfo/N, for the kinds known
	 * (others: VMT_FD_OTHER, nothing known beyond the four common lines).
	 *  EVENTFD  x = the count, id = the eventfd's id
	 *  PIDFD    pid_levels ids of the pid (ns_pid[0] -1: the process is gone)
	 *  UNIX     x = scm_stat.nr_fds (descriptors in flight)
	 *  SIGNALFD x = the signals it reads (bit n-1: signal n)
	 *  EPOLL    nitems watched descriptors in the instance's order (owned)
	 */
	int kind; /* enum vmt_fd_kind */
	int32_t id;
	uint64_t x;
	uint32_t pid_levels;
	int32_t ns_pid[4];
	uint32_t nitems;
	struct vmt_epoll_item *items;
	/* readlink of fd/N: a path, "socket:[INO]", "pipe:[INO]", "anon_inode:[eventfd]" */
	char *path;
	uint64_t sk; /* a socket's struct sock (file->private_data->sk), else 0 */
};

enum vmt_fd_kind {
	VMT_FD_OTHER,
	VMT_FD_EVENTFD,
	VMT_FD_PIDFD,
	VMT_FD_UNIX,
	VMT_FD_SIGNALFD,
	VMT_FD_EPOLL,
};

/* The namespaces of /proc/PID/ns, in the order Linux lists them. */
enum vmt_ns_type {
	VMT_NS_NET,
	VMT_NS_UTS,
	VMT_NS_IPC,
	VMT_NS_PID,
	VMT_NS_PID_FOR_CHILDREN,
	VMT_NS_USER,
	VMT_NS_MNT,
	VMT_NS_CGROUP,
	VMT_NS_TIME,
	VMT_NS_TIME_FOR_CHILDREN,
	VMT_NS_COUNT,
};

/* Link names ("net", "pid_for_children", ...) of enum vmt_ns_type.  Borrowed, static. */
VMT_API const char *vmt_ns_name(int type);

#define VMT_MAX_PID_LEVELS  32	       /* MAX_PID_NS_LEVEL */
#define VMT_CPUMASK_WORDS   128	       /* NR_CPUS up to 8192 */
#define VMT_NODEMASK_WORDS  16	       /* MAX_NUMNODES up to 1024 */
#define VMT_MAX_VMAS	    65536      /* default vm.max_map_count is 65530 */
#define VMT_MAX_FDS	    (1u << 20) /* fdtable slots scanned per process */
#define VMT_MAX_EPOLL_ITEMS 65536      /* watched descriptors read per epoll instance */
#define VMT_MAX_AUXV	    128	       /* words of saved_auxv (AT_VECTOR_SIZE is ~50) */

enum vmt_detail_what {
	VMT_DETAIL_STAT = 1u << 0,  /* what stat, status, statm need */
	VMT_DETAIL_GROUP = 1u << 1, /* also the thread-group totals (a process's own stat) */
	VMT_DETAIL_MAPS = 1u << 2,  /* vmas */
	VMT_DETAIL_FILES = 1u << 3, /* fds */
	VMT_DETAIL_FS = 1u << 4,    /* cwd, root */
	VMT_DETAIL_NS = 1u << 5,    /* ns_ino */
	VMT_DETAIL_AUXV = 1u << 6,  /* auxv */
	/* only task_flags, raw_state and the task's own counters and times (a subset of STAT) */
	VMT_DETAIL_SCHED = 1u << 7,
};

/*
 * What /proc/PID (or /proc/PID/task/TID) shows beyond struct vmt_task.
 * Times are nanoseconds, sizes of memory in pages unless named _bytes.
 * Fields of a part not asked for, or not readable (flags VMT_F_PARTIAL),
 * are 0.
 */
struct vmt_task_detail {
	uint32_t what;	/* enum vmt_detail_what actually read */
	uint32_t flags; /* VMT_F_PARTIAL / VMT_F_TRUNCATED for the whole detail */

	/* VMT_DETAIL_STAT: task_struct */
	uint32_t task_flags; /* PF_* */
	uint32_t raw_state;  /* task->__state (0: running) */
	int32_t exit_signal, exit_code, cpu;
	uint32_t rt_priority, policy;
	uint64_t min_flt, maj_flt, nvcsw, nivcsw;
	uint64_t utime_ns, stime_ns, gtime_ns; /* this task's, adjusted as the kernel shows them */
	uint64_t blkio_delay_ns;
	int32_t tracer_pid, ngid;
	int32_t umask;	 /* -1: the task has no fs_struct (no Umask line) */
	uint32_t fd_max; /* FDSize: files->fdt->max_fds */
	uint64_t sig_pending, sig_blocked, sig_ignored, sig_caught; /* bit n-1 = signal n */
	uint32_t no_new_privs, seccomp_mode, seccomp_filters;
	int32_t spec_ssb, spec_ib; /* arch_prctl_spec_ctrl_get(): PR_SPEC_* bits or -EINVAL */
	uint32_t nr_cpu_ids, nodemask_bits;
	uint64_t cpus_allowed[VMT_CPUMASK_WORDS];
	uint64_t mems_allowed[VMT_NODEMASK_WORDS];
	/* cred */
	uint64_t cap_inheritable, cap_permitted, cap_effective, cap_bset, cap_ambient;
	uint32_t ngroups; /* supplementary groups, at most 65536 */
	uint32_t *groups;
	/* pid namespaces: ids from level 0 (the guest's /proc) to the task's own level */
	uint32_t pid_levels;
	int32_t ns_tgid[VMT_MAX_PID_LEVELS], ns_pid[VMT_MAX_PID_LEVELS];
	int32_t ns_pgid[VMT_MAX_PID_LEVELS], ns_sid[VMT_MAX_PID_LEVELS];
	/* signal_struct */
	int32_t tty_pgrp; /* foreground group of the controlling tty, -1 none */
	uint64_t cmin_flt, cmaj_flt, cutime_ns, cstime_ns, cgtime_ns;
	uint64_t rlim_rss, rlim_sigpending; /* rlim_cur */
	uint64_t sigq;			    /* signals queued for the user */
	uint64_t sig_shared_pending;
	uint32_t core_dumping;
	/* VMT_DETAIL_GROUP: live threads plus the dead ones' share in signal_struct */
	uint64_t group_min_flt, group_maj_flt, group_utime_ns, group_stime_ns, group_gtime_ns;
	/* mm_struct (has_mm 0: a kernel thread or a zombie) */
	uint32_t has_mm, thp_enabled;
	uint64_t total_vm, hiwater_vm, locked_vm, pinned_vm, data_vm, stack_vm, exec_vm;
	uint64_t hiwater_rss, rss_file, rss_anon, rss_swap, rss_shmem, hugetlb_pages;
	uint64_t pgtables_bytes;
	uint64_t start_code, end_code, start_data, end_data, start_brk, brk, start_stack;
	uint64_t arg_start, arg_end, env_start, env_end;

	/* VMT_DETAIL_MAPS: in address order, [vsyscall] last */
	size_t nvmas;
	struct vmt_vma *vmas;
	/* VMT_DETAIL_FILES: in fd order */
	size_t nfds;
	struct vmt_fd *fds;
	/*
	 * VMT_DETAIL_FS: d_path of fs->pwd, fs->root and mm->exe_file, NULL if
	 * unreadable (exe also when t came with its own, VMT_TASK_EXE)
	 */
	char *cwd, *root, *exe;
	/* VMT_DETAIL_NS: inode numbers (0: none) of enum vmt_ns_type */
	uint64_t ns_ino[VMT_NS_COUNT];
	/* VMT_DETAIL_AUXV: mm->saved_auxv up to and with its AT_NULL pair (/proc/PID/auxv) */
	uint32_t nauxv; /* words */
	uint64_t auxv[VMT_MAX_AUXV];
};

/*
 * Read what `what` (enum vmt_detail_what) asks about task t (from
 * vmt_tasks, same listing) into a new detail the caller frees with
 * vmt_task_detail_free().  t is borrowed.  Parts that cannot be read are
 * flagged and left empty; a walk that breaks (a corrupt maple tree, a
 * hostile fd table) keeps what it read before (VMT_F_PARTIAL).  A negative
 * errno means nothing at all (-ENOMEM, -ENOEXEC: the profile lacks the
 * structures).
 */
VMT_API int vmt_task_detail(struct vmt_guest *g, const struct vmt_task *t, unsigned what,
			    struct vmt_task_detail **out);
VMT_API void vmt_task_detail_free(struct vmt_task_detail *d);
/*
 * Hint: vmt_task_detail(what) will soon be asked of these n tasks.  On a
 * split VM the pages it needs are fetched for all of them at once, a round
 * trip per level of pointers instead of one per task and level; elsewhere
 * it does nothing.  Only a hint: the details still read and check it all.
 */
VMT_API void vmt_task_detail_prefetch(struct vmt_guest *g, const struct vmt_task *t, size_t n,
				      unsigned what);

/* ------------------------------------------------- system-wide state (system.c) */
/* (what /proc/stat, loadavg, meminfo, cpuinfo, mounts, ... show) */

/*
 * The system-wide files of /proc, computed as Linux 6.1 computes them.
 * Each call reads one moment of the guest (call vmt_listing_begin() first
 * for fresh state).  A value that cannot be read is left 0 and the
 * result's flags get VMT_F_PARTIAL (vmt_last_error() says which); a
 * negative errno means nothing at all could be read.  Lists are the
 * caller's to free with their *_free function (which accepts NULL).
 */

/* /proc/stat's CPU time columns, in the order it prints them. */
enum vmt_cpu_time {
	VMT_CPU_USER,
	VMT_CPU_NICE,
	VMT_CPU_SYSTEM,
	VMT_CPU_IDLE,
	VMT_CPU_IOWAIT,
	VMT_CPU_IRQ,
	VMT_CPU_SOFTIRQ,
	VMT_CPU_STEAL,
	VMT_CPU_GUEST,
	VMT_CPU_GUEST_NICE,
	VMT_CPU_NR_TIMES,
};

#define VMT_NR_SOFTIRQS 10 /* HI TIMER NET_TX NET_RX BLOCK IRQ_POLL TASKLET SCHED HRTIMER RCU */

struct vmt_cpu_times {
	uint32_t cpu;		       /* CPU number (the total: UINT32_MAX) */
	uint32_t flags;		       /* VMT_F_PARTIAL: its per-CPU area was unreadable */
	uint64_t ns[VMT_CPU_NR_TIMES]; /* nanoseconds, enum vmt_cpu_time */
};

struct vmt_cpu_stat {
	struct vmt_cpu_times total; /* summed over the possible CPUs */
	struct vmt_cpu_times *cpus; /* the online CPUs, ascending */
	uint32_t nr_cpus;
	uint32_t nr_irqs;		       /* entries in irqs: the kernel's nr_irqs */
	uint64_t *irqs;			       /* per-irq counts as the "intr" line lists them */
	uint64_t intr_total;		       /* the "intr" line's first number */
	uint64_t ctxt;			       /* context switches (sum of rq->nr_switches) */
	uint64_t processes;		       /* total_forks */
	uint32_t procs_running, procs_blocked; /* nr_running(), nr_iowait() */
	uint64_t softirq_total;
	uint64_t softirqs[VMT_NR_SOFTIRQS];
	/* /proc/softirqs: per possible CPU, and the kernel's softirq_to_name[] */
	uint32_t nr_possible;
	struct vmt_cpu_softirqs {
		uint32_t cpu;
		uint32_t n[VMT_NR_SOFTIRQS];
	} * possible;
	char softirq_names[VMT_NR_SOFTIRQS][16]; /* "" if not read */
	uint32_t flags;
};

/* /proc/stat's (and /proc/softirqs') numbers (btime is struct vmt_sysinfo's boot_time_s). */
VMT_API int vmt_cpu_stat(struct vmt_guest *g, struct vmt_cpu_stat **out);
VMT_API void vmt_cpu_stat_free(struct vmt_cpu_stat *s);

/* /proc/interrupts: one line per irq that has an action or a count, then the architecture's. */
struct vmt_irq_line {
	int32_t irq;	  /* -1: an architecture line (label) */
	char label[8];	  /* "NMI", "LOC", ... */
	uint32_t *counts; /* one per online CPU (vmt_interrupts.cpus); NULL for a single value */
	bool single;	  /* one global value (ERR, MIS) */
	uint64_t value;
	char chip[32];	 /* irq chip name; "None" without a chip, "-" without a name */
	bool has_domain; /* an irq domain: hwirq is printed */
	uint64_t hwirq;
	char name[32];	   /* flow name ("edge", "fasteoi"), "" if none */
	char actions[256]; /* "timer", "i8042, other" */
	char desc[48];	   /* architecture line: "Local timer interrupts" */
	uint32_t flags;
};

struct vmt_interrupts {
	uint32_t nr_cpus;
	uint32_t *cpus;	 /* the online CPUs */
	int32_t nr_irqs; /* the first column's width follows it */
	size_t n;
	struct vmt_irq_line *lines;
	uint32_t *counts; /* storage of the lines' counts */
	uint32_t flags;
};

VMT_API int vmt_interrupts(struct vmt_guest *g, struct vmt_interrupts **out);
VMT_API void vmt_interrupts_free(struct vmt_interrupts *v);

/* /proc/loadavg. */
struct vmt_loadavg {
	uint64_t
	    avenrun[3]; /* fixed point, 11 fractional bits (FSHIFT), as the kernel keeps them */
	uint32_t nr_running; /* runnable tasks (sum of rq->nr_running over online CPUs) */
	uint32_t nr_threads; /* nr_threads */
	int32_t last_pid;    /* last pid allocated in the initial pid namespace */
	uint32_t flags;
};

VMT_API int vmt_loadavg(struct vmt_guest *g, struct vmt_loadavg *out);

/* Optional lines of /proc/meminfo this kernel prints (vmt_meminfo.have). */
enum vmt_meminfo_have {
	VMT_MEMINFO_THP = 1u << 0,	    /* AnonHugePages .. FilePmdMapped */
	VMT_MEMINFO_CMA = 1u << 1,	    /* CmaTotal, CmaFree */
	VMT_MEMINFO_HUGETLB = 1u << 2,	    /* HugePages_*, Hugepagesize, Hugetlb */
	VMT_MEMINFO_DIRECTMAP_1G = 1u << 3, /* DirectMap1G */
	VMT_MEMINFO_DIRECTMAP = 1u << 4,    /* DirectMap4k, DirectMap2M (x86) */
	VMT_MEMINFO_SEC_PAGETABLES = 1u << 5,
	VMT_MEMINFO_ZSWAP = 1u << 6,	   /* Zswap, Zswapped */
	VMT_MEMINFO_HUGETLB_KB = 1u << 7,  /* Hugetlb */
	VMT_MEMINFO_HWCORRUPTED = 1u << 8, /* HardwareCorrupted (CONFIG_MEMORY_FAILURE) */
	VMT_MEMINFO_UNACCEPTED = 1u << 9,  /* Unaccepted (CONFIG_UNACCEPTED_MEMORY) */
};

/* /proc/meminfo: every value in kB except the HugePages_ counts (pages). */
struct vmt_meminfo {
	uint64_t mem_total, mem_free, mem_available, buffers, cached, swap_cached;
	uint64_t active_anon, inactive_anon, active_file, inactive_file, unevictable, mlocked;
	uint64_t swap_total, swap_free, zswap, zswapped;
	uint64_t dirty, writeback, anon_pages, mapped, shmem;
	uint64_t kreclaimable, sreclaimable, sunreclaim, kernel_stack, page_tables, sec_page_tables;
	uint64_t bounce, writeback_tmp, commit_limit, committed_as;
	uint64_t vmalloc_total, vmalloc_used, percpu;
	uint64_t anon_huge, shmem_huge, shmem_pmd_mapped, file_huge, file_pmd_mapped;
	uint64_t cma_total, cma_free;
	uint64_t huge_total, huge_free, huge_rsvd, huge_surp, huge_size, hugetlb;
	uint64_t direct_map_4k, direct_map_2m, direct_map_1g;
	uint64_t hardware_corrupted, unaccepted;
	uint32_t have; /* enum vmt_meminfo_have */
	uint32_t flags;
};

VMT_API int vmt_meminfo(struct vmt_guest *g, struct vmt_meminfo *out);

/*
 * /proc/vmstat: every line, named by the kernel's own vmstat_text[] (zone,
 * NUMA, node and writeback items, then the VM event counters summed over
 * the online CPUs), in its order; "nr_unstable 0" is the renderer's.
 */
struct vmt_vmstat_item {
	char name[48];
	uint64_t value;
};

struct vmt_vmstat {
	size_t n, cap;
	struct vmt_vmstat_item *items;
	uint32_t flags;
};

VMT_API int vmt_vmstat(struct vmt_guest *g, struct vmt_vmstat **out);
VMT_API void vmt_vmstat_free(struct vmt_vmstat *v);

/* Kernel tunables of /proc/sys/kernel (values; -1: not readable). */
struct vmt_kernel_tunables {
	int32_t pid_max, threads_max, ngroups_max, cap_last_cap;
	int32_t randomize_va_space, kptr_restrict, dmesg_restrict, panic, sysrq;
	char domainname[65];
	uint32_t flags;
};

VMT_API int vmt_kernel_tunables(struct vmt_guest *g, struct vmt_kernel_tunables *out);

/* The kernel's command line (saved_command_line), NUL-terminated; caller frees *out. */
VMT_API int vmt_kernel_cmdline(struct vmt_guest *g, char **out);

/* /proc/tty/drivers: registered tty drivers (tty_drivers list, newest first). */
struct vmt_tty_driver {
	char driver_name[64]; /* "" when the driver has none ("unknown" in /proc) */
	char name[64];	      /* device name prefix: /dev/NAME */
	uint32_t major, minor_start, num;
	int16_t type, subtype; /* TTY_DRIVER_TYPE_*, its subtype */
};

struct vmt_tty_driver_list {
	size_t n;
	struct vmt_tty_driver *drivers;
	uint32_t flags;
	bool unix98_ptys, vt; /* the kernel has /dev/ptmx and /dev/vc/0 (first lines) */
};

VMT_API int vmt_tty_drivers(struct vmt_guest *g, struct vmt_tty_driver_list **out);
VMT_API void vmt_tty_driver_list_free(struct vmt_tty_driver_list *l);

/* /proc/filesystems: registered file system types, in registration order. */
struct vmt_fs_type {
	char name[64];
	uint32_t fs_flags; /* FS_REQUIRES_DEV (1): a block-device file system ("nodev" if clear) */
};

struct vmt_fs_type_list {
	size_t n;
	struct vmt_fs_type *types;
	uint32_t flags;
};

VMT_API int vmt_filesystems(struct vmt_guest *g, struct vmt_fs_type_list **out);
VMT_API void vmt_fs_type_list_free(struct vmt_fs_type_list *l);

/*
 * Sockets of the tables vmt_sockets() does not walk: raw (v4, v6), packet
 * and netlink, of every net namespace (filter on netns_ino), in the order
 * /proc/net/{raw,raw6,packet,netlink} list them.
 */
enum vmt_sock_more_proto {
	VMT_SOCK_RAW = 16,
	VMT_SOCK_RAW6,
	VMT_SOCK_PACKET,
	VMT_SOCK_NETLINK,
};

struct vmt_sock_more {
	int proto;	 /* enum vmt_sock_more_proto */
	uint32_t bucket; /* raw: hash bucket (the "sl" column) */
	int state;	 /* sk_state */
	int type;	 /* sk_type */
	/* raw: inet_num; packet: ntohs(po->num) (ETH_P_*); netlink: sk_protocol */
	uint32_t protocol;
	uint8_t laddr[16], raddr[16]; /* raw: network order; v4 in the first 4 bytes */
	uint32_t uid;
	uint64_t inode;
	uint32_t refcnt, drops;
	uint32_t rmem, wmem;	 /* sk_rmem_alloc, sk_wmem_alloc - 1 */
	uint32_t portid, groups; /* netlink: portid, groups[0] */
	bool cb_running;	 /* netlink: a dump runs */
	int32_t ifindex;	 /* packet: bound interface */
	bool running;		 /* packet: po->running */
	uint64_t kva;		 /* struct sock */
	uint32_t netns_ino;
	uint32_t flags;
};

struct vmt_sock_more_list {
	size_t n;
	struct vmt_sock_more *socks;
	uint32_t flags;
	uint32_t init_netns_ino;
};

VMT_API int vmt_sockets_more(struct vmt_guest *g, struct vmt_sock_more_list **out);
VMT_API void vmt_sock_more_list_free(struct vmt_sock_more_list *l);

/*
 * Cross-view of sockets (socket_views.c): every socket the processes hold
 * (their fd tables: file -> socket -> sock) against the protocol tables
 * vmt_sockets() walks.  A held socket whose state says a table MUST hold
 * it (TCP LISTEN: the listening hash; TCP ESTABLISHED: the established
 * hash; UDP bound to a port: the UDP hash; UNIX bound to a path or an
 * abstract name: the UNIX table) and that the table lacks is what a
 * rootkit that unlinks it leaves.  Table entries no process holds are
 * normal (kernel sockets, TIME_WAIT, orphans) and not listed.
 */
enum vmt_sock_view {
	VMT_SOCKV_FDS = 1u << 0,	/* held by a process (its fd table) */
	VMT_SOCKV_TCP_LISTEN = 1u << 1, /* inet_hashinfo.lhash2 */
	VMT_SOCKV_TCP_EHASH = 1u << 2,	/* inet_hashinfo.ehash */
	VMT_SOCKV_UDP = 1u << 3,	/* udp_table.hash */
	VMT_SOCKV_UNIX = 1u << 4,	/* net->unx.table */
};
#define VMT_SOCKV_COUNT 5

/* "fds", "tcp_listen", "tcp_ehash", "udp", "unix".  Borrowed, static. */
VMT_API const char *vmt_sock_view_name(unsigned view_bit);

struct vmt_sock_held {
	uint64_t sk, inode;
	uint16_t family, type, protocol, lport; /* AF_*, SOCK_*, IPPROTO_*, skc_num */
	int state;				/* skc_state (TCP_*; UNIX: TCP_LISTEN/CLOSE ...) */
	char path[112];				/* UNIX: bound name ('@' first for abstract) */
	int32_t pid, fd;			/* the first holder (thread-group id) and its fd */
	char comm[16];
	uint32_t nholders; /* fds that hold it, over every task read */
	uint32_t must;	   /* enum vmt_sock_view: the table its state says must hold it */
	uint32_t seen_by;  /* enum vmt_sock_view: the views that hold it (FDS always) */
	uint32_t missing;  /* must & ~seen_by (0 when the tables broke): the discrepancy */
};

struct vmt_sock_views {
	size_t n;
	struct vmt_sock_held *socks;	  /* every distinct sock held, in sk order */
	uint32_t view_n[VMT_SOCKV_COUNT]; /* sockets each view saw */
	/* tables partial (a chain abandoned) or truncated: missing means nothing */
	bool tables_broken;
	uint32_t bad_chains;
	uint32_t tasks_read, tasks_partial; /* fd tables read; of them cut short */
	uint32_t unreadable; /* socket fds whose sock could not be read (not judged) */
	bool truncated;	     /* 2^20 held socks read (the cap); the rest not judged */
};

VMT_API int vmt_socket_views(struct vmt_guest *g, struct vmt_sock_views **out);
VMT_API void vmt_sock_views_free(struct vmt_sock_views *v);

/* /proc/net/sockstat and sockstat6 of the initial net namespace. */
struct vmt_sockstat {
	int32_t sockets_used;
	int32_t tcp_inuse, tcp_orphan, tcp_tw, tcp_alloc;
	int64_t tcp_mem; /* pages */
	int32_t udp_inuse;
	int64_t udp_mem;
	int32_t udplite_inuse, raw_inuse;
	uint32_t frag_inuse;
	uint64_t frag_mem;
	bool have_v6; /* IPv6 built in or loaded: sockstat6 exists */
	int32_t tcp6_inuse, udp6_inuse, udplite6_inuse, raw6_inuse;
	uint32_t frag6_inuse;
	uint64_t frag6_mem;
	uint32_t flags;
};

VMT_API int vmt_sockstat(struct vmt_guest *g, struct vmt_sockstat *out);

/* /proc/net/dev: network devices of the initial net namespace with dev_get_stats(). */
struct vmt_netdev {
	char name[16];
	int32_t ifindex;
	uint64_t rx_bytes, rx_packets, rx_errors, rx_dropped, rx_fifo, rx_frame, rx_compressed;
	uint64_t multicast;
	uint64_t tx_bytes, tx_packets, tx_errors, tx_dropped, tx_fifo, collisions, tx_carrier;
	uint64_t tx_compressed;
	/*
	 * VMT_F_PARTIAL: the driver keeps its counters in its own way
	 * (ndo_get_stats64 other than the loopback's per-CPU lstats): the
	 * generic dev->stats and core_stats were used; or some of the fields
	 * below could not be read (an address list broke: the addresses before
	 * the break are kept).
	 */
	uint32_t flags;
	/* What ifconfig and `ip link` show (appended: the fields above keep their place). */
	uint32_t if_flags; /* dev_get_flags(): IFF_* as SIOCGIFFLAGS (low 16 bits) and netlink */
	uint32_t mtu;
	uint32_t tx_queue_len;
	uint16_t type;	       /* ARPHRD_* */
	uint8_t operstate;     /* IF_OPER_* */
	uint8_t addr_len;      /* bytes of hwaddr and broadcast that are used */
	uint8_t hwaddr[32];    /* MAX_ADDR_LEN */
	uint8_t broadcast[32]; /* the link-layer broadcast address */
	struct vmt_netdev_map {
		uint64_t mem_start, mem_end, base_addr;
		int32_t irq;
		uint8_t dma, port;
	} map; /* struct ifmap (SIOCGIFMAP) */
	/* in_device ifa_list, list order; NULL/0 without IPv4.  Owned by the list. */
	struct vmt_netdev_ip4 *ip4;
	size_t n_ip4;
	/* inet6_dev addr_list, list order; NULL/0 without IPv6.  Owned by the list. */
	struct vmt_netdev_ip6 *ip6;
	size_t n_ip6;
};

/* One IPv4 address of a device (struct in_ifaddr); addresses in network byte order. */
struct vmt_netdev_ip4 {
	uint8_t local[4];     /* ifa_local: the interface's own address */
	uint8_t address[4];   /* ifa_address: the peer on a point-to-point link, else local */
	uint8_t mask[4];      /* ifa_mask */
	uint8_t broadcast[4]; /* ifa_broadcast */
	uint8_t prefixlen, scope;
	uint32_t ifa_flags; /* IFA_F_* */
	char label[16];	    /* ifa_label ("eth0", "eth0:1") */
};

/* One IPv6 address of a device (struct inet6_ifaddr). */
struct vmt_netdev_ip6 {
	uint8_t addr[16];
	uint8_t prefixlen;
	uint16_t scope;	    /* ifp->scope as /proc/net/if_inet6 prints it (IFA_HOST 0x10, ...) */
	uint32_t ifa_flags; /* IFA_F_* */
	/*
	 * Position in the namespace's address hash (the order of
	 * /proc/net/if_inet6); UINT32_MAX when that table could not be read.
	 */
	uint32_t hash_pos;
	uint64_t kva; /* the inet6_ifaddr */
};

struct vmt_netdev_list {
	size_t n;
	struct vmt_netdev *devs; /* dev_base_head order */
	uint32_t flags;
};

/*
 * The devices in dev_base_head order with their state and addresses.  A
 * device whose address lists break (unreadable, cycle, over the bound) is
 * flagged VMT_F_PARTIAL and keeps the addresses read before the break.
 * Caller frees with vmt_netdev_list_free (which frees the address arrays).
 */
VMT_API int vmt_netdevs(struct vmt_guest *g, struct vmt_netdev_list **out);
VMT_API void vmt_netdev_list_free(struct vmt_netdev_list *l);

/*
 * /proc/net/snmp (file 0) and /proc/net/netstat (file 1) of the initial net
 * namespace: groups of counters ("Ip", "Icmp", "IcmpMsg", "Tcp", "Udp",
 * "UdpLite", "TcpExt", "IpExt", "MPTcpExt"), each printed as a line of
 * names and a line of values, in order.  Names are the kernel's own.
 */
#define VMT_SNMP_MAX_GROUPS 48

struct vmt_snmp_row {
	char name[40];
	int32_t entry;	/* the kernel's MIB index (ICMP type for icmpmibmap) */
	bool is_signed; /* printed as a signed number (Tcp MaxConn) */
	uint64_t value;
};

struct vmt_snmp_group {
	char prefix[16];
	int file; /* 0: net/snmp, 1: net/netstat */
	size_t n;
	struct vmt_snmp_row *rows;
};

struct vmt_snmp {
	size_t ngroups;
	struct vmt_snmp_group groups[VMT_SNMP_MAX_GROUPS];
	uint32_t flags;
};

VMT_API int vmt_net_snmp(struct vmt_guest *g, struct vmt_snmp **out);
VMT_API void vmt_snmp_free(struct vmt_snmp *s);

/*
 * Mounts of the initial mount namespace, in its list order (/proc/mounts,
 * /proc/1/mountinfo).  Strings are as the kernel has them, not escaped.
 */
struct vmt_mount {
	int32_t mnt_id, parent_id;
	int32_t group_id;   /* peer group (shared:N) if mnt_flags has MNT_SHARED (0x1000) */
	int32_t master_id;  /* group of the master (master:N) of a slave mount, 0 if none */
	uint32_t dev;	    /* sb->s_dev: major = dev >> 20, minor = dev & 0xfffff */
	uint32_t mnt_flags; /* MNT_NOSUID 0x1 ... MNT_READONLY 0x40, MNT_SHARED, MNT_UNBINDABLE */
	uint32_t sb_flags; /* SB_RDONLY 0x1, SB_SYNCHRONOUS, SB_MANDLOCK, SB_DIRSYNC, SB_LAZYTIME */
	/* VMT_F_PARTIAL: a path, the device name or the file system's own options not derived */
	uint32_t flags;
	char devname[256];
	char fstype[64];   /* type, ".subtype" appended if any */
	char root[256];	   /* the mount's root within its file system */
	char path[1024];   /* the mount point, from the namespace's root */
	char fs_opts[256]; /* what the file system's show_options() adds: ",size=...,mode=..." */
};

struct vmt_mount_list {
	size_t n;
	struct vmt_mount *mounts;
	uint32_t flags;
};

VMT_API int vmt_mounts(struct vmt_guest *g, struct vmt_mount_list **out);
VMT_API void vmt_mount_list_free(struct vmt_mount_list *l);

/* /proc/cpuinfo: one entry per online CPU (x86-64: struct cpuinfo_x86). */
struct vmt_cpuinfo {
	uint32_t cpu;
	char vendor_id[16];
	char model_name[64];
	uint32_t family, model, stepping;
	int32_t cpuid_level;
	uint32_t microcode;
	uint32_t khz; /* "cpu MHz" in kHz (cpu_khz) */
	bool has_tsc; /* the "cpu MHz" line is printed */
	uint32_t cache_size_kb;
	uint32_t phys_id, siblings, core_id, cores, apicid, initial_apicid;
	int32_t tlb_size;
	uint32_t clflush_size;
	int32_t cache_alignment;
	uint32_t phys_bits, virt_bits;
	uint64_t loops_per_jiffy; /* bogomips = lpj / (500000 / hz) */
	uint32_t hz;		  /* the guest's HZ (0: unknown) */
	bool has_vmx_flags;	  /* the "vmx flags" line is printed */
	char cap_flags[4096];	  /* " fpu vme ..." as the flags line lists them */
	char bugs[1024];
	char vmx_flags[2048];
	char power[512]; /* what follows "power management:" */
	/* VMT_F_PARTIAL: some field unreadable, or cpu MHz is an APERF/MPERF sample */
	uint32_t flags;
};

struct vmt_cpuinfo_list {
	size_t n;
	struct vmt_cpuinfo *cpus;
	uint32_t flags;
};

VMT_API int vmt_cpuinfo(struct vmt_guest *g, struct vmt_cpuinfo_list **out);
VMT_API void vmt_cpuinfo_list_free(struct vmt_cpuinfo_list *l);

/* /proc/locks: file locks (POSIX, OFD, flock, leases) and the requests they block. */
struct vmt_file_lock {
	uint32_t id;	   /* the line number /proc/locks gives it (1, 2, ...) */
	uint32_t level;	   /* 0: a held lock; n: blocked n levels under it ("->") */
	uint32_t fl_flags; /* FL_POSIX 1, FL_FLOCK 2, FL_DELEG 4, FL_ACCESS 8, FL_LEASE 32, ... */
	int32_t fl_type;   /* F_RDLCK 0, F_WRLCK 1, F_UNLCK 2 */
	int32_t pid;	   /* fl_pid (init pid namespace) */
	bool has_inode;
	uint32_t dev; /* of the inode's super block: major = dev >> 20 */
	uint64_t ino;
	int64_t start, end;
	uint32_t flags;
};

struct vmt_file_lock_list {
	size_t n;
	struct vmt_file_lock *locks;
	uint32_t flags;
};

VMT_API int vmt_file_locks(struct vmt_guest *g, struct vmt_file_lock_list **out);
VMT_API void vmt_file_lock_list_free(struct vmt_file_lock_list *l);

#ifdef __cplusplus
}
#endif
#endif /* VMEMTRANS_H */

/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * pager.h - insides of libvmt-pager.so, shared by its parts:
 *   pager.c    configuration, log, the mmap64 wrapper, start and teardown
 *   uffd.c     userfaultfd: registration and the install/protect ioctls
 *   fault.c    the fault thread and page-in (workers)
 *   pageout.c  the evictor: page-out under the cap, trims
 *   ctl.c      the command socket (PING, PAGEIN, STATS)
 * One mutex (g.lock) guards every chunk's state, the job list, the policy
 * and every page-table write; nothing holds it across network I/O.
 */
#ifndef VMT_PAGER_H
#define VMT_PAGER_H

#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "pagetable/pagetable.h"
#include "pager/policy.h"
#include "subhost/subhost.h"

#define PAGER_PAGE	   4096u
#define PAGER_WORKERS	   4
#define PAGER_MAX_CLIENTS  8
#define PAGER_HIST_BUCKETS 256

struct pager_conf {
	char mem[4096], pagetable[4096], socket[4096], log[4096], psk[4096];
	bool insecure;
	uint64_t cap_bytes;
	bool cap_set;
	enum pager_policy_kind policy;
	unsigned workers;
	bool tail_after_head; /* tail=after (default): the rest once the faulting page is in */
};

/* A fault held back until its chunk settles (or until the cap has room). */
struct pager_fault {
	uint64_t addr;	/* faulting address (page aligned) */
	uint64_t flags; /* UFFD_PAGEFAULT_FLAG_* */
	uint64_t t0_ns; /* when the pager read it */
	struct pager_fault *next;
};

enum pager_job_kind { JOB_IN, JOB_OUT };

/* A chunk in motion: at most one job per chunk at any time. */
#define PAGER_JOB_BUCKETS 1024 /* power of two */

struct pager_job {
	uint64_t chunk;
	enum pager_job_kind kind;
	int host;		     /* IN: where it comes from */
	int parts;		     /* IN: fetch tasks not yet installed */
	bool by_fault;		     /* IN: started by a fault (vs. PAGEIN) */
	bool tail_waits;	     /* IN: the tail is queued once the head is in */
	bool failed;		     /* IN: a part was not installed: the chunk stays on host */
	uint64_t head;		     /* IN: faulting page's address, 0 if none */
	uint64_t t0_ns;		     /* IN: the initiating fault's time */
	struct pager_fault *waiters; /* faults on this chunk meanwhile */
	struct pager_job *next;
};

/* A fetch for a worker: the faulting page (head) or the rest of its chunk. */
struct pager_task {
	struct pager_job *job;
	bool head;
	struct pager_task *next;
};

/* Sub-host handles owned by one thread (libnbd handles serialize). */
struct pager_conns {
	struct vmt_subhost *h[VMT_PT_MAX_HOSTS];
	int io_timeout_ms; /* 0: 5000 */
};

struct pager_hist {
	_Atomic uint64_t b[PAGER_HIST_BUCKETS];
	_Atomic uint64_t n, max;
};

struct pager_stats {
	_Atomic uint64_t faults, wp_faults, inline_heads, zero_fills, pageins, pageouts,
	    pageouts_skipped_clean, pageouts_zero, bytes_in, bytes_out, trims, retries, errors,
	    deferred, cap_waits, pagein_cmds, pagein_batches, pagein_reads, pagein_wait_us,
	    pagein_cmd_us, pagein_net_us, pagein_install_us, hint_chunks, hint_us,
	    pageouts_ids; /* chunks that left MAIN while an IDS read (pager_ids_reading) */
	struct pager_hist fault_us, pagein_us, head_net_us;
};

struct pager {
	struct pager_conf conf;
	bool active;
	int log_fd;
	pthread_mutex_t log_lock;
	/* VMT_PAGER_TRACE=FILE (debugging): one line per fault dispatched, at most TRACE_MAX. */
	int trace_fd;
	uint64_t trace_n;

	/* the memory file and its one registered mapping */
	dev_t mem_dev;
	ino_t mem_ino;
	int mem_fd; /* our dup, for pread and fallocate */
	uint64_t base, len, map_off;
	int uffd;
	bool have_zeropage, have_wp;

	struct vmt_pt pt;
	uint64_t chunk, nr_chunks, cap_chunks, low_chunks;
	/*
	 * While an IDS reads through the pager (PAGEINs and hints, ctl.c), up
	 * to ids_until_ns, the evictor lets MAIN grow to burst_chunks instead
	 * of low_chunks before it pages out, and catches up after: page-outs
	 * during a method-2 listing took the CPU and links that its page-ins
	 * need (pager_ids_reading).
	 */
	uint64_t burst_chunks;
	_Atomic uint64_t ids_until_ns;

	pthread_mutex_t lock;
	pthread_cond_t cond;	   /* a job finished / room appeared */
	pthread_cond_t work_cond;  /* workers: a task is queued */
	pthread_cond_t evict_cond; /* evictor: over the watermark, trims queued */
	/* Chunks in motion, hashed by chunk: a PAGEIN and an eviction round hold hundreds. */
	struct pager_job *jobs[PAGER_JOB_BUCKETS];
	struct pager_task *tasks; /* head tasks first */
	struct pager_task *tasks_tail;
	struct pager_fault *admit; /* faults waiting for room under the cap */
	struct pager_fault *admit_tail;
	uint64_t inflight_in; /* IN jobs (they will become MAIN) */
	uint64_t admit_waiting;
	struct pager_policy policy;
	uint64_t *trim_q; /* (host << 56) | chunk, trims to send */
	size_t trim_n, trim_cap;

	int quit_fd; /* eventfd */
	atomic_bool quit;
	pthread_t fault_thr, evict_thr, ctl_thr, workers[16];
	unsigned nr_workers;
	bool threads_up;
	int listen_fd;
	atomic_bool host_down[VMT_PT_MAX_HOSTS]; /* fetches go through the workers' retries */

	struct pager_stats st;
};

extern struct pager g;

/* fault.c: record a fault in the trace, if VMT_PAGER_TRACE asked for one (lock held). */
void pager_trace_locked(char kind, uint64_t off);

/* pager.c */
void pager_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
uint64_t pager_now_ns(void);
/* ts = ns from now on CLOCK_REALTIME, for pthread_cond_timedwait. */
void pager_deadline_in(uint64_t ns, struct timespec *ts);
bool pager_sleep_backoff(unsigned attempt); /* false if quitting */
int pager_conn_get(struct pager_conns *c, int k, struct vmt_subhost **out);
void pager_conn_drop(struct pager_conns *c, int k);
void pager_conns_close(struct pager_conns *c);
void pager_hist_add(struct pager_hist *h, uint64_t us);
uint64_t pager_hist_pct(const struct pager_hist *h, double pct);

/* uffd.c */
int pager_uffd_open(void);
int pager_uffd_register(void *addr, uint64_t len);
int pager_uffd_copy(uint64_t dst, const void *src, uint64_t len, bool wp);
int pager_uffd_zero(uint64_t dst);
int pager_uffd_wp(uint64_t start, uint64_t len, bool protect);
int pager_uffd_wake(uint64_t start, uint64_t len);

/* fault.c (all *_locked: caller holds g.lock) */
int pager_fault_start(void);
void pager_fault_dispatch_locked(uint64_t addr, uint64_t flags, uint64_t t0);
struct pager_job *pager_job_find_locked(uint64_t chunk);
struct pager_job *pager_job_new_locked(uint64_t chunk, enum pager_job_kind kind);
void pager_job_free_locked(struct pager_job *j);
bool pager_admit_ok_locked(unsigned more);
void pager_pagein_done_locked(struct pager_job *j);
void pager_release_admit_locked(void);
uint64_t pager_chunk_addr(uint64_t chunk);
uint64_t pager_chunk_len(uint64_t chunk);
int pager_install(uint64_t dst, const void *src, uint64_t len);
void pager_queue_trim_locked(int host, uint64_t chunk);
int pager_fetch_retry(struct pager_conns *c, const int *hosts, struct vmt_subhost_io *io, size_t n,
		      uint64_t deadline_ns);

/* pageout.c */
int pager_evict_start(void);
/* An IDS is reading through the pager now (a PAGEIN or hints): quiet eviction a while. */
void pager_ids_reading(void);

/* ctl.c */
int pager_ctl_start(void);
int pager_stats_json(char *buf, size_t len);

#endif

/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * task_offsets.h - struct layouts the task walker needs, resolved from the
 * profile's BTF once per guest (memoized in the profile cache).
 */
#ifndef VMT_LINUX_TASK_OFFSETS_H
#define VMT_LINUX_TASK_OFFSETS_H

#include <stdint.h>

#include "guest/guest_internal.h"

struct task_offsets {
	uint32_t task_tasks, task_pid, task_tgid, task_comm, task_real_parent;
	uint32_t task_group_leader, task_state, task_exit_state, task_flags;
	uint32_t task_real_cred, task_signal, task_thread_node, task_mm;
	uint32_t task_start_boottime, task_utime, task_stime, task_prio, task_static_prio;
	uint32_t cred_uid, cred_gid, cred_euid, cred_egid, cred_suid, cred_sgid;
	uint32_t cred_fsuid, cred_fsgid;
	uint32_t signal_nr_threads, signal_thread_head, signal_pids;
	uint32_t pid_numbers;
	uint32_t mm_pgd, mm_arg_start, mm_arg_end, mm_env_start, mm_env_end;
	uint32_t mm_exe_file, mm_total_vm, mm_rss_stat;
	uint32_t mm_rss_stride, mm_rss_count; /* per counter: its size, its value's offset */
	uint32_t mm_rss_percpu;		      /* percpu_counter.counters, or absent */
	uint32_t file_f_path, path_mnt, path_dentry;
	uint32_t dentry_d_parent, dentry_d_name, dentry_d_hash_pprev, qstr_name, qstr_len;
	uint32_t mount_mnt, mount_mnt_parent, mount_mnt_mountpoint, vfsmount_mnt_root;
	uint32_t task_worker_private, kthread_data, worker_desc, worker_current_work, worker_pool;
	uint32_t kthread_full_name;
	uint32_t task_size, cred_size; /* sizeof, for prefetch hints */
	int64_t pidtype_pgid, pidtype_sid;
};

/* Resolve (once per guest) and return a borrowed pointer. */
int vmt_task_offsets(struct vmt_guest *g, const struct task_offsets **out);

/*
 * mm.c: cmdline, environ, exe path, RSS and vsize of a user task.  *budget
 * is what the listing may still spend on argument strings: a hostile guest
 * claiming huge argument areas for many processes gets truncated entries,
 * not gigabytes of copies.
 */
void vmt_task_read_mm(struct vmt_guest *g, const struct task_offsets *o, struct vmt_task *t,
		      unsigned what, size_t *budget);
/*
 * mm.c: get_mm_counter() of MM_FILEPAGES, MM_ANONPAGES, MM_SWAPENTS,
 * MM_SHMEMPAGES into c[] (atomic_long_t up to 6.1; since 6.2 a
 * percpu_counter each, summed over the online CPUs as get_mm_counter_sum()
 * does for /proc/PID/status and statm: the count alone lags by up to a
 * batch per CPU).
 */
int vmt_mm_rss_read(struct vmt_guest *g, const struct task_offsets *o, uint64_t mm, int64_t c[4]);
/* mm.c: d_path() of a (vfsmount, dentry) pair, " (deleted)" if unlinked.  Caller frees. */
char *vmt_dentry_path(struct vmt_guest *g, uint64_t vfsmnt, uint64_t dentry);
/* Free what a vmt_task owns (strings), not the task itself. */
void vmt_task_clear(struct vmt_task *t);

#endif

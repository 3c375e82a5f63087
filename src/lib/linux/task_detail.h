/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * task_detail.h - struct layouts and shared helpers of the per-process
 * detail walkers: task_detail.c (what stat, status and statm print) and
 * task_files.c (maps, open files, fs paths, namespaces).
 */
#ifndef VMT_LINUX_TASK_DETAIL_H
#define VMT_LINUX_TASK_DETAIL_H

#include <stdint.h>

#include "linux/task_offsets.h"

enum detail_dname {
	DNAME_SOCKFS,
	DNAME_PIPEFS,
	DNAME_ANON_INODE,
	DNAME_NS,
	DNAME_SIMPLE,
	DNAME_COUNT,
};

struct detail_offsets {
	/* task_struct */
	uint32_t task_cpu, task_sum_exec, task_prev_cputime, task_pending, task_blocked;
	uint32_t task_sighand, task_ptrace, task_parent, task_seccomp_mode, task_seccomp_filters;
	uint32_t task_atomic_flags, task_cpus_mask, task_cpus_mask_size, task_mems;
	uint32_t task_mems_size, task_files, task_fs, task_nsproxy, task_delays, task_numa_group;
	uint32_t task_thread_pid, task_gtime, task_min_flt, task_maj_flt, task_nvcsw, task_nivcsw;
	uint32_t task_exit_code, task_exit_signal, task_rt_priority, task_policy;
	uint32_t delays_blkio, numa_group_gid;
	/* cred */
	uint32_t cred_cap_inh, cred_cap_prm, cred_cap_eff, cred_cap_bnd, cred_cap_amb;
	uint32_t cred_group_info, cred_user_ns, cred_ucounts, group_info_ngroups, group_info_gid;
	uint32_t ucounts_rlimit; /* + 8 * UCOUNT_RLIMIT_SIGPENDING */
	int64_t rlimit_sigpending;
	/* signal_struct */
	uint32_t sig_utime, sig_stime, sig_gtime, sig_cutime, sig_cstime, sig_cgtime;
	uint32_t sig_min_flt, sig_maj_flt, sig_cmin_flt, sig_cmaj_flt, sig_sum_sched;
	uint32_t sig_prev_cputime, sig_rlim, sig_shared_pending, sig_tty, sig_core_state;
	uint32_t tty_pgrp, sighand_action, k_sigaction_size;
	uint32_t pid_level, pid_numbers, upid_size, upid_ns;
	/* mm_struct */
	uint32_t mm_hiwater_rss, mm_hiwater_vm, mm_locked_vm, mm_pinned_vm, mm_data_vm;
	uint32_t mm_exec_vm, mm_stack_vm, mm_start_code, mm_end_code, mm_start_data, mm_end_data;
	uint32_t mm_start_brk, mm_brk, mm_start_stack, mm_pgtables_bytes, mm_hugetlb_usage;
	uint32_t mm_flags, mm_ma_root, mm_saved_auxv, mm_saved_auxv_size;
	/* maple tree nodes and VMAs */
	uint32_t mr64_pivot, mr64_slot, mr64_meta, ma64_pivot, ma64_slot, ma64_meta;
	uint32_t vma_start, vma_end, vma_mm, vma_flags, vma_pgoff, vma_file, vma_ops;
	uint32_t vma_private, vma_anon_name, anon_name_name, special_mapping_name;
	/* files */
	uint32_t fs_umask, fs_root, fs_pwd, files_fdt, fdt_max_fds, fdt_fd, fdt_cloexec;
	uint32_t file_f_inode, file_f_pos, file_f_flags, file_f_mode, inode_ino, inode_sb;
	uint32_t sb_dev, dentry_d_op, dentry_d_inode, dentry_d_fsdata, dops_d_dname;
	uint32_t mount_mnt_id, ns_ops_name, mm_context_flags;
	/* sizeof, for prefetch hints on a split VM */
	uint32_t mm_size, signal_size, fs_size, files_size, fdt_size, nsproxy_size, pid_size;
	uint32_t vma_size, file_size, inode_size, dentry_size;
	/* kernel symbols: the d_dname() of pseudo file systems, special mappings */
	uint64_t dname_fn[5]; /* enum detail_dname */
	uint64_t special_mapping_vmops, gate_vma_ops, gate_vma, vsyscall_mode;
	uint64_t ssb_mode, ib_user_ibpb, ib_user_stibp, nr_cpu_ids;
	uint64_t eventfd_fops, pidfd_fops, socket_file_ops, unix_show_fdinfo, signalfd_fops;
	uint64_t eventpoll_fops;
	uint32_t ep_rbr, epi_rbn, epi_fd, epi_file, epi_events, epi_data, rb_left, rb_right;
	uint32_t file_f_op, file_private, eventfd_count, eventfd_id, socket_ops, socket_sk;
	uint32_t unix_scm_nr_fds, proto_ops_show_fdinfo, pid_tasks, signalfd_sigmask;
	uint64_t bug_words; /* boot_cpu_data.x86_capability's first bug word (0: unknown) */
	/* namespaces: nsproxy member and ns_common.inum offset of each enum vmt_ns_type */
	uint32_t nsproxy_member[VMT_NS_COUNT], ns_inum[VMT_NS_COUNT];
};

/* Hints for a split VM: n ranges of len bytes at the pointers in va[] (0s skipped). */
void vmt_detail_prefetch(struct vmt_guest *g, const uint64_t *va, size_t n, uint32_t len);

/* Resolve once per guest (kept in a static per-profile cache); borrowed. */
int vmt_detail_offsets(struct vmt_guest *g, const struct detail_offsets **out);

/* The maps walk of these mm_structs, the fd walk of these fd tables: a batch a level. */
void vmt_detail_hint_maps(struct vmt_guest *g, const struct detail_offsets *d, const uint64_t *mm,
			  size_t n);
void vmt_detail_hint_fds(struct vmt_guest *g, const struct detail_offsets *d, const uint64_t *fdt,
			 size_t n);

/* task_files.c: the parts that walk structures of their own. */
void vmt_detail_read_maps(struct vmt_guest *g, const struct detail_offsets *d,
			  const struct vmt_task *t, struct vmt_task_detail *out);
void vmt_detail_read_files(struct vmt_guest *g, const struct detail_offsets *d,
			   const struct vmt_task *t, struct vmt_task_detail *out);
void vmt_detail_read_fs(struct vmt_guest *g, const struct detail_offsets *d,
			const struct vmt_task *t, struct vmt_task_detail *out);
void vmt_detail_read_ns(struct vmt_guest *g, const struct detail_offsets *d,
			const struct vmt_task *t, struct vmt_task_detail *out);

#endif

// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * task_detail.c - what /proc/PID/{stat,status,statm} show beyond the task
 * walker's struct vmt_task: fault and context-switch counters, adjusted
 * CPU times and the group's totals, signals, capabilities, seccomp, CPU
 * and memory-node masks, the pid namespace ids, and the mm's counters.
 * The walks of maps, fds, fs paths and namespaces are in task_files.c.
 *
 * Each value is read as fs/proc/array.c and task_mmu.c of Linux 6.1 read
 * it, from the same fields; the renderer (src/procfs/render_task.c) prints
 * them.  Hostile guest: the thread walk of the group totals is bounded and
 * cycle-checked (vmt_list_walk), every array length is capped, and any
 * unreadable field marks the detail VMT_F_PARTIAL and reads as 0.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "linux/task_detail.h"

#define NGROUPS_CAP 65536u /* NGROUPS_MAX */
#define RLIMIT_RSS  5
#define RLIMIT_SIGP 11

static int detail_offsets_resolve(struct vmt_guest *g, struct detail_offsets *o)
{
	const struct vmt_field_req req[] = {
	    VMT_FIELD_OPT("task_struct", "thread_info.cpu", task_cpu),
	    VMT_FIELD_OPT("task_struct", "se.sum_exec_runtime", task_sum_exec),
	    VMT_FIELD_OPT("task_struct", "prev_cputime", task_prev_cputime),
	    VMT_FIELD_OPT("task_struct", "pending.signal", task_pending),
	    VMT_FIELD_OPT("task_struct", "blocked", task_blocked),
	    VMT_FIELD_OPT("task_struct", "sighand", task_sighand),
	    VMT_FIELD_OPT("task_struct", "ptrace", task_ptrace),
	    VMT_FIELD_OPT("task_struct", "parent", task_parent),
	    VMT_FIELD_OPT("task_struct", "seccomp.mode", task_seccomp_mode),
	    VMT_FIELD_OPT("task_struct", "seccomp.filter_count", task_seccomp_filters),
	    VMT_FIELD_OPT("task_struct", "atomic_flags", task_atomic_flags),
	    VMT_FIELD_OPT("task_struct", "files", task_files),
	    VMT_FIELD_OPT("task_struct", "fs", task_fs),
	    VMT_FIELD_OPT("task_struct", "nsproxy", task_nsproxy),
	    VMT_FIELD_OPT("task_struct", "delays", task_delays),
	    VMT_FIELD_OPT("task_struct", "numa_group", task_numa_group),
	    VMT_FIELD_OPT("task_struct", "thread_pid", task_thread_pid),
	    VMT_FIELD_OPT("task_struct", "gtime", task_gtime),
	    VMT_FIELD_OPT("task_struct", "min_flt", task_min_flt),
	    VMT_FIELD_OPT("task_struct", "maj_flt", task_maj_flt),
	    VMT_FIELD_OPT("task_struct", "nvcsw", task_nvcsw),
	    VMT_FIELD_OPT("task_struct", "nivcsw", task_nivcsw),
	    VMT_FIELD_OPT("task_struct", "exit_code", task_exit_code),
	    VMT_FIELD_OPT("task_struct", "exit_signal", task_exit_signal),
	    VMT_FIELD_OPT("task_struct", "rt_priority", task_rt_priority),
	    VMT_FIELD_OPT("task_struct", "policy", task_policy),
	    VMT_FIELD_OPT("task_delay_info", "blkio_delay", delays_blkio),
	    VMT_FIELD_OPT("numa_group", "gid", numa_group_gid),
	    VMT_FIELD_OPT("cred", "cap_inheritable", cred_cap_inh),
	    VMT_FIELD_OPT("cred", "cap_permitted", cred_cap_prm),
	    VMT_FIELD_OPT("cred", "cap_effective", cred_cap_eff),
	    VMT_FIELD_OPT("cred", "cap_bset", cred_cap_bnd),
	    VMT_FIELD_OPT("cred", "cap_ambient", cred_cap_amb),
	    VMT_FIELD_OPT("cred", "group_info", cred_group_info),
	    VMT_FIELD_OPT("cred", "user_ns", cred_user_ns),
	    VMT_FIELD_OPT("cred", "ucounts", cred_ucounts),
	    VMT_FIELD_OPT("group_info", "ngroups", group_info_ngroups),
	    VMT_FIELD_OPT("group_info", "gid", group_info_gid),
	    VMT_FIELD_OPT("ucounts", "rlimit", ucounts_rlimit),
	    VMT_FIELD_OPT("signal_struct", "utime", sig_utime),
	    VMT_FIELD_OPT("signal_struct", "stime", sig_stime),
	    VMT_FIELD_OPT("signal_struct", "gtime", sig_gtime),
	    VMT_FIELD_OPT("signal_struct", "cutime", sig_cutime),
	    VMT_FIELD_OPT("signal_struct", "cstime", sig_cstime),
	    VMT_FIELD_OPT("signal_struct", "cgtime", sig_cgtime),
	    VMT_FIELD_OPT("signal_struct", "min_flt", sig_min_flt),
	    VMT_FIELD_OPT("signal_struct", "maj_flt", sig_maj_flt),
	    VMT_FIELD_OPT("signal_struct", "cmin_flt", sig_cmin_flt),
	    VMT_FIELD_OPT("signal_struct", "cmaj_flt", sig_cmaj_flt),
	    VMT_FIELD_OPT("signal_struct", "sum_sched_runtime", sig_sum_sched),
	    VMT_FIELD_OPT("signal_struct", "prev_cputime", sig_prev_cputime),
	    VMT_FIELD_OPT("signal_struct", "rlim", sig_rlim),
	    VMT_FIELD_OPT("signal_struct", "shared_pending.signal", sig_shared_pending),
	    VMT_FIELD_OPT("signal_struct", "tty", sig_tty),
	    VMT_FIELD_OPT("signal_struct", "core_state", sig_core_state),
	    VMT_FIELD_OPT("tty_struct", "ctrl.pgrp", tty_pgrp),
	    VMT_FIELD_OPT("sighand_struct", "action", sighand_action),
	    {"k_sigaction", NULL, &o->k_sigaction_size, true},
	    VMT_FIELD_OPT("pid", "level", pid_level),
	    VMT_FIELD_OPT("pid", "numbers", pid_numbers),
	    {"upid", NULL, &o->upid_size, true},
	    VMT_FIELD_OPT("upid", "ns", upid_ns),
	    VMT_FIELD_OPT("mm_struct", "hiwater_rss", mm_hiwater_rss),
	    VMT_FIELD_OPT("mm_struct", "hiwater_vm", mm_hiwater_vm),
	    VMT_FIELD_OPT("mm_struct", "locked_vm", mm_locked_vm),
	    VMT_FIELD_OPT("mm_struct", "pinned_vm", mm_pinned_vm),
	    VMT_FIELD_OPT("mm_struct", "data_vm", mm_data_vm),
	    VMT_FIELD_OPT("mm_struct", "exec_vm", mm_exec_vm),
	    VMT_FIELD_OPT("mm_struct", "stack_vm", mm_stack_vm),
	    VMT_FIELD_OPT("mm_struct", "start_code", mm_start_code),
	    VMT_FIELD_OPT("mm_struct", "end_code", mm_end_code),
	    VMT_FIELD_OPT("mm_struct", "start_data", mm_start_data),
	    VMT_FIELD_OPT("mm_struct", "end_data", mm_end_data),
	    VMT_FIELD_OPT("mm_struct", "start_brk", mm_start_brk),
	    VMT_FIELD_OPT("mm_struct", "brk", mm_brk),
	    VMT_FIELD_OPT("mm_struct", "start_stack", mm_start_stack),
	    VMT_FIELD_OPT("mm_struct", "pgtables_bytes", mm_pgtables_bytes),
	    VMT_FIELD_OPT("mm_struct", "hugetlb_usage", mm_hugetlb_usage),
	    VMT_FIELD_OPT("mm_struct", "flags", mm_flags),
	    VMT_FIELD_OPT("mm_struct", "mm_mt.ma_root", mm_ma_root),
	    VMT_FIELD_OPT("maple_range_64", "pivot", mr64_pivot),
	    VMT_FIELD_OPT("maple_range_64", "slot", mr64_slot),
	    VMT_FIELD_OPT("maple_range_64", "meta", mr64_meta),
	    VMT_FIELD_OPT("maple_arange_64", "pivot", ma64_pivot),
	    VMT_FIELD_OPT("maple_arange_64", "slot", ma64_slot),
	    VMT_FIELD_OPT("maple_arange_64", "meta", ma64_meta),
	    VMT_FIELD_OPT("vm_area_struct", "vm_start", vma_start),
	    VMT_FIELD_OPT("vm_area_struct", "vm_end", vma_end),
	    VMT_FIELD_OPT("vm_area_struct", "vm_mm", vma_mm),
	    VMT_FIELD_OPT("vm_area_struct", "vm_flags", vma_flags),
	    VMT_FIELD_OPT("vm_area_struct", "vm_pgoff", vma_pgoff),
	    VMT_FIELD_OPT("vm_area_struct", "vm_file", vma_file),
	    VMT_FIELD_OPT("vm_area_struct", "vm_ops", vma_ops),
	    VMT_FIELD_OPT("vm_area_struct", "vm_private_data", vma_private),
	    VMT_FIELD_OPT("vm_area_struct", "anon_name", vma_anon_name),
	    VMT_FIELD_OPT("anon_vma_name", "name", anon_name_name),
	    VMT_FIELD_OPT("vm_special_mapping", "name", special_mapping_name),
	    VMT_FIELD_OPT("fs_struct", "umask", fs_umask),
	    VMT_FIELD_OPT("fs_struct", "root", fs_root),
	    VMT_FIELD_OPT("fs_struct", "pwd", fs_pwd),
	    VMT_FIELD_OPT("files_struct", "fdt", files_fdt),
	    VMT_FIELD_OPT("fdtable", "max_fds", fdt_max_fds),
	    VMT_FIELD_OPT("fdtable", "fd", fdt_fd),
	    VMT_FIELD_OPT("fdtable", "close_on_exec", fdt_cloexec),
	    VMT_FIELD_OPT("file", "f_inode", file_f_inode),
	    VMT_FIELD_OPT("file", "f_pos", file_f_pos),
	    VMT_FIELD_OPT("file", "f_flags", file_f_flags),
	    VMT_FIELD_OPT("file", "f_mode", file_f_mode),
	    VMT_FIELD_OPT("inode", "i_ino", inode_ino),
	    VMT_FIELD_OPT("inode", "i_sb", inode_sb),
	    VMT_FIELD_OPT("super_block", "s_dev", sb_dev),
	    VMT_FIELD_OPT("dentry", "d_op", dentry_d_op),
	    VMT_FIELD_OPT("dentry", "d_inode", dentry_d_inode),
	    VMT_FIELD_OPT("dentry", "d_fsdata", dentry_d_fsdata),
	    VMT_FIELD_OPT("dentry_operations", "d_dname", dops_d_dname),
	    VMT_FIELD_OPT("mount", "mnt_id", mount_mnt_id),
	    VMT_FIELD_OPT("proc_ns_operations", "name", ns_ops_name),
	    VMT_FIELD_OPT("mm_struct", "context.flags", mm_context_flags),
	    VMT_FIELD_OPT("file", "f_op", file_f_op),
	    VMT_FIELD_OPT("file", "private_data", file_private),
	    VMT_FIELD_OPT("eventfd_ctx", "count", eventfd_count),
	    VMT_FIELD_OPT("eventfd_ctx", "id", eventfd_id),
	    VMT_FIELD_OPT("socket", "ops", socket_ops),
	    VMT_FIELD_OPT("socket", "sk", socket_sk),
	    VMT_FIELD_OPT("unix_sock", "scm_stat.nr_fds", unix_scm_nr_fds),
	    VMT_FIELD_OPT("proto_ops", "show_fdinfo", proto_ops_show_fdinfo),
	    VMT_FIELD_OPT("pid", "tasks", pid_tasks),
	    VMT_FIELD_OPT("signalfd_ctx", "sigmask", signalfd_sigmask),
	    VMT_FIELD_OPT("eventpoll", "rbr", ep_rbr),
	    VMT_FIELD_OPT("epitem", "rbn", epi_rbn),
	    VMT_FIELD_OPT("epitem", "ffd.fd", epi_fd),
	    VMT_FIELD_OPT("epitem", "ffd.file", epi_file),
	    VMT_FIELD_OPT("epitem", "event.events", epi_events),
	    VMT_FIELD_OPT("epitem", "event.data", epi_data),
	    VMT_FIELD_OPT("rb_node", "rb_left", rb_left),
	    VMT_FIELD_OPT("rb_node", "rb_right", rb_right),
	    {"mm_struct", NULL, &o->mm_size, true},
	    {"signal_struct", NULL, &o->signal_size, true},
	    {"fs_struct", NULL, &o->fs_size, true},
	    {"files_struct", NULL, &o->files_size, true},
	    {"fdtable", NULL, &o->fdt_size, true},
	    {"nsproxy", NULL, &o->nsproxy_size, true},
	    {"pid", NULL, &o->pid_size, true},
	    {"vm_area_struct", NULL, &o->vma_size, true},
	    {"file", NULL, &o->file_size, true},
	    {"inode", NULL, &o->inode_size, true},
	    {"dentry", NULL, &o->dentry_size, true},
	};
	uint32_t sz = 0;
	int err;

	err = vmt_resolve_fields(g, req, ARRAY_SIZE(req));
	if (err)
		return err;
	/* Older kernels keep the pgrp straight in tty_struct. */
	if (o->tty_pgrp == UINT32_MAX)
		vmt_profile_field(g->prof, "tty_struct", "pgrp", &o->tty_pgrp);
	if (vmt_profile_field2(g->prof, "task_struct", "cpus_mask", &o->task_cpus_mask, &sz))
		o->task_cpus_mask = UINT32_MAX;
	o->task_cpus_mask_size = VMT_MIN(sz, VMT_CPUMASK_WORDS * 8u);
	if (vmt_profile_field2(g->prof, "mm_struct", "saved_auxv", &o->mm_saved_auxv, &sz))
		o->mm_saved_auxv = UINT32_MAX;
	o->mm_saved_auxv_size = VMT_MIN(sz, VMT_MAX_AUXV * 8u);
	if (vmt_profile_field2(g->prof, "task_struct", "mems_allowed", &o->task_mems, &sz))
		o->task_mems = UINT32_MAX;
	o->task_mems_size = VMT_MIN(sz, VMT_NODEMASK_WORDS * 8u);
	if (vmt_profile_enum(g->prof, "rlimit_type", "UCOUNT_RLIMIT_SIGPENDING",
			     &o->rlimit_sigpending))
		o->ucounts_rlimit = UINT32_MAX;
	return 0;
}

/* The namespace members of nsproxy (and cred for user), ns_common.inum of each. */
static void detail_ns_offsets(struct vmt_guest *g, struct detail_offsets *o)
{
	static const char *const member[VMT_NS_COUNT][2] = {
	    [VMT_NS_NET] = {"net_ns", "net"},
	    [VMT_NS_UTS] = {"uts_ns", "uts_namespace"},
	    [VMT_NS_IPC] = {"ipc_ns", "ipc_namespace"},
	    [VMT_NS_PID] = {NULL, "pid_namespace"},
	    [VMT_NS_PID_FOR_CHILDREN] = {"pid_ns_for_children", "pid_namespace"},
	    [VMT_NS_USER] = {NULL, "user_namespace"},
	    [VMT_NS_MNT] = {"mnt_ns", "mnt_namespace"},
	    [VMT_NS_CGROUP] = {"cgroup_ns", "cgroup_namespace"},
	    [VMT_NS_TIME] = {"time_ns", "time_namespace"},
	    [VMT_NS_TIME_FOR_CHILDREN] = {"time_ns_for_children", "time_namespace"},
	};

	for (int i = 0; i < VMT_NS_COUNT; i++) {
		if (member[i][0] &&
		    vmt_profile_field(g->prof, "nsproxy", member[i][0], &o->nsproxy_member[i]))
			o->nsproxy_member[i] = UINT32_MAX;
		if (vmt_profile_field(g->prof, member[i][1], "ns.inum", &o->ns_inum[i]))
			o->ns_inum[i] = UINT32_MAX;
	}
}

/* Kernel symbols the walkers compare pointers with (0: absent, never matches). */
static void detail_symbols(struct vmt_guest *g, struct detail_offsets *o)
{
	static const char *const dname[DNAME_COUNT] = {[DNAME_SOCKFS] = "sockfs_dname",
						       [DNAME_PIPEFS] = "pipefs_dname",
						       [DNAME_ANON_INODE] = "anon_inodefs_dname",
						       [DNAME_NS] = "ns_dname",
						       [DNAME_SIMPLE] = "simple_dname"};
	const struct {
		const char *name;
		uint64_t *va;
	} s[] = {
	    {"special_mapping_vmops", &o->special_mapping_vmops},
	    {"gate_vma_ops", &o->gate_vma_ops},
	    {"gate_vma", &o->gate_vma},
	    {"vsyscall_mode", &o->vsyscall_mode},
	    {"ssb_mode", &o->ssb_mode},
	    {"spectre_v2_user_ibpb", &o->ib_user_ibpb},
	    {"spectre_v2_user_stibp", &o->ib_user_stibp},
	    {"nr_cpu_ids", &o->nr_cpu_ids},
	    {"eventfd_fops", &o->eventfd_fops},
	    {"pidfd_fops", &o->pidfd_fops},
	    {"socket_file_ops", &o->socket_file_ops},
	    {"unix_show_fdinfo", &o->unix_show_fdinfo},
	    {"signalfd_fops", &o->signalfd_fops},
	    {"eventpoll_fops", &o->eventpoll_fops},
	};
	uint64_t bcd, va;
	uint32_t off, size, nbug;

	for (int i = 0; i < DNAME_COUNT; i++)
		if (vmt_ksym(g, dname[i], &o->dname_fn[i]))
			o->dname_fn[i] = 0;
	for (size_t i = 0; i < ARRAY_SIZE(s); i++)
		if (vmt_ksym(g, s[i].name, s[i].va))
			*s[i].va = 0;
	/* Two bug words since the SRSO fixes (6.5, and the stable kernels they reached). */
	nbug = vmt_ksym(g, "srso_mitigation", &va) ? 1 : 2;
	o->bug_words = 0;
	if (!vmt_ksym(g, "boot_cpu_data", &bcd) &&
	    !vmt_profile_field2(g->prof, "cpuinfo_x86", "x86_capability", &off, &size) &&
	    size / 4 > nbug)
		o->bug_words = bcd + off + (size / 4 - nbug) * 4;
}

int vmt_detail_offsets(struct vmt_guest *g, const struct detail_offsets **out)
{
	struct detail_offsets *o;
	int err;

	if (g->detail_off) {
		*out = g->detail_off;
		return 0;
	}
	o = malloc(sizeof(*o));
	if (!o)
		return -ENOMEM;
	VMT_OFFSETS_ABSENT(o);
	err = detail_offsets_resolve(g, o);
	if (err) {
		free(o);
		return err;
	}
	detail_ns_offsets(g, o);
	detail_symbols(g, o);
	g->detail_off = o;
	*out = o;
	return 0;
}

const char *vmt_ns_name(int type)
{
	static const char *const names[VMT_NS_COUNT] = {
	    "net",  "uts", "ipc",    "pid",  "pid_for_children",
	    "user", "mnt", "cgroup", "time", "time_for_children",
	};

	return type >= 0 && type < VMT_NS_COUNT ? names[type] : NULL;
}

/* ----------------------------------------------------------- reading */

/* Read a field of the struct at base; absent or unreadable: zeros, detail partial. */
static void dfield(struct vmt_guest *g, struct vmt_task_detail *d, uint64_t base, uint32_t off,
		   void *dst, size_t len)
{
	if (off == UINT32_MAX || !vmt_kptr_ok(base) || vmt_kread(g, base + off, dst, len)) {
		memset(dst, 0, len);
		d->flags |= VMT_F_PARTIAL;
	}
}

static uint64_t dptr(struct vmt_guest *g, struct vmt_task_detail *d, uint64_t base, uint32_t off)
{
	uint64_t v = 0;

	dfield(g, d, base, off, &v, sizeof(v));
	return v;
}

/* A pointer that may be NULL by design (no tty, no delays): NULL is not partial. */
static uint64_t dptr_opt(struct vmt_guest *g, uint64_t base, uint32_t off)
{
	uint64_t v = 0;

	if (off == UINT32_MAX || !vmt_kptr_ok(base) || vmt_kread_u64(g, base + off, &v) ||
	    !vmt_kptr_ok(v))
		return 0;
	return v;
}

/*
 * kernel/sched/cputime.c cputime_adjust(): tick-sampled utime and stime
 * scaled so that they add up to the precise runtime, never going back
 * behind what was shown before (prev).  ns in, ns out.
 */
static void cputime_adjust(uint64_t rtime, uint64_t utime, uint64_t stime, const uint64_t prev[2],
			   uint64_t *ut, uint64_t *st)
{
	uint64_t s;

	if (rtime <= prev[0] + prev[1]) { /* time did not advance past what was shown */
		*ut = prev[0];
		*st = prev[1];
		return;
	}
	if (stime == 0)
		s = 0;
	else if (utime == 0)
		s = rtime;
	else
		s = (uint64_t)((unsigned __int128)stime * rtime / (stime + utime));
	if (s < prev[1])
		s = prev[1];
	if (rtime - s < prev[0]) /* keep utime monotonic: take it from stime */
		s = rtime - prev[0];
	*st = s;
	*ut = rtime - s;
}

static void detail_read_sched(struct vmt_guest *g, const struct detail_offsets *o,
			      const struct vmt_task *t, struct vmt_task_detail *d)
{
	uint64_t task = t->kva, rtime = 0, prev[2] = {0}, delays, ng;

	dfield(g, d, task, o->task_min_flt, &d->min_flt, 8);
	dfield(g, d, task, o->task_maj_flt, &d->maj_flt, 8);
	dfield(g, d, task, o->task_nvcsw, &d->nvcsw, 8);
	dfield(g, d, task, o->task_nivcsw, &d->nivcsw, 8);
	dfield(g, d, task, o->task_gtime, &d->gtime_ns, 8);
	dfield(g, d, task, o->task_cpu, &d->cpu, 4);
	dfield(g, d, task, o->task_rt_priority, &d->rt_priority, 4);
	dfield(g, d, task, o->task_policy, &d->policy, 4);
	dfield(g, d, task, o->task_exit_signal, &d->exit_signal, 4);
	dfield(g, d, task, o->task_exit_code, &d->exit_code, 4);
	dfield(g, d, task, o->task_sum_exec, &rtime, 8);
	dfield(g, d, task, o->task_prev_cputime, prev, sizeof(prev));
	cputime_adjust(rtime, t->utime_ns, t->stime_ns, prev, &d->utime_ns, &d->stime_ns);
	delays = dptr_opt(g, task, o->task_delays);
	if (delays)
		dfield(g, d, delays, o->delays_blkio, &d->blkio_delay_ns, 8);
	ng = dptr_opt(g, task, o->task_numa_group);
	if (ng)
		dfield(g, d, ng, o->numa_group_gid, &d->ngid, 4);
	dfield(g, d, task, o->task_seccomp_mode, &d->seccomp_mode, 4);
	dfield(g, d, task, o->task_seccomp_filters, &d->seccomp_filters, 4);
}

/* Signal sets, the ignore/catch sets from sighand (collect_sigign_sigcatch). */
static void detail_read_signals(struct vmt_guest *g, const struct detail_offsets *o,
				const struct vmt_task *t, struct vmt_task_detail *d)
{
	uint64_t sighand = dptr(g, d, t->kva, o->task_sighand);
	uint8_t act[64 * 64];

	dfield(g, d, t->kva, o->task_pending, &d->sig_pending, 8);
	dfield(g, d, t->kva, o->task_blocked, &d->sig_blocked, 8);
	if (!vmt_kptr_ok(sighand) || o->sighand_action == UINT32_MAX ||
	    o->k_sigaction_size == UINT32_MAX) {
		d->flags |= VMT_F_PARTIAL;
		return;
	}
	if (o->k_sigaction_size < 8 || o->k_sigaction_size > 64 ||
	    vmt_kread(g, sighand + o->sighand_action, act, 64 * o->k_sigaction_size)) {
		d->flags |= VMT_F_PARTIAL;
		return;
	}
	for (int i = 0; i < 64; i++) {
		uint64_t handler; /* k_sigaction.sa.sa_handler, its first member */

		memcpy(&handler, act + i * o->k_sigaction_size, 8);
		if (handler == 1) /* SIG_IGN */
			d->sig_ignored |= 1ull << i;
		else if (handler != 0) /* not SIG_DFL */
			d->sig_caught |= 1ull << i;
	}
}

static void detail_read_cred(struct vmt_guest *g, const struct detail_offsets *o,
			     const struct task_offsets *to, const struct vmt_task *t,
			     struct vmt_task_detail *d)
{
	uint64_t cred = dptr(g, d, t->kva, to->task_real_cred), gi, uc;
	uint32_t n = 0;

	dfield(g, d, cred, o->cred_cap_inh, &d->cap_inheritable, 8);
	dfield(g, d, cred, o->cred_cap_prm, &d->cap_permitted, 8);
	dfield(g, d, cred, o->cred_cap_eff, &d->cap_effective, 8);
	dfield(g, d, cred, o->cred_cap_bnd, &d->cap_bset, 8);
	dfield(g, d, cred, o->cred_cap_amb, &d->cap_ambient, 8);
	uc = dptr(g, d, cred, o->cred_ucounts);
	if (o->ucounts_rlimit != UINT32_MAX)
		dfield(g, d, uc, o->ucounts_rlimit + 8 * (uint32_t)o->rlimit_sigpending, &d->sigq,
		       8);
	gi = dptr(g, d, cred, o->cred_group_info);
	dfield(g, d, gi, o->group_info_ngroups, &n, 4);
	if (n > NGROUPS_CAP) {
		n = NGROUPS_CAP;
		d->flags |= VMT_F_TRUNCATED;
	}
	if (!n || o->group_info_gid == UINT32_MAX)
		return;
	d->groups = malloc(n * sizeof(*d->groups));
	if (!d->groups || vmt_kread(g, gi + o->group_info_gid, d->groups, n * 4)) {
		free(d->groups);
		d->groups = NULL;
		d->flags |= VMT_F_PARTIAL;
		return;
	}
	d->ngroups = n;
}

/*
 * The id of pid p in the namespace at level lvl, if p lives there (the
 * namespace pointer at that level matches the task's): pid_nr_ns().
 */
static int32_t pid_nr_level(struct vmt_guest *g, const struct detail_offsets *o, uint64_t p,
			    uint32_t lvl, uint64_t ns)
{
	uint32_t plevel;
	uint64_t pns, at;
	int32_t nr;

	if (!vmt_kptr_ok(p) || vmt_kread_u32(g, p + o->pid_level, &plevel) || lvl > plevel)
		return 0;
	at = p + o->pid_numbers + (uint64_t)lvl * o->upid_size;
	if (vmt_kread(g, at, &nr, 4) || vmt_kread_u64(g, at + o->upid_ns, &pns) || pns != ns)
		return 0;
	return nr;
}

/* NStgid, NSpid, NSpgid, NSsid: one column per pid namespace level of the task. */
static void detail_read_pid_levels(struct vmt_guest *g, const struct detail_offsets *o,
				   const struct task_offsets *to, const struct vmt_task *t,
				   struct vmt_task_detail *d)
{
	uint64_t pid = dptr(g, d, t->kva, o->task_thread_pid), lpid = 0, sig, pg = 0, sid = 0;
	uint32_t level = 0;

	if (o->pid_level == UINT32_MAX || o->upid_size == UINT32_MAX || o->upid_ns == UINT32_MAX ||
	    !vmt_kptr_ok(pid) || vmt_kread_u32(g, pid + o->pid_level, &level)) {
		d->flags |= VMT_F_PARTIAL;
		return;
	}
	if (level >= VMT_MAX_PID_LEVELS) {
		d->flags |= VMT_F_PARTIAL;
		return;
	}
	if (vmt_kptr_ok(t->leader))
		lpid = dptr(g, d, t->leader, o->task_thread_pid);
	sig = dptr(g, d, t->kva, to->task_signal);
	if (to->signal_pids != UINT32_MAX && vmt_kptr_ok(sig)) {
		pg = dptr(g, d, sig, to->signal_pids + 8 * (uint32_t)to->pidtype_pgid);
		sid = dptr(g, d, sig, to->signal_pids + 8 * (uint32_t)to->pidtype_sid);
	}
	for (uint32_t l = 0; l <= level; l++) {
		uint64_t ns = 0;

		vmt_kread_u64(g, pid + o->pid_numbers + (uint64_t)l * o->upid_size + o->upid_ns,
			      &ns);
		d->ns_pid[l] = pid_nr_level(g, o, pid, l, ns);
		d->ns_tgid[l] = pid_nr_level(g, o, lpid, l, ns);
		d->ns_pgid[l] = pid_nr_level(g, o, pg, l, ns);
		d->ns_sid[l] = pid_nr_level(g, o, sid, l, ns);
	}
	d->pid_levels = level + 1;
}

/* TracerPid (ptrace_parent), Umask, FDSize, the CPU and node masks, NoNewPrivs. */
static void detail_read_misc(struct vmt_guest *g, const struct detail_offsets *o,
			     const struct task_offsets *to, const struct vmt_task *t,
			     struct vmt_task_detail *d)
{
	uint64_t task = t->kva, p, files, fdt, flags = 0;
	uint32_t ptrace = 0;

	dfield(g, d, task, o->task_ptrace, &ptrace, 4);
	if (ptrace && (p = dptr_opt(g, task, o->task_parent)))
		dfield(g, d, p, to->task_pid, &d->tracer_pid, 4);
	d->umask = -1;
	p = dptr_opt(g, task, o->task_fs);
	if (p && o->fs_umask != UINT32_MAX && vmt_kread(g, p + o->fs_umask, &d->umask, 4))
		d->umask = -1;
	files = dptr_opt(g, task, o->task_files);
	fdt = files ? dptr_opt(g, files, o->files_fdt) : 0;
	if (fdt)
		dfield(g, d, fdt, o->fdt_max_fds, &d->fd_max, 4);
	dfield(g, d, task, o->task_cpus_mask, d->cpus_allowed, o->task_cpus_mask_size);
	dfield(g, d, task, o->task_mems, d->mems_allowed, o->task_mems_size);
	d->nodemask_bits = o->task_mems_size * 8;
	dfield(g, d, task, o->task_atomic_flags, &flags, 8);
	d->no_new_privs = flags & 1; /* PFA_NO_NEW_PRIVS */
}

/* Counters of the signal_struct and the controlling tty's foreground group. */
static void detail_read_sigstruct(struct vmt_guest *g, const struct detail_offsets *o,
				  const struct task_offsets *to, const struct vmt_task *t,
				  struct vmt_task_detail *d)
{
	uint64_t sig = dptr(g, d, t->kva, to->task_signal), tty, pgrp;
	uint64_t core = 0;

	d->tty_pgrp = -1;
	if (!vmt_kptr_ok(sig))
		return;
	dfield(g, d, sig, o->sig_cmin_flt, &d->cmin_flt, 8);
	dfield(g, d, sig, o->sig_cmaj_flt, &d->cmaj_flt, 8);
	dfield(g, d, sig, o->sig_cutime, &d->cutime_ns, 8);
	dfield(g, d, sig, o->sig_cstime, &d->cstime_ns, 8);
	dfield(g, d, sig, o->sig_cgtime, &d->cgtime_ns, 8);
	dfield(g, d, sig, o->sig_rlim + RLIMIT_RSS * 16, &d->rlim_rss, 8);
	dfield(g, d, sig, o->sig_rlim + RLIMIT_SIGP * 16, &d->rlim_sigpending, 8);
	dfield(g, d, sig, o->sig_shared_pending, &d->sig_shared_pending, 8);
	dfield(g, d, sig, o->sig_core_state, &core, 8);
	d->core_dumping = core != 0;
	tty = dptr_opt(g, sig, o->sig_tty);
	if (!tty)
		return;
	d->tty_pgrp = 0; /* a tty without a foreground group: pid_nr_ns(NULL) */
	pgrp = dptr_opt(g, tty, o->tty_pgrp);
	if (pgrp)
		dfield(g, d, pgrp, o->pid_numbers, &d->tty_pgrp, 4);
}

/* The live threads' share of the group totals (do_task_stat, whole). */
struct group_sum {
	const struct detail_offsets *o;
	const struct task_offsets *to;
	uint64_t min_flt, maj_flt, gtime, utime, stime, rtime;
	size_t left;
	bool bad;
};

static int group_visit(struct vmt_guest *g, uint64_t node, void *arg)
{
	struct group_sum *s = arg;
	uint64_t task = node - s->to->task_thread_node, v[6] = {0};
	const uint32_t offs[6] = {s->o->task_min_flt, s->o->task_maj_flt, s->o->task_gtime,
				  s->to->task_utime,  s->to->task_stime,  s->o->task_sum_exec};

	if (s->left-- == 0)
		return 1;
	for (int i = 0; i < 6; i++)
		if (offs[i] == UINT32_MAX || vmt_kread_u64(g, task + offs[i], &v[i]))
			s->bad = true;
	s->min_flt += v[0];
	s->maj_flt += v[1];
	s->gtime += v[2];
	s->utime += v[3];
	s->stime += v[4];
	s->rtime += v[5];
	return 0;
}

static void detail_read_group(struct vmt_guest *g, const struct detail_offsets *o,
			      const struct task_offsets *to, const struct vmt_task *t,
			      struct vmt_task_detail *d)
{
	struct group_sum s = {.o = o, .to = to, .left = VMT_MAX_TASKS};
	uint64_t sig = dptr(g, d, t->kva, to->task_signal), v[6] = {0}, prev[2] = {0};
	const uint32_t offs[6] = {o->sig_min_flt, o->sig_maj_flt, o->sig_gtime,
				  o->sig_utime,	  o->sig_stime,	  o->sig_sum_sched};

	if (!vmt_kptr_ok(sig))
		return;
	if (vmt_list_walk(g, sig + to->signal_thread_head, VMT_MAX_TASKS, group_visit, &s) || s.bad)
		d->flags |= VMT_F_PARTIAL;
	for (int i = 0; i < 6; i++)
		dfield(g, d, sig, offs[i], &v[i], 8);
	dfield(g, d, sig, o->sig_prev_cputime, prev, sizeof(prev));
	d->group_min_flt = s.min_flt + v[0];
	d->group_maj_flt = s.maj_flt + v[1];
	d->group_gtime_ns = s.gtime + v[2];
	cputime_adjust(s.rtime + v[5], s.utime + v[3], s.stime + v[4], prev, &d->group_utime_ns,
		       &d->group_stime_ns);
}

/* task_mem(), statm and the mm fields of stat. */
static void detail_read_mm(struct vmt_guest *g, const struct detail_offsets *o,
			   const struct task_offsets *to, const struct vmt_task *t,
			   struct vmt_task_detail *d)
{
	uint64_t mm = 0, flags = 0;
	int64_t c[4] = {0};
	const struct {
		uint32_t off;
		uint64_t *dst;
	} f[] = {
	    {to->mm_total_vm, &d->total_vm},
	    {o->mm_hiwater_vm, &d->hiwater_vm},
	    {o->mm_locked_vm, &d->locked_vm},
	    {o->mm_pinned_vm, &d->pinned_vm},
	    {o->mm_data_vm, &d->data_vm},
	    {o->mm_stack_vm, &d->stack_vm},
	    {o->mm_exec_vm, &d->exec_vm},
	    {o->mm_hiwater_rss, &d->hiwater_rss},
	    {o->mm_start_code, &d->start_code},
	    {o->mm_end_code, &d->end_code},
	    {o->mm_start_data, &d->start_data},
	    {o->mm_end_data, &d->end_data},
	    {o->mm_start_brk, &d->start_brk},
	    {o->mm_brk, &d->brk},
	    {o->mm_start_stack, &d->start_stack},
	    {to->mm_arg_start, &d->arg_start},
	    {to->mm_arg_end, &d->arg_end},
	    {to->mm_env_start, &d->env_start},
	    {to->mm_env_end, &d->env_end},
	    {o->mm_pgtables_bytes, &d->pgtables_bytes},
	    {o->mm_hugetlb_usage, &d->hugetlb_pages},
	};

	if (vmt_kread_u64(g, t->kva + to->task_mm, &mm) || !mm)
		return; /* a kernel thread, or a zombie */
	if (!vmt_kptr_ok(mm)) {
		d->flags |= VMT_F_PARTIAL;
		return;
	}
	d->has_mm = 1;
	for (size_t i = 0; i < ARRAY_SIZE(f); i++)
		dfield(g, d, mm, f[i].off, f[i].dst, 8);
	/* get_mm_counter(): MM_FILEPAGES, MM_ANONPAGES, MM_SWAPENTS, MM_SHMEMPAGES; < 0 is 0 */
	if (vmt_mm_rss_read(g, to, mm, c)) {
		memset(c, 0, sizeof(c));
		d->flags |= VMT_F_PARTIAL;
	}
	d->rss_file = c[0] > 0 ? (uint64_t)c[0] : 0;
	d->rss_anon = c[1] > 0 ? (uint64_t)c[1] : 0;
	d->rss_swap = c[2] > 0 ? (uint64_t)c[2] : 0;
	d->rss_shmem = c[3] > 0 ? (uint64_t)c[3] : 0;
	dfield(g, d, mm, o->mm_flags, &flags, 8);
	d->thp_enabled = !(flags & (1ull << 24)); /* MMF_DISABLE_THP */
}

/*
 * arch/x86/kernel/cpu/bugs.c ssb_prctl_get() and ib_prctl_get(): the
 * system's mitigation modes, refined per task by its atomic_flags when a
 * mode leaves the choice to prctl.  Symbols the kernel lacks: -EINVAL.
 */
#define PR_SPEC_NOT_AFFECTED	   0
#define PR_SPEC_PRCTL		   (1 << 0)
#define PR_SPEC_ENABLE		   (1 << 1)
#define PR_SPEC_DISABLE		   (1 << 2)
#define PR_SPEC_FORCE_DISABLE	   (1 << 3)
#define PR_SPEC_DISABLE_NOEXEC	   (1 << 4)
#define PFA_SPEC_SSB_DISABLE	   3
#define PFA_SPEC_SSB_FORCE_DISABLE 4
#define PFA_SPEC_IB_DISABLE	   5
#define PFA_SPEC_IB_FORCE_DISABLE  6
#define PFA_SPEC_SSB_NOEXEC	   7
#define X86_BUG_SPECTRE_V2	   16
#define X86_BUG_SPEC_STORE_BYPASS  17

/* boot_cpu_has_bug(): the bug words follow the NCAPINTS feature words. */
static int cpu_has_bug(struct vmt_guest *g, const struct detail_offsets *o, int bug, bool *has)
{
	uint32_t word;

	if (!o->bug_words || vmt_kread_u32(g, o->bug_words + bug / 32 * 4, &word))
		return -ENOENT;
	*has = word >> (bug % 32) & 1;
	return 0;
}

static int sym_u32(struct vmt_guest *g, uint64_t va, uint32_t *v)
{
	return va ? vmt_kread_u32(g, va, v) : -ENOENT;
}

static int spec_ssb(struct vmt_guest *g, const struct detail_offsets *o, uint64_t aflags)
{
	uint32_t mode;
	bool bug;

	if (sym_u32(g, o->ssb_mode, &mode) || cpu_has_bug(g, o, X86_BUG_SPEC_STORE_BYPASS, &bug))
		return -EINVAL;
	if (mode == 1) /* SPEC_STORE_BYPASS_DISABLE */
		return PR_SPEC_DISABLE;
	if (mode == 2 || mode == 3) { /* PRCTL, SECCOMP */
		if (aflags >> PFA_SPEC_SSB_FORCE_DISABLE & 1)
			return PR_SPEC_PRCTL | PR_SPEC_FORCE_DISABLE;
		if (aflags >> PFA_SPEC_SSB_NOEXEC & 1)
			return PR_SPEC_PRCTL | PR_SPEC_DISABLE_NOEXEC;
		if (aflags >> PFA_SPEC_SSB_DISABLE & 1)
			return PR_SPEC_PRCTL | PR_SPEC_DISABLE;
		return PR_SPEC_PRCTL | PR_SPEC_ENABLE;
	}
	return bug ? PR_SPEC_ENABLE : PR_SPEC_NOT_AFFECTED;
}

/* enum spectre_v2_user_mitigation: NONE 0, STRICT 1, STRICT_PREFERRED 2, PRCTL 3, SECCOMP 4 */
static int spec_ib(struct vmt_guest *g, const struct detail_offsets *o, uint64_t aflags)
{
	uint32_t ibpb, stibp;
	bool bug;

	if (cpu_has_bug(g, o, X86_BUG_SPECTRE_V2, &bug))
		return -EINVAL;
	if (!bug)
		return PR_SPEC_NOT_AFFECTED;
	if (sym_u32(g, o->ib_user_ibpb, &ibpb) || sym_u32(g, o->ib_user_stibp, &stibp))
		return -EINVAL;
	if (ibpb == 0 && stibp == 0)
		return PR_SPEC_ENABLE;
	if (ibpb == 1 || ibpb == 2 || stibp == 1 || stibp == 2)
		return PR_SPEC_DISABLE;
	if (ibpb == 3 || ibpb == 4 || stibp == 3 || stibp == 4) {
		if (aflags >> PFA_SPEC_IB_FORCE_DISABLE & 1)
			return PR_SPEC_PRCTL | PR_SPEC_FORCE_DISABLE;
		if (aflags >> PFA_SPEC_IB_DISABLE & 1)
			return PR_SPEC_PRCTL | PR_SPEC_DISABLE;
		return PR_SPEC_PRCTL | PR_SPEC_ENABLE;
	}
	return PR_SPEC_NOT_AFFECTED;
}

static void detail_read_stat(struct vmt_guest *g, const struct detail_offsets *o,
			     const struct task_offsets *to, const struct vmt_task *t,
			     struct vmt_task_detail *d, unsigned what)
{
	uint64_t aflags = 0;

	dfield(g, d, t->kva, to->task_flags, &d->task_flags, 4);
	dfield(g, d, t->kva, to->task_state, &d->raw_state, 4);
	detail_read_sched(g, o, t, d);
	detail_read_signals(g, o, t, d);
	detail_read_cred(g, o, to, t, d);
	detail_read_pid_levels(g, o, to, t, d);
	detail_read_misc(g, o, to, t, d);
	detail_read_sigstruct(g, o, to, t, d);
	detail_read_mm(g, o, to, t, d);
	if (what & VMT_DETAIL_GROUP)
		detail_read_group(g, o, to, t, d);
	if (sym_u32(g, o->nr_cpu_ids, &d->nr_cpu_ids) || d->nr_cpu_ids > o->task_cpus_mask_size * 8)
		d->nr_cpu_ids = o->task_cpus_mask_size * 8;
	if (o->task_atomic_flags != UINT32_MAX)
		vmt_kread_u64(g, t->kva + o->task_atomic_flags, &aflags);
	d->spec_ssb = spec_ssb(g, o, aflags);
	d->spec_ib = spec_ib(g, o, aflags);
}

/*
 * proc_pid_auxv(): saved_auxv in (type, value) pairs through the AT_NULL
 * pair; a vector without one (hostile) ends at the array's end.
 */
static void detail_read_auxv(struct vmt_guest *g, const struct detail_offsets *o,
			     const struct task_offsets *to, const struct vmt_task *t,
			     struct vmt_task_detail *d)
{
	uint64_t mm = 0;
	uint32_t n = o->mm_saved_auxv_size / 16 * 2;

	if (vmt_kread_u64(g, t->kva + to->task_mm, &mm) || !mm)
		return; /* no mm: an empty file */
	if (!vmt_kptr_ok(mm) || o->mm_saved_auxv == UINT32_MAX ||
	    vmt_kread(g, mm + o->mm_saved_auxv, d->auxv, n * 8)) {
		d->flags |= VMT_F_PARTIAL;
		return;
	}
	for (d->nauxv = 2; d->nauxv < n && d->auxv[d->nauxv - 2] != 0; d->nauxv += 2)
		;
	if (d->auxv[d->nauxv - 2] != 0)
		d->flags |= VMT_F_TRUNCATED;
}

void vmt_detail_prefetch(struct vmt_guest *g, const uint64_t *va, size_t n, uint32_t len)
{
	struct vmt_krange *r;
	size_t k = 0;

	if (!n || len == UINT32_MAX || !(r = malloc(n * sizeof(*r))))
		return;
	for (size_t i = 0; i < n; i++)
		if (vmt_kptr_ok(va[i]))
			r[k++] = (struct vmt_krange){.va = va[i], .len = len};
	vmt_kprefetch(g, r, k);
	free(r);
}

/*
 * On a split VM, what the task's walk dereferences, level by level: the
 * task_struct, then the structures it points to, then theirs.  Three round
 * trips for the common part instead of one per structure.  Hints only.
 */
/* The structures a task's walk dereferences first; their pointers in p[] (9). */
#define DETAIL_POINTEES 9
static void detail_pointees(struct vmt_guest *g, const struct detail_offsets *o,
			    const struct task_offsets *to, const struct vmt_task *t,
			    struct vmt_hints *h, uint64_t *p)
{
	const uint32_t off[DETAIL_POINTEES] = {
	    to->task_mm,     to->task_signal,	 o->task_sighand, o->task_fs,	     o->task_files,
	    o->task_nsproxy, o->task_thread_pid, o->task_delays,  to->task_real_cred};
	const uint32_t len[DETAIL_POINTEES] = {o->mm_size,
					       o->signal_size,
					       o->sighand_action + 64 * 32,
					       o->fs_size,
					       o->files_size,
					       o->nsproxy_size,
					       o->pid_size,
					       64,
					       to->cred_size};

	for (size_t i = 0; i < DETAIL_POINTEES; i++)
		if (off[i] != UINT32_MAX && !vmt_kread_u64(g, t->kva + off[i], &p[i]) &&
		    vmt_kptr_ok(p[i]))
			vmt_hints_add(h, p[i], len[i]);
}

static void detail_hint_pointees(struct vmt_guest *g, const struct detail_offsets *o,
				 const struct task_offsets *to, const struct vmt_task *t,
				 struct vmt_hints *h)
{
	uint64_t p[DETAIL_POINTEES] = {0};

	detail_pointees(g, o, to, t, h, p);
}

static void detail_prefetch(struct vmt_guest *g, const struct detail_offsets *o,
			    const struct task_offsets *to, const struct vmt_task *t)
{
	struct vmt_hints h = {0};
	uint64_t p[DETAIL_POINTEES] = {0}, q[3] = {0};

	vmt_detail_prefetch(g, &t->kva, 1, to->task_size);
	detail_pointees(g, o, to, t, &h, p);
	vmt_hints_flush(g, &h);
	free(h.r);
	/* the third level: the fd table, the maple tree's root node, the cred's groups */
	if (vmt_kptr_ok(p[4]) && o->files_fdt != UINT32_MAX)
		vmt_kread_u64(g, p[4] + o->files_fdt, &q[0]);
	if (vmt_kptr_ok(p[0]) && o->mm_ma_root != UINT32_MAX &&
	    !vmt_kread_u64(g, p[0] + o->mm_ma_root, &q[1]))
		q[1] &= ~0xffull;
	if (vmt_kptr_ok(p[8]) && o->cred_group_info != UINT32_MAX)
		vmt_kread_u64(g, p[8] + o->cred_group_info, &q[2]);
	vmt_detail_prefetch(g, q, 3, 256);
}

static int u64_cmp(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return (x > y) - (x < y);
}

static size_t sort_unique(uint64_t *v, size_t n)
{
	size_t k = 0;

	qsort(v, n, sizeof(*v), u64_cmp);
	for (size_t i = 0; i < n; i++)
		if (!k || v[i] != v[k - 1])
			v[k++] = v[i];
	return k;
}

/*
 * detail_prefetch for many tasks, level by level: the task_structs, what
 * they point to, then (processes: `full`) the maple trees and fd tables.
 */
void vmt_task_detail_prefetch(struct vmt_guest *g, const struct vmt_task *t, size_t n,
			      unsigned what)
{
	const struct task_offsets *to;
	const struct detail_offsets *o;
	struct vmt_hints h = {0};
	uint64_t *mm, *fdt, p;
	size_t nmm = 0, nfdt = 0;

	if (!vmt_mem_hints_pay(g->mem) || vmt_task_offsets(g, &to) || vmt_detail_offsets(g, &o))
		return;
	mm = calloc(n + 1, sizeof(*mm));
	fdt = calloc(n + 1, sizeof(*fdt));
	if (!mm || !fdt)
		goto out;
	for (size_t i = 0; i < n; i++)
		vmt_hints_add(&h, t[i].kva, to->task_size);
	vmt_hints_flush(g, &h);
	for (size_t i = 0; i < n; i++)
		detail_hint_pointees(g, o, to, &t[i], &h);
	vmt_hints_flush(g, &h);
	for (size_t i = 0; i < n; i++) {
		if ((what & VMT_DETAIL_MAPS) && !vmt_kread_u64(g, t[i].kva + to->task_mm, &p) &&
		    vmt_kptr_ok(p)) {
			mm[nmm++] = p;
			if (o->mm_ma_root != UINT32_MAX && !vmt_kread_u64(g, p + o->mm_ma_root, &p))
				vmt_hints_add(&h, p & ~0xffull, 256);
		}
		if (o->cred_group_info != UINT32_MAX &&
		    !vmt_kread_u64(g, t[i].kva + to->task_real_cred, &p) && vmt_kptr_ok(p) &&
		    !vmt_kread_u64(g, p + o->cred_group_info, &p))
			vmt_hints_add(&h, p, 256);
		if ((what & VMT_DETAIL_FILES) && o->task_files != UINT32_MAX &&
		    o->files_fdt != UINT32_MAX && !vmt_kread_u64(g, t[i].kva + o->task_files, &p) &&
		    vmt_kptr_ok(p) && !vmt_kread_u64(g, p + o->files_fdt, &p) && vmt_kptr_ok(p)) {
			fdt[nfdt++] = p;
			vmt_hints_add(&h, p, o->fdt_size != UINT32_MAX ? o->fdt_size : 64);
		}
	}
	vmt_hints_flush(g, &h);
	nmm = sort_unique(mm, nmm); /* threads share their process's mm and files */
	nfdt = sort_unique(fdt, nfdt);
	vmt_detail_hint_maps(g, o, mm, nmm);
	vmt_detail_hint_fds(g, o, fdt, nfdt);
out:
	free(mm);
	free(fdt);
	free(h.r);
}

int vmt_task_detail(struct vmt_guest *g, const struct vmt_task *t, unsigned what,
		    struct vmt_task_detail **out)
{
	const struct task_offsets *to;
	const struct detail_offsets *o;
	struct vmt_task_detail *d;
	int err;

	*out = NULL;
	err = vmt_task_offsets(g, &to);
	if (!err)
		err = vmt_detail_offsets(g, &o);
	if (err)
		return err;
	d = calloc(1, sizeof(*d));
	if (!d)
		return -ENOMEM;
	d->what = what;
	if (!vmt_kptr_ok(t->kva)) {
		d->flags |= VMT_F_PARTIAL;
		*out = d;
		return 0;
	}
	if (vmt_mem_hints_pay(g->mem))
		detail_prefetch(g, o, to, t);
	if (what & (VMT_DETAIL_STAT | VMT_DETAIL_GROUP)) {
		detail_read_stat(g, o, to, t, d, what);
	} else if (what & VMT_DETAIL_SCHED) {
		dfield(g, d, t->kva, to->task_flags, &d->task_flags, 4);
		dfield(g, d, t->kva, to->task_state, &d->raw_state, 4);
		detail_read_sched(g, o, t, d);
	}
	if (what & VMT_DETAIL_AUXV)
		detail_read_auxv(g, o, to, t, d);
	if (what & VMT_DETAIL_MAPS)
		vmt_detail_read_maps(g, o, t, d);
	if (what & VMT_DETAIL_FILES)
		vmt_detail_read_files(g, o, t, d);
	if (what & VMT_DETAIL_FS)
		vmt_detail_read_fs(g, o, t, d);
	if (what & VMT_DETAIL_NS)
		vmt_detail_read_ns(g, o, t, d);
	*out = d;
	return 0;
}

void vmt_task_detail_free(struct vmt_task_detail *d)
{
	if (!d)
		return;
	for (size_t i = 0; i < d->nvmas; i++)
		free(d->vmas[i].name);
	for (size_t i = 0; i < d->nfds; i++) {
		free(d->fds[i].path);
		free(d->fds[i].items);
	}
	free(d->vmas);
	free(d->fds);
	free(d->groups);
	free(d->cwd);
	free(d->root);
	free(d->exe);
	free(d);
}

// SPDX-License-Identifier: LGPL-2.1-or-later
/* task_offsets.c - the task walker's struct layouts, from BTF. */
#include <stdlib.h>

#include "linux/task_offsets.h"

#define F(t, f, dst)     {t, f, &o->dst, false}
#define F_OPT(t, f, dst) {t, f, &o->dst, true}

static int task_offsets_resolve(struct vmt_guest *g, struct task_offsets *o)
{
	const struct vmt_field_req req[] = {
		F("task_struct", "tasks", task_tasks),
		F("task_struct", "pid", task_pid),
		F("task_struct", "tgid", task_tgid),
		F("task_struct", "comm", task_comm),
		F("task_struct", "real_parent", task_real_parent),
		F("task_struct", "group_leader", task_group_leader),
		F("task_struct", "__state", task_state),
		F("task_struct", "exit_state", task_exit_state),
		F("task_struct", "flags", task_flags),
		F("task_struct", "real_cred", task_real_cred),
		F("task_struct", "signal", task_signal),
		F("task_struct", "thread_node", task_thread_node),
		F("task_struct", "mm", task_mm),
		F_OPT("task_struct", "start_boottime", task_start_boottime),
		F_OPT("task_struct", "utime", task_utime),
		F_OPT("task_struct", "stime", task_stime),
		F_OPT("task_struct", "prio", task_prio),
		F_OPT("task_struct", "static_prio", task_static_prio),
		F("cred", "uid", cred_uid),
		F("cred", "gid", cred_gid),
		F("cred", "euid", cred_euid),
		F("cred", "egid", cred_egid),
		F("cred", "suid", cred_suid),
		F("cred", "sgid", cred_sgid),
		F("cred", "fsuid", cred_fsuid),
		F("cred", "fsgid", cred_fsgid),
		F("signal_struct", "nr_threads", signal_nr_threads),
		F("signal_struct", "thread_head", signal_thread_head),
		F_OPT("signal_struct", "pids", signal_pids),
		F("pid", "numbers", pid_numbers),
		F("mm_struct", "pgd", mm_pgd),
		F("mm_struct", "arg_start", mm_arg_start),
		F("mm_struct", "arg_end", mm_arg_end),
		F("mm_struct", "env_start", mm_env_start),
		F("mm_struct", "env_end", mm_env_end),
		F_OPT("mm_struct", "exe_file", mm_exe_file),
		F_OPT("mm_struct", "total_vm", mm_total_vm),
		F_OPT("mm_struct", "rss_stat", mm_rss_stat),
		F("file", "f_path", file_f_path),
		F("path", "mnt", path_mnt),
		F("path", "dentry", path_dentry),
		F("dentry", "d_parent", dentry_d_parent),
		F("dentry", "d_name", dentry_d_name),
		F("qstr", "name", qstr_name),
		F("qstr", "len", qstr_len),
		F_OPT("mount", "mnt", mount_mnt),
		F_OPT("mount", "mnt_parent", mount_mnt_parent),
		F_OPT("mount", "mnt_mountpoint", mount_mnt_mountpoint),
		F_OPT("vfsmount", "mnt_root", vfsmount_mnt_root),
		F_OPT("task_struct", "worker_private", task_worker_private),
		F_OPT("kthread", "data", kthread_data),
		F_OPT("kthread", "full_name", kthread_full_name),
		F_OPT("worker", "desc", worker_desc),
		F_OPT("worker", "current_work", worker_current_work),
		F_OPT("worker", "pool", worker_pool),
	};
	int err = vmt_resolve_fields(g, req, ARRAY_SIZE(req));

	if (err)
		return err;
	/* The pid types index signal->pids[]; 6.1: PGID 2, SID 3. */
	if (vmt_profile_enum(g->prof, "pid_type", "PIDTYPE_PGID", &o->pidtype_pgid) ||
	    vmt_profile_enum(g->prof, "pid_type", "PIDTYPE_SID", &o->pidtype_sid))
		o->signal_pids = UINT32_MAX;
	return 0;
}

int vmt_task_offsets(struct vmt_guest *g, const struct task_offsets **out)
{
	struct task_offsets *o;
	int err;

	if (g->task_off) {
		*out = g->task_off;
		return 0;
	}
	o = calloc(1, sizeof(*o));
	if (!o)
		return -ENOMEM;
	err = task_offsets_resolve(g, o);
	if (err) {
		free(o);
		return err;
	}
	g->task_off = o;
	*out = o;
	return 0;
}

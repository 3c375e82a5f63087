// SPDX-License-Identifier: LGPL-2.1-or-later
/* task_offsets.c - the task walker's struct layouts, from BTF. */
#include <stdlib.h>
#include <string.h>

#include "linux/task_offsets.h"

/*
 * mm->rss_stat[]: four atomic_long_t (8 bytes each), or since 6.2 four
 * struct percpu_counter whose s64 count sits inside; the field's size says.
 */
static void task_rss_layout(struct vmt_guest *g, struct task_offsets *o)
{
	uint32_t off, size;

	o->mm_rss_stride = 8;
	o->mm_rss_count = 0;
	if (o->mm_rss_stat == UINT32_MAX ||
	    vmt_profile_field2(g->prof, "mm_struct", "rss_stat", &off, &size) || size == 32)
		return;
	if (size % 4 || size / 4 < 16 || size / 4 > 256 ||
	    vmt_profile_field(g->prof, "percpu_counter", "count", &o->mm_rss_count) ||
	    o->mm_rss_count + 8 > size / 4)
		o->mm_rss_stat =
		    UINT32_MAX; /* a layout not known: no RSS rather than a wrong one */
	else
		o->mm_rss_stride = size / 4;
	if (o->mm_rss_stat != UINT32_MAX &&
	    (vmt_profile_field(g->prof, "percpu_counter", "counters", &o->mm_rss_percpu) ||
	     o->mm_rss_percpu + 8 > o->mm_rss_stride))
		o->mm_rss_percpu = UINT32_MAX; /* !SMP: the count is all */
}

static int task_offsets_resolve(struct vmt_guest *g, struct task_offsets *o)
{
	const struct vmt_field_req req[] = {
	    VMT_FIELD("task_struct", "tasks", task_tasks),
	    VMT_FIELD("task_struct", "pid", task_pid),
	    VMT_FIELD("task_struct", "tgid", task_tgid),
	    VMT_FIELD("task_struct", "comm", task_comm),
	    VMT_FIELD("task_struct", "real_parent", task_real_parent),
	    VMT_FIELD("task_struct", "group_leader", task_group_leader),
	    VMT_FIELD("task_struct", "__state", task_state),
	    VMT_FIELD("task_struct", "exit_state", task_exit_state),
	    VMT_FIELD("task_struct", "flags", task_flags),
	    VMT_FIELD("task_struct", "real_cred", task_real_cred),
	    VMT_FIELD("task_struct", "signal", task_signal),
	    VMT_FIELD("task_struct", "thread_node", task_thread_node),
	    VMT_FIELD("task_struct", "mm", task_mm),
	    VMT_FIELD_OPT("task_struct", "start_boottime", task_start_boottime),
	    VMT_FIELD_OPT("task_struct", "utime", task_utime),
	    VMT_FIELD_OPT("task_struct", "stime", task_stime),
	    VMT_FIELD_OPT("task_struct", "prio", task_prio),
	    VMT_FIELD_OPT("task_struct", "static_prio", task_static_prio),
	    VMT_FIELD("cred", "uid", cred_uid),
	    VMT_FIELD("cred", "gid", cred_gid),
	    VMT_FIELD("cred", "euid", cred_euid),
	    VMT_FIELD("cred", "egid", cred_egid),
	    VMT_FIELD("cred", "suid", cred_suid),
	    VMT_FIELD("cred", "sgid", cred_sgid),
	    VMT_FIELD("cred", "fsuid", cred_fsuid),
	    VMT_FIELD("cred", "fsgid", cred_fsgid),
	    {"task_struct", NULL, &o->task_size, true},
	    {"cred", NULL, &o->cred_size, true},
	    VMT_FIELD("signal_struct", "nr_threads", signal_nr_threads),
	    VMT_FIELD("signal_struct", "thread_head", signal_thread_head),
	    VMT_FIELD_OPT("signal_struct", "pids", signal_pids),
	    VMT_FIELD("pid", "numbers", pid_numbers),
	    VMT_FIELD("mm_struct", "pgd", mm_pgd),
	    VMT_FIELD("mm_struct", "arg_start", mm_arg_start),
	    VMT_FIELD("mm_struct", "arg_end", mm_arg_end),
	    VMT_FIELD("mm_struct", "env_start", mm_env_start),
	    VMT_FIELD("mm_struct", "env_end", mm_env_end),
	    VMT_FIELD_OPT("mm_struct", "exe_file", mm_exe_file),
	    VMT_FIELD_OPT("mm_struct", "total_vm", mm_total_vm),
	    VMT_FIELD_OPT("mm_struct", "rss_stat", mm_rss_stat),
	    VMT_FIELD("file", "f_path", file_f_path),
	    VMT_FIELD("path", "mnt", path_mnt),
	    VMT_FIELD("path", "dentry", path_dentry),
	    VMT_FIELD("dentry", "d_parent", dentry_d_parent),
	    VMT_FIELD("dentry", "d_name", dentry_d_name),
	    VMT_FIELD_OPT("dentry", "d_hash.pprev", dentry_d_hash_pprev),
	    VMT_FIELD("qstr", "name", qstr_name),
	    VMT_FIELD("qstr", "len", qstr_len),
	    VMT_FIELD_OPT("mount", "mnt", mount_mnt),
	    VMT_FIELD_OPT("mount", "mnt_parent", mount_mnt_parent),
	    VMT_FIELD_OPT("mount", "mnt_mountpoint", mount_mnt_mountpoint),
	    VMT_FIELD_OPT("vfsmount", "mnt_root", vfsmount_mnt_root),
	    VMT_FIELD_OPT("task_struct", "worker_private", task_worker_private),
	    VMT_FIELD_OPT("kthread", "data", kthread_data),
	    VMT_FIELD_OPT("kthread", "full_name", kthread_full_name),
	    VMT_FIELD_OPT("worker", "desc", worker_desc),
	    VMT_FIELD_OPT("worker", "current_work", worker_current_work),
	    VMT_FIELD_OPT("worker", "pool", worker_pool),
	};
	int err = vmt_resolve_fields(g, req, ARRAY_SIZE(req));

	if (err)
		return err;
	task_rss_layout(g, o);
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
	o = malloc(sizeof(*o));
	if (!o)
		return -ENOMEM;
	VMT_OFFSETS_ABSENT(o);
	err = task_offsets_resolve(g, o);
	if (err) {
		free(o);
		return err;
	}
	g->task_off = o;
	*out = o;
	return 0;
}

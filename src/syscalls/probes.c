// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * probes.c - the process probes answered from the guest: kill(pid, 0) and
 * its relatives, getpriority, getpgid, getsid, the sched_* getters, and the
 * setters that must never reach a host process by a guest pid.
 *
 * A pid exists when /proc/PID answers a lookup in the shadow /proc (the
 * same function fuse.c uses: leaders, threads, unlisted tasks); the values
 * are parsed from the snapshot's own text of /proc/PID/stat and status, so
 * a probe and the file agree by construction.  Per pid, in this order:
 *   0, the calling thread or its thread group   -> the host (CONTINUE)
 *   a guest pid                                 -> the guest's answer; a
 *      real signal or a setter: EPERM, never delivered
 *   a process of the tool's tree on the host    -> the host (CONTINUE)
 *   anything else                               -> ESRCH
 * Process groups (kill(-PGRP), PRIO_PGRP) and users (PRIO_USER) take their
 * members from the snapshot's task list, the list the stat files render.
 */
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <time.h>

#include "core/internal.h"
#include "syscalls/sc_internal.h"

#define MAX_SIG	  64
#define RR_MS_DEF 100 /* RR_TIMESLICE: the kernel's default, when the sysctl is not shown */

/* What a probe needs of one guest pid, parsed from its stat and status. */
struct sc_proc {
	bool fields; /* stat parsed (a pid dir without a readable stat: exists, no values) */
	long pgrp, session, nice, rt_priority, policy, tgid;
	uint64_t cpus[VMT_CPUMASK_WORDS];
	unsigned cpubits; /* width of Cpus_allowed (0: absent) */
};

/* Fields 5, 6, 19, 40, 41 of /proc/PID/stat (after the ")" of comm). */
static bool parse_stat(const char *text, struct sc_proc *p)
{
	const char *s = strrchr(text, ')');
	char *end;
	long v;

	if (!s)
		return false;
	s++;
	for (int field = 3; field <= 41; field++) {
		while (*s == ' ')
			s++;
		if (!*s)
			return false;
		if (field == 3) { /* state: one letter */
			s++;
			continue;
		}
		v = strtol(s, &end, 10);
		if (end == s)
			return false;
		s = end;
		if (field == 5)
			p->pgrp = v;
		else if (field == 6)
			p->session = v;
		else if (field == 19)
			p->nice = v;
		else if (field == 40)
			p->rt_priority = v;
		else if (field == 41)
			p->policy = v;
	}
	return true;
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* "Cpus_allowed:\tffffffff,0000000f": lowest bits last, 32-bit groups. */
static void parse_cpus(const char *status, struct sc_proc *p)
{
	const char *s = strstr(status, "\nCpus_allowed:\t"), *e;
	unsigned bit = 0;

	p->cpubits = 0;
	if (!s)
		return;
	s += strlen("\nCpus_allowed:\t");
	e = strchr(s, '\n');
	if (!e)
		e = s + strlen(s);
	for (const char *q = e; q > s; q--) {
		int v = hexval(q[-1]);

		if (v < 0)
			continue; /* the commas */
		for (int b = 0; b < 4 && bit < VMT_CPUMASK_WORDS * 64; b++, bit++)
			if (v >> b & 1)
				p->cpus[bit / 64] |= 1ull << (bit % 64);
	}
	p->cpubits = bit;
}

/* 0: a guest pid (p->fields says whether its values were read); -ESRCH; -EIO. */
static int proc_get(struct sc_call *c, long pid, struct sc_proc *p)
{
	struct sc_pid_text *t = &c->sv->text;
	const char *tg;
	int err;

	memset(p, 0, sizeof(*p));
	err = sc_pid_text(c, pid, t);
	if (!err) {
		p->fields = parse_stat(t->stat, p);
		parse_cpus(t->status, p);
		tg = strstr(t->status, "\nTgid:\t");
		p->tgid = tg ? strtol(tg + 7, NULL, 10) : pid;
	}
	return err;
}

/* ------------------------------------------------------------ groups and users */

static const struct vmt_task_list *task_list(const struct sc_call *c)
{
	return c->snap ? c->snap->tasks : NULL;
}

/* The best priority (20 - nice, highest) of group g's members; -ESRCH if none. */
static long group_priority(struct sc_call *c, long g, bool by_uid)
{
	const struct vmt_task_list *l = task_list(c);
	long best = -ESRCH;

	if (!l)
		return -EIO;
	for (size_t i = 0; i < l->n; i++) {
		const struct vmt_task *t = &l->tasks[i];

		if (by_uid ? t->uid != (uint32_t)g : t->pgrp != g)
			continue;
		best = VMT_MAX(best, 20 - (long)t->nice);
	}
	return best;
}

/* ------------------------------------------------------------ the order of answers */

enum who { WHO_HOST, WHO_GUEST, WHO_NONE };

/*
 * Whose pid this is (pid > 0); p filled for a guest pid.  act: the call
 * does something to the process (a real signal, a setter), else it only
 * asks about it.  Outside the guest, a question is passed on only for the
 * caller's own threads, which the shadow /proc answers too; any other
 * process of the tool's tree is not in /proc, so a probe must not find it
 * either (chkproc and unhide would call it hidden).  An act reaches the
 * whole tree (job control: `sleep 5 & kill $!`).
 */
static enum who whose(struct sc_call *c, long pid, bool act, struct sc_proc *p, int *err)
{
	*err = 0;
	if (sc_host_is_caller(c, pid))
		return WHO_HOST;
	*err = proc_get(c, pid, p);
	if (!*err)
		return WHO_GUEST;
	if (*err != -ESRCH)
		return WHO_NONE; /* the guest is gone (-EIO): answered with that */
	*err = 0;
	if (sc_host_caller_thread(c, pid))
		return WHO_HOST;
	return act && sc_host_in_tree(c, pid) ? WHO_HOST : WHO_NONE;
}

/* A signal probe or delivery to pid (> 0); tgid >= 0: it must belong to that group. */
static long signal_one(struct sc_call *c, long pid, long tgid, int sig)
{
	struct sc_proc p;
	int err;

	if (sig < 0 || sig > MAX_SIG)
		return -EINVAL;
	switch (whose(c, pid, sig != 0, &p, &err)) {
	case WHO_HOST:
		return SC_CONTINUE;
	case WHO_GUEST:
		if (tgid >= 0 && p.tgid != tgid)
			return -ESRCH;
		return sig ? -EPERM : 0; /* never delivered */
	default:
		return err ? err : -ESRCH;
	}
}

/* kill(-g, sig), kill(-1, sig). */
static long signal_group(struct sc_call *c, long g, int sig)
{
	long r;

	if (sig < 0 || sig > MAX_SIG)
		return -EINVAL;
	if (g == 1 && c->snap) /* -1: every process the caller may signal: the guest's */
		return sig ? -EPERM : 0;
	r = group_priority(c, g, false);
	if (r >= 0)
		return sig ? -EPERM : 0;
	if (r != -ESRCH)
		return r;
	if (g == sc_host_caller_pgrp(c) || (sig && sc_host_in_tree(c, g)))
		return SC_CONTINUE;
	return -ESRCH;
}

static long do_kill(struct sc_call *c, long pid, int sig)
{
	if (pid == 0)
		return SC_CONTINUE; /* the caller's own process group */
	if (pid == INT32_MIN)
		return -ESRCH;
	if (pid < 0)
		return signal_group(c, -pid, sig);
	return signal_one(c, pid, -1, sig);
}

/* ------------------------------------------------------------ priorities */

/*
 * getpriority/setpriority (io false) and ioprio_get/ioprio_set (io true,
 * which mapped onto PRIO_*): one order of answers.  The guest's I/O
 * priority is not in the snapshot: 0 (IOPRIO_CLASS_NONE, what a task that
 * never called ioprio_set has), see README.
 */
static long do_priority(struct sc_call *c, int which, long who, bool set, bool io)
{
	struct sc_proc p;
	long r;
	int err;

	if (which == PRIO_PROCESS) {
		if (who == 0)
			return SC_CONTINUE;
		switch (whose(c, who, set, &p, &err)) {
		case WHO_HOST:
			return SC_CONTINUE;
		case WHO_GUEST:
			if (set)
				return -EPERM;
			if (io)
				return 0;
			return p.fields ? 20 - p.nice : -EIO; /* the kernel's encoding */
		default:
			return err ? err : -ESRCH;
		}
	}
	if (which != PRIO_PGRP && which != PRIO_USER)
		return -EINVAL;
	if (which == PRIO_PGRP && who == 0)
		return SC_CONTINUE;
	if (which == PRIO_USER && who == 0) /* the caller's real uid */
		who = sc_host_caller_uid(c);
	r = who < 0 ? -ESRCH : group_priority(c, who, which == PRIO_USER);
	if (r >= 0)
		return set ? -EPERM : io ? 0 : r;
	if (r != -ESRCH)
		return r;
	/* A user's processes on the host are never the tool's to read or renice. */
	if (which == PRIO_PGRP &&
	    (who == sc_host_caller_pgrp(c) || (set && sc_host_in_tree(c, who))))
		return SC_CONTINUE;
	return -ESRCH;
}

/* ------------------------------------------------------------ pid getters, sched */

enum getter { GET_PGID, GET_SID, GET_SCHED, GET_PARAM, GET_AFFINITY, GET_RR, SET_ANY };

static long sched_affinity(struct sc_call *c, const struct sc_proc *p, uint64_t len, uint64_t addr)
{
	unsigned bits = c->snap && c->snap->si.nr_cpus ? c->snap->si.nr_cpus : p->cpubits;
	uint64_t size = ((uint64_t)bits + 63) / 64 * 8; /* cpumask_size() */
	uint64_t out = VMT_MIN((uint32_t)len, size);
	int err;

	if (!p->cpubits)
		return -EIO;
	if ((uint32_t)len * 8u < bits) /* the kernel's len is an unsigned int */
		return -EINVAL;	       /* smaller than the guest's nr_cpu_ids */
	if (out > sizeof(p->cpus))
		out = sizeof(p->cpus);
	err = c->mem.write(&c->mem, addr, p->cpus, (size_t)out);
	return err == -ESRCH ? -ESRCH : err ? -EFAULT : (long)out;
}

/* sched_rr_get_interval: the guest's RR slice; 0 for FIFO and, see README, the rest. */
static long sched_rr(struct sc_call *c, const struct sc_proc *p, uint64_t addr)
{
	struct timespec ts = {0, 0};
	char buf[32];
	long ms = RR_MS_DEF;
	int err;

	if (p->policy == SCHED_RR) {
		if (!sc_sys_text(c, "sys/kernel/sched_rr_timeslice_ms", buf, sizeof(buf)))
			ms = strtol(buf, NULL, 10);
		ts.tv_sec = ms / 1000;
		ts.tv_nsec = ms % 1000 * 1000000;
	}
	err = c->mem.write(&c->mem, addr, &ts, sizeof(ts));
	return err == -ESRCH ? -ESRCH : err ? -EFAULT : 0;
}

static long getter_value(struct sc_call *c, enum getter g, const struct sc_proc *p)
{
	const __u64 *a = c->n->data.args;
	int param, err;

	if (g == SET_ANY)
		return -EPERM; /* a setter on a guest pid: never reaches the host */
	if (!p->fields)
		return -EIO;
	switch (g) {
	case GET_PGID:
		return p->pgrp;
	case GET_SID:
		return p->session;
	case GET_SCHED:
		return p->policy;
	case GET_PARAM:
		param = (int)p->rt_priority;
		err = c->mem.write(&c->mem, a[1], &param, sizeof(param));
		return err == -ESRCH ? -ESRCH : err ? -EFAULT : 0;
	case GET_AFFINITY:
		return sched_affinity(c, p, a[1], a[2]);
	case GET_RR:
		return sched_rr(c, p, a[1]);
	default:
		return -EPERM;
	}
}

static long do_getter(struct sc_call *c, enum getter g, long pid)
{
	struct sc_proc p;
	int err;

	if (pid == 0)
		return SC_CONTINUE;
	if (pid < 0)
		return g == GET_PGID || g == GET_SID || g == GET_AFFINITY ? -ESRCH : -EINVAL;
	switch (whose(c, pid, g == SET_ANY, &p, &err)) {
	case WHO_HOST:
		return SC_CONTINUE;
	case WHO_GUEST:
		return getter_value(c, g, &p);
	default:
		return err ? err : -ESRCH;
	}
}

/* struct sched_attr of Linux 6.1 (uapi linux/sched/types.h), 56 bytes. */
struct sc_sched_attr {
	uint32_t size, sched_policy;
	uint64_t sched_flags;
	int32_t sched_nice;
	uint32_t sched_priority;
	uint64_t sched_runtime, sched_deadline, sched_period;
	uint32_t sched_util_min, sched_util_max;
};

#define SCHED_ATTR_SIZE_VER0 48

/*
 * sched_getattr from stat's policy, nice and rt_priority, as get_params():
 * RT classes show the priority, the others nice.  Not in the snapshot:
 * SCHED_FLAG_RESET_ON_FORK, a deadline task's runtime/deadline/period and
 * the utilisation clamps (0, as a kernel without CONFIG_UCLAMP_TASK).
 */
static long sched_getattr_value(struct sc_call *c, const struct sc_proc *p, uint64_t addr,
				uint32_t usize)
{
	struct sc_sched_attr a = {0};
	int err;

	if (!p->fields)
		return -EIO;
	a.size = VMT_MIN(usize, (uint32_t)sizeof(a));
	a.sched_policy = (uint32_t)p->policy;
	if (p->policy == SCHED_FIFO || p->policy == SCHED_RR)
		a.sched_priority = (uint32_t)p->rt_priority;
	else if (p->policy != 6 /* SCHED_DEADLINE */)
		a.sched_nice = (int32_t)p->nice;
	err = c->mem.write(&c->mem, addr, &a, a.size);
	return err == -ESRCH ? -ESRCH : err ? -EFAULT : 0;
}

static long do_sched_getattr(struct sc_call *c, long pid, uint64_t addr, uint64_t usize,
			     uint64_t flags)
{
	struct sc_proc p;
	int err;

	if (!addr || pid < 0 || (uint32_t)usize > 4096 || (uint32_t)usize < SCHED_ATTR_SIZE_VER0 ||
	    (uint32_t)flags)
		return -EINVAL;
	if (pid == 0)
		return SC_CONTINUE;
	switch (whose(c, pid, false, &p, &err)) {
	case WHO_HOST:
		return SC_CONTINUE;
	case WHO_GUEST:
		return sched_getattr_value(c, &p, addr, (uint32_t)usize);
	default:
		return err ? err : -ESRCH;
	}
}

/*
 * prlimit64 on another process (the filter lets pid 0 through): a guest
 * pid's limits are not in the snapshot, so reading or setting them is
 * refused (EPERM, what a process without the right to see them gets).
 */
static long do_prlimit(struct sc_call *c, long pid, bool set)
{
	struct sc_proc p;
	int err;

	if (pid < 0)
		return -ESRCH;
	if (pid == 0)
		return SC_CONTINUE;
	switch (whose(c, pid, set, &p, &err)) {
	case WHO_HOST:
		return SC_CONTINUE;
	case WHO_GUEST:
		return -EPERM;
	default:
		return err ? err : -ESRCH;
	}
}

/*
 * pidfd_open: a guest process has no host pidfd.  ENOSYS (a kernel without
 * pidfds) makes tools fall back to kill(2), which is answered; a process
 * of the tool's tree gets its real pidfd; any other pid ESRCH, so no pidfd
 * of a host process outside the tool's tree is ever handed out (it could
 * be signalled with pidfd_send_signal).
 */
static long do_pidfd_open(struct sc_call *c, long pid)
{
	struct sc_proc p;
	int err;

	if (pid <= 0)
		return -EINVAL;
	switch (whose(c, pid, true, &p, &err)) {
	case WHO_HOST:
		return SC_CONTINUE;
	case WHO_GUEST:
		return -ENOSYS;
	default:
		return err ? err : -ESRCH;
	}
}

/* ioprio's IOPRIO_WHO_PROCESS/PGRP/USER (1..3) as PRIO_PROCESS/PGRP/USER; -1: invalid. */
static int ioprio_which(long which)
{
	return which >= 1 && which <= 3 ? (int)which - 1 : -1;
}

/* The kernel's argument checks that come before it looks the pid up. */
static long sched_args(const __u64 *a, long nr)
{
	if ((nr == SYS_sched_getaffinity || nr == SYS_sched_setaffinity) &&
	    (a[1] & (sizeof(long) - 1)))
		return -EINVAL;
	if ((nr == SYS_sched_getparam || nr == SYS_sched_setparam) && !a[1])
		return -EINVAL;
	return 0;
}

/* The calls that name one pid and read (or refuse to set) what it is. */
static long pid_call(struct sc_call *c, long nr, long pid)
{
	switch (nr) {
	case SYS_getpgid:
		return do_getter(c, GET_PGID, pid);
	case SYS_getsid:
		return do_getter(c, GET_SID, pid);
	case SYS_sched_getscheduler:
		return do_getter(c, GET_SCHED, pid);
	case SYS_sched_getparam:
		return do_getter(c, GET_PARAM, pid);
	case SYS_sched_getaffinity:
		return do_getter(c, GET_AFFINITY, pid);
	case SYS_sched_rr_get_interval:
		return do_getter(c, GET_RR, pid);
	case SYS_sched_setaffinity:
	case SYS_sched_setparam:
	case SYS_sched_setscheduler:
	case SYS_sched_setattr:
		return do_getter(c, SET_ANY, pid);
	case SYS_prlimit64:
		return do_prlimit(c, pid, c->n->data.args[2] != 0); /* new limits given */
	case SYS_pidfd_open:
		return do_pidfd_open(c, pid);
	}
	return -ENOSYS;
}

long sc_probe_call(struct sc_call *c)
{
	const __u64 *a = c->n->data.args;
	long nr = c->n->data.nr, pid = (int32_t)a[0], err = sched_args(a, nr);

	if (err)
		return err;
	switch (nr) {
	case SYS_kill:
		return do_kill(c, pid, (int)a[1]);
	case SYS_rt_sigqueueinfo:
		return pid > 0			   ? signal_one(c, pid, -1, (int)a[1])
		       : sc_host_is_caller(c, pid) ? SC_CONTINUE
						   : -ESRCH;
	case SYS_tkill:
		return pid > 0 ? signal_one(c, pid, -1, (int)a[1]) : -EINVAL;
	case SYS_tgkill:
	case SYS_rt_tgsigqueueinfo:
		if (pid <= 0 || (int32_t)a[1] <= 0)
			return -EINVAL;
		return signal_one(c, (int32_t)a[1], pid, (int)a[2]);
	case SYS_getpriority:
	case SYS_setpriority:
		return do_priority(c, (int)a[0], (int32_t)a[1], nr == SYS_setpriority, false);
	case SYS_ioprio_get:
	case SYS_ioprio_set:
		if (ioprio_which((int)a[0]) < 0)
			return -EINVAL;
		return do_priority(c, ioprio_which((int)a[0]), (int32_t)a[1], nr == SYS_ioprio_set,
				   true);
	case SYS_sched_getattr:
		return do_sched_getattr(c, pid, a[1], a[2], a[3]);
	}
	return pid_call(c, nr, pid);
}

// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * test_syscalls.c - the system-call supervisor with the real kernel: a
 * child installs the real filter and makes real calls, the real supervisor
 * answers them from a snapshot built here by hand (/proc/N/stat, status,
 * the system files), and the answers are compared with that tree.
 *
 * The guest's pids include this test process's own pid (the child's
 * parent on the host): a real signal to it must be refused with EPERM and
 * never arrive.  Skips (77) where seccomp user notification is missing.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/netlink.h>
#include <sched.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/sysinfo.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "procfs/fuse.h"
#include "procfs/snapshot.h"
#include "syscalls/supervisor.h"

#define NOPID 4194000 /* no guest pid, and none of the test's processes */

/* One guest process: the fields the probes answer from. */
struct fake_proc {
	int pid, tgid, pgrp, sid, nice, rt, policy;
	const char *cpus;
};

static struct fake_proc procs[] = {
    {1, 1, 1, 1, 0, 0, 0, "3"},
    {100, 100, 90, 80, 5, 10, 2, "2"},	/* SCHED_RR, nice 5 */
    {101, 100, 90, 80, -3, 20, 1, "1"}, /* a thread of 100: SCHED_FIFO */
    {0 /* the test's own pid */, 0, 7, 7, 0, 0, 0, "3"},
};

static volatile sig_atomic_t usr1_seen;

static void on_usr1(int sig)
{
	(void)sig;
	usr1_seen++;
}

/* ------------------------------------------------------------ the snapshot */

static void add_text(struct pfs_tree *t, struct pfs_node *dir, const char *name, const char *fmt,
		     ...)
{
	char buf[1024];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	assert_int_equal(pfs_file(t, dir, name, 0444, buf, (size_t)n), 0);
}

static void add_proc(struct pfs_tree *t, struct pfs_node *dir, const struct fake_proc *p)
{
	char stat[1024];
	size_t used;

	/* 52 fields: pid (comm) state ppid pgrp session ..., nice 19, rt_priority 40, policy 41 */
	used = (size_t)snprintf(stat, sizeof(stat), "%d (fake one) S 1 %d %d", p->pid, p->pgrp,
				p->sid);
	for (int f = 7; f <= 52; f++)
		used += (size_t)snprintf(stat + used, sizeof(stat) - used, " %d",
					 f == 19   ? p->nice
					 : f == 40 ? p->rt
					 : f == 41 ? p->policy
						   : 0);
	add_text(t, dir, "stat", "%s\n", stat);
	add_text(t, dir, "status",
		 "Name:\tfake\nTgid:\t%d\nPid:\t%d\nCpus_allowed:\t%s\n"
		 "Cpus_allowed_list:\t0\n",
		 p->tgid, p->pid, p->cpus);
}

static struct pfs_snapshot *snap_build(void)
{
	struct pfs_snapshot *s = calloc(1, sizeof(*s));
	struct pfs_node *d, *task, *th, *sys, *k;
	struct pfs_tree *t;
	char name[16];

	assert_non_null(s);
	procs[3].pid = procs[3].tgid = getpid();
	s->tree = t = pfs_tree_new();
	s->procdir = t->root;
	s->tasks = calloc(1, sizeof(*s->tasks));
	s->tasks->tasks = calloc(4, sizeof(struct vmt_task));
	for (size_t i = 0; i < 4; i++) {
		struct vmt_task *vt = &s->tasks->tasks[s->tasks->n++];

		vt->pid = procs[i].pid;
		vt->tgid = procs[i].tgid;
		vt->pgrp = procs[i].pgrp;
		vt->nice = procs[i].nice;
		vt->flags = procs[i].pid != procs[i].tgid ? VMT_F_THREAD : 0;
		if (vt->flags & VMT_F_THREAD)
			continue;
		snprintf(name, sizeof(name), "%d", procs[i].pid);
		d = pfs_dir_new(t, t->root, name, 0555, 0, 0);
		add_proc(t, d, &procs[i]);
		if (procs[i].pid == 100) {
			task = pfs_dir_new(t, d, "task", 0555, 0, 0);
			add_proc(t, pfs_dir_new(t, task, "100", 0555, 0, 0), &procs[1]);
			th = pfs_dir_new(t, task, "101", 0555, 0, 0);
			add_proc(t, th, &procs[2]);
		}
	}
	sys = pfs_dir(t, t->root, "sys", 0555, 0, 0);
	k = pfs_dir(t, sys, "kernel", 0555, 0, 0);
	add_text(t, k, "ostype", "Linux\n");
	add_text(t, k, "hostname", "guest-host\n");
	add_text(t, k, "osrelease", "6.1.0-fake\n");
	add_text(t, k, "version", "#1 SMP fake\n");
	add_text(t, k, "domainname", "(none)\n");
	add_text(t, k, "sched_rr_timeslice_ms", "50\n");
	add_text(t, t->root, "uptime", "1234.56 2000.00\n");
	add_text(t, t->root, "loadavg", "0.50 1.25 2.00 3/77 999\n");
	add_text(t, t->root, "meminfo",
		 "MemTotal:         481296 kB\nMemFree:          447108 kB\n"
		 "Buffers:            1000 kB\nShmem:               200 kB\n"
		 "SwapTotal:         10000 kB\nSwapFree:           9000 kB\n");
	snprintf(s->si.machine, sizeof(s->si.machine), "x86_64");
	s->si.nr_cpus = 2;
	pfs_seal(t);
	return s;
}

static void snap_free(struct pfs_snapshot *s)
{
	pfs_tree_free(s->tree);
	free(s->tasks->tasks);
	free(s->tasks);
	free(s);
}

static const struct pfs_snapshot *src_get(void *arg)
{
	return arg;
}

static void src_put(void *arg, const struct pfs_snapshot *snap)
{
	(void)arg;
	(void)snap;
}

/* ------------------------------------------------------------ the child */

/* Answers the child sends back, in this order. */
enum {
	R_KILL1,
	R_KILL100,
	R_KILL101,
	R_KILLNO,
	R_KILLTERM,
	R_KILLPARENT,
	R_KILLSELF,
	R_KILLGROUP,
	R_PRIO100,
	R_PRIO101,
	R_SETPRIO100,
	R_PGID100,
	R_SID100,
	R_PGID0,
	R_SCHED100,
	R_SCHED101,
	R_PARAM100,
	R_RR100,
	R_RR101,
	R_RR1,
	R_AFF100,
	R_AFF100_SMALL,
	R_AFF1_MASK,
	R_UNAME,
	R_SYSINFO,
	R_EFAULT_UNAME,
	R_EFAULT_PARAM,
	R_SOCKDIAG,
	R_TGKILL_WRONG,
	R_TGKILL_OK,
	R_SELFSIG,
	R_ROUTE,
	R_UNIXSOCK,
	R_X32,
	R_PRIO_USER0,
	R_PRIO_USERX,
	R_PRIO_PGRP90,
	R_GETATTR100,
	R_GETATTR1,
	R_GETATTR_SMALL,
	R_PRLIMIT100,
	R_PRLIMIT0,
	R_IOPRIO100,
	R_IOPRIO_SET100,
	R_PIDFD100,
	R_PIDFDNO,
	R_PIDFDSELF,
	R_KID_PROBE,
	R_KID_PGID,
	R_KID_KILL,
	R_KID_KILLED,
	R_N
};

/* struct sched_attr (56 bytes) */
struct attr {
	uint32_t size, policy;
	uint64_t flags;
	int32_t nice;
	uint32_t prio;
	uint64_t runtime, deadline, period;
	uint32_t umin, umax;
};

struct child_out {
	long r[R_N];
	struct attr a100, a1;
	struct utsname u;
	struct sysinfo si;
	unsigned char mask[16];
	long self_pgid;
};

static long raw(long r)
{
	return r < 0 ? -errno : r;
}

static volatile sig_atomic_t usr2_seen;

static void on_usr2(int sig)
{
	(void)sig;
	usr2_seen = 1;
}

static void child_calls(struct child_out *o)
{
	pid_t parent = getppid();
	struct sched_param sp = {0};
	struct timespec ts;
	long *r = o->r;

	r[R_KILL1] = raw(syscall(SYS_kill, 1, 0));
	r[R_KILL100] = raw(syscall(SYS_kill, 100, 0));
	r[R_KILL101] = raw(syscall(SYS_kill, 101, 0));
	r[R_KILLNO] = raw(syscall(SYS_kill, NOPID, 0));
	r[R_KILLTERM] = raw(syscall(SYS_kill, 100, SIGTERM));
	r[R_KILLPARENT] = raw(syscall(SYS_kill, parent, SIGUSR1)); /* a guest pid too */
	r[R_KILLSELF] = raw(syscall(SYS_kill, getpid(), 0));
	r[R_KILLGROUP] = raw(syscall(SYS_kill, -90, 0));
	r[R_PRIO100] = raw(syscall(SYS_getpriority, PRIO_PROCESS, 100));
	r[R_PRIO101] = raw(syscall(SYS_getpriority, PRIO_PROCESS, 101));
	r[R_SETPRIO100] = raw(syscall(SYS_setpriority, PRIO_PROCESS, 100, 10));
	r[R_PGID100] = raw(syscall(SYS_getpgid, 100));
	r[R_SID100] = raw(syscall(SYS_getsid, 100));
	r[R_PGID0] = raw(syscall(SYS_getpgid, 0));
	o->self_pgid = getpgrp();
	r[R_SCHED100] = raw(syscall(SYS_sched_getscheduler, 100));
	r[R_SCHED101] = raw(syscall(SYS_sched_getscheduler, 101));
	r[R_PARAM100] = raw(syscall(SYS_sched_getparam, 100, &sp));
	if (!r[R_PARAM100])
		r[R_PARAM100] = sp.sched_priority;
	ts = (struct timespec){9, 9};
	r[R_RR100] = raw(syscall(SYS_sched_rr_get_interval, 100, &ts));
	if (!r[R_RR100])
		r[R_RR100] = ts.tv_sec * 1000000000l + ts.tv_nsec;
	ts = (struct timespec){9, 9};
	r[R_RR101] = raw(syscall(SYS_sched_rr_get_interval, 101, &ts));
	if (!r[R_RR101])
		r[R_RR101] = ts.tv_sec * 1000000000l + ts.tv_nsec;
	ts = (struct timespec){9, 9};
	r[R_RR1] = raw(syscall(SYS_sched_rr_get_interval, 1, &ts));
	if (!r[R_RR1])
		r[R_RR1] = ts.tv_sec * 1000000000l + ts.tv_nsec;
	memset(o->mask, 0xee, sizeof(o->mask));
	r[R_AFF100] = raw(syscall(SYS_sched_getaffinity, 100, sizeof(o->mask), o->mask));
	r[R_AFF100_SMALL] = raw(syscall(SYS_sched_getaffinity, 100, 4, o->mask + 8));
	{
		unsigned char m1[8] = {0};

		r[R_AFF1_MASK] = raw(syscall(SYS_sched_getaffinity, 1, sizeof(m1), m1));
		if (r[R_AFF1_MASK] >= 0)
			r[R_AFF1_MASK] = m1[0];
	}
	r[R_UNAME] = raw(syscall(SYS_uname, &o->u));
	r[R_SYSINFO] = raw(syscall(SYS_sysinfo, &o->si));
	r[R_EFAULT_UNAME] = raw(syscall(SYS_uname, (void *)8));
	r[R_EFAULT_PARAM] = raw(syscall(SYS_sched_getparam, 100, (void *)8));
	r[R_SOCKDIAG] = raw(socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_SOCK_DIAG));
	r[R_ROUTE] = raw(socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE));
	r[R_UNIXSOCK] = raw(socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
	r[R_X32] = raw(syscall(0x40000000 | SYS_getpid)); /* an x32 call: refused */
	r[R_PRIO_USER0] = raw(syscall(SYS_getpriority, PRIO_USER, 0));
	r[R_PRIO_USERX] = raw(syscall(SYS_getpriority, PRIO_USER, 4242));
	r[R_PRIO_PGRP90] = raw(syscall(SYS_getpriority, PRIO_PGRP, 90));
	memset(&o->a100, 0xee, sizeof(o->a100));
	r[R_GETATTR100] = raw(syscall(SYS_sched_getattr, 100, &o->a100, sizeof(o->a100), 0));
	r[R_GETATTR1] = raw(syscall(SYS_sched_getattr, 1, &o->a1, 48, 0));
	r[R_GETATTR_SMALL] = raw(syscall(SYS_sched_getattr, 100, &o->a1, 40, 0));
	{
		struct rlimit rl;

		r[R_PRLIMIT100] = raw(syscall(SYS_prlimit64, 100, RLIMIT_NOFILE, NULL, &rl));
		r[R_PRLIMIT0] = raw(syscall(SYS_prlimit64, 0, RLIMIT_NOFILE, NULL, &rl));
	}
	r[R_IOPRIO100] = raw(syscall(SYS_ioprio_get, 1 /* IOPRIO_WHO_PROCESS */, 100));
	r[R_IOPRIO_SET100] = raw(syscall(SYS_ioprio_set, 1, 100, 0));
	r[R_PIDFD100] = raw(syscall(SYS_pidfd_open, 100, 0));
	r[R_PIDFDNO] = raw(syscall(SYS_pidfd_open, NOPID, 0));
	r[R_PIDFDSELF] = raw(syscall(SYS_pidfd_open, getpid(), 0));
	{
		/* A process of the tool's own, not the caller: not in /proc, so not to probes. */
		pid_t kid = fork();
		int st = 0;

		if (kid == 0) {
			pause();
			_exit(0);
		}
		r[R_KID_PROBE] = raw(syscall(SYS_kill, kid, 0));
		r[R_KID_PGID] = raw(syscall(SYS_getpgid, kid));
		r[R_KID_KILL] = raw(syscall(SYS_kill, kid, SIGKILL)); /* but job control works */
		waitpid(kid, &st, 0);
		r[R_KID_KILLED] = WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL;
	}
	r[R_TGKILL_WRONG] = raw(syscall(SYS_tgkill, 1, 101, 0));
	r[R_TGKILL_OK] = raw(syscall(SYS_tgkill, 100, 101, 0));
	signal(SIGUSR2, on_usr2);
	r[R_SELFSIG] = raw(syscall(SYS_kill, getpid(), SIGUSR2));
	r[R_SELFSIG] = r[R_SELFSIG] ? r[R_SELFSIG] : usr2_seen ? 1 : 0;
}

/* Fork a child under the filter; its answers through a pipe.  0, or 77: no seccomp notify. */
static int run_child(struct pfs_snapshot *snap, struct child_out *out)
{
	int sp[2], pp[2], status, fd, hostproc = open("/proc", O_PATH | O_DIRECTORY);
	struct sc_opts o = {
	    .sz = sizeof(o), .hostproc = hostproc, .tree_root = getpid(), .cpu = -1};
	struct sc_supervisor *sv;
	struct sc_stats st;
	pid_t pid;

	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sp), 0);
	assert_int_equal(pipe(pp), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct child_out co;

		memset(&co, 0, sizeof(co));
		fd = sc_filter_install();
		if (fd < 0 || sc_fd_send(sp[1], fd))
			_exit(77);
		child_calls(&co);
		if (write(pp[1], &co, sizeof(co)) != sizeof(co))
			_exit(1);
		_exit(0);
	}
	close(sp[1]);
	close(pp[1]);
	fd = sc_fd_recv(sp[0]);
	if (fd < 0) {
		waitpid(pid, &status, 0);
		return 77;
	}
	o.src = (struct sc_source){.get = src_get, .put = src_put, .arg = snap};
	sv = sc_supervisor_start(&o, fd);
	assert_non_null(sv);
	assert_int_equal(read(pp[0], out, sizeof(*out)), sizeof(*out));
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	sc_supervisor_stop(sv, &st);
	assert_true(st.calls >= 20); /* the trapped ones among them */
	close(sp[0]);
	close(pp[0]);
	close(hostproc);
	return 0;
}

/* ------------------------------------------------------------ tests */

static void test_probes(void **state)
{
	struct pfs_snapshot *snap = snap_build();
	struct child_out o;
	const long *r = o.r;

	(void)state;
	signal(SIGUSR1, on_usr1);
	if (run_child(snap, &o) == 77) {
		snap_free(snap);
		skip();
	}
	assert_int_equal(r[R_KILL1], 0);
	assert_int_equal(r[R_KILL100], 0);
	assert_int_equal(r[R_KILL101], 0); /* a thread: /proc/101 answers a lookup */
	assert_int_equal(r[R_KILLNO], -ESRCH);
	assert_int_equal(r[R_KILLTERM], -EPERM);
	assert_int_equal(r[R_KILLPARENT], -EPERM); /* the guest's pid wins: never delivered */
	assert_int_equal(usr1_seen, 0);
	assert_int_equal(r[R_KILLSELF], 0);
	assert_int_equal(r[R_SELFSIG], 1); /* the caller's own pid: delivered by the host */
	assert_int_equal(r[R_KILLGROUP], 0);
	assert_int_equal(r[R_PRIO100], 20 - 5); /* the kernel's encoding of nice 5 */
	assert_int_equal(r[R_PRIO101], 20 + 3);
	assert_int_equal(r[R_SETPRIO100], -EPERM);
	assert_int_equal(r[R_PGID100], 90);
	assert_int_equal(r[R_SID100], 80);
	assert_int_equal(r[R_PGID0], o.self_pgid); /* pid 0: the host's answer */
	assert_int_equal(r[R_SCHED100], 2);
	assert_int_equal(r[R_SCHED101], 1);
	assert_int_equal(r[R_PARAM100], 10);
	assert_int_equal(r[R_RR100], 50 * 1000000l); /* sched_rr_timeslice_ms */
	assert_int_equal(r[R_RR101], 0);	     /* FIFO */
	assert_int_equal(r[R_RR1], 0);		     /* SCHED_OTHER: see README */
	assert_int_equal(r[R_AFF100], 8);	     /* cpumask_size() of 2 CPUs */
	assert_int_equal(o.mask[0], 2);
	for (int i = 1; i < 8; i++)
		assert_int_equal(o.mask[i], 0);
	assert_int_equal(o.mask[8], 0xee); /* nothing past the size written */
	assert_int_equal(r[R_AFF100_SMALL], -EINVAL);
	assert_int_equal(r[R_AFF1_MASK], 3);
	assert_int_equal(r[R_UNAME], 0);
	assert_string_equal(o.u.sysname, "Linux");
	assert_string_equal(o.u.nodename, "guest-host");
	assert_string_equal(o.u.release, "6.1.0-fake");
	assert_string_equal(o.u.version, "#1 SMP fake");
	assert_string_equal(o.u.machine, "x86_64");
	assert_string_equal(o.u.domainname, "(none)");
	assert_int_equal(r[R_SYSINFO], 0);
	assert_int_equal(o.si.uptime, 1234);
	assert_int_equal(o.si.loads[0], 65536 / 2);
	assert_int_equal(o.si.loads[1], 65536 + 65536 / 4);
	assert_int_equal(o.si.loads[2], 2 * 65536);
	assert_int_equal(o.si.totalram, 481296ul * 1024);
	assert_int_equal(o.si.freeram, 447108ul * 1024);
	assert_int_equal(o.si.bufferram, 1000ul * 1024);
	assert_int_equal(o.si.sharedram, 200ul * 1024);
	assert_int_equal(o.si.totalswap, 10000ul * 1024);
	assert_int_equal(o.si.freeswap, 9000ul * 1024);
	assert_int_equal(o.si.procs, 77);
	assert_int_equal(o.si.mem_unit, 1);
	assert_int_equal(r[R_EFAULT_UNAME], -EFAULT);
	assert_int_equal(r[R_EFAULT_PARAM], -EFAULT);
	assert_int_equal(r[R_SOCKDIAG], -EPROTONOSUPPORT);
	assert_int_equal(r[R_ROUTE], -EPROTONOSUPPORT);
	assert_true(r[R_UNIXSOCK] >= 0); /* other sockets are untouched */
	assert_int_equal(r[R_X32], -ENOSYS);
	/* Groups and users: the best of their guest tasks (every fake task has uid 0). */
	assert_int_equal(r[R_PRIO_USER0], getuid() == 0 ? 20 + 3 : -ESRCH);
	assert_int_equal(r[R_PRIO_USERX], -ESRCH);
	assert_int_equal(r[R_PRIO_PGRP90], 20 + 3);
	assert_int_equal(r[R_GETATTR100], 0);
	assert_int_equal(o.a100.size, 56);
	assert_int_equal(o.a100.policy, 2); /* SCHED_RR: the priority, not nice */
	assert_int_equal(o.a100.prio, 10);
	assert_int_equal(o.a100.nice, 0);
	assert_int_equal(r[R_GETATTR1], 0);
	assert_int_equal(o.a1.size, 48); /* as much as the caller said it has */
	assert_int_equal(o.a1.policy, 0);
	assert_int_equal(r[R_GETATTR_SMALL], -EINVAL);
	assert_int_equal(r[R_PRLIMIT100], -EPERM); /* a guest pid's limits are not known */
	assert_int_equal(r[R_PRLIMIT0], 0);	   /* the caller's own: not even trapped */
	assert_int_equal(r[R_IOPRIO100], 0);
	assert_int_equal(r[R_IOPRIO_SET100], -EPERM);
	assert_int_equal(r[R_PIDFD100], -ENOSYS); /* no host pidfd for a guest process */
	assert_int_equal(r[R_PIDFDNO], -ESRCH);
	assert_true(r[R_PIDFDSELF] >= 0);
	assert_int_equal(r[R_KID_PROBE], -ESRCH);
	assert_int_equal(r[R_KID_PGID], -ESRCH);
	assert_int_equal(r[R_KID_KILL], 0);
	assert_int_equal(r[R_KID_KILLED], 1);
	assert_int_equal(r[R_TGKILL_WRONG], -ESRCH);
	assert_int_equal(r[R_TGKILL_OK], 0);
	snap_free(snap);
}

/* The guest gone (no snapshot): answered at once with EIO, nothing waits. */
static const struct pfs_snapshot *src_none(void *arg)
{
	(void)arg;
	return NULL;
}

static void test_guest_gone(void **state)
{
	int sp[2], status, fd, hostproc = open("/proc", O_PATH | O_DIRECTORY);
	struct sc_opts o = {.sz = sizeof(o),
			    .hostproc = hostproc,
			    .tree_root = getpid(),
			    .cpu = -1,
			    .src = {.get = src_none, .put = src_put}};
	struct sc_supervisor *sv;
	pid_t pid;

	(void)state;
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sp), 0);
	pid = fork();
	if (pid == 0) {
		struct utsname u;

		fd = sc_filter_install();
		if (fd < 0 || sc_fd_send(sp[1], fd))
			_exit(77);
		_exit(syscall(SYS_kill, 1, 0) == -1 && errno == EIO &&
			      syscall(SYS_uname, &u) == -1 && errno == EIO &&
			      syscall(SYS_getpgid, 0) == getpgrp()
			  ? 0
			  : 1);
	}
	close(sp[1]);
	fd = sc_fd_recv(sp[0]);
	if (fd < 0) {
		waitpid(pid, &status, 0);
		skip();
	}
	sv = sc_supervisor_start(&o, fd);
	assert_non_null(sv);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	sc_supervisor_stop(sv, NULL);
	close(sp[0]);
	close(hostproc);
}

/*
 * Callers that die mid-call (SIGKILL while their notification is pending
 * or being answered): the supervisor goes on answering the others.
 */
static int child_killed_callers(void)
{
	for (int round = 0; round < 20; round++) {
		pid_t g = fork();

		if (g == 0) {
			for (;;)
				syscall(SYS_getpriority, PRIO_PROCESS, 100);
		}
		usleep(2000 + 500 * round);
		kill(g, SIGKILL);
		waitpid(g, NULL, 0);
	}
	return syscall(SYS_getpriority, PRIO_PROCESS, 100) == 15 && syscall(SYS_getpgid, 100) == 90
		   ? 0
		   : 1;
}

static void test_dead_callers(void **state)
{
	struct pfs_snapshot *snap = snap_build();
	int sp[2], status, fd, hostproc = open("/proc", O_PATH | O_DIRECTORY);
	struct sc_opts o = {.sz = sizeof(o),
			    .hostproc = hostproc,
			    .tree_root = getpid(),
			    .cpu = -1,
			    .src = {.get = src_get, .put = src_put, .arg = snap}};
	struct sc_supervisor *sv;
	struct sc_stats st;
	pid_t pid;

	(void)state;
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sp), 0);
	pid = fork();
	if (pid == 0) {
		fd = sc_filter_install();
		if (fd < 0 || sc_fd_send(sp[1], fd))
			_exit(77);
		close(fd);
		_exit(child_killed_callers());
	}
	close(sp[1]);
	fd = sc_fd_recv(sp[0]);
	if (fd < 0) {
		waitpid(pid, &status, 0);
		snap_free(snap);
		skip();
	}
	sv = sc_supervisor_start(&o, fd);
	assert_non_null(sv);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	sc_supervisor_stop(sv, &st);
	assert_true(st.calls > 20);
	close(sp[0]);
	close(hostproc);
	snap_free(snap);
}

/* ------------------------------------------------------------ snapshots across refreshes */

static int rebuild_hand(void *arg, struct pfs_snapshot **out)
{
	(void)arg;
	*out = snap_build();
	return 0;
}

/* A request to the server (a name never asked before: no cached entry). */
static void poke(const char *mnt, int i)
{
	char path[256];
	struct stat st;

	snprintf(path, sizeof(path), "%s/absent-%d", mnt, i);
	(void)stat(path, &st);
}

/*
 * In a mount namespace of its own: a snapshot pinned with
 * pfs_server_snapshot_get stays whole while the server swaps in new ones
 * and prunes the old (each refresh's swap happens at the next request).
 * 0: fine; 1: a pinned snapshot lost its contents; 2: no refresh happened.
 */
static int pinned_across_refreshes(const char *mnt)
{
	struct pfs_server_opts so = {.sz = sizeof(so),
				     .mountpoint = mnt,
				     .rebuild = rebuild_hand,
				     .hostproc = -1,
				     .cpu = -1};
	const struct pfs_snapshot *pinned[8];
	struct pfs_server *srv;
	unsigned gen;
	int bad = 0, poked = 0;

	if (unshare(CLONE_NEWNS) || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL))
		return 77;
	srv = pfs_server_new(&so, snap_build());
	if (!srv || pfs_server_start(srv))
		return 77;
	for (int round = 0; round < 8; round++) {
		pinned[round] = pfs_server_snapshot_get(srv);
		gen = pfs_server_generation(srv);
		pfs_server_refresh(srv);
		/* Bounded: the rebuild runs on the refresh thread, the swap at a request. */
		for (int i = 0; i < 2000 && pfs_server_generation(srv) == gen; i++, poked++) {
			usleep(1000);
			poke(mnt, poked);
		}
		if (pfs_server_generation(srv) == gen)
			bad = 2;
	}
	for (int round = 0; round < 8; round++) {
		const struct pfs_node *d = pfs_child(pinned[round]->procdir, "100");

		if (!d || !pfs_child(d, "stat") ||
		    !pfs_walk(pinned[round]->procdir, "100/task/101"))
			bad = bad ? bad : 1;
		pfs_server_snapshot_put(srv, pinned[round]);
	}
	poke(mnt, poked++); /* the loop prunes what is no longer pinned */
	pfs_server_free(srv);
	return bad;
}

static void test_snapshot_pinning(void **state)
{
	char mnt[] = "/tmp/vmt-test-sc-XXXXXX";
	int status;
	pid_t pid;

	(void)state;
	if (geteuid() != 0 || access("/dev/fuse", R_OK | W_OK))
		skip();
	assert_non_null(mkdtemp(mnt));
	pid = fork();
	if (pid == 0)
		_exit(pinned_across_refreshes(mnt));
	assert_int_equal(waitpid(pid, &status, 0), pid);
	rmdir(mnt);
	assert_true(WIFEXITED(status));
	if (WEXITSTATUS(status) == 77)
		skip();
	assert_int_equal(WEXITSTATUS(status), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_probes),
	    cmocka_unit_test(test_guest_gone),
	    cmocka_unit_test(test_dead_callers),
	    cmocka_unit_test(test_snapshot_pinning),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * vmt-probe - the process probes, uname and sysinfo as raw system calls,
 * one line per question, for tests/system/test_syscalls.py (run under
 * `vmt exec`, compared with the guest's own /proc) and bench/syscalls.sh.
 *
 *   vmt-probe pids PID...      one line per pid: every probe's raw answer
 *   vmt-probe uname | sysinfo
 *   vmt-probe signal SIG PID   kill(PID, SIG): 0 or -errno
 *   vmt-probe bench N PID      N x getpriority(PRIO_PROCESS, PID): ns per call
 *   vmt-probe bench N getppid  N x getppid() (a call the filter lets through)
 *
 * Raw answers: a value >= 0, or -errno (no libc translation).
 */
#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/sysinfo.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

static long raw(long r)
{
	return r < 0 ? -errno : r;
}

static void probe_pid(long pid)
{
	unsigned char mask[128];
	struct sched_param sp = {0};
	struct timespec ts = {0, 0};
	long aff, param, rr;

	printf("%ld kill=%ld prio=%ld pgid=%ld sid=%ld sched=%ld", pid,
	       raw(syscall(SYS_kill, pid, 0)), raw(syscall(SYS_getpriority, PRIO_PROCESS, pid)),
	       raw(syscall(SYS_getpgid, pid)), raw(syscall(SYS_getsid, pid)),
	       raw(syscall(SYS_sched_getscheduler, pid)));
	param = raw(syscall(SYS_sched_getparam, pid, &sp));
	printf(" param=%ld", param ? param : (long)sp.sched_priority);
	memset(mask, 0, sizeof(mask));
	aff = raw(syscall(SYS_sched_getaffinity, pid, sizeof(mask), mask));
	printf(" aff=");
	if (aff < 0) {
		printf("%ld", aff);
	} else {
		/* lowest CPU first, as bytes; the test reads it as an integer */
		unsigned long long v = 0;

		for (int i = 7; i >= 0; i--)
			v = v << 8 | mask[i];
		printf("%llx", v);
	}
	rr = raw(syscall(SYS_sched_rr_get_interval, pid, &ts));
	if (rr < 0)
		printf(" rr=%ld\n", rr);
	else
		printf(" rr=%lld\n", (long long)ts.tv_sec * 1000000000ll + ts.tv_nsec);
}

static int do_uname(void)
{
	struct utsname u;

	if (syscall(SYS_uname, &u))
		return perror("uname"), 1;
	printf("sysname=%s\nnodename=%s\nrelease=%s\nversion=%s\nmachine=%s\ndomainname=%s\n",
	       u.sysname, u.nodename, u.release, u.version, u.machine, u.domainname);
	return 0;
}

static int do_sysinfo(void)
{
	struct sysinfo si;

	if (syscall(SYS_sysinfo, &si))
		return perror("sysinfo"), 1;
	printf("uptime=%ld\nloads=%lu %lu %lu\ntotalram=%lu\nfreeram=%lu\nsharedram=%lu\n"
	       "bufferram=%lu\ntotalswap=%lu\nfreeswap=%lu\nprocs=%u\nmem_unit=%u\n",
	       si.uptime, si.loads[0], si.loads[1], si.loads[2], si.totalram, si.freeram,
	       si.sharedram, si.bufferram, si.totalswap, si.freeswap, si.procs, si.mem_unit);
	return 0;
}

static double now_ns(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec * 1e9 + t.tv_nsec;
}

static int do_bench(long n, const char *what)
{
	long pid = strtol(what, NULL, 10);
	bool ppid = !strcmp(what, "getppid");
	double t0 = now_ns();

	for (long i = 0; i < n; i++)
		if (ppid)
			syscall(SYS_getppid);
		else
			syscall(SYS_getpriority, PRIO_PROCESS, pid);
	printf("%.0f\n", (now_ns() - t0) / (double)n);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc >= 2 && !strcmp(argv[1], "pids")) {
		for (int i = 2; i < argc; i++)
			probe_pid(strtol(argv[i], NULL, 10));
		return 0;
	}
	if (argc == 2 && !strcmp(argv[1], "uname"))
		return do_uname();
	if (argc == 2 && !strcmp(argv[1], "sysinfo"))
		return do_sysinfo();
	if (argc == 4 && !strcmp(argv[1], "signal")) {
		printf("%ld\n", raw(syscall(SYS_kill, strtol(argv[3], NULL, 10),
					    (int)strtol(argv[2], NULL, 10))));
		return 0;
	}
	if (argc == 4 && !strcmp(argv[1], "bench"))
		return do_bench(strtol(argv[2], NULL, 10), argv[3]);
	fprintf(stderr, "usage: vmt-probe pids PID... | uname | sysinfo | signal SIG PID | "
			"bench N PID|getppid\n");
	return 2;
}

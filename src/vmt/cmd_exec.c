// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * cmd_exec.c - `vmt exec`: run an unmodified tool on the guest's view.
 *
 * In a mount namespace of its own (private all the way down, so nothing
 * propagates back to the host), the shadow /proc is served over FUSE; CMD
 * runs where it is /proc and its modules /sys/module, with PROC_ROOT=/proc,
 * which makes iproute2's ss read /proc/net instead of asking the host
 * kernel over netlink.  The FUSE mount's root holds both trees.
 *
 * This process never sees the shadow /proc as its own /proc: its FUSE
 * root is mounted on /sys/module (a directory nothing here reads, so none
 * is made anywhere), and CMD's process makes a namespace of its own after
 * fork and binds the two trees there.  A thread of this process that
 * opened a path under /proc — glibc's malloc does, once, when a thread's
 * heap first shrinks (/proc/sys/vm/overcommit_memory) — would otherwise
 * be a FUSE request to this very server, and if it were the serving thread
 * it would wait for itself forever (seen: unhide hung in a lookup).  When
 * CMD ends, the FUSE mount goes and the namespaces with their processes:
 * the host's mounts never change.  Exit status: CMD's (128+N if a signal
 * N ended it).
 *
 * System calls (src/syscalls/, unless --no-syscalls): CMD's process
 * installs a seccomp filter with a listener before exec, inherited by all
 * it starts; the process probes, uname, sysinfo and the interface ioctls
 * are answered by a supervisor thread here from the snapshot served.  This
 * process becomes a child subreaper, so the tool's whole tree stays below
 * it (the supervisor lets a tool signal its own processes, and only them).
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "procfs_cli.h"
#include "syscalls/supervisor.h"

static const char exec_help[] =
    "usage: vmt exec [options] [--] CMD [ARGS...]\n\n"
    "Run CMD, unmodified, where /proc is the guest's shadow /proc and /sys/module\n"
    "its modules (a private mount namespace: nothing on the host changes, and\n"
    "everything is gone when CMD exits).  ps, top, pstree, netstat, ss, lsmod then\n"
    "show the guest.  PROC_ROOT=/proc is set so that ss reads /proc/net.  The exit\n"
    "status is CMD's (128+N if signal N ended it); 1 if the shadow /proc could not\n"
    "be made.\n\n"
    "options:\n"
    "  --lazy             fill each /proc/PID on first use (default: one snapshot)\n"
    "  --refresh SECONDS  rebuild every SECONDS while CMD runs (e.g. for top's own\n"
    "                     refreshes; default: one snapshot for the whole run)\n"
    "  --all-cpus         let CMD run on every CPU (default: CMD and the server share\n"
    "                     the CPU vmt started on; each read of /proc is then a task\n"
    "                     switch instead of waking another CPU: 3x faster for "
    "ps)\n"
    "  --no-syscalls      files only: CMD's system calls (kill(pid, 0), getpriority,\n"
    "                     uname, sysinfo, interface ioctls...) reach the host kernel\n"
    "                     (default: answered from the guest)\n" CLI_TARGET_HELP;

/* What CMD's run needs beyond the shadow /proc. */
struct exec_env {
	struct pfs_server *srv;
	int hostproc;
	int cpu;
	bool syscalls;
	bool stats; /* --stats: the supervisor's counts at the end */
};

static volatile sig_atomic_t child_pid;

static void forward_signal(int sig)
{
	if (child_pid > 0)
		kill(child_pid, sig);
}

/* A mount namespace where mounts neither leak to the host nor come back from it. */
static int exec_private_ns(void)
{
	if (unshare(CLONE_NEWNS)) {
		cli_err("exec", "cannot make a private mount namespace: %s%s", strerror(errno),
			errno == EPERM ? " (needs root or CAP_SYS_ADMIN)" : "");
		return -1;
	}
	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL)) {
		cli_err("exec", "cannot make / private: %s", strerror(errno));
		return -1;
	}
	return 0;
}

/* Where this process mounts the FUSE root {proc, module}; never its /proc (see above). */
#define EXEC_FUSE_ROOT "/sys/module"

/* In CMD's process: a namespace of its own where the shadow trees are /proc and /sys/module. */
static int exec_binds(void)
{
	if (unshare(CLONE_NEWNS)) {
		fprintf(stderr, "vmt: exec: cannot make CMD's mount namespace: %s\n",
			strerror(errno));
		return -1;
	}
	/* /proc first: once module is bound over the FUSE root, proc is no longer below it. */
	if (mount(EXEC_FUSE_ROOT "/proc", "/proc", NULL, MS_BIND, NULL)) {
		fprintf(stderr, "vmt: exec: cannot mount the shadow /proc: %s\n", strerror(errno));
		return -1;
	}
	if (mount(EXEC_FUSE_ROOT "/module", "/sys/module", NULL, MS_BIND, NULL)) {
		fprintf(stderr, "vmt: exec: cannot mount the shadow /sys/module: %s\n",
			strerror(errno));
		return -1;
	}
	return 0;
}

/* CMD on the server's CPU: each of its reads of /proc is then a switch, not a wake-up. */
static void exec_pin(int cpu)
{
	cpu_set_t one;

	if (cpu < 0)
		return;
	CPU_ZERO(&one);
	CPU_SET(cpu, &one);
	if (sched_setaffinity(0, sizeof(one), &one))
		fprintf(stderr, "vmt: exec: cannot run on CPU %d: %s\n", cpu, strerror(errno));
}

/* In CMD's process: the filter, its listener to the parent, then CMD. */
static void exec_child(char **argv, const struct exec_env *env, int sock)
{
	int fd;

	if (exec_binds())
		_exit(EXIT_FAIL); /* "1 if the shadow /proc could not be made" */
	setenv("PROC_ROOT", "/proc", 1);
	exec_pin(env->cpu);
	if (env->syscalls) {
		fd = sc_filter_install();
		if (fd < 0 || sc_fd_send(sock, fd)) {
			fprintf(stderr,
				"vmt: exec: cannot install the system-call filter: %s "
				"(--no-syscalls runs without)\n",
				strerror(fd < 0 ? -fd : errno));
			_exit(126);
		}
		close(fd);
		close(sock);
	}
	execvp(argv[0], argv);
	fprintf(stderr, "vmt: exec: %s: %s\n", argv[0], strerror(errno));
	_exit(errno == ENOENT ? 127 : 126);
}

/* The supervisor over CMD's listener; NULL if CMD failed before sending it. */
static struct sc_supervisor *exec_supervise(const struct exec_env *env, int sock)
{
	struct sc_opts o = {.sz = sizeof(o),
			    .hostproc = env->hostproc,
			    .tree_root = getpid(),
			    .procpath = EXEC_FUSE_ROOT "/proc",
			    .cpu = env->cpu};
	struct sc_supervisor *sv;
	int fd = sc_fd_recv(sock);

	if (fd < 0)
		return NULL;
	sc_source_of_server(&o.src, env->srv);
	sv = sc_supervisor_start(&o, fd);
	if (!sv)
		cli_err("exec", "cannot start the system-call supervisor: %s", strerror(errno));
	return sv;
}

static void exec_supervisor_end(struct sc_supervisor *sv, bool stats)
{
	struct sc_stats st;

	if (!sv)
		return;
	sc_supervisor_stop(sv, &st);
	if (stats)
		fprintf(stderr,
			"stats: syscalls: %llu trapped, %llu answered from the guest, %llu passed "
			"to the host, %llu callers gone before the answer\n",
			(unsigned long long)st.calls, (unsigned long long)st.answered,
			(unsigned long long)st.continued, (unsigned long long)st.lost);
}

/* Wait for CMD, reaping the orphans of its tree that the subreaper inherits. */
static int exec_wait(pid_t pid)
{
	int status = 0;
	pid_t r;

	for (;;) {
		r = waitpid(-1, &status, 0);
		if (r == pid)
			return status;
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) /* no child left (cannot happen while CMD runs) */
			return status;
	}
}

/* Fork CMD and wait for it, passing on what should reach it; its status. */
static int exec_run(char **argv, const struct exec_env *env)
{
	struct sigaction fwd = {.sa_handler = forward_signal}, ign = {.sa_handler = SIG_IGN};
	struct sigaction old[4];
	int status, sigs[4] = {SIGINT, SIGQUIT, SIGTERM, SIGHUP}, sp[2] = {-1, -1};
	struct sc_supervisor *sv = NULL;
	pid_t pid;

	if (env->syscalls && (prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) ||
			      socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp))) {
		cli_err("exec", "system-call supervisor: %s", strerror(errno));
		return EXIT_FAIL;
	}
	fflush(NULL);
	pid = fork();
	if (pid < 0) {
		cli_err("exec", "fork: %s", strerror(errno));
		if (env->syscalls) {
			close(sp[0]);
			close(sp[1]);
		}
		return EXIT_FAIL;
	}
	if (pid == 0) {
		close(sp[0]);
		exec_child(argv, env, sp[1]);
	}
	child_pid = pid;
	if (env->syscalls) {
		close(sp[1]);
		sv = exec_supervise(env, sp[0]);
		close(sp[0]);
	}
	/* As system(3): the terminal's ^C and ^\ reach CMD itself; TERM and HUP are passed on. */
	sigemptyset(&fwd.sa_mask);
	sigemptyset(&ign.sa_mask);
	for (int i = 0; i < 4; i++)
		sigaction(sigs[i], i < 2 ? &ign : &fwd, &old[i]);
	status = exec_wait(pid);
	child_pid = 0;
	for (int i = 0; i < 4; i++)
		sigaction(sigs[i], &old[i], NULL);
	exec_supervisor_end(sv, env->stats);
	if (WIFSIGNALED(status))
		return 128 + WTERMSIG(status);
	return WEXITSTATUS(status);
}

/* Serve the snapshot (private namespace made already) and run CMD on it. */
static int exec_serve(struct pfs_cli *c, struct pfs_snapshot *snap, char **argv, bool syscalls)
{
	struct pfs_server_opts so = {
	    .sz = sizeof(so),
	    .mountpoint = EXEC_FUSE_ROOT,
	    .rebuild = pfs_cli_rebuild,
	    .check = pfs_cli_check,
	    .arg = c,
	    .refresh_ms = c->refresh_s * 1000,
	    .allow_other = geteuid() == 0,
	    .one_snapshot = c->refresh_s == 0,
	    .cpu = c->all_cpus ? -1 : sched_getcpu(),
	};
	struct pfs_server *srv;
	int ret;

	/* The host's /proc, for the caller's own entries (CMD's /proc covers it). */
	so.hostproc = open("/proc", O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (so.hostproc < 0) {
		cli_err("exec", "/proc: %s", strerror(errno));
		pfs_snapshot_free(snap);
		return EXIT_FAIL;
	}
	srv = pfs_server_new(&so, snap);
	if (!srv) {
		cli_err("exec", "cannot serve the shadow /proc: %s", strerror(errno));
		close(so.hostproc);
		return EXIT_FAIL;
	}
	ret = pfs_server_start(srv) ? EXIT_FAIL : EXIT_OK;
	if (!ret) {
		struct exec_env env = {.srv = srv,
				       .hostproc = so.hostproc,
				       .cpu = so.cpu,
				       .syscalls = syscalls,
				       .stats = c->t.stats};

		ret = exec_run(argv, &env);
	}
	if (pfs_server_gone(srv))
		cli_err("exec", "the guest went away while %s ran", argv[0]);
	pfs_server_free(srv);
	close(so.hostproc);
	return ret;
}

static int exec_opts(int argc, char **argv, struct pfs_cli *c, bool *syscalls)
{
	static const struct option longopts[] = {
	    CLI_TARGET_LONGOPTS,
	    {"lazy", no_argument, NULL, OPT_CMD_BASE},
	    {"refresh", required_argument, NULL, OPT_CMD_BASE + 1},
	    {"all-cpus", no_argument, NULL, OPT_CMD_BASE + 2},
	    {"no-syscalls", no_argument, NULL, OPT_CMD_BASE + 3},
	    {0},
	};
	char *end;
	int opt;

	/* '+': CMD's own options are not ours. */
	while ((opt = getopt_long(argc, argv, "+h", longopts, NULL)) != -1) {
		if (cli_target_opt(&c->t, opt, optarg))
			continue;
		if (opt == OPT_CMD_BASE) {
			c->so.lazy = true;
		} else if (opt == OPT_CMD_BASE + 1) {
			c->refresh_s = (int)strtol(optarg, &end, 10);
			if (*end || end == optarg || c->refresh_s < 1 || c->refresh_s > 86400) {
				cli_err("exec", "--refresh takes 1..86400 seconds, not '%s'",
					optarg);
				return EXIT_USAGE;
			}
		} else if (opt == OPT_CMD_BASE + 2) {
			c->all_cpus = true;
		} else if (opt == OPT_CMD_BASE + 3) {
			*syscalls = false;
		} else if (opt == 'h' || opt == OPT_HELP) {
			fputs(exec_help, stdout);
			return -1;
		} else {
			fputs(exec_help, stderr);
			return EXIT_USAGE;
		}
	}
	if (optind >= argc) {
		cli_err("exec", "no command to run (see --help)");
		return EXIT_USAGE;
	}
	return cli_target_check("exec", &c->t) ? EXIT_USAGE : EXIT_OK;
}

int cmd_exec(int argc, char **argv)
{
	struct pfs_cli c = {.cmd = "exec", .so = {.with_sysmodule = true}};
	struct pfs_snapshot *snap = NULL;
	bool syscalls = true;
	int ret, close_ret;

	ret = exec_opts(argc, argv, &c, &syscalls);
	if (ret)
		return ret < 0 ? EXIT_OK : ret;
	/* Before any thread exists: unshare(CLONE_NEWNS) refuses a shared fs_struct. */
	if (exec_private_ns())
		return EXIT_FAIL;
	ret = pfs_cli_open(&c);
	if (ret)
		return ret;
	if (pfs_cli_build(&c, &snap)) {
		pfs_cli_close(&c);
		return EXIT_FAIL;
	}
	ret = exec_serve(&c, snap, argv + optind, syscalls);
	close_ret = pfs_cli_close(&c);
	/* CMD's status wins; a split VM's unread pages are reported but do not replace it. */
	(void)close_ret;
	return ret;
}

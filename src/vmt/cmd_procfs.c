// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * cmd_procfs.c - `vmt procfs`: mount the guest's shadow /proc (FUSE) and
 * serve it in the foreground until SIGINT or SIGTERM, which unmount.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "procfs_cli.h"

static const char procfs_help[] =
    "usage: vmt procfs [options] MOUNTPOINT\n\n"
    "Mount a shadow /proc of the guest at MOUNTPOINT (FUSE): the guest's processes\n"
    "(/proc/PID and PID/task/TID), modules, sockets, uptime, version, ... in the\n"
    "exact text formats of the guest kernel's /proc, read from its memory.  Runs in\n"
    "the foreground until SIGINT or SIGTERM, then unmounts; SIGHUP rebuilds it.\n"
    "The calling process's own pid is answered from this host's /proc (tools such\n"
    "as ps need it); /proc/self points at the caller.\n\n"
    "options:\n"
    "  --snapshot         build everything at once, one consistent view (default)\n"
    "  --lazy             make the pid directories now, fill each on first use\n"
    "  --refresh SECONDS  rebuild every SECONDS (also on SIGHUP)\n"
    "  --build-only       build once, print --stats, do not mount (measurement)\n" CLI_TARGET_HELP
    "\n--stats prints each build's construction time and guest pages read.\n";

static struct pfs_server *hup_server;

static void on_hup(int sig)
{
	(void)sig;
	pfs_server_refresh(hup_server);
}

static int procfs_mountpoint_check(const char *mnt)
{
	struct stat st;

	if (stat(mnt, &st)) {
		cli_err("procfs", "mount point %s: %s", mnt, strerror(errno));
		return EXIT_FAIL;
	}
	if (!S_ISDIR(st.st_mode)) {
		cli_err("procfs", "mount point %s is not a directory", mnt);
		return EXIT_FAIL;
	}
	return EXIT_OK;
}

static int procfs_serve(struct pfs_cli *c, const char *mnt, struct pfs_snapshot *snap)
{
	struct pfs_server_opts so = {
	    .sz = sizeof(so),
	    .mountpoint = mnt,
	    .rebuild = pfs_cli_rebuild,
	    .check = pfs_cli_check,
	    .arg = c,
	    .refresh_ms = c->refresh_s * 1000,
	    .allow_other = geteuid() == 0,
	    .cpu = -1,
	};
	struct sigaction sa = {.sa_handler = on_hup};
	struct pfs_server *srv;
	int err;

	so.hostproc = open("/proc", O_PATH | O_DIRECTORY | O_CLOEXEC);
	srv = pfs_server_new(&so, snap);
	if (!srv) {
		cli_err("procfs", "cannot serve at %s: %s", mnt, strerror(errno));
		if (so.hostproc >= 0)
			close(so.hostproc);
		return EXIT_FAIL;
	}
	hup_server = srv;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGHUP, &sa, NULL);
	if (!c->t.json)
		fprintf(stderr, "vmt: procfs: serving %s (Ctrl-C or SIGTERM to unmount)\n", mnt);
	err = pfs_server_run(srv);
	signal(SIGHUP, SIG_DFL);
	hup_server = NULL;
	if (pfs_server_gone(srv))
		cli_err("procfs", "the guest went away; unmounted %s", mnt);
	pfs_server_free(srv);
	if (so.hostproc >= 0)
		close(so.hostproc);
	return err ? EXIT_FAIL : EXIT_OK;
}

/* Options of `vmt procfs`; EXIT_OK or an exit status. */
static int procfs_opts(int argc, char **argv, struct pfs_cli *c, bool *build_only)
{
	static const struct option longopts[] = {
	    CLI_TARGET_LONGOPTS,
	    {"snapshot", no_argument, NULL, OPT_CMD_BASE},
	    {"lazy", no_argument, NULL, OPT_CMD_BASE + 1},
	    {"refresh", required_argument, NULL, OPT_CMD_BASE + 2},
	    {"build-only", no_argument, NULL, OPT_CMD_BASE + 3},
	    {"foreground", no_argument, NULL, 'f'},
	    {0},
	};
	char *end;
	int opt;

	while ((opt = getopt_long(argc, argv, "+hf", longopts, NULL)) != -1) {
		if (cli_target_opt(&c->t, opt, optarg) || opt == 'f')
			continue;
		if (opt == OPT_CMD_BASE) {
			c->so.lazy = false;
		} else if (opt == OPT_CMD_BASE + 1) {
			c->so.lazy = true;
		} else if (opt == OPT_CMD_BASE + 2) {
			c->refresh_s = (int)strtol(optarg, &end, 10);
			if (*end || end == optarg || c->refresh_s < 1 || c->refresh_s > 86400) {
				cli_err(c->cmd, "--refresh takes 1..86400 seconds, not '%s'",
					optarg);
				return EXIT_USAGE;
			}
		} else if (opt == OPT_CMD_BASE + 3) {
			*build_only = true;
		} else if (opt == 'h' || opt == OPT_HELP) {
			fputs(procfs_help, stdout);
			return -1;
		} else {
			fputs(procfs_help, stderr);
			return EXIT_USAGE;
		}
	}
	return cli_target_check(c->cmd, &c->t) ? EXIT_USAGE : EXIT_OK;
}

int cmd_procfs(int argc, char **argv)
{
	struct pfs_cli c = {.cmd = "procfs"};
	struct pfs_snapshot *snap = NULL;
	bool build_only = false;
	const char *mnt;
	int ret, close_ret;

	ret = procfs_opts(argc, argv, &c, &build_only);
	if (ret)
		return ret < 0 ? EXIT_OK : ret;
	if (build_only != (optind == argc)) {
		cli_err("procfs", build_only ? "--build-only takes no mount point"
					     : "give one MOUNTPOINT (see --help)");
		return EXIT_USAGE;
	}
	if (optind + 1 < argc) {
		cli_err("procfs", "unexpected argument '%s'", argv[optind + 1]);
		return EXIT_USAGE;
	}
	mnt = build_only ? NULL : argv[optind];
	if (mnt && procfs_mountpoint_check(mnt))
		return EXIT_FAIL;
	ret = pfs_cli_open(&c);
	if (ret)
		return ret;
	/* --build-only --stats: the split's figures (round trips, waits) of the build alone. */
	if (build_only && c.t.stats)
		vmt_mem_stats_reset(c.g);
	if (pfs_cli_build(&c, &snap)) {
		pfs_cli_close(&c);
		return EXIT_FAIL;
	}
	if (build_only) {
		cli_target_stats(&c.t, c.g, snap->build_ms);
		pfs_snapshot_free(snap);
	} else
		ret = procfs_serve(&c, mnt, snap);
	close_ret = pfs_cli_close(&c);
	return ret ? ret : close_ret;
}

/* ------------------------------------------------------------ shared with exec */

int pfs_cli_open(struct pfs_cli *c)
{
	struct vmt_vm_desc vm;
	struct stat st;

	/*
	 * What to watch is taken before the guest is opened and checked after:
	 * a VM stopped in between (its descriptor and RAM file gone) would
	 * otherwise leave nothing watched and its unlinked RAM served for good.
	 */
	if (c->t.mem) {
		snprintf(c->mem_path, sizeof(c->mem_path), "%s", c->t.mem);
	} else if (!c->t.from && !vmt_vm_load(c->t.vm ? c->t.vm : "vmt", &vm)) {
		snprintf(c->mem_path, sizeof(c->mem_path), "%s", vm.mem_path);
		c->qemu_pid = vm.qemu_pid;
	}
	if (c->mem_path[0] && !stat(c->mem_path, &st)) {
		c->mem_dev = st.st_dev;
		c->mem_ino = st.st_ino;
	} else {
		c->mem_path[0] = '\0'; /* nothing to watch */
	}
	c->g = cli_target_open(c->cmd, &c->t);
	if (!c->g)
		return EXIT_FAIL;
	if (pfs_cli_check(c)) {
		cli_err(c->cmd, "the guest went away while it was being opened");
		pfs_cli_close(c);
		return EXIT_FAIL;
	}
	return EXIT_OK;
}

int pfs_cli_check(void *arg)
{
	struct pfs_cli *c = arg;
	struct stat st;

	/* Not vmt_vm_is_running(): it reads /proc, which may be ours (vmt exec). */
	if (c->qemu_pid > 0 && kill(c->qemu_pid, 0) && errno == ESRCH)
		return -ENODEV;
	if (c->mem_path[0] &&
	    (stat(c->mem_path, &st) || st.st_dev != c->mem_dev || st.st_ino != c->mem_ino))
		return -ENODEV;
	return 0;
}

/* --pause holds the VM for the first build only: the snapshot is what needs one moment. */
static void pfs_cli_resume(struct pfs_cli *c)
{
	if (!c->t.paused)
		return;
	if (vmt_vm_pause(c->t.paused, false))
		cli_err(c->cmd, "could not resume VM '%s': %s; run 'vmt vm resume %s'",
			c->t.paused->name, vmt_last_error(), c->t.paused->name);
	free(c->t.paused);
	c->t.paused = NULL;
}

int pfs_cli_build(struct pfs_cli *c, struct pfs_snapshot **out)
{
	int err;

	if (pfs_cli_check(c))
		return -ENODEV;
	err = pfs_snapshot_build(c->g, &c->so, out);
	if (err) {
		pfs_cli_resume(c);
		cli_err(c->cmd, "cannot build the shadow /proc: %s",
			vmt_last_error()[0] ? vmt_last_error() : strerror(-err));
		return pfs_cli_check(c) ? -ENODEV : err;
	}
	pfs_cli_resume(c);
	if (c->t.stats)
		fprintf(stderr,
			"stats: procfs %s: %.2f ms (cpu %.2f ms), pages read %llu, processes %zu, "
			"threads %zu, "
			"nodes %zu, bytes %zu (walk %.2f ms, per-process files %.2f ms, "
			"system files %.2f ms)%s\n",
			c->so.lazy ? "lazy" : "snapshot", (*out)->build_ms, (*out)->cpu_ms,
			(unsigned long long)(*out)->pages_read, (*out)->nprocs, (*out)->nthreads,
			(*out)->tree->nodes, (*out)->tree->bytes, (*out)->walk_ms, (*out)->tasks_ms,
			(*out)->system_ms,
			(*out)->partial ? " (partial: some guest lists could not be read whole)"
					: "");
	return 0;
}

int pfs_cli_rebuild(void *arg, struct pfs_snapshot **out)
{
	return pfs_cli_build(arg, out);
}

int pfs_cli_close(struct pfs_cli *c)
{
	int ret = cli_target_close(&c->t, c->g);

	c->g = NULL;
	return ret;
}

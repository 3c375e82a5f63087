/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* procfs_cli.h - what `vmt procfs` and `vmt exec` share: the guest behind a shadow /proc. */
#ifndef VMT_PROCFS_CLI_H
#define VMT_PROCFS_CLI_H

#include <sys/stat.h>

#include "cli.h"
#include "procfs/fuse.h"
#include "procfs/snapshot.h"

struct pfs_cli {
	struct cli_target t;
	struct pfs_snap_opts so;
	struct vmt_guest *g;
	const char *cmd;
	/* how to tell that the guest went away: its RAM file (and QEMU for --vm) */
	char mem_path[4096];
	dev_t mem_dev;
	ino_t mem_ino;
	pid_t qemu_pid;
	int refresh_s;
	bool all_cpus; /* vmt exec --all-cpus */
};

/* Open the guest (cli_target_open) and remember how to check it; EXIT_* */
int pfs_cli_open(struct pfs_cli *c);
/* Build a snapshot (printing --stats); 0 or negative errno. */
int pfs_cli_build(struct pfs_cli *c, struct pfs_snapshot **out);
/* Server callbacks over a struct pfs_cli. */
int pfs_cli_rebuild(void *arg, struct pfs_snapshot **out);
int pfs_cli_check(void *arg);
/* Close the guest: EXIT_OK, or EXIT_FAIL if pages of a split VM could not be read. */
int pfs_cli_close(struct pfs_cli *c);

#endif

/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * spawn.h - start a long-lived process (QEMU) the way vm.c does: double
 * fork in its own session, stdin /dev/null, stdout and stderr appended to a
 * log, the caller's descriptors closed.  Exposed for `vmt split`, which
 * starts the destination QEMU with the pager preloaded, maybe inside the
 * main host's network namespace.
 */
#ifndef VMT_VM_SPAWN_H
#define VMT_VM_SPAWN_H

#include <sys/types.h>

struct vmt_spawn_opts {
	const char *log_path;	/* stdout and stderr, appended */
	char *const *envp;	/* NULL: the caller's environment */
	const char *netns_path; /* NULL, or a network namespace file to setns(2) into */
};

/* Run argv[0] (a path) with argv; *pid_out is its pid, never the caller's child. */
int vmt_spawn(char *const argv[], const struct vmt_spawn_opts *o, pid_t *pid_out);

#endif

/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* cli.h - what the vmt subcommands share: exit codes, target options, output. */
#ifndef VMT_CLI_H
#define VMT_CLI_H

#include <stdbool.h>
#include <stdio.h>

#include "vmemtrans.h"

/* Exit status of every subcommand. */
enum {
	EXIT_OK = 0,
	EXIT_FAIL = 1,  /* not found, or the operation failed */
	EXIT_USAGE = 2, /* bad usage */
};

/* Print "vmt: <cmd>: <message>" to stderr. */
__attribute__((format(printf, 2, 3))) void cli_err(const char *cmd, const char *fmt, ...);

/* Subcommand entry points: argv[0] is the subcommand's name. */
int cmd_ps(int argc, char **argv);
int cmd_lsmod(int argc, char **argv);
int cmd_netstat(int argc, char **argv);
int cmd_info(int argc, char **argv);
int cmd_vm(int argc, char **argv);
int cmd_profile(int argc, char **argv);

#endif

// SPDX-License-Identifier: LGPL-2.1-or-later
/* cmd_hosts.c - `vmt hosts` (being written). */
#include "cli.h"

int cmd_hosts(int argc, char **argv)
{
	cli_err("hosts", "not implemented yet");
	return EXIT_FAIL;
}

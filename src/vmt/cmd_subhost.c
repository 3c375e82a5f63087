// SPDX-License-Identifier: LGPL-2.1-or-later
/* cmd_subhost.c - `vmt subhost` (being written). */
#include "cli.h"

int cmd_subhost(int argc, char **argv)
{
	cli_err("subhost", "not implemented yet");
	return EXIT_FAIL;
}

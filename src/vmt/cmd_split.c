// SPDX-License-Identifier: LGPL-2.1-or-later
/* cmd_split.c - `vmt split` (being written). */
#include "cli.h"

int cmd_split(int argc, char **argv)
{
	cli_err("split", "not implemented yet");
	return EXIT_FAIL;
}

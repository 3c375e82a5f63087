// SPDX-License-Identifier: LGPL-2.1-or-later
/* cmd_bench_micro.c - `vmt bench micro` (issue 9): not built yet. */
#include "bench_cli.h"
#include "cli.h"

int bench_micro_main(int argc, char **argv)
{
	(void)argc;
	cli_err("bench", "section '%s' is not built yet (issue 9)", argv[0]);
	return EXIT_FAIL;
}

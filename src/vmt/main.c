// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * main.c - `vmt`, the VMemTrans command-line tool: a git/ip-style
 * dispatcher over subcommands.  Exit status: 0 ok, 1 not found or failed,
 * 2 bad usage.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"

struct subcommand {
	const char *name;
	int (*fn)(int argc, char **argv);
	const char *summary;
};

static const struct subcommand subcommands[] = {
    {"ps", cmd_ps, "list the guest's processes (and threads) read from its memory"},
    {"lsmod", cmd_lsmod, "list the guest's loaded kernel modules"},
    {"hidden", cmd_hidden, "cross-view detection: hidden processes and modules, hooked tables"},
    {"netstat", cmd_netstat, "list the guest's TCP, UDP and UNIX sockets"},
    {"info", cmd_info, "kernel version, KASLR slide, paging mode, uptime, meminfo"},
    {"mem", cmd_mem, "read guest memory (kernel, process or physical), translate, symbols"},
    {"vm", cmd_vm, "start, stop, list VMs; run a command in one through its agent"},
    {"profile", cmd_profile, "build or inspect a kernel profile (kallsyms + BTF)"},
    {"hosts", cmd_hosts, "make or remove the emulated main host and sub-hosts (netns, veth, tc)"},
    {"subhost", cmd_subhost, "serve a VM's sub-host memory over NBD (nbdkit, TLS-PSK)"},
    {"split", cmd_split, "split migration: move a VM's memory to the main host + sub-hosts"},
    {"procfs", cmd_procfs, "mount the guest's shadow /proc (FUSE) for unmodified tools"},
    {"exec", cmd_exec, "run a tool (ps, top, netstat, ss, lsmod, ...) on the guest's /proc"},
    {"bench", cmd_bench, "the paper's experiments end to end: results, CSV/JSON, plots"},
};

static void usage(FILE *f)
{
	fprintf(f, "usage: vmt <command> [options]\n\n"
		   "Introspect a QEMU guest from its memory file.\n\ncommands:\n");
	for (size_t i = 0; i < sizeof(subcommands) / sizeof(subcommands[0]); i++)
		fprintf(f, "  %-10s %s\n", subcommands[i].name, subcommands[i].summary);
	fprintf(f, "\nThe guest is named with --vm NAME (a VM started by `vmt vm start`)\n"
		   "or with --mem RAMFILE [--kernel VMLINUZ] for any QEMU guest whose RAM is a\n"
		   "file (without --kernel the kernel profile comes from the guest's memory).\n"
		   "Run `vmt <command> --help` for a command's options.\n");
}

void cli_err(const char *cmd, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "vmt: %s: ", cmd);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		usage(stderr);
		return EXIT_USAGE;
	}
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
		usage(stdout);
		return EXIT_OK;
	}
	if (!strcmp(argv[1], "--version")) {
		printf("vmt 0.1.0\n");
		return EXIT_OK;
	}
	for (size_t i = 0; i < sizeof(subcommands) / sizeof(subcommands[0]); i++)
		if (!strcmp(argv[1], subcommands[i].name))
			return subcommands[i].fn(argc - 1, argv + 1);
	fprintf(stderr, "vmt: unknown command '%s' (see 'vmt --help')\n", argv[1]);
	return EXIT_USAGE;
}

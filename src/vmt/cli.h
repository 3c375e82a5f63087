/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* cli.h - what the vmt subcommands share: exit codes, target options, output. */
#ifndef VMT_CLI_H
#define VMT_CLI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "vmctl/vm.h"
#include "vmemtrans.h"

#define VMT_CLI_MAX(a, b) ((a) > (b) ? (a) : (b))

/* Exit status of every subcommand. */
enum {
	EXIT_OK = 0,
	EXIT_FAIL = 1,	/* not found, or the operation failed */
	EXIT_USAGE = 2, /* bad usage */
};

/* Print "vmt: <cmd>: <message>" to stderr. */
__attribute__((format(printf, 2, 3))) void cli_err(const char *cmd, const char *fmt, ...);

/* Subcommand entry points: argv[0] is the subcommand's name. */
int cmd_ps(int argc, char **argv);
int cmd_lsmod(int argc, char **argv);
int cmd_hidden(int argc, char **argv);
int cmd_netstat(int argc, char **argv);
int cmd_info(int argc, char **argv);
int cmd_vm(int argc, char **argv);
int cmd_profile(int argc, char **argv);
int cmd_mem(int argc, char **argv);
int cmd_hosts(int argc, char **argv);
int cmd_subhost(int argc, char **argv);
int cmd_split(int argc, char **argv);
int cmd_procfs(int argc, char **argv);
int cmd_exec(int argc, char **argv);
int cmd_bench(int argc, char **argv);

/* ------------------------------------------------ the guest a command reads */

struct cli_target {
	const char *vm;	       /* --vm NAME|PATH */
	const char *mem;       /* --mem RAMFILE */
	const char *kernel;    /* --kernel VMLINUZ */
	const char *cache_dir; /* --cache-dir DIR */
	const char *system_map;
	const char *machine;	    /* --machine pc|q35 */
	const char *pagetable;	    /* --pagetable FILE: a split VM's page table */
	const char *fetch;	    /* --fetch runtime|vm|none: a split VM's remote pages */
	const char *chunk;	    /* --chunk SIZE: bytes fetched at once */
	const char *fetch_cache;    /* --fetch-cache SIZE: method 1's cache bound */
	bool whole_chunks;	    /* --whole-chunks: method 1 without exact reads */
	const char *psk;	    /* --psk FILE: sub-hosts' key (a --mem split guest) */
	const char *from;	    /* --from HOST[:PORT]: the main host's export (another host) */
	bool split;		    /* the guest was opened through a page table */
	const char *cmd;	    /* the command, for messages (set by open) */
	bool json;		    /* --json */
	bool stats;		    /* --stats: pages read, time, to stderr */
	bool pause;		    /* --pause: stop the VM's vCPUs while reading */
	bool no_kernel;		    /* the profile from memory even if the VM names a kernel */
	struct vmt_vm_desc *paused; /* the VM cli_target_open() paused, for close */
};

/* getopt_long entries shared by every guest-reading command; values >= 0x100. */
enum {
	OPT_VM = 0x100,
	OPT_MEM,
	OPT_KERNEL,
	OPT_CACHE_DIR,
	OPT_SYSTEM_MAP,
	OPT_MACHINE,
	OPT_PAGETABLE,
	OPT_JSON,
	OPT_STATS,
	OPT_PAUSE,
	OPT_FETCH,
	OPT_CHUNK,
	OPT_FETCH_CACHE,
	OPT_WHOLE_CHUNKS,
	OPT_PSK,
	OPT_FROM,
	OPT_HELP,
	OPT_CMD_BASE, /* first value free for a command's own options */
};

#define CLI_TARGET_LONGOPTS                                                                        \
	{"vm", required_argument, NULL, OPT_VM}, {"mem", required_argument, NULL, OPT_MEM},        \
	    {"kernel", required_argument, NULL, OPT_KERNEL},                                       \
	    {"cache-dir", required_argument, NULL, OPT_CACHE_DIR},                                 \
	    {"system-map", required_argument, NULL, OPT_SYSTEM_MAP},                               \
	    {"machine", required_argument, NULL, OPT_MACHINE},                                     \
	    {"pagetable", required_argument, NULL, OPT_PAGETABLE},                                 \
	    {"json", no_argument, NULL, OPT_JSON}, {"stats", no_argument, NULL, OPT_STATS},        \
	    {"pause", no_argument, NULL, OPT_PAUSE},                                               \
	    {"fetch", required_argument, NULL, OPT_FETCH},                                         \
	    {"chunk", required_argument, NULL, OPT_CHUNK},                                         \
	    {"fetch-cache", required_argument, NULL, OPT_FETCH_CACHE},                             \
	    {"whole-chunks", no_argument, NULL, OPT_WHOLE_CHUNKS},                                 \
	    {"psk", required_argument, NULL, OPT_PSK},                                             \
	    {"from", required_argument, NULL, OPT_FROM},                                           \
	{                                                                                          \
		"help", no_argument, NULL, OPT_HELP                                                \
	}

#define CLI_TARGET_HELP                                                                            \
	"  --vm NAME          a VM started by `vmt vm start` (default: vmt)\n"                     \
	"  --mem FILE         a QEMU RAM file (memory-backend-file) ...\n"                         \
	"  --kernel VMLINUZ   the guest's kernel image (vmlinuz or vmlinux); optional: without\n"  \
	"                     it the profile comes from the guest's memory (kallsyms + BTF)\n"     \
	"  --machine pc|q35   QEMU machine type of a --mem guest (RAM layout; default pc)\n"       \
	"  --pagetable FILE   a split VM's page table (--vm finds it in the descriptor)\n"         \
	"  --fetch METHOD     a split VM's pages on sub-hosts: runtime (read them over NBD),\n"    \
	"                     vm (the VM's pager pages them in), none (not read); default:\n"      \
	"                     the VM descriptor's, else runtime (--mem: with --psk)\n"             \
	"  --chunk SIZE       bytes fetched at once, 4K..2M (default: descriptor's, else 64K)\n"   \
	"  --fetch-cache SIZE bound of the runtime method's cache (default 4M)\n"                  \
	"  --whole-chunks     runtime method: fetch whole chunks even where a listing knows\n"     \
	"                     the few bytes it needs (a process's arguments; default: those)\n"    \
	"  --psk FILE         the sub-hosts' TLS-PSK key (--vm finds it in the descriptor)\n"      \
	"  --from HOST[:PORT] read --vm NAME from another host: the main host's export\n"          \
	"                     (`vmt vm export`, port 10809 if none) with its key (--psk;\n"        \
	"                     --kernel optional: the export's is fetched once)\n"                  \
	"  --cache-dir DIR    kernel profile cache (default ~/.cache/vmemtrans)\n"                 \
	"  --system-map FILE  optional System.map (symbols come from kallsyms otherwise)\n"        \
	"  --pause            with --vm: stop the VM while reading, for a consistent view\n"       \
	"  --json             machine-readable output\n"                                           \
	"  --stats            print pages read and timings to stderr\n"                            \
	"  --help             this text\n"

/* Take a shared option; true if opt was one of them. */
bool cli_target_opt(struct cli_target *t, int opt, const char *arg);
/* EXIT_OK, or EXIT_USAGE after saying what is wrong with the options. */
int cli_target_check(const char *cmd, const struct cli_target *t);
/* Open the guest named by t (pausing it with --pause); prints the error and
 * returns NULL on failure. */
struct vmt_guest *cli_target_open(const char *cmd, struct cli_target *t);
/*
 * Close g and resume the VM if cli_target_open() paused it.  EXIT_FAIL
 * (after saying so) if the listing needed pages that live on a split VM's
 * sub-hosts and were not read, else EXIT_OK.
 */
int cli_target_close(struct cli_target *t, struct vmt_guest *g);
/* Listing done: print --stats line (pages read, cache hits, ms). */
void cli_target_stats(const struct cli_target *t, struct vmt_guest *g, double ms);
double cli_now_ms(void);

/* ------------------------------------------- the views that saw an object */

/* A view's name from its bit (vmt_task_view_name, vmt_module_view_name, vmt_sock_view_name). */
typedef const char *(*cli_view_name_fn)(unsigned view_bit);
struct json_object;

/* The names of the views in bits (bit i < count) joined by ',' into buf; "" if none. */
const char *cli_views_str(uint32_t bits, unsigned count, cli_view_name_fn name, char *buf,
			  size_t cap);
/* The same as a new JSON array of strings. */
struct json_object *cli_views_json(uint32_t bits, unsigned count, cli_view_name_fn name);

#endif

// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * cmd_mem.c - `vmt mem`: look at guest memory directly, the way an IDS
 * developer checks what the walkers see: read bytes at a kernel virtual,
 * user virtual (a process's address space) or physical address, translate
 * an address, or find where KASLR put a kernel symbol.
 */
#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

#define MEM_READ_MAX (16u << 20)

static const char mem_help[] =
    "usage: vmt mem <read|translate|sym> ... [options]\n\n"
    "Look at guest memory directly.\n\n"
    "  read ADDR [LEN]        hexdump LEN bytes (default 256) at ADDR\n"
    "  translate ADDR         the physical address behind a virtual one\n"
    "  sym NAME...            run-time addresses of kernel symbols (KASLR applied)\n\n"
    "ADDR is a kernel virtual address unless --phys or --pid is given.\n\n"
    "options:\n"
    "  -P, --phys             ADDR is guest-physical\n"
    "  -p, --pid PID          ADDR is in process PID's address space\n"
    "  -r, --raw              read: write the bytes themselves to stdout\n" CLI_TARGET_HELP;

struct mem_opts {
	struct cli_target t;
	bool phys, raw;
	long pid;
};

static int mem_parse_u64(const char *s, uint64_t *v)
{
	char *end;

	errno = 0;
	*v = strtoull(s, &end, 0);
	return errno || !*s || *end ? -EINVAL : 0;
}

/* mm->pgd of process pid, as a physical address. */
static int mem_pid_pgd(struct vmt_guest *g, long pid, uint64_t *pgd)
{
	struct vmt_task_list *l = NULL;
	int err = vmt_tasks(g, VMT_TASK_BASIC, &l);

	*pgd = 0;
	for (size_t i = 0; l && i < l->n; i++)
		if (l->tasks[i].pid == pid)
			*pgd = l->tasks[i].pgd_pa;
	vmt_task_list_free(l);
	if (err && !*pgd)
		return err;
	return *pgd ? 0 : -ESRCH;
}

static void mem_hexdump(uint64_t addr, const uint8_t *b, size_t n)
{
	for (size_t i = 0; i < n; i += 16) {
		size_t k, m = n - i < 16 ? n - i : 16;

		printf("%016llx ", (unsigned long long)(addr + i));
		for (k = 0; k < 16; k++)
			k < m ? printf(" %02x", b[i + k]) : printf("   ");
		printf("  |");
		for (k = 0; k < m; k++)
			putchar(isprint(b[i + k]) ? b[i + k] : '.');
		printf("|\n");
	}
}

static int mem_read(struct vmt_guest *g, const struct mem_opts *o, uint64_t pgd, int argc,
		    char **argv)
{
	uint64_t addr, len = 256;
	uint8_t *buf;
	int err;

	if (argc < 1 || argc > 2 || mem_parse_u64(argv[0], &addr) ||
	    (argc == 2 && mem_parse_u64(argv[1], &len)) || len == 0 || len > MEM_READ_MAX) {
		cli_err("mem", "read takes ADDR [LEN], LEN 1..%u", MEM_READ_MAX);
		return EXIT_USAGE;
	}
	buf = malloc(len);
	if (!buf)
		return EXIT_FAIL;
	err = o->phys ? vmt_read_phys(g, addr, buf, len) : vmt_read_va(g, pgd, addr, buf, len);
	if (err) {
		cli_err("mem", "cannot read %llu bytes at 0x%llx: %s", (unsigned long long)len,
			(unsigned long long)addr, strerror(-err));
		free(buf);
		return EXIT_FAIL;
	}
	if (o->raw)
		fwrite(buf, 1, len, stdout);
	else
		mem_hexdump(addr, buf, len);
	free(buf);
	return EXIT_OK;
}

static int mem_translate(struct vmt_guest *g, const struct mem_opts *o, uint64_t pgd, int argc,
			 char **argv)
{
	uint64_t va, pa;
	int err;

	if (argc != 1 || mem_parse_u64(argv[0], &va) || o->phys) {
		cli_err("mem", "translate takes one virtual ADDR");
		return EXIT_USAGE;
	}
	err = vmt_translate(g, pgd, va, &pa);
	if (err) {
		cli_err("mem", "0x%llx does not translate: %s", (unsigned long long)va,
			strerror(-err));
		return EXIT_FAIL;
	}
	if (o->t.json)
		printf("{\"va\":%llu,\"pa\":%llu}\n", (unsigned long long)va,
		       (unsigned long long)pa);
	else
		printf("0x%016llx -> 0x%llx\n", (unsigned long long)va, (unsigned long long)pa);
	return EXIT_OK;
}

static int mem_sym(struct vmt_guest *g, const struct mem_opts *o, int argc, char **argv)
{
	json_object *j = o->t.json ? json_object_new_object() : NULL;
	int ret = EXIT_OK;

	if (argc < 1) {
		cli_err("mem", "sym takes one or more symbol names");
		return EXIT_USAGE;
	}
	for (int i = 0; i < argc; i++) {
		uint64_t va;

		if (vmt_symbol(g, argv[i], &va)) {
			cli_err("mem", "no kernel symbol '%s'", argv[i]);
			ret = EXIT_FAIL;
		} else if (j) {
			json_object_object_add(j, argv[i], json_object_new_uint64(va));
		} else {
			printf("%016llx %s\n", (unsigned long long)va, argv[i]);
		}
	}
	if (j) {
		puts(json_object_to_json_string_ext(j, JSON_C_TO_STRING_PLAIN));
		json_object_put(j);
	}
	return ret;
}

static int mem_parse(int argc, char **argv, struct mem_opts *o)
{
	static const struct option longopts[] = {
	    CLI_TARGET_LONGOPTS,
	    {"phys", no_argument, NULL, 'P'},
	    {"pid", required_argument, NULL, 'p'},
	    {"raw", no_argument, NULL, 'r'},
	    {0},
	};
	int c;

	while ((c = getopt_long(argc, argv, "Pp:rh", longopts, NULL)) != -1) {
		char *end;

		if (cli_target_opt(&o->t, c, optarg))
			continue;
		switch (c) {
		case 'P':
			o->phys = true;
			break;
		case 'p':
			o->pid = strtol(optarg, &end, 10);
			if (*end || o->pid <= 0) {
				cli_err("mem", "bad pid '%s'", optarg);
				return EXIT_USAGE;
			}
			break;
		case 'r':
			o->raw = true;
			break;
		case 'h':
		case OPT_HELP:
			fputs(mem_help, stdout);
			return -1;
		default:
			fputs(mem_help, stderr);
			return EXIT_USAGE;
		}
	}
	if (o->phys && o->pid) {
		cli_err("mem", "--phys and --pid exclude each other");
		return EXIT_USAGE;
	}
	return cli_target_check("mem", &o->t);
}

int cmd_mem(int argc, char **argv)
{
	struct mem_opts o = {0};
	struct vmt_guest *g;
	const char *action;
	uint64_t pgd = 0;
	int err, ret;

	/* getopt permutes: options may come before or after the action. */
	err = mem_parse(argc, argv, &o);
	if (err)
		return err < 0 ? EXIT_OK : err;
	if (optind >= argc) {
		fputs(mem_help, stderr);
		return EXIT_USAGE;
	}
	action = argv[optind];
	argv += optind + 1;
	argc -= optind + 1;
	if (strcmp(action, "read") && strcmp(action, "translate") && strcmp(action, "sym")) {
		cli_err("mem", "unknown action '%s' (read, translate, sym)", action);
		return EXIT_USAGE;
	}
	g = cli_target_open("mem", &o.t);
	if (!g)
		return EXIT_FAIL;
	vmt_listing_begin(g);
	if (o.pid && (err = mem_pid_pgd(g, o.pid, &pgd))) {
		cli_err("mem", "no process %ld in the guest%s", o.pid,
			err == -ESRCH ? "" : " (task list unreadable)");
		cli_target_close(&o.t, g);
		return EXIT_FAIL;
	}
	if (!strcmp(action, "read"))
		ret = mem_read(g, &o, pgd, argc, argv);
	else if (!strcmp(action, "translate"))
		ret = mem_translate(g, &o, pgd, argc, argv);
	else
		ret = mem_sym(g, &o, argc, argv);
	vmt_listing_end(g);
	if (cli_target_close(&o.t, g))
		ret = EXIT_FAIL;
	return ret;
}

// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * cmd_profile.c - `vmt profile`: build the kernel profile of a vmlinuz and
 * query it (symbols, struct fields) without any VM.  Useful to warm the
 * cache before the first `vmt ps`, and to see what the walkers will see.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "profile/profile.h"

static const char profile_help[] =
    "usage: vmt profile <action> [args] --kernel VMLINUZ [options]\n"
    "       vmt profile <action> [args] --from-memory (--mem RAMFILE | --vm NAME) [options]\n\n"
    "Build or query the kernel profile (kallsyms symbols + BTF layouts) of a\n"
    "kernel image, or of the kernel running in a guest's memory.  The profile\n"
    "is cached, keyed by the image's contents (from memory: banner + BTF checksum).\n\n"
    "actions:\n"
    "  build                  build the profile (if not cached) and cache it\n"
    "  sym NAME|0xADDR...     link-time address of symbols, or the symbol at an address\n"
    "  field STRUCT FIELD     byte offset and size of a member (dotted path: se.vruntime)\n"
    "  size STRUCT            size of a struct or union\n"
    "  enum [ENUM] NAME       value of an enumerator\n"
    "  show                   banner, symbol count, cache file, load time, where\n"
    "                         each part came from\n\n"
    "options:\n"
    "  -k, --kernel PATH      vmlinuz (bzImage) or vmlinux ELF\n"
    "      --from-memory      find the kernel in guest memory instead (kallsyms and\n"
    "                         BTF from its image): with --mem RAMFILE [--machine\n"
    "                         pc|q35] or --vm NAME (link-time symbol addresses\n"
    "                         if the guest has vmcoreinfo, else its boot's)\n"
    "      --pagetable FILE   a split VM's page table (--mem); --fetch METHOD as\n"
    "                         for ps (the search itself reads only local pages)\n"
    "      --stats            pages read and time of the search, on stderr\n"
    "  -v, --verbose          say which kernel image in memory was taken, and why\n"
    "      --cache-dir DIR    profile cache (default $XDG_CACHE_HOME/vmemtrans)\n"
    "      --system-map PATH  System.map, used only if the image has no kallsyms\n"
    "      --no-cache         build in memory, write nothing\n"
    "  -f, --force            build even if a cached profile exists\n"
    "      --json             print JSON\n"
    "  -h, --help             this text\n\n"
    "exit status: 0 ok, 1 failed or not found, 2 bad usage\n";

/* Shared option values (OPT_CACHE_DIR, OPT_JSON, ...) come from cli.h. */
enum {
	OPT_NO_CACHE = OPT_CMD_BASE,
	OPT_FROM_MEMORY,
};

struct prof_cmd {
	struct vmt_profile_opts opts;
	bool from_memory;
	struct cli_target t; /* --from-memory: the guest */
	struct vmt_guest *g;
	bool json;
	const char *action;
	char **args;
	int nargs;
};

static void json_print(json_object *o)
{
	puts(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY |
						   JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(o);
}

static void summary_json(const struct vmt_profile *p)
{
	struct vmt_profile_info in;
	json_object *o = json_object_new_object();

	vmt_profile_info(p, &in);
	json_object_object_add(o, "banner", json_object_new_string(vmt_profile_banner(p)));
	json_object_object_add(o, "symbols", json_object_new_uint64(vmt_profile_nr_symbols(p)));
	json_object_object_add(o, "btf_bytes", json_object_new_uint64(in.btf_size));
	json_object_object_add(o, "memo_entries", json_object_new_uint64(in.nr_memo));
	json_object_object_add(o, "cache_path",
			       in.cache_path ? json_object_new_string(in.cache_path) : NULL);
	json_object_object_add(o, "from_cache", json_object_new_boolean(in.from_cache));
	json_object_object_add(o, "image_hash", json_object_new_uint64(in.image_hash));
	json_object_object_add(o, "image_size", json_object_new_uint64(in.image_size));
	json_object_object_add(o, "load_ms", json_object_new_double(in.load_ms));
	json_object_object_add(
	    o, "source",
	    json_object_new_string(in.source == VMT_PROFILE_FROM_MEMORY ? "memory" : "image"));
	if (in.source == VMT_PROFILE_FROM_MEMORY) {
		json_object_object_add(o, "text_pa", json_object_new_uint64(in.mem_text_pa));
		json_object_object_add(o, "kallsyms_pa",
				       json_object_new_uint64(in.mem_kallsyms_pa));
		json_object_object_add(o, "banner_pa", json_object_new_uint64(in.mem_banner_pa));
		json_object_object_add(o, "btf_pa", json_object_new_uint64(in.mem_btf_pa));
	} else if (in.kernel_path) {
		json_object_object_add(o, "kernel_path", json_object_new_string(in.kernel_path));
	}
	json_print(o);
}

static void summary_text(const struct vmt_profile *p, bool show)
{
	struct vmt_profile_info in;

	vmt_profile_info(p, &in);
	printf("kernel:   %s", vmt_profile_banner(p));
	if (!strchr(vmt_profile_banner(p), '\n'))
		putchar('\n');
	printf("symbols:  %zu\n", vmt_profile_nr_symbols(p));
	printf("BTF:      %zu bytes\n", in.btf_size);
	printf("cache:    %s (%s)\n", in.cache_path ? in.cache_path : "none",
	       in.from_cache ? "loaded from cache" : "built now");
	printf("time:     %.2f ms\n", in.load_ms);
	if (!show)
		return;
	printf("memo:     %zu remembered BTF answers\n", in.nr_memo);
	if (in.source != VMT_PROFILE_FROM_MEMORY) {
		printf("image:    %" PRIu64 " bytes, content hash %016" PRIx64 "\n", in.image_size,
		       in.image_hash);
		printf("source:   vmlinuz %s (kallsyms, banner, BTF)\n",
		       in.kernel_path ? in.kernel_path : "?");
		return;
	}
	printf("image:    %" PRIu64 " bytes (_text.._end), key %016" PRIx64 " (banner + BTF)\n",
	       in.image_size, in.image_hash);
	printf("source:   guest memory (the boot it was made from):\n"
	       "          _text at PA 0x%" PRIx64 ", kallsyms at PA 0x%" PRIx64 ",\n"
	       "          linux_banner at PA 0x%" PRIx64 ", BTF at PA 0x%" PRIx64 "\n",
	       in.mem_text_pa, in.mem_kallsyms_pa, in.mem_banner_pa, in.mem_btf_pa);
}

/* "0x..." asks for the symbol at an address; anything else is a name. */
static int sym_one(const struct vmt_profile *p, const char *arg, json_object *arr)
{
	uint64_t addr, off = 0;
	const char *name = NULL;
	char type = '?';

	if (!strncmp(arg, "0x", 2)) {
		addr = strtoull(arg, NULL, 16);
		name = vmt_profile_symbol_at(p, addr, &off);
		if (!name) {
			cli_err("profile", "no symbol contains %s", arg);
			return -ENOENT;
		}
		vmt_profile_symbol2(p, name, NULL, &type);
	} else {
		if (vmt_profile_symbol2(p, arg, &addr, &type)) {
			cli_err("profile", "%s", vmt_last_error());
			return -ENOENT;
		}
		name = arg;
	}
	if (arr) {
		json_object *o = json_object_new_object();

		json_object_object_add(o, "name", json_object_new_string(name));
		json_object_object_add(o, "address", json_object_new_uint64(addr - off));
		json_object_object_add(o, "type", json_object_new_string_len(&type, 1));
		if (off)
			json_object_object_add(o, "offset", json_object_new_uint64(off));
		json_object_array_add(arr, o);
	} else if (off) {
		printf("%s = %s+0x%" PRIx64 "\n", arg, name, off);
	} else {
		printf("%016" PRIx64 " %c %s\n", addr, type, name);
	}
	return 0;
}

static int act_sym(struct vmt_profile *p, const struct prof_cmd *c)
{
	json_object *arr = c->json ? json_object_new_array() : NULL;
	int rc = EXIT_OK;

	for (int i = 0; i < c->nargs; i++)
		if (sym_one(p, c->args[i], arr))
			rc = EXIT_FAIL;
	if (arr)
		json_print(arr);
	return rc;
}

static int act_field(struct vmt_profile *p, const struct prof_cmd *c)
{
	uint32_t off, size;

	if (vmt_profile_field2(p, c->args[0], c->args[1], &off, &size)) {
		cli_err("profile", "%s", vmt_last_error());
		return EXIT_FAIL;
	}
	if (c->json) {
		json_object *o = json_object_new_object();

		json_object_object_add(o, "struct", json_object_new_string(c->args[0]));
		json_object_object_add(o, "field", json_object_new_string(c->args[1]));
		json_object_object_add(o, "offset", json_object_new_uint64(off));
		json_object_object_add(o, "size", json_object_new_uint64(size));
		json_print(o);
	} else {
		printf("%s.%s: offset %u (0x%x), size %u\n", c->args[0], c->args[1], off, off,
		       size);
	}
	return EXIT_OK;
}

static int act_size(struct vmt_profile *p, const struct prof_cmd *c)
{
	uint32_t size;

	if (vmt_profile_struct_size(p, c->args[0], &size)) {
		cli_err("profile", "%s", vmt_last_error());
		return EXIT_FAIL;
	}
	if (c->json) {
		json_object *o = json_object_new_object();

		json_object_object_add(o, "struct", json_object_new_string(c->args[0]));
		json_object_object_add(o, "size", json_object_new_uint64(size));
		json_print(o);
	} else {
		printf("%s: %u bytes\n", c->args[0], size);
	}
	return EXIT_OK;
}

static int act_enum(struct vmt_profile *p, const struct prof_cmd *c)
{
	const char *type = c->nargs == 2 ? c->args[0] : NULL, *name = c->args[c->nargs - 1];
	int64_t val;

	if (vmt_profile_enum(p, type, name, &val)) {
		cli_err("profile", "%s", vmt_last_error());
		return EXIT_FAIL;
	}
	if (c->json) {
		json_object *o = json_object_new_object();

		json_object_object_add(o, "name", json_object_new_string(name));
		json_object_object_add(o, "value", json_object_new_int64(val));
		json_print(o);
	} else {
		printf("%s = %" PRId64 "\n", name, val);
	}
	return EXIT_OK;
}

static int act_summary(struct vmt_profile *p, const struct prof_cmd *c)
{
	if (c->json)
		summary_json(p);
	else
		summary_text(p, !strcmp(c->action, "show"));
	return EXIT_OK;
}

struct action {
	const char *name;
	int min_args, max_args;
	int (*fn)(struct vmt_profile *p, const struct prof_cmd *c);
};

static const struct action actions[] = {
    {"build", 0, 0, act_summary}, {"show", 0, 0, act_summary}, {"sym", 1, 1 << 20, act_sym},
    {"field", 2, 2, act_field},	  {"size", 1, 1, act_size},    {"enum", 1, 2, act_enum},
};

/* --verbose: the library's progress (which kernel image was taken, and why) on stderr. */
static void log_verbose(enum vmt_log_level level, const char *msg, void *arg)
{
	(void)arg;
	fprintf(stderr, "vmt: profile: %s%s\n", level <= VMT_LOG_WARN ? "warning: " : "", msg);
}

static const struct option longopts[] = {
    {"kernel", required_argument, NULL, 'k'},
    {"cache-dir", required_argument, NULL, OPT_CACHE_DIR},
    {"system-map", required_argument, NULL, OPT_SYSTEM_MAP},
    {"no-cache", no_argument, NULL, OPT_NO_CACHE},
    {"from-memory", no_argument, NULL, OPT_FROM_MEMORY},
    {"mem", required_argument, NULL, OPT_MEM},
    {"vm", required_argument, NULL, OPT_VM},
    {"machine", required_argument, NULL, OPT_MACHINE},
    {"pagetable", required_argument, NULL, OPT_PAGETABLE},
    {"fetch", required_argument, NULL, OPT_FETCH},
    {"stats", no_argument, NULL, OPT_STATS},
    {"verbose", no_argument, NULL, 'v'},
    {"force", no_argument, NULL, 'f'},
    {"json", no_argument, NULL, OPT_JSON},
    {"help", no_argument, NULL, 'h'},
    {0},
};

/* One option into c: 0 to go on, 1 for --help, EXIT_USAGE if unknown. */
static int parse_opt(int o, struct prof_cmd *c)
{
	switch (o) {
	case 'k':
		c->opts.kernel_path = optarg;
		return 0;
	case OPT_CACHE_DIR:
		c->opts.cache_dir = optarg;
		return 0;
	case OPT_SYSTEM_MAP:
		c->opts.system_map = optarg;
		return 0;
	case OPT_NO_CACHE:
		c->opts.no_cache = 1;
		return 0;
	case OPT_FROM_MEMORY:
		c->from_memory = true;
		return 0;
	case 'v':
		vmt_set_log(log_verbose, NULL, VMT_LOG_INFO);
		return 0;
	case 'f':
		c->opts.rebuild = 1;
		return 0;
	case OPT_JSON:
		c->json = true;
		return 0;
	case 'h':
	case OPT_HELP:
		return 1;
	}
	/* --mem, --vm, --machine, --pagetable, --fetch, --stats: the guest of --from-memory */
	if (cli_target_opt(&c->t, o, optarg))
		return 0;
	cli_err("profile", "bad usage (see 'vmt profile --help')"); /* getopt said why */
	return EXIT_USAGE;
}

/* Options into c; positional words into c->action and c->args.  EXIT_OK to go on. */
static int parse_args(int argc, char **argv, struct prof_cmd *c, bool *help)
{
	int o, r;

	while ((o = getopt_long(argc, argv, "k:fhv", longopts, NULL)) != -1) {
		r = parse_opt(o, c);
		if (r == 1)
			*help = true;
		if (r)
			return r == 1 ? EXIT_OK : r;
	}
	if (optind >= argc) {
		cli_err("profile", "no action given (see 'vmt profile --help')");
		return EXIT_USAGE;
	}
	c->action = argv[optind];
	c->args = argv + optind + 1;
	c->nargs = argc - optind - 1;
	return EXIT_OK;
}

/* --from-memory: open the guest without a kernel image; its profile is the one found. */
static struct vmt_profile *load_memory(struct prof_cmd *c)
{
	double t0 = cli_now_ms();

	c->t.cache_dir = c->opts.cache_dir;
	c->t.no_kernel = true; /* also for a --vm whose descriptor names one */
	c->g = cli_target_open("profile", &c->t);
	if (c->g)
		cli_target_stats(&c->t, c->g, cli_now_ms() - t0);
	return c->g ? vmt_guest_profile(c->g) : NULL;
}

/* `build` also proves a cached profile intact, every byte, and rebuilds it if not. */
static struct vmt_profile *load(struct prof_cmd *c)
{
	struct vmt_profile *p = c->from_memory ? load_memory(c) : vmt_profile_load(&c->opts);
	struct vmt_profile_info in;

	if (!p || strcmp(c->action, "build"))
		return p;
	vmt_profile_info(p, &in);
	if (!in.from_cache || !vmt_profile_verify(p) || c->from_memory)
		return p;
	cli_err("profile", "%s: rebuilding", vmt_last_error());
	vmt_profile_free(p);
	c->opts.rebuild = 1;
	return vmt_profile_load(&c->opts);
}

/* Exactly one source: --kernel, or --from-memory with its guest. */
static int check_source(const struct prof_cmd *c)
{
	if (!c->from_memory &&
	    (c->t.mem || c->t.vm || c->t.machine || c->t.pagetable || c->t.fetch || c->t.stats)) {
		cli_err("profile",
			"--mem, --vm, --machine, --pagetable, --fetch and --stats go with "
			"--from-memory");
		return EXIT_USAGE;
	}
	if (!c->from_memory && !c->opts.kernel_path) {
		cli_err("profile", "--kernel VMLINUZ or --from-memory is required");
		return EXIT_USAGE;
	}
	if (c->from_memory &&
	    (c->opts.kernel_path || c->opts.system_map || c->opts.no_cache || c->opts.rebuild)) {
		cli_err("profile", "--from-memory takes no --kernel, --system-map, --no-cache or "
				   "--force (remove the cache file to rebuild)");
		return EXIT_USAGE;
	}
	if (c->from_memory && !c->t.mem && !c->t.vm) {
		cli_err("profile", "--from-memory needs --mem RAMFILE or --vm NAME");
		return EXIT_USAGE;
	}
	return EXIT_OK;
}

int cmd_profile(int argc, char **argv)
{
	struct prof_cmd c = {.opts.sz = sizeof(c.opts)};
	const struct action *a = NULL;
	struct vmt_profile *p;
	bool help = false;
	int rc;

	rc = parse_args(argc, argv, &c, &help);
	if (help) {
		fputs(profile_help, stdout);
		return EXIT_OK;
	}
	if (rc)
		return rc;
	for (size_t i = 0; i < sizeof(actions) / sizeof(actions[0]); i++)
		if (!strcmp(c.action, actions[i].name))
			a = &actions[i];
	if (!a) {
		cli_err("profile", "unknown action '%s' (see 'vmt profile --help')", c.action);
		return EXIT_USAGE;
	}
	if (c.nargs < a->min_args || c.nargs > a->max_args) {
		cli_err("profile", "wrong number of arguments for '%s' (see 'vmt profile --help')",
			a->name);
		return EXIT_USAGE;
	}
	rc = check_source(&c);
	if (rc)
		return rc;
	p = load(&c);
	if (!p) {
		if (!c.from_memory) /* cli_target_open said why */
			cli_err("profile", "%s", vmt_last_error());
		return EXIT_FAIL;
	}
	rc = a->fn(p, &c);
	if (c.from_memory)
		return cli_target_close(&c.t, c.g) ? EXIT_FAIL : rc;
	vmt_profile_free(p);
	return rc;
}

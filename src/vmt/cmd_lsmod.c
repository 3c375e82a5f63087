// SPDX-License-Identifier: LGPL-2.1-or-later
/* cmd_lsmod.c - `vmt lsmod`: the guest's kernel modules, as /proc/modules. */
#include <getopt.h>
#include <json-c/json.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"

static const char lsmod_help[] =
    "usage: vmt lsmod [options]\n\n"
    "List the guest's loaded kernel modules from its memory (the kernel's module\n"
    "list), like lsmod: name, size, use count and users.\n\n"
    "options:\n"
    "  --proc             print in the format of /proc/modules\n"
    "  --views            every module any view finds (the list, /sys/module's kset,\n"
    "                     the module tree, a scan of module memory), with the views\n"
    "                     that saw it (JSON: seen_by, kva): see vmt hidden\n" CLI_TARGET_HELP;

static json_object *lsmod_json(const struct vmt_module *m, bool views)
{
	json_object *o = json_object_new_object();

	json_object_object_add(o, "name", json_object_new_string(m->name));
	json_object_object_add(o, "size", json_object_new_uint64(m->size));
	json_object_object_add(o, "refcnt", json_object_new_int(m->refcnt));
	json_object_object_add(o, "deps", json_object_new_string(m->deps));
	json_object_object_add(o, "state", json_object_new_string(m->state));
	json_object_object_add(o, "base", json_object_new_uint64(m->base));
	if (views) {
		json_object_object_add(
		    o, "seen_by",
		    cli_views_json(m->seen_by, VMT_MVIEW_COUNT, vmt_module_view_name));
		json_object_object_add(o, "kva", json_object_new_uint64(m->kva));
	}
	return o;
}

/* As kmod's lsmod: "Used by" is the count and the users without /proc's trailing comma. */
static void lsmod_print_row(const struct vmt_module *m, bool views)
{
	size_t n = m->deps[0] == '-' ? 0 : strlen(m->deps);

	if (n && m->deps[n - 1] == ',')
		n--;
	if (views) {
		char seen[32];

		cli_views_str(m->seen_by, VMT_MVIEW_COUNT, vmt_module_view_name, seen,
			      sizeof(seen));
		printf("%-19s %8llu  %-20s %d %.*s\n", m->name, (unsigned long long)m->size, seen,
		       m->refcnt, (int)n, m->deps);
		return;
	}
	printf("%-19s %8llu  %d %.*s\n", m->name, (unsigned long long)m->size, m->refcnt, (int)n,
	       m->deps);
}

static void lsmod_print(const struct vmt_module_list *l, bool json, bool proc, bool views)
{
	json_object *a;

	if (json) {
		a = json_object_new_array();
		for (size_t i = 0; i < l->n; i++)
			json_object_array_add(a, lsmod_json(&l->mods[i], views));
		puts(json_object_to_json_string_ext(a, JSON_C_TO_STRING_PLAIN));
		json_object_put(a);
		return;
	}
	if (!proc && views)
		printf("%-19s %8s  %-20s %s\n", "Module", "Size", "Seen by", "Used by");
	else if (!proc)
		printf("%-19s %8s  %s\n", "Module", "Size", "Used by");
	for (size_t i = 0; i < l->n; i++) {
		const struct vmt_module *m = &l->mods[i];

		if (proc)
			printf("%s %llu %d %s %s 0x%016llx\n", m->name, (unsigned long long)m->size,
			       m->refcnt, m->deps, m->state, (unsigned long long)m->base);
		else
			lsmod_print_row(m, views);
	}
}

int cmd_lsmod(int argc, char **argv)
{
	static const struct option longopts[] = {
	    CLI_TARGET_LONGOPTS,
	    {"proc", no_argument, NULL, OPT_CMD_BASE},
	    {"views", no_argument, NULL, OPT_CMD_BASE + 1},
	    {0},
	};
	struct cli_target t = {0};
	struct vmt_module_list *l = NULL;
	struct vmt_guest *g;
	bool proc = false, views = false;
	bool partial;
	double t0;
	int c, err;

	while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		if (cli_target_opt(&t, c, optarg))
			continue;
		if (c == OPT_CMD_BASE) {
			proc = true;
		} else if (c == OPT_CMD_BASE + 1) {
			views = true;
		} else if (c == 'h' || c == OPT_HELP) {
			fputs(lsmod_help, stdout);
			return EXIT_OK;
		} else {
			fputs(lsmod_help, stderr);
			return EXIT_USAGE;
		}
	}
	if (optind != argc) {
		cli_err("lsmod", "unexpected argument '%s'", argv[optind]);
		return EXIT_USAGE;
	}
	if (cli_target_check("lsmod", &t))
		return EXIT_USAGE;
	t0 = cli_now_ms();
	g = cli_target_open("lsmod", &t);
	if (!g)
		return EXIT_FAIL;
	vmt_listing_begin(g);
	err = views ? vmt_modules_views(g, &l) : vmt_modules(g, &l);
	vmt_listing_end(g);
	if (err && !l)
		cli_err("lsmod", "%s", vmt_last_error());
	if (l)
		lsmod_print(l, t.json, proc, views);
	partial = l && (l->flags & VMT_F_PARTIAL);
	if (partial)
		cli_err("lsmod", "module list is corrupt, listing is incomplete: %s",
			vmt_last_error());
	cli_target_stats(&t, g, cli_now_ms() - t0);
	vmt_module_list_free(l);
	if (cli_target_close(&t, g))
		partial = true;
	return err || partial ? EXIT_FAIL : EXIT_OK;
}

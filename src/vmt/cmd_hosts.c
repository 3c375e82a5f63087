// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * cmd_hosts.c - `vmt hosts`: make, show and remove the emulated main host
 * and sub-hosts (network namespaces, veth pairs, tc tbf, tmpfs stores).
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "pagetable/pagetable.h"
#include "hosts/hosts.h"

static const char hosts_help[] =
    "usage: vmt hosts [up|down|show] [options]\n\n"
    "The emulated hosts of a split VM: a main host and N sub-hosts as network\n"
    "namespaces P-main, P-sub1..P-subN, sub-host k joined to the main host by its own\n"
    "veth pair (P-m<k> in main, P-s<k> in the sub-host) rate-limited with tc tbf on both\n"
    "ends, and a tmpfs memory store per sub-host whose size is its capacity.\n"
    "State: <run dir>/hosts/<P>/hosts.json (run dir = $VMT_RUN_DIR or /run/vmemtrans).\n\n"
    "  up       make the hosts (idempotent)\n"
    "  down     remove everything of a prefix, exports included\n"
    "  show     hosts, addresses, link rates, store use, exports (the default)\n\n"
    "Run `vmt hosts <command> --help` for a command's options.  Needs root.\n";

static const char up_help[] =
    "usage: vmt hosts up [options]\n\n"
    "Make a main host and N sub-hosts.  Link k is SUBNET.k.1/24 (main side) and\n"
    "SUBNET.k.2/24 (sub-host side).  A second `up` with the same options changes\n"
    "nothing; with other options it says what differs and exits 1.  A failure half-way\n"
    "undoes what was made.\n\n"
    "options:\n"
    "  --subhosts N       sub-hosts, 1 to 16 (default 2)\n"
    "  --link RATE|none   tc rate on both ends of each link, e.g. 1gbit, 100mbit,\n"
    "                     50mbps (default 1gbit); none = bare veth\n"
    "  --capacity BYTES   memory store per sub-host, e.g. 8G, 512M (default 8G);\n"
    "                     tmpfs: only what is written is used, a full store answers ENOSPC\n"
    "  --subnet A.B       first two octets of the link addresses (default 10.77)\n"
    "  --prefix P         1-8 of [a-z0-9] (default $VMT_HOSTS_PREFIX or vmt)\n"
    "  --monitor          also a monitoring host P-mon (SUBNET.0.2, main side SUBNET.0.1),\n"
    "                     linked like a sub-host: an IDS there reads VMs with --from\n"
    "  --json             print the state as JSON\n"
    "  --help             this text\n\n"
    "Every host reaches every other through the main host (it forwards; the others\n"
    "route SUBNET.0.0/16 via their link), so a reader on a sub-host or the monitor\n"
    "fetches a split VM's chunks from the sub-hosts directly.\n";

static const char down_help[] =
    "usage: vmt hosts down [--prefix P]\n\n"
    "Stop the exports of prefix P, unmount the stores, delete the veths and the\n"
    "namespaces, remove the state.  Works on a half-made or stale state too (best\n"
    "effort; says what it could not remove and exits 1).  Nothing to remove: exit 0.\n";

static const char show_help[] =
    "usage: vmt hosts [show] [--prefix P] [--json]\n\n"
    "Hosts, addresses, link rates (read back from tc), store capacity and bytes used,\n"
    "and the exports running (VM, address, supervisor pid, alive).\n";

enum {
	O_SUBHOSTS = OPT_CMD_BASE,
	O_LINK,
	O_CAPACITY,
	O_SUBNET,
	O_PREFIX,
	O_JSON,
	O_HELP,
	O_MONITOR,
};

static int hosts_usage(const char *help, const char *fmt, const char *arg)
{
	fprintf(stderr, "vmt: hosts: ");
	fprintf(stderr, fmt, arg);
	fprintf(stderr, "\n\n%s", help);
	return EXIT_USAGE;
}

static int up_parse(int argc, char **argv, struct vmt_hosts_up_opts *o, bool *json)
{
	static const struct option longopts[] = {
	    {"subhosts", required_argument, NULL, O_SUBHOSTS},
	    {"link", required_argument, NULL, O_LINK},
	    {"capacity", required_argument, NULL, O_CAPACITY},
	    {"subnet", required_argument, NULL, O_SUBNET},
	    {"prefix", required_argument, NULL, O_PREFIX},
	    {"monitor", no_argument, NULL, O_MONITOR},
	    {"json", no_argument, NULL, O_JSON},
	    {"help", no_argument, NULL, O_HELP},
	    {0},
	};
	char *end;
	int c;

	optind = 0;
	while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (c) {
		case O_SUBHOSTS:
			o->nr_sub = (int)strtol(optarg, &end, 10);
			if (*end || end == optarg || o->nr_sub < 1 || o->nr_sub > VMT_HOSTS_SUB_MAX)
				return hosts_usage(up_help, "bad --subhosts '%s': 1 to 16", optarg);
			break;
		case O_LINK:
			o->link = optarg;
			break;
		case O_CAPACITY:
			if (vmt_pt_parse_size(optarg, &o->capacity) || !o->capacity)
				return hosts_usage(up_help, "bad --capacity '%s' (e.g. 8G, 512M)",
						   optarg);
			break;
		case O_SUBNET:
			o->subnet = optarg;
			break;
		case O_PREFIX:
			o->prefix = optarg;
			break;
		case O_MONITOR:
			o->monitor = true;
			break;
		case O_JSON:
			*json = true;
			break;
		case O_HELP:
		case 'h':
			fputs(up_help, stdout);
			return -1;
		default:
			fputs(up_help, stderr);
			return EXIT_USAGE;
		}
	}
	if (optind < argc)
		return hosts_usage(up_help, "unexpected argument '%s'", argv[optind]);
	return EXIT_OK;
}

static void print_json(const struct vmt_hosts *h);

static int hosts_up(int argc, char **argv)
{
	struct vmt_hosts_up_opts o = {.sz = sizeof(o)};
	struct vmt_hosts *h;
	bool json = false, already = false;
	int ret = up_parse(argc, argv, &o, &json);

	if (ret)
		return ret < 0 ? EXIT_OK : ret;
	h = calloc(1, sizeof(*h));
	if (!h)
		return EXIT_FAIL;
	ret = vmt_hosts_up(&o, h, &already);
	if (ret) {
		cli_err("hosts", "%s", vmt_last_error());
		free(h);
		return ret == -EINVAL ? EXIT_USAGE : EXIT_FAIL;
	}
	if (json) {
		print_json(h);
	} else {
		printf("%s: main host %s, %d sub-host%s, link %s, capacity %" PRIu64
		       " bytes each\n",
		       already ? "already up" : "up", h->main_netns, h->nr_sub,
		       h->nr_sub > 1 ? "s" : "", h->link, h->capacity);
		for (int k = 0; k < h->nr_sub; k++)
			printf("  %-6s %-14s %s (main side %s)\n", h->sub[k].name, h->sub[k].netns,
			       h->sub[k].addr, h->sub[k].main_addr);
		if (h->monitor)
			printf("  %-6s %-14s %s (main side %s)\n", "mon", h->mon.netns, h->mon.addr,
			       h->mon.main_addr);
	}
	free(h);
	return EXIT_OK;
}

/* --prefix P [--json] for down and show. */
static int prefix_parse(int argc, char **argv, const char *help, const char **prefix, bool *json)
{
	static const struct option longopts[] = {
	    {"prefix", required_argument, NULL, O_PREFIX},
	    {"json", no_argument, NULL, O_JSON},
	    {"help", no_argument, NULL, O_HELP},
	    {0},
	};
	int c;

	optind = 0;
	while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		if (c == O_PREFIX) {
			*prefix = optarg;
		} else if (c == O_JSON && json) {
			*json = true;
		} else if (c == O_HELP || c == 'h') {
			fputs(help, stdout);
			return -1;
		} else {
			if (c == O_JSON)
				fprintf(stderr, "vmt: hosts: --json is not an option here\n");
			fputs(help, stderr);
			return EXIT_USAGE;
		}
	}
	if (optind < argc)
		return hosts_usage(help, "unexpected argument '%s'", argv[optind]);
	return EXIT_OK;
}

static int hosts_down(int argc, char **argv)
{
	const char *prefix = NULL;
	char p[VMT_HOSTS_PREFIX_MAX + 1];
	int ret = prefix_parse(argc, argv, down_help, &prefix, NULL);

	if (ret)
		return ret < 0 ? EXIT_OK : ret;
	if (vmt_hosts_prefix(prefix, p)) {
		cli_err("hosts", "%s", vmt_last_error());
		return EXIT_USAGE;
	}
	ret = vmt_hosts_down(p);
	if (ret == -ENOENT) {
		printf("no hosts of prefix '%s': nothing to do\n", p);
		return EXIT_OK;
	}
	if (ret) {
		cli_err("hosts", "%s", vmt_last_error());
		return EXIT_FAIL;
	}
	printf("down: hosts of prefix '%s' removed\n", p);
	return EXIT_OK;
}

/* ---------------------------------------------------------------- show */

struct sub_view {
	char rate_main[32], rate_sub[32];
	uint64_t used;
	struct vmt_serve_entry *served;
	size_t nr_served;
};

static void view_fill(const struct vmt_hosts_sub *s, struct sub_view *v)
{
	memset(v, 0, sizeof(*v));
	if (vmt_hosts_link_rate(s->netns, s->sub_if, v->rate_sub, sizeof(v->rate_sub)))
		snprintf(v->rate_sub, sizeof(v->rate_sub), "?");
	vmt_hosts_store_used(s->store, &v->used);
	if (vmt_serve_list(s->store, &v->served, &v->nr_served)) {
		v->served = NULL;
		v->nr_served = 0;
	}
}

static void view_fill_main(const struct vmt_hosts *h, const struct vmt_hosts_sub *s,
			   struct sub_view *v)
{
	if (vmt_hosts_link_rate(h->main_netns, s->main_if, v->rate_main, sizeof(v->rate_main)))
		snprintf(v->rate_main, sizeof(v->rate_main), "?");
}

static const struct vmt_serve_entry *view_served(const struct sub_view *v, const char *vm)
{
	for (size_t i = 0; i < v->nr_served; i++)
		if (!strcmp(v->served[i].vm, vm))
			return &v->served[i];
	return NULL;
}

static struct json_object *export_json(const struct vmt_hosts_export *e, const struct sub_view *v)
{
	const struct vmt_serve_entry *se = view_served(v, e->vm);
	struct json_object *o = json_object_new_object();

	json_object_object_add(o, "vm", json_object_new_string(e->vm));
	json_object_object_add(o, "addr", json_object_new_string(e->addr));
	json_object_object_add(o, "port", json_object_new_int((int)e->port));
	json_object_object_add(o, "pid", json_object_new_int(se ? se->pid : 0));
	json_object_object_add(o, "nbdkit_pid", json_object_new_int(se ? se->nbdkit_pid : 0));
	json_object_object_add(o, "alive", json_object_new_boolean(se && se->alive));
	json_object_object_add(o, "insecure", json_object_new_boolean(e->insecure));
	json_object_object_add(o, "size", json_object_new_int64((int64_t)e->size));
	json_object_object_add(o, "used", json_object_new_int64(se ? (int64_t)se->used : 0));
	return o;
}

static void print_json(const struct vmt_hosts *h)
{
	struct json_object *o = json_object_new_object(), *subs = json_object_new_array();

	json_object_object_add(o, "prefix", json_object_new_string(h->prefix));
	json_object_object_add(o, "complete", json_object_new_boolean(h->complete));
	json_object_object_add(o, "main_netns", json_object_new_string(h->main_netns));
	json_object_object_add(o, "link", json_object_new_string(h->link));
	json_object_object_add(o, "subnet", json_object_new_string(h->subnet));
	json_object_object_add(o, "capacity", json_object_new_int64((int64_t)h->capacity));
	for (int k = 0; k < h->nr_sub; k++) {
		const struct vmt_hosts_sub *s = &h->sub[k];
		struct json_object *so = json_object_new_object(), *ex = json_object_new_array();
		struct sub_view v;

		view_fill(s, &v);
		view_fill_main(h, s, &v);
		json_object_object_add(so, "name", json_object_new_string(s->name));
		json_object_object_add(so, "netns", json_object_new_string(s->netns));
		json_object_object_add(so, "addr", json_object_new_string(s->addr));
		json_object_object_add(so, "main_addr", json_object_new_string(s->main_addr));
		json_object_object_add(so, "main_if", json_object_new_string(s->main_if));
		json_object_object_add(so, "sub_if", json_object_new_string(s->sub_if));
		json_object_object_add(so, "rate_main", json_object_new_string(v.rate_main));
		json_object_object_add(so, "rate_sub", json_object_new_string(v.rate_sub));
		json_object_object_add(so, "store", json_object_new_string(s->store));
		json_object_object_add(so, "used", json_object_new_int64((int64_t)v.used));
		for (size_t i = 0; i < s->nr_exports; i++)
			json_object_array_add(ex, export_json(&s->exports[i], &v));
		json_object_object_add(so, "exports", ex);
		json_object_array_add(subs, so);
		free(v.served);
	}
	json_object_object_add(o, "subhosts", subs);
	if (h->monitor) {
		struct json_object *m = json_object_new_object();

		json_object_object_add(m, "netns", json_object_new_string(h->mon.netns));
		json_object_object_add(m, "addr", json_object_new_string(h->mon.addr));
		json_object_object_add(m, "main_addr", json_object_new_string(h->mon.main_addr));
		json_object_object_add(m, "main_if", json_object_new_string(h->mon.main_if));
		json_object_object_add(m, "mon_if", json_object_new_string(h->mon.mon_if));
		json_object_object_add(o, "monitor", m);
	}
	puts(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY));
	json_object_put(o);
}

static void print_text(const struct vmt_hosts *h)
{
	printf("prefix %s%s: main host %s, link %s, capacity %" PRIu64 " bytes per sub-host\n",
	       h->prefix, h->complete ? "" : " (HALF MADE: run `vmt hosts down`)", h->main_netns,
	       h->link, h->capacity);
	printf("%-6s %-14s %-15s %-15s %-10s %-10s %14s\n", "HOST", "NETNS", "ADDR", "MAIN ADDR",
	       "RATE MAIN", "RATE SUB", "STORE USED");
	for (int k = 0; k < h->nr_sub; k++) {
		const struct vmt_hosts_sub *s = &h->sub[k];
		struct sub_view v;

		view_fill(s, &v);
		view_fill_main(h, s, &v);
		printf("%-6s %-14s %-15s %-15s %-10s %-10s %14" PRIu64 "\n", s->name, s->netns,
		       s->addr, s->main_addr, v.rate_main, v.rate_sub, v.used);
		for (size_t i = 0; i < s->nr_exports; i++) {
			const struct vmt_hosts_export *e = &s->exports[i];
			const struct vmt_serve_entry *se = view_served(&v, e->vm);

			printf("       export %-16s %-21s pid %-7d %s%s\n", e->vm, e->addr,
			       se ? (int)se->pid : 0, se && se->alive ? "alive" : "DEAD",
			       e->insecure ? " (insecure: no TLS)" : "");
		}
		free(v.served);
	}
	if (h->monitor)
		printf("%-6s %-14s %-15s %-15s\n", "mon", h->mon.netns, h->mon.addr,
		       h->mon.main_addr);
}

static int hosts_show(int argc, char **argv)
{
	const char *prefix = NULL;
	struct vmt_hosts *h;
	bool json = false;
	int ret = prefix_parse(argc, argv, show_help, &prefix, &json);

	if (ret)
		return ret < 0 ? EXIT_OK : ret;
	h = calloc(1, sizeof(*h));
	if (!h)
		return EXIT_FAIL;
	ret = vmt_hosts_load(prefix, h);
	if (ret) {
		cli_err("hosts", "%s", vmt_last_error());
		free(h);
		return ret == -EINVAL ? EXIT_USAGE : EXIT_FAIL;
	}
	if (json)
		print_json(h);
	else
		print_text(h);
	free(h);
	return EXIT_OK;
}

int cmd_hosts(int argc, char **argv)
{
	if (argc >= 2 &&
	    (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help"))) {
		fputs(hosts_help, stdout);
		return EXIT_OK;
	}
	if (argc < 2 || argv[1][0] == '-')
		return hosts_show(argc, argv);
	if (!strcmp(argv[1], "up"))
		return hosts_up(argc - 1, argv + 1);
	if (!strcmp(argv[1], "down"))
		return hosts_down(argc - 1, argv + 1);
	if (!strcmp(argv[1], "show"))
		return hosts_show(argc - 1, argv + 1);
	cli_err("hosts", "unknown command '%s' (see 'vmt hosts --help')", argv[1]);
	return EXIT_USAGE;
}

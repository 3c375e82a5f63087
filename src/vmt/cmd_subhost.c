// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * cmd_subhost.c - `vmt subhost`: serve one VM's sub-host memory over NBD
 * with nbdkit (TLS-PSK), supervised; start/stop such exports on the
 * sub-hosts of `vmt hosts`; make a key file.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "pagetable/pagetable.h"
#include "hosts/hosts.h"
#include "subhost/subhost.h"

static const char subhost_help[] =
    "usage: vmt subhost <serve|start|stop|list|crash|key> [options]\n\n"
    "A VM's memory on a sub-host is one NBD export served by nbdkit (file plugin on a\n"
    "sparse file in the sub-host's store), TLS with a pre-shared key per VM.\n\n"
    "  serve    serve a VM's memory on the host this runs on (supervised nbdkit)\n"
    "  start    serve it on a sub-host of `vmt hosts` (picks a port, records it)\n"
    "  stop     stop serving a VM (and remove its data unless --keep-data)\n"
    "  list     what a store (or sub-host) serves\n"
    "  crash    for tests: SIGKILL nbdkit and wait until the supervisor restarts it\n"
    "  key      make a TLS-PSK key file (mode 0600)\n\n"
    "Run `vmt subhost <command> --help` for a command's options.\n";

static const char serve_help[] =
    "usage: vmt subhost serve --vm NAME --size BYTES --store DIR --listen ADDR:PORT\n"
    "                         (--psk FILE | --insecure) [--foreground] [--netns NS]\n\n"
    "Serve DIR/NAME.mem (a sparse file of BYTES, created if absent, kept if present:\n"
    "a restarted sub-host comes back with its data) as NBD export NAME with nbdkit's\n"
    "file plugin (trim frees memory; a full store answers ENOSPC), TLS required with\n"
    "the key file FILE (its path goes to nbdkit, never the key).  nbdkit is\n"
    "supervised: restarted if it dies (backoff 0.2 s to 5 s, at most 10 restarts a\n"
    "minute).  Files: DIR/NAME.pid (supervisor), NAME.nbdkit.pid, NAME.log.\n"
    "Without --foreground it detaches and returns once nbdkit accepts connections.\n\n"
    "options:\n"
    "  --vm NAME          VM name = export name\n"
    "  --size BYTES       export size, e.g. 512M, 2G (a multiple of 4096)\n"
    "  --store DIR        where the data lives (a tmpfs whose size is the capacity)\n"
    "  --listen ADDR:PORT address to listen on (numeric)\n"
    "  --psk FILE         TLS-PSK key file (`vmt subhost key`, or psktool's format)\n"
    "  --insecure         plain NBD without TLS: guest memory in clear (comparison only)\n"
    "  --foreground       supervise in this process until SIGTERM/SIGINT\n"
    "  --netns NS         enter network namespace NS (/run/netns/NS) first\n"
    "  --help             this text\n";

static const char start_help[] =
    "usage: vmt subhost start --on SUB --vm NAME --size BYTES (--psk FILE | --insecure)\n"
    "                         [--prefix P]\n\n"
    "Serve a VM's memory on sub-host SUB (e.g. sub1) of `vmt hosts up`: runs `vmt\n"
    "subhost serve` in its namespace on the first free port from 10809, records the\n"
    "export in the hosts state and prints ADDR:PORT and the export name.  An export of\n"
    "this VM already running there is printed as is.\n";

static const char stop_help[] =
    "usage: vmt subhost stop --vm NAME (--store DIR | --on SUB [--prefix P]) [--keep-data]\n\n"
    "Stop the supervisor and nbdkit of a VM; remove its data file unless --keep-data.\n";

static const char list_help[] = "usage: vmt subhost list (--store DIR | --on SUB [--prefix P])\n\n"
				"The VMs a store holds: supervisor and nbdkit pids, alive, size,\n"
				"bytes used, listen address.\n";

static const char crash_help[] =
    "usage: vmt subhost crash --on SUB --vm NAME [--prefix P]\n\n"
    "For tests: kill the export's nbdkit with SIGKILL and wait (at most 15 s) until the\n"
    "supervisor has it serving again, with its data.\n";

static const char key_help[] = "usage: vmt subhost key --out FILE [--user NAME]\n\n"
			       "Write a new TLS-PSK key file (mode 0600, \"NAME:<64 hex>\", 256\n"
			       "random bits; NAME defaults to vmt).  Refuses to overwrite.\n";

enum {
	O_VM = OPT_CMD_BASE,
	O_SIZE,
	O_STORE,
	O_LISTEN,
	O_PSK,
	O_INSECURE,
	O_FOREGROUND,
	O_NETNS,
	O_ON,
	O_PREFIX,
	O_KEEP,
	O_OUT,
	O_USER,
	O_HELP,
};

struct sub_args {
	const char *vm, *store, *listen, *psk, *netns, *on, *prefix, *out, *user;
	uint64_t size;
	bool insecure, foreground, keep;
};

static int sub_usage(const char *help, const char *fmt, const char *arg)
{
	fprintf(stderr, "vmt: subhost: ");
	fprintf(stderr, fmt, arg);
	fprintf(stderr, "\n\n%s", help);
	return EXIT_USAGE;
}

static bool sub_take(struct sub_args *a, int c, const char *arg)
{
	switch (c) {
	case O_VM:
		a->vm = arg;
		break;
	case O_STORE:
		a->store = arg;
		break;
	case O_LISTEN:
		a->listen = arg;
		break;
	case O_PSK:
		a->psk = arg;
		break;
	case O_NETNS:
		a->netns = arg;
		break;
	case O_ON:
		a->on = arg;
		break;
	case O_PREFIX:
		a->prefix = arg;
		break;
	case O_OUT:
		a->out = arg;
		break;
	case O_USER:
		a->user = arg;
		break;
	case O_INSECURE:
		a->insecure = true;
		break;
	case O_FOREGROUND:
		a->foreground = true;
		break;
	case O_KEEP:
		a->keep = true;
		break;
	default:
		return false;
	}
	return true;
}

/* Parse the options in `allowed` (a string of O_* codes); -1 after --help. */
static int sub_parse(int argc, char **argv, const char *help, const char *allowed,
		     struct sub_args *a)
{
	static const struct option longopts[] = {
	    {"vm", required_argument, NULL, O_VM},
	    {"size", required_argument, NULL, O_SIZE},
	    {"store", required_argument, NULL, O_STORE},
	    {"listen", required_argument, NULL, O_LISTEN},
	    {"psk", required_argument, NULL, O_PSK},
	    {"insecure", no_argument, NULL, O_INSECURE},
	    {"foreground", no_argument, NULL, O_FOREGROUND},
	    {"netns", required_argument, NULL, O_NETNS},
	    {"on", required_argument, NULL, O_ON},
	    {"prefix", required_argument, NULL, O_PREFIX},
	    {"keep-data", no_argument, NULL, O_KEEP},
	    {"out", required_argument, NULL, O_OUT},
	    {"user", required_argument, NULL, O_USER},
	    {"help", no_argument, NULL, O_HELP},
	    {0},
	};
	int c;

	optind = 0;
	while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		if (c == O_HELP || c == 'h') {
			fputs(help, stdout);
			return -1;
		}
		if (c < OPT_CMD_BASE || !strchr(allowed, c - OPT_CMD_BASE + 'a')) {
			if (c >= OPT_CMD_BASE)
				fprintf(stderr, "vmt: subhost: %s is not an option here\n",
					argv[optind - 1]);
			fputs(help, stderr);
			return EXIT_USAGE;
		}
		if (c == O_SIZE) {
			if (vmt_pt_parse_size(optarg, &a->size) || !a->size || a->size % 4096)
				return sub_usage(
				    help, "bad --size '%s' (e.g. 512M; 4 KiB multiple)", optarg);
		} else {
			sub_take(a, c, optarg);
		}
	}
	if (optind < argc)
		return sub_usage(help, "unexpected argument '%s'", argv[optind]);
	return EXIT_OK;
}

/* Option letters: O_x - OPT_CMD_BASE + 'a'. */
#define L(o) ((char)((o)-OPT_CMD_BASE + 'a'))

static int need(const char *help, const char *v, const char *what)
{
	return v ? 0 : sub_usage(help, "%s is required", what);
}

static int need_key(const char *help, const struct sub_args *a)
{
	if (a->psk && a->insecure)
		return sub_usage(help, "%s", "--psk and --insecure exclude each other");
	if (!a->psk && !a->insecure)
		return sub_usage(help, "%s",
				 "--psk FILE is required (or --insecure, which sends guest memory "
				 "in clear)");
	if (a->insecure)
		fprintf(stderr, "vmt: subhost: WARNING: --insecure: no TLS, no key: anyone who "
				"reaches the port reads and writes this VM's memory in clear\n");
	return 0;
}

static int sub_serve(int argc, char **argv)
{
	const char allowed[] = {L(O_VM),	 L(O_SIZE),  L(O_STORE),
				L(O_LISTEN),	 L(O_PSK),   L(O_INSECURE),
				L(O_FOREGROUND), L(O_NETNS), 0};
	struct sub_args a = {0};
	struct vmt_serve_opts o = {.sz = sizeof(o)};
	pid_t pid = 0;
	int ret = sub_parse(argc, argv, serve_help, allowed, &a);

	if (ret)
		return ret < 0 ? EXIT_OK : ret;
	if ((ret = need(serve_help, a.vm, "--vm")) ||
	    (ret = need(serve_help, a.store, "--store")) ||
	    (ret = need(serve_help, a.listen, "--listen")) ||
	    (ret = need(serve_help, a.size ? "" : NULL, "--size")) ||
	    (ret = need_key(serve_help, &a)))
		return ret;
	o.vm = a.vm;
	o.size = a.size;
	o.store = a.store;
	o.listen = a.listen;
	o.psk_file = a.psk;
	o.insecure = a.insecure;
	o.foreground = a.foreground;
	o.netns = a.netns;
	ret = vmt_serve(&o, &pid);
	if (ret) {
		cli_err("subhost", "%s", vmt_last_error());
		return ret == -EINVAL ? EXIT_USAGE : EXIT_FAIL;
	}
	if (!a.foreground)
		printf("serving %s on %s (export %s, supervisor pid %d, log %s/%s.log)\n", a.vm,
		       a.listen, a.vm, (int)pid, a.store, a.vm);
	return EXIT_OK;
}

static int sub_start(int argc, char **argv)
{
	const char allowed[] = {L(O_VM),  L(O_SIZE),	 L(O_ON), L(O_PREFIX),
				L(O_PSK), L(O_INSECURE), 0};
	struct sub_args a = {0};
	struct vmt_hosts_export_opts o = {.sz = sizeof(o)};
	struct vmt_hosts_export e;
	char psk[4096];
	int ret = sub_parse(argc, argv, start_help, allowed, &a);

	if (ret)
		return ret < 0 ? EXIT_OK : ret;
	if ((ret = need(start_help, a.vm, "--vm")) || (ret = need(start_help, a.on, "--on")) ||
	    (ret = need(start_help, a.size ? "" : NULL, "--size")) ||
	    (ret = need_key(start_help, &a)))
		return ret;
	if (a.psk && !realpath(a.psk, psk)) {
		cli_err("subhost", "key file %s: %s", a.psk, strerror(errno));
		return EXIT_FAIL;
	}
	o.prefix = a.prefix;
	o.sub = a.on;
	o.vm = a.vm;
	o.size = a.size;
	o.psk_file = a.psk ? psk : NULL;
	o.insecure = a.insecure;
	ret = vmt_hosts_export_start(&o, &e);
	if (ret) {
		cli_err("subhost", "%s", vmt_last_error());
		return ret == -EINVAL ? EXIT_USAGE : EXIT_FAIL;
	}
	printf("%s %s\n", e.addr, e.vm);
	return EXIT_OK;
}

/* --store DIR, or the store of --on SUB of a prefix. */
static int sub_store(const struct sub_args *a, const char *help, struct vmt_hosts *h,
		     const char **store)
{
	const struct vmt_hosts_sub *s;

	if (a->store && a->on)
		return sub_usage(help, "%s", "--store and --on exclude each other");
	if (a->store) {
		*store = a->store;
		return 0;
	}
	if (!a->on)
		return sub_usage(help, "%s", "--store DIR or --on SUB is required");
	if (vmt_hosts_load(a->prefix, h)) {
		cli_err("subhost", "%s", vmt_last_error());
		return EXIT_FAIL;
	}
	s = vmt_hosts_sub_find(h, a->on);
	if (!s) {
		cli_err("subhost", "no sub-host '%s' in prefix '%s'", a->on, h->prefix);
		return EXIT_FAIL;
	}
	*store = s->store;
	return 0;
}

static int sub_stop(int argc, char **argv)
{
	const char allowed[] = {L(O_VM), L(O_STORE), L(O_ON), L(O_PREFIX), L(O_KEEP), 0};
	struct sub_args a = {0};
	static struct vmt_hosts h; /* large: not on the stack */
	const char *store;
	int ret = sub_parse(argc, argv, stop_help, allowed, &a);

	if (ret)
		return ret < 0 ? EXIT_OK : ret;
	if ((ret = need(stop_help, a.vm, "--vm")) || (ret = sub_store(&a, stop_help, &h, &store)))
		return ret;
	if (a.on)
		ret = vmt_hosts_export_stop(a.prefix, a.on, a.vm, a.keep);
	else
		ret = vmt_serve_stop(store, a.vm, a.keep);
	if (ret) {
		cli_err("subhost", "%s", vmt_last_error());
		return EXIT_FAIL;
	}
	printf("stopped %s%s\n", a.vm, a.keep ? " (data kept)" : "");
	return EXIT_OK;
}

static int sub_list(int argc, char **argv)
{
	const char allowed[] = {L(O_STORE), L(O_ON), L(O_PREFIX), 0};
	struct sub_args a = {0};
	struct vmt_serve_entry *e;
	static struct vmt_hosts h; /* large: not on the stack */
	const char *store;
	size_t n;
	int ret = sub_parse(argc, argv, list_help, allowed, &a);

	if (ret)
		return ret < 0 ? EXIT_OK : ret;
	if ((ret = sub_store(&a, list_help, &h, &store)))
		return ret;
	if (vmt_serve_list(store, &e, &n)) {
		cli_err("subhost", "%s", vmt_last_error());
		return EXIT_FAIL;
	}
	printf("%-16s %-8s %-8s %-5s %14s %14s %s\n", "VM", "PID", "NBDKIT", "ALIVE", "SIZE",
	       "USED", "LISTEN");
	for (size_t i = 0; i < n; i++)
		printf("%-16s %-8d %-8d %-5s %14" PRIu64 " %14" PRIu64 " %s\n", e[i].vm,
		       (int)e[i].pid, (int)e[i].nbdkit_pid, e[i].alive ? "yes" : "no", e[i].size,
		       e[i].used, e[i].listen);
	free(e);
	return EXIT_OK;
}

static int sub_crash(int argc, char **argv)
{
	const char allowed[] = {L(O_VM), L(O_ON), L(O_PREFIX), 0};
	struct sub_args a = {0};
	int ret = sub_parse(argc, argv, crash_help, allowed, &a);

	if (ret)
		return ret < 0 ? EXIT_OK : ret;
	if ((ret = need(crash_help, a.vm, "--vm")) || (ret = need(crash_help, a.on, "--on")))
		return ret;
	if (vmt_hosts_export_crash(a.prefix, a.on, a.vm, 15000)) {
		cli_err("subhost", "%s", vmt_last_error());
		return EXIT_FAIL;
	}
	printf("nbdkit of %s on %s killed and restarted\n", a.vm, a.on);
	return EXIT_OK;
}

static int sub_key(int argc, char **argv)
{
	const char allowed[] = {L(O_OUT), L(O_USER), 0};
	struct sub_args a = {0};
	int ret = sub_parse(argc, argv, key_help, allowed, &a);

	if (ret)
		return ret < 0 ? EXIT_OK : ret;
	if ((ret = need(key_help, a.out, "--out")))
		return ret;
	ret = vmt_subhost_psk_create(a.out, a.user ? a.user : "vmt");
	if (ret) {
		cli_err("subhost", "cannot write key file %s: %s", a.out, strerror(-ret));
		return ret == -EINVAL ? EXIT_USAGE : EXIT_FAIL;
	}
	printf("%s\n", a.out);
	return EXIT_OK;
}

int cmd_subhost(int argc, char **argv)
{
	static const struct {
		const char *name;
		int (*fn)(int argc, char **argv);
	} subs[] = {
	    {"serve", sub_serve}, {"start", sub_start}, {"stop", sub_stop},
	    {"list", sub_list},	  {"crash", sub_crash}, {"key", sub_key},
	};

	if (argc < 2) {
		fputs(subhost_help, stderr);
		return EXIT_USAGE;
	}
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
		fputs(subhost_help, stdout);
		return EXIT_OK;
	}
	for (size_t i = 0; i < sizeof(subs) / sizeof(subs[0]); i++)
		if (!strcmp(argv[1], subs[i].name))
			return subs[i].fn(argc - 1, argv + 1);
	cli_err("subhost", "unknown command '%s' (see 'vmt subhost --help')", argv[1]);
	return EXIT_USAGE;
}

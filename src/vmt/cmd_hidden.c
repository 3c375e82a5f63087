// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * cmd_hidden.c - `vmt hidden`: what one view of the guest has and another
 * lacks (hidden processes, modules, hooked dispatch tables).  The checks
 * live in hidden_tasks.c and hidden_kernel.c; this file parses options,
 * opens the guest, runs them in turn and sets the exit status.
 */
#include <getopt.h>
#include <json-c/json.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "hidden.h"

static const char hidden_help[] =
    "usage: vmt hidden [options]\n\n"
    "Cross-view detection: print only what one of the kernel's structures holds and\n"
    "another lacks, naming both, and exit 1 if anything is printed or a check could\n"
    "not run (0: clean).  Checks:\n"
    "  processes  the views of `vmt ps --views`; a task missing from a view that must\n"
    "             hold it: a thread-group leader from tasks, tasks_prev, children, pids,\n"
    "             threads; a thread from pids and threads.  The runqueue (running and\n"
    "             queued tasks only) and the scan (task_structs in RAM) are witnesses:\n"
    "             a task only they see is reported, their not seeing one never is.\n"
    "             A view that broke (a cycle, a pointer to nowhere) is reported too.\n"
    "  sockets    the sockets the processes hold (fd tables) against the tables\n"
    "             /proc/net walks: a TCP listener or established socket missing from\n"
    "             its hash, a bound UDP socket from the UDP hash, a bound UNIX socket\n"
    "             from the UNIX table; table entries nobody holds are normal\n"
    "  modules    the module list against module_kset (/sys/module), the module tree\n"
    "             and a scan of module memory: a module missing from a view is reported\n"
    "  hooks      sys_call_table slots against the image's own table (by name without\n"
    "             the image), IDT gates against the entry stubs, and the kernel text\n"
    "             against the image's, relocated, minus the sites the kernel patches\n\n"
    "The guest runs on while it is read (forks and exits): a discrepancy is reported\n"
    "only if it is still there in each of --rechecks fresh listings, --recheck-ms\n"
    "apart (a fresh listing re-reads every view; nothing is cached between them).\n"
    "With --pause the VM runs during each pause between rechecks and is stopped\n"
    "again for the listing.\n\n"
    "options:\n"
    "  --rechecks N       fresh listings a discrepancy must survive (default 2, 0..20)\n"
    "  --recheck-ms MS    pause between them (default 300)\n"
    "  -v, --verbose      also what each view saw, the scan's rate, what re-checks "
    "cleared\n" CLI_TARGET_HELP;

enum { OPT_RECHECKS = OPT_CMD_BASE, OPT_RECHECK_MS };

struct hidden_opts {
	struct cli_target t;
	unsigned rechecks, recheck_ms;
	bool verbose;
};

/* The target the checks read, for hidden_recheck_wait (one command per process). */
static struct cli_target *hidden_target;

void hidden_recheck_wait(struct hidden_ctx *c)
{
	struct timespec ts = {c->recheck_ms / 1000, (long)(c->recheck_ms % 1000) * 1000000};
	struct cli_target *t = hidden_target;

	/* --pause: a paused guest cannot change; let it run between listings. */
	if (t && t->paused && vmt_vm_pause(t->paused, false))
		cli_err("hidden", "resume for a re-check: %s", vmt_last_error());
	nanosleep(&ts, NULL);
	if (t && t->paused && vmt_vm_pause(t->paused, true))
		cli_err("hidden", "pause after a re-check: %s", vmt_last_error());
}

static int hidden_uint(const char *arg, unsigned max, unsigned *out)
{
	char *end;
	unsigned long v = strtoul(arg, &end, 10);

	if (!*arg || *end || v > max) {
		cli_err("hidden", "bad number '%s' (0..%u)", arg, max);
		return EXIT_USAGE;
	}
	*out = (unsigned)v;
	return 0;
}

static int hidden_parse(int argc, char **argv, struct hidden_opts *o)
{
	static const struct option longopts[] = {
	    CLI_TARGET_LONGOPTS,
	    {"rechecks", required_argument, NULL, OPT_RECHECKS},
	    {"recheck-ms", required_argument, NULL, OPT_RECHECK_MS},
	    {"verbose", no_argument, NULL, 'v'},
	    {0},
	};
	int c, err = 0;

	while (!err && (c = getopt_long(argc, argv, "vh", longopts, NULL)) != -1) {
		if (cli_target_opt(&o->t, c, optarg))
			continue;
		switch (c) {
		case OPT_RECHECKS:
			err = hidden_uint(optarg, 20, &o->rechecks);
			break;
		case OPT_RECHECK_MS:
			err = hidden_uint(optarg, 60000, &o->recheck_ms);
			break;
		case 'v':
			o->verbose = true;
			break;
		case 'h':
		case OPT_HELP:
			fputs(hidden_help, stdout);
			return -1;
		default:
			fputs(hidden_help, stderr);
			return EXIT_USAGE;
		}
	}
	if (!err && optind != argc) {
		cli_err("hidden", "unexpected argument '%s' (see vmt hidden --help)", argv[optind]);
		return EXIT_USAGE;
	}
	return err;
}

static const struct {
	const char *name;
	int (*fn)(struct hidden_ctx *c);
} hidden_checks[] = {
    {"processes", hidden_tasks},
    {"sockets", hidden_sockets},
    {"modules", hidden_modules},
    {"hooks", hidden_hooks},
};

/* Every check in turn: EXIT_FAIL if one reported anything or could not run. */
static int hidden_run(struct hidden_ctx *c)
{
	json_object *failed = json_object_new_array();
	int ret = EXIT_OK;

	for (size_t i = 0; i < sizeof(hidden_checks) / sizeof(hidden_checks[0]); i++) {
		int n = hidden_checks[i].fn(c);

		if (n < 0) {
			cli_err("hidden", "the %s check could not run: %s", hidden_checks[i].name,
				*vmt_last_error() ? vmt_last_error() : strerror(-n));
			json_object_array_add(failed,
					      json_object_new_string(hidden_checks[i].name));
		}
		if (n != 0)
			ret = EXIT_FAIL;
	}
	if (c->json) {
		json_object_object_add(c->out, "checks_failed", failed);
		json_object_object_add(c->out, "clean", json_object_new_boolean(ret == EXIT_OK));
		puts(json_object_to_json_string_ext(c->out, JSON_C_TO_STRING_PLAIN));
	} else {
		json_object_put(failed);
	}
	return ret;
}

int cmd_hidden(int argc, char **argv)
{
	struct hidden_opts o = {.rechecks = 2, .recheck_ms = 300};
	struct hidden_ctx c = {0};
	struct vmt_guest *g;
	double t0;
	int err, ret;

	err = hidden_parse(argc, argv, &o);
	if (err)
		return err < 0 ? EXIT_OK : err;
	if (cli_target_check("hidden", &o.t))
		return EXIT_USAGE;
	t0 = cli_now_ms();
	g = cli_target_open("hidden", &o.t);
	if (!g)
		return EXIT_FAIL;
	hidden_target = &o.t;
	c = (struct hidden_ctx){
	    .g = g,
	    .rechecks = o.rechecks,
	    .recheck_ms = o.recheck_ms,
	    .json = o.t.json,
	    .verbose = o.verbose,
	    .out = json_object_new_object(),
	};
	ret = hidden_run(&c);
	json_object_put(c.out);
	cli_target_stats(&o.t, g, cli_now_ms() - t0);
	if (cli_target_close(&o.t, g))
		ret = EXIT_FAIL;
	hidden_target = NULL;
	return ret;
}

// SPDX-License-Identifier: LGPL-2.1-or-later
/* cmd_ps.c - `vmt ps`: the guest's processes, read from its memory. */
#include <getopt.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static const char ps_help[] =
    "usage: vmt ps [options]\n\n"
    "List the guest's processes from its memory, like `ps -ef`: pid, ppid, effective uid/gid,\n"
    "state, threads, RSS, and the full command line read from each process's\n"
    "own address space.  Kernel threads show as [name].\n\n"
    "options:\n"
    "  -T, --threads      one line per thread (like ps -T)\n"
    "  -p, --pid PID      only this process (its threads with -T)\n"
    "  -e, --environ      include each process's environment (JSON only)\n"
    "  -x, --exe          include the executable's path\n"
    "  -V, --views        every task any of the kernel's independent structures holds, each\n"
    "                     with the views that saw it (a VIEWS column; --json: \"seen_by\"):\n"
    "                     tasks, tasks_prev (init_task.tasks both ways), pids (the pid\n"
    "                     index), threads (each group's thread list), children (the\n"
    "                     parent->children tree), runqueue (what each CPU runs or has\n"
    "                     queued), scan (task_structs found in RAM, validated).  A task\n"
    "                     unlinked from one of them still shows; a view that broke is\n"
    "                     named on stderr (exit 1).  See also `vmt hidden`.\n" CLI_TARGET_HELP;

struct ps_opts {
	struct cli_target t;
	unsigned what;
	long pid;
};

static void ps_print_cmdline(const struct vmt_task *t)
{
	if (!t->cmdline_len) {
		printf("[%s]", t->name);
		return;
	}
	for (size_t i = 0; i < t->cmdline_len; i++) {
		unsigned char c = (unsigned char)t->cmdline[i];

		if (c == '\0') {
			if (i + 1 < t->cmdline_len)
				putchar(' ');
		} else {
			putchar(c >= 0x20 && c < 0x7f ? c : '?');
		}
	}
}

/* "tasks,pids,...": the views that saw t, into buf. */
static const char *ps_views_str(const struct vmt_task *t, char *buf, size_t cap)
{
	return cli_views_str(t->seen_by, VMT_VIEW_COUNT, vmt_task_view_name, buf, cap);
}

/* Width of the COMM column: the longest name shown (kthread names run to 64). */
static int ps_comm_width(const struct vmt_task_list *l, const struct ps_opts *o)
{
	size_t w = strlen("COMM");

	for (size_t i = 0; i < l->n; i++)
		if (o->pid < 0 || l->tasks[i].tgid == o->pid)
			w = VMT_CLI_MAX(w, strlen(l->tasks[i].name));
	return (int)w;
}

static void ps_print_table(const struct vmt_task_list *l, const struct ps_opts *o)
{
	int cw = ps_comm_width(l, o);
	char views[128];

	printf("%7s %7s %7s %5s %5s %1s %4s %8s ", "PID", "TID", "PPID", "UID", "GID", "S", "THR",
	       "RSS_KB");
	if (o->what & VMT_TASK_VIEWS)
		printf("%-52s ", "VIEWS");
	printf("%-*s %s\n", cw, "COMM", o->what & VMT_TASK_EXE ? "EXE  CMDLINE" : "CMDLINE");
	for (size_t i = 0; i < l->n; i++) {
		const struct vmt_task *t = &l->tasks[i];

		if (o->pid >= 0 && t->tgid != o->pid)
			continue;
		printf("%7d %7d %7d %5u %5u %c %4u %8llu ", t->tgid, t->pid, t->ppid, t->euid,
		       t->egid, t->state, t->nthreads, (unsigned long long)t->rss_pages * 4);
		if (o->what & VMT_TASK_VIEWS)
			printf("%-52s ", ps_views_str(t, views, sizeof(views)));
		printf("%-*s ", cw, t->name);
		if (o->what & VMT_TASK_EXE)
			printf("%s  ", t->exe ? t->exe : "-");
		ps_print_cmdline(t);
		if (t->flags & (VMT_F_PARTIAL | VMT_F_TRUNCATED))
			printf("  <%s>", t->flags & VMT_F_TRUNCATED ? "truncated" : "partial");
		putchar('\n');
	}
}

/* argv as a JSON array: the NUL-separated cmdline split into strings. */
static json_object *ps_strings(const char *buf, size_t len)
{
	json_object *a = json_object_new_array();
	size_t i = 0;

	while (i < len) {
		size_t n = strnlen(buf + i, len - i);

		json_object_array_add(a, json_object_new_string_len(buf + i, (int)n));
		i += n + 1;
	}
	return a;
}

static json_object *ps_task_json(const struct vmt_task *t, unsigned what)
{
	json_object *o = json_object_new_object();
	char state[2] = {t->state, 0};

	json_object_object_add(o, "pid", json_object_new_int(t->tgid));
	json_object_object_add(o, "tid", json_object_new_int(t->pid));
	json_object_object_add(o, "ppid", json_object_new_int(t->ppid));
	json_object_object_add(o, "uid", json_object_new_int64(t->uid));
	json_object_object_add(o, "gid", json_object_new_int64(t->gid));
	json_object_object_add(o, "euid", json_object_new_int64(t->euid));
	json_object_object_add(o, "egid", json_object_new_int64(t->egid));
	json_object_object_add(o, "comm", json_object_new_string(t->comm));
	json_object_object_add(o, "name", json_object_new_string(t->name));
	json_object_object_add(o, "state", json_object_new_string(state));
	json_object_object_add(o, "threads", json_object_new_int64(t->nthreads));
	json_object_object_add(o, "pgrp", json_object_new_int(t->pgrp));
	json_object_object_add(o, "session", json_object_new_int(t->session));
	json_object_object_add(o, "nice", json_object_new_int(t->nice));
	json_object_object_add(o, "start_ns", json_object_new_uint64(t->start_ns));
	json_object_object_add(o, "rss_kb", json_object_new_uint64(t->rss_pages * 4));
	json_object_object_add(o, "vsize", json_object_new_uint64(t->vsize));
	json_object_object_add(o, "kthread", json_object_new_boolean(t->flags & VMT_F_KTHREAD));
	json_object_object_add(o, "argv", ps_strings(t->cmdline, t->cmdline_len));
	if (what & VMT_TASK_ENVIRON)
		json_object_object_add(o, "environ", ps_strings(t->environ, t->environ_len));
	if (what & VMT_TASK_EXE)
		json_object_object_add(o, "exe", t->exe ? json_object_new_string(t->exe) : NULL);
	json_object_object_add(o, "partial", json_object_new_boolean(t->flags & VMT_F_PARTIAL));
	json_object_object_add(o, "truncated", json_object_new_boolean(t->flags & VMT_F_TRUNCATED));
	json_object_object_add(o, "kva", json_object_new_uint64(t->kva)); /* task_struct */
	if (what & VMT_TASK_VIEWS)
		json_object_object_add(
		    o, "seen_by", cli_views_json(t->seen_by, VMT_VIEW_COUNT, vmt_task_view_name));
	return o;
}

static void ps_print_json(const struct vmt_task_list *l, const struct ps_opts *o)
{
	json_object *a = json_object_new_array();

	for (size_t i = 0; i < l->n; i++)
		if (o->pid < 0 || l->tasks[i].tgid == o->pid)
			json_object_array_add(a, ps_task_json(&l->tasks[i], o->what));
	puts(json_object_to_json_string_ext(a, JSON_C_TO_STRING_PLAIN));
	json_object_put(a);
}

static bool ps_has_pid(const struct vmt_task_list *l, long pid)
{
	for (size_t i = 0; i < l->n; i++)
		if (l->tasks[i].tgid == pid)
			return true;
	return false;
}

static int ps_parse(int argc, char **argv, struct ps_opts *o)
{
	static const struct option longopts[] = {
	    CLI_TARGET_LONGOPTS,
	    {"threads", no_argument, NULL, 'T'},
	    {"pid", required_argument, NULL, 'p'},
	    {"environ", no_argument, NULL, 'e'},
	    {"exe", no_argument, NULL, 'x'},
	    {"views", no_argument, NULL, 'V'},
	    {0},
	};
	int c;

	while ((c = getopt_long(argc, argv, "Tp:exVh", longopts, NULL)) != -1) {
		char *end;

		if (cli_target_opt(&o->t, c, optarg))
			continue;
		switch (c) {
		case 'T':
			o->what |= VMT_TASK_THREADS;
			break;
		case 'p':
			o->pid = strtol(optarg, &end, 10);
			if (*end || o->pid < 0) {
				cli_err("ps", "bad pid '%s'", optarg);
				return EXIT_USAGE;
			}
			break;
		case 'e':
			o->what |= VMT_TASK_ENVIRON;
			break;
		case 'x':
			o->what |= VMT_TASK_EXE;
			break;
		case 'V':
			o->what |= VMT_TASK_VIEWS;
			break;
		case 'h':
		case OPT_HELP:
			fputs(ps_help, stdout);
			return -1;
		default:
			fputs(ps_help, stderr);
			return EXIT_USAGE;
		}
	}
	if (optind != argc) {
		cli_err("ps", "unexpected argument '%s' (see vmt ps --help)", argv[optind]);
		return EXIT_USAGE;
	}
	return 0;
}

int cmd_ps(int argc, char **argv)
{
	struct ps_opts o = {.what = VMT_TASK_CMDLINE, .pid = -1};
	struct vmt_task_list *l = NULL;
	struct vmt_guest *g;
	double t0;
	int err, ret = EXIT_OK;

	err = ps_parse(argc, argv, &o);
	if (err)
		return err < 0 ? EXIT_OK : err;
	if (cli_target_check("ps", &o.t))
		return EXIT_USAGE;
	t0 = cli_now_ms();
	g = cli_target_open("ps", &o.t);
	if (!g)
		return EXIT_FAIL;
	vmt_listing_begin(g);
	err = vmt_tasks(g, o.what, &l);
	vmt_listing_end(g);
	if (err) {
		cli_err("ps", "%s", vmt_last_error());
		ret = EXIT_FAIL;
		goto out;
	}
	if (o.pid >= 0 && !ps_has_pid(l, o.pid)) {
		cli_err("ps", "no process %ld in the guest", o.pid);
		ret = EXIT_FAIL;
		goto out;
	}
	if (o.t.json)
		ps_print_json(l, &o);
	else
		ps_print_table(l, &o);
	if (l->views_broken) { /* the union is shown; what only a broken view held is not */
		for (unsigned i = 0; i < VMT_VIEW_COUNT; i++)
			if (l->views_broken & (1u << i))
				cli_err("ps", "view %s broke: %s", vmt_task_view_name(1u << i),
					l->view_err[i]);
		ret = EXIT_FAIL;
	} else if (l->flags & VMT_F_PIDINDEX) { /* a break bridged by the pid index */
		cli_err("ps",
			"the task list could not be followed to its end (%s): the tasks it did "
			"not reach come from the pid index; the listing is incomplete where "
			"entries are marked partial",
			vmt_last_error());
		ret = EXIT_FAIL;
	} else if (l->flags & VMT_F_PARTIAL) { /* what was read is shown, but it is not all */
		cli_err("ps", "task list is corrupt, listing is incomplete: %s", vmt_last_error());
		ret = EXIT_FAIL;
	}
	cli_target_stats(&o.t, g, cli_now_ms() - t0);
out:
	vmt_task_list_free(l);
	if (cli_target_close(&o.t, g) && ret == EXIT_OK)
		ret = EXIT_FAIL;
	return ret;
}

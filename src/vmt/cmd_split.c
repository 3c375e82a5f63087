// SPDX-License-Identifier: LGPL-2.1-or-later
/* cmd_split.c - `vmt split`: move a running VM to the main host + sub-hosts. */
#include <errno.h>
#include <signal.h>
#include <getopt.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "pagetable/pagetable.h"
#include "split/split.h"

static const char split_help[] =
    "usage: vmt split VM --main-mem SIZE --subhosts H1,H2,... [options]\n\n"
    "Move a running VM (RAM in a shared memory file, QMP socket) to the main host\n"
    "and sub-hosts, stop-and-copy: the kernel's image and page tables and what fits\n"
    "of the rest stay on the main host (SIZE bytes), the other non-zero chunks go\n"
    "to the sub-hosts' NBD exports in parallel, zero chunks go nowhere; the VM\n"
    "continues in a new QEMU with the pager preloaded.  Any failure before the new\n"
    "QEMU runs leaves the VM running as it was.\n\n"
    "  --main-mem SIZE     guest memory kept on the main host (e.g. 160M)\n"
    "  --subhosts LIST     sub-host names from 'vmt hosts up' (sub1,sub2) or HOST:PORT\n"
    "  --chunk SIZE        placement and paging unit, 4K..2M power of two (64K)\n"
    "  --policy NAME       kernel+recent (default: core, the kernel's own pages,\n"
    "                      recently written, by address), address (core, then lowest\n"
    "                      addresses: the paper's experiment) or kernel+address (core,\n"
    "                      the kernel's own pages, then lowest addresses)\n"
    "  --sample-ms MS      kernel+recent sampling window (1000)\n"
    "  --hosts-prefix P    hosts made by 'vmt hosts up --prefix P'\n"
    "  --psk FILE          TLS-PSK key of HOST:PORT sub-hosts (named hosts get a new one)\n"
    "  --insecure          plain NBD, no TLS (comparison only)\n"
    "  --cap SIZE          main-host cap on resident guest memory (default: --main-mem)\n"
    "  --live              pre-copy while the VM runs, then copy only what changed\n"
    "                      (shorter downtime; placement decided before the stop)\n"
    "  --keep-free-pages   send the guest's free pages too (default: the pages on its\n"
    "                      buddy free lists at the stop go nowhere, like zero pages,\n"
    "                      unless the guest poisons free pages; always with --live)\n"
    "  --fetch METHOD      how listings read pages on sub-hosts by default, recorded\n"
    "                      in the descriptor: runtime (default), vm or none\n"
    "  --fetch-chunk SIZE  their default fetch chunk, 4K..2M power of two (64K)\n"
    "  --json              summary as JSON\n";

enum {
	O_MAIN = 0x100,
	O_SUBHOSTS,
	O_CHUNK,
	O_POLICY,
	O_SAMPLE,
	O_PREFIX,
	O_PSK,
	O_INSECURE,
	O_CAP,
	O_JSON,
	O_LIVE,
	O_KEEP_FREE,
	O_FETCH,
	O_FETCH_CHUNK,
	O_HELP,
};

struct split_cli {
	struct vmt_split_opts o;
	const char *hosts[VMT_SPLIT_MAX_HOSTS];
	char *hosts_buf;
	bool json, tty;
	int bar_lines;
};

static int usage(const char *fmt, const char *arg)
{
	cli_err("split", fmt, arg);
	fputs("(see 'vmt split --help')\n", stderr);
	return EXIT_USAGE;
}

static int parse_hosts(struct split_cli *s, const char *arg)
{
	char *save = NULL;

	free(s->hosts_buf);
	s->hosts_buf = strdup(arg);
	s->o.nr_subhosts = 0;
	if (!s->hosts_buf)
		return -ENOMEM;
	for (char *t = strtok_r(s->hosts_buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
		if (s->o.nr_subhosts >= VMT_SPLIT_MAX_HOSTS)
			return -E2BIG;
		s->hosts[s->o.nr_subhosts++] = t;
	}
	s->o.subhosts = s->hosts;
	return s->o.nr_subhosts ? 0 : -EINVAL;
}

static int parse_opt(struct split_cli *s, int c)
{
	char *end;

	switch (c) {
	case O_MAIN:
		return vmt_pt_parse_size(optarg, &s->o.main_mem)
			   ? usage("bad --main-mem '%s'", optarg)
			   : 0;
	case O_CAP:
		return vmt_pt_parse_size(optarg, &s->o.cap) ? usage("bad --cap '%s'", optarg) : 0;
	case O_CHUNK:
		return vmt_pt_parse_size(optarg, &s->o.chunk) ? usage("bad --chunk '%s'", optarg)
							      : 0;
	case O_SUBHOSTS:
		return parse_hosts(s, optarg) ? usage("bad --subhosts '%s'", optarg) : 0;
	case O_POLICY:
		if (!strcmp(optarg, "kernel+recent"))
			s->o.policy = VMT_SPLIT_KERNEL_RECENT;
		else if (!strcmp(optarg, "address"))
			s->o.policy = VMT_SPLIT_ADDRESS;
		else if (!strcmp(optarg, "kernel+address"))
			s->o.policy = VMT_SPLIT_KERNEL_ADDRESS;
		else
			return usage("unknown --policy '%s' (kernel+recent, address, "
				     "kernel+address)",
				     optarg);
		return 0;
	case O_SAMPLE:
		s->o.sample_ms = (int)strtol(optarg, &end, 10);
		return *end || s->o.sample_ms < 1 || s->o.sample_ms > 60000
			   ? usage("bad --sample-ms '%s'", optarg)
			   : 0;
	case O_PREFIX:
		s->o.hosts_prefix = optarg;
		return 0;
	case O_PSK:
		s->o.psk_file = optarg;
		return 0;
	case O_INSECURE:
		s->o.insecure = true;
		return 0;
	case O_JSON:
		s->json = true;
		return 0;
	case O_LIVE:
		s->o.live = true;
		return 0;
	case O_KEEP_FREE:
		s->o.keep_free_pages = true;
		return 0;
	case O_FETCH:
		s->o.fetch = optarg;
		return strcmp(optarg, "runtime") && strcmp(optarg, "vm") && strcmp(optarg, "none")
			   ? usage("unknown --fetch '%s' (runtime, vm, none)", optarg)
			   : 0;
	case O_FETCH_CHUNK:
		return vmt_pt_parse_size(optarg, &s->o.fetch_chunk) ||
			       vmt_pt_chunk_shift_of(s->o.fetch_chunk) < 0
			   ? usage("bad --fetch-chunk '%s' (4K..2M, a power of two)", optarg)
			   : 0;
	case 'h':
	case O_HELP:
		fputs(split_help, stdout);
		return -1;
	default:
		fputs(split_help, stderr);
		return EXIT_USAGE;
	}
}

static int parse(int argc, char **argv, struct split_cli *s)
{
	static const struct option longopts[] = {
	    {"main-mem", required_argument, NULL, O_MAIN},
	    {"subhosts", required_argument, NULL, O_SUBHOSTS},
	    {"chunk", required_argument, NULL, O_CHUNK},
	    {"policy", required_argument, NULL, O_POLICY},
	    {"sample-ms", required_argument, NULL, O_SAMPLE},
	    {"hosts-prefix", required_argument, NULL, O_PREFIX},
	    {"psk", required_argument, NULL, O_PSK},
	    {"insecure", no_argument, NULL, O_INSECURE},
	    {"cap", required_argument, NULL, O_CAP},
	    {"json", no_argument, NULL, O_JSON},
	    {"live", no_argument, NULL, O_LIVE},
	    {"keep-free-pages", no_argument, NULL, O_KEEP_FREE},
	    {"fetch", required_argument, NULL, O_FETCH},
	    {"fetch-chunk", required_argument, NULL, O_FETCH_CHUNK},
	    {"help", no_argument, NULL, O_HELP},
	    {0},
	};
	int c, r;

	optind = 0;
	while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1)
		if ((r = parse_opt(s, c)))
			return r;
	if (optind + 1 != argc)
		return usage("give one VM%s", "");
	s->o.vm = argv[optind];
	if (!s->o.main_mem)
		return usage("--main-mem is required%s", "");
	if (!s->o.nr_subhosts)
		return usage("--subhosts is required%s", "");
	return 0;
}

/* ------------------------------------------------------------ output */

static void bar(char *out, size_t sz, uint64_t done, uint64_t total)
{
	int w = 30, fill = total ? (int)(done * (uint64_t)w / total) : w;

	snprintf(out, sz, "[%.*s%*s] %6.1f/%-6.1f MiB", fill, "##############################",
		 w - fill, "", done / 1048576.0, total / 1048576.0);
}

static void on_progress(const struct vmt_split_progress *p, void *arg)
{
	struct split_cli *s = arg;
	uint64_t total = 0;
	char b[128];

	if (!s->tty)
		return;
	/* Redraw in place: move up over the previous bar. */
	if (s->bar_lines)
		fprintf(stderr, "\033[%dA", s->bar_lines);
	fprintf(stderr, "\033[2K%s\n", p->phase);
	s->bar_lines = 1;
	/* No bars before the placement says how much goes where. */
	for (unsigned k = 0; k < p->nr_hosts; k++)
		total += p->host_total[k];
	if (!total && !p->main_total) {
		fflush(stderr);
		return;
	}
	bar(b, sizeof(b), p->main_done, p->main_total);
	fprintf(stderr, "\033[2K  %-16s %s\n", "main", b);
	for (unsigned k = 0; k < p->nr_hosts; k++) {
		bar(b, sizeof(b), p->host_done[k], p->host_total[k]);
		fprintf(stderr, "\033[2K  %-16.16s %s\n", p->host_name[k], b);
	}
	s->bar_lines = 2 + (int)p->nr_hosts;
	fflush(stderr);
}

/* What became of the walk of the guest's free lists. */
static const char *free_walk(int err)
{
	return !err		 ? "done"
	       : err == -ENODATA ? "off"
	       : err == -ENOTSUP ? "page poisoning"
				 : "failed";
}

static struct json_object *result_json(const struct vmt_split_result *r)
{
	struct json_object *o = json_object_new_object(), *a = json_object_new_array();

	json_object_object_add(o, "ram_bytes", json_object_new_int64((int64_t)r->ram_bytes));
	json_object_object_add(o, "chunk_bytes", json_object_new_int64((int64_t)r->chunk_bytes));
	json_object_object_add(o, "chunks", json_object_new_int64((int64_t)r->nr_chunks));
	json_object_object_add(o, "policy", json_object_new_string(r->policy));
	json_object_object_add(o, "zero_chunks", json_object_new_int64((int64_t)r->zero_chunks));
	json_object_object_add(o, "free_chunks", json_object_new_int64((int64_t)r->free_chunks));
	json_object_object_add(o, "free_pages", json_object_new_int64((int64_t)r->free_pages));
	json_object_object_add(o, "free_walk", json_object_new_string(free_walk(r->free_err)));
	json_object_object_add(o, "core_chunks", json_object_new_int64((int64_t)r->core_chunks));
	json_object_object_add(o, "kernel_chunks",
			       json_object_new_int64((int64_t)r->kernel_chunks));
	json_object_object_add(o, "core_bytes",
			       json_object_new_int64((int64_t)(r->core_chunks * r->chunk_bytes)));
	json_object_object_add(o, "recent_chunks",
			       json_object_new_int64((int64_t)r->recent_chunks));
	json_object_object_add(o, "main_chunks", json_object_new_int64((int64_t)r->main_chunks));
	json_object_object_add(o, "main_bytes_written",
			       json_object_new_int64((int64_t)r->main_bytes_written));
	for (unsigned k = 0; k < r->nr_hosts; k++) {
		struct json_object *h = json_object_new_object();

		json_object_object_add(h, "name", json_object_new_string(r->host_name[k]));
		json_object_object_add(h, "addr", json_object_new_string(r->host_addr[k]));
		json_object_object_add(h, "chunks",
				       json_object_new_int64((int64_t)r->host_chunks[k]));
		json_object_object_add(h, "bytes",
				       json_object_new_int64((int64_t)r->host_bytes[k]));
		json_object_object_add(h, "send_ms", json_object_new_int64(r->host_ms[k]));
		json_object_array_add(a, h);
	}
	json_object_object_add(o, "hosts", a);
	json_object_object_add(o, "downtime_ms", json_object_new_int64(r->downtime_ms));
	json_object_object_add(o, "copy_ms", json_object_new_int64(r->copy_ms));
	json_object_object_add(o, "main_ms", json_object_new_int64(r->main_ms));
	json_object_object_add(o, "save_ms", json_object_new_int64(r->save_ms));
	json_object_object_add(o, "place_ms", json_object_new_int64(r->place_ms));
	json_object_object_add(o, "core_ms", json_object_new_int64(r->core_ms));
	json_object_object_add(o, "zero_ms", json_object_new_int64(r->zero_ms));
	json_object_object_add(o, "prepare_ms", json_object_new_int64(r->prepare_ms));
	json_object_object_add(o, "finish_ms", json_object_new_int64(r->finish_ms));
	json_object_object_add(o, "agent_ms", json_object_new_int64(r->agent_ms));
	json_object_object_add(o, "dest_qmp_ms", json_object_new_int64(r->dest_qmp_ms));
	json_object_object_add(o, "gone_ms", json_object_new_int64(r->gone_ms));
	json_object_object_add(o, "release_ms", json_object_new_int64(r->release_ms));
	json_object_object_add(o, "dest_ms", json_object_new_int64(r->dest_ms));
	json_object_object_add(o, "precopy_ms", json_object_new_int64(r->precopy_ms));
	json_object_object_add(o, "dirty_chunks", json_object_new_int64((int64_t)r->dirty_chunks));
	json_object_object_add(o, "precopy_rounds", json_object_new_int((int)r->precopy_rounds));
	json_object_object_add(o, "migrate_ms", json_object_new_int64(r->migrate_ms));
	json_object_object_add(o, "total_ms", json_object_new_int64(r->total_ms));
	json_object_object_add(o, "qemu_pid", json_object_new_int(r->dest_pid));
	return o;
}

static void print_text(const char *vm, const struct vmt_split_result *r)
{
	double mib = 1048576.0;

	printf("split VM '%s': %.0f MiB in %llu chunks of %llu KiB, policy %s\n", vm,
	       r->ram_bytes / mib, (unsigned long long)r->nr_chunks,
	       (unsigned long long)(r->chunk_bytes >> 10), r->policy);
	printf("  main host   %8.1f MiB (%llu chunks: %llu core = %.1f MiB, %llu kernel, "
	       "%llu recent), %.1f MiB written\n",
	       r->main_chunks * r->chunk_bytes / mib, (unsigned long long)r->main_chunks,
	       (unsigned long long)r->core_chunks, r->core_chunks * r->chunk_bytes / mib,
	       (unsigned long long)r->kernel_chunks, (unsigned long long)r->recent_chunks,
	       r->main_bytes_written / mib);
	for (unsigned k = 0; k < r->nr_hosts; k++)
		printf("  %-11s %8.1f MiB (%llu chunks) at %s\n", r->host_name[k],
		       r->host_bytes[k] / mib, (unsigned long long)r->host_chunks[k],
		       r->host_addr[k]);
	printf("  zero        %8.1f MiB (%llu chunks, sent nowhere)\n",
	       (r->zero_chunks - r->free_chunks) * r->chunk_bytes / mib,
	       (unsigned long long)(r->zero_chunks - r->free_chunks));
	printf("  free pages  %8.1f MiB skipped (%llu chunks, sent nowhere; %llu pages on the "
	       "guest's free lists, walk %s)\n",
	       r->free_chunks * r->chunk_bytes / mib, (unsigned long long)r->free_chunks,
	       (unsigned long long)r->free_pages, free_walk(r->free_err));
	if (r->precopy_ms)
		printf("  pre-copy    %.2f s in %u rounds while the VM ran, then %llu changed "
		       "chunks again\n",
		       r->precopy_ms / 1000.0, r->precopy_rounds,
		       (unsigned long long)r->dirty_chunks);
	printf("  downtime %.2f s, copy %.2f s, migration %.2f s (until the guest ran on its new "
	       "hosts), command %.2f s; QEMU pid %d\n",
	       r->downtime_ms / 1000.0, r->copy_ms / 1000.0, r->migrate_ms / 1000.0,
	       r->total_ms / 1000.0, r->dest_pid);
}

static volatile int split_cancel;

static void on_signal(int sig)
{
	split_cancel = sig;
}

/* Ctrl-C, SIGTERM, SIGHUP: the split undoes what it made and the VM continues as before. */
static void catch_signals(void)
{
	struct sigaction sa = {.sa_handler = on_signal};

	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
}

int cmd_split(int argc, char **argv)
{
	struct split_cli s = {.o = {.sz = sizeof(s.o)}};
	struct vmt_split_result res;
	int r = parse(argc, argv, &s);

	if (r) {
		free(s.hosts_buf);
		return r < 0 ? EXIT_OK : r;
	}
	s.tty = isatty(2);
	s.o.progress = on_progress;
	s.o.progress_arg = &s;
	s.o.cancel = &split_cancel;
	catch_signals();
	r = vmt_split(&s.o, &res);
	free(s.hosts_buf);
	/* The summary replaces the bars. */
	if (s.tty && s.bar_lines)
		fprintf(stderr, "\033[%dA\033[J", s.bar_lines);
	if (r) {
		cli_err("split", "%s", vmt_last_error());
		return EXIT_FAIL;
	}
	if (s.json) {
		struct json_object *o = result_json(&res);

		puts(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY));
		json_object_put(o);
	} else {
		print_text(s.o.vm, &res);
	}
	return EXIT_OK;
}

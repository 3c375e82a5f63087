// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * cmd_vm.c - `vmt vm`: start, stop, list and show the VMs vmt runs, and
 * run a command in one through its in-guest agent.
 */
#include <errno.h>
#include <getopt.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "cli.h"
#include "hosts/hosts.h"
#include "pagetable/pagetable.h"
#include "split/split.h"
#include "vmctl/vm.h"

#define VM_DEFAULT_NAME "vmt"

static const char vm_help[] =
    "usage: vmt vm <start|stop|list|show|exec|pause|resume|adopt|export|unexport> [options]\n\n"
    "Manage the VMs vmt runs under stock QEMU (RAM in /dev/shm, QMP, in-guest agent).\n"
    "A VM is a folder <run dir>/<NAME>/ with vm.json; the run dir is $VMT_RUN_DIR or\n"
    "/run/vmemtrans.  NAME defaults to 'vmt'.\n\n"
    "  start [NAME] ...   boot a guest and wait for its agent\n"
    "  stop NAME...|--all stop QEMU, remove the RAM file and the descriptor\n"
    "  list [--json]      the VMs and whether their QEMU runs\n"
    "  show [NAME]        one VM's descriptor (and a split VM's pager statistics)\n"
    "  adopt NAME --qmp SOCKET   take over a running QEMU that vmt did not start\n"
    "  exec [NAME] -- CMD run CMD with /bin/sh -c in the guest\n"
    "  pause [NAME]       stop the guest's vCPUs (QMP stop): its memory holds still\n"
    "  resume [NAME]      let it run again (QMP cont)\n"
    "  export NAME ...    serve its memory read-only to readers on other hosts (--from)\n"
    "  unexport NAME      stop serving it\n\n"
    "Run `vmt vm <command> --help` for a command's options.\n";

static const char start_help[] =
    "usage: vmt vm start [NAME] [options]\n\n"
    "Boot a guest under QEMU with its RAM in /dev/shm/vmt-NAME.ram and wait until its\n"
    "in-guest agent answers; then print a summary and the descriptor's path.\n"
    "If interrupted, `vmt vm stop NAME` removes what was started.\n\n"
    "options:\n"
    "  --mem SIZE       guest RAM, e.g. 512M, 2G (bare number: MiB; default 512M, min 64M)\n"
    "  --procs N        workload processes the guest starts (vmt.nproc=N)\n"
    "  --no-kaslr       boot with nokaslr\n"
    "  --la57           5-level paging (-cpu qemu64,+la57)\n"
    "  --kvm            use KVM instead of TCG (nested KVM may hang)\n"
    "  --kernel FILE    kernel image (default: the guest image's vmlinuz)\n"
    "  --initrd FILE    initramfs (default: the guest image's initramfs.cpio.gz)\n"
    "  --append STR     more kernel command line\n"
    "  --timeout S      wait at most S seconds for the agent (default 60)\n"
    "  --json           print the descriptor as JSON instead\n"
    "  --help           this text\n\n"
    "The guest image is looked up in $VMT_GUEST_DIR, else <vmt>/../../guest (the build\n"
    "tree), <vmt>/../guest, <vmt>/../share/vmemtrans/guest, ./build/guest.\n"
    "QEMU is $VMT_QEMU or qemu-system-x86_64 from PATH.\n";

static const char stop_help[] =
    "usage: vmt vm stop [NAME|PATH]... | --all\n\n"
    "Quit QEMU over QMP (SIGTERM, then SIGKILL if it lingers), remove the RAM file,\n"
    "the sockets and the VM's folder.  Also cleans up a VM whose QEMU is gone.\n";

static const char list_help[] = "usage: vmt vm list [--json]\n\n"
				"List the VMs in the run dir: name, QEMU pid, state (running,\n"
				"dead: QEMU gone, broken: unreadable vm.json), memory, workload\n"
				"processes, KASLR, 5-level paging, accelerator.\n";

static const char show_help[] =
    "usage: vmt vm show [NAME|PATH] [--json]\n\n"
    "Print one VM's descriptor (paths of its RAM file, kernel, sockets).\n";

static const char adopt_help[] =
    "usage: vmt vm adopt NAME --qmp SOCKET [--agent SOCKET] [--kernel VMLINUZ] [--json]\n\n"
    "Write a descriptor for a running QEMU that vmt did not start (by hand, by\n"
    "libvirt), so that vmt commands and 'vmt split' take it by NAME.  Its RAM must\n"
    "be a memory-backend-file with share=on; the pid comes from the QMP socket,\n"
    "the rest from QEMU's command line.\n\n"
    "  --qmp SOCKET     QEMU's QMP UNIX socket (server)\n"
    "  --agent SOCKET   the in-guest agent's serial socket, if the guest runs it\n"
    "  --kernel FILE    the guest's vmlinuz, if QEMU was not started with -kernel\n"
    "                   (without one, readers take the kernel profile from its memory)\n";

static const char pause_help[] =
    "usage: vmt vm pause|resume [NAME|PATH]\n\n"
    "Stop the guest's vCPUs (QMP stop) or let them run again (QMP cont).  While a\n"
    "guest is paused its memory does not change, so listings are consistent.\n";

static const char exec_help[] =
    "usage: vmt vm exec [[--vm] NAME] [--timeout S] [--json] -- CMD...\n\n"
    "Run CMD in the guest through its agent: the words are joined with spaces and run\n"
    "by /bin/sh -c (as ssh does).  Prints the command's stdout and stderr and exits\n"
    "with its exit code (1 also when vmt itself fails: see the message).\n\n"
    "options:\n"
    "  --vm NAME        the VM (or as the first argument; default vmt)\n"
    "  --timeout S      give up after S seconds (default 60)\n"
    "  --json           print {exit_code, duration_ns, stdout, stderr} instead, and\n"
    "                   exit 0 once it is printed (invalid UTF-8 becomes U+FFFD)\n";

enum {
	O_HELP = 0x100,
	O_JSON,
	O_MEM,
	O_PROCS,
	O_NO_KASLR,
	O_LA57,
	O_KVM,
	O_KERNEL,
	O_INITRD,
	O_APPEND,
	O_TIMEOUT,
	O_ALL,
	O_VM,
	O_QMP,
	O_AGENT,
	O_LISTEN,
	O_NETNS,
	O_PSK,
};

/* Print the library's message for err, or strerror when it left none. */
static int vm_fail(int err)
{
	cli_err("vm", "%s", vmt_last_error()[0] ? vmt_last_error() : strerror(-err));
	return EXIT_FAIL;
}

static int vm_usage(const char *help, const char *fmt, const char *arg)
{
	char msg[256];

	snprintf(msg, sizeof(msg), fmt, arg);
	cli_err("vm", "%s", msg);
	fputs(help, stderr);
	return EXIT_USAGE;
}

/* "512M", "2G", "4096K" (no fractions); a bare number is MiB, as with qemu -m. */
static int parse_size(const char *s, uint64_t *out)
{
	int err = vmt_pt_parse_size(s, out);

	if (err || !*s || s[strspn(s, "0123456789")])
		return err;
	if (*out > (UINT64_MAX >> 20))
		return -ERANGE;
	*out <<= 20;
	return 0;
}

static int parse_int(const char *s, int lo, int hi, int *out)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (end == s || *end || errno || v < lo || v > hi)
		return -EINVAL;
	*out = (int)v;
	return 0;
}

static const char *vm_state(const struct vmt_vm_desc *d)
{
	if (vmt_vm_is_running(d))
		return "running";
	/* A descriptor recovered from a folder without readable vm.json has no size. */
	return d->mem_bytes ? "dead" : "broken";
}

static struct json_object *vm_json(const struct vmt_vm_desc *d)
{
	struct json_object *o = vmt_vm_desc_json(d);

	if (o)
		json_object_object_add(o, "state", json_object_new_string(vm_state(d)));
	return o;
}

static int vm_print_json(struct json_object *o)
{
	if (!o) {
		cli_err("vm", "out of memory");
		return EXIT_FAIL;
	}
	puts(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY |
						   JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(o);
	return EXIT_OK;
}

/* ------------------------------------------------------------- start */

static int start_parse(int argc, char **argv, struct vmt_vm_start_opts *o, bool *json)
{
	static const struct option longopts[] = {
	    {"mem", required_argument, NULL, O_MEM},
	    {"procs", required_argument, NULL, O_PROCS},
	    {"no-kaslr", no_argument, NULL, O_NO_KASLR},
	    {"la57", no_argument, NULL, O_LA57},
	    {"kvm", no_argument, NULL, O_KVM},
	    {"kernel", required_argument, NULL, O_KERNEL},
	    {"initrd", required_argument, NULL, O_INITRD},
	    {"append", required_argument, NULL, O_APPEND},
	    {"timeout", required_argument, NULL, O_TIMEOUT},
	    {"json", no_argument, NULL, O_JSON},
	    {"help", no_argument, NULL, O_HELP},
	    {0},
	};
	int c;

	optind = 0;
	while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (c) {
		case O_MEM:
			if (parse_size(optarg, &o->mem_bytes))
				return vm_usage(start_help, "bad --mem '%s' (e.g. 512M, 2G)",
						optarg);
			break;
		case O_PROCS:
			if (parse_int(optarg, 0, 100000, &o->nr_procs))
				return vm_usage(start_help, "bad --procs '%s'", optarg);
			break;
		case O_TIMEOUT:
			if (parse_int(optarg, 1, 86400, &o->boot_timeout_s))
				return vm_usage(start_help, "bad --timeout '%s' (seconds)", optarg);
			break;
		case O_NO_KASLR:
			o->no_kaslr = true;
			break;
		case O_LA57:
			o->la57 = true;
			break;
		case O_KVM:
			o->kvm = true;
			break;
		case O_KERNEL:
			o->kernel = optarg;
			break;
		case O_INITRD:
			o->initrd = optarg;
			break;
		case O_APPEND:
			o->extra_cmdline = optarg;
			break;
		case O_JSON:
			*json = true;
			break;
		case 'h':
		case O_HELP:
			fputs(start_help, stdout);
			return -1;
		default:
			fputs(start_help, stderr);
			return EXIT_USAGE;
		}
	}
	if (argc - optind > 1)
		return vm_usage(start_help, "unexpected argument '%s'", argv[optind + 1]);
	if (optind < argc)
		o->name = argv[optind];
	return 0;
}

static int vm_start(int argc, char **argv)
{
	struct vmt_vm_start_opts o = {.sz = sizeof(o), .name = VM_DEFAULT_NAME};
	struct vmt_vm_desc d;
	bool json = false;
	double t0;
	int r;

	r = start_parse(argc, argv, &o, &json);
	if (r)
		return r < 0 ? EXIT_OK : r;
	t0 = cli_now_ms();
	r = vmt_vm_start(&o, &d);
	if (r)
		return vm_fail(r);
	if (json)
		return vm_print_json(vm_json(&d));
	printf("started VM '%s': QEMU pid %d, %llu MiB, %s%s%s, agent up after %.1f s\n", d.name,
	       (int)d.qemu_pid, (unsigned long long)(d.mem_bytes >> 20), d.kvm ? "kvm" : "tcg",
	       d.la57 ? ", la57" : "", d.kaslr ? "" : ", nokaslr", (cli_now_ms() - t0) / 1000);
	printf("%s/vm.json\n", d.dir);
	return EXIT_OK;
}

/* -------------------------------------------------------------- stop */

static int stop_one(const char *name)
{
	struct vmt_vm_desc d;
	int r = vmt_vm_load(name, &d);
	bool running;

	/* A dead or broken VM is what stop is for: its descriptor came back anyway. */
	if (r && r != -ESRCH && r != -EBADMSG)
		return vm_fail(r);
	running = vmt_vm_is_running(&d);
	/* Its export goes first: it lives in the VM's folder, which stop removes. */
	r = vmt_vm_export_stop(&d, false);
	if (r && r != -ENOENT)
		cli_err("vm", "VM '%s': %s", d.name, vmt_last_error());
	r = vmt_vm_stop(&d);
	if (r)
		return vm_fail(r);
	/* A split VM's memory also lives in exports on its sub-hosts. */
	if (d.split.gen > 0 && vmt_split_cleanup(&d))
		cli_err("vm", "VM '%s': %s", d.name, vmt_last_error());
	printf("%s VM '%s'\n", running ? "stopped" : "removed stale", d.name);
	return EXIT_OK;
}

static int stop_all(void)
{
	struct vmt_vm_desc *v;
	int ret = EXIT_OK;
	size_t n;
	int r = vmt_vm_list(&v, &n);

	if (r)
		return vm_fail(r);
	for (size_t i = 0; i < n; i++)
		if (stop_one(v[i].dir) != EXIT_OK)
			ret = EXIT_FAIL;
	free(v);
	return ret;
}

static int vm_stop(int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"all", no_argument, NULL, O_ALL},
	    {"help", no_argument, NULL, O_HELP},
	    {0},
	};
	bool all = false;
	int c, ret = EXIT_OK;

	optind = 0;
	while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		if (c == O_ALL) {
			all = true;
		} else if (c == 'h' || c == O_HELP) {
			fputs(stop_help, stdout);
			return EXIT_OK;
		} else {
			fputs(stop_help, stderr);
			return EXIT_USAGE;
		}
	}
	if (all && optind < argc)
		return vm_usage(stop_help, "give names or --all, not both (%s)", argv[optind]);
	if (all)
		return stop_all();
	if (optind == argc)
		return stop_one(VM_DEFAULT_NAME);
	for (int i = optind; i < argc; i++)
		if (stop_one(argv[i]) != EXIT_OK)
			ret = EXIT_FAIL;
	return ret;
}

/* -------------------------------------------------------- list, show */

/* Parse [NAME] [--json] for list (no NAME) and show. */
static int parse_name_json(int argc, char **argv, const char *help, bool takes_name,
			   const char **name, bool *json)
{
	static const struct option longopts[] = {
	    {"json", no_argument, NULL, O_JSON},
	    {"vm", required_argument, NULL, O_VM},
	    {"help", no_argument, NULL, O_HELP},
	    {0},
	};
	int c;

	optind = 0;
	while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		if (c == O_JSON) {
			*json = true;
		} else if (c == O_VM && takes_name) {
			*name = optarg;
		} else if (c == 'h' || c == O_HELP) {
			fputs(help, stdout);
			return -1;
		} else {
			fputs(help, stderr);
			return EXIT_USAGE;
		}
	}
	if (takes_name && optind < argc)
		*name = argv[optind++];
	if (optind < argc)
		return vm_usage(help, "unexpected argument '%s'", argv[optind]);
	return 0;
}

static void list_print_table(const struct vmt_vm_desc *v, size_t n)
{
	printf("%-20s %8s %-8s %8s %6s %-5s %-4s %s\n", "NAME", "PID", "STATE", "MEM_MB", "PROCS",
	       "KASLR", "LA57", "ACCEL");
	for (size_t i = 0; i < n; i++)
		printf("%-20s %8d %-8s %8llu %6d %-5s %-4s %s\n", v[i].name, (int)v[i].qemu_pid,
		       vm_state(&v[i]), (unsigned long long)(v[i].mem_bytes >> 20), v[i].nr_procs,
		       v[i].kaslr ? "on" : "off", v[i].la57 ? "on" : "off",
		       v[i].kvm ? "kvm" : "tcg");
}

static int vm_list(int argc, char **argv)
{
	struct json_object *a;
	struct vmt_vm_desc *v;
	const char *unused = NULL;
	bool json = false;
	size_t n;
	int r = parse_name_json(argc, argv, list_help, false, &unused, &json);

	if (r)
		return r < 0 ? EXIT_OK : r;
	r = vmt_vm_list(&v, &n);
	if (r)
		return vm_fail(r);
	if (!json) {
		list_print_table(v, n);
		free(v);
		return EXIT_OK;
	}
	a = json_object_new_array();
	for (size_t i = 0; a && i < n; i++)
		json_object_array_add(a, vm_json(&v[i]));
	free(v);
	return vm_print_json(a);
}

static void show_print_split(const struct vmt_vm_split *s)
{
	char *stats = NULL;

	printf("split:       main %llu MiB, cap %llu MiB, chunk %llu KiB, %s\n",
	       (unsigned long long)(s->main_bytes >> 20), (unsigned long long)(s->cap_bytes >> 20),
	       (unsigned long long)(s->chunk_bytes >> 10),
	       s->insecure ? "plain NBD (insecure)" : "TLS-PSK");
	for (unsigned k = 0; k < s->nr_hosts; k++)
		printf("  sub-host:  %s at %s%s%s%s\n", s->hosts[k].name, s->hosts[k].addr,
		       s->hosts[k].export[0] ? " export " : "", s->hosts[k].export,
		       s->hosts[k].ours ? " (started by vmt)" : "");
	if (s->main_netns[0])
		printf("  netns:     %s (hosts %s)\n", s->main_netns, s->hosts_prefix);
	printf("  pagetable: %s\n  pager:     %s\n", s->pagetable, s->pager_sock);
	if (!s->insecure)
		printf("  key:       %s\n", s->psk_file);
	if (!vmt_split_pager_stats(s->pager_sock, 2000, &stats))
		printf("  stats:     %s\n", stats);
	else
		printf("  stats:     (the pager does not answer)\n");
	free(stats);
}

static void show_print_text(const struct vmt_vm_desc *d)
{
	printf("name:        %s\nstate:       %s\nqemu pid:    %d\n", d->name, vm_state(d),
	       (int)d->qemu_pid);
	printf("memory:      %llu MiB in %s\n", (unsigned long long)(d->mem_bytes >> 20),
	       d->mem_path);
	printf("machine:     %s, %s, %s paging, KASLR %s\n", d->machine, d->kvm ? "kvm" : "tcg",
	       d->la57 ? "5-level" : "4-level", d->kaslr ? "on" : "off");
	printf("workload:    %d processes\n", d->nr_procs);
	printf("kernel:      %s\ninitrd:      %s\ncmdline:     %s\n", d->kernel, d->initrd,
	       d->cmdline);
	printf("folder:      %s\nqmp:         %s\nagent:       %s\nconsole:     %s\n", d->dir,
	       d->qmp_sock, d->agent_sock, d->console_log);
	if (d->adopted)
		printf("adopted:     yes (started outside vmt)\n");
	if (d->split.gen > 0)
		show_print_split(&d->split);
	if (d->export.on)
		printf("export:      %s%s%s, key %s (read it with --from)\n", d->export.listen,
		       d->export.netns[0] ? " in " : "", d->export.netns, d->export.psk_file);
}

/* vm.json plus state and, for a split VM whose pager answers, its statistics. */
static struct json_object *show_json(const struct vmt_vm_desc *d)
{
	struct json_object *o = vm_json(d), *st;
	char *stats = NULL;

	if (o && d->split.gen > 0 && !vmt_split_pager_stats(d->split.pager_sock, 2000, &stats) &&
	    (st = json_tokener_parse(stats)))
		json_object_object_add(o, "pager_stats", st);
	free(stats);
	return o;
}

static int vm_show(int argc, char **argv)
{
	const char *name = VM_DEFAULT_NAME;
	struct vmt_vm_desc d;
	bool json = false;
	int r = parse_name_json(argc, argv, show_help, true, &name, &json);

	if (r)
		return r < 0 ? EXIT_OK : r;
	r = vmt_vm_load(name, &d);
	if (r == -ESRCH)
		cli_err("vm", "%s", vmt_last_error()); /* still worth showing */
	else if (r)
		return vm_fail(r);
	if (json)
		return vm_print_json(show_json(&d));
	show_print_text(&d);
	return EXIT_OK;
}

/* ------------------------------------------------------------ export */

static const char export_help[] =
    "usage: vmt vm export NAME [--listen ADDR[:PORT]] [--netns NS] [--psk FILE] [--json]\n"
    "       vmt vm unexport NAME\n\n"
    "Serve the VM's memory read-only to an IDS on another host: one nbdkit (TLS-PSK,\n"
    "-r) in the VM's main-host namespace serving exports 'mem' (the memory file; holes\n"
    "stay holes), 'pagetable' (a split VM's), 'kernel' (its vmlinuz) and 'meta'.\n"
    "A reader runs `vmt ps --vm NAME --from ADDR:PORT --psk FILE` (also lsmod, netstat,\n"
    "info, mem).  Idempotent; a second export with other options says what differs.\n"
    "`vmt vm stop` stops it too.\n\n"
    "options:\n"
    "  --listen ADDR[:PORT] where nbdkit listens (default: every address of the main-host\n"
    "                       namespace, or 127.0.0.1 for a VM in none; port: the first\n"
    "                       free from 10809)\n"
    "  --netns NS           namespace to run in (default: the split VM's main host)\n"
    "  --psk FILE           key readers need (default: the split's; else one is made\n"
    "                       in <vm dir>/export/psk)\n"
    "  --json               print the export record as JSON\n";

static int export_parse(int argc, char **argv, const char **name, struct vmt_vm_export_opts *o,
			bool *json)
{
	static const struct option longopts[] = {
	    {"listen", required_argument, NULL, O_LISTEN},
	    {"netns", required_argument, NULL, O_NETNS},
	    {"psk", required_argument, NULL, O_PSK},
	    {"json", no_argument, NULL, O_JSON},
	    {"help", no_argument, NULL, O_HELP},
	    {0},
	};
	int c;

	optind = 0;
	while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		if (c == O_LISTEN) {
			o->listen = optarg;
		} else if (c == O_NETNS) {
			o->netns = optarg;
		} else if (c == O_PSK) {
			o->psk_file = optarg;
		} else if (c == O_JSON) {
			*json = true;
		} else if (c == 'h' || c == O_HELP) {
			fputs(export_help, stdout);
			return -1;
		} else {
			fputs(export_help, stderr);
			return EXIT_USAGE;
		}
	}
	if (optind < argc)
		*name = argv[optind++];
	if (optind < argc)
		return vm_usage(export_help, "unexpected argument '%s'", argv[optind]);
	return 0;
}

static int vm_export(int argc, char **argv)
{
	struct vmt_vm_export_opts o = {.sz = sizeof(o)};
	const char *name = VM_DEFAULT_NAME;
	struct vmt_vm_desc d;
	bool json = false, already;
	int r = export_parse(argc, argv, &name, &o, &json);

	if (r)
		return r < 0 ? EXIT_OK : r;
	r = vmt_vm_load(name, &d);
	if (r)
		return vm_fail(r);
	r = vmt_vm_export_start(&d, &o, &already);
	if (r == -EINVAL) {
		cli_err("vm", "%s", vmt_last_error());
		return EXIT_USAGE;
	}
	if (r)
		return vm_fail(r);
	if (json) {
		struct json_object *v = vmt_vm_desc_json(&d), *e = NULL;

		if (v && json_object_object_get_ex(v, "export", &e))
			json_object_get(e);
		json_object_put(v);
		return vm_print_json(e);
	}
	printf("%s VM '%s' on %s%s%s, key %s\n", already ? "already exporting" : "exporting",
	       d.name, d.export.listen, d.export.netns[0] ? " in " : "", d.export.netns,
	       d.export.psk_file);
	return EXIT_OK;
}

static int vm_unexport(int argc, char **argv)
{
	const char *name = VM_DEFAULT_NAME;
	struct vmt_vm_desc d;
	bool json = false;
	int r = parse_name_json(argc, argv, export_help, true, &name, &json);

	if (r)
		return r < 0 ? EXIT_OK : r;
	r = vmt_vm_load(name, &d);
	if (r)
		return vm_fail(r);
	r = vmt_vm_export_stop(&d, true);
	if (r == -ENOENT) {
		printf("VM '%s' was not exported\n", d.name);
		return EXIT_OK;
	}
	if (r)
		return vm_fail(r);
	printf("stopped exporting VM '%s'\n", d.name);
	return EXIT_OK;
}

/* -------------------------------------------------------------- exec */

/* JSON strings must be UTF-8: invalid bytes become U+FFFD. */
static struct json_object *json_utf8(const char *s, size_t len)
{
	struct json_object *o;
	char *buf, *p;
	size_t i = 0;

	if (len > (SIZE_MAX - 1) / 3)
		return NULL;
	buf = malloc(len * 3 + 1);
	if (!buf)
		return NULL;
	p = buf;
	while (i < len) {
		unsigned char c = (unsigned char)s[i];
		size_t n = c < 0x80		? 1
			   : (c & 0xe0) == 0xc0 ? 2
			   : (c & 0xf0) == 0xe0 ? 3
			   : (c & 0xf8) == 0xf0 ? 4
						: 0;
		bool ok = n && i + n <= len && !(n == 2 && c < 0xc2) && !(n == 4 && c > 0xf4);

		for (size_t k = 1; ok && k < n; k++)
			ok = ((unsigned char)s[i + k] & 0xc0) == 0x80;
		if (ok) {
			memcpy(p, s + i, n);
			p += n;
			i += n;
		} else {
			memcpy(p, "\xef\xbf\xbd", 3);
			p += 3;
			i++;
		}
	}
	o = json_object_new_string_len(buf, (int)(p - buf));
	free(buf);
	return o;
}

static int exec_print_json(const struct vmt_agent_result *res)
{
	struct json_object *o = json_object_new_object();

	if (o) {
		json_object_object_add(o, "exit_code", json_object_new_int(res->exit_code));
		json_object_object_add(o, "duration_ns",
				       json_object_new_int64((int64_t)res->duration_ns));
		json_object_object_add(o, "stdout", json_utf8(res->out, res->out_len));
		json_object_object_add(o, "stderr", json_utf8(res->err, res->err_len));
	}
	return vm_print_json(o);
}

/* The words after "--" joined with spaces: the guest's /bin/sh -c parses them. */
static char *exec_join(int argc, char **argv)
{
	size_t len = 1;
	char *cmd;

	for (int i = 0; i < argc; i++)
		len += strlen(argv[i]) + 1;
	cmd = malloc(len);
	if (!cmd)
		return NULL;
	cmd[0] = '\0';
	for (int i = 0; i < argc; i++) {
		if (i)
			strcat(cmd, " ");
		strcat(cmd, argv[i]);
	}
	return cmd;
}

static int exec_parse(int argc, char **argv, const char **name, int *timeout_s, bool *json)
{
	static const struct option longopts[] = {
	    {"vm", required_argument, NULL, O_VM},
	    {"timeout", required_argument, NULL, O_TIMEOUT},
	    {"json", no_argument, NULL, O_JSON},
	    {"help", no_argument, NULL, O_HELP},
	    {0},
	};
	int c;

	optind = 0;
	while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		if (c == O_VM) {
			*name = optarg;
		} else if (c == O_TIMEOUT) {
			if (parse_int(optarg, 1, 86400 * 7, timeout_s))
				return vm_usage(exec_help, "bad --timeout '%s' (seconds)", optarg);
		} else if (c == O_JSON) {
			*json = true;
		} else if (c == 'h' || c == O_HELP) {
			fputs(exec_help, stdout);
			return -1;
		} else {
			fputs(exec_help, stderr);
			return EXIT_USAGE;
		}
	}
	if (optind < argc)
		*name = argv[optind++];
	if (optind < argc)
		return vm_usage(exec_help, "unexpected argument '%s' (the command goes after '--')",
				argv[optind]);
	return 0;
}

static int exec_run(const char *name, const char *cmd, int timeout_s, bool json)
{
	struct vmt_agent_result res;
	struct vmt_vm_desc d;
	int r = vmt_vm_load(name, &d);

	if (r)
		return vm_fail(r);
	r = vmt_agent_exec(&d, cmd, timeout_s, &res);
	if (r)
		return vm_fail(r);
	if (json) {
		r = exec_print_json(&res);
	} else {
		fwrite(res.out, 1, res.out_len, stdout);
		fflush(stdout);
		fwrite(res.err, 1, res.err_len, stderr);
		r = res.exit_code >= 0 && res.exit_code <= 255 ? res.exit_code : 255;
	}
	vmt_agent_result_free(&res);
	return r;
}

static int vm_exec(int argc, char **argv)
{
	const char *name = VM_DEFAULT_NAME;
	int dd = argc, timeout_s = 60, r;
	bool json = false;
	char *cmd;

	/* Options stop at "--": find it before getopt permutes argv. */
	for (int i = 1; i < argc; i++)
		if (!strcmp(argv[i], "--")) {
			dd = i;
			break;
		}
	r = exec_parse(dd, argv, &name, &timeout_s, &json);
	if (r)
		return r < 0 ? EXIT_OK : r;
	if (dd >= argc - 1)
		return vm_usage(exec_help, "%s", "no command: give it after '--'");
	cmd = exec_join(argc - dd - 1, argv + dd + 1);
	if (!cmd) {
		cli_err("vm", "out of memory");
		return EXIT_FAIL;
	}
	r = exec_run(name, cmd, timeout_s, json);
	free(cmd);
	return r;
}

/* ----------------------------------------------------- pause / resume */

static int vm_pause_resume(int argc, char **argv, bool pause)
{
	const char *name = VM_DEFAULT_NAME;
	struct vmt_vm_desc d;
	bool json = false;
	char status[32];
	int r = parse_name_json(argc, argv, pause_help, true, &name, &json);

	if (r)
		return r < 0 ? EXIT_OK : r;
	r = vmt_vm_load(name, &d);
	if (r)
		return vm_fail(r);
	r = vmt_vm_pause(&d, pause);
	if (!r)
		r = vmt_vm_status(&d, status, sizeof(status));
	if (r)
		return vm_fail(r);
	printf("VM '%s' is %s\n", d.name, status);
	return EXIT_OK;
}

static int vm_pause(int argc, char **argv)
{
	return vm_pause_resume(argc, argv, true);
}

static int vm_resume(int argc, char **argv)
{
	return vm_pause_resume(argc, argv, false);
}

/* ------------------------------------------------------------- adopt */

static int adopt_parse(int argc, char **argv, struct vmt_adopt_opts *o, bool *json)
{
	static const struct option longopts[] = {
	    {"qmp", required_argument, NULL, O_QMP},
	    {"agent", required_argument, NULL, O_AGENT},
	    {"kernel", required_argument, NULL, O_KERNEL},
	    {"json", no_argument, NULL, O_JSON},
	    {"help", no_argument, NULL, O_HELP},
	    {0},
	};
	int c;

	optind = 0;
	while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		if (c == O_QMP)
			o->qmp_sock = optarg;
		else if (c == O_AGENT)
			o->agent_sock = optarg;
		else if (c == O_KERNEL)
			o->kernel = optarg;
		else if (c == O_JSON)
			*json = true;
		else if (c == 'h' || c == O_HELP)
			return fputs(adopt_help, stdout), -1;
		else
			return fputs(adopt_help, stderr), EXIT_USAGE;
	}
	if (optind + 1 != argc)
		return vm_usage(adopt_help, "give one NAME%s", "");
	if (!o->qmp_sock)
		return vm_usage(adopt_help, "--qmp SOCKET is required%s", "");
	o->name = argv[optind];
	return 0;
}

static int vm_adopt(int argc, char **argv)
{
	struct vmt_adopt_opts o = {.sz = sizeof(o)};
	struct vmt_vm_desc d;
	bool json = false;
	int r = adopt_parse(argc, argv, &o, &json);

	if (r)
		return r < 0 ? EXIT_OK : r;
	r = vmt_vm_adopt(&o, &d);
	if (r)
		return vm_fail(r);
	if (json)
		return vm_print_json(vm_json(&d));
	printf("adopted VM '%s' (QEMU pid %d, %llu MiB in %s)\n%s/vm.json\n", d.name,
	       (int)d.qemu_pid, (unsigned long long)(d.mem_bytes >> 20), d.mem_path, d.dir);
	return EXIT_OK;
}

/* ------------------------------------------------------------ dispatch */

int cmd_vm(int argc, char **argv)
{
	static const struct {
		const char *name;
		int (*fn)(int argc, char **argv);
	} subs[] = {
	    {"start", vm_start},       {"stop", vm_stop},   {"list", vm_list},
	    {"show", vm_show},	       {"exec", vm_exec},   {"pause", vm_pause},
	    {"resume", vm_resume},     {"adopt", vm_adopt}, {"export", vm_export},
	    {"unexport", vm_unexport},
	};

	if (argc < 2) {
		fputs(vm_help, stderr);
		return EXIT_USAGE;
	}
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
		fputs(vm_help, stdout);
		return EXIT_OK;
	}
	for (size_t i = 0; i < sizeof(subs) / sizeof(subs[0]); i++)
		if (!strcmp(argv[1], subs[i].name))
			return subs[i].fn(argc - 1, argv + 1);
	cli_err("vm", "unknown command '%s' (see 'vmt vm --help')", argv[1]);
	return EXIT_USAGE;
}

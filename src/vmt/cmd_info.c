// SPDX-License-Identifier: LGPL-2.1-or-later
/* cmd_info.c - `vmt info`: which kernel runs, where KASLR put it, uptime, memory. */
#include <getopt.h>
#include <json-c/json.h>
#include <stdio.h>

#include "cli.h"

static const char info_help[] =
    "usage: vmt info [options]\n\n"
    "Identify the guest's kernel from its memory: version banner, KASLR slides,\n"
    "paging mode, direct-map base; and hostname, uptime and meminfo.\n\n"
    "options:\n" CLI_TARGET_HELP;

static void info_json(const struct vmt_kernel_info *ki, const struct vmt_sysinfo *si, bool have_si)
{
	json_object *o = json_object_new_object();

	json_object_object_add(o, "banner", json_object_new_string(ki->banner));
	json_object_object_add(o, "release", json_object_new_string(ki->release));
	json_object_object_add(o, "virt_slide", json_object_new_uint64(ki->virt_slide));
	json_object_object_add(o, "phys_load", json_object_new_uint64(ki->phys_load));
	json_object_object_add(o, "page_offset_base", json_object_new_uint64(ki->page_offset));
	json_object_object_add(o, "vmemmap_base", json_object_new_uint64(ki->vmemmap));
	json_object_object_add(o, "kernel_pgd", json_object_new_uint64(ki->kernel_pgd));
	json_object_object_add(o, "paging_levels", json_object_new_int(ki->paging_levels));
	if (have_si) {
		json_object_object_add(o, "nodename", json_object_new_string(si->nodename));
		json_object_object_add(o, "uts_release", json_object_new_string(si->release));
		json_object_object_add(o, "uts_version", json_object_new_string(si->version));
		json_object_object_add(o, "uptime_ns", json_object_new_uint64(si->uptime_ns));
		json_object_object_add(o, "boot_time_s", json_object_new_uint64(si->boot_time_s));
		json_object_object_add(o, "mem_total_kb", json_object_new_uint64(si->mem_total_kb));
		json_object_object_add(o, "mem_free_kb", json_object_new_uint64(si->mem_free_kb));
		json_object_object_add(o, "mem_available_kb",
				       json_object_new_uint64(si->mem_available_kb));
		json_object_object_add(o, "nr_cpus", json_object_new_int64(si->nr_cpus));
		json_object_object_add(o, "nr_tasks", json_object_new_int64(si->nr_tasks));
	}
	puts(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY));
	json_object_put(o);
}

static void info_text(const struct vmt_kernel_info *ki, const struct vmt_sysinfo *si, bool have_si)
{
	printf("kernel:        %s\n", ki->banner);
	printf("release:       %s\n", ki->release);
	printf("paging:        %d-level\n", ki->paging_levels);
	printf("KASLR:         text at phys 0x%llx, virtual slide 0x%llx\n",
	       (unsigned long long)ki->phys_load, (unsigned long long)ki->virt_slide);
	printf("direct map:    0x%016llx\n", (unsigned long long)ki->page_offset);
	printf("vmemmap:       0x%016llx\n", (unsigned long long)ki->vmemmap);
	printf("kernel pgd:    0x%llx (phys)\n", (unsigned long long)ki->kernel_pgd);
	if (!have_si)
		return;
	printf("hostname:      %s\n", si->nodename);
	printf("uptime:        %.2f s\n", si->uptime_ns / 1e9);
	printf("cpus:          %u\n", si->nr_cpus);
	printf("tasks:         %u\n", si->nr_tasks);
	printf("MemTotal:      %llu kB\n", (unsigned long long)si->mem_total_kb);
	printf("MemFree:       %llu kB\n", (unsigned long long)si->mem_free_kb);
	printf("MemAvailable:  %llu kB\n", (unsigned long long)si->mem_available_kb);
}

int cmd_info(int argc, char **argv)
{
	static const struct option longopts[] = {CLI_TARGET_LONGOPTS, {0}};
	struct cli_target t = {0};
	struct vmt_kernel_info ki;
	struct vmt_sysinfo si = {0};
	struct vmt_guest *g;
	bool have_si;
	double t0;
	int c;

	while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		if (cli_target_opt(&t, c, optarg))
			continue;
		if (c == 'h' || c == OPT_HELP) {
			fputs(info_help, stdout);
			return EXIT_OK;
		}
		fputs(info_help, stderr);
		return EXIT_USAGE;
	}
	if (optind != argc) {
		cli_err("info", "unexpected argument '%s'", argv[optind]);
		return EXIT_USAGE;
	}
	if (cli_target_check("info", &t))
		return EXIT_USAGE;
	t0 = cli_now_ms();
	g = cli_target_open("info", &t);
	if (!g)
		return EXIT_FAIL;
	vmt_listing_begin(g);
	vmt_guest_kernel_info(g, &ki);
	have_si = vmt_sysinfo(g, &si) == 0;
	vmt_listing_end(g);
	if (!have_si)
		cli_err("info", "system information unavailable: %s", vmt_last_error());
	if (t.json)
		info_json(&ki, &si, have_si);
	else
		info_text(&ki, &si, have_si);
	cli_target_stats(&t, g, cli_now_ms() - t0);
	if (cli_target_close(&t, g))
		have_si = false;
	return have_si ? EXIT_OK : EXIT_FAIL;
}

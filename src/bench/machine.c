// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * machine.c - what the numbers were measured on, stored next to them: CPU,
 * cores, memory, host kernel, QEMU and nbdkit versions, load and date.
 */
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include "bench/bench.h"

/* The value after "key:" on the first line of path that starts with key; "" if none. */
static void file_field(const char *path, const char *key, char *out, size_t n)
{
	char line[512];
	FILE *f = fopen(path, "r");
	size_t kl = strlen(key);

	out[0] = '\0';
	if (!f)
		return;
	while (fgets(line, sizeof(line), f)) {
		char *v;

		if (strncmp(line, key, kl) || !(v = strchr(line + kl, ':')))
			continue;
		v += strspn(v + 1, " \t") + 1;
		v[strcspn(v, "\n")] = '\0';
		snprintf(out, n, "%s", v);
		break;
	}
	fclose(f);
}

/* First line of a shell command's output ("" if it fails); the command is ours, not input. */
static void first_line(const char *cmd, char *out, size_t n)
{
	FILE *p = popen(cmd, "r");

	out[0] = '\0';
	if (!p)
		return;
	if (fgets(out, (int)n, p))
		out[strcspn(out, "\n")] = '\0';
	pclose(p);
}

static void add_str(struct json_object *o, const char *k, const char *v)
{
	json_object_object_add(o, k, json_object_new_string(v));
}

struct json_object *bench_machine_json(void)
{
	struct json_object *o = json_object_new_object();
	const char *qemu = getenv("VMT_QEMU");
	char buf[512], cmd[600];
	struct utsname u;
	time_t t = time(NULL);

	file_field("/proc/cpuinfo", "model name", buf, sizeof(buf));
	add_str(o, "cpu", buf);
	json_object_object_add(o, "cores", json_object_new_int((int)sysconf(_SC_NPROCESSORS_ONLN)));
	file_field("/proc/meminfo", "MemTotal", buf, sizeof(buf));
	add_str(o, "memory", buf);
	if (!uname(&u)) {
		snprintf(buf, sizeof(buf), "%s %s %s", u.sysname, u.release, u.machine);
		add_str(o, "kernel", buf);
		add_str(o, "kernel_version", u.version);
	}
	snprintf(cmd, sizeof(cmd), "'%s' --version 2>/dev/null",
		 qemu && !strchr(qemu, '\'') ? qemu : "qemu-system-x86_64");
	first_line(cmd, buf, sizeof(buf));
	add_str(o, "qemu", buf);
	first_line("nbdkit --version 2>/dev/null", buf, sizeof(buf));
	add_str(o, "nbdkit", buf);
	first_line("cat /proc/loadavg", buf, sizeof(buf));
	add_str(o, "loadavg", buf);
	strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", gmtime(&t));
	add_str(o, "date", buf);
	return o;
}

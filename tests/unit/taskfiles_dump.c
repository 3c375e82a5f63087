// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * taskfiles_dump - build the shadow /proc's per-process files of a guest
 * (pfs_task_fill for every process and thread, as a snapshot does) and
 * print those of the processes named, for tests/system/test_task_detail.py
 * to compare with the guest's own /proc.
 *
 *   taskfiles_dump MEMFILE VMLINUZ RAM_BYTES PID...
 *
 * Every node under /PID (and /PID/task/TID) is printed, in name order:
 *   "== PATH LEN\n" and LEN bytes    a file
 *   "@@ PATH MODE TARGET\n"          a link (mode in octal)
 *   "// PATH MODE\n"                 a directory
 * A process that is not in the guest prints "!! PID\n".  The time the fill
 * of all tasks took goes to stderr ("fill_ms N tasks M").  Exit 0, or 1 if
 * the guest cannot be opened or listed.
 *
 * A split VM: $VMT_DUMP_PAGETABLE names its page table, $VMT_DUMP_FETCH the
 * fetch method ("runtime" or "vm"), $VMT_DUMP_PSK the sub-hosts' key,
 * $VMT_DUMP_PAGER the pager's socket; then the pages fetched and the round
 * trips of the whole fill go to stderr too ("fetched N round_trips M").
 * $VMT_DUMP_REPEAT=N fills N trees (the guest's pages cached after the
 * first) and reports the fastest, to time the renderers alone.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "procfs/procfs.h"
#include "procfs/render_task.h"

static void dump(const struct pfs_node *n, const char *path)
{
	char sub[512];

	if (n->type == PFS_FILE) {
		printf("== %s %zu\n", path, n->len);
		fwrite(n->data, 1, n->len, stdout);
		return;
	}
	if (n->type == PFS_LINK) {
		printf("@@ %s %o %s\n", path, (unsigned)n->mode, n->data);
		return;
	}
	printf("// %s %o\n", path, (unsigned)n->mode);
	for (size_t i = 0; i < n->nkids; i++) {
		snprintf(sub, sizeof(sub), "%s/%s", path, n->kids[i]->name);
		dump(n->kids[i], sub);
	}
}

static ssize_t find_pid(const struct vmt_task_list *l, int32_t pid)
{
	size_t lo = 0, hi = l->n;

	while (lo < hi) { /* sorted by pid */
		size_t mid = lo + (hi - lo) / 2;

		if (l->tasks[mid].pid == pid)
			return (ssize_t)mid;
		if (l->tasks[mid].pid < pid)
			lo = mid + 1;
		else
			hi = mid;
	}
	return -1;
}

/* /PID for leaders, /PID/task/TID for every task (leaders too), as Linux lays them out. */
static int fill_all(struct pfs_tree *t, const struct pfs_ctx *c, const struct vmt_task_list *l)
{
	struct pfs_node **taskdir = calloc(l->n + 1, sizeof(*taskdir));
	char name[16];
	int err = 0;

	for (size_t i = 0; taskdir && i < l->n && !err; i++) {
		const struct vmt_task *k = &l->tasks[i];
		struct pfs_node *d;

		if (k->flags & VMT_F_THREAD)
			continue;
		snprintf(name, sizeof(name), "%d", k->pid);
		d = pfs_dir_new(t, t->root, name, 0555, k->euid, k->egid);
		taskdir[i] = d ? pfs_dir_new(t, d, "task", 0555, k->euid, k->egid) : NULL;
		if (!taskdir[i] || pfs_task_fill(t, c, k, d) == -ENOMEM)
			err = -ENOMEM;
	}
	for (size_t i = 0; taskdir && i < l->n && !err; i++) {
		const struct vmt_task *k = &l->tasks[i];
		ssize_t lead = find_pid(l, k->tgid);
		struct pfs_node *d;

		if (lead < 0 || !taskdir[lead])
			continue;
		snprintf(name, sizeof(name), "%d", k->pid);
		d = pfs_dir_new(t, taskdir[lead], name, 0555, k->euid, k->egid);
		if (!d || pfs_task_fill(t, c, k, d) == -ENOMEM)
			err = -ENOMEM;
	}
	free(taskdir);
	return taskdir ? err : -ENOMEM;
}

int main(int argc, char **argv)
{
	struct vmt_guest_opts o = {.sz = sizeof(o)};
	struct pfs_ctx c = {.user_hz = 100};
	struct vmt_task_list *l = NULL;
	struct vmt_mem_stats st = {.sz = sizeof(st)};
	struct timespec a, b, ca, cb;
	struct pfs_tree *t;
	struct vmt_guest *g;

	if (argc < 4) {
		fprintf(stderr, "usage: %s MEMFILE VMLINUZ RAM_BYTES PID...\n", argv[0]);
		return 2;
	}
	o.mem_path = argv[1];
	o.kernel_path = argv[2];
	o.ram_size = strtoull(argv[3], NULL, 0);
	o.pagetable_path = getenv("VMT_DUMP_PAGETABLE");
	o.psk_file = getenv("VMT_DUMP_PSK");
	o.pager_sock = getenv("VMT_DUMP_PAGER");
	if (getenv("VMT_DUMP_FETCH"))
		o.fetch =
		    !strcmp(getenv("VMT_DUMP_FETCH"), "vm") ? VMT_FETCH_VM : VMT_FETCH_RUNTIME;
	g = vmt_guest_open(&o);
	if (!g) {
		fprintf(stderr, "taskfiles_dump: %s\n", vmt_last_error());
		return 1;
	}
	vmt_listing_begin(g);
	/* $VMT_DUMP_LAZY: list as a lazy /proc does, without cmdlines and exe paths */
	if (vmt_tasks(g,
		      getenv("VMT_DUMP_LAZY") ? VMT_TASK_THREADS
					      : VMT_TASK_CMDLINE | VMT_TASK_EXE | VMT_TASK_THREADS,
		      &l)) {
		fprintf(stderr, "taskfiles_dump: tasks: %s\n", vmt_last_error());
		return 1;
	}
	c.g = g;
	c.tasks = l;
	t = pfs_tree_new();
	vmt_mem_stats_reset(g);
	clock_gettime(CLOCK_MONOTONIC, &a);
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ca);
	if (!t || fill_all(t, &c, l)) {
		fprintf(stderr, "taskfiles_dump: out of memory\n");
		return 1;
	}
	clock_gettime(CLOCK_MONOTONIC, &b);
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &cb);
	vmt_mem_stats(g, &st);
	fprintf(stderr,
		"fill_ms %.1f cpu_ms %.1f tasks %zu fetched %llu round_trips %llu errors %llu "
		"pages_read %llu "
		"evictions %llu\n",
		(double)(b.tv_sec - a.tv_sec) * 1e3 + (double)(b.tv_nsec - a.tv_nsec) / 1e6,
		(double)(cb.tv_sec - ca.tv_sec) * 1e3 + (double)(cb.tv_nsec - ca.tv_nsec) / 1e6,
		l->n, (unsigned long long)st.pages_fetched, (unsigned long long)st.round_trips,
		(unsigned long long)st.fetch_errors, (unsigned long long)st.pages_read,
		(unsigned long long)st.evictions);
	for (int rep = getenv("VMT_DUMP_REPEAT") ? atoi(getenv("VMT_DUMP_REPEAT")) : 0; rep > 0;
	     rep--) {
		struct pfs_tree *t2 = pfs_tree_new();

		clock_gettime(CLOCK_MONOTONIC, &a);
		if (!t2 || fill_all(t2, &c, l))
			return 1;
		clock_gettime(CLOCK_MONOTONIC, &b);
		fprintf(stderr, "repeat_fill_ms %.1f\n",
			(double)(b.tv_sec - a.tv_sec) * 1e3 +
			    (double)(b.tv_nsec - a.tv_nsec) / 1e6);
		pfs_tree_free(t2);
	}
	pfs_seal(t);
	for (int i = 4; i < argc; i++) {
		struct pfs_node *n = pfs_walk(t->root, argv[i]);

		if (!n) {
			printf("!! %s\n", argv[i]);
			continue;
		}
		dump(n, argv[i]);
	}
	pfs_tree_free(t);
	vmt_task_list_free(l);
	vmt_guest_close(g);
	return 0;
}

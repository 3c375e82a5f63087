// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * sysfiles_dump - build the shadow /proc's system-wide files of a guest
 * (pfs_system_fill over a fresh tree) and print the ones named, for
 * tests/system/test_system_files.py to compare with the guest's own.
 *
 *   sysfiles_dump MEMFILE VMLINUZ RAM_BYTES PATH...
 *
 * Each file is printed as "== PATH LEN\n" and its LEN bytes; a file the
 * tree lacks as "== PATH -1\n".  "1/mountinfo" is rendered on its own
 * (pfs_render_mountinfo: the per-process part of the tree is not built).  Exit 0, or 1 if the guest
 * cannot be opened.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "procfs/procfs.h"
#include "procfs/render_system.h"

static void print_mountinfo(struct vmt_guest *g)
{
	struct vmt_mount_list *l;
	struct textbuf b;

	if (vmt_mounts(g, &l)) {
		printf("== 1/mountinfo -1\n");
		return;
	}
	tb_init(&b);
	pfs_render_mountinfo(&b, l);
	printf("== 1/mountinfo %zu\n", b.len);
	fwrite(b.p, 1, b.len, stdout);
	tb_free(&b);
	vmt_mount_list_free(l);
}

int main(int argc, char **argv)
{
	struct vmt_guest_opts o = {.sz = sizeof(o)};
	struct vmt_socket_list *socks = NULL;
	struct vmt_sysinfo si;
	struct pfs_ctx c = {.si = &si, .user_hz = 100};
	struct timespec t0, t1;
	struct vmt_mem_stats st = {.sz = sizeof(st)};
	struct pfs_tree *t;
	struct vmt_guest *g;
	int err;

	if (argc < 4) {
		fprintf(stderr, "usage: %s MEMFILE VMLINUZ RAM_BYTES PATH...\n", argv[0]);
		return 2;
	}
	o.mem_path = argv[1];
	o.kernel_path = argv[2];
	o.ram_size = strtoull(argv[3], NULL, 0);
	g = vmt_guest_open(&o);
	if (!g) {
		fprintf(stderr, "sysfiles_dump: %s\n", vmt_last_error());
		return 1;
	}
	vmt_listing_begin(g);
	c.g = g;
	if (vmt_sysinfo(g, &si)) {
		fprintf(stderr, "sysfiles_dump: sysinfo: %s\n", vmt_last_error());
		return 1;
	}
	if (!vmt_sockets(g, &socks))
		c.socks = socks;
	t = pfs_tree_new();
	vmt_mem_stats_reset(g);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	err = t ? pfs_system_fill(t, &c, t->root) : -12;
	clock_gettime(CLOCK_MONOTONIC, &t1);
	if (err) {
		fprintf(stderr, "sysfiles_dump: fill: %d\n", err);
		return 1;
	}
	vmt_mem_stats(g, &st);
	/* what the fill cost (the page cache already holds what sysinfo and sockets read) */
	fprintf(stderr,
		"sysfiles_dump: pfs_system_fill %.2f ms, %llu pages read, %llu cache hits\n",
		(double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6,
		(unsigned long long)st.pages_read, (unsigned long long)st.cache_hits);
	pfs_seal(t);
	for (int i = 4; i < argc; i++) {
		struct pfs_node *n = pfs_walk(t->root, argv[i]);

		if (!strcmp(argv[i], "1/mountinfo")) {
			print_mountinfo(g);
			continue;
		}
		if (!n || n->type != PFS_FILE) {
			printf("== %s -1\n", argv[i]);
			continue;
		}
		printf("== %s %zu\n", argv[i], n->len);
		fwrite(n->data, 1, n->len, stdout);
	}
	pfs_tree_free(t);
	vmt_socket_list_free(socks);
	vmt_guest_close(g);
	return 0;
}

// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * sysmodule.c - the shadow /sys/module: what kmod's lsmod reads of each
 * loaded module beyond /proc/modules (refcnt, coresize, holders/), and
 * what modinfo-style tools look at (initsize, initstate, taint), as
 * kernel/module/sysfs.c and main.c of Linux 6.1 show them.  Built-in
 * modules (parameters only) are not in the guest's module list: left out.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "procfs/render_basic.h"

static int sys_text(struct pfs_tree *tr, struct pfs_node *dir, const char *name, const char *fmt,
		    ...) __attribute__((format(printf, 4, 5)));

static int sys_text(struct pfs_tree *tr, struct pfs_node *dir, const char *name, const char *fmt,
		    ...)
{
	struct textbuf b;
	va_list ap;
	int err;

	tb_init(&b);
	va_start(ap, fmt);
	tb_vprintf(&b, fmt, ap);
	va_end(ap);
	err = pfs_file_tb(tr, dir, name, 0444, &b);
	tb_free(&b);
	return err;
}

/* holders/: one link per user module of /proc/modules' "a,b," column. */
static int sysmodule_holders(struct pfs_tree *tr, const struct vmt_module *m, struct pfs_node *dir)
{
	struct pfs_node *h = pfs_dir(tr, dir, "holders", 0555, 0, 0);
	char users[sizeof(m->deps)], *save = NULL, *u, target[96];
	int err = 0;

	if (!h)
		return -ENOMEM;
	snprintf(users, sizeof(users), "%s", m->deps);
	for (u = strtok_r(users, ",", &save); u && !err; u = strtok_r(NULL, ",", &save)) {
		if (!strcmp(u, "-") || u[0] == '[')
			continue;
		snprintf(target, sizeof(target), "../../%s", u);
		err = pfs_link(tr, h, u, target);
		if (err == -EEXIST || err == -EINVAL)
			err = 0;
	}
	return err;
}

static const char *initstate_of(const char *state)
{
	if (!strcmp(state, "Loading"))
		return "coming";
	if (!strcmp(state, "Unloading"))
		return "going";
	return "live";
}

int pfs_sysmodule_fill(struct pfs_tree *tr, const struct vmt_module_list *l, struct pfs_node *dir)
{
	int err = 0;

	for (size_t i = 0; l && i < l->n && !err; i++) {
		const struct vmt_module *m = &l->mods[i];
		size_t tl = strlen(m->taints);
		struct pfs_node *md = pfs_dir(tr, dir, m->name, 0555, 0, 0);

		if (!md)
			return errno == EINVAL ? 0 : -ENOMEM;
		/* init_layout is freed (size 0) once a module is live: core is /proc's size. */
		err = sys_text(tr, md, "refcnt", "%d\n", m->refcnt);
		if (!err)
			err = sys_text(tr, md, "coresize", "%llu\n", (unsigned long long)m->size);
		if (!err)
			err = sys_text(tr, md, "initsize", "0\n");
		if (!err)
			err = sys_text(tr, md, "initstate", "%s\n", initstate_of(m->state));
		if (!err)
			err = sys_text(tr, md, "taint", "%.*s\n", tl > 2 ? (int)tl - 2 : 0,
				       m->taints + (tl > 2));
		if (!err)
			err = sysmodule_holders(tr, m, md);
	}
	return err;
}

// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * system_fs.c - registered tty drivers (/proc/tty/drivers: the tty_drivers
 * list) and file system types (/proc/filesystems: the file_systems chain).
 * Both lists are bounded and cycle-checked; a broken one returns what was
 * read before the damage, flagged VMT_F_PARTIAL.
 */
#include <stdlib.h>
#include <string.h>

#include "linux/system.h"

#define SYS_MAX_TTY_DRIVERS 4096
#define SYS_MAX_FS_TYPES    1024

/* --------------------------------------------------------- tty drivers */

struct tty_walk {
	struct vmt_tty_driver_list *l;
	size_t cap;
	uint32_t list, driver_name, name, major, minor_start, num, type, subtype;
};

static int tty_one(struct vmt_guest *g, uint64_t node, void *arg)
{
	struct tty_walk *w = arg;
	uint64_t drv = node - w->list, dn = 0, nm = 0;
	struct vmt_tty_driver *d;
	int32_t major = 0, minor = 0;

	if (w->l->n == w->cap) {
		size_t cap = w->cap ? 2 * w->cap : 16;

		d = reallocarray(w->l->drivers, cap, sizeof(*d));
		if (!d)
			return -ENOMEM;
		w->l->drivers = d;
		w->cap = cap;
	}
	d = &w->l->drivers[w->l->n];
	memset(d, 0, sizeof(*d));
	if (vmt_kread_u64(g, drv + w->driver_name, &dn) || vmt_kread_u64(g, drv + w->name, &nm) ||
	    vmt_kread(g, drv + w->major, &major, 4) ||
	    vmt_kread(g, drv + w->minor_start, &minor, 4) ||
	    vmt_kread_u32(g, drv + w->num, &d->num) || vmt_kread(g, drv + w->type, &d->type, 2) ||
	    vmt_kread(g, drv + w->subtype, &d->subtype, 2)) {
		w->l->flags |= VMT_F_PARTIAL;
		return 0; /* left out */
	}
	if (dn &&
	    (!vmt_kptr_ok(dn) || vmt_kread_str(g, dn, d->driver_name, sizeof(d->driver_name))))
		d->driver_name[0] = '\0';
	if (!vmt_kptr_ok(nm) || vmt_kread_str(g, nm, d->name, sizeof(d->name)))
		w->l->flags |= VMT_F_PARTIAL;
	/* dev_t holds 12 bits of major, 20 of minor */
	d->major = (uint32_t)major & 0xfff;
	d->minor_start = (uint32_t)minor & 0xfffff;
	w->l->n++;
	return 0;
}

int vmt_tty_drivers(struct vmt_guest *g, struct vmt_tty_driver_list **out)
{
	struct tty_walk w = {0};
	/* clang-format off */
	const struct vmt_field_req req[] = {
		{"tty_driver", "tty_drivers", &w.list, false},
		{"tty_driver", "driver_name", &w.driver_name, false},
		{"tty_driver", "name", &w.name, false},
		{"tty_driver", "major", &w.major, false},
		{"tty_driver", "minor_start", &w.minor_start, false},
		{"tty_driver", "num", &w.num, false},
		{"tty_driver", "type", &w.type, false},
		{"tty_driver", "subtype", &w.subtype, false},
	};
	/* clang-format on */
	uint64_t head, va;
	int err;

	*out = NULL;
	err = vmt_resolve_fields(g, req, ARRAY_SIZE(req));
	if (!err)
		err = vmt_ksym(g, "tty_drivers", &head);
	if (err)
		return err;
	w.l = calloc(1, sizeof(*w.l));
	if (!w.l)
		return -ENOMEM;
	/* CONFIG_UNIX98_PTYS and CONFIG_VT decide the pseudo-drivers listed first. */
	w.l->unix98_ptys = !vmt_ksym(g, "ptmx_fops", &va);
	w.l->vt = !vmt_ksym(g, "vc_cons", &va);
	err = vmt_list_walk(g, head, SYS_MAX_TTY_DRIVERS, tty_one, &w);
	if (err == -ENOMEM) {
		vmt_tty_driver_list_free(w.l);
		return err;
	}
	if (err)
		w.l->flags |= VMT_F_PARTIAL;
	*out = w.l;
	return 0;
}

void vmt_tty_driver_list_free(struct vmt_tty_driver_list *l)
{
	if (!l)
		return;
	free(l->drivers);
	free(l);
}

/* ---------------------------------------------------------- filesystems */

int vmt_filesystems(struct vmt_guest *g, struct vmt_fs_type_list **out)
{
	uint32_t name, flags, next;
	/* clang-format off */
	const struct vmt_field_req req[] = {
		{"file_system_type", "name", &name, false},
		{"file_system_type", "fs_flags", &flags, false},
		{"file_system_type", "next", &next, false},
	};
	/* clang-format on */
	struct vmt_fs_type_list *l;
	uint64_t fs, head;
	int err;

	*out = NULL;
	err = vmt_resolve_fields(g, req, ARRAY_SIZE(req));
	if (!err)
		err = vmt_ksym(g, "file_systems", &head);
	if (!err)
		err = vmt_kread_u64(g, head, &fs);
	if (err)
		return vmt_error(err, "file_systems unreadable");
	l = calloc(1, sizeof(*l));
	if (l)
		l->types = calloc(SYS_MAX_FS_TYPES, sizeof(*l->types));
	if (!l || !l->types) {
		vmt_fs_type_list_free(l);
		return -ENOMEM;
	}
	/* A chain through ->next: longer than the cap means a loop. */
	while (fs) {
		struct vmt_fs_type *t = &l->types[l->n];
		uint64_t np;

		if (l->n == SYS_MAX_FS_TYPES || !vmt_kptr_ok(fs) ||
		    vmt_kread_u64(g, fs + name, &np) || !vmt_kptr_ok(np) ||
		    vmt_kread_str(g, np, t->name, sizeof(t->name)) ||
		    vmt_kread_u32(g, fs + flags, &t->fs_flags) ||
		    vmt_kread_u64(g, fs + next, &fs)) {
			l->flags |= VMT_F_PARTIAL;
			vmt_error(-EBADMSG, "file_systems chain broken after %zu entries", l->n);
			break;
		}
		l->n++;
	}
	*out = l;
	return 0;
}

void vmt_fs_type_list_free(struct vmt_fs_type_list *l)
{
	if (!l)
		return;
	free(l->types);
	free(l);
}

/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * module_views.h - what modules.c lends the other module walkers
 * (module_views.c: the views of vmt_modules_views; hooks.c: owners).
 */
#ifndef VMT_LINUX_MODULE_VIEWS_H
#define VMT_LINUX_MODULE_VIEWS_H

#include <stdint.h>

struct vmt_guest;
struct vmt_module;

/*
 * Read the struct module at mod as vmt_modules reports it (seen_by LIST).
 * 0, 1 if it is MODULE_STATE_UNFORMED (not a module yet or any more: m
 * untouched), -EBADMSG if its state is unreadable, or the profile's error.
 */
int vmt_module_read(struct vmt_guest *g, uint64_t mod, struct vmt_module *m);

/*
 * Does va lie in the memory of the module at mod (any of its layouts: core,
 * init, data up to 6.3; every mem[] region from 6.4)?  1 yes, 0 no, or the
 * profile's error.
 */
int vmt_module_holds(struct vmt_guest *g, uint64_t mod, uint64_t va);

/* Module memory on x86-64 (arch/x86/include/asm/pgtable_64_types.h). */
#define VMT_MODULES_VADDR_MIN 0xffffffffa0000000ull /* KERNEL_IMAGE_SIZE 512M, no KASLR */
#define VMT_MODULES_END	      0xffffffffff000000ull

#endif

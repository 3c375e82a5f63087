/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* vm_priv.h - what vm.c, vm_desc.c and agent.c share and nobody else needs. */
#ifndef VMT_VM_PRIV_H
#define VMT_VM_PRIV_H

#include "vmctl/vm.h"

/* Fill name, dir and the paths that the folder layout implies. */
void vmt_vm_desc_layout(struct vmt_vm_desc *d, const char *dir, const char *name);

/*
 * Safe to empty: holds vm.json, or nothing but the files a VM's folder
 * has (sockets, logs, pidfile), e.g. left by a start that crashed.
 */
bool vmt_vm_folder_is_vm(const char *dir);

#endif

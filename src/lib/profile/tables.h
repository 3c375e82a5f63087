/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * tables.h - the kernel's dispatch tables as built (tables.c).
 *
 * "sys_call_table", "ia32_sys_call_table", "x32_sys_call_table": the words
 * the image holds (link-time addresses, before KASLR).  Read once from the
 * image the profile came from and remembered in its cache.
 */
#ifndef VMT_PROFILE_TABLES_H
#define VMT_PROFILE_TABLES_H

#include <stdint.h>

struct vmt_profile;

/*
 * Length of the table and its word idx.  -ENOENT: the kernel has no such
 * table, or the profile has no image to read it from (made from guest
 * memory, or the image changed since); -EBADMSG: a stored length out of
 * bounds.  Not thread-safe (may update the profile's memo).
 */
int vmt_profile_table_len(struct vmt_profile *p, const char *table, uint32_t *n);
int vmt_profile_table(struct vmt_profile *p, const char *table, uint32_t idx, uint64_t *val);

#endif

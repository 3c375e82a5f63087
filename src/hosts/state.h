/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* state.h - the hosts state file and its lock (private to src/hosts). */
#ifndef VMT_HOSTS_STATE_H
#define VMT_HOSTS_STATE_H

#include <stddef.h>

#include "hosts/hosts.h"

struct json_object;

/* <run dir>/hosts/<prefix> */
int hosts_state_dir(const char *prefix, char *dir, size_t dir_sz);
/* Exclusive lock on dir/lock (which must exist); the fd to pass to hosts_unlock. */
int hosts_lock(const char *dir);
void hosts_unlock(int fd);
/* Fill names and addresses of h (h->dir set first). */
void hosts_layout(struct vmt_hosts *h, const char *prefix, const char *subnet, int nr_sub);
int hosts_state_save(const struct vmt_hosts *h);
int hosts_state_load_dir(const char *prefix, const char *dir, struct vmt_hosts *h);
/* The state as JSON (caller puts it). */
struct json_object *hosts_state_json(const struct vmt_hosts *h);

#endif

/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * socket_views.h - the sockets cross-view over given listings (for the
 * unit tests, which build the fd tables in a fake guest and the tables'
 * listing by hand; vmt_socket_views() reads both from the guest).
 */
#ifndef VMT_LINUX_SOCKET_VIEWS_H
#define VMT_LINUX_SOCKET_VIEWS_H

#include "guest/guest_internal.h"

/* The fd tables of tl's tasks against the tables' listing l. */
int socket_views_of(struct vmt_guest *g, const struct vmt_task_list *tl,
		    const struct vmt_socket_list *l, struct vmt_sock_views **out);

#endif

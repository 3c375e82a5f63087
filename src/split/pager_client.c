// SPDX-License-Identifier: LGPL-2.1-or-later
/* pager_client.c - ask a split VM's pager for its statistics (pager_proto.h). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/internal.h"
#include "pager/pager_proto.h"
#include "split/split.h"
#include "vmctl/sockio.h"

int vmt_split_pager_stats(const char *sock, int timeout_ms, char **json)
{
	struct vmt_pager_req req = {
	    .magic = VMT_PAGER_MAGIC, .version = VMT_PAGER_VERSION, .op = VMT_PAGER_STATS};
	int64_t deadline = vmt_deadline_in(timeout_ms);
	struct vmt_pager_rep rep;
	struct vmt_rbuf rb;
	char *buf = NULL;
	int fd, r = vmt_unix_connect(sock, &fd);

	*json = NULL;
	if (r)
		return r;
	vmt_rbuf_init(&rb, fd);
	r = vmt_write_all(fd, &req, sizeof(req), deadline);
	if (!r)
		r = vmt_rbuf_read(&rb, &rep, sizeof(rep), deadline);
	if (!r && (rep.magic != VMT_PAGER_MAGIC || rep.len > VMT_PAGER_MAX_REPLY))
		r = -EPROTO;
	if (!r && rep.status)
		r = rep.status;
	if (!r && !(buf = malloc(rep.len + 1)))
		r = -ENOMEM;
	if (!r)
		r = vmt_rbuf_read(&rb, buf, rep.len, deadline);
	if (!r) {
		buf[rep.len] = '\0';
		*json = buf;
		buf = NULL;
	}
	free(buf);
	vmt_rbuf_release(&rb);
	close(fd);
	return r;
}

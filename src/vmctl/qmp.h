/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * qmp.h - a small QMP client: one connection to a QEMU monitor socket,
 * commands executed one at a time, asynchronous events skipped.
 *
 * QEMU writes one JSON object per line ("\r\n"-terminated); a line longer
 * than VMT_QMP_FRAME_MAX, or one that is not a JSON object, breaks the
 * connection: every later call fails with -EPIPE, the caller reconnects.
 * A QEMU monitor serves one client at a time; a second client waits in the
 * socket backlog without a greeting, which ends in -ETIMEDOUT.
 */
#ifndef VMT_VM_QMP_H
#define VMT_VM_QMP_H

#include <json-c/json.h>

#define VMT_QMP_FRAME_MAX  (8u << 20) /* query-qmp-schema is ~200 KB */
#define VMT_QMP_TIMEOUT_MS 10000

struct vmt_qmp;

/*
 * Connect to the QMP socket at path, read the greeting and leave
 * capabilities negotiation mode.  timeout_ms bounds the connect and each
 * later command (< 0: VMT_QMP_TIMEOUT_MS).  Free with vmt_qmp_close().
 */
int vmt_qmp_connect(const char *path, int timeout_ms, struct vmt_qmp **out);
/* Same over an already connected stream fd, owned by the client from now on (even on failure). */
int vmt_qmp_open_fd(int fd, int timeout_ms, struct vmt_qmp **out);

/*
 * Execute cmd with args (a JSON object or NULL; borrowed).  On success
 * *ret (may be NULL to discard) is the reply's "return" value, owned by the
 * caller (json_object_put).  A QMP error reply gives -EREMOTEIO, with its
 * class in vmt_qmp_error_class() and "class: desc" in vmt_last_error().
 */
int vmt_qmp_execute(struct vmt_qmp *q, const char *cmd, struct json_object *args,
		    struct json_object **ret);
/* Class of the last error reply ("GenericError", ...), "" if none.  Borrowed. */
const char *vmt_qmp_error_class(const struct vmt_qmp *q);
/* Number of asynchronous events skipped so far (for tests and debugging). */
unsigned long vmt_qmp_events_skipped(const struct vmt_qmp *q);
void vmt_qmp_close(struct vmt_qmp *q);

#endif

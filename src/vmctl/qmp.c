// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * qmp.c - QMP client (QEMU's JSON monitor protocol, docs/interop/qmp-spec).
 *
 * Each request carries an "id" that QEMU echoes; replies with another id
 * (left over from an earlier, timed-out request) and events are skipped,
 * so a caller only ever sees the reply to its own command.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/internal.h"
#include "vmctl/qmp.h"
#include "vmctl/sockio.h"

struct vmt_qmp {
	int fd;
	struct vmt_rbuf rb;
	int timeout_ms;
	uint64_t next_id;
	bool broken; /* stream out of sync: only close is left */
	unsigned long events;
	char err_class[64];
};

/* Parse one line as a JSON object; NULL if it is anything else. */
static struct json_object *qmp_parse_frame(const char *line, size_t len)
{
	struct json_tokener *tok = json_tokener_new();
	struct json_object *obj;

	if (!tok)
		return NULL;
	obj = json_tokener_parse_ex(tok, line, (int)len);
	if (obj && (json_tokener_get_error(tok) != json_tokener_success ||
		    !json_object_is_type(obj, json_type_object))) {
		json_object_put(obj);
		obj = NULL;
	}
	/* Reject trailing bytes after the object, except the line's '\r'. */
	if (obj) {
		size_t used = json_tokener_get_parse_end(tok);

		while (used < len && (line[used] == '\r' || line[used] == ' '))
			used++;
		if (used != len) {
			json_object_put(obj);
			obj = NULL;
		}
	}
	json_tokener_free(tok);
	return obj;
}

/* Next JSON object from QEMU; breaks the connection on a bad frame. */
static int qmp_read_frame(struct vmt_qmp *q, int64_t deadline, struct json_object **out)
{
	char *line;
	size_t len;
	int r;

	do {
		r = vmt_rbuf_line(&q->rb, VMT_QMP_FRAME_MAX, deadline, &line, &len);
		if (r == -EMSGSIZE) {
			q->broken = true;
			return vmt_error(-EMSGSIZE,
					 "QMP message larger than %u bytes; QEMU or "
					 "whatever serves this socket misbehaves",
					 VMT_QMP_FRAME_MAX);
		}
		if (r == -ETIMEDOUT)
			return vmt_error(r,
					 "no answer on the QMP socket within %d ms; is another "
					 "QMP client connected to this VM?",
					 q->timeout_ms);
		if (r) {
			q->broken = true;
			return vmt_error(r, "QMP connection lost: %s (has QEMU exited?)",
					 strerror(-r));
		}
	} while (len == 0 || (len == 1 && line[0] == '\r'));

	*out = qmp_parse_frame(line, len);
	if (!*out) {
		q->broken = true;
		return vmt_error(-EPROTO,
				 "QMP socket sent something that is not a JSON object "
				 "(%.40s%s); is this a QMP socket?",
				 line, len > 40 ? "..." : "");
	}
	return 0;
}

static int qmp_send(struct vmt_qmp *q, const char *cmd, struct json_object *args, uint64_t id,
		    int64_t deadline)
{
	struct json_object *req = json_object_new_object();
	const char *text;
	int r = -ENOMEM;

	if (!req)
		return r;
	if (json_object_object_add(req, "execute", json_object_new_string(cmd)) ||
	    json_object_object_add(req, "id", json_object_new_uint64(id)))
		goto out;
	if (args && json_object_object_add(req, "arguments", json_object_get(args)))
		goto out;
	text = json_object_to_json_string_ext(req, JSON_C_TO_STRING_PLAIN);
	r = vmt_write_all(q->fd, text, strlen(text), deadline);
	if (!r)
		r = vmt_write_all(q->fd, "\n", 1, deadline);
	if (r) {
		q->broken = true;
		r = vmt_error(r, "cannot send QMP command '%s': %s", cmd, strerror(-r));
	}
out:
	json_object_put(req);
	return r;
}

/* Is frame the reply to request id?  Replies without an id are ours too. */
static bool qmp_is_our_reply(struct json_object *frame, uint64_t id)
{
	struct json_object *jid;

	if (!json_object_object_get_ex(frame, "id", &jid))
		return true;
	return json_object_is_type(jid, json_type_int) && json_object_get_uint64(jid) == id;
}

static int qmp_take_error(struct vmt_qmp *q, const char *cmd, struct json_object *err)
{
	struct json_object *jclass = NULL, *jdesc = NULL;
	const char *cls = "unknown", *desc = "no description";

	if (json_object_object_get_ex(err, "class", &jclass) &&
	    json_object_is_type(jclass, json_type_string))
		cls = json_object_get_string(jclass);
	if (json_object_object_get_ex(err, "desc", &jdesc) &&
	    json_object_is_type(jdesc, json_type_string))
		desc = json_object_get_string(jdesc);
	vmt_strlcpy(q->err_class, cls, sizeof(q->err_class));
	return vmt_error(-EREMOTEIO, "QMP command '%s' failed: %s: %s", cmd, cls, desc);
}

int vmt_qmp_execute(struct vmt_qmp *q, const char *cmd, struct json_object *args,
		    struct json_object **ret)
{
	int64_t deadline = vmt_deadline_in(q->timeout_ms);
	uint64_t id = q->next_id++;
	struct json_object *frame = NULL, *val;
	int r;

	if (ret)
		*ret = NULL;
	if (q->broken)
		return vmt_error(-EPIPE, "QMP connection is broken by an earlier error; reconnect");
	q->err_class[0] = '\0';
	r = qmp_send(q, cmd, args, id, deadline);
	while (!r) {
		r = qmp_read_frame(q, deadline, &frame);
		if (r)
			break;
		if (json_object_object_get_ex(frame, "event", NULL)) {
			q->events++;
		} else if (!qmp_is_our_reply(frame, id)) {
			pr_debug("QMP: skipping a reply to an earlier request");
		} else if (json_object_object_get_ex(frame, "return", &val)) {
			if (ret)
				*ret = json_object_get(val);
			break;
		} else if (json_object_object_get_ex(frame, "error", &val)) {
			r = qmp_take_error(q, cmd, val);
		} else {
			q->broken = true;
			r = vmt_error(-EPROTO, "QMP reply to '%s' has neither 'return' nor 'error'",
				      cmd);
		}
		json_object_put(frame);
		frame = NULL;
	}
	json_object_put(frame);
	return r;
}

static int qmp_handshake(struct vmt_qmp *q)
{
	struct json_object *greeting = NULL;
	int r = qmp_read_frame(q, vmt_deadline_in(q->timeout_ms), &greeting);

	if (r)
		return r;
	if (!json_object_object_get_ex(greeting, "QMP", NULL)) {
		json_object_put(greeting);
		q->broken = true;
		return vmt_error(-EPROTO, "no QMP greeting on the socket; is it a QMP socket?");
	}
	json_object_put(greeting);
	return vmt_qmp_execute(q, "qmp_capabilities", NULL, NULL);
}

int vmt_qmp_open_fd(int fd, int timeout_ms, struct vmt_qmp **out)
{
	struct vmt_qmp *q = calloc(1, sizeof(*q));
	int r;

	*out = NULL;
	if (!q) {
		close(fd);
		return -ENOMEM;
	}
	/* Deadlines rely on poll: a blocking read would wait past them. */
	if (fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) < 0) {
		r = -errno;
		close(fd);
		free(q);
		return r;
	}
	q->fd = fd;
	q->timeout_ms = timeout_ms < 0 ? VMT_QMP_TIMEOUT_MS : timeout_ms;
	q->next_id = 1;
	vmt_rbuf_init(&q->rb, fd);
	r = qmp_handshake(q);
	if (r) {
		vmt_qmp_close(q);
		return r;
	}
	*out = q;
	return 0;
}

int vmt_qmp_connect(const char *path, int timeout_ms, struct vmt_qmp **out)
{
	int fd, r;

	*out = NULL;
	r = vmt_unix_connect(path, &fd);
	if (r)
		return vmt_error(r, "cannot connect to QMP socket %s: %s", path, strerror(-r));
	return vmt_qmp_open_fd(fd, timeout_ms, out);
}

const char *vmt_qmp_error_class(const struct vmt_qmp *q)
{
	return q->err_class;
}

unsigned long vmt_qmp_events_skipped(const struct vmt_qmp *q)
{
	return q->events;
}

void vmt_qmp_close(struct vmt_qmp *q)
{
	if (!q)
		return;
	vmt_rbuf_release(&q->rb);
	close(q->fd);
	free(q);
}

// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * test_qmp.c - the QMP client against a scripted fake QEMU: a thread on
 * the other end of a socketpair (or a UNIX socket) that sends a greeting,
 * events between replies, error replies, stale replies, garbage and a
 * frame over the size cap.  No QEMU needed.
 */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cmocka.h>
#include <json-c/json.h>

#include "core/internal.h"
#include "vmctl/qmp.h"

#define GREETING                                                                                   \
	"{\"QMP\": {\"version\": {\"qemu\": {\"micro\": 0, \"minor\": 2, \"major\": 7}, "          \
	"\"package\": \"\"}, \"capabilities\": [\"oob\"]}}\r\n"
#define EVENT "{\"timestamp\": {\"seconds\": 1, \"microseconds\": 2}, \"event\": \"RESUME\"}\r\n"

/* ------------------------------------------------------- fake server */

struct fake {
	int fd; /* server end */
	void (*script)(struct fake *f);
	pthread_t th;
	char cmd[64]; /* last request's "execute" */
	long long id; /* and its "id" */
	bool has_args;
};

static void srv_send(struct fake *f, const char *fmt, ...)
{
	char *s;
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vasprintf(&s, fmt, ap);
	va_end(ap);
	/* A client that already left makes this fail; the script then ends on EOF. */
	if (n > 0)
		(void)!send(f->fd, s, (size_t)n, MSG_NOSIGNAL);
	free(s);
}

/* Read one request line and remember its command and id; false on EOF. */
static bool srv_recv(struct fake *f)
{
	char line[4096];
	size_t len = 0;
	struct json_object *o, *v;

	while (len < sizeof(line) - 1) {
		if (read(f->fd, line + len, 1) != 1)
			return false;
		if (line[len] == '\n')
			break;
		len++;
	}
	line[len] = '\0';
	o = json_tokener_parse(line);
	if (!o)
		return false;
	f->cmd[0] = '\0';
	if (json_object_object_get_ex(o, "execute", &v))
		snprintf(f->cmd, sizeof(f->cmd), "%s", json_object_get_string(v));
	f->id = json_object_object_get_ex(o, "id", &v) ? json_object_get_int64(v) : -1;
	f->has_args = json_object_object_get_ex(o, "arguments", NULL);
	json_object_put(o);
	return true;
}

/* Greeting and capabilities negotiation, as QEMU does it. */
static void srv_handshake(struct fake *f)
{
	srv_send(f, GREETING);
	if (srv_recv(f) && !strcmp(f->cmd, "qmp_capabilities"))
		srv_send(f, "{\"return\": {}, \"id\": %lld}\r\n", f->id);
}

static void *srv_main(void *arg)
{
	struct fake *f = arg;

	f->script(f);
	return NULL;
}

/* A client connected over a socketpair to a thread running script. */
static struct vmt_qmp *fake_start(struct fake *f, void (*script)(struct fake *), int timeout_ms,
				  int *err)
{
	struct vmt_qmp *q = NULL;
	int sv[2];

	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	memset(f, 0, sizeof(*f));
	f->fd = sv[1];
	f->script = script;
	assert_int_equal(pthread_create(&f->th, NULL, srv_main, f), 0);
	*err = vmt_qmp_open_fd(sv[0], timeout_ms, &q);
	return q;
}

static void fake_stop(struct fake *f, struct vmt_qmp *q)
{
	vmt_qmp_close(q); /* the server sees EOF and its script ends */
	pthread_join(f->th, NULL);
	close(f->fd);
}

/* ------------------------------------------------------------ scripts */

/* Events before and after a reply, then an error reply, then EOF. */
static void script_normal(struct fake *f)
{
	srv_handshake(f);
	srv_send(f, EVENT); /* QEMU sends none before capabilities negotiation ends */
	while (srv_recv(f)) {
		srv_send(f, EVENT EVENT);
		if (!strcmp(f->cmd, "query-status"))
			srv_send(f,
				 "{\"return\": {\"status\": \"running\", \"running\": %s}, "
				 "\"id\": %lld}\r\n",
				 f->has_args ? "false" : "true", f->id);
		else
			srv_send(f,
				 "{\"id\": %lld, \"error\": {\"class\": \"CommandNotFound\", "
				 "\"desc\": \"The command %s has not been found\"}}\r\n",
				 f->id, f->cmd);
		srv_send(f, EVENT);
	}
}

static void test_execute_skips_events(void **state)
{
	struct json_object *ret = NULL, *v;
	struct vmt_qmp *q;
	struct fake f;
	int err;

	(void)state;
	q = fake_start(&f, script_normal, 2000, &err);
	assert_int_equal(err, 0);
	assert_int_equal(vmt_qmp_execute(q, "query-status", NULL, &ret), 0);
	assert_non_null(ret);
	assert_true(json_object_object_get_ex(ret, "status", &v));
	assert_string_equal(json_object_get_string(v), "running");
	assert_true(json_object_object_get_ex(ret, "running", &v));
	assert_true(json_object_get_boolean(v));
	json_object_put(ret);
	assert_true(vmt_qmp_events_skipped(q) >= 3);
	fake_stop(&f, q);
}

static void test_execute_with_arguments(void **state)
{
	struct json_object *args = json_object_new_object(), *ret = NULL, *v;
	struct vmt_qmp *q;
	struct fake f;
	int err;

	(void)state;
	json_object_object_add(args, "x", json_object_new_int(1));
	q = fake_start(&f, script_normal, 2000, &err);
	assert_int_equal(err, 0);
	assert_int_equal(vmt_qmp_execute(q, "query-status", args, &ret), 0);
	/* The fake answers running=false when it saw "arguments". */
	assert_true(json_object_object_get_ex(ret, "running", &v));
	assert_false(json_object_get_boolean(v));
	json_object_put(ret);
	/* args stays the caller's */
	assert_int_equal(json_object_object_length(args), 1);
	json_object_put(args);
	fake_stop(&f, q);
}

static void test_error_reply(void **state)
{
	struct json_object *ret = (struct json_object *)1;
	struct vmt_qmp *q;
	struct fake f;
	int err;

	(void)state;
	q = fake_start(&f, script_normal, 2000, &err);
	assert_int_equal(err, 0);
	assert_int_equal(vmt_qmp_execute(q, "no-such-thing", NULL, &ret), -EREMOTEIO);
	assert_null(ret);
	assert_string_equal(vmt_qmp_error_class(q), "CommandNotFound");
	assert_non_null(strstr(vmt_last_error(), "no-such-thing has not been found"));
	/* An error reply leaves the connection usable. */
	assert_int_equal(vmt_qmp_execute(q, "query-status", NULL, NULL), 0);
	assert_string_equal(vmt_qmp_error_class(q), "");
	fake_stop(&f, q);
}

static void script_garbage(struct fake *f)
{
	srv_handshake(f);
	if (srv_recv(f))
		srv_send(f, "this is not json\r\n");
	while (srv_recv(f))
		;
}

static void test_garbage_frame(void **state)
{
	struct vmt_qmp *q;
	struct fake f;
	int err;

	(void)state;
	q = fake_start(&f, script_garbage, 2000, &err);
	assert_int_equal(err, 0);
	assert_int_equal(vmt_qmp_execute(q, "query-status", NULL, NULL), -EPROTO);
	assert_non_null(strstr(vmt_last_error(), "not a JSON object"));
	/* Out of sync now: every later call fails at once. */
	assert_int_equal(vmt_qmp_execute(q, "query-status", NULL, NULL), -EPIPE);
	fake_stop(&f, q);
}

static void script_trailing(struct fake *f)
{
	srv_handshake(f);
	if (srv_recv(f))
		srv_send(f, "{\"return\": {}, \"id\": %lld} trailing\r\n", f->id);
	while (srv_recv(f))
		;
}

static void test_trailing_bytes(void **state)
{
	struct vmt_qmp *q;
	struct fake f;
	int err;

	(void)state;
	q = fake_start(&f, script_trailing, 2000, &err);
	assert_int_equal(err, 0);
	assert_int_equal(vmt_qmp_execute(q, "query-status", NULL, NULL), -EPROTO);
	fake_stop(&f, q);
}

/* A frame over the cap, never terminated: the client must not wait for its end. */
static void script_oversized(struct fake *f)
{
	size_t chunk = 1 << 20, sent = 0;
	char *junk = malloc(chunk);

	srv_handshake(f);
	if (!srv_recv(f) || !junk)
		goto out;
	memset(junk, 'a', chunk);
	junk[0] = '{';
	while (sent < VMT_QMP_FRAME_MAX + 2 * chunk) {
		if (send(f->fd, junk, chunk, MSG_NOSIGNAL) != (ssize_t)chunk)
			break; /* the client gave up and closed */
		sent += chunk;
	}
out:
	free(junk);
}

static void test_oversized_frame(void **state)
{
	struct vmt_qmp *q;
	struct fake f;
	int err;

	(void)state;
	q = fake_start(&f, script_oversized, 5000, &err);
	assert_int_equal(err, 0);
	assert_int_equal(vmt_qmp_execute(q, "query-status", NULL, NULL), -EMSGSIZE);
	assert_int_equal(vmt_qmp_execute(q, "query-status", NULL, NULL), -EPIPE);
	fake_stop(&f, q);
}

/* First command unanswered until the second arrives: the stale reply must be skipped. */
static void script_late(struct fake *f)
{
	long long first;

	srv_handshake(f);
	if (!srv_recv(f))
		return;
	first = f->id;
	if (!srv_recv(f))
		return;
	srv_send(f, "{\"return\": {\"which\": \"first\"}, \"id\": %lld}\r\n", first);
	srv_send(f, "{\"return\": {\"which\": \"second\"}, \"id\": %lld}\r\n", f->id);
	while (srv_recv(f))
		;
}

static void test_timeout_then_stale_reply(void **state)
{
	struct json_object *ret = NULL, *v;
	struct vmt_qmp *q;
	struct fake f;
	int err;

	(void)state;
	q = fake_start(&f, script_late, 300, &err);
	assert_int_equal(err, 0);
	assert_int_equal(vmt_qmp_execute(q, "slow", NULL, NULL), -ETIMEDOUT);
	assert_int_equal(vmt_qmp_execute(q, "fast", NULL, &ret), 0);
	assert_true(json_object_object_get_ex(ret, "which", &v));
	assert_string_equal(json_object_get_string(v), "second");
	json_object_put(ret);
	fake_stop(&f, q);
}

static void script_silent(struct fake *f)
{
	char c;

	/* A monitor busy with another client: connected, but no greeting. */
	while (read(f->fd, &c, 1) == 1)
		;
}

static void test_no_greeting_times_out(void **state)
{
	struct vmt_qmp *q;
	struct fake f;
	int err;

	(void)state;
	q = fake_start(&f, script_silent, 200, &err);
	assert_int_equal(err, -ETIMEDOUT);
	assert_null(q);
	shutdown(f.fd, SHUT_RDWR); /* the client's end is closed already */
	pthread_join(f.th, NULL);
	close(f.fd);
}

static void script_not_qmp(struct fake *f)
{
	srv_send(f, "{\"hello\": 1}\r\n");
}

static void test_not_a_qmp_greeting(void **state)
{
	struct vmt_qmp *q;
	struct fake f;
	int err;

	(void)state;
	q = fake_start(&f, script_not_qmp, 1000, &err);
	assert_int_equal(err, -EPROTO);
	assert_null(q);
	pthread_join(f.th, NULL);
	close(f.fd);
}

static void script_hangup(struct fake *f)
{
	srv_handshake(f);
	if (srv_recv(f))
		shutdown(f->fd, SHUT_RDWR); /* QEMU exits (as on "quit" before replying) */
}

static void test_peer_closes(void **state)
{
	struct vmt_qmp *q;
	struct fake f;
	int err;

	(void)state;
	q = fake_start(&f, script_hangup, 1000, &err);
	assert_int_equal(err, 0);
	assert_int_equal(vmt_qmp_execute(q, "quit", NULL, NULL), -ECONNRESET);
	fake_stop(&f, q);
}

/* ------------------------------------------------ a real UNIX socket */

struct listener {
	int lfd;
	struct fake f;
};

static void *accept_main(void *arg)
{
	struct listener *l = arg;

	l->f.fd = accept(l->lfd, NULL, NULL);
	if (l->f.fd >= 0)
		script_normal(&l->f);
	return NULL;
}

static void test_connect_unix_socket(void **state)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	char dir[] = "/tmp/vmt-test-qmp-XXXXXX";
	struct listener l = {0};
	struct vmt_qmp *q = NULL;
	pthread_t th;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/qmp.sock", dir);
	assert_int_equal(vmt_qmp_connect(sa.sun_path, 500, &q), -ENOENT);
	assert_non_null(strstr(vmt_last_error(), "cannot connect to QMP socket"));
	l.lfd = socket(AF_UNIX, SOCK_STREAM, 0);
	assert_int_equal(bind(l.lfd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(l.lfd, 1), 0);
	assert_int_equal(pthread_create(&th, NULL, accept_main, &l), 0);
	assert_int_equal(vmt_qmp_connect(sa.sun_path, 2000, &q), 0);
	assert_int_equal(vmt_qmp_execute(q, "query-status", NULL, NULL), 0);
	vmt_qmp_close(q);
	pthread_join(th, NULL);
	close(l.f.fd);
	close(l.lfd);
	unlink(sa.sun_path);
	rmdir(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_execute_skips_events),
	    cmocka_unit_test(test_execute_with_arguments),
	    cmocka_unit_test(test_error_reply),
	    cmocka_unit_test(test_garbage_frame),
	    cmocka_unit_test(test_trailing_bytes),
	    cmocka_unit_test(test_oversized_frame),
	    cmocka_unit_test(test_timeout_then_stale_reply),
	    cmocka_unit_test(test_no_greeting_times_out),
	    cmocka_unit_test(test_not_a_qmp_greeting),
	    cmocka_unit_test(test_peer_closes),
	    cmocka_unit_test(test_connect_unix_socket),
	};

	vmt_set_log(NULL, NULL, VMT_LOG_ERROR);
	return cmocka_run_group_tests(tests, NULL, NULL);
}

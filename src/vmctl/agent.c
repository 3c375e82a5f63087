// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * agent.c - client of the in-guest agent on the VM's second serial port
 * (QEMU exposes it as the UNIX socket agent.sock).
 *
 * Protocol (the guest's agent implements the other side):
 *   host "P\n"                      guest "PONG\n"
 *   host "X <len>\n" + len bytes    guest "R <exit> <duration_ns> <out_len> <err_len>\n"
 *                                         + out_len bytes stdout + err_len bytes stderr
 * The line carries whatever the guest wrote before the agent ran, and the
 * late answer of a command whose client timed out, so every session starts
 * by pinging until a "PONG" line shows up and trusts nothing before it.
 * QEMU serves one client at a time: agent.lock in the VM folder (flock)
 * serializes vmt processes.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <time.h>
#include <unistd.h>

#include "core/internal.h"
#include "vmctl/sockio.h"
#include "vmctl/vm.h"

#define AGENT_LINE_MAX	    4096
#define AGENT_PING_EVERY_MS 200
#define AGENT_TIMEOUT_S	    60

struct agent_conn {
	int lock_fd;
	int fd;
	struct vmt_rbuf rb;
};

static void agent_close(struct agent_conn *c)
{
	vmt_rbuf_release(&c->rb);
	if (c->fd >= 0)
		close(c->fd);
	if (c->lock_fd >= 0)
		close(c->lock_fd); /* drops the flock */
	c->fd = c->lock_fd = -1;
}

static int agent_lock(const struct vmt_vm_desc *vm, int64_t deadline, int *lock_fd)
{
	struct timespec pause = {.tv_nsec = 20 * 1000000};
	char path[sizeof(vm->dir) + 16];
	int fd;

	snprintf(path, sizeof(path), "%s/agent.lock", vm->dir);
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0)
		return vmt_error(-errno, "cannot open %s: %s (is VM '%s' still there?)", path,
				 strerror(errno), vm->name);
	while (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		if (errno != EWOULDBLOCK && errno != EINTR) {
			close(fd);
			return vmt_error(-errno, "cannot lock %s: %s", path, strerror(errno));
		}
		if (vmt_now_ms() >= deadline) {
			close(fd);
			return vmt_error(-ETIMEDOUT,
					 "the agent of VM '%s' stayed busy (another 'vmt "
					 "vm exec' holds %s); retry later or raise the "
					 "timeout",
					 vm->name, path);
		}
		nanosleep(&pause, NULL);
	}
	*lock_fd = fd;
	return 0;
}

static int agent_open(const struct vmt_vm_desc *vm, int64_t deadline, struct agent_conn *c)
{
	int r;

	c->fd = c->lock_fd = -1;
	vmt_rbuf_init(&c->rb, -1);
	r = agent_lock(vm, deadline, &c->lock_fd);
	if (r)
		return r;
	r = vmt_unix_connect(vm->agent_sock, &c->fd);
	if (r) {
		agent_close(c);
		return vmt_error(r, "cannot connect to the agent socket %s of VM '%s': %s",
				 vm->agent_sock, vm->name, strerror(-r));
	}
	c->rb.fd = c->fd;
	return 0;
}

static bool line_is_pong(const char *line, size_t len)
{
	if (len && line[len - 1] == '\r')
		len--;
	return len == 4 && !memcmp(line, "PONG", 4);
}

/* Ping until a PONG line arrives; everything before it is noise. */
static int agent_sync(const struct vmt_vm_desc *vm, struct agent_conn *c, int64_t deadline)
{
	int64_t next_ping = 0;
	char *line;
	size_t len;
	int r;

	for (;;) {
		if (vmt_now_ms() >= next_ping) {
			r = vmt_write_all(c->fd, "P\n", 2, deadline);
			if (r)
				break;
			next_ping = vmt_now_ms() + AGENT_PING_EVERY_MS;
		}
		r = vmt_rbuf_line(&c->rb, AGENT_LINE_MAX, VMT_MIN(next_ping, deadline), &line,
				  &len);
		if (!r && line_is_pong(line, len))
			return 0;
		if (r == -ETIMEDOUT && vmt_now_ms() < deadline)
			continue;
		if (r && r != -EMSGSIZE)
			break;
	}
	if (r == -ETIMEDOUT)
		return vmt_error(r,
				 "the agent of VM '%s' does not answer pings (guest still "
				 "booting, hung, or busy with a timed-out command?)",
				 vm->name);
	return vmt_error(r, "agent connection of VM '%s' failed: %s (is its QEMU running?)",
			 vm->name, strerror(-r));
}

int vmt_agent_ping(const struct vmt_vm_desc *vm, int timeout_ms)
{
	int64_t deadline = vmt_deadline_in(timeout_ms);
	struct agent_conn c;
	int r = agent_open(vm, deadline, &c);

	if (r)
		return r;
	r = agent_sync(vm, &c, deadline);
	agent_close(&c);
	return r;
}

static int agent_send_cmd(struct agent_conn *c, const char *cmd, int64_t deadline)
{
	size_t len = strlen(cmd);
	char hdr[32];
	int r;

	snprintf(hdr, sizeof(hdr), "X %zu\n", len);
	r = vmt_write_all(c->fd, hdr, strlen(hdr), deadline);
	if (!r)
		r = vmt_write_all(c->fd, cmd, len, deadline);
	return r;
}

/* Decimal digits at *p, then sep; no sign, no spaces, no overflow. */
static bool parse_num(const char **p, char sep, uint64_t *v)
{
	const char *s = *p;
	uint64_t n = 0;

	if (*s < '0' || *s > '9')
		return false;
	for (; *s >= '0' && *s <= '9'; s++)
		if (!vmt_mul_ok(n, 10, &n) || !vmt_add_ok(n, (uint64_t)(*s - '0'), &n))
			return false;
	if (*s != sep)
		return false;
	*p = s + (sep != '\0');
	*v = n;
	return true;
}

/* "R <exit> <duration_ns> <out_len> <err_len>", every number checked. */
static int agent_parse_reply(const char *line, struct vmt_agent_result *res)
{
	const char *p = line + 2;
	uint64_t code, dur, out_len, err_len;
	bool neg = *p == '-';

	p += neg;
	if (!parse_num(&p, ' ', &code) || !parse_num(&p, ' ', &dur) ||
	    !parse_num(&p, ' ', &out_len) || !parse_num(&p, '\0', &err_len))
		return -EPROTO;
	if (code > INT32_MAX || out_len > VMT_AGENT_LEN_MAX || err_len > VMT_AGENT_LEN_MAX)
		return -EPROTO;
	res->exit_code = neg ? -(int)code : (int)code;
	res->duration_ns = dur;
	res->out_len = (size_t)out_len;
	res->err_len = (size_t)err_len;
	return 0;
}

/* The reply header; PONGs of surplus pings may come first. */
static int agent_read_header(struct agent_conn *c, int64_t deadline, struct vmt_agent_result *res)
{
	char *line;
	size_t len;
	int r;

	for (;;) {
		r = vmt_rbuf_line(&c->rb, AGENT_LINE_MAX, deadline, &line, &len);
		if (r == -EMSGSIZE)
			continue;
		if (r)
			return r;
		if (len && line[len - 1] == '\r')
			line[--len] = '\0';
		if (line_is_pong(line, len))
			continue;
		if (line[0] == 'R' && line[1] == ' ')
			break;
		pr_debug("agent: skipping '%.60s'", line);
	}
	return agent_parse_reply(line, res);
}

static int agent_read_output(struct agent_conn *c, int64_t deadline, struct vmt_agent_result *res)
{
	int r;

	res->out = malloc(res->out_len + 1);
	res->err = malloc(res->err_len + 1);
	if (!res->out || !res->err)
		return -ENOMEM;
	r = vmt_rbuf_read(&c->rb, res->out, res->out_len, deadline);
	if (!r)
		r = vmt_rbuf_read(&c->rb, res->err, res->err_len, deadline);
	if (r)
		return r;
	res->out[res->out_len] = '\0';
	res->err[res->err_len] = '\0';
	return 0;
}

static int agent_exec_error(const struct vmt_vm_desc *vm, int r, int timeout_s)
{
	if (r == -ETIMEDOUT)
		return vmt_error(r,
				 "the command did not finish within %d s in VM '%s' (it may "
				 "still run in the guest); raise --timeout",
				 timeout_s, vm->name);
	if (r == -EPROTO)
		return vmt_error(r,
				 "the agent of VM '%s' sent a malformed reply header; is the "
				 "guest image's agent the same version?",
				 vm->name);
	if (r == -ENOMEM)
		return vmt_error(r, "out of memory for the command's output");
	return vmt_error(r, "agent connection of VM '%s' broke: %s (did the guest or QEMU die?)",
			 vm->name, strerror(-r));
}

int vmt_agent_exec(const struct vmt_vm_desc *vm, const char *cmd, int timeout_s,
		   struct vmt_agent_result *res)
{
	struct agent_conn c;
	int64_t deadline;
	int r;

	memset(res, 0, sizeof(*res));
	if (timeout_s <= 0)
		timeout_s = AGENT_TIMEOUT_S;
	if (strlen(cmd) > VMT_AGENT_LEN_MAX)
		return vmt_error(-E2BIG, "command longer than %u bytes", VMT_AGENT_LEN_MAX);
	deadline = vmt_deadline_in((int64_t)timeout_s * 1000);
	r = agent_open(vm, deadline, &c);
	if (r)
		return r;
	r = agent_sync(vm, &c, deadline);
	if (r)
		goto out;
	r = agent_send_cmd(&c, cmd, deadline);
	if (!r)
		r = agent_read_header(&c, deadline, res);
	if (!r)
		r = agent_read_output(&c, deadline, res);
	if (r) {
		vmt_agent_result_free(res);
		r = agent_exec_error(vm, r, timeout_s);
	}
out:
	agent_close(&c);
	return r;
}

void vmt_agent_result_free(struct vmt_agent_result *res)
{
	if (!res)
		return;
	free(res->out);
	free(res->err);
	memset(res, 0, sizeof(*res));
}

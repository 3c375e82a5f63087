// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * dest.c - the destination QEMU of a split: the source's command line
 * rewritten (qargs.c) plus -incoming defer, the pager preloaded, started
 * detached (vmctl's spawn) in the main host's namespace when there is one
 * (a stop-and-copy split starts it before its copy: split.c); then over its
 * QMP: x-ignore-shared, migrate-incoming from the saved device state, wait
 * for completion, cont.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <json-c/json.h>

#include "core/internal.h"
#include "pager/pager_proto.h"
#include "split/split_int.h"
#include "vmctl/qmp.h"
#include "vmctl/sockio.h"
#include "vmctl/spawn.h"

#define DEST_QMP_WAIT_MS 30000
#define DEST_MIGRATE_MS	 120000
#define DEST_ENV_MAX	 4096

extern char **environ;

static void nap_ms(int ms)
{
	struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000};

	nanosleep(&ts, NULL);
}

bool split_wait_gone(pid_t pid, int ms)
{
	int64_t deadline = vmt_deadline_in(ms);
	char path[64], buf[512], *p;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	for (;;) {
		FILE *f = fopen(path, "re");
		bool zombie = false;

		if (!f)
			return true;
		if (fgets(buf, sizeof(buf), f) && (p = strrchr(buf, ')')) && p[1] == ' ')
			zombie = p[2] == 'Z' || p[2] == 'X';
		fclose(f);
		if (zombie)
			return true;
		if (vmt_now_ms() >= deadline)
			return false;
		nap_ms(20);
	}
}

int split_find_pager(char *out, size_t sz)
{
	static const char *const rel[] = {"../pager/libvmt-pager.so",
					  "../lib/vmemtrans/libvmt-pager.so",
					  "../lib/x86_64-linux-gnu/libvmt-pager.so",
					  "../lib/libvmt-pager.so", "../lib64/libvmt-pager.so"};
	const char *env = getenv("VMT_PAGER");
	char exe[PATH_MAX], *slash;
	ssize_t n;

	if (env && *env) {
		if (!realpath(env, out) || access(out, R_OK))
			return vmt_error(-ENOENT, "VMT_PAGER=%s: no such file", env);
		return 0;
	}
	n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n > 0) {
		exe[n] = '\0';
		slash = strrchr(exe, '/');
		if (slash)
			*slash = '\0';
		for (size_t i = 0; i < ARRAY_SIZE(rel); i++) {
			char p[PATH_MAX + 64];

			snprintf(p, sizeof(p), "%s/%s", exe, rel[i]);
			if (!access(p, R_OK) && realpath(p, out))
				return 0;
		}
	}
	(void)sz;
	return vmt_error(-ENOENT, "libvmt-pager.so not found next to vmt (build it, or set "
				  "VMT_PAGER=/path/to/libvmt-pager.so)");
}

/* The caller's environment plus the pager's two variables (LD_PRELOAD replaced). */
static char **dest_env(struct split_ctx *c)
{
	size_t n = 0;
	char **env;

	while (environ[n] && n < DEST_ENV_MAX)
		n++;
	env = calloc(n + 3, sizeof(*env));
	if (!env)
		return NULL;
	n = 0;
	for (char **e = environ; *e && n < DEST_ENV_MAX; e++)
		if (strncmp(*e, "LD_PRELOAD=", 11) && strncmp(*e, VMT_PAGER_CONF_ENV "=", 15))
			env[n++] = *e;
	if (c->pager_so[0]) {
		if (asprintf(&env[n], "LD_PRELOAD=%s", c->pager_so) < 0)
			env[n] = NULL;
		if (env[n] && asprintf(&env[n + 1], VMT_PAGER_CONF_ENV "=%s", c->sp.pager_conf) < 0)
			env[n + 1] = NULL;
	}
	return env;
}

static void dest_env_free(struct split_ctx *c, char **env)
{
	size_t n = 0;

	if (!env)
		return;
	while (env[n])
		n++;
	if (c->pager_so[0] && n >= 2) {
		free(env[n - 1]);
		free(env[n - 2]);
	}
	free(env);
}

/* The executable of the source QEMU (its argv[0] may be a bare name). */
static void qemu_exe(struct split_ctx *c, char *out, size_t sz)
{
	char path[64];
	ssize_t n;

	snprintf(path, sizeof(path), "/proc/%d/exe", (int)c->vm.qemu_pid);
	n = readlink(path, out, sz - 1);
	if (n > 0 && !strstr(out, " (deleted)")) {
		out[n] = '\0';
		return;
	}
	vmt_strlcpy(out, c->src_args.v[0], sz);
}

static int dest_spawn(struct split_ctx *c)
{
	char exe[PATH_MAX], log_path[PATH_MAX + 32], netns[PATH_MAX], *argv0;
	char **env = dest_env(c);
	int r;

	if (!env)
		return -ENOMEM;
	qemu_exe(c, exe, sizeof(exe));
	snprintf(log_path, sizeof(log_path), "%s/qemu.g%d.log", c->vm.dir, c->sp.gen);
	snprintf(netns, sizeof(netns), "/run/netns/%s", c->sp.main_netns);
	argv0 = c->dst_args.v[0];
	c->dst_args.v[0] = exe;
	r = vmt_spawn(c->dst_args.v,
		      &(struct vmt_spawn_opts){.log_path = log_path,
					       .envp = env,
					       .netns_path = c->sp.main_netns[0] ? netns : NULL},
		      &c->dst_pid);
	c->dst_args.v[0] = argv0;
	dest_env_free(c, env);
	return r;
}

static int dest_qmp_connect(struct split_ctx *c, const char *sock)
{
	int64_t deadline = vmt_deadline_in(DEST_QMP_WAIT_MS);
	int r;

	for (;;) {
		if (split_wait_gone(c->dst_pid, 0)) {
			char log[PATH_MAX + 32];

			snprintf(log, sizeof(log), "%s/qemu.g%d.log", c->vm.dir, c->sp.gen);
			return vmt_error(-ECHILD, "the destination QEMU exited at start (see %s)",
					 log);
		}
		r = vmt_qmp_connect(sock, 5000, &c->dst_q);
		if (!r)
			return 0;
		if (vmt_now_ms() >= deadline)
			return vmt_error(r, "the destination QEMU's monitor %s does not answer",
					 sock);
		nap_ms(10);
	}
}

int split_qmp_ignore_shared(struct vmt_qmp *q, bool on)
{
	struct json_object *args = json_object_new_object(), *caps = json_object_new_array(),
			   *cap = json_object_new_object();
	int r;

	json_object_object_add(cap, "capability", json_object_new_string("x-ignore-shared"));
	json_object_object_add(cap, "state", json_object_new_boolean(on));
	json_object_array_add(caps, cap);
	json_object_object_add(args, "capabilities", caps);
	r = vmt_qmp_execute(q, "migrate-set-capabilities", args, NULL);
	json_object_put(args);
	return r;
}

/* Poll query-migrate until completed; -EIO on failed/cancelled, -ETIMEDOUT. */
int split_qmp_wait_migrate(struct vmt_qmp *q, int timeout_ms, bool empty_ok)
{
	int64_t deadline = vmt_deadline_in(timeout_ms);

	for (;;) {
		struct json_object *ret = NULL, *st;
		const char *s = "";
		int r = vmt_qmp_execute(q, "query-migrate", NULL, &ret);

		if (r)
			return r;
		if (json_object_object_get_ex(ret, "status", &st))
			s = json_object_get_string(st);
		else if (empty_ok)
			s = "completed"; /* the incoming side forgets a finished migration */
		r = !strcmp(s, "completed") ? 0
		    : (!strcmp(s, "failed") || !strcmp(s, "cancelled"))
			? vmt_error(-EIO, "migration %s", s)
			: 1;
		json_object_put(ret);
		if (r <= 0)
			return r;
		if (vmt_now_ms() >= deadline)
			return vmt_error(-ETIMEDOUT, "migration did not complete within %d s",
					 timeout_ms / 1000);
		nap_ms(5); /* in the downtime: a device state loads in tens of ms */
	}
}

/* migrate / migrate-incoming with a shell command on the device state file. */
int split_qmp_migrate(struct vmt_qmp *q, const char *cmd, const char *shell, const char *path)
{
	struct json_object *args = json_object_new_object();
	char uri[PATH_MAX + 32];
	int r;

	snprintf(uri, sizeof(uri), "exec:%s '%s'", shell, path);
	json_object_object_add(args, "uri", json_object_new_string(uri));
	r = vmt_qmp_execute(q, cmd, args, NULL);
	json_object_put(args);
	return r;
}

/* Connect to the destination's monitor and start loading the device state. */
static int dest_load_begin(struct split_ctx *c)
{
	const char *qmp = qmap_get(&c->map, c->vm.qmp_sock);
	int64_t t = vmt_now_ms();
	int r = dest_qmp_connect(c, qmp);

	c->res->dest_qmp_ms = vmt_now_ms() - t;
	if (!r)
		r = split_qmp_ignore_shared(c->dst_q, true);
	if (!r)
		r = split_qmp_migrate(c->dst_q, "migrate-incoming", "cat", c->sp.devstate);
	return r;
}

/*
 * The load thread: the device state loads while the memory is still being
 * copied.  A device that reads guest RAM meanwhile (virtio rings) faults,
 * and QEMU waits in that fault until the pager starts (start_after): it
 * starts once every chunk is where the page table says, so what the load
 * reads is the guest's.  Only `cont` has to wait for the copy.
 */
static void *dest_load_main(void *arg)
{
	struct split_ctx *c = arg;

	c->load_err = dest_load_begin(c);
	if (c->load_err)
		vmt_strlcpy(c->load_msg, vmt_last_error(), sizeof(c->load_msg));
	return NULL;
}

/* Wait for the load thread; its error, with its message, if it failed. */
static int dest_load_join(struct split_ctx *c)
{
	if (!c->load_started)
		return 0;
	pthread_join(c->load_thr, NULL);
	c->load_started = false;
	return c->load_err ? vmt_error(c->load_err, "%s", c->load_msg) : 0;
}

int split_dest_spawn(struct split_ctx *c)
{
	int r = dest_spawn(c);

	if (r)
		return vmt_error(r, "cannot start the destination QEMU: %s", vmt_last_error());
	r = -pthread_create(&c->load_thr, NULL, dest_load_main, c);
	c->load_started = !r;
	return r ? vmt_error(r, "cannot start the device-state load: %s", strerror(-r)) : 0;
}

int split_dest_run(struct split_ctx *c)
{
	bool loading = c->load_started;
	int r = c->dst_pid > 0 ? 0 : dest_spawn(c);

	if (!r)
		r = loading ? dest_load_join(c) : dest_load_begin(c);
	if (!r)
		r = split_qmp_wait_migrate(c->dst_q, DEST_MIGRATE_MS, false);
	if (!r && !c->was_paused)
		r = vmt_qmp_execute(c->dst_q, "cont", NULL, NULL);
	if (!r)
		c->t_cont = vmt_now_ms();
	else
		r = vmt_error(r, "the destination QEMU did not take the VM over: %s",
			      vmt_last_error());
	return r;
}

void split_dest_kill(struct split_ctx *c)
{
	/* A dead QEMU ends the load thread's monitor calls at once. */
	if (c->load_started && c->dst_pid > 0)
		kill(c->dst_pid, SIGKILL);
	dest_load_join(c);
	if (c->dst_q) {
		vmt_qmp_close(c->dst_q);
		c->dst_q = NULL;
	}
	if (c->dst_pid <= 0)
		return;
	kill(c->dst_pid, SIGKILL);
	split_wait_gone(c->dst_pid, 5000);
	c->dst_pid = 0;
}

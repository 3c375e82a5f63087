// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * vm.c - start and stop the VMs that vmt runs: stock QEMU, RAM in a shared
 * memory file in /dev/shm, QMP and the agent's serial port on UNIX sockets
 * in the VM's folder.
 *
 * QEMU is started through a double fork in its own session, so it outlives
 * the caller and is never the caller's child to reap.  vm.json is written
 * as soon as QEMU runs, before the agent answers: a start interrupted
 * during boot (Ctrl-C) leaves a descriptor that 'vmt vm stop' can clean.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sched.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "core/internal.h"
#include <json-c/json.h>

#include "vmctl/qmp.h"
#include "vmctl/spawn.h"
#include "vmctl/sockio.h"
#include "vmctl/vm.h"
#include "vmctl/vm_priv.h"

#define VM_MEM_MIN	  (64ull << 20)
#define VM_MEM_DEFAULT	  (512ull << 20)
#define VM_BOOT_TIMEOUT_S 60
#define VM_QUIT_WAIT_MS	  5000
#define VM_SIGNAL_WAIT_MS 3000
#define VM_ARGV_MAX	  64

/* ------------------------------------------------------- process state */

static void sleep_ms(int ms)
{
	struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000};

	nanosleep(&ts, NULL);
}

/* Wait until QEMU is gone; true if it went within ms. */
static bool vm_wait_exit(const struct vmt_vm_desc *vm, int ms)
{
	int64_t deadline = vmt_deadline_in(ms);

	for (;;) {
		/* Only reaps when the caller is QEMU's parent or a subreaper that adopted it. */
		waitpid(vm->qemu_pid, NULL, WNOHANG);
		if (!vmt_vm_is_running(vm)) {
			/*
			 * It may have become a zombie after the waitpid above, or still
			 * be on its way out (its memory and so its command line gone,
			 * not a zombie yet: waitpid says 0): reap it once it is one, when
			 * it is ours (else waitpid fails at once).  Bounded: 100 ms.
			 */
			for (int i = 0; i < 50 && waitpid(vm->qemu_pid, NULL, WNOHANG) == 0; i++)
				sleep_ms(2);
			return true;
		}
		if (vmt_now_ms() >= deadline)
			return false;
		sleep_ms(20);
	}
}

/* Run one QMP command on vm's monitor; *ret (if non-NULL) is the caller's. */
static int vm_qmp_run(const struct vmt_vm_desc *vm, const char *cmd, struct json_object **ret)
{
	struct vmt_qmp *q;
	int err;

	err = vmt_qmp_connect(vm->qmp_sock, 5000, &q);
	if (err)
		return vmt_error(err, "cannot reach QEMU's monitor of VM '%s' (%s): %s", vm->name,
				 vm->qmp_sock, strerror(-err));
	err = vmt_qmp_execute(q, cmd, NULL, ret);
	vmt_qmp_close(q);
	return err;
}

int vmt_vm_pause(const struct vmt_vm_desc *vm, bool pause)
{
	return vm_qmp_run(vm, pause ? "stop" : "cont", NULL);
}

int vmt_vm_status(const struct vmt_vm_desc *vm, char *buf, size_t cap)
{
	struct json_object *ret = NULL, *st;
	int err = vm_qmp_run(vm, "query-status", &ret);

	if (err)
		return err;
	if (!json_object_object_get_ex(ret, "status", &st) ||
	    !json_object_is_type(st, json_type_string)) {
		json_object_put(ret);
		return vmt_error(-EPROTO, "QEMU's query-status has no status");
	}
	vmt_strlcpy(buf, json_object_get_string(st), cap);
	json_object_put(ret);
	return 0;
}

/* Ask QEMU to quit; false if it could not be asked. */
static bool vm_quit_qmp(const struct vmt_vm_desc *vm)
{
	struct vmt_qmp *q;
	int r;

	/* 2 s: a monitor busy with another client gives no greeting; signals follow. */
	if (vmt_qmp_connect(vm->qmp_sock, 2000, &q)) {
		pr_debug("no QMP for VM '%s': %s", vm->name, vmt_last_error());
		return false;
	}
	r = vmt_qmp_execute(q, "quit", NULL, NULL);
	vmt_qmp_close(q);
	/* QEMU may exit before its reply gets out: a closed connection is success too. */
	if (r && r != -ECONNRESET) {
		pr_debug("QMP quit of VM '%s': %s", vm->name, vmt_last_error());
		return false;
	}
	return true;
}

/* Make QEMU go: QMP quit if graceful, then SIGTERM, then SIGKILL. */
static int vm_kill(const struct vmt_vm_desc *vm, bool graceful)
{
	if (!vmt_vm_is_running(vm))
		return 0;
	if (graceful) {
		if (vm_quit_qmp(vm) && vm_wait_exit(vm, VM_QUIT_WAIT_MS))
			return 0;
		kill(vm->qemu_pid, SIGTERM);
		if (vm_wait_exit(vm, VM_SIGNAL_WAIT_MS))
			return 0;
		pr_warn("QEMU pid %d of VM '%s' ignored quit and SIGTERM; sending SIGKILL",
			(int)vm->qemu_pid, vm->name);
	}
	kill(vm->qemu_pid, SIGKILL);
	if (vm_wait_exit(vm, VM_SIGNAL_WAIT_MS))
		return 0;
	return vmt_error(-EBUSY,
			 "QEMU pid %d of VM '%s' survives SIGKILL (stuck in the kernel?); "
			 "nothing removed",
			 (int)vm->qemu_pid, vm->name);
}

/* ------------------------------------------------------------ cleanup */

/* Refuse to empty a folder that is not a VM's. */
static int vm_folder_check(const char *dir)
{
	if (access(dir, F_OK) < 0 || vmt_vm_folder_is_vm(dir))
		return 0;
	return vmt_error(-EINVAL,
			 "%s does not look like a VM folder (no vm.json, files vmt did "
			 "not make); nothing removed",
			 dir);
}

/* Remove the folder's files (sockets, logs, vm.json, ...) and the folder. */
static int vm_remove_folder(const char *dir)
{
	struct dirent *e;
	DIR *d = opendir(dir);
	int r = 0;

	if (!d)
		return errno == ENOENT
			   ? 0
			   : vmt_error(-errno, "cannot open %s: %s", dir, strerror(errno));
	while ((e = readdir(d))) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		/* Subfolders are not ours to remove; rmdir below then says so. */
		if (unlinkat(dirfd(d), e->d_name, 0) < 0 && errno != EISDIR && errno != EPERM)
			pr_warn("cannot remove %s/%s: %s", dir, e->d_name, strerror(errno));
	}
	closedir(d);
	if (rmdir(dir) < 0 && errno != ENOENT)
		r = vmt_error(-errno, "cannot remove %s: %s; remove it by hand", dir,
			      strerror(errno));
	return r;
}

static int vm_remove_files(const struct vmt_vm_desc *vm)
{
	if (vm->mem_path[0] && unlink(vm->mem_path) < 0 && errno != ENOENT)
		pr_warn("cannot remove RAM file %s: %s", vm->mem_path, strerror(errno));
	return vm_remove_folder(vm->dir);
}

int vmt_vm_stop(const struct vmt_vm_desc *vm)
{
	int r = vm_folder_check(vm->dir);

	if (!r)
		r = vm_kill(vm, true);
	if (!r)
		r = vm_remove_files(vm);
	return r;
}

/* -------------------------------------------------------- start: setup */

static int start_opts_check(const struct vmt_vm_start_opts *o)
{
	int r = vmt_vm_name_check(o->name);

	if (r)
		return r;
	if (o->mem_bytes < VM_MEM_MIN)
		return vmt_error(-EINVAL, "memory size %llu MiB is too small: at least %llu MiB",
				 (unsigned long long)(o->mem_bytes >> 20), VM_MEM_MIN >> 20);
	/* QEMU's -m and the backend's size must agree, and -m counts in MiB. */
	if (o->mem_bytes & ((1ull << 20) - 1))
		return vmt_error(-EINVAL, "memory size %llu bytes is not a multiple of 1 MiB",
				 (unsigned long long)o->mem_bytes);
	if (o->nr_procs < 0)
		return vmt_error(-EINVAL, "negative number of workload processes");
	if (o->kvm && access("/dev/kvm", R_OK | W_OK) < 0)
		return vmt_error(-ENODEV,
				 "--kvm: /dev/kvm is not usable (%s); run without --kvm "
				 "(TCG)",
				 strerror(errno));
	return 0;
}

static int start_abs_file(const char *what, const char *path, char *out, size_t out_sz)
{
	char real[PATH_MAX];

	if (!realpath(path, real) || access(real, R_OK) < 0)
		return vmt_error(-ENOENT, "%s %s: %s", what, path, strerror(errno));
	if (strlen(real) >= out_sz)
		return vmt_error(-ENAMETOOLONG, "%s path too long: %s", what, real);
	vmt_strlcpy(out, real, out_sz);
	return 0;
}

/* Kernel and initrd: the caller's, else the project's guest image. */
static int start_guest_files(const struct vmt_vm_start_opts *o, struct vmt_vm_desc *d)
{
	char kernel[sizeof(d->kernel)], initrd[sizeof(d->initrd)];
	int r = 0;

	if (!o->kernel || !o->initrd)
		r = vmt_vm_default_guest(kernel, sizeof(kernel), initrd, sizeof(initrd));
	if (r)
		return r;
	r = start_abs_file("kernel", o->kernel ? o->kernel : kernel, d->kernel, sizeof(d->kernel));
	if (!r)
		r = start_abs_file("initrd", o->initrd ? o->initrd : initrd, d->initrd,
				   sizeof(d->initrd));
	return r;
}

static int start_cmdline(const struct vmt_vm_start_opts *o, struct vmt_vm_desc *d)
{
	char procs[32] = "";
	int n;

	if (o->nr_procs > 0)
		snprintf(procs, sizeof(procs), " vmt.nproc=%d", o->nr_procs);
	n = snprintf(d->cmdline, sizeof(d->cmdline), "console=ttyS0 panic=-1%s%s%s%s", procs,
		     o->no_kaslr ? " nokaslr" : "", o->extra_cmdline ? " " : "",
		     o->extra_cmdline ? o->extra_cmdline : "");
	if (n < 0 || (size_t)n >= sizeof(d->cmdline))
		return vmt_error(-E2BIG,
				 "kernel command line longer than %zu bytes; shorten "
				 "--append",
				 sizeof(d->cmdline) - 1);
	return 0;
}

/* The run dir, absolute; QEMU options cannot hold ',' and sockets have 108 bytes. */
static int start_run_dir(const char *name, char *dir, size_t dir_sz)
{
	const char *run = vmt_vm_run_dir();
	char real[PATH_MAX], tmp[PATH_MAX];
	size_t len;

	if (strlen(run) >= sizeof(tmp))
		return vmt_error(-ENAMETOOLONG, "run dir path too long: %s", run);
	/* mkdir -p */
	vmt_strlcpy(tmp, run, sizeof(tmp));
	for (char *p = tmp + 1;; p++) {
		if (*p == '/' || !*p) {
			char c = *p;

			*p = '\0';
			if (mkdir(tmp, 0755) < 0 && errno != EEXIST)
				return vmt_error(-errno,
						 "cannot create run dir %s: %s (set "
						 "VMT_RUN_DIR to a writable folder)",
						 tmp, strerror(errno));
			*p = c;
			if (!c)
				break;
		}
	}
	if (!realpath(run, real))
		return vmt_error(-errno, "run dir %s: %s", run, strerror(errno));
	if (strchr(real, ','))
		return vmt_error(-EINVAL,
				 "run dir %s holds a ',', which QEMU options cannot take; "
				 "set VMT_RUN_DIR elsewhere",
				 real);
	len = strlen(real) + 1 + strlen(name) + strlen("/agent.sock");
	if (len >= sizeof(((struct sockaddr_un *)0)->sun_path))
		return vmt_error(-ENAMETOOLONG,
				 "socket paths under %s would be %zu bytes, over "
				 "the 107 a UNIX socket takes; use a shorter "
				 "VMT_RUN_DIR or VM name",
				 real, len);
	snprintf(dir, dir_sz, "%s/%s", real, name);
	return 0;
}

/* Create the VM's folder; it existing means the name is taken. */
static int start_claim_name(struct vmt_vm_desc *d)
{
	struct vmt_vm_desc old;
	int r;

	if (mkdir(d->dir, 0700) < 0) {
		if (errno != EEXIST)
			return vmt_error(-errno, "cannot create %s: %s", d->dir, strerror(errno));
		r = vmt_vm_load(d->dir, &old);
		if (!r)
			return vmt_error(-EEXIST,
					 "VM '%s' is already running (QEMU pid %d); stop "
					 "it with 'vmt vm stop %s' or pick another name",
					 d->name, (int)old.qemu_pid, d->name);
		return vmt_error(-EEXIST,
				 "VM '%s' exists but is not running (stale descriptor "
				 "in %s); remove it with 'vmt vm stop %s'",
				 d->name, d->dir, d->name);
	}
	if (access(d->mem_path, F_OK) == 0) {
		rmdir(d->dir);
		return vmt_error(-EEXIST,
				 "RAM file %s exists (a VM named '%s' under another run "
				 "dir, or a leftover); remove it or pick another name",
				 d->mem_path, d->name);
	}
	return 0;
}

/* -------------------------------------------------------- start: QEMU */

struct vm_argv {
	char *v[VM_ARGV_MAX + 1];
	int n;
	bool oom;
};

__attribute__((format(printf, 2, 3))) static void argv_add(struct vm_argv *a, const char *fmt, ...)
{
	va_list ap;
	char *s;

	if (a->oom || a->n >= VM_ARGV_MAX) {
		a->oom = true;
		return;
	}
	va_start(ap, fmt);
	if (vasprintf(&s, fmt, ap) < 0)
		a->oom = true;
	else
		a->v[a->n++] = s;
	va_end(ap);
}

static void argv_free(struct vm_argv *a)
{
	for (int i = 0; i < a->n; i++)
		free(a->v[i]);
	a->n = 0;
}

static int vm_build_argv(const struct vmt_vm_desc *d, const char *qemu, struct vm_argv *a)
{
	unsigned long long mb = (unsigned long long)(d->mem_bytes >> 20);

	argv_add(a, "%s", qemu);
	argv_add(a, "-name");
	argv_add(a, "vmt-%s", d->name);
	argv_add(a, "-machine");
	argv_add(a, "%s,memory-backend=ram0", d->machine);
	argv_add(a, "-accel");
	argv_add(a, "%s", d->kvm ? "kvm" : "tcg");
	/* qemu64 keeps 4-level paging unless asked: -cpu max would bring LA57 under TCG. */
	argv_add(a, "-cpu");
	argv_add(a, "%s", d->la57 ? "qemu64,+la57" : "qemu64");
	argv_add(a, "-m");
	argv_add(a, "%lluM", mb);
	argv_add(a, "-object");
	argv_add(a, "memory-backend-file,id=ram0,size=%lluM,mem-path=%s,share=on", mb, d->mem_path);
	argv_add(a, "-kernel");
	argv_add(a, "%s", d->kernel);
	argv_add(a, "-initrd");
	argv_add(a, "%s", d->initrd);
	argv_add(a, "-append");
	argv_add(a, "%s", d->cmdline);
	argv_add(a, "-display");
	argv_add(a, "none");
	argv_add(a, "-monitor");
	argv_add(a, "none");
	argv_add(a, "-parallel");
	argv_add(a, "none");
	argv_add(a, "-no-reboot");
	argv_add(a, "-serial");
	argv_add(a, "file:%s", d->console_log);
	argv_add(a, "-serial");
	argv_add(a, "unix:%s,server=on,wait=off", d->agent_sock);
	argv_add(a, "-qmp");
	argv_add(a, "unix:%s,server=on,wait=off", d->qmp_sock);
	argv_add(a, "-pidfile");
	argv_add(a, "%s/qemu.pid", d->dir);
	a->v[a->n] = NULL;
	return a->oom ? vmt_error(-ENOMEM, "out of memory building the QEMU command line") : 0;
}

/* $VMT_QEMU or qemu-system-x86_64, searched in PATH now: the child only calls execv. */
static int vm_find_qemu(char *out, size_t out_sz)
{
	const char *q = getenv("VMT_QEMU"), *path = getenv("PATH");
	char *dirs, *save = NULL;

	if (!q || !*q)
		q = "qemu-system-x86_64";
	if (strchr(q, '/')) {
		if (access(q, X_OK) < 0)
			return vmt_error(-ENOENT, "VMT_QEMU=%s: %s", q, strerror(errno));
		vmt_strlcpy(out, q, out_sz);
		return 0;
	}
	dirs = strdup(path && *path ? path : "/usr/local/bin:/usr/bin:/bin");
	if (!dirs)
		return -ENOMEM;
	for (char *dir = strtok_r(dirs, ":", &save); dir; dir = strtok_r(NULL, ":", &save)) {
		snprintf(out, out_sz, "%s/%s", dir, q);
		if (access(out, X_OK) == 0) {
			free(dirs);
			return 0;
		}
	}
	free(dirs);
	return vmt_error(-ENOENT, "%s not found in PATH; install qemu-system-x86 or set VMT_QEMU",
			 q);
}

/* What the forked processes tell the parent through the status pipe. */
struct spawn_msg {
	int kind; /* 'P': QEMU's pid, 'E': errno of a failed fork or exec */
	int val;
};

/* In the grandchild: stdio to the log, clean signal state, exec.  Never returns. */
static void spawn_exec(char *const argv[], const struct vmt_spawn_opts *o, int status_fd)
{
	struct spawn_msg m = {'E', 0};
	sigset_t all;
	int fd;

	sigemptyset(&all);
	sigprocmask(SIG_SETMASK, &all, NULL);
	signal(SIGPIPE, SIG_DFL);
	signal(SIGINT, SIG_DFL);
	signal(SIGTERM, SIG_DFL);
	signal(SIGHUP, SIG_DFL);
	fd = open("/dev/null", O_RDONLY);
	if (fd >= 0 && fd != 0) {
		dup2(fd, 0);
		close(fd);
	}
	fd = open(o->log_path, O_WRONLY | O_CREAT | O_APPEND, 0644);
	if (fd >= 0) {
		dup2(fd, 1);
		dup2(fd, 2);
		if (fd > 2)
			close(fd);
	}
	/* The caller's descriptors are not QEMU's business. */
	close_range(3, ~0u, CLOSE_RANGE_CLOEXEC);
	if (o->netns_path) {
		fd = open(o->netns_path, O_RDONLY | O_CLOEXEC);
		if (fd < 0 || setns(fd, CLONE_NEWNET) < 0)
			goto fail;
	}
	if (o->envp)
		execve(argv[0], argv, o->envp);
	else
		execv(argv[0], argv);
fail:
	m.val = errno;
	if (write(status_fd, &m, sizeof(m)) < 0)
		_exit(126);
	_exit(127);
}

/* In the child: new session, fork QEMU, report its pid, exit. */
static void spawn_middle(char *const argv[], const struct vmt_spawn_opts *o, int status_fd)
{
	struct spawn_msg m = {'P', 0};
	pid_t pid;

	setsid();
	pid = fork();
	if (pid == 0)
		spawn_exec(argv, o, status_fd);
	if (pid < 0)
		m = (struct spawn_msg){'E', errno};
	else
		m.val = (int)pid;
	_exit(write(status_fd, &m, sizeof(m)) == sizeof(m) ? 0 : 1);
}

int vmt_spawn(char *const argv[], const struct vmt_spawn_opts *o, pid_t *pid_out)
{
	struct spawn_msg m;
	int pfd[2], err = 0, status;
	pid_t mid, pid = 0;
	ssize_t n;

	if (pipe2(pfd, O_CLOEXEC) < 0)
		return vmt_error(-errno, "pipe: %s", strerror(errno));
	mid = fork();
	if (mid == 0) {
		close(pfd[0]);
		spawn_middle(argv, o, pfd[1]);
	}
	close(pfd[1]);
	if (mid < 0) {
		close(pfd[0]);
		return vmt_error(-errno, "fork: %s", strerror(errno));
	}
	/* EOF comes once the middle process exited and QEMU's exec closed the pipe. */
	while ((n = read(pfd[0], &m, sizeof(m))) == sizeof(m) || (n < 0 && errno == EINTR)) {
		if (n < 0)
			continue;
		if (m.kind == 'P')
			pid = m.val;
		else
			err = m.val;
	}
	close(pfd[0]);
	while (waitpid(mid, &status, 0) < 0 && errno == EINTR)
		;
	if (err || pid <= 0)
		return vmt_error(-(err ? err : ECHILD), "cannot run %s: %s", argv[0],
				 strerror(err ? err : ECHILD));
	*pid_out = pid;
	return 0;
}

/* ----------------------------------------------------- start: booting */

/*
 * A line from the end of a log file for an error message: the last one
 * holding prefer (a panic says more than the register dump after it),
 * else the last non-empty one.
 */
static void log_pick_line(const char *path, const char *prefer, char *out, size_t out_sz)
{
	char buf[8192], *end, *start, *hit = NULL;
	ssize_t n = 0;
	off_t size;
	int fd;

	out[0] = '\0';
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return;
	size = lseek(fd, 0, SEEK_END);
	if (size > 0)
		n = pread(fd, buf, sizeof(buf) - 1, VMT_MAX(size - (off_t)sizeof(buf) + 1, 0));
	close(fd);
	if (n <= 0)
		return;
	buf[n] = '\0';
	for (char *p = buf; prefer && (p = strstr(p, prefer)); p++)
		hit = p;
	end = hit ? strchrnul(hit, '\n') : buf + n;
	while (end > buf && (end[-1] == '\n' || end[-1] == '\r' || end[-1] == ' '))
		end--;
	*end = '\0';
	start = memrchr(buf, '\n', (size_t)(end - buf));
	start = start ? start + 1 : buf;
	vmt_strlcpy(out, start, out_sz);
}

static int boot_failed(const struct vmt_vm_desc *d, int err, const char *what)
{
	char qlog[sizeof(d->dir) + 16], qline[160], cline[160];

	snprintf(qlog, sizeof(qlog), "%s/qemu.log", d->dir);
	log_pick_line(qlog, NULL, qline, sizeof(qline));
	log_pick_line(d->console_log, "Kernel panic", cline, sizeof(cline));
	return vmt_error(err, "VM '%s': %s; guest console ends with: %s%s%s", d->name, what,
			 cline[0] ? cline : "(nothing)", qline[0] ? "; QEMU said: " : "", qline);
}

static int start_wait_agent(const struct vmt_vm_desc *d, int timeout_s)
{
	int64_t deadline = vmt_deadline_in((int64_t)timeout_s * 1000);
	char what[160];

	for (;;) {
		int64_t left = deadline - vmt_now_ms();
		int64_t t0 = vmt_now_ms();

		if (!vmt_vm_is_running(d))
			return boot_failed(d, -ECHILD, "QEMU exited during boot");
		if (left <= 0)
			break;
		if (!vmt_agent_ping(d, (int)VMT_MIN(left, 1000)))
			return 0;
		/* No socket yet fails at once: do not spin. */
		if (vmt_now_ms() - t0 < 100)
			sleep_ms(100);
	}
	snprintf(what, sizeof(what),
		 "the agent did not answer within %d s (does the initramfs run it on ttyS1? "
		 "a slow TCG boot needs a longer --timeout)",
		 timeout_s);
	return boot_failed(d, -ETIMEDOUT, what);
}

static int start_fill_desc(const struct vmt_vm_start_opts *o, struct vmt_vm_desc *d)
{
	char dir[sizeof(d->dir)];
	int r = start_run_dir(o->name, dir, sizeof(dir));

	if (r)
		return r;
	vmt_vm_desc_layout(d, dir, o->name);
	d->mem_bytes = o->mem_bytes;
	d->nr_procs = o->nr_procs;
	d->kaslr = !o->no_kaslr;
	d->la57 = o->la57;
	d->kvm = o->kvm;
	d->started_s = (int64_t)time(NULL);
	r = start_guest_files(o, d);
	if (!r)
		r = start_cmdline(o, d);
	return r;
}

/* Launch QEMU for d and record it; on failure nothing is left running. */
static int start_launch(struct vmt_vm_desc *d)
{
	char qemu[PATH_MAX], log_path[sizeof(d->dir) + 16];
	struct vm_argv a = {.n = 0};
	int r = vm_find_qemu(qemu, sizeof(qemu));

	if (!r)
		r = vm_build_argv(d, qemu, &a);
	snprintf(log_path, sizeof(log_path), "%s/qemu.log", d->dir);
	if (!r)
		r = vmt_spawn(a.v, &(struct vmt_spawn_opts){.log_path = log_path}, &d->qemu_pid);
	argv_free(&a);
	if (!r)
		r = vmt_vm_desc_write(d);
	return r;
}

int vmt_vm_start(const struct vmt_vm_start_opts *opts, struct vmt_vm_desc *out)
{
	struct vmt_vm_start_opts o = {0};
	int r;

	/* Options from an older or newer caller: take the fields both know. */
	memcpy(&o, opts, opts->sz ? VMT_MIN(opts->sz, sizeof(o)) : sizeof(o));
	if (!o.name)
		o.name = "vmt";
	if (!o.mem_bytes)
		o.mem_bytes = VM_MEM_DEFAULT;
	if (o.boot_timeout_s <= 0)
		o.boot_timeout_s = VM_BOOT_TIMEOUT_S;
	memset(out, 0, sizeof(*out));
	r = start_opts_check(&o);
	if (!r)
		r = start_fill_desc(&o, out);
	if (!r)
		r = start_claim_name(out);
	if (r)
		return r;
	r = start_launch(out);
	if (!r)
		r = start_wait_agent(out, o.boot_timeout_s);
	if (r) {
		vm_kill(out, false);
		vm_remove_files(out);
	}
	return r;
}

// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * test_vm_desc.c - VM descriptors without QEMU: vm.json round trip in a
 * private run dir ($VMT_RUN_DIR), malformed files, name rules, stale and
 * recycled pids, stop's cleanup, start's refusals, and the agent client
 * against a fake agent on agent.sock.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "core/internal.h"
#include "vmctl/vm.h"
#include "vmctl/vm_priv.h"

static char run_dir[] = "/tmp/vmt-test-run-XXXXXX";

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static int group_setup(void **state)
{
	(void)state;
	if (!mkdtemp(run_dir))
		return -1;
	setenv("VMT_RUN_DIR", run_dir, 1);
	vmt_set_log(NULL, NULL, VMT_LOG_ERROR);
	return 0;
}

static int group_teardown(void **state)
{
	(void)state;
	return nftw(run_dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* A descriptor for name in the run dir, its folder created. */
static void make_desc(const char *name, struct vmt_vm_desc *d)
{
	char dir[4096];

	memset(d, 0, sizeof(*d));
	snprintf(dir, sizeof(dir), "%s/%s", run_dir, name);
	assert_true(mkdir(dir, 0700) == 0 || errno == EEXIST);
	vmt_vm_desc_layout(d, dir, name);
	snprintf(d->mem_path, sizeof(d->mem_path), "%s/%s.ram", run_dir, name);
	snprintf(d->kernel, sizeof(d->kernel), "/boot/vmlinuz-test");
	snprintf(d->initrd, sizeof(d->initrd), "/boot/initrd-test");
	snprintf(d->cmdline, sizeof(d->cmdline), "console=ttyS0 panic=-1 vmt.nproc=7 nokaslr");
	d->mem_bytes = 768ull << 20;
	d->qemu_pid = 4194303;
	d->nr_procs = 7;
	d->la57 = true;
	d->started_s = 1700000000;
}

static void write_text(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static bool exists(const char *path)
{
	return access(path, F_OK) == 0;
}

/* ------------------------------------------------------------- names */

static void test_name_check(void **state)
{
	static const char *const good[] = {"vmt", "a", "web-1", "x.y_z", "A9"};
	static const char *const bad[] = {"",	 ".",	"..", ".hidden", "-opt", "a/b",
					  "a,b", "a b", "ä",  "a\nb",	 "hosts"};
	char longname[VMT_VM_NAME_MAX + 1];

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(good); i++)
		assert_int_equal(vmt_vm_name_check(good[i]), 0);
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++)
		assert_int_equal(vmt_vm_name_check(bad[i]), -EINVAL);
	assert_int_equal(vmt_vm_name_check(NULL), -EINVAL);
	memset(longname, 'n', sizeof(longname));
	longname[VMT_VM_NAME_MAX - 1] = '\0';
	assert_int_equal(vmt_vm_name_check(longname), 0);
	longname[VMT_VM_NAME_MAX - 1] = 'n';
	longname[VMT_VM_NAME_MAX] = '\0';
	assert_int_equal(vmt_vm_name_check(longname), -EINVAL);
	assert_non_null(strstr(vmt_last_error(), "too long"));
}

/* -------------------------------------------------------- round trip */

static void test_round_trip(void **state)
{
	struct vmt_vm_desc d, r;
	char path[4200];
	struct dirent *e;
	DIR *dir;
	int files = 0;

	(void)state;
	make_desc("rt", &d);
	assert_int_equal(vmt_vm_desc_write(&d), 0);
	snprintf(path, sizeof(path), "%s/vm.json", d.dir);
	assert_int_equal(vmt_vm_desc_read(path, &r), 0);
	assert_string_equal(r.name, "rt");
	assert_string_equal(r.dir, d.dir);
	assert_string_equal(r.mem_path, d.mem_path);
	assert_string_equal(r.kernel, d.kernel);
	assert_string_equal(r.initrd, d.initrd);
	assert_string_equal(r.qmp_sock, d.qmp_sock);
	assert_string_equal(r.agent_sock, d.agent_sock);
	assert_string_equal(r.console_log, d.console_log);
	assert_string_equal(r.machine, "pc");
	assert_string_equal(r.cmdline, d.cmdline);
	assert_int_equal(r.mem_bytes, d.mem_bytes);
	assert_int_equal(r.qemu_pid, d.qemu_pid);
	assert_int_equal(r.nr_procs, 7);
	assert_false(r.kaslr);
	assert_true(r.la57);
	assert_false(r.kvm);
	assert_int_equal(r.started_s, 1700000000);

	/* Rewriting replaces the file and leaves no temporary behind. */
	d.qemu_pid = 4194302;
	assert_int_equal(vmt_vm_desc_write(&d), 0);
	assert_int_equal(vmt_vm_desc_read(path, &r), 0);
	assert_int_equal(r.qemu_pid, 4194302);
	dir = opendir(d.dir);
	assert_non_null(dir);
	while ((e = readdir(dir)))
		files += e->d_name[0] != '.' || strncmp(e->d_name, ".vm.json", 8) == 0;
	closedir(dir);
	assert_int_equal(files, 1);
	assert_int_equal(vmt_vm_stop(&d), 0);
}

/* ---------------------------------------------------------- malformed */

static void test_malformed(void **state)
{
	static const char *const texts[] = {
	    "",
	    "not json",
	    "[1, 2]",
	    "{\"name\": \"x\"",
	    "{\"mem_path\": \"/m\", \"kernel\": \"/k\", \"qmp_sock\": \"/q\", "
	    "\"agent_sock\": \"/a\", \"mem_bytes\": 1, \"qemu_pid\": 1}", /* no name */
	    "{\"name\": \"a/b\", \"mem_path\": \"/m\", \"kernel\": \"/k\", \"qmp_sock\": \"/q\", "
	    "\"agent_sock\": \"/a\", \"mem_bytes\": 1, \"qemu_pid\": 1}",
	    "{\"name\": \"bad\", \"mem_path\": \"/m\", \"kernel\": \"/k\", \"qmp_sock\": \"/q\", "
	    "\"agent_sock\": \"/a\", \"mem_bytes\": \"1G\", \"qemu_pid\": 1}",
	    "{\"name\": \"bad\", \"mem_path\": \"/m\", \"kernel\": \"/k\", \"qmp_sock\": \"/q\", "
	    "\"agent_sock\": \"/a\", \"mem_bytes\": 1, \"qemu_pid\": -5}",
	    "{\"name\": \"bad\", \"mem_path\": 7, \"kernel\": \"/k\", \"qmp_sock\": \"/q\", "
	    "\"agent_sock\": \"/a\", \"mem_bytes\": 1, \"qemu_pid\": 1}",
	};
	struct vmt_vm_desc d;
	char dir[4200], path[4300], *huge;
	size_t n = 20000;

	(void)state;
	snprintf(dir, sizeof(dir), "%s/bad", run_dir);
	assert_int_equal(mkdir(dir, 0700), 0);
	snprintf(path, sizeof(path), "%s/vm.json", dir);
	for (size_t i = 0; i < ARRAY_SIZE(texts); i++) {
		write_text(path, texts[i]);
		assert_int_equal(vmt_vm_desc_read(path, &d), -EBADMSG);
		assert_non_null(strstr(vmt_last_error(), "malformed"));
		/* load still says where the folder is, so that stop can clean it */
		assert_int_equal(vmt_vm_load("bad", &d), -EBADMSG);
		assert_string_equal(d.name, "bad");
		assert_string_equal(d.dir, dir);
	}
	/* A path string longer than its field. */
	huge = malloc(n + 200);
	assert_non_null(huge);
	memset(huge, 'k', n + 200);
	memcpy(huge, "{\"name\": \"bad\", \"mem_path\": \"/m\", \"kernel\": \"", 45);
	strcpy(huge + n, "\"}");
	write_text(path, huge);
	free(huge);
	assert_int_equal(vmt_vm_desc_read(path, &d), -EBADMSG);
	assert_non_null(strstr(vmt_last_error(), "'kernel' is not a string of at most 4095"));
	/* No vm.json at all in an existing folder. */
	unlink(path);
	assert_int_equal(vmt_vm_load("bad", &d), -EBADMSG);
	assert_non_null(strstr(vmt_last_error(), "no vm.json"));
	rmdir(dir);
}

/* ------------------------------------------------- load, stale, stop */

static void test_load_missing(void **state)
{
	struct vmt_vm_desc d;

	(void)state;
	assert_int_equal(vmt_vm_load("nosuchvm", &d), -ENOENT);
	assert_non_null(strstr(vmt_last_error(), "no VM named 'nosuchvm'"));
	assert_int_equal(vmt_vm_load("/nonexistent/dir", &d), -ENOENT);
	assert_int_equal(vmt_vm_load("..", &d), -EINVAL);
}

static void test_stale_pid(void **state)
{
	struct vmt_vm_desc d, r;
	char path[4200];

	(void)state;
	make_desc("stale", &d);
	/* A live pid that is not this VM's QEMU: ours, whose argv names no socket. */
	d.qemu_pid = getpid();
	assert_int_equal(vmt_vm_desc_write(&d), 0);
	assert_false(vmt_vm_is_running(&d));
	assert_int_equal(vmt_vm_load("stale", &r), -ESRCH);
	assert_non_null(strstr(vmt_last_error(), "is not running"));
	assert_string_equal(r.name, "stale");
	/* by folder path and by vm.json path */
	assert_int_equal(vmt_vm_load(d.dir, &r), -ESRCH);
	snprintf(path, sizeof(path), "%s/vm.json", d.dir);
	assert_int_equal(vmt_vm_load(path, &r), -ESRCH);
	assert_string_equal(r.dir, d.dir);

	/* stop removes a stale VM without signalling the pid (it is ours!) */
	write_text(d.mem_path, "ram");
	assert_int_equal(vmt_vm_stop(&r), 0);
	assert_false(exists(d.dir));
	assert_false(exists(d.mem_path));
}

/* A process whose argv names the QMP socket passes for the VM's QEMU. */
static pid_t spawn_fake_qemu(const struct vmt_vm_desc *d)
{
	char arg[4200];
	pid_t pid;

	snprintf(arg, sizeof(arg), "unix:%s,server=on,wait=off", d->qmp_sock);
	pid = fork();
	if (pid == 0) {
		/* SIGTERM ends the shell and its sleep: nothing outlives the test. */
		execl("/bin/sh", "sh", "-c", "trap 'kill $!; exit 0' TERM; sleep 30 & wait", arg,
		      (char *)NULL);
		_exit(127);
	}
	assert_true(pid > 0);
	return pid;
}

static void test_live_then_stop(void **state)
{
	struct vmt_vm_desc d, r;
	int status;

	(void)state;
	make_desc("live", &d);
	d.qemu_pid = spawn_fake_qemu(&d);
	usleep(100 * 1000); /* let exec happen */
	assert_int_equal(vmt_vm_desc_write(&d), 0);
	assert_int_equal(vmt_vm_load("live", &r), 0);
	assert_true(vmt_vm_is_running(&r));
	write_text(d.mem_path, "ram");
	/* No QMP socket: stop falls back to SIGTERM. */
	assert_int_equal(vmt_vm_stop(&r), 0);
	assert_false(exists(d.dir));
	assert_false(exists(d.mem_path));
	assert_int_equal(waitpid(d.qemu_pid, &status, WNOHANG), -1); /* reaped by stop */
}

static void test_stop_refuses_foreign_folder(void **state)
{
	char dir[] = "/tmp/vmt-test-foreign-XXXXXX", file[64];
	struct vmt_vm_desc d;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(file, sizeof(file), "%s/precious", dir);
	write_text(file, "keep me");
	/* Resolves to the folder, finds no vm.json: a recovered descriptor... */
	assert_int_equal(vmt_vm_load(dir, &d), -EBADMSG);
	/* ...that stop must not use to empty a folder that is not a VM's. */
	assert_int_equal(vmt_vm_stop(&d), -EINVAL);
	assert_true(exists(file));
	unlink(file);
	rmdir(dir);
}

static void test_list(void **state)
{
	struct vmt_vm_desc d, *v;
	char path[4200], other[4200], other_file[4300], hosts[4200], hosts_sub[4300];
	size_t n;

	(void)state;
	make_desc("list-b", &d);
	assert_int_equal(vmt_vm_desc_write(&d), 0);
	make_desc("list-a", &d);
	assert_int_equal(vmt_vm_desc_write(&d), 0);
	make_desc("list-c", &d); /* folder without vm.json: a start that crashed */
	snprintf(path, sizeof(path), "%s/not-a-vm", run_dir);
	write_text(path, "a file in the run dir");
	/* Another part's folder: neither listed nor touched by stop --all. */
	snprintf(other, sizeof(other), "%s/other-part", run_dir);
	assert_int_equal(mkdir(other, 0700), 0);
	snprintf(other_file, sizeof(other_file), "%s/data", other);
	write_text(other_file, "not ours");
	/* The emulated hosts' folder (only subfolders in it, like a crashed start's). */
	snprintf(hosts, sizeof(hosts), "%s/" VMT_RUN_HOSTS_DIR, run_dir);
	snprintf(hosts_sub, sizeof(hosts_sub), "%s/prefix", hosts);
	assert_int_equal(mkdir(hosts, 0700), 0);
	assert_int_equal(mkdir(hosts_sub, 0700), 0);
	assert_int_equal(vmt_vm_list(&v, &n), 0);
	assert_int_equal(n, 3);
	assert_string_equal(v[0].name, "list-a");
	assert_string_equal(v[1].name, "list-b");
	assert_string_equal(v[2].name, "list-c");
	assert_int_equal(v[0].mem_bytes, 768ull << 20);
	assert_int_equal(v[2].mem_bytes, 0); /* recovered: nothing known */
	for (size_t i = 0; i < n; i++)
		assert_int_equal(vmt_vm_stop(&v[i]), 0);
	free(v);
	unlink(path);
	assert_int_equal(vmt_vm_list(&v, &n), 0);
	assert_int_equal(n, 0);
	free(v);
	assert_true(exists(other_file));
	unlink(other_file);
	rmdir(other);
	assert_int_equal(rmdir(hosts_sub), 0); /* stop --all left the hosts alone */
	rmdir(hosts);
}

/* ------------------------------------------------------ start refuses */

static void test_start_refuses(void **state)
{
	struct vmt_vm_start_opts o = {
	    .sz = sizeof(o), .kernel = "/etc/hostname", .initrd = "/etc/hostname"};
	struct vmt_vm_desc d, out;

	(void)state;
	o.name = "bad/name";
	assert_int_equal(vmt_vm_start(&o, &out), -EINVAL);
	o.name = "small";
	o.mem_bytes = 32ull << 20;
	assert_int_equal(vmt_vm_start(&o, &out), -EINVAL);
	assert_non_null(strstr(vmt_last_error(), "too small"));
	o.mem_bytes = (256ull << 20) + 4096;
	assert_int_equal(vmt_vm_start(&o, &out), -EINVAL);
	o.mem_bytes = 256ull << 20;
	o.kernel = "/nonexistent/vmlinuz";
	assert_int_equal(vmt_vm_start(&o, &out), -ENOENT);
	o.kernel = "/etc/hostname";

	/* A name whose descriptor exists (here stale) is taken. */
	make_desc("taken", &d);
	assert_int_equal(vmt_vm_desc_write(&d), 0);
	o.name = "taken";
	assert_int_equal(vmt_vm_start(&o, &out), -EEXIST);
	assert_non_null(strstr(vmt_last_error(), "vmt vm stop taken"));
	assert_int_equal(vmt_vm_stop(&d), 0);
}

/* ------------------------------------------------------- fake agent */

enum agent_mode { AGENT_OK, AGENT_BAD_HEADER, AGENT_SILENT };

struct fake_agent {
	int lfd;
	enum agent_mode mode;
	pthread_t th;
};

static bool agent_line(int fd, char *line, size_t sz)
{
	size_t len = 0;

	while (len < sz - 1) {
		if (read(fd, line + len, 1) != 1)
			return false;
		if (line[len] == '\n')
			break;
		len++;
	}
	line[len] = '\0';
	return true;
}

static void agent_reply(int fd, const char *cmd, size_t len)
{
	char hdr[128];
	/* stdout holds a NUL and a newline: lengths, not lines, delimit it */
	char out[256];
	size_t out_len = (size_t)snprintf(out, sizeof(out), "ran:%.*s\n", (int)len, cmd) + 2;

	out[out_len - 2] = '\0';
	out[out_len - 1] = 'z';
	snprintf(hdr, sizeof(hdr), "R 3 12345 %zu 4\n", out_len);
	(void)!send(fd, hdr, strlen(hdr), MSG_NOSIGNAL);
	(void)!send(fd, out, out_len, MSG_NOSIGNAL);
	(void)!send(fd, "oops", 4, MSG_NOSIGNAL);
}

static void agent_serve(struct fake_agent *a, int fd)
{
	/* What the serial line carries before the agent runs. */
	static const char noise[] = "[ 0.0] boot noise\r\nmore\x01\x02 noise";
	char line[256], cmd[256];
	size_t len;

	(void)!send(fd, noise, sizeof(noise) - 1, MSG_NOSIGNAL);
	while (agent_line(fd, line, sizeof(line))) {
		if (a->mode == AGENT_SILENT)
			continue;
		if (!strcmp(line, "P")) {
			(void)!send(fd, "PONG\n", 5, MSG_NOSIGNAL);
			continue;
		}
		if (sscanf(line, "X %zu", &len) != 1 || len >= sizeof(cmd) ||
		    read(fd, cmd, len) != (ssize_t)len)
			break;
		if (a->mode == AGENT_BAD_HEADER)
			(void)!send(fd, "R 0 1 999999999999 0\n", 21, MSG_NOSIGNAL);
		else
			agent_reply(fd, cmd, len);
	}
}

static void *agent_main(void *arg)
{
	struct fake_agent *a = arg;
	int fd;

	/* One client after another, as QEMU's chardev serves them, until shut down. */
	while ((fd = accept(a->lfd, NULL, NULL)) >= 0) {
		agent_serve(a, fd);
		close(fd);
	}
	return NULL;
}

static void agent_start(struct fake_agent *a, const struct vmt_vm_desc *d, enum agent_mode m)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};

	assert_true(strlen(d->agent_sock) < sizeof(sa.sun_path));
	memcpy(sa.sun_path, d->agent_sock, strlen(d->agent_sock) + 1);
	a->mode = m;
	a->lfd = socket(AF_UNIX, SOCK_STREAM, 0);
	assert_int_equal(bind(a->lfd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(a->lfd, 4), 0);
	assert_int_equal(pthread_create(&a->th, NULL, agent_main, a), 0);
}

static void agent_stop(struct fake_agent *a, const struct vmt_vm_desc *d)
{
	shutdown(a->lfd, SHUT_RDWR); /* wakes accept() */
	pthread_join(a->th, NULL);
	close(a->lfd);
	unlink(d->agent_sock);
}

static void test_agent_exec(void **state)
{
	struct vmt_agent_result res;
	struct fake_agent a;
	struct vmt_vm_desc d;

	(void)state;
	make_desc("agent", &d);
	agent_start(&a, &d, AGENT_OK);
	assert_int_equal(vmt_agent_ping(&d, 2000), 0);
	assert_int_equal(vmt_agent_exec(&d, "cat /proc/uptime", 5, &res), 0);
	assert_int_equal(res.exit_code, 3);
	assert_int_equal(res.duration_ns, 12345);
	assert_int_equal(res.out_len, strlen("ran:cat /proc/uptime\n") + 2);
	assert_memory_equal(res.out, "ran:cat /proc/uptime\n\0z", res.out_len);
	assert_int_equal(res.out[res.out_len], '\0');
	assert_int_equal(res.err_len, 4);
	assert_string_equal(res.err, "oops");
	vmt_agent_result_free(&res);
	vmt_agent_result_free(&res); /* freeing twice is fine */
	/* A second session on the same agent works too. */
	assert_int_equal(vmt_agent_exec(&d, "true", 5, &res), 0);
	vmt_agent_result_free(&res);
	agent_stop(&a, &d);
}

static void test_agent_bad_header(void **state)
{
	struct vmt_agent_result res;
	struct fake_agent a;
	struct vmt_vm_desc d;

	(void)state;
	make_desc("agent-bad", &d);
	agent_start(&a, &d, AGENT_BAD_HEADER);
	assert_int_equal(vmt_agent_exec(&d, "true", 5, &res), -EPROTO);
	assert_null(res.out);
	agent_stop(&a, &d);
}

static void test_agent_silent_and_busy(void **state)
{
	struct vmt_agent_result res;
	struct fake_agent a;
	struct vmt_vm_desc d;
	char lock[4200];
	int fd;

	(void)state;
	make_desc("agent-silent", &d);
	assert_int_equal(vmt_agent_ping(&d, 300), -ENOENT); /* no socket yet */
	agent_start(&a, &d, AGENT_SILENT);
	assert_int_equal(vmt_agent_ping(&d, 500), -ETIMEDOUT);
	assert_non_null(strstr(vmt_last_error(), "does not answer pings"));
	assert_int_equal(vmt_agent_exec(&d, "true", 1, &res), -ETIMEDOUT);
	/* Another client holds the lock: exec waits, then says who. */
	snprintf(lock, sizeof(lock), "%s/agent.lock", d.dir);
	fd = open(lock, O_RDWR | O_CREAT, 0600);
	assert_true(fd >= 0);
	assert_int_equal(flock(fd, LOCK_EX), 0);
	assert_int_equal(vmt_agent_exec(&d, "true", 1, &res), -ETIMEDOUT);
	assert_non_null(strstr(vmt_last_error(), "busy"));
	close(fd);
	agent_stop(&a, &d);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_name_check),
	    cmocka_unit_test(test_round_trip),
	    cmocka_unit_test(test_malformed),
	    cmocka_unit_test(test_load_missing),
	    cmocka_unit_test(test_stale_pid),
	    cmocka_unit_test(test_live_then_stop),
	    cmocka_unit_test(test_stop_refuses_foreign_folder),
	    cmocka_unit_test(test_list),
	    cmocka_unit_test(test_start_refuses),
	    cmocka_unit_test(test_agent_exec),
	    cmocka_unit_test(test_agent_bad_header),
	    cmocka_unit_test(test_agent_silent_and_busy),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}

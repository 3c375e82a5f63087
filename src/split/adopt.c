// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * adopt.c - `vmt vm adopt`: a descriptor for a running QEMU that vmt did not
 * start (by hand, by libvirt), so that every vmt command, `vmt split`
 * included, takes it by name.  QEMU's pid comes from its QMP socket (the
 * listener's credentials, SO_PEERCRED), checked against its command line,
 * which tells the rest: memory file, size, machine, kernel, console log.
 * A RAM file without share=on is adopted too (`vmt split` then says why it
 * cannot take it).
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/internal.h"
#include "split/split_priv.h"
#include "vmctl/sockio.h"
#include "vmctl/vm_priv.h"

/* Pid of the process listening on a UNIX socket. */
static int sock_peer_pid(const char *path, pid_t *pid)
{
	struct ucred cr;
	socklen_t len = sizeof(cr);
	int fd, r = vmt_unix_connect(path, &fd);

	if (r)
		return vmt_error(r, "cannot connect to %s: %s", path, strerror(-r));
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &len) < 0)
		r = vmt_error(-errno, "SO_PEERCRED on %s: %s", path, strerror(errno));
	else
		*pid = cr.pid;
	close(fd);
	return r;
}

static int abs_path(const char *what, const char *in, char *out, size_t sz)
{
	char real[PATH_MAX];

	if (!in || !in[0]) {
		out[0] = '\0';
		return 0;
	}
	if (!realpath(in, real))
		return vmt_error(-errno, "%s %s: %s", what, in, strerror(errno));
	if (strlen(real) >= sz)
		return vmt_error(-ENAMETOOLONG, "%s path too long", what);
	vmt_strlcpy(out, real, sz);
	return 0;
}

/* Fill d from QEMU's command line. */
static int adopt_fill(const struct vmt_adopt_opts *o, const struct qemu_info *qi,
		      struct vmt_vm_desc *d)
{
	int r = abs_path("RAM file", qi->mem_path, d->mem_path, sizeof(d->mem_path));

	if (!r)
		r = abs_path("kernel", o->kernel ? o->kernel : qi->kernel, d->kernel,
			     sizeof(d->kernel));
	if (!r)
		r = abs_path("initrd", qi->initrd, d->initrd, sizeof(d->initrd));
	if (!r)
		r = abs_path("agent socket", o->agent_sock, d->agent_sock, sizeof(d->agent_sock));
	if (r)
		return r;
	/* No -kernel and no --kernel: readers take the profile from the guest's memory. */
	vmt_strlcpy(d->machine, qi->machine, sizeof(d->machine));
	vmt_strlcpy(d->cmdline, qi->append, sizeof(d->cmdline));
	vmt_strlcpy(d->console_log, qi->console_log, sizeof(d->console_log));
	d->mem_bytes = qi->mem_bytes;
	d->kaslr = !strstr(qi->append, "nokaslr");
	d->la57 = qi->la57;
	d->kvm = qi->kvm;
	d->adopted = true;
	d->started_s = (int64_t)time(NULL);
	return 0;
}

static int adopt_dir(struct vmt_vm_desc *d, const char *name)
{
	const char *run = vmt_vm_run_dir();
	char dir[PATH_MAX];

	if (mkdir(run, 0755) < 0 && errno != EEXIST)
		return vmt_error(-errno, "cannot create run dir %s: %s", run, strerror(errno));
	if (!realpath(run, dir) || strlen(dir) + strlen(name) + 2 > sizeof(d->dir))
		return vmt_error(-ENAMETOOLONG, "run dir %s: bad path", run);
	if ((size_t)snprintf(d->dir, sizeof(d->dir), "%s/%s", dir, name) >= sizeof(d->dir))
		return -ENAMETOOLONG;
	if (mkdir(d->dir, 0700) < 0)
		return vmt_error(-errno,
				 errno == EEXIST ? "VM '%s' exists already (see 'vmt vm list')"
						 : "cannot create the VM's folder: %s",
				 errno == EEXIST ? name : strerror(errno));
	return 0;
}

int vmt_vm_adopt(const struct vmt_adopt_opts *opts, struct vmt_vm_desc *d)
{
	struct vmt_adopt_opts o = {0};
	struct qemu_info *qi = calloc(1, sizeof(*qi));
	struct qargs a = {.n = 0};
	pid_t pid = 0;
	int r;

	memcpy(&o, opts, opts->sz ? VMT_MIN(opts->sz, sizeof(o)) : sizeof(o));
	memset(d, 0, sizeof(*d));
	r = qi ? vmt_vm_name_check(o.name) : -ENOMEM;
	if (!r)
		r = abs_path("QMP socket", o.qmp_sock, d->qmp_sock, sizeof(d->qmp_sock));
	if (!r)
		r = sock_peer_pid(d->qmp_sock, &pid);
	if (!r)
		r = qargs_read_pid(pid, &a);
	if (!r)
		r = qargs_inspect(&a, qi);
	if (!r)
		r = adopt_fill(&o, qi, d);
	vmt_strlcpy(d->name, o.name ? o.name : "", sizeof(d->name));
	d->qemu_pid = pid;
	if (!r && !vmt_vm_is_running(d))
		r = vmt_error(-ESRCH,
			      "pid %d behind %s is not a QEMU naming that socket or RAM "
			      "file",
			      (int)pid, d->qmp_sock);
	if (!r)
		r = adopt_dir(d, o.name);
	if (!r) {
		r = vmt_vm_desc_write(d);
		if (r)
			rmdir(d->dir);
	}
	qargs_free(&a);
	free(qi);
	return r;
}

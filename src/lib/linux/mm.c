// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * mm.c - what a task's mm_struct tells: cmdline and environ (read from the
 * process's own address space, as /proc/PID/cmdline does), the executable's
 * path (d_path over exe_file), RSS and virtual size.
 */
#include <stdlib.h>
#include <string.h>

#include "linux/system.h"
#include "linux/task_offsets.h"

/*
 * Copy [start, start+len) of user memory, page by page: a page that is not
 * present ends the copy (the entry becomes partial), it does not fail it.
 */
static int uread_range(struct vmt_guest *g, uint64_t pgd, uint64_t start, size_t len, char **out,
		       size_t *out_len)
{
	char *buf = malloc(len + 1);
	size_t got = 0;
	int err = 0;

	if (!buf)
		return -ENOMEM;
	while (got < len) {
		size_t n = VMT_PAGE_SIZE - ((start + got) & (VMT_PAGE_SIZE - 1));

		n = VMT_MIN(n, len - got);
		err = vmt_uread(g, pgd, start + got, buf + got, n);
		if (err)
			break;
		got += n;
	}
	buf[got] = '\0';
	if (got < len) /* give back what a short read did not use */
		buf = realloc(buf, got + 1) ?: buf;
	*out = buf;
	*out_len = got;
	return err;
}

/* Clamp a guest-supplied [start, end) to the caps; flags truncation. */
static size_t args_len(struct vmt_task *t, uint64_t start, uint64_t end, size_t budget)
{
	size_t cap = VMT_MIN(VMT_MAX_ARGS_BYTES, budget);

	if (end <= start || start >= 0x0100000000000000ull)
		return 0;
	if (end - start > cap) {
		t->flags |= VMT_F_TRUNCATED;
		return cap;
	}
	return (size_t)(end - start);
}

/*
 * fs/proc/base.c get_mm_cmdline(): normally [arg_start, arg_end).  If the
 * last byte of argv is not NUL the process rewrote its title
 * (setproctitle) and get_mm_proctitle() returns at most one page from
 * arg_start, up to and including the first NUL, possibly running on into
 * the environment area.
 */
static void task_read_cmdline(struct vmt_guest *g, struct vmt_task *t, uint64_t pgd,
			      const uint64_t a[4], size_t budget)
{
	uint64_t arg_start = a[0], arg_end = a[1], env_start = a[2], env_end = a[3];
	size_t len = args_len(t, arg_start, arg_end, budget);
	char last = 0;

	if (!len)
		return;
	if (vmt_uread(g, pgd, arg_end - 1, &last, 1) == 0 && last) {
		if (env_start != arg_end || env_end < env_start)
			env_end = arg_end;
		len = VMT_MIN(args_len(t, arg_start, env_end, budget), VMT_PAGE_SIZE);
		if (uread_range(g, pgd, arg_start, len, &t->cmdline, &t->cmdline_len))
			t->flags |= VMT_F_PARTIAL;
		if (t->cmdline) {
			size_t n = strnlen(t->cmdline, t->cmdline_len);

			t->cmdline_len = n < t->cmdline_len ? n + 1 : n;
		}
		return;
	}
	if (uread_range(g, pgd, arg_start, len, &t->cmdline, &t->cmdline_len))
		t->flags |= VMT_F_PARTIAL;
}

static void task_read_environ(struct vmt_guest *g, struct vmt_task *t, uint64_t pgd,
			      const uint64_t a[4], size_t budget)
{
	size_t len = args_len(t, a[2], a[3], budget);

	if (len && uread_range(g, pgd, a[2], len, &t->environ, &t->environ_len))
		t->flags |= VMT_F_PARTIAL;
}

static int kread_ptr(struct vmt_guest *g, uint64_t base, uint32_t off, uint64_t *v)
{
	if (off == UINT32_MAX)
		return -ENOENT;
	return vmt_kread_u64(g, base + off, v);
}

/* Prepend "/name" to the path being built backwards in buf[0..*pos). */
static int path_prepend(struct vmt_guest *g, const struct task_offsets *o, uint64_t dentry,
			char *buf, size_t *pos)
{
	uint64_t name_va;
	uint32_t len;

	if (kread_ptr(g, dentry, o->dentry_d_name + o->qstr_name, &name_va) ||
	    vmt_kread_u32(g, dentry + o->dentry_d_name + o->qstr_len, &len))
		return -EBADMSG;
	if (len == 0 || len > 255 || len + 1 > *pos)
		return -ENAMETOOLONG;
	*pos -= len;
	if (vmt_kread(g, name_va, buf + *pos, len))
		return -EBADMSG;
	buf[--*pos] = '/';
	return 0;
}

/*
 * d_path() for a struct path: climb dentries to the mount root, cross to
 * the parent mount at its mountpoint, stop at the root mount.  Bounded by
 * VMT_MAX_PATH_DEPTH steps.
 */
static char *task_path(struct vmt_guest *g, const struct task_offsets *o, uint64_t vfsmnt,
		       uint64_t dentry)
{
	char buf[4096];
	size_t pos = sizeof(buf) - 1;

	buf[pos] = '\0';
	for (int depth = 0;; depth++) {
		uint64_t mnt_root = 0, parent;

		if (depth == VMT_MAX_PATH_DEPTH) /* a loop, or deeper than any real path */
			return NULL;
		if (vfsmnt && o->vfsmount_mnt_root != UINT32_MAX)
			kread_ptr(g, vfsmnt, o->vfsmount_mnt_root, &mnt_root);
		if (dentry == mnt_root) {
			uint64_t mount = vfsmnt - o->mount_mnt, pmount;

			if (o->mount_mnt == UINT32_MAX ||
			    kread_ptr(g, mount, o->mount_mnt_parent, &pmount) || pmount == mount ||
			    !vmt_kptr_ok(pmount))
				break;
			if (kread_ptr(g, mount, o->mount_mnt_mountpoint, &dentry))
				return NULL;
			vfsmnt = pmount + o->mount_mnt;
			continue;
		}
		if (kread_ptr(g, dentry, o->dentry_d_parent, &parent) || !vmt_kptr_ok(parent))
			return NULL;
		if (parent == dentry) /* the file system's root dentry */
			break;
		if (path_prepend(g, o, dentry, buf, &pos))
			return NULL;
		dentry = parent;
	}
	if (pos == sizeof(buf) - 1)
		buf[--pos] = '/';
	return strdup(buf + pos);
}

/* fs/dcache.h d_unlinked(): unhashed (d_hash.pprev NULL) and not a root. */
static bool dentry_unlinked(struct vmt_guest *g, const struct task_offsets *o, uint64_t dentry)
{
	uint64_t pprev, parent;

	if (o->dentry_d_hash_pprev == UINT32_MAX ||
	    vmt_kread_u64(g, dentry + o->dentry_d_hash_pprev, &pprev) ||
	    vmt_kread_u64(g, dentry + o->dentry_d_parent, &parent))
		return false;
	return !pprev && parent != dentry;
}

/* d_path(): the path, with " (deleted)" for an unlinked file. */
static char *task_file_path_read(struct vmt_guest *g, const struct task_offsets *o, uint64_t mnt,
				 uint64_t dentry)
{
	static const char deleted[] = " (deleted)";
	char *path = task_path(g, o, mnt, dentry), *p;

	if (!path || !dentry_unlinked(g, o, dentry))
		return path;
	p = realloc(path, strlen(path) + sizeof(deleted));
	if (!p) {
		free(path);
		return NULL;
	}
	return strcat(p, deleted);
}

/*
 * The d_path results of one listing, by (vfsmount, dentry): processes
 * share their executables, libraries, cwd, root and ttys, and a path is a
 * climb of several dentries.  Within a listing the pages under them do not
 * change (the page cache keeps them), so neither can the result; the
 * cache goes with the next vmt_listing_begin().  Open addressing, at most
 * PATH_CACHE_MAX entries (then paths are simply read again).
 */
#define PATH_CACHE_MAX (1u << 16)

struct path_cache {
	size_t cap, n;
	struct path_entry {
		uint64_t mnt, dentry;
		char *path; /* NULL: a free slot */
	} * e;
};

void vmt_path_cache_clear(struct vmt_guest *g, bool free_all)
{
	struct path_cache *c = g->paths;

	if (!c)
		return;
	for (size_t i = 0; i < c->cap && c->n; i++)
		if (c->e[i].path) {
			free(c->e[i].path);
			c->e[i].path = NULL;
			c->n--;
		}
	if (free_all) {
		free(c->e);
		free(c);
		g->paths = NULL;
	}
}

static struct path_entry *path_slot(struct path_cache *c, uint64_t mnt, uint64_t dentry)
{
	size_t i = (size_t)((dentry >> 6) ^ (mnt >> 8)) * 0x9E3779B97F4A7C15ull >> 20;

	for (i &= c->cap - 1;; i = (i + 1) & (c->cap - 1))
		if (!c->e[i].path || (c->e[i].mnt == mnt && c->e[i].dentry == dentry))
			return &c->e[i];
}

/* Room for one more entry (grown at 1/2 full); false: do not cache. */
static bool path_cache_room(struct vmt_guest *g)
{
	struct path_cache *c = g->paths, old;

	if (!c && !(c = g->paths = calloc(1, sizeof(*c))))
		return false;
	if (c->n < c->cap / 2)
		return true;
	if (c->cap >= 2 * PATH_CACHE_MAX)
		return false;
	old = *c;
	c->cap = old.cap ? 2 * old.cap : 256;
	c->e = calloc(c->cap, sizeof(*c->e));
	if (!c->e) {
		*c = old;
		return false;
	}
	for (size_t i = 0; i < old.cap; i++)
		if (old.e[i].path)
			*path_slot(c, old.e[i].mnt, old.e[i].dentry) = old.e[i];
	free(old.e);
	return true;
}

static char *task_file_path(struct vmt_guest *g, const struct task_offsets *o, uint64_t mnt,
			    uint64_t dentry)
{
	struct path_entry *e = NULL;
	char *path;

	if (g->paths && g->paths->n) {
		e = path_slot(g->paths, mnt, dentry);
		if (e->path)
			return strdup(e->path);
	}
	path = task_file_path_read(g, o, mnt, dentry);
	if (!path || !path_cache_room(g))
		return path;
	e = path_slot(g->paths, mnt, dentry);
	if ((e->path = strdup(path))) {
		e->mnt = mnt;
		e->dentry = dentry;
		g->paths->n++;
	}
	return path;
}

/* d_path() of (vfsmount, dentry) for the other walkers (task_files.c).  Caller frees; NULL:
 * unreadable. */
char *vmt_dentry_path(struct vmt_guest *g, uint64_t vfsmnt, uint64_t dentry)
{
	const struct task_offsets *o;

	if (vmt_task_offsets(g, &o))
		return NULL;
	return task_file_path(g, o, vfsmnt, dentry);
}

static void task_read_exe(struct vmt_guest *g, const struct task_offsets *o, struct vmt_task *t,
			  uint64_t mm)
{
	uint64_t file, mnt, dentry;

	if (kread_ptr(g, mm, o->mm_exe_file, &file) || !vmt_kptr_ok(file))
		return;
	if (vmt_kread_u64(g, file + o->file_f_path + o->path_mnt, &mnt) ||
	    vmt_kread_u64(g, file + o->file_f_path + o->path_dentry, &dentry) ||
	    !vmt_kptr_ok(dentry)) {
		t->flags |= VMT_F_PARTIAL;
		return;
	}
	t->exe = task_file_path(g, o, mnt, dentry);
	if (!t->exe)
		t->flags |= VMT_F_PARTIAL;
}

/* __percpu_counter_sum(): each online CPU's s32 delta added to the count. */
static int mm_rss_percpu_add(struct vmt_guest *g, const struct task_offsets *o, const uint8_t *buf,
			     int64_t c[4])
{
	struct sys_cpus *cpus = malloc(sizeof(*cpus));
	uint64_t pc[4], base;
	int32_t v;
	int err;

	if (!cpus)
		return -ENOMEM;
	err = sys_cpus_read(g, cpus);
	for (int i = 0; i < 4; i++)
		memcpy(&pc[i], buf + (size_t)i * o->mm_rss_stride + o->mm_rss_percpu, 8);
	for (uint32_t cpu = 0; !err && cpu < cpus->nr_ids; cpu++) {
		if (!sys_cpu_in(cpus->online, cpu))
			continue;
		err = sys_percpu_base(g, cpu, &base);
		for (int i = 0; !err && i < 4; i++) {
			err = vmt_kread(g, pc[i] + base, &v, sizeof(v));
			c[i] += v;
		}
	}
	free(cpus);
	return err;
}

int vmt_mm_rss_read(struct vmt_guest *g, const struct task_offsets *o, uint64_t mm, int64_t c[4])
{
	uint8_t buf[4 * 256];
	size_t len = (size_t)o->mm_rss_stride * 4;

	if (o->mm_rss_stat == UINT32_MAX || len > sizeof(buf) ||
	    vmt_kread(g, mm + o->mm_rss_stat, buf, len))
		return -EFAULT;
	for (int i = 0; i < 4; i++)
		memcpy(&c[i], buf + (size_t)i * o->mm_rss_stride + o->mm_rss_count, 8);
	if (o->mm_rss_stride != 8 && o->mm_rss_percpu != UINT32_MAX)
		return mm_rss_percpu_add(g, o, buf, c);
	return 0;
}

/* The resident pages: MM_FILEPAGES + MM_ANONPAGES + MM_SHMEMPAGES. */
static void task_read_rss(struct vmt_guest *g, const struct task_offsets *o, struct vmt_task *t,
			  uint64_t mm)
{
	int64_t c[4];
	uint64_t total_vm;

	if (o->mm_total_vm != UINT32_MAX && !vmt_kread_u64(g, mm + o->mm_total_vm, &total_vm))
		t->vsize = total_vm << VMT_PAGE_SHIFT;
	if (vmt_mm_rss_read(g, o, mm, c))
		return;
	for (int i = 0; i < 4; i++)
		if (i != 2 && c[i] > 0)
			t->rss_pages += (uint64_t)c[i];
}

void vmt_task_read_mm(struct vmt_guest *g, const struct task_offsets *o, struct vmt_task *t,
		      unsigned what, size_t *budget)
{
	uint64_t mm, pgd, a[4];

	if (vmt_kread_u64(g, t->kva + o->task_mm, &mm) || !mm)
		return; /* kernel thread or exited (zombie): nothing to read */
	if (!vmt_kptr_ok(mm) || vmt_kread_u64(g, mm + o->mm_pgd, &pgd) ||
	    vmt_kva_to_pa(g, pgd, &t->pgd_pa)) {
		t->flags |= VMT_F_PARTIAL;
		return;
	}
	task_read_rss(g, o, t, mm);
	if (what & VMT_TASK_EXE)
		task_read_exe(g, o, t, mm);
	if (!(what & (VMT_TASK_CMDLINE | VMT_TASK_ENVIRON)))
		return;
	if (vmt_kread_u64(g, mm + o->mm_arg_start, &a[0]) ||
	    vmt_kread_u64(g, mm + o->mm_arg_end, &a[1]) ||
	    vmt_kread_u64(g, mm + o->mm_env_start, &a[2]) ||
	    vmt_kread_u64(g, mm + o->mm_env_end, &a[3])) {
		t->flags |= VMT_F_PARTIAL;
		return;
	}
	if (what & VMT_TASK_CMDLINE) {
		task_read_cmdline(g, t, t->pgd_pa, a, *budget);
		*budget -= VMT_MIN(*budget, t->cmdline_len);
	}
	if (what & VMT_TASK_ENVIRON) {
		task_read_environ(g, t, t->pgd_pa, a, *budget);
		*budget -= VMT_MIN(*budget, t->environ_len);
	}
}

void vmt_task_clear(struct vmt_task *t)
{
	free(t->cmdline);
	free(t->environ);
	free(t->exe);
	t->cmdline = t->environ = t->exe = NULL;
}

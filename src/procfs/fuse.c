// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * fuse.c - the shadow /proc over FUSE (libfuse3 low-level API).
 *
 * Node ids: 1 is the root of the current snapshot; a tree node is
 * (generation << 40 | ino), so an id of a replaced snapshot is recognised
 * (served while a handle keeps that snapshot, else ESTALE) and never
 * lands on another node; the caller's own /proc entries (passthrough,
 * PT_BIT) and /proc/self, /proc/thread-self (SELF_BIT) have ids of their
 * own.  Requests are served by one thread, so the snapshot in use, the
 * retired list and the passthrough table are that thread's alone; only
 * the hand-over of a new snapshot (pending) and the gone flag cross
 * threads, under state_lock.  Lock order: guest_lock, then state_lock.
 *
 * Entries and attributes are cached by the kernel for one second
 * (a refresh shows within that), except what depends on the caller
 * (passthrough, self), which is never cached.  Files are direct I/O with
 * size 0, as /proc's: readers read to EOF.
 */
#define FUSE_USE_VERSION 34
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <fuse_lowlevel.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

#include "core/internal.h"
#include "procfs/fuse.h"

#define GEN_SHIFT   40
#define INO_MASK    ((1ull << GEN_SHIFT) - 1)
#define PT_BIT	    (1ull << 63)
#define SELF_BIT    (1ull << 62)
#define ALIAS_BIT   (1ull << 61) /* reached as /proc/TID: ids apart from task/TID's */
#define STABLE_BIT  (1ull << 60) /* a top directory: one id in every snapshot */
#define STABLE_MAX  64
#define ID_SELF	    (SELF_BIT | 1)
#define ID_TSELF    (SELF_BIT | 2)
#define PT_MAX	    4096
#define PT_FILE_MAX (1u << 20) /* a passthrough file's text, at most */
#define TTL	    1.0
#define SPIN_MS	    0.2	    /* awake after a request, waiting for the next */
#define NEG_TTL	    86400.0 /* a name absent from a snapshot that never changes */

/* A snapshot in service, with the handles that still read it. */
struct snap_ref {
	struct pfs_snapshot *snap;
	unsigned gen;
	unsigned refs;	 /* open files and directories */
	atomic_uint ext; /* pfs_server_snapshot_get() from other threads */
	struct snap_ref *next;
};

/* One entry of the caller's real /proc that the kernel knows by id. */
struct pt_node {
	char *path; /* relative to hostproc, e.g. "1234/task/1234/stat" */
	uint64_t nlookup;
	/* no_open: the file's text as of the last getattr, which reads answer */
	char *buf;
	size_t len;
};

struct pfs_server {
	struct pfs_server_opts o;
	struct fuse_session *se;
	char *mountpoint;
	int fuse_fd;
	bool no_open;	     /* the kernel skips OPEN/RELEASE: reads carry no handle */
	uint64_t pt_version; /* mtime of passthrough files: new text, new pages */
	bool mounted;	     /* by mount(2): umount2 */
	bool lib_mounted;    /* by libfuse (fusermount3): fuse_session_unmount */
	/* loop thread only */
	struct snap_ref *cur, *retired;
	struct pt_node pt[PT_MAX];
	time_t born;
	long host_pid_max;	   /* a larger number is never a caller (read at start) */
	pid_t last_tid, last_tgid; /* the caller of the last lookup (is_caller) */
	pid_t self_pid;		   /* the tool's processes descend from it (vmt exec) */
	/* guards pending, gen */
	pthread_mutex_t state_lock;
	struct pfs_snapshot *pending;
	unsigned gen;
	atomic_bool gone;
	/* serialises every use of the guest */
	pthread_mutex_t guest_lock;
	/* refresh thread */
	pthread_t refresher, looper;
	bool refresher_on, looper_on;
	int wake_fd; /* eventfd: refresh asked (or quit) */
	int stop_fd; /* eventfd: stop serving */
	atomic_bool quit;
};

/* A handle: the snapshot it reads and what (tree node, host fd, or a listing). */
struct handle {
	struct snap_ref *ref;
	const struct pfs_node *node;
	int fd; /* passthrough file, -1 */
	/* directories: entries in readdir order */
	struct dirent_ent {
		char *name;
		uint64_t ino;
		mode_t type;
	} * ents;
	size_t nents;
};

/* ------------------------------------------------------------ snapshots */

/* Free retired snapshots that no handle uses, except the newest (the previous one). */
static void retired_prune(struct pfs_server *s)
{
	struct snap_ref **pp = s->retired ? &s->retired->next : NULL, *r;

	while (pp && *pp) {
		r = *pp;
		if (r->refs || atomic_load(&r->ext)) {
			pp = &r->next;
			continue;
		}
		/* Unlinked under state_lock: pfs_server_snapshot_put() walks the list. */
		pthread_mutex_lock(&s->state_lock);
		if (atomic_load(&r->ext)) {
			pthread_mutex_unlock(&s->state_lock);
			pp = &r->next;
			continue;
		}
		*pp = r->next;
		pthread_mutex_unlock(&s->state_lock);
		pfs_snapshot_free(r->snap);
		free(r);
	}
}

static void ref_release(struct pfs_server *s, struct snap_ref *r)
{
	if (r && !--r->refs && r != s->cur)
		retired_prune(s);
}

/* Swap in a snapshot the refresh thread built, if any (loop thread). */
static void snap_update(struct pfs_server *s)
{
	struct pfs_snapshot *p;
	struct snap_ref *r;

	pthread_mutex_lock(&s->state_lock);
	p = s->pending;
	s->pending = NULL;
	pthread_mutex_unlock(&s->state_lock);
	if (!p)
		return;
	r = calloc(1, sizeof(*r));
	if (!r) {
		pfs_snapshot_free(p);
		return;
	}
	r->snap = p;
	/*
	 * The previous snapshot stays until the next swap even when nothing has
	 * it open: the kernel keeps using its ids for up to TTL, and those must
	 * still find their nodes.  Older ones go once their last handle closes.
	 * cur and retired change under state_lock (other threads read them).
	 */
	pthread_mutex_lock(&s->state_lock);
	r->gen = ++s->gen;
	s->cur->next = s->retired;
	s->retired = s->cur;
	s->cur = r;
	pthread_mutex_unlock(&s->state_lock);
	retired_prune(s);
}

/*
 * The directories right under the root that are not pid directories
 * ("proc" and "module", which vmt exec binds on /proc and /sys/module;
 * "net", "sys", "tty" of a `vmt procfs` mount) keep one id in every
 * snapshot, resolved by name in the newest: the kernel pins a bind mount's
 * root (and a shell's cwd) for good, and after two refreshes the snapshot
 * of its first id is gone (ESTALE on every path under /proc).  By name,
 * the same in every server of this process.
 */
static struct {
	pthread_mutex_t lock;
	unsigned n;
	char *names[STABLE_MAX];
} stable = {.lock = PTHREAD_MUTEX_INITIALIZER};

static bool stable_node(const struct pfs_node *n)
{
	return n->type == PFS_DIR && n->parent && n->parent->ino == 1 &&
	       !(n->name[0] >= '0' && n->name[0] <= '9');
}

/* The stable id of a top directory's name; 0 when the table is full. */
static uint64_t stable_id(const char *name)
{
	uint64_t id = 0;
	unsigned i;

	pthread_mutex_lock(&stable.lock);
	for (i = 0; i < stable.n && strcmp(stable.names[i], name); i++)
		;
	if (i == stable.n && i < STABLE_MAX && (stable.names[i] = strdup(name)))
		stable.n++;
	if (i < stable.n)
		id = STABLE_BIT | (i + 1);
	pthread_mutex_unlock(&stable.lock);
	return id;
}

static struct pfs_node *stable_node_of(struct pfs_server *s, fuse_ino_t id)
{
	unsigned i = (unsigned)(id & ~STABLE_BIT) - 1;
	const char *name = NULL;

	pthread_mutex_lock(&stable.lock);
	if (i < stable.n)
		name = stable.names[i];
	pthread_mutex_unlock(&stable.lock);
	return name ? pfs_child(s->cur->snap->tree->root, name) : NULL;
}

static uint64_t node_id(const struct snap_ref *r, const struct pfs_node *n)
{
	uint64_t id;

	if (n->ino == 1)
		return FUSE_ROOT_ID;
	if (stable_node(n) && (id = stable_id(n->name)))
		return id;
	return (uint64_t)r->gen << GEN_SHIFT | n->ino;
}

/* The tree node of an id, and the snapshot it belongs to; NULL: stale. */
static struct pfs_node *node_of(struct pfs_server *s, fuse_ino_t id, struct snap_ref **rp)
{
	unsigned gen = (unsigned)((id & ~ALIAS_BIT) >> GEN_SHIFT);
	struct snap_ref *r;

	if (id == FUSE_ROOT_ID) {
		*rp = s->cur;
		return s->cur->snap->tree->root;
	}
	if ((id & (STABLE_BIT | PT_BIT | SELF_BIT)) == STABLE_BIT) {
		*rp = s->cur;
		return stable_node_of(s, id);
	}
	for (r = s->cur; r; r = r == s->cur ? s->retired : r->next) {
		if (r->gen == gen) {
			*rp = r;
			return pfs_snapshot_node(r->snap, id & INO_MASK);
		}
	}
	return NULL;
}

/*
 * A directory of a replaced snapshot, looked up in: the same path in the
 * current one (when it still exists), so that names under a directory the
 * kernel keeps (the root bound on /proc by vmt exec, a shell's cwd) show
 * the newest snapshot.  Paths are at most a few components deep.
 */
static void dir_current(struct pfs_server *s, struct pfs_node **dir, struct snap_ref **rp)
{
	const struct pfs_node *chain[16], *n;
	struct pfs_node *d = s->cur->snap->tree->root;
	size_t depth = 0;

	if (*rp == s->cur)
		return;
	for (n = *dir; n && n->parent && depth < 16; n = n->parent)
		chain[depth++] = n;
	if (n && n->parent)
		return; /* deeper than any /proc path: keep the old one */
	while (d && depth)
		d = pfs_child(d, chain[--depth]->name);
	if (d && d->type == PFS_DIR) {
		*dir = d;
		*rp = s->cur;
	}
}

/* ------------------------------------------------------------ the caller */

long pfs_host_status_field(int hostproc, long pid, const char *key)
{
	char path[32], buf[1024], *p;
	ssize_t n;
	int fd;

	if (hostproc < 0 || pid <= 0)
		return -1;
	snprintf(path, sizeof(path), "%ld/status", pid);
	fd = openat(hostproc, path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -1;
	buf[n] = '\0';
	p = strstr(buf, key);
	return p ? strtol(p + strlen(key), NULL, 10) : -1;
}

/* Thread-group id of a host thread, from the host's /proc; -1 if unknown. */
static pid_t host_tgid(struct pfs_server *s, pid_t tid)
{
	return (pid_t)pfs_host_status_field(s->o.hostproc, tid, "\nTgid:");
}

/*
 * Is host pid v one of the tool's processes, i.e. does it descend from the
 * server's own process (`vmt exec`, the tool's parent and subreaper)?  The
 * supervisor lets the tool probe and signal exactly these on the host
 * (sc_host_in_tree): their /proc/PID must answer too, or a prober that
 * compares a probe with a lookup (chkproc: getpriority when chdir fails)
 * counts the tool's own shells as hidden.  Bounded climb.
 */
static bool host_in_tree(struct pfs_server *s, long v)
{
	long p = v;

	if (v == s->self_pid)
		return false;
	for (int depth = 0; depth < 64 && p > 1; depth++) {
		p = (pid_t)pfs_host_status_field(s->o.hostproc, p, "\nPPid:");
		if (p == s->self_pid)
			return true;
	}
	return false;
}

/* Does the host have thread tid in thread group tgid?  One path walk, nothing read. */
static bool host_thread_of(struct pfs_server *s, pid_t tgid, long tid)
{
	char path[48];

	snprintf(path, sizeof(path), "%d/task/%ld", tgid, tid);
	return faccessat(s->o.hostproc, path, F_OK, 0) == 0;
}

/*
 * The thread group of the requesting thread.  A brute-force prober (chkproc
 * looks up every pid up to 4,194,304) asks from one thread millions of
 * times: its group is kept and checked with one path walk, not read again.
 */
static pid_t caller_tgid(struct pfs_server *s, pid_t tid)
{
	if (tid == s->last_tid && s->last_tgid > 0 && host_thread_of(s, s->last_tgid, tid))
		return s->last_tgid;
	s->last_tid = tid;
	s->last_tgid = host_tgid(s, tid);
	return s->last_tgid;
}

/* Is name (a number) the caller or one of its threads? */
static bool is_caller(struct pfs_server *s, fuse_req_t req, const char *name)
{
	const struct fuse_ctx *ctx = fuse_req_ctx(req);
	char *end;
	long v = strtol(name, &end, 10);
	pid_t me;

	if (s->o.hostproc < 0 || *end || v <= 0 || end == name || v > s->host_pid_max)
		return false;
	if (v == ctx->pid)
		return true;
	me = caller_tgid(s, ctx->pid);
	return (me > 0 && (v == me || host_thread_of(s, me, v))) || host_in_tree(s, v);
}

/*
 * Might name be a host pid, i.e. some later caller's own /proc entry?  The
 * host's pid_max bounds them (its default is far below 4,194,304, the most a
 * prober tries).
 */
static bool maybe_caller(const struct pfs_server *s, const char *name)
{
	char *end;
	long v = strtol(name, &end, 10);

	return s->o.hostproc >= 0 && !*end && end != name && v > 0 && v <= s->host_pid_max;
}

/*
 * No such entry.  A snapshot that never changes lets the kernel remember
 * that for good (a negative entry: the same name never costs a round trip
 * again), except for names that a later caller may need answered (its own
 * pid): those are not cached.
 */
static void reply_absent(struct pfs_server *s, fuse_req_t req, const char *name)
{
	struct fuse_entry_param e = {0};

	if (!s->o.one_snapshot || maybe_caller(s, name)) {
		fuse_reply_err(req, ENOENT);
		return;
	}
	e.entry_timeout = NEG_TTL;
	fuse_reply_entry(req, &e); /* ino 0: a negative entry */
}

static void pt_drop(struct pt_node *pt)
{
	free(pt->path);
	free(pt->buf);
	*pt = (struct pt_node){0};
}

static struct pt_node *pt_of(struct pfs_server *s, fuse_ino_t id)
{
	uint64_t i = id & ~PT_BIT;

	return (id & PT_BIT) && i < PT_MAX && s->pt[i].path ? &s->pt[i] : NULL;
}

/* The id of a passthrough path (an entry already known is shared); 0 if the table is full. */
static fuse_ino_t pt_get(struct pfs_server *s, const char *path)
{
	size_t free_slot = PT_MAX;

	for (size_t i = 0; i < PT_MAX; i++) {
		if (s->pt[i].path && !strcmp(s->pt[i].path, path)) {
			s->pt[i].nlookup++;
			return PT_BIT | i;
		}
		if (!s->pt[i].path && free_slot == PT_MAX)
			free_slot = i;
	}
	if (free_slot == PT_MAX || !(s->pt[free_slot].path = strdup(path)))
		return 0;
	s->pt[free_slot].nlookup = 1;
	return PT_BIT | free_slot;
}

/* A passthrough file's whole text now (its size is the st_size served). */
static int pt_capture(struct pfs_server *s, struct pt_node *pt)
{
	size_t cap = 4096, len = 0;
	char *buf = NULL, *p;
	ssize_t n = 1;
	int fd = openat(s->o.hostproc, pt->path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return -errno;
	while (n > 0 && len < PT_FILE_MAX) {
		if (!(p = realloc(buf, cap))) {
			n = -1;
			errno = ENOMEM;
			break;
		}
		buf = p;
		while (len < cap && (n = read(fd, buf + len, cap - len)) > 0)
			len += (size_t)n;
		cap *= 2;
	}
	close(fd);
	if (n < 0) {
		free(buf);
		return -errno;
	}
	free(pt->buf);
	pt->buf = buf;
	pt->len = len;
	return 0;
}

static int pt_stat(struct pfs_server *s, fuse_ino_t id, struct pt_node *pt, struct stat *st)
{
	int err;

	if (fstatat(s->o.hostproc, pt->path, st, AT_SYMLINK_NOFOLLOW))
		return -errno;
	st->st_ino = id;
	if (s->no_open && S_ISREG(st->st_mode)) {
		/* Cached reads stop at st_size: serve the text as read now, as a new version. */
		err = pt_capture(s, pt);
		if (err)
			return err;
		st->st_size = (off_t)pt->len;
		st->st_mtim.tv_sec = s->born;
		st->st_mtim.tv_nsec = (long)(++s->pt_version % 1000000000);
	}
	return 0;
}

static void pt_lookup(struct pfs_server *s, fuse_req_t req, const char *path)
{
	struct fuse_entry_param e = {0};
	int err;

	e.ino = pt_get(s, path);
	if (!e.ino) {
		fuse_reply_err(req, ENFILE);
		return;
	}
	err = pt_stat(s, e.ino, &s->pt[e.ino & ~PT_BIT], &e.attr);
	if (err) {
		s->pt[e.ino & ~PT_BIT].nlookup--; /* forgotten below when it reaches 0 */
		if (!s->pt[e.ino & ~PT_BIT].nlookup)
			pt_drop(&s->pt[e.ino & ~PT_BIT]);
		fuse_reply_err(req, -err);
		return;
	}
	fuse_reply_entry(req, &e); /* timeouts 0: another caller must ask again */
}

/* ------------------------------------------------------------ attributes */

static void node_stat(struct pfs_server *s, const struct snap_ref *r, const struct pfs_node *n,
		      struct stat *st)
{
	memset(st, 0, sizeof(*st));
	st->st_ino = node_id(r, n);
	st->st_uid = n->uid;
	st->st_gid = n->gid;
	st->st_nlink = 1;
	st->st_atime = st->st_mtime = st->st_ctime = s->born;
	switch (n->type) {
	case PFS_DIR:
		st->st_mode = S_IFDIR | n->mode;
		st->st_nlink = 2;
		for (size_t i = 0; i < n->nkids; i++)
			st->st_nlink += n->kids[i]->type == PFS_DIR;
		break;
	case PFS_LINK:
		st->st_mode = S_IFLNK | n->mode;
		st->st_size = (off_t)n->len;
		break;
	default:
		st->st_mode = S_IFREG | n->mode;
		st->st_size = s->no_open ? (off_t)n->len : 0; /* cached reads stop there */
		break;
	}
	if (n->fmt_set) /* an fd link's target: the guest object's type and inode */
		st->st_mode = n->fmt | n->mode;
}

/* The st_ino of node n reached by id: its own id, or the guest object's inode. */
static fuse_ino_t node_st_ino(const struct pfs_node *n, fuse_ino_t id)
{
	return n->fmt_set ? n->st_ino : id;
}

static void self_stat(const struct pfs_server *s, fuse_ino_t id, struct stat *st)
{
	memset(st, 0, sizeof(*st));
	st->st_atime = st->st_mtime = st->st_ctime = s->born;
	st->st_ino = id;
	st->st_mode = S_IFLNK | 0777;
	st->st_nlink = 1;
}

/* Common gate of every request: the newest snapshot, and EIO once the guest is gone. */
static struct pfs_server *gate(fuse_req_t req)
{
	struct pfs_server *s = fuse_req_userdata(req);

	snap_update(s);
	if (atomic_load(&s->gone)) {
		fuse_reply_err(req, EIO);
		return NULL;
	}
	return s;
}

static int lazy_fill(struct pfs_server *s, struct snap_ref *r, struct pfs_node *dir)
{
	int err;

	if (!r->snap->nlazy)
		return 0;
	pthread_mutex_lock(&s->guest_lock);
	err = pfs_snapshot_fill(r->snap, dir);
	pthread_mutex_unlock(&s->guest_lock);
	return err;
}

/* ------------------------------------------------------------ operations */

/* /proc/self, /proc/thread-self and the caller's own pid: answered here (true) or not. */
static bool lookup_caller(struct pfs_server *s, fuse_req_t req, const char *name)
{
	struct fuse_entry_param e = {0};

	if (!strcmp(name, "self") || !strcmp(name, "thread-self")) {
		e.ino = name[0] == 's' ? ID_SELF : ID_TSELF;
		self_stat(s, e.ino, &e.attr);
		e.entry_timeout = e.attr_timeout = TTL;
		fuse_reply_entry(req, &e);
		return true;
	}
	if (name[0] == '.' && is_caller(s, req, name + 1)) { /* as listed (caller_listed) */
		pt_lookup(s, req, name + 1);
		return true;
	}
	if (!is_caller(s, req, name))
		return false;
	pt_lookup(s, req, name);
	return true;
}

static void op_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct pfs_server *s = gate(req);
	struct fuse_entry_param e = {0};
	struct pfs_node *dir, *n;
	struct snap_ref *r;
	struct pt_node *pt;
	char path[PATH_MAX];
	bool alias;

	if (!s)
		return;
	if ((pt = pt_of(s, parent))) {
		snprintf(path, sizeof(path), "%s/%s", pt->path, name);
		pt_lookup(s, req, path);
		return;
	}
	dir = node_of(s, parent, &r);
	if (!dir || dir->type != PFS_DIR) {
		fuse_reply_err(req, dir ? ENOTDIR : ESTALE);
		return;
	}
	dir_current(s, &dir, &r);
	if (lazy_fill(s, r, dir)) {
		fuse_reply_err(req, EIO);
		return;
	}
	alias = parent & ALIAS_BIT;
	if (dir == r->snap->procdir) /* a thread: one directory by two paths, two ids */
		n = pfs_snapshot_lookup(r->snap, name, &alias);
	else
		n = pfs_child(dir, name);
	if (!n && dir == r->snap->procdir && lookup_caller(s, req, name))
		return;
	if (!n) {
		reply_absent(s, req, name);
		return;
	}
	e.ino = node_id(r, n) | (alias && n->ino != 1 ? ALIAS_BIT : 0);
	node_stat(s, r, n, &e.attr);
	e.attr.st_ino = node_st_ino(n, e.ino);
	e.entry_timeout = e.attr_timeout = TTL;
	fuse_reply_entry(req, &e);
}

static void op_forget_one(struct pfs_server *s, fuse_ino_t id, uint64_t nlookup)
{
	struct pt_node *pt = pt_of(s, id);

	if (!pt)
		return; /* tree nodes live as long as their snapshot */
	pt->nlookup = nlookup >= pt->nlookup ? 0 : pt->nlookup - nlookup;
	if (!pt->nlookup)
		pt_drop(pt);
}

static void op_forget(fuse_req_t req, fuse_ino_t id, uint64_t nlookup)
{
	op_forget_one(fuse_req_userdata(req), id, nlookup);
	fuse_reply_none(req);
}

static void op_forget_multi(fuse_req_t req, size_t count, struct fuse_forget_data *f)
{
	for (size_t i = 0; i < count; i++)
		op_forget_one(fuse_req_userdata(req), f[i].ino, f[i].nlookup);
	fuse_reply_none(req);
}

static void op_getattr(fuse_req_t req, fuse_ino_t id, struct fuse_file_info *fi)
{
	struct pfs_server *s = fuse_req_userdata(req);
	struct pfs_node *n;
	struct snap_ref *r;
	struct pt_node *pt;
	struct stat st;
	int err;

	snap_update(s);
	if (id != FUSE_ROOT_ID && atomic_load(&s->gone)) {
		fuse_reply_err(req, EIO);
		return;
	}
	if (id & SELF_BIT) {
		self_stat(s, id, &st);
		fuse_reply_attr(req, &st, TTL);
		return;
	}
	if ((pt = pt_of(s, id))) {
		err = pt_stat(s, id, pt, &st);
		if (err)
			fuse_reply_err(req, -err);
		else
			fuse_reply_attr(req, &st, 0);
		return;
	}
	n = node_of(s, id, &r);
	if (!n) {
		fuse_reply_err(req, ESTALE);
		return;
	}
	node_stat(s, r, n, &st);
	st.st_ino = node_st_ino(n, id);
	fuse_reply_attr(req, &st, TTL);
}

static void op_readlink(fuse_req_t req, fuse_ino_t id)
{
	struct pfs_server *s = gate(req);
	const struct fuse_ctx *ctx;
	char buf[PATH_MAX];
	struct pfs_node *n;
	struct snap_ref *r;
	struct pt_node *pt;
	ssize_t len;
	pid_t tgid;

	if (!s)
		return;
	if (id == ID_SELF || id == ID_TSELF) {
		ctx = fuse_req_ctx(req);
		tgid = s->o.hostproc >= 0 ? host_tgid(s, ctx->pid) : -1;
		if (tgid <= 0)
			tgid = ctx->pid;
		if (id == ID_SELF)
			snprintf(buf, sizeof(buf), "%d", tgid);
		else
			snprintf(buf, sizeof(buf), "%d/task/%d", tgid, ctx->pid);
		fuse_reply_readlink(req, buf);
		return;
	}
	if ((pt = pt_of(s, id))) {
		len = readlinkat(s->o.hostproc, pt->path, buf, sizeof(buf) - 1);
		if (len < 0) {
			fuse_reply_err(req, errno);
			return;
		}
		buf[len] = '\0';
		fuse_reply_readlink(req, buf);
		return;
	}
	n = node_of(s, id, &r);
	if (!n || n->type != PFS_LINK)
		fuse_reply_err(req, n ? EINVAL : ESTALE);
	else
		fuse_reply_readlink(req, n->data);
}

static struct handle *handle_new(struct snap_ref *r, const struct pfs_node *n)
{
	struct handle *h = calloc(1, sizeof(*h));

	if (!h)
		return NULL;
	h->ref = r;
	h->node = n;
	h->fd = -1;
	if (r)
		r->refs++;
	return h;
}

static void handle_free(struct pfs_server *s, struct handle *h)
{
	if (!h)
		return;
	if (h->fd >= 0)
		close(h->fd);
	for (size_t i = 0; i < h->nents; i++)
		free(h->ents[i].name);
	free(h->ents);
	ref_release(s, h->ref);
	free(h);
}

static void op_open(fuse_req_t req, fuse_ino_t id, struct fuse_file_info *fi)
{
	struct pfs_server *s = gate(req);
	struct pfs_node *n;
	struct snap_ref *r = NULL;
	struct pt_node *pt;
	struct handle *h;

	if (!s)
		return;
	if ((fi->flags & O_ACCMODE) != O_RDONLY) {
		fuse_reply_err(req, EACCES);
		return;
	}
	if (s->no_open) {
		/* From now on the kernel opens without asking: one round trip less a file. */
		fuse_reply_err(req, ENOSYS);
		return;
	}
	pt = pt_of(s, id);
	n = pt ? NULL : node_of(s, id, &r);
	if (!pt && (!n || n->type != PFS_FILE)) {
		fuse_reply_err(req, n ? EISDIR : ESTALE);
		return;
	}
	h = handle_new(r, n);
	if (!h) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	if (pt && (h->fd = openat(s->o.hostproc, pt->path, O_RDONLY | O_CLOEXEC)) < 0) {
		fuse_reply_err(req, errno);
		handle_free(s, h);
		return;
	}
	fi->fh = (uintptr_t)h;
	fi->direct_io = 1;
	fi->keep_cache = 0;
	fuse_reply_open(req, fi);
}

/* Answer a read of [off, off + size) from text of len bytes. */
static void reply_slice(fuse_req_t req, const char *text, size_t len, size_t size, off_t off)
{
	if (off < 0 || (size_t)off >= len) {
		fuse_reply_buf(req, NULL, 0);
		return;
	}
	fuse_reply_buf(req, text + off, VMT_MIN(size, len - (size_t)off));
}

static void read_fd(fuse_req_t req, int fd, size_t size, off_t off)
{
	char *buf = malloc(size ? size : 1);
	ssize_t n;

	if (!buf) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	n = pread(fd, buf, size, off);
	if (n < 0)
		fuse_reply_err(req, errno);
	else
		fuse_reply_buf(req, buf, (size_t)n);
	free(buf);
}

/*
 * With no_open there is no handle: the id names the node (a snapshot's
 * text never changes under one id), or the passthrough file whose text the
 * last getattr captured (the kernel refreshes attributes before such reads).
 */
static void read_by_id(fuse_req_t req, struct pfs_server *s, fuse_ino_t id, size_t size, off_t off)
{
	struct pt_node *pt = pt_of(s, id);
	struct pfs_node *n;
	struct snap_ref *r;

	if (pt && !pt->buf && pt_capture(s, pt)) {
		fuse_reply_err(req, EIO);
		return;
	}
	if (pt) {
		reply_slice(req, pt->buf, pt->len, size, off);
		return;
	}
	n = node_of(s, id, &r);
	if (!n || n->type != PFS_FILE)
		fuse_reply_err(req, n ? EISDIR : ESTALE);
	else
		reply_slice(req, n->data, n->len, size, off);
}

static void op_read(fuse_req_t req, fuse_ino_t id, size_t size, off_t off,
		    struct fuse_file_info *fi)
{
	struct pfs_server *s = fuse_req_userdata(req);
	struct handle *h = (struct handle *)(uintptr_t)fi->fh;

	snap_update(s);
	if (atomic_load(&s->gone))
		fuse_reply_err(req, EIO);
	else if (!h)
		read_by_id(req, s, id, size, off);
	else if (h->fd >= 0)
		read_fd(req, h->fd, size, off);
	else
		reply_slice(req, h->node->data, h->node->len, size, off);
}

static void op_release(fuse_req_t req, fuse_ino_t id, struct fuse_file_info *fi)
{
	handle_free(fuse_req_userdata(req), (struct handle *)(uintptr_t)fi->fh);
	fuse_reply_err(req, 0);
}

/* ------------------------------------------------------------ directories */

static int ent_add(struct handle *h, const char *name, uint64_t ino, mode_t type)
{
	struct dirent_ent *e = realloc(h->ents, (h->nents + 1) * sizeof(*e));

	if (!e)
		return -ENOMEM;
	h->ents = e;
	e[h->nents].name = strdup(name);
	if (!e[h->nents].name)
		return -ENOMEM;
	e[h->nents].ino = ino;
	e[h->nents++].type = type;
	return 0;
}

static bool is_number(const char *s)
{
	if (!*s)
		return false;
	for (; *s; s++)
		if (*s < '0' || *s > '9')
			return false;
	return true;
}

static mode_t node_dtype(const struct pfs_node *n)
{
	return n->type == PFS_DIR ? S_IFDIR : n->type == PFS_LINK ? S_IFLNK : S_IFREG;
}

/*
 * Linux's order: named entries, then pids ascending.  Children are sorted
 * by strcmp, so numbers come out in numeric order when taken by length.
 */
static int tree_listing(struct pfs_server *s, struct handle *h, const struct pfs_node *d)
{
	int err = ent_add(h, ".", node_id(h->ref, d), S_IFDIR);
	size_t maxlen = 0;

	if (!err)
		err = ent_add(h, "..", d->parent ? node_id(h->ref, d->parent) : FUSE_ROOT_ID,
			      S_IFDIR);
	for (size_t i = 0; i < d->nkids && !err; i++) {
		if (d->kids[i]->hidden)
			continue; /* looked up, never listed */
		if (is_number(d->kids[i]->name))
			maxlen = VMT_MAX(maxlen, strlen(d->kids[i]->name));
		else
			err = ent_add(h, d->kids[i]->name, node_id(h->ref, d->kids[i]),
				      node_dtype(d->kids[i]));
	}
	if (!err && d == h->ref->snap->procdir) {
		err = ent_add(h, "self", ID_SELF, S_IFLNK);
		if (!err)
			err = ent_add(h, "thread-self", ID_TSELF, S_IFLNK);
	}
	for (size_t len = 1; len <= maxlen && !err; len++)
		for (size_t i = 0; i < d->nkids && !err; i++)
			if (strlen(d->kids[i]->name) == len && is_number(d->kids[i]->name) &&
			    !d->kids[i]->hidden)
				err = ent_add(h, d->kids[i]->name, node_id(h->ref, d->kids[i]),
					      S_IFDIR);
	return err;
}

static int pt_listing(struct pfs_server *s, struct handle *h, const char *path)
{
	int fd = openat(s->o.hostproc, path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	struct dirent *de;
	DIR *dir;
	int err = 0;

	if (fd < 0)
		return -errno;
	dir = fdopendir(fd);
	if (!dir) {
		close(fd);
		return -errno;
	}
	while (!err && (de = readdir(dir)))
		err = ent_add(h, de->d_name, de->d_ino, (mode_t)DTTOIF(de->d_type));
	closedir(dir);
	return err;
}

/* ".PID" for the listing of /proc, unless the guest has that pid (the guest's wins). */
static int dot_add(struct handle *h, long pid)
{
	char name[24];

	snprintf(name, sizeof(name), "%ld", pid);
	if (pfs_child(h->ref->snap->procdir, name))
		return 0;
	snprintf(name, sizeof(name), ".%ld", pid);
	return ent_add(h, name, PT_BIT, S_IFDIR);
}

/*
 * The tool's own processes (the caller, and every process of the tool's
 * tree: host_in_tree) answer a lookup of /proc/PID but are not listed:
 * they are no guest processes.  A prober that compares lookups with the
 * listing (chkproc chdirs into /proc/N for every N) would count them as
 * hidden.  chkproc knows names "." + PID in a listing as threads (old NPTL
 * kernels listed them so) and skips those pids, and every other reader
 * skips names that do not start with a digit: the tool's processes are
 * listed that way.  Bounded: PT_MAX of them.
 */
static int caller_listed(struct pfs_server *s, fuse_req_t req, struct handle *h)
{
	pid_t me = s->o.hostproc >= 0 ? caller_tgid(s, fuse_req_ctx(req)->pid) : -1;
	int fd, err = 0, n = 0;
	struct dirent *de;
	DIR *dir;

	if (me <= 0)
		return 0;
	err = dot_add(h, me);
	fd = openat(s->o.hostproc, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	dir = fd < 0 ? NULL : fdopendir(fd);
	if (!dir) {
		if (fd >= 0)
			close(fd);
		return err;
	}
	while (!err && n < PT_MAX && (de = readdir(dir))) {
		long pid = is_number(de->d_name) ? strtol(de->d_name, NULL, 10) : 0;

		if (pid > 0 && pid != me && host_in_tree(s, pid)) {
			err = dot_add(h, pid);
			n++;
		}
	}
	closedir(dir);
	return err;
}

static void op_opendir(fuse_req_t req, fuse_ino_t id, struct fuse_file_info *fi)
{
	struct pfs_server *s = gate(req);
	struct pfs_node *n = NULL;
	struct snap_ref *r = NULL;
	struct pt_node *pt;
	struct handle *h;
	int err;

	if (!s)
		return;
	pt = pt_of(s, id);
	if (!pt && (!(n = node_of(s, id, &r)) || n->type != PFS_DIR)) {
		fuse_reply_err(req, n ? ENOTDIR : ESTALE);
		return;
	}
	if (n)
		dir_current(s, &n, &r); /* a listing shows the newest snapshot */
	if (n && lazy_fill(s, r, n)) {
		fuse_reply_err(req, EIO);
		return;
	}
	h = handle_new(r, n);
	if (!h) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	err = pt ? pt_listing(s, h, pt->path) : tree_listing(s, h, n);
	if (!err && n && n == r->snap->procdir) /* pt: a host directory, no snapshot */
		err = caller_listed(s, req, h);
	if (err) {
		handle_free(s, h);
		fuse_reply_err(req, -err);
		return;
	}
	fi->fh = (uintptr_t)h;
	fuse_reply_open(req, fi);
}

static void op_readdir(fuse_req_t req, fuse_ino_t id, size_t size, off_t off,
		       struct fuse_file_info *fi)
{
	struct handle *h = (struct handle *)(uintptr_t)fi->fh;
	char *buf = malloc(size ? size : 1);
	size_t used = 0;

	if (!buf) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	for (size_t i = off < 0 ? 0 : (size_t)off; i < h->nents; i++) {
		struct stat st = {.st_ino = h->ents[i].ino, .st_mode = h->ents[i].type};
		size_t len = fuse_add_direntry(req, buf + used, size - used, h->ents[i].name, &st,
					       (off_t)(i + 1));

		if (len > size - used)
			break;
		used += len;
	}
	fuse_reply_buf(req, buf, used);
	free(buf);
}

static void op_releasedir(fuse_req_t req, fuse_ino_t id, struct fuse_file_info *fi)
{
	handle_free(fuse_req_userdata(req), (struct handle *)(uintptr_t)fi->fh);
	fuse_reply_err(req, 0);
}

static void op_statfs(fuse_req_t req, fuse_ino_t id)
{
	struct statvfs sv = {.f_bsize = 4096, .f_frsize = 4096, .f_namemax = 255};

	fuse_reply_statfs(req, &sv);
}

/*
 * One snapshot for the mount's life (vmt exec): kernels since 4.19 skip
 * OPEN and RELEASE once an open answers ENOSYS; reads then go through the
 * page cache, so files report their true size and a changed passthrough
 * text a new mtime (auto_inval_data drops the old pages).  A server that
 * refreshes keeps handles and direct I/O, as /proc does: an open file must
 * keep reading the snapshot it opened, which only a handle can pin.
 */
static void op_init(void *userdata, struct fuse_conn_info *conn)
{
	struct pfs_server *s = userdata;

	if (s->o.one_snapshot && (conn->capable & FUSE_CAP_NO_OPEN_SUPPORT) &&
	    (conn->capable & FUSE_CAP_AUTO_INVAL_DATA) && !getenv("VMT_PROCFS_DIRECT_IO")) {
		conn->want |= FUSE_CAP_AUTO_INVAL_DATA;
		s->no_open = true;
	}
}

static const struct fuse_lowlevel_ops pfs_ops = {
    .init = op_init,
    .lookup = op_lookup,
    .forget = op_forget,
    .forget_multi = op_forget_multi,
    .getattr = op_getattr,
    .readlink = op_readlink,
    .open = op_open,
    .read = op_read,
    .release = op_release,
    .opendir = op_opendir,
    .readdir = op_readdir,
    .releasedir = op_releasedir,
    .statfs = op_statfs,
};

/* ------------------------------------------------------------ refresh */

static void refresh_once(struct pfs_server *s)
{
	struct pfs_snapshot *snap = NULL;
	int err;

	pthread_mutex_lock(&s->guest_lock);
	err = s->o.rebuild(s->o.arg, &snap);
	pthread_mutex_unlock(&s->guest_lock);
	if (err == -ENODEV) {
		atomic_store(&s->gone, true);
		return;
	}
	if (err) {
		pr_warn("procfs: refresh failed (%s); still serving the previous snapshot",
			strerror(-err));
		return;
	}
	pthread_mutex_lock(&s->state_lock);
	pfs_snapshot_free(s->pending);
	s->pending = snap;
	pthread_mutex_unlock(&s->state_lock);
}

static double mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* Rebuild on request or every refresh_ms; check the guest about once a second. */
static void *refresher_main(void *arg)
{
	struct pfs_server *s = arg;
	double next = s->o.refresh_ms > 0 ? mono_ms() + s->o.refresh_ms : 0;
	struct pollfd p = {.fd = s->wake_fd, .events = POLLIN};
	sigset_t all;
	uint64_t v;

	/* Signals are the main thread's: a rebuild's socket reads never see EINTR. */
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, NULL);
	while (!atomic_load(&s->quit)) {
		int wait = 1000, r;

		if (next && next - mono_ms() < wait)
			wait = VMT_MAX(0, (int)(next - mono_ms()));
		r = poll(&p, 1, wait);
		if (atomic_load(&s->quit))
			break;
		if (r > 0 && read(s->wake_fd, &v, sizeof(v)) < 0)
			continue;
		if (s->o.check && !atomic_load(&s->gone) && s->o.check(s->o.arg) == -ENODEV)
			atomic_store(&s->gone, true);
		if (atomic_load(&s->gone) || !s->o.rebuild)
			continue;
		if (r > 0 || (next && mono_ms() >= next)) {
			refresh_once(s);
			if (next)
				next = mono_ms() + s->o.refresh_ms;
		}
	}
	return NULL;
}

void pfs_server_refresh(struct pfs_server *s)
{
	uint64_t one = 1;

	if (s && write(s->wake_fd, &one, sizeof(one)) < 0)
		return; /* an eventfd only fails when full: a refresh is asked already */
}

/* ------------------------------------------------------------ mount */

/* Not root: libfuse mounts through the setuid fusermount3 (and unmounts through it). */
static int server_mount_unprivileged(struct pfs_server *s)
{
	close(s->fuse_fd);
	s->fuse_fd = -1;
	if (fuse_session_mount(s->se, s->mountpoint)) {
		pr_err("procfs: cannot mount FUSE at %s (fusermount3 failed)", s->mountpoint);
		return -EPERM;
	}
	s->lib_mounted = true;
	return 0;
}

/* Mount ourselves (not fusermount): errors we can name, and the device path given. */
static int server_mount(struct pfs_server *s)
{
	const char *dev = s->o.fuse_dev ? s->o.fuse_dev : "/dev/fuse";
	char data[256], fdpath[32];
	struct stat st, up;
	char parent[PATH_MAX];

	if (stat(s->mountpoint, &st))
		return -errno;
	if (!S_ISDIR(st.st_mode)) {
		pr_err("procfs: mount point %s: %s", s->mountpoint, strerror(ENOTDIR));
		return -ENOTDIR;
	}
	snprintf(parent, sizeof(parent), "%s/..", s->mountpoint);
	if (!stat(parent, &up) && up.st_dev != st.st_dev && strcmp(s->mountpoint, "/proc") &&
	    strcmp(s->mountpoint, "/sys/module")) {
		pr_err("procfs: %s is in use: something is mounted there already", s->mountpoint);
		return -EBUSY;
	}
	s->fuse_fd = open(dev, O_RDWR | O_CLOEXEC);
	if (s->fuse_fd < 0) {
		int e = errno;

		pr_err("procfs: FUSE is not available (%s: %s): load the fuse module "
		       "(modprobe fuse) or install fuse3",
		       dev, strerror(e));
		return e == ENOENT || e == ENXIO ? -ENODEV : -e;
	}
	snprintf(data, sizeof(data),
		 "fd=%d,rootmode=40000,user_id=%u,group_id=%u,default_permissions%s", s->fuse_fd,
		 (unsigned)getuid(), (unsigned)getgid(), s->o.allow_other ? ",allow_other" : "");
	if (mount("vmt-procfs", s->mountpoint, "fuse.vmt-procfs", MS_NOSUID | MS_NODEV | MS_RDONLY,
		  data)) {
		int e = errno;

		if (e == EPERM && geteuid() != 0)
			return server_mount_unprivileged(s);

		pr_err("procfs: cannot mount FUSE at %s: %s%s", s->mountpoint, strerror(e),
		       e == ENODEV || e == EINVAL
			   ? " (FUSE not available: is the fuse module loaded and "
			     "/dev/fuse its device?)"
			   : "");
		return e == EINVAL ? -ENODEV : -e;
	}
	s->mounted = true;
	snprintf(fdpath, sizeof(fdpath), "/dev/fd/%d", s->fuse_fd);
	if (fuse_session_mount(s->se, fdpath))
		return -EIO;
	return 0;
}

/* The host's kernel.pid_max (PID_MAX_LIMIT when it cannot be read). */
static long host_pid_max(int hostproc)
{
	char buf[32] = "";
	long v = 0;
	int fd = hostproc < 0 ? -1 : openat(hostproc, "sys/kernel/pid_max", O_RDONLY | O_CLOEXEC);

	if (fd >= 0) {
		if (read(fd, buf, sizeof(buf) - 1) > 0)
			v = strtol(buf, NULL, 10);
		close(fd);
	}
	return v > 0 ? v : 4194304;
}

static int server_init(struct pfs_server *s, const struct pfs_server_opts *o,
		       struct pfs_snapshot *snap)
{
	char *argv[] = {"vmt-procfs", NULL};
	struct fuse_args args = FUSE_ARGS_INIT(1, argv);

	s->o.cpu = -1; /* an older caller's struct ends before it */
	memcpy(&s->o, o, VMT_MIN(o->sz, sizeof(s->o)));
	s->fuse_fd = -1;
	s->wake_fd = -1;
	s->stop_fd = -1;
	s->born = time(NULL);
	s->host_pid_max = host_pid_max(o->hostproc);
	s->self_pid = getpid();
	pthread_mutex_init(&s->state_lock, NULL);
	pthread_mutex_init(&s->guest_lock, NULL);
	s->cur = calloc(1, sizeof(*s->cur));
	if (!s->cur)
		return -ENOMEM;
	s->cur->snap = snap;
	s->cur->gen = s->gen = 1;
	s->mountpoint = realpath(o->mountpoint, NULL);
	if (!s->mountpoint) {
		pr_err("procfs: mount point %s: %s", o->mountpoint, strerror(errno));
		return -errno;
	}
	s->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	s->stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (s->wake_fd < 0 || s->stop_fd < 0)
		return -errno;
	s->se = fuse_session_new(&args, &pfs_ops, sizeof(pfs_ops), s);
	if (!s->se)
		return -ENOMEM;
	return server_mount(s);
}

struct pfs_server *pfs_server_new(const struct pfs_server_opts *o, struct pfs_snapshot *snap)
{
	struct pfs_server *s = calloc(1, sizeof(*s));
	int err;

	if (!s) {
		pfs_snapshot_free(snap);
		errno = ENOMEM;
		return NULL;
	}
	err = server_init(s, o, snap);
	if (!s->cur)
		pfs_snapshot_free(snap);
	if (!err && pthread_create(&s->refresher, NULL, refresher_main, s) == 0)
		s->refresher_on = true;
	else if (!err)
		err = -EAGAIN;
	if (err) {
		pfs_server_free(s);
		errno = -err;
		return NULL;
	}
	return s;
}

/* ------------------------------------------------------------ run, stop */

/*
 * Our own loop (not fuse_session_loop): it also waits on stop_fd, so a
 * stop never depends on the kernel ending a read of /dev/fuse, which it
 * does not while a process still holds a file of a detached mount.
 */
static int serve(struct pfs_server *s)
{
	struct pollfd p[2] = {{.fd = fuse_session_fd(s->se), .events = POLLIN},
			      {.fd = s->stop_fd, .events = POLLIN}};
	struct fuse_buf buf = {0};
	int err = 0, r;

	double busy_until = 0, spin = s->o.cpu >= 0 ? 0 : SPIN_MS;

	while (!fuse_session_exited(s->se)) {
		/*
		 * A tool sends its requests back to back: wait for the next one
		 * awake for a moment before sleeping, because waking a sleeping
		 * thread here (a virtual machine's idle vCPU) costs about 0.1 ms,
		 * more than the request itself (1,000-process ps aux: 1.2 s -> see
		 * bench/results/procfs.md).
		 */
		r = poll(p, 2, mono_ms() < busy_until ? 0 : -1);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			err = -errno;
			break;
		}
		if (r == 0)
			continue;
		busy_until = mono_ms() + spin;
		if (p[1].revents)
			break;
		r = fuse_session_receive_buf(s->se, &buf);
		if (r == -EINTR || r == -EAGAIN || r == 0)
			continue;
		if (r < 0) {
			err = r == -ENODEV ? 0 : r; /* unmounted */
			break;
		}
		fuse_session_process_buf(s->se, &buf);
	}
	free(buf.mem);
	return err;
}

static int signal_stop_fd = -1;

static void on_signal(int sig)
{
	uint64_t one = 1;

	(void)sig;
	if (signal_stop_fd >= 0 && write(signal_stop_fd, &one, sizeof(one)) < 0)
		return;
}

void pfs_thread_pin(int cpu, const char *who)
{
	cpu_set_t one;

	if (cpu < 0)
		return;
	CPU_ZERO(&one);
	CPU_SET(cpu, &one);
	if (pthread_setaffinity_np(pthread_self(), sizeof(one), &one))
		pr_warn("%s: cannot run on CPU %d", who, cpu);
}

static void *looper_main(void *arg)
{
	struct pfs_server *s = arg;
	sigset_t all;

	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, NULL);
	pfs_thread_pin(s->o.cpu, "procfs");
	serve(s);
	return NULL;
}

int pfs_server_run(struct pfs_server *s)
{
	struct sigaction sa = {.sa_handler = on_signal}, old_int, old_term;
	int err;

	signal_stop_fd = s->stop_fd;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, &old_int);
	sigaction(SIGTERM, &sa, &old_term);
	err = serve(s);
	signal_stop_fd = -1;
	sigaction(SIGINT, &old_int, NULL);
	sigaction(SIGTERM, &old_term, NULL);
	pfs_server_stop(s);
	return err;
}

int pfs_server_start(struct pfs_server *s)
{
	int err = pthread_create(&s->looper, NULL, looper_main, s);

	if (err)
		return -err;
	s->looper_on = true;
	return 0;
}

void pfs_server_stop(struct pfs_server *s)
{
	uint64_t one = 1;

	if (!s)
		return;
	if (s->looper_on) {
		if (write(s->stop_fd, &one, sizeof(one)) < 0)
			pr_warn("procfs: stop: %s", strerror(errno));
		pthread_join(s->looper, NULL);
		s->looper_on = false;
	}
	/* Detached: works while files are open; the connection ends with the last of them. */
	if (s->mounted && umount2(s->mountpoint, MNT_DETACH) && errno != EINVAL)
		pr_warn("procfs: unmount %s: %s", s->mountpoint, strerror(errno));
	s->mounted = false;
	if (s->lib_mounted)
		fuse_session_unmount(s->se);
	s->lib_mounted = false;
	if (s->refresher_on) {
		atomic_store(&s->quit, true);
		pfs_server_refresh(s);
		pthread_join(s->refresher, NULL);
		s->refresher_on = false;
	}
}

void pfs_server_free(struct pfs_server *s)
{
	struct snap_ref *r, *next;

	if (!s)
		return;
	pfs_server_stop(s);
	if (s->se)
		fuse_session_destroy(s->se); /* closes the fuse fd it was given */
	else if (s->fuse_fd >= 0)
		close(s->fuse_fd);
	for (r = s->retired; r; r = next) {
		next = r->next;
		pfs_snapshot_free(r->snap);
		free(r);
	}
	if (s->cur)
		pfs_snapshot_free(s->cur->snap);
	free(s->cur);
	pfs_snapshot_free(s->pending);
	for (size_t i = 0; i < PT_MAX; i++)
		pt_drop(&s->pt[i]);
	if (s->wake_fd >= 0)
		close(s->wake_fd);
	if (s->stop_fd >= 0)
		close(s->stop_fd);
	pthread_mutex_destroy(&s->state_lock);
	pthread_mutex_destroy(&s->guest_lock);
	free(s->mountpoint);
	free(s);
}

void pfs_server_guest_lock(struct pfs_server *s, bool lock)
{
	if (lock)
		pthread_mutex_lock(&s->guest_lock);
	else
		pthread_mutex_unlock(&s->guest_lock);
}

unsigned pfs_server_generation(struct pfs_server *s)
{
	unsigned g;

	pthread_mutex_lock(&s->state_lock);
	g = s->gen;
	pthread_mutex_unlock(&s->state_lock);
	return g;
}

bool pfs_server_gone(struct pfs_server *s)
{
	return atomic_load(&s->gone);
}

/*
 * The current snapshot for another thread (the system-call supervisor):
 * pinned by a count of its own, so the loop thread's handle counts stay
 * unlocked; NULL once the guest is gone.
 */
const struct pfs_snapshot *pfs_server_snapshot_get(struct pfs_server *s)
{
	const struct pfs_snapshot *snap = NULL;

	pthread_mutex_lock(&s->state_lock);
	if (!atomic_load(&s->gone) && s->cur) {
		atomic_fetch_add(&s->cur->ext, 1);
		snap = s->cur->snap;
	}
	pthread_mutex_unlock(&s->state_lock);
	return snap;
}

void pfs_server_snapshot_put(struct pfs_server *s, const struct pfs_snapshot *snap)
{
	struct snap_ref *r;

	if (!snap)
		return;
	pthread_mutex_lock(&s->state_lock);
	for (r = s->cur; r; r = r == s->cur ? s->retired : r->next) {
		if (r->snap == snap) {
			atomic_fetch_sub(&r->ext, 1);
			break;
		}
	}
	pthread_mutex_unlock(&s->state_lock);
	/* A retired snapshot is freed by the loop thread at its next prune. */
}

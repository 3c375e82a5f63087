// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * tree.c - the shadow /proc's tree of nodes and its text buffers.
 *
 * Directories keep their children in an array: built in insertion order
 * (duplicates are found by a linear scan, fine for the few dozen entries a
 * /proc directory has; the root's thousands of pid directories come from
 * pfs_dir_new, which does not scan), then sorted by pfs_seal() so that
 * serving bisects.  A directory whose children came in name order stays
 * marked sorted as it is built (bisected at once, never sorted again).
 * Names compare by a key of their first 8 bytes before any strcmp.
 *
 * Blocks of a freed tree's arena are kept for the next tree (bounded), so
 * a server that rebuilds does not have the kernel zero them again.
 *
 * Nodes, names, contents and child arrays come from the tree's arena:
 * large blocks carved in order and freed all at once with the tree.  A
 * snapshot of 1,000 processes has some 66,000 nodes; three mallocs and
 * three frees each were a third of its build time.  Nothing in a tree is
 * ever freed on its own (a directory's outgrown child array is simply
 * left in the arena: at most as much again as the arrays in use).
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "procfs/procfs.h"

/* ------------------------------------------------------------ text */

void tb_init(struct textbuf *b)
{
	*b = (struct textbuf){0};
}

void tb_free(struct textbuf *b)
{
	free(b->p);
	tb_init(b);
}

static bool tb_reserve(struct textbuf *b, size_t more)
{
	size_t cap;
	char *p;

	if (b->err)
		return false;
	if (more > SIZE_MAX / 2 - b->len) {
		b->err = -ENOMEM;
		return false;
	}
	if (b->len + more + 1 <= b->cap)
		return true;
	cap = b->cap ? b->cap : 256;
	while (cap < b->len + more + 1)
		cap *= 2;
	p = realloc(b->p, cap);
	if (!p) {
		b->err = -ENOMEM;
		return false;
	}
	b->p = p;
	b->cap = cap;
	return true;
}

void tb_put_slow(struct textbuf *b, const void *data, size_t len)
{
	if (!tb_reserve(b, len))
		return;
	memcpy(b->p + b->len, data, len);
	b->len += len;
	b->p[b->len] = '\0';
}

void tb_vprintf(struct textbuf *b, const char *fmt, va_list ap)
{
	va_list aq;
	int n;

	va_copy(aq, ap);
	n = vsnprintf(NULL, 0, fmt, aq);
	va_end(aq);
	if (n < 0 || !tb_reserve(b, (size_t)n))
		return;
	vsnprintf(b->p + b->len, (size_t)n + 1, fmt, ap);
	b->len += (size_t)n;
}

void tb_printf(struct textbuf *b, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	tb_vprintf(b, fmt, ap);
	va_end(ap);
}

void pfs_tb_take(struct pfs_tree *t, struct textbuf *b)
{
	*b = t->scratch;
	t->scratch = (struct textbuf){0};
	b->len = 0;
	b->err = 0;
	if (b->p)
		b->p[0] = '\0';
}

void pfs_tb_give(struct pfs_tree *t, struct textbuf *b)
{
	if (b->cap > t->scratch.cap) {
		tb_free(&t->scratch);
		t->scratch = *b;
	} else {
		free(b->p);
	}
	tb_init(b);
}

/* ------------------------------------------------------------ arena */

#define ARENA_BLOCK (2u << 20) /* one huge page */
#define ARENA_ALIGN 16u

struct pfs_arena {
	struct pfs_arena *next;
	size_t used, cap;
	bool mapped; /* an ARENA_BLOCK of its own mapping (else malloc) */
	_Alignas(ARENA_ALIGN) char mem[];
};

/*
 * A standard block is a 2 MiB-aligned mapping advised to be a huge page: a
 * 1,000-process snapshot's 12 MB then cost 6 page faults, not some 3,000
 * (a tenth of the build, most of it fault entry on this virtual machine).
 * Advice only: without transparent huge pages it is an ordinary mapping.
 */
static struct pfs_arena *arena_map(void)
{
	size_t len = 2 * ARENA_BLOCK;
	uint8_t *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	uintptr_t start, end;

	if (p == MAP_FAILED)
		return NULL;
	start = ((uintptr_t)p + ARENA_BLOCK - 1) & ~(uintptr_t)(ARENA_BLOCK - 1);
	end = start + ARENA_BLOCK;
	if (start > (uintptr_t)p)
		munmap(p, start - (uintptr_t)p);
	if ((uintptr_t)p + len > end)
		munmap((void *)end, (uintptr_t)p + len - end);
	madvise((void *)start, ARENA_BLOCK, MADV_HUGEPAGE);
	return (struct pfs_arena *)start;
}

/*
 * Blocks of freed trees, kept for the next tree: a server that rebuilds
 * (--refresh, SIGHUP) would otherwise have the kernel zero every block
 * again on each build (zeroing fresh memory was a fifth of a build).  At
 * most ARENA_POOL_MAX blocks (64 MiB, a tree of some 5,000 processes) are
 * kept; the rest is unmapped.  Trees are built and freed on several
 * threads (a refresh builds while the old tree is served), hence the lock.
 */
#define ARENA_POOL_MAX 32u

static pthread_mutex_t pool_lock = PTHREAD_MUTEX_INITIALIZER;
static struct pfs_arena *pool;
static unsigned pool_n;

static struct pfs_arena *arena_block(void)
{
	struct pfs_arena *b;

	pthread_mutex_lock(&pool_lock);
	b = pool;
	if (b) {
		pool = b->next;
		pool_n--;
	}
	pthread_mutex_unlock(&pool_lock);
	if (!b && !(b = arena_map()))
		return NULL;
	b->next = NULL;
	b->cap = ARENA_BLOCK - sizeof(*b);
	b->mapped = true;
	return b;
}

static void arena_block_free(struct pfs_arena *b)
{
	pthread_mutex_lock(&pool_lock);
	if (pool_n < ARENA_POOL_MAX) {
		b->next = pool;
		pool = b;
		pool_n++;
		b = NULL;
	}
	pthread_mutex_unlock(&pool_lock);
	if (b)
		munmap(b, ARENA_BLOCK);
}

/* len bytes from the tree's arena (uninitialised), NULL on ENOMEM. */
static void *arena_alloc(struct pfs_tree *t, size_t len)
{
	struct pfs_arena *a = t->arena, *b;
	size_t need = (len + ARENA_ALIGN - 1) & ~(size_t)(ARENA_ALIGN - 1);
	bool big;

	if (len > SIZE_MAX / 2)
		return NULL;
	if (a && a->cap - a->used >= need) {
		a->used += need;
		return a->mem + a->used - need;
	}
	/* A large request gets a block of its own, behind the current one. */
	big = need > ARENA_BLOCK / 8;
	b = big ? malloc(sizeof(*b) + need) : arena_block();
	if (!b)
		return NULL;
	if (big) {
		b->cap = need;
		b->mapped = false;
	}
	b->used = need;
	if (a && big) {
		b->next = a->next;
		a->next = b;
	} else {
		b->next = a;
		t->arena = b;
	}
	return b->mem;
}

static void arena_free(struct pfs_arena *a)
{
	while (a) {
		struct pfs_arena *next = a->next;

		if (a->mapped)
			arena_block_free(a);
		else
			free(a);
		a = next;
	}
}

/* ------------------------------------------------------------ tree */

static bool name_ok(const char *name)
{
	return name && name[0] && !strchr(name, '/') && strcmp(name, ".") && strcmp(name, "..");
}

/*
 * Nodes are indexed by ino as they are made (a walk of the sealed tree to
 * index it was 3% of a build).  A node made and then not attached (only on
 * ENOMEM, which fails the build) would be indexed but unreachable.
 */
static int index_grow(struct pfs_tree *t)
{
	size_t cap = t->capino ? 2 * t->capino : 1024;
	struct pfs_node **p = realloc(t->byino, cap * sizeof(*p));

	if (!p)
		return -ENOMEM;
	memset(p + t->capino, 0, (cap - t->capino) * sizeof(*p));
	t->byino = p;
	t->capino = cap;
	return 0;
}

/*
 * A name's first 8 bytes (NUL-padded) as a big-endian number: comparing two
 * keys orders two names as strcmp does, and equal keys of names shorter
 * than 8 bytes are equal names.  Sorting and looking up /proc's short names
 * ("stat", "cmdline", pids) then costs an integer compare each.
 */
static uint64_t name_key(const char *name, size_t len)
{
	uint64_t k = 0;

	for (size_t i = 0; i < 8; i++)
		k = k << 8 | (i < len ? (uint8_t)name[i] : 0);
	return k;
}

static inline int name_cmp(const struct pfs_node *a, const struct pfs_node *b)
{
	if (a->key != b->key)
		return a->key < b->key ? -1 : 1;
	if (!(a->key & 0xff)) /* both names end within the key */
		return 0;
	return strcmp(a->name + 8, b->name + 8);
}

static struct pfs_node *node_new(struct pfs_tree *t, const char *name, enum pfs_type type,
				 mode_t mode)
{
	size_t len = strlen(name) + 1;
	struct pfs_node *n = arena_alloc(t, sizeof(*n) + len);

	if (!n)
		return NULL;
	if (t->next_ino >= t->capino && index_grow(t))
		return NULL;
	*n = (struct pfs_node){
	    .name = (char *)(n + 1), .key = name_key(name, len - 1), .type = type, .mode = mode};
	memcpy(n->name, name, len);
	n->ino = t->next_ino++;
	t->byino[n->ino] = n;
	t->nodes++;
	return n;
}

struct pfs_node *pfs_tree_node(const struct pfs_tree *t, uint64_t ino)
{
	return ino < t->next_ino ? t->byino[ino] : NULL;
}

struct pfs_tree *pfs_tree_new(void)
{
	struct pfs_tree *t = calloc(1, sizeof(*t));

	if (!t)
		return NULL;
	t->next_ino = 1; /* FUSE_ROOT_ID */
	t->root = node_new(t, "/", PFS_DIR, 0555);
	if (!t->root) {
		pfs_tree_free(t);
		return NULL;
	}
	return t;
}

void pfs_tree_free(struct pfs_tree *t)
{
	if (!t)
		return;
	arena_free(t->arena);
	free(t->byino);
	tb_free(&t->scratch);
	free(t);
}

static struct pfs_node *child_scan(const struct pfs_node *dir, const struct pfs_node *key)
{
	for (size_t i = 0; i < dir->nkids; i++)
		if (dir->kids[i]->key == key->key && !name_cmp(dir->kids[i], key))
			return dir->kids[i];
	return NULL;
}

static int node_cmp(const void *a, const void *b)
{
	return name_cmp(*(struct pfs_node *const *)a, *(struct pfs_node *const *)b);
}

struct pfs_node *pfs_child(const struct pfs_node *dir, const char *name)
{
	struct pfs_node key, *kp = &key, **hit;

	if (!dir || dir->type != PFS_DIR)
		return NULL;
	key = (struct pfs_node){.name = (char *)name, .key = name_key(name, strlen(name))};
	if (!dir->sorted)
		return child_scan(dir, &key);
	hit = bsearch(&kp, dir->kids, dir->nkids, sizeof(*dir->kids), node_cmp);
	return hit ? *hit : NULL;
}

/* Append n to dir (n stays in the arena, unreachable, on failure). */
static int attach(struct pfs_tree *t, struct pfs_node *dir, struct pfs_node *n)
{
	if (dir->nkids == dir->capkids) {
		size_t cap = dir->capkids ? 2 * dir->capkids : 8;
		struct pfs_node **k = arena_alloc(t, cap * sizeof(*k));

		if (!k)
			return -ENOMEM;
		if (dir->nkids)
			memcpy(k, dir->kids, dir->nkids * sizeof(*k));
		dir->kids = k;
		dir->capkids = cap;
	}
	/* still sorted if n sorts after the last child: bisection works, and seal has nothing to do
	 */
	dir->sorted = !dir->nkids || (dir->sorted && name_cmp(dir->kids[dir->nkids - 1], n) < 0);
	n->parent = dir;
	dir->kids[dir->nkids++] = n;
	return 0;
}

struct pfs_node *pfs_dir(struct pfs_tree *t, struct pfs_node *dir, const char *name, mode_t mode,
			 uid_t uid, gid_t gid)
{
	struct pfs_node *n;

	if (!dir || dir->type != PFS_DIR || !name_ok(name)) {
		errno = EINVAL;
		return NULL;
	}
	n = pfs_child(dir, name);
	if (n) {
		errno = n->type == PFS_DIR ? 0 : EEXIST;
		return n->type == PFS_DIR ? n : NULL;
	}
	return pfs_dir_new(t, dir, name, mode, uid, gid);
}

struct pfs_node *pfs_dir_new(struct pfs_tree *t, struct pfs_node *dir, const char *name,
			     mode_t mode, uid_t uid, gid_t gid)
{
	struct pfs_node *n;

	if (!dir || dir->type != PFS_DIR || !name_ok(name)) {
		errno = EINVAL;
		return NULL;
	}
	n = node_new(t, name, PFS_DIR, mode);
	if (!n || attach(t, dir, n)) {
		errno = ENOMEM;
		return NULL;
	}
	n->uid = uid;
	n->gid = gid;
	return n;
}

static int leaf_add(struct pfs_tree *t, struct pfs_node *dir, const char *name, enum pfs_type type,
		    mode_t mode, const void *data, size_t len)
{
	struct pfs_node *n;

	if (!dir || dir->type != PFS_DIR || !name_ok(name))
		return -EINVAL;
	if (pfs_child(dir, name))
		return -EEXIST;
	n = node_new(t, name, type, mode);
	if (!n)
		return -ENOMEM;
	n->data = arena_alloc(t, len + 1);
	if (!n->data)
		return -ENOMEM;
	if (len)
		memcpy(n->data, data, len);
	n->data[len] = '\0';
	n->len = len;
	n->uid = dir->uid;
	n->gid = dir->gid;
	t->bytes += len;
	return attach(t, dir, n);
}

struct pfs_node *pfs_alias(struct pfs_tree *t, struct pfs_node *dir, const struct pfs_node *src)
{
	struct pfs_node *n;

	if (!dir || dir->type != PFS_DIR || !src || src->type == PFS_DIR) {
		errno = EINVAL;
		return NULL;
	}
	if (pfs_child(dir, src->name)) {
		errno = EEXIST;
		return NULL;
	}
	n = node_new(t, src->name, src->type, src->mode);
	if (!n || attach(t, dir, n)) {
		errno = ENOMEM;
		return NULL;
	}
	/* The tree frees its arena as one: contents may be shared by any two of its nodes. */
	n->data = src->data;
	n->len = src->len;
	n->uid = src->uid;
	n->gid = src->gid;
	n->hidden = src->hidden;
	n->fmt_set = src->fmt_set;
	n->fmt = src->fmt;
	n->st_ino = src->st_ino;
	return n;
}

int pfs_file(struct pfs_tree *t, struct pfs_node *dir, const char *name, mode_t mode,
	     const void *data, size_t len)
{
	return leaf_add(t, dir, name, PFS_FILE, mode, data, len);
}

int pfs_file_tb(struct pfs_tree *t, struct pfs_node *dir, const char *name, mode_t mode,
		const struct textbuf *b)
{
	if (b->err)
		return b->err;
	return leaf_add(t, dir, name, PFS_FILE, mode, b->p ? b->p : "", b->len);
}

int pfs_link(struct pfs_tree *t, struct pfs_node *dir, const char *name, const char *target)
{
	if (!target || !target[0])
		return -EINVAL;
	return leaf_add(t, dir, name, PFS_LINK, 0777, target, strlen(target));
}

int pfs_target(struct pfs_tree *t, struct pfs_node *dir, const char *name, mode_t fmt, mode_t perm,
	       uint64_t ino)
{
	struct pfs_node *n;
	int err;

	if (pfs_child(dir, name))
		return 0;
	err = leaf_add(t, dir, name, PFS_FILE, perm, "", 0);
	if (err)
		return err;
	n = dir->kids[dir->nkids - 1];
	n->hidden = true;
	n->fmt_set = true;
	n->fmt = fmt;
	n->st_ino = ino;
	return 0;
}

void pfs_chown(struct pfs_node *n, uid_t uid, gid_t gid)
{
	n->uid = uid;
	n->gid = gid;
}

/* A /proc/PID directory has a few dozen entries, nearly in order: qsort's calls cost more. */
static void sort_small(struct pfs_node **k, size_t n)
{
	for (size_t i = 1; i < n; i++) {
		struct pfs_node *x = k[i];
		size_t j = i;

		while (j > 0 && name_cmp(k[j - 1], x) > 0) {
			k[j] = k[j - 1];
			j--;
		}
		k[j] = x;
	}
}

static void seal_node(struct pfs_node *n)
{
	if (n->type != PFS_DIR)
		return;
	if (!n->sorted && n->nkids <= 32) /* (sorted: built in order) */
		sort_small(n->kids, n->nkids);
	else if (!n->sorted)
		qsort(n->kids, n->nkids, sizeof(*n->kids), node_cmp);
	n->sorted = true;
	for (size_t i = 0; i < n->nkids; i++)
		seal_node(n->kids[i]);
}

void pfs_seal(struct pfs_tree *t)
{
	seal_node(t->root);
}

struct pfs_node *pfs_walk(const struct pfs_node *dir, const char *path)
{
	char part[256];
	const char *p = path;

	while (dir && *p) {
		const char *slash = strchr(p, '/');
		size_t len = slash ? (size_t)(slash - p) : strlen(p);

		if (len >= sizeof(part))
			return NULL;
		memcpy(part, p, len);
		part[len] = '\0';
		if (len)
			dir = pfs_child(dir, part);
		p += len + (slash != NULL);
	}
	return (struct pfs_node *)dir;
}

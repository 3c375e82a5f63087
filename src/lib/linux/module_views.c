// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * module_views.c - the loaded modules, found four independent ways.
 *
 * A rootkit that hides its module does list_del(&THIS_MODULE->list): lsmod
 * and /proc/modules lose it, the module runs on.  It leaves traces the list
 * does not vouch for, each a view here (as Volatility's linux.check_modules
 * and hidden_modules):
 *   list  the modules list (vmt_modules: what /proc/modules prints);
 *   kset  module_kset's kobjects (/sys/module/NAME): a struct module_kobject
 *         whose mod points back at the module embedding it (built-in modules
 *         have mod NULL and are not modules here);
 *   tree  mod_tree, the latch tree of module memory ranges that the
 *         unwinder and __module_address() search: read through the copy
 *         the latch sequence says is stable (tree[seq & 1]);
 *   scan  module memory (MODULES_VADDR..MODULES_END), mapped pages only,
 *         read through the kernel's own page tables: every 64-byte aligned
 *         place (struct module is ____cacheline_aligned) whose mkobj.mod
 *         points back at it, validated (printable name, state in range, list
 *         pointers kernel addresses or list_del's poison, the module inside
 *         its own core range).
 * Each view is bounded and breaks on its own: a loop, a pointer to nowhere
 * or garbage costs that view what it had not yet seen, and says why.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "guest/guest_internal.h"
#include "linux/module_views.h"

#define KSET_MAX       16384 /* /sys/module also holds every built-in module */
#define TREE_MAX_NODES (4 * VMT_MAX_MODULES)
#define TREE_MAX_DEPTH 128	  /* an rb-tree of 16K nodes is < 30 deep */
#define SCAN_MAX_PAGES (1u << 18) /* 1 GiB of 4K pages: the module area */
#define LIST_POISON1   0xdead000000000100ull
#define PAGE_4K	       4096u

struct mv_off {
	uint32_t list, name, state, mkobj, mod_size;
	uint32_t mk_mod, kobj_entry, kset_list;
	uint32_t tree_root, latch_tree, latch_seq, mtn_mod, mtn_node, rb_node_size, rb_left,
	    rb_right;
	int64_t st_max;
};

struct mv_ctx {
	struct vmt_guest *g;
	struct mv_off o;
	struct vmt_module_list *l;
	size_t cap;
	unsigned view; /* the view being walked */
};

const char *vmt_module_view_name(unsigned view_bit)
{
	switch (view_bit) {
	case VMT_MVIEW_LIST:
		return "list";
	case VMT_MVIEW_KSET:
		return "kset";
	case VMT_MVIEW_TREE:
		return "tree";
	case VMT_MVIEW_SCAN:
		return "scan";
	}
	return NULL;
}

static int mv_offsets(struct vmt_guest *g, struct mv_off *o)
{
	/* clang-format off */
	const struct vmt_field_req req[] = {
		VMT_FIELD("module", "list", list),
		VMT_FIELD("module", "name", name),
		VMT_FIELD("module", "state", state),
		VMT_FIELD("module", "mkobj", mkobj),
		VMT_FIELD("module", NULL, mod_size),
		VMT_FIELD("module_kobject", "mod", mk_mod),
		VMT_FIELD("kobject", "entry", kobj_entry),
		VMT_FIELD("kset", "list", kset_list),
		VMT_FIELD_OPT("mod_tree_root", "root", tree_root),
		VMT_FIELD_OPT("latch_tree_root", "tree", latch_tree),
		VMT_FIELD_OPT("latch_tree_root", "seq", latch_seq),
		VMT_FIELD_OPT("mod_tree_node", "mod", mtn_mod),
		VMT_FIELD_OPT("mod_tree_node", "node", mtn_node),
		VMT_FIELD_OPT("rb_node", NULL, rb_node_size),
		VMT_FIELD_OPT("rb_node", "rb_left", rb_left),
		VMT_FIELD_OPT("rb_node", "rb_right", rb_right),
	};
	/* clang-format on */
	int64_t v;

	VMT_OFFSETS_ABSENT(o);
	o->st_max = vmt_profile_enum(g->prof, "module_state", "MODULE_STATE_UNFORMED", &v) ? 3 : v;
	return vmt_resolve_fields(g, req, ARRAY_SIZE(req));
}

/* ---------------------------------------------------------------- union */

static struct vmt_module *mv_find(struct vmt_module_list *l, uint64_t kva)
{
	for (size_t i = 0; i < l->n; i++)
		if (l->mods[i].kva == kva)
			return &l->mods[i];
	return NULL;
}

/*
 * The current view saw the struct module at kva: tag it, or read it and
 * add it.  0, or -ENOMEM; an unformed or unreadable module is not added.
 */
static int mv_saw(struct mv_ctx *c, uint64_t kva)
{
	struct vmt_module *m = mv_find(c->l, kva), tmp;

	if (m) {
		c->l->view_n[__builtin_ctz(c->view)] += !(m->seen_by & c->view);
		m->seen_by |= c->view;
		return 0;
	}
	if (c->l->n >= 4 * VMT_MAX_MODULES || vmt_module_read(c->g, kva, &tmp) != 0)
		return 0;
	if (c->l->n == c->cap) {
		size_t cap = c->cap ? 2 * c->cap : 64;
		struct vmt_module *p = reallocarray(c->l->mods, cap, sizeof(*p));

		if (!p)
			return -ENOMEM;
		c->l->mods = p;
		c->cap = cap;
	}
	tmp.seen_by = c->view;
	c->l->mods[c->l->n++] = tmp;
	c->l->view_n[__builtin_ctz(c->view)]++;
	return 0;
}

/* The view broke (or could not run): say why, keep what it saw. */
static void mv_broke(struct mv_ctx *c, const char *why)
{
	unsigned i = (unsigned)__builtin_ctz(c->view);

	c->l->views_broken |= c->view;
	vmt_strlcpy(c->l->view_err[i], why, sizeof(c->l->view_err[i]));
}

/* ----------------------------------------------------------------- list */

static int mv_list(struct mv_ctx *c)
{
	struct vmt_module_list *ml = NULL;
	int err = vmt_modules(c->g, &ml);

	if (err) {
		mv_broke(c, vmt_last_error());
		return err == -ENOMEM ? err : 0;
	}
	for (size_t i = 0; i < ml->n && !err; i++)
		err = mv_saw(c, ml->mods[i].kva);
	if (ml->flags & VMT_F_PARTIAL)
		mv_broke(c, "the modules list broke (a loop or a pointer to nowhere)");
	else
		c->l->views_ok |= c->view;
	vmt_module_list_free(ml);
	return err;
}

/* ----------------------------------------------------------------- kset */

static int mv_kset_one(struct vmt_guest *g, uint64_t node, void *arg)
{
	struct mv_ctx *c = arg;
	uint64_t mk = node - c->o.kobj_entry, mod; /* kobj is module_kobject's first member */

	if (vmt_kread_u64(g, mk + c->o.mk_mod, &mod))
		return vmt_error(-EBADMSG, "kobject at 0x%llx unreadable", (unsigned long long)mk);
	/* Built-in (mod NULL), or not the module_kobject embedded in that module. */
	if (!mod || mod + c->o.mkobj != mk)
		return 0;
	return mv_saw(c, mod);
}

static int mv_kset(struct mv_ctx *c)
{
	uint64_t sym, kset;
	int err;

	if (vmt_ksym(c->g, "module_kset", &sym) || vmt_kread_u64(c->g, sym, &kset) ||
	    !vmt_kptr_ok(kset)) {
		mv_broke(c, "module_kset unreadable");
		return 0;
	}
	err = vmt_list_walk(c->g, kset + c->o.kset_list, KSET_MAX, mv_kset_one, c);
	if (err == -ENOMEM)
		return err;
	if (err)
		mv_broke(c, "module_kset's list broke (a loop or a pointer to nowhere)");
	else
		c->l->views_ok |= c->view;
	return 0;
}

/* ----------------------------------------------------------------- tree */

/* A tree node names its module if the node lies inside that struct module. */
static int mv_tree_node(struct mv_ctx *c, uint64_t rb, unsigned idx)
{
	uint64_t mtn = rb - (uint64_t)idx * c->o.rb_node_size - c->o.mtn_node, mod;

	if (vmt_kread_u64(c->g, mtn + c->o.mtn_mod, &mod))
		return -EBADMSG;
	if (!vmt_kptr_ok(mod) || mtn < mod || mtn >= mod + c->o.mod_size)
		return -EBADMSG;
	return mv_saw(c, mod);
}

/* Depth-first, an explicit bounded stack; every node counted against TREE_MAX_NODES. */
static int mv_tree_walk(struct mv_ctx *c, uint64_t root, unsigned idx)
{
	uint64_t stack[TREE_MAX_DEPTH], l, r;
	size_t sp = 0, seen = 0;
	int err;

	if (root)
		stack[sp++] = root;
	while (sp) {
		uint64_t n = stack[--sp];

		if (++seen > TREE_MAX_NODES)
			return vmt_error(-ELOOP, "mod_tree: more than %u nodes", TREE_MAX_NODES);
		if (vmt_kread_u64(c->g, n + c->o.rb_left, &l) ||
		    vmt_kread_u64(c->g, n + c->o.rb_right, &r))
			return vmt_error(-EBADMSG, "mod_tree: node 0x%llx unreadable",
					 (unsigned long long)n);
		err = mv_tree_node(c, n, idx);
		if (err == -ENOMEM)
			return err;
		if (err)
			return vmt_error(err, "mod_tree: node 0x%llx is in no module",
					 (unsigned long long)n);
		if ((l && sp == TREE_MAX_DEPTH) || (r && sp + !!l >= TREE_MAX_DEPTH))
			return vmt_error(-ELOOP, "mod_tree: deeper than %u", TREE_MAX_DEPTH);
		if (l)
			stack[sp++] = l;
		if (r)
			stack[sp++] = r;
	}
	return 0;
}

static int mv_tree(struct mv_ctx *c)
{
	const struct mv_off *o = &c->o;
	uint64_t sym, root;
	uint32_t seq;
	unsigned idx;
	int err;

	if (o->tree_root == UINT32_MAX || o->latch_tree == UINT32_MAX ||
	    o->mtn_node == UINT32_MAX || o->rb_left == UINT32_MAX ||
	    vmt_ksym(c->g, "mod_tree", &sym)) {
		/* Not broken: the kernel keeps no such tree (!CONFIG_MODULES_TREE_LOOKUP). */
		vmt_strlcpy(c->l->view_err[2], "no mod_tree in this kernel",
			    sizeof(c->l->view_err[2]));
		return 0;
	}
	sym += o->tree_root;
	if (vmt_kread_u32(c->g, sym + o->latch_seq, &seq)) {
		mv_broke(c, "mod_tree unreadable");
		return 0;
	}
	idx = seq & 1; /* raw_read_seqcount_latch: the copy not being written */
	if (vmt_kread_u64(c->g, sym + o->latch_tree + idx * 8ull, &root)) {
		mv_broke(c, "mod_tree unreadable");
		return 0;
	}
	err = mv_tree_walk(c, root, idx);
	if (err == -ENOMEM)
		return err;
	if (err)
		mv_broke(c, vmt_last_error());
	else
		c->l->views_ok |= c->view;
	return 0;
}

/* ----------------------------------------------------------------- scan */

struct mv_scan {
	struct mv_ctx *c;
	uint64_t lo, hi; /* the VA range scanned */
	uint64_t pages;	 /* mapped 4K pages read */
	uint8_t buf[PAGE_4K];
};

/* Printable, NUL-terminated, non-empty: a module name (MODULE_NAME_LEN 56). */
static bool mv_name_ok(const char *s, size_t cap)
{
	size_t i;

	for (i = 0; i < cap && s[i]; i++)
		if (s[i] <= ' ' || s[i] > '~')
			return false;
	return i > 0 && i < cap;
}

/* Does the struct module at cand hold together?  (Its back pointer already did.) */
static bool mv_scan_valid(struct mv_ctx *c, uint64_t cand)
{
	struct vmt_module m;
	uint64_t next, prev;
	uint32_t state;
	char name[56];

	if (vmt_kread_u32(c->g, cand + c->o.state, &state) || state > c->o.st_max ||
	    vmt_kread(c->g, cand + c->o.name, name, sizeof(name)) ||
	    !mv_name_ok(name, sizeof(name)) || vmt_kread_u64(c->g, cand + c->o.list, &next) ||
	    vmt_kread_u64(c->g, cand + c->o.list + 8, &prev))
		return false;
	if (!(vmt_kptr_ok(next) || next == LIST_POISON1) ||
	    !(vmt_kptr_ok(prev) || prev == LIST_POISON1 + 0x22))
		return false;
	/* Its own memory holds it (6.4+: in its data region, apart from its text). */
	return vmt_module_holds(c->g, cand, cand) == 1 && vmt_module_read(c->g, cand, &m) == 0;
}

static uint64_t mv_back_ptr(struct mv_scan *s, uint64_t va, uint32_t at)
{
	uint64_t v = 0;

	if (at + 8 <= PAGE_4K)
		memcpy(&v, s->buf + at, 8);
	else if (vmt_kread_u64(s->c->g, va + at, &v))
		v = 0;
	return v;
}

/* One mapped page at va (physical pa): every 64-byte aligned candidate in it. */
static int mv_scan_page(struct mv_scan *s, uint64_t va, uint64_t pa)
{
	struct mv_ctx *c = s->c;
	uint32_t back = c->o.mkobj + c->o.mk_mod;
	int err;

	if (vmt_mem_read(c->g->mem, pa, s->buf, PAGE_4K))
		return 0; /* a page the source cannot give: nothing to see there */
	s->pages++;
	for (uint32_t off = 0; off < PAGE_4K; off += 64) {
		if (mv_back_ptr(s, va, off + back) != va + off)
			continue;
		c->l->scan_candidates++;
		if (!mv_scan_valid(c, va + off))
			continue;
		err = mv_saw(c, va + off);
		if (err)
			return err;
	}
	return 0;
}

#define PTE_PRESENT 1ull
#define PTE_PS	    (1ull << 7)
#define PTE_ADDR    0x000ffffffffff000ull

/*
 * Walk the kernel page tables under table_pa (level 4/5 = top, 1 = PTEs)
 * for the part of [s->lo, s->hi) that va_base..+span covers; call
 * mv_scan_page on each mapped 4K page.  Bounded by SCAN_MAX_PAGES.
 */
static int mv_scan_table(struct mv_scan *s, uint64_t table_pa, int level, uint64_t va_base)
{
	unsigned shift = 12 + 9 * (unsigned)(level - 1);
	uint64_t ent[512], span = 1ull << shift;
	int err = 0;

	if (vmt_mem_read(s->c->g->mem, table_pa & PTE_ADDR, ent, sizeof(ent)))
		return 0;
	for (unsigned i = 0; i < 512 && !err; i++) {
		uint64_t va = va_base + i * span, pa;

		if (va + (span - 1) < s->lo || va >= s->hi || !(ent[i] & PTE_PRESENT))
			continue;
		if (s->pages >= SCAN_MAX_PAGES)
			return vmt_error(-E2BIG, "module memory: over %u pages", SCAN_MAX_PAGES);
		pa = ent[i] & PTE_ADDR;
		if (level == 1) {
			err = mv_scan_page(s, va, pa);
		} else if ((ent[i] & PTE_PS) && level <= 3) {
			pa &= ~(span - 1);
			for (uint64_t o = 0; o < span && !err; o += PAGE_4K)
				if (va + o >= s->lo && va + o < s->hi)
					err = mv_scan_page(s, va + o, pa + o);
		} else {
			err = mv_scan_table(s, pa, level - 1, va);
		}
	}
	return err;
}

static uint64_t mv_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static int mv_scan(struct mv_ctx *c)
{
	struct vmt_guest *g = c->g;
	int levels = g->ki.paging_levels == 5 ? 5 : 4;
	/* The address top-level entry 0 would map if entry 256 starts the upper half: -2^48, -2^57.
	 */
	uint64_t t0 = mv_now_ns(),
		 top = levels == 5 ? 0xfe00000000000000ull : 0xffff000000000000ull;
	struct mv_scan *s = calloc(1, sizeof(*s));
	int err;

	if (!s)
		return -ENOMEM;
	s->c = c;
	/* After the kernel image's mapping: MODULES_VADDR moves with KERNEL_IMAGE_SIZE. */
	s->lo = (g->text_va + g->image_size + 0x1fffff) & ~0x1fffffull;
	if (s->lo < VMT_MODULES_VADDR_MIN)
		s->lo = VMT_MODULES_VADDR_MIN;
	s->hi = VMT_MODULES_END;
	err = mv_scan_table(s, g->ki.kernel_pgd, levels, top);
	c->l->scan_bytes = s->pages * PAGE_4K;
	c->l->scan_ns = mv_now_ns() - t0;
	free(s);
	if (err == -ENOMEM)
		return err;
	if (err)
		mv_broke(c, vmt_last_error());
	else if (!c->l->scan_bytes) /* nothing mapped there: no witness, not a broken view */
		vmt_strlcpy(c->l->view_err[3], "no mapped module memory",
			    sizeof(c->l->view_err[3]));
	else
		c->l->views_ok |= c->view;
	return 0;
}

/* --------------------------------------------------------------- public */

int vmt_modules_views(struct vmt_guest *g, struct vmt_module_list **out)
{
	static int (*const views[VMT_MVIEW_COUNT])(struct mv_ctx *) = {mv_list, mv_kset, mv_tree,
								       mv_scan};
	struct mv_ctx c = {.g = g};
	int err;

	*out = NULL;
	err = mv_offsets(g, &c.o);
	if (err)
		return err;
	c.l = calloc(1, sizeof(*c.l));
	if (!c.l)
		return -ENOMEM;
	for (unsigned i = 0; i < VMT_MVIEW_COUNT; i++) {
		c.view = 1u << i;
		err = views[i](&c);
		if (err) {
			vmt_module_list_free(c.l);
			return err;
		}
	}
	if (c.l->views_broken & VMT_MVIEW_LIST)
		c.l->flags |= VMT_F_PARTIAL;
	if (!c.l->views_ok) {
		vmt_module_list_free(c.l);
		return vmt_error(-EBADMSG, "no view of the modules could be read");
	}
	*out = c.l;
	return 0;
}

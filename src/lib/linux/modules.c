// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * modules.c - loaded kernel modules, as /proc/modules shows them.
 *
 * Mirrors kernel/module/procfs.c (m_show, print_unload_info) of 6.1: walk
 * the `modules` list through module.list in list order (newest first),
 * skip MODULE_STATE_UNFORMED, size = init + core (+ data where the kernel
 * has a data layout), refcount = refcnt - MODULE_REF_BASE, users from
 * source_list each followed by ',', "[permanent]," for a module with an
 * init but no exit routine, "-" when nothing was printed.
 *
 * Layouts come from BTF: 6.1 has module_layout core_layout/init_layout,
 * 6.4+ replaced them by struct module_memory mem[MOD_MEM_NUM_TYPES]; both
 * are handled through optional field requests.  Without
 * CONFIG_MODULE_UNLOAD there is no refcnt/source_list: refcnt 0, deps "-".
 */
#include <stdlib.h>
#include <string.h>

#include "guest/guest_internal.h"
#include "linux/module_views.h"

#define MOD_MEM_MAX	16 /* 6.4 has 7 module_memory types */
#define MODULE_REF_BASE 1

struct mod_offsets {
	uint32_t list, name, name_size, state, refcnt, source_list, init, exit, taints;
	uint32_t core_base, core_size, init_size, data_size; /* <= 6.3 layouts */
	uint32_t init_base, data_base;
	uint32_t mem, mem_base, mem_size, mem_sz, nr_mem; /* >= 6.4 mem[] */
	uint32_t use_source_list, use_source;
	int64_t st_live, st_coming, st_going, st_unformed;
};

struct mod_walk {
	const struct mod_offsets *o;
	struct vmt_module_list *l;
	size_t cap;
};

static void mod_enum(struct vmt_guest *g, const char *name, int64_t dflt, int64_t *val)
{
	if (vmt_profile_enum(g->prof, "module_state", name, val))
		*val = dflt;
}

static int mod_offsets_resolve(struct vmt_guest *g, struct mod_offsets *o)
{
	/* clang-format off */
	const struct vmt_field_req req[] = {
		VMT_FIELD("module", "list", list),
		VMT_FIELD("module", "name", name),
		VMT_FIELD("module", "state", state),
		VMT_FIELD_OPT("module", "refcnt", refcnt),
		VMT_FIELD_OPT("module", "source_list", source_list),
		VMT_FIELD_OPT("module", "init", init),
		VMT_FIELD_OPT("module", "exit", exit),
		VMT_FIELD_OPT("module", "taints", taints),
		VMT_FIELD_OPT("module", "core_layout.base", core_base),
		VMT_FIELD_OPT("module", "core_layout.size", core_size),
		VMT_FIELD_OPT("module", "init_layout.size", init_size),
		VMT_FIELD_OPT("module", "data_layout.size", data_size),
		VMT_FIELD_OPT("module", "init_layout.base", init_base),
		VMT_FIELD_OPT("module", "data_layout.base", data_base),
		VMT_FIELD_OPT("module_memory", "base", mem_base),
		VMT_FIELD_OPT("module_memory", "size", mem_size),
		VMT_FIELD_OPT("module_memory", NULL, mem_sz),
		VMT_FIELD_OPT("module_use", "source_list", use_source_list),
		VMT_FIELD_OPT("module_use", "source", use_source),
	};
	/* clang-format on */
	uint32_t off, size;
	int err;

	VMT_OFFSETS_ABSENT(o);
	err = vmt_resolve_fields(g, req, ARRAY_SIZE(req));
	if (err)
		return err;
	err = vmt_profile_field2(g->prof, "module", "name", &off, &o->name_size);
	if (err)
		return vmt_error(-ENOEXEC, "kernel profile lacks module.name");
	o->mem = o->nr_mem = UINT32_MAX;
	if (o->core_base == UINT32_MAX && o->mem_sz != UINT32_MAX && o->mem_sz &&
	    !vmt_profile_field2(g->prof, "module", "mem", &off, &size)) {
		o->mem = off;
		o->nr_mem = VMT_MIN(size / o->mem_sz, MOD_MEM_MAX);
	}
	if (o->core_base == UINT32_MAX && o->mem == UINT32_MAX)
		return vmt_error(-ENOEXEC, "kernel profile: struct module has neither "
					   "core_layout nor mem[]");
	if (o->use_source_list == UINT32_MAX || o->use_source == UINT32_MAX)
		o->source_list = UINT32_MAX;
	mod_enum(g, "MODULE_STATE_LIVE", 0, &o->st_live);
	mod_enum(g, "MODULE_STATE_COMING", 1, &o->st_coming);
	mod_enum(g, "MODULE_STATE_GOING", 2, &o->st_going);
	mod_enum(g, "MODULE_STATE_UNFORMED", 3, &o->st_unformed);
	return 0;
}

/* Read a u32 field; an absent (UINT32_MAX) offset reads as 0. */
static int mod_read_u32(struct vmt_guest *g, uint64_t mod, uint32_t off, uint32_t *val)
{
	*val = 0;
	return off == UINT32_MAX ? 0 : vmt_kread_u32(g, mod + off, val);
}

static int mod_read_size(struct vmt_guest *g, const struct mod_offsets *o, uint64_t mod,
			 struct vmt_module *m)
{
	uint32_t core = 0, init = 0, data = 0;
	int err;

	if (o->mem != UINT32_MAX) {
		/* 6.4+: /proc/modules prints module_total_size(), all of mem[]. */
		m->size = 0;
		for (uint32_t i = 0; i < o->nr_mem; i++) {
			uint64_t ent = mod + o->mem + (uint64_t)i * o->mem_sz;

			err = vmt_kread_u32(g, ent + o->mem_size, &core);
			if (err)
				return err;
			m->size += core;
		}
		return vmt_kread_u64(g, mod + o->mem + o->mem_base, &m->base);
	}
	err = mod_read_u32(g, mod, o->core_size, &core);
	if (!err)
		err = mod_read_u32(g, mod, o->init_size, &init);
	if (!err)
		err = mod_read_u32(g, mod, o->data_size, &data);
	if (!err)
		err = vmt_kread_u64(g, mod + o->core_base, &m->base);
	m->size = (uint64_t)core + init + data;
	return err;
}

/* Append s to the deps string; false (and TRUNCATED) if it does not fit. */
static bool mod_deps_add(struct vmt_module *m, const char *s)
{
	size_t len = strlen(m->deps), add = strlen(s);

	if (len + add >= sizeof(m->deps)) {
		m->flags |= VMT_F_TRUNCATED;
		return false;
	}
	memcpy(m->deps + len, s, add + 1);
	return true;
}

struct dep_walk {
	const struct mod_offsets *o;
	struct vmt_module *m;
};

static int mod_dep_one(struct vmt_guest *g, uint64_t node, void *arg)
{
	struct dep_walk *w = arg;
	uint64_t use = node - w->o->use_source_list, src;
	char name[64];

	if (vmt_kread_u64(g, use + w->o->use_source, &src) || !vmt_kptr_ok(src) ||
	    vmt_kread_str(g, src + w->o->name, name, VMT_MIN(sizeof(name), w->o->name_size + 1))) {
		w->m->flags |= VMT_F_PARTIAL;
		return 0;
	}
	if (!mod_deps_add(w->m, name) || !mod_deps_add(w->m, ","))
		return 1;
	return 0;
}

static void mod_read_deps(struct vmt_guest *g, const struct mod_offsets *o, uint64_t mod,
			  struct vmt_module *m)
{
	struct dep_walk w = {.o = o, .m = m};
	uint64_t init = 0, exit = 0;

	m->deps[0] = '\0';
	if (o->source_list != UINT32_MAX &&
	    vmt_list_walk(g, mod + o->source_list, VMT_MAX_MODULES, mod_dep_one, &w))
		m->flags |= VMT_F_PARTIAL;
	if (o->init != UINT32_MAX && o->exit != UINT32_MAX) {
		if (vmt_kread_u64(g, mod + o->init, &init) ||
		    vmt_kread_u64(g, mod + o->exit, &exit))
			m->flags |= VMT_F_PARTIAL;
		else if (init && !exit)
			mod_deps_add(m, "[permanent],");
	}
	if (!m->deps[0])
		mod_deps_add(m, "-");
}

/*
 * module_flags() of 6.1 as m_show() calls it: only for a tainted module,
 * the letters of the module taints (kernel/panic.c taint_flags[] with
 * .module set, in bit order), then '-' while unloading, '+' while loading.
 * The taint numbers are ABI (include/linux/panic.h), not in BTF.
 */
static void mod_fill_taints(const struct mod_offsets *o, uint32_t state, struct vmt_module *m)
{
	static const struct {
		uint8_t bit;
		char c;
	} mod_taints[] = {
	    {0, 'P'},  {1, 'F'},  {10, 'C'}, {12, 'O'}, {13, 'E'},
	    {15, 'K'}, {16, 'X'}, {17, 'T'}, {18, 'N'},
	};
	size_t n = 0;

	if (!m->taint_mask)
		return;
	m->taints[n++] = '(';
	for (size_t i = 0; i < ARRAY_SIZE(mod_taints); i++)
		if (m->taint_mask & (1ull << mod_taints[i].bit))
			m->taints[n++] = mod_taints[i].c;
	if (state == o->st_going)
		m->taints[n++] = '-';
	else if (state == o->st_coming)
		m->taints[n++] = '+';
	m->taints[n++] = ')';
	m->taints[n] = '\0';
}

static const char *mod_state_name(const struct mod_offsets *o, uint32_t st)
{
	if (st == o->st_going)
		return "Unloading";
	if (st == o->st_coming)
		return "Loading";
	if (st == o->st_live)
		return "Live";
	return "Unknown"; /* the kernel would print "Live": keep insanity visible */
}

/* One /proc/modules line from the struct module at mod (state already read). */
static void mod_fill(struct vmt_guest *g, const struct mod_offsets *o, uint64_t mod, uint32_t state,
		     struct vmt_module *m)
{
	uint32_t refcnt;

	memset(m, 0, sizeof(*m));
	m->kva = mod;
	m->seen_by = VMT_MVIEW_LIST;
	vmt_strlcpy(m->state, mod_state_name(o, state), sizeof(m->state));
	if (vmt_kread_str(g, mod + o->name, m->name, VMT_MIN(sizeof(m->name), o->name_size + 1)))
		m->flags |= VMT_F_PARTIAL;
	if (mod_read_size(g, o, mod, m))
		m->flags |= VMT_F_PARTIAL;
	if (mod_read_u32(g, mod, o->refcnt, &refcnt))
		m->flags |= VMT_F_PARTIAL;
	else if (o->refcnt != UINT32_MAX)
		m->refcnt = (int32_t)refcnt - MODULE_REF_BASE;
	mod_read_deps(g, o, mod, m);
	if (o->taints != UINT32_MAX && vmt_kread_u64(g, mod + o->taints, &m->taint_mask))
		m->flags |= VMT_F_PARTIAL;
	mod_fill_taints(o, state, m);
}

static int mod_one(struct vmt_guest *g, uint64_t node, void *arg)
{
	struct mod_walk *w = arg;
	const struct mod_offsets *o = w->o;
	uint64_t mod = node - o->list;
	uint32_t state;

	if (vmt_kread_u32(g, mod + o->state, &state))
		return vmt_error(-EBADMSG, "module at 0x%llx: unreadable", (unsigned long long)mod);
	if (state == o->st_unformed)
		return 0; /* like m_show(): not yet (or no longer) a module */
	if (w->l->n == w->cap) {
		size_t cap = w->cap ? 2 * w->cap : 64;
		struct vmt_module *p = reallocarray(w->l->mods, cap, sizeof(*p));

		if (!p)
			return -ENOMEM;
		w->l->mods = p;
		w->cap = cap;
	}
	mod_fill(g, o, mod, state, &w->l->mods[w->l->n++]);
	return 0;
}

int vmt_module_read(struct vmt_guest *g, uint64_t mod, struct vmt_module *m)
{
	struct mod_offsets o;
	uint32_t state;
	int err = mod_offsets_resolve(g, &o);

	if (err)
		return err;
	if (vmt_kread_u32(g, mod + o.state, &state))
		return -EBADMSG;
	if (state == o.st_unformed)
		return 1;
	mod_fill(g, &o, mod, state, m);
	return 0;
}

/*
 * A loop that does not pass the head is found within two laps (Brent), so
 * modules in it were reported twice: keep each struct module once.  At
 * most VMT_MAX_MODULES entries, and only after a broken walk.
 */
static void mod_list_dedupe(struct vmt_module_list *l)
{
	size_t n = 0;

	for (size_t i = 0; i < l->n; i++) {
		size_t j = 0;

		while (j < n && l->mods[j].kva != l->mods[i].kva)
			j++;
		if (j == n)
			l->mods[n++] = l->mods[i];
	}
	l->n = n;
}

int vmt_modules(struct vmt_guest *g, struct vmt_module_list **out)
{
	struct mod_offsets o;
	struct mod_walk w = {.o = &o};
	uint64_t head;
	int err;

	*out = NULL;
	err = mod_offsets_resolve(g, &o);
	if (err)
		return err;
	err = vmt_ksym(g, "modules", &head);
	if (err)
		return vmt_error(err, "kernel symbol 'modules' not found");
	w.l = calloc(1, sizeof(*w.l));
	if (!w.l)
		return -ENOMEM;
	err = vmt_list_walk(g, head, VMT_MAX_MODULES, mod_one, &w);
	if (err == -ENOMEM)
		goto err_free;
	if (err == -EBADMSG && w.l->n) {
		/* A broken link late in the list: keep what came before it. */
		w.l->flags |= VMT_F_PARTIAL;
		mod_list_dedupe(w.l);
	} else if (err) {
		goto err_free;
	}
	*out = w.l;
	return 0;

err_free:
	vmt_module_list_free(w.l);
	return err;
}

/* Is va inside one of the (base, size) layouts at mod + base_off / size_off? */
static bool mod_layout_holds(struct vmt_guest *g, uint64_t mod, uint32_t base_off,
			     uint32_t size_off, uint64_t va)
{
	uint64_t base;
	uint32_t size;

	if (base_off == UINT32_MAX || size_off == UINT32_MAX ||
	    vmt_kread_u64(g, mod + base_off, &base) || vmt_kread_u32(g, mod + size_off, &size))
		return false;
	return va >= base && va - base < size;
}

int vmt_module_holds(struct vmt_guest *g, uint64_t mod, uint64_t va)
{
	struct mod_offsets o;
	int err = mod_offsets_resolve(g, &o);

	if (err)
		return err;
	if (o.mem != UINT32_MAX) { /* 6.4+: text, data, rodata... each its own allocation */
		for (uint32_t i = 0; i < o.nr_mem; i++) {
			uint64_t ent = mod + o.mem + (uint64_t)i * o.mem_sz;

			if (mod_layout_holds(g, ent, o.mem_base, o.mem_size, va))
				return 1;
		}
		return 0;
	}
	return mod_layout_holds(g, mod, o.core_base, o.core_size, va) ||
	       mod_layout_holds(g, mod, o.init_base, o.init_size, va) ||
	       mod_layout_holds(g, mod, o.data_base, o.data_size, va);
}

void vmt_module_list_free(struct vmt_module_list *l)
{
	if (!l)
		return;
	free(l->mods);
	free(l);
}

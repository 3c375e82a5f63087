// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * test_hidden_kernel.c - the module views (vmt_modules_views) and the hook
 * check (vmt_hooks) over kernel structures built by hand in a fake guest:
 * modules in real module memory (page-table mapped at FAKE_MODVA), on the
 * modules list, in module_kset and in mod_tree; sane, hidden and hostile.
 * sys_call_table is the test kernel's own (the profile's copy of the
 * image's words), the IDT a few gates.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "fake_guest.h"
#include "profile/ktext.h"
#include "profile/tables.h"

#define MOD_SLOT     0x2000 /* each module: two pages of module memory */
#define MOD_IN_SLOT  0x100  /* struct module inside its core, 64-aligned */
#define MODMEM_BYTES (16 * MOD_SLOT)

struct lay {
	uint32_t list, name, state, mkobj, mk_mod, kobj_entry, kset_list, core_base, core_size, mtn,
	    mtn_mod, mtn_node, rb_left, rb_right, source_list;
	uint64_t kset;	    /* struct kset (heap) */
	uint64_t tree_root; /* &mod_tree.root.tree[0] */
};

static void lay_init(struct fake *f, struct lay *l)
{
	l->list = off("module", "list");
	l->name = off("module", "name");
	l->state = off("module", "state");
	l->mkobj = off("module", "mkobj");
	l->mk_mod = off("module_kobject", "mod");
	l->kobj_entry = off("kobject", "entry");
	l->kset_list = off("kset", "list");
	l->core_base = off("module", "core_layout.base");
	l->core_size = off("module", "core_layout.size");
	l->mtn = off("module", "core_layout.mtn");
	l->mtn_mod = off("mod_tree_node", "mod");
	l->mtn_node = off("mod_tree_node", "node");
	l->rb_left = off("rb_node", "rb_left");
	l->rb_right = off("rb_node", "rb_right");
	l->source_list = off("module", "source_list");
	fake_map_modules(f, MODMEM_BYTES);
	list_init(f, sym("modules"));
	l->kset = kalloc(f, 256);
	list_init(f, l->kset + l->kset_list);
	put64(f, sym("module_kset"), l->kset);
	l->tree_root =
	    sym("mod_tree") + off("mod_tree_root", "root") + off("latch_tree_root", "tree");
}

/* The rb_node of module mod's core range in tree 0. */
static uint64_t rbn(const struct lay *l, uint64_t mod)
{
	return mod + l->mtn + l->mtn_node;
}

/* Module i (slot i of module memory), live, on every structure but the tree. */
static uint64_t mod_new(struct fake *f, const struct lay *l, unsigned i, const char *name)
{
	uint64_t core = FAKE_MODVA + (uint64_t)i * MOD_SLOT, mod = core + MOD_IN_SLOT;

	putstr(f, mod + l->name, name);
	put32(f, mod + l->state, (uint32_t)enumval("module_state", "MODULE_STATE_LIVE"));
	put64(f, mod + l->core_base, core);
	put32(f, mod + l->core_size, MOD_SLOT);
	list_init(f, mod + l->source_list);
	put64(f, mod + l->mkobj + l->mk_mod, mod);
	list_add_tail(f, sym("modules"), mod + l->list);
	list_add_tail(f, l->kset + l->kset_list, mod + l->mkobj + l->kobj_entry);
	put64(f, mod + l->mtn + l->mtn_mod, mod);
	return mod;
}

/* Three modules; tree: a at the root, b left, c right.  A built-in kobject in the kset. */
static void three(struct fake *f, struct lay *l, uint64_t m[3])
{
	uint64_t builtin = kalloc(f, 128);

	lay_init(f, l);
	m[0] = mod_new(f, l, 1, "alpha");
	m[1] = mod_new(f, l, 2, "beta");
	m[2] = mod_new(f, l, 3, "gamma");
	put64(f, l->tree_root, rbn(l, m[0]));
	put64(f, rbn(l, m[0]) + l->rb_left, rbn(l, m[1]));
	put64(f, rbn(l, m[0]) + l->rb_right, rbn(l, m[2]));
	list_add_tail(f, l->kset + l->kset_list, builtin + l->kobj_entry); /* mod stays NULL */
}

static const struct vmt_module *named(const struct vmt_module_list *ml, const char *name)
{
	for (size_t i = 0; i < ml->n; i++)
		if (!strcmp(ml->mods[i].name, name))
			return &ml->mods[i];
	return NULL;
}

#define ALL_VIEWS (VMT_MVIEW_LIST | VMT_MVIEW_KSET | VMT_MVIEW_TREE | VMT_MVIEW_SCAN)

static void test_views_agree(void **state)
{
	struct fake *f = *state;
	struct vmt_module_list *ml = NULL;
	struct lay l;
	uint64_t m[3];

	three(f, &l, m);
	assert_int_equal(vmt_modules_views(&f->g, &ml), 0);
	assert_int_equal(ml->n, 3);
	assert_int_equal(ml->views_ok, ALL_VIEWS);
	assert_int_equal(ml->views_broken, 0);
	for (size_t i = 0; i < 3; i++) {
		assert_int_equal(ml->mods[i].seen_by, ALL_VIEWS);
		assert_int_equal(ml->mods[i].kva, m[i]);
	}
	assert_string_equal(ml->mods[1].name, "beta");
	for (unsigned v = 0; v < VMT_MVIEW_COUNT; v++)
		assert_int_equal(ml->view_n[v], 3);
	assert_int_equal(ml->scan_bytes, MODMEM_BYTES);
	assert_int_equal(ml->scan_candidates, 3);
	assert_string_equal(vmt_module_view_name(VMT_MVIEW_TREE), "tree");
	assert_null(vmt_module_view_name(1u << 9));
	vmt_module_list_free(ml);
}

/* 5-level paging: the module area one table further down (a top table above the 4-level one). */
static void test_views_la57(void **state)
{
	struct fake *f = *state;
	struct vmt_module_list *ml = NULL;
	struct lay l;
	uint64_t m[3], top;

	three(f, &l, m);
	top = kalloc_align(f, 4096, 4096);
	put64(f, top + 511 * 8, f->g.ki.kernel_pgd | 3);
	f->g.ki.kernel_pgd = kpa(top);
	f->g.ki.paging_levels = 5;
	vmt_x86_set_levels(f->g.mmu, 5);
	assert_int_equal(vmt_modules_views(&f->g, &ml), 0);
	assert_int_equal(ml->n, 3);
	assert_int_equal(ml->views_ok, ALL_VIEWS);
	assert_int_equal(ml->view_n[3], 3);
	assert_int_equal(ml->scan_bytes, MODMEM_BYTES);
	vmt_module_list_free(ml);
}

/*
 * No mapped module memory (the module here lives in the direct map, the
 * kernel page table is empty): the scan read nothing, so it is no witness,
 * neither walked to its end nor broken; the other views still agree.
 */
static void test_views_no_module_memory(void **state)
{
	struct fake *f = *state;
	struct vmt_module_list *ml = NULL;
	struct lay l;
	uint64_t mod;

	lay_init(f, &l);
	f->g.ki.kernel_pgd = kpa(kalloc_align(f, 4096, 4096)); /* nothing mapped */
	mod = kalloc(f, off("module", NULL));
	putstr(f, mod + l.name, "direct");
	put32(f, mod + l.state, (uint32_t)enumval("module_state", "MODULE_STATE_LIVE"));
	list_init(f, mod + l.source_list);
	put64(f, mod + l.mkobj + l.mk_mod, mod);
	list_add_tail(f, sym("modules"), mod + l.list);
	list_add_tail(f, l.kset + l.kset_list, mod + l.mkobj + l.kobj_entry);
	put64(f, mod + l.mtn + l.mtn_mod, mod);
	put64(f, l.tree_root, rbn(&l, mod));
	assert_int_equal(vmt_modules_views(&f->g, &ml), 0);
	assert_int_equal(ml->n, 1);
	assert_int_equal(ml->scan_bytes, 0);
	assert_int_equal(ml->views_ok, VMT_MVIEW_LIST | VMT_MVIEW_KSET | VMT_MVIEW_TREE);
	assert_int_equal(ml->views_broken, 0);
	assert_string_equal(ml->view_err[3], "no mapped module memory");
	vmt_module_list_free(ml);
}

/* list_del(&mod->list) as a rootkit does: poisoned pointers, the neighbours relinked. */
static void test_views_hidden(void **state)
{
	struct fake *f = *state;
	struct vmt_module_list *ml = NULL;
	struct lay l;
	uint64_t m[3], next, prev;
	const struct vmt_module *b;

	three(f, &l, m);
	next = get64(f, m[1] + l.list);
	prev = get64(f, m[1] + l.list + 8);
	put64(f, prev, next);
	put64(f, next + 8, prev);
	put64(f, m[1] + l.list, 0xdead000000000100ull);
	put64(f, m[1] + l.list + 8, 0xdead000000000122ull);
	assert_int_equal(vmt_modules_views(&f->g, &ml), 0);
	assert_int_equal(ml->n, 3);
	assert_int_equal(ml->views_ok, ALL_VIEWS);
	b = named(ml, "beta");
	assert_non_null(b);
	assert_int_equal(b->seen_by, VMT_MVIEW_KSET | VMT_MVIEW_TREE | VMT_MVIEW_SCAN);
	assert_int_equal(named(ml, "alpha")->seen_by, ALL_VIEWS);
	assert_int_equal(ml->view_n[0], 2);
	vmt_module_list_free(ml);
}

/* The kset list loops without coming back: kset breaks, the others still see all. */
static void test_views_kset_loop(void **state)
{
	struct fake *f = *state;
	struct vmt_module_list *ml = NULL;
	struct lay l;
	uint64_t m[3];

	three(f, &l, m);
	put64(f, m[1] + l.mkobj + l.kobj_entry, m[0] + l.mkobj + l.kobj_entry);
	assert_int_equal(vmt_modules_views(&f->g, &ml), 0);
	assert_int_equal(ml->n, 3);
	assert_true(ml->views_broken & VMT_MVIEW_KSET);
	assert_int_equal(ml->views_ok, ALL_VIEWS & ~VMT_MVIEW_KSET);
	assert_true(ml->view_err[1][0] != '\0');
	assert_int_equal(named(ml, "gamma")->seen_by, ALL_VIEWS & ~VMT_MVIEW_KSET);
	assert_int_equal(ml->flags, 0); /* the list itself is whole */
	vmt_module_list_free(ml);
}

/* A tree pointer to nowhere, then a tree node in no module, then a tree loop. */
static void test_views_tree_hostile(void **state)
{
	struct fake *f = *state;
	struct vmt_module_list *ml = NULL;
	struct lay l;
	uint64_t m[3];

	three(f, &l, m);
	put64(f, rbn(&l, m[2]) + l.rb_left, UNMAPPED_VA);
	assert_int_equal(vmt_modules_views(&f->g, &ml), 0);
	assert_int_equal(ml->n, 3);
	assert_true(ml->views_broken & VMT_MVIEW_TREE);
	assert_int_equal(ml->views_ok, ALL_VIEWS & ~VMT_MVIEW_TREE);
	vmt_module_list_free(ml);

	vmt_listing_begin(&f->g);
	put64(f, rbn(&l, m[2]) + l.rb_left, 0);
	put64(f, m[2] + l.mtn + l.mtn_mod, m[0]); /* gamma's node claims alpha */
	assert_int_equal(vmt_modules_views(&f->g, &ml), 0);
	assert_true(ml->views_broken & VMT_MVIEW_TREE);
	vmt_module_list_free(ml);

	vmt_listing_begin(&f->g);
	put64(f, m[2] + l.mtn + l.mtn_mod, m[2]);
	put64(f, rbn(&l, m[2]) + l.rb_right, rbn(&l, m[0])); /* back to the root */
	assert_int_equal(vmt_modules_views(&f->g, &ml), 0);
	assert_true(ml->views_broken & VMT_MVIEW_TREE);
	assert_int_equal(ml->n, 3);
	vmt_module_list_free(ml);
}

/* The scan meets garbage: back pointers that match but nothing else holds. */
static void test_views_scan_garbage(void **state)
{
	struct fake *f = *state;
	struct vmt_module_list *ml = NULL;
	struct lay l;
	uint64_t m[3], g0 = FAKE_MODVA + 5 * MOD_SLOT, g1 = g0 + 0x400, g2 = g0 + 0x800;

	three(f, &l, m);
	for (uint64_t a = g0; a < g0 + MOD_SLOT; a += 8) /* noise */
		put64(f, a, 0x4141414141414141ull ^ a);
	/* g1: back pointer and name, state out of range. */
	put64(f, g1 + l.mkobj + l.mk_mod, g1);
	putstr(f, g1 + l.name, "evil");
	put32(f, g1 + l.state, 77);
	/* g2: everything but its core range, which does not hold it. */
	put64(f, g2 + l.mkobj + l.mk_mod, g2);
	putstr(f, g2 + l.name, "ghost");
	put32(f, g2 + l.state, 0);
	put64(f, g2 + l.list, 0xdead000000000100ull);
	put64(f, g2 + l.list + 8, 0xdead000000000122ull);
	put64(f, g2 + l.core_base, FAKE_MODVA + 9 * MOD_SLOT);
	put32(f, g2 + l.core_size, MOD_SLOT);
	assert_int_equal(vmt_modules_views(&f->g, &ml), 0);
	assert_int_equal(ml->n, 3);
	assert_int_equal(ml->scan_candidates, 5);
	assert_int_equal(ml->views_ok, ALL_VIEWS);
	vmt_module_list_free(ml);

	/* Its core range fixed, ghost is a module only the scan knows. */
	vmt_listing_begin(&f->g);
	put64(f, g2 + l.core_base, g0);
	assert_int_equal(vmt_modules_views(&f->g, &ml), 0);
	assert_int_equal(ml->n, 4);
	assert_int_equal(named(ml, "ghost")->seen_by, VMT_MVIEW_SCAN);
	vmt_module_list_free(ml);
}

/* ---------------------------------------------------------------- hooks */

/* The test kernel's sys_call_table as built, into the fake image; an empty IDT. */
static uint32_t syscalls_as_built(struct fake *f)
{
	uint64_t base = sym("sys_call_table"), v;
	uint32_t n = 0;

	assert_int_equal(vmt_profile_table_len(prof, "sys_call_table", &n), 0);
	assert_true(n > 300 && n < 1024);
	for (uint32_t i = 0; i < n; i++) {
		assert_int_equal(vmt_profile_table(prof, "sys_call_table", i, &v), 0);
		put64(f, base + i * 8ull, v);
	}
	return n;
}

static void gate(struct fake *f, unsigned vec, uint64_t handler)
{
	uint64_t g = sym("idt_table") + vec * 16ull;

	put16(f, g, (uint16_t)handler);
	put16(f, g + 2, 0x10);
	put16(f, g + 4, 0x8e00); /* present, interrupt gate */
	put16(f, g + 6, (uint16_t)(handler >> 16));
	put32(f, g + 8, (uint32_t)(handler >> 32));
}

static void test_hooks_clean_then_one(void **state)
{
	struct fake *f = *state;
	struct vmt_hook_list *h = NULL;
	uint32_t n = syscalls_as_built(f);

	gate(f, 14, sym("asm_exc_page_fault"));
	gate(f, 0x21, sym("irq_entries_start") + 8);
	assert_int_equal(vmt_hooks(&f->g, &h), 0);
	assert_int_equal(h->n, 0);
	assert_int_equal(h->checked, n + 2);
	assert_true(h->tables & VMT_HTABLE_SYSCALL);
	assert_true(h->exact & VMT_HTABLE_SYSCALL);
	assert_true(h->tables & VMT_HTABLE_IDT);
	vmt_hook_list_free(h);

	/* getdents64 (217) now runs getpid: exactly one hook, named both ways. */
	vmt_listing_begin(&f->g);
	put64(f, sym("sys_call_table") + 217 * 8, sym("__x64_sys_getpid"));
	assert_int_equal(vmt_hooks(&f->g, &h), 0);
	assert_int_equal(h->n, 1);
	assert_string_equal(h->hooks[0].table, "sys_call_table");
	assert_int_equal(h->hooks[0].index, 217);
	assert_string_equal(h->hooks[0].expected_sym, "__x64_sys_getdents64");
	assert_int_equal(h->hooks[0].expected, sym("__x64_sys_getdents64"));
	assert_string_equal(h->hooks[0].actual_sym, "__x64_sys_getpid");
	assert_int_equal(h->hooks[0].flags, VMT_HOOK_MISMATCH);
	vmt_hook_list_free(h);
}

/* Entries into a module (a hidden one too) and into the middle of a function. */
static void test_hooks_module_and_idt(void **state)
{
	struct fake *f = *state;
	struct vmt_hook_list *h = NULL;
	struct lay l;
	uint64_t m[3];

	three(f, &l, m);
	syscalls_as_built(f);
	gate(f, 3, sym("asm_exc_int3"));
	gate(f, 6, sym("asm_exc_invalid_op") + 4); /* inside a stub, not its start */
	put64(f, sym("sys_call_table") + 62 * 8, FAKE_MODVA + 2 * MOD_SLOT + 0x40); /* kill */
	assert_int_equal(vmt_hooks(&f->g, &h), 0);
	assert_int_equal(h->n, 2);
	assert_int_equal(h->hooks[0].index, 62);
	assert_string_equal(h->hooks[0].actual_sym, "module beta+0x40");
	assert_int_equal(h->hooks[0].flags, VMT_HOOK_OUTSIDE_TEXT | VMT_HOOK_IN_MODULE);
	assert_string_equal(h->hooks[1].table, "idt");
	assert_int_equal(h->hooks[1].index, 6);
	assert_string_equal(h->hooks[1].actual_sym, "asm_exc_invalid_op+0x4");
	assert_int_equal(h->hooks[1].flags, VMT_HOOK_MISMATCH);
	vmt_hook_list_free(h);
}

/*
 * Without the image (here: it changed since the profile was built, so its
 * words are not the kernel's), a slot is checked by name only: a slot into
 * a module is still caught, a swap for another system call is not (said
 * by exact's bit being clear).
 */
static void test_hooks_fallback(void **state)
{
	struct fake *f = *state;
	char path[] = "/tmp/vmt-test-vmlinuz.XXXXXX", cmd[8400];
	struct vmt_profile_opts o = {.sz = sizeof(o), .kernel_path = path, .no_cache = 1};
	struct vmt_profile *p;
	struct vmt_hook_list *h = NULL;
	struct lay l;
	uint64_t m[3];
	int fd = mkstemp(path);

	assert_true(fd >= 0);
	close(fd);
	snprintf(cmd, sizeof(cmd), "cp '%s' '%s'", fg_test_kernel(), path);
	assert_int_equal(system(cmd), 0);
	p = vmt_profile_load(&o);
	assert_non_null(p);
	snprintf(cmd, sizeof(cmd), "printf x >> '%s'", path);
	assert_int_equal(system(cmd), 0);
	three(f, &l, m);
	syscalls_as_built(f);
	f->g.prof = p;
	assert_int_equal(vmt_hooks(&f->g, &h), 0);
	assert_int_equal(h->n, 0);
	assert_true(h->tables & VMT_HTABLE_SYSCALL);
	assert_false(h->exact & VMT_HTABLE_SYSCALL);
	vmt_hook_list_free(h);

	vmt_listing_begin(&f->g);
	put64(f, sym("sys_call_table") + 217 * 8, sym("__x64_sys_getpid")); /* passes */
	put64(f, sym("sys_call_table") + 62 * 8, FAKE_MODVA + 3 * MOD_SLOT + 8);
	assert_int_equal(vmt_hooks(&f->g, &h), 0);
	assert_int_equal(h->n, 1);
	assert_int_equal(h->hooks[0].index, 62);
	assert_int_equal(h->hooks[0].expected, 0);
	assert_string_equal(h->hooks[0].actual_sym, "module gamma+0x8");
	vmt_hook_list_free(h);
	f->g.prof = prof;
	vmt_profile_free(p);
	unlink(path);
}

/* ----------------------------------------------------------------- text */

/* The test kernel's text as booted (no slide): the image's, ftrace sites NOPed. */
static struct vmt_ktext *text_as_booted(struct fake *f)
{
	static const uint8_t nop5[5] = {0x0f, 0x1f, 0x44, 0x00, 0x00};
	struct vmt_ktext *k = NULL;

	assert_int_equal(vmt_ktext_build(prof, 0, &k), 0);
	assert_int_equal(k->text, sym("_text"));
	assert_true(k->sites[VMT_KT_NOP5] > 1000 && k->sites[VMT_KT_ANY] > 1000);
	put(f, k->text, k->bytes, k->len);
	for (size_t o = 0; o < k->len; o++)
		if (k->kind[o] == VMT_KT_NOP5)
			put(f, k->text + o, nop5, 5);
	return k;
}

/* First offset >= from in [va, va + 64) whose byte must equal the image's. */
static uint64_t plain_byte(const struct vmt_ktext *k, uint64_t va)
{
	for (uint64_t o = va - k->text; o < va - k->text + 64; o++)
		if (k->kind[o] == VMT_KT_CMP)
			return k->text + o;
	fail_msg("no plain byte near 0x%llx", (unsigned long long)va);
	return 0;
}

static void test_text_clean_then_modified(void **state)
{
	struct fake *f = *state;
	struct vmt_ktext *k = text_as_booted(f);
	struct vmt_text_list *l = NULL;
	uint64_t fn = sym("__x64_sys_getdents64"), kill = sym("__x64_sys_kill");
	uint64_t b = plain_byte(k, fn + 8);
	uint8_t x;

	assert_int_equal(vmt_text_check(&f->g, &l), 0);
	assert_int_equal(l->n, 0);
	assert_int_equal(l->runs, 0);
	assert_int_equal(l->flags, 0);
	assert_true(l->compared > k->len / 2);
	assert_true(l->patch_sites > 0);
	vmt_text_list_free(l);

	/* A changed byte in a function body, and a jmp over an ftrace NOP. */
	vmt_listing_begin(&f->g);
	x = *(uint8_t *)at(f, b, 1) ^ 0x5a;
	put8(f, b, x);
	assert_int_equal(k->kind[kill - k->text], VMT_KT_NOP5);
	put8(f, kill, 0xe9);
	assert_int_equal(vmt_text_check(&f->g, &l), 0);
	assert_int_equal(l->n, 2);
	/* In text order: kill's entry, then getdents64's body. */
	assert_int_equal(l->mods[0].va, kill);
	assert_string_equal(l->mods[0].kind, "ftrace-site");
	assert_string_equal(l->mods[0].sym, "__x64_sys_kill");
	assert_int_equal(l->mods[1].va, b);
	assert_int_equal(l->mods[1].len, 1);
	assert_string_equal(l->mods[1].kind, "text");
	assert_int_equal(l->mods[1].actual[0], x);
	assert_int_equal(l->mods[1].expected[0], k->bytes[b - k->text]);
	assert_true(!strncmp(l->mods[1].sym, "__x64_sys_getdents64+0x", 23));
	vmt_text_list_free(l);
	vmt_ktext_free(k);
}

/* A KASLR slide: the image's relocations applied (and only they differ). */
static void test_text_relocated(void **state)
{
	struct vmt_ktext *k0 = NULL, *k1 = NULL;
	const uint64_t slide = 0x2a00000;
	size_t words = 0;

	(void)state;
	assert_int_equal(vmt_ktext_build(prof, 0, &k0), 0);
	assert_int_equal(vmt_ktext_build(prof, slide, &k1), 0);
	assert_int_equal(k0->relocs, 0);
	assert_true(k1->relocs > 10000);
	assert_int_equal(k0->len, k1->len);
	assert_memory_equal(k0->kind, k1->kind, k0->len);
	for (size_t o = 0; o + 4 <= k0->len; o++) {
		uint32_t a, b;

		if (!memcmp(k0->bytes + o, k1->bytes + o, 4))
			continue;
		memcpy(&a, k0->bytes + o, 4);
		memcpy(&b, k1->bytes + o, 4);
		if (b - a == (uint32_t)slide || a - b == (uint32_t)slide) {
			words++;
			o += 3;
		}
	}
	assert_true(words >= k1->relocs * 9 / 10);
	vmt_ktext_free(k1);

	/* A corrupt cache beside the profile is not believed: built again, the same. */
	{
		struct vmt_profile_info in;
		char name[4200];
		FILE *fp;
		int c;

		vmt_profile_info(prof, &in);
		assert_non_null(in.cache_path);
		snprintf(name, sizeof(name), "%s.ktext", in.cache_path);
		fp = fopen(name, "r+b");
		assert_non_null(fp);
		assert_int_equal(fseek(fp, 4096 + 17, SEEK_SET), 0); /* in the text bytes */
		c = fgetc(fp);
		assert_true(c >= 0);
		assert_int_equal(fseek(fp, 4096 + 17, SEEK_SET), 0);
		assert_int_equal(fputc(c ^ 0xff, fp), c ^ 0xff);
		fclose(fp);
		assert_int_equal(vmt_ktext_build(prof, 0, &k1), 0);
		assert_memory_equal(k0->bytes, k1->bytes, k0->len);
		assert_memory_equal(k0->kind, k1->kind, k0->len);
	}
	vmt_ktext_free(k0);
	vmt_ktext_free(k1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_views_agree, fake_setup, fake_teardown),
	    cmocka_unit_test_setup_teardown(test_views_hidden, fake_setup, fake_teardown),
	    cmocka_unit_test_setup_teardown(test_views_la57, fake_setup, fake_teardown),
	    cmocka_unit_test_setup_teardown(test_views_no_module_memory, fake_setup, fake_teardown),
	    cmocka_unit_test_setup_teardown(test_views_kset_loop, fake_setup, fake_teardown),
	    cmocka_unit_test_setup_teardown(test_views_tree_hostile, fake_setup, fake_teardown),
	    cmocka_unit_test_setup_teardown(test_views_scan_garbage, fake_setup, fake_teardown),
	    cmocka_unit_test_setup_teardown(test_hooks_clean_then_one, fake_setup, fake_teardown),
	    cmocka_unit_test_setup_teardown(test_hooks_module_and_idt, fake_setup, fake_teardown),
	    cmocka_unit_test_setup_teardown(test_hooks_fallback, fake_setup, fake_teardown),
	    cmocka_unit_test_setup_teardown(test_text_clean_then_modified, fake_setup,
					    fake_teardown),
	    cmocka_unit_test(test_text_relocated),
	};
	int r;

	if (!profile_load())
		return 77;
	r = cmocka_run_group_tests(tests, NULL, NULL);
	profile_unload();
	return r;
}

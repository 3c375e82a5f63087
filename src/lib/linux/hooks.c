// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * hooks.c - dispatch tables that are not what the kernel was built with.
 *
 * A rootkit that wants the guest's own ls or ps to lie points a
 * sys_call_table slot (getdents64, kill) at its own function in its module,
 * or an IDT gate at its own handler.  From outside, the expectation is the
 * kernel as built:
 *   - system-call tables: the image's own words (profile/tables.c) plus the
 *     KASLR slide; every slot compared exactly.  Without the image (profile
 *     made from guest memory) the fallback is weaker and says so
 *     (exact bit clear): each slot must be at the start of a system-call
 *     entry function (__x64_sys_*, __ia32_*, __x32_compat_sys_*,
 *     sys_ni_syscall), so a slot swapped for another syscall passes.
 *   - the IDT (idt_table) is written at boot from several init tables
 *     (idt_setup_*), not a const image: each present gate must point at an
 *     entry stub in kernel text: the start of an asm_* / entry_* symbol, or
 *     a stub inside irq_entries_start / spurious_entries_start.
 * An entry that points into a module names it ("module NAME+0xoff", from
 * every module view, so a hidden module is named too).
 *
 * Since 6.9 (and in 6.1 stable from 6.1.85, the BHI fix) x86-64 system
 * calls dispatch through x64_sys_call's switch, not sys_call_table: a
 * changed slot there no longer changes what a system call runs, but it is
 * still what a rootkit wrote and still reported.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "guest/guest_internal.h"
#include "linux/module_views.h"
#include "profile/tables.h"

#define IDT_ENTRIES	       256
#define IDT_STUB_ALIGN	       8 /* IDT_ALIGN: 8, or 16 with IBT: both multiples of 8 */
#define SYSCALL_MAX	       1024
#define EARLY_IDT_HANDLER_SIZE 9
#define ENDBR_INSN_SIZE	       4
#define FIRST_EXTERNAL_VECTOR  0x20

struct hk_ctx {
	struct vmt_guest *g;
	struct vmt_hook_list *l;
	size_t cap;
	uint64_t slide, stext, etext; /* run-time text bounds */
	struct vmt_module_list *mods; /* every module view, read on the first need */
	bool mods_read;
};

static const struct {
	const char *name;
	uint32_t bit;
} sys_tables[] = {
    {"sys_call_table", VMT_HTABLE_SYSCALL},
    {"ia32_sys_call_table", VMT_HTABLE_IA32},
    {"x32_sys_call_table", VMT_HTABLE_X32},
};

/* ------------------------------------------------------------- naming */

/* The module whose memory holds va, if any module view knows one. */
static const struct vmt_module *hk_module_at(struct hk_ctx *c, uint64_t va)
{
	if (!c->mods_read) {
		c->mods_read = true;
		if (vmt_modules_views(c->g, &c->mods))
			c->mods = NULL;
	}
	for (size_t i = 0; c->mods && i < c->mods->n; i++) {
		const struct vmt_module *m = &c->mods->mods[i];

		if (vmt_module_holds(c->g, m->kva, va) == 1)
			return m;
	}
	return NULL;
}

/* "symbol+0xoff" for a text address, "module NAME+0xoff", or "?". */
static void hk_name(struct hk_ctx *c, uint64_t va, struct vmt_hook *h)
{
	const struct vmt_module *m;
	const char *s;
	uint64_t off = 0;

	if (va >= c->stext && va < c->etext) {
		s = vmt_profile_symbol_at(c->g->prof, va - c->slide, &off);
		if (s && off)
			snprintf(h->actual_sym, sizeof(h->actual_sym), "%s+0x%llx", s,
				 (unsigned long long)off);
		else
			vmt_strlcpy(h->actual_sym, s ? s : "?", sizeof(h->actual_sym));
		return;
	}
	h->flags |= VMT_HOOK_OUTSIDE_TEXT;
	m = hk_module_at(c, va);
	if (!m) {
		vmt_strlcpy(h->actual_sym, "?", sizeof(h->actual_sym));
		return;
	}
	h->flags |= VMT_HOOK_IN_MODULE;
	snprintf(h->actual_sym, sizeof(h->actual_sym), "module %s+0x%llx", m->name,
		 (unsigned long long)(va - m->base));
}

static int hk_add(struct hk_ctx *c, const char *table, uint32_t idx, uint64_t value,
		  uint64_t expected, const char *expected_sym, uint32_t flags)
{
	struct vmt_hook *h;

	if (c->l->n == c->cap) {
		size_t cap = c->cap ? 2 * c->cap : 16;
		struct vmt_hook *p = reallocarray(c->l->hooks, cap, sizeof(*p));

		if (!p)
			return -ENOMEM;
		c->l->hooks = p;
		c->cap = cap;
	}
	h = &c->l->hooks[c->l->n++];
	memset(h, 0, sizeof(*h));
	vmt_strlcpy(h->table, table, sizeof(h->table));
	h->index = idx;
	h->value = value;
	h->expected = expected;
	vmt_strlcpy(h->expected_sym, expected_sym, sizeof(h->expected_sym));
	h->flags = flags;
	if (!(flags & VMT_HOOK_UNREADABLE))
		hk_name(c, value, h);
	if (!(h->flags & VMT_HOOK_OUTSIDE_TEXT) && !(flags & VMT_HOOK_UNREADABLE))
		h->flags |= VMT_HOOK_MISMATCH;
	return 0;
}

/* ----------------------------------------------------- system-call tables */

static bool has_prefix(const char *s, const char *p)
{
	return !strncmp(s, p, strlen(p));
}

/* Fallback: the start of some system-call entry function. */
static bool hk_syscall_like(struct hk_ctx *c, uint64_t va)
{
	static const char *const prefixes[] = {"__x64_sys_", "__ia32_sys_", "__ia32_compat_sys_",
					       "__x32_compat_sys_", "__x64_compat_sys_"};
	uint64_t off = 1;
	const char *s;

	if (va < c->stext || va >= c->etext)
		return false;
	s = vmt_profile_symbol_at(c->g->prof, va - c->slide, &off);
	if (!s || off)
		return false;
	for (size_t i = 0; i < ARRAY_SIZE(prefixes); i++)
		if (has_prefix(s, prefixes[i]))
			return true;
	return !strcmp(s, "sys_ni_syscall");
}

/*
 * Without the image: the table runs to the next symbol (bounded), less the
 * zero words of alignment padding at its end (a zeroed last slot would be
 * a crash, not a hook).
 */
static uint32_t hk_table_len_guess(struct hk_ctx *c, uint64_t base, uint64_t link)
{
	uint64_t off = 0, a, w;
	const char *name;
	size_t nsym = vmt_profile_nr_symbols(c->g->prof);
	uint32_t n = 0;

	if (!vmt_profile_symbol_at(c->g->prof, link, &off) || off)
		return 0;
	for (size_t i = 0; i < nsym && !n; i++) /* by address: the first one past the table */
		if (!vmt_profile_symbol_by_index(c->g->prof, i, &name, &a, NULL) && a > link)
			n = (uint32_t)VMT_MIN((a - link) / 8, SYSCALL_MAX);
	while (n && !vmt_kread_u64(c->g, base + (n - 1) * 8ull, &w) && !w)
		n--;
	return n;
}

static int hk_syscall_slot(struct hk_ctx *c, const char *table, uint64_t base, uint32_t i,
			   bool exact)
{
	uint64_t v, want = 0, off;
	const char *want_sym = "a system-call entry function";
	bool ok;

	c->l->checked++;
	if (vmt_kread_u64(c->g, base + i * 8ull, &v)) {
		c->l->flags |= VMT_F_PARTIAL;
		return hk_add(c, table, i, 0, 0, "", VMT_HOOK_UNREADABLE);
	}
	if (exact) {
		if (vmt_profile_table(c->g->prof, table, i, &want))
			return 0; /* cannot happen after table_len; nothing to compare */
		want += c->slide;
		ok = v == want;
		want_sym = vmt_profile_symbol_at(c->g->prof, want - c->slide, &off);
		if (!want_sym)
			want_sym = "?";
	} else {
		ok = hk_syscall_like(c, v);
	}
	return ok ? 0 : hk_add(c, table, i, v, want, want_sym, 0);
}

static int hk_syscall_table(struct hk_ctx *c, const char *table, uint32_t bit)
{
	uint64_t link, base;
	uint32_t n = 0;
	bool exact;
	int err;

	if (vmt_profile_symbol(c->g->prof, table, &link))
		return 0; /* this kernel has no such table */
	base = link + c->slide;
	exact = !vmt_profile_table_len(c->g->prof, table, &n);
	if (!exact)
		n = hk_table_len_guess(c, base, link);
	if (!n)
		return 0;
	for (uint32_t i = 0; i < n; i++) {
		err = hk_syscall_slot(c, table, base, i, exact);
		if (err)
			return err;
	}
	c->l->tables |= bit;
	if (exact)
		c->l->exact |= bit;
	return 0;
}

/* ----------------------------------------------------------------- IDT */

/*
 * Vectors 0..31 no trap handler claimed keep the stub idt_setup_early_handler
 * put there, early_idt_handler_array[v] (EARLY_IDT_HANDLER_SIZE bytes each:
 * 9, or 13 with an ENDBR64 under CONFIG_X86_KERNEL_IBT; in .init.text,
 * freed after boot: outside _stext.._etext but still what the kernel left).
 * Exactly stub v, nothing else, is accepted.
 */
static bool hk_idt_early(struct hk_ctx *c, unsigned vec, uint64_t va)
{
	uint64_t early;

	if (vec >= 32 || vmt_profile_symbol(c->g->prof, "early_idt_handler_array", &early))
		return false;
	early += c->slide;
	return va == early + vec * EARLY_IDT_HANDLER_SIZE ||
	       va == early + vec * (EARLY_IDT_HANDLER_SIZE + ENDBR_INSN_SIZE);
}

/*
 * An entry stub: an asm_* / entry_* symbol's start, external vector v's
 * stub in irq_entries_start (IDT_ALIGN 8, or 16 with IBT), or a stub in
 * spurious_entries_start.
 */
static bool hk_idt_ok(struct hk_ctx *c, unsigned vec, uint64_t va)
{
	uint64_t off = 1, nth = vec >= FIRST_EXTERNAL_VECTOR ? vec - FIRST_EXTERNAL_VECTOR : ~0ull;
	const char *s;

	if (va < c->stext || va >= c->etext)
		return hk_idt_early(c, vec, va);
	s = vmt_profile_symbol_at(c->g->prof, va - c->slide, &off);
	if (!s)
		return false;
	if (!strcmp(s, "irq_entries_start"))
		return off == nth * 8 || off == nth * 16;
	if (!strcmp(s, "spurious_entries_start"))
		return off % IDT_STUB_ALIGN == 0;
	return !off && (has_prefix(s, "asm_") || has_prefix(s, "entry_"));
}

static int hk_idt(struct hk_ctx *c)
{
	uint8_t gates[IDT_ENTRIES * 16];
	uint64_t base;
	int err;

	if (vmt_ksym(c->g, "idt_table", &base))
		return 0;
	if (vmt_kread(c->g, base, gates, sizeof(gates))) {
		c->l->flags |= VMT_F_PARTIAL;
		return 0;
	}
	for (unsigned v = 0; v < IDT_ENTRIES; v++) {
		const uint8_t *g = gates + v * 16;
		uint16_t lo, bits, mid;
		uint32_t hi;
		uint64_t h;

		memcpy(&lo, g, 2);
		memcpy(&bits, g + 4, 2);
		memcpy(&mid, g + 6, 2);
		memcpy(&hi, g + 8, 4);
		if (!(bits & 0x8000)) /* not present: the CPU raises #NP, nothing runs */
			continue;
		c->l->checked++;
		h = (uint64_t)lo | (uint64_t)mid << 16 | (uint64_t)hi << 32;
		if (hk_idt_ok(c, v, h))
			continue;
		err = hk_add(c, "idt", v, h, 0, "an entry stub (asm_*, irq_entries_start)", 0);
		if (err)
			return err;
	}
	c->l->tables |= VMT_HTABLE_IDT;
	return 0;
}

/* --------------------------------------------------------------- public */

int vmt_hooks(struct vmt_guest *g, struct vmt_hook_list **out)
{
	struct hk_ctx c = {.g = g, .slide = g->ki.virt_slide};
	int err = 0;

	*out = NULL;
	if (vmt_profile_symbol(g->prof, "_stext", &c.stext) ||
	    vmt_profile_symbol(g->prof, "_etext", &c.etext))
		return vmt_error(-ENOEXEC, "kernel profile lacks _stext/_etext");
	c.stext += c.slide;
	c.etext += c.slide;
	c.l = calloc(1, sizeof(*c.l));
	if (!c.l)
		return -ENOMEM;
	for (size_t i = 0; i < ARRAY_SIZE(sys_tables) && !err; i++)
		err = hk_syscall_table(&c, sys_tables[i].name, sys_tables[i].bit);
	if (!err)
		err = hk_idt(&c);
	vmt_module_list_free(c.mods);
	if (!err && !c.l->tables)
		err = vmt_error(-ENOENT, "neither sys_call_table nor idt_table could be checked");
	if (err) {
		vmt_hook_list_free(c.l);
		return err;
	}
	*out = c.l;
	return 0;
}

void vmt_hook_list_free(struct vmt_hook_list *l)
{
	if (!l)
		return;
	free(l->hooks);
	free(l);
}

// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * ktext_check.c - the running kernel's text against the image's.
 *
 * An inline hook (a jmp written over a function's first bytes, a changed
 * branch inside it) leaves every dispatch table alone; only the text shows
 * it.  The expectation is the image's text relocated for this boot's KASLR
 * slide, with the sites boot and run time patch (profile/ktext.c) either
 * skipped (their contents depend on the CPU, static keys, static calls) or
 * checked for what they may become.  The text is read in one piece from
 * the kernel image mapping (it is physically contiguous).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "guest/guest_internal.h"
#include "profile/ktext.h"

#define TEXT_MAX_RUNS 256
#define RUN_GAP	      8 /* differing bytes this close are one run */
#define PAGE_4K	      4096u

static const uint8_t nop5[5] = {0x0f, 0x1f, 0x44, 0x00, 0x00};
static const uint8_t ret5[5] = {0xc3, 0xcc, 0xcc, 0xcc, 0xcc};

struct tc_ctx {
	struct vmt_guest *g;
	const struct vmt_ktext *k;
	const uint8_t *mem;
	struct vmt_text_list *l;
	uint64_t slide;
	uint8_t *readable; /* per 4K page of text: could be read */
};

/* jmp rel32 to a return thunk (its_return_thunk, srso_..., retbleed_...). */
static bool tc_thunk_jmp(struct tc_ctx *c, size_t o)
{
	uint64_t target, off;
	const char *s;
	int32_t rel;

	if (c->mem[o] != 0xe9)
		return false;
	memcpy(&rel, c->mem + o + 1, 4);
	target = c->k->text + o + 5 + (uint64_t)(int64_t)rel;
	s = vmt_profile_symbol_at(c->g->prof, target, &off);
	return s && !off && strstr(s, "return_thunk");
}

/* Is the site of kind at offset o (n bytes) as the kernel may leave it? */
static bool tc_site_ok(struct tc_ctx *c, size_t o, uint8_t kind)
{
	const uint8_t *m = c->mem + o, *e = c->k->bytes + o;

	switch (kind) {
	case VMT_KT_NOP5:
		return !memcmp(m, nop5, 5);
	case VMT_KT_RET:
		return !memcmp(m, e, 5) || !memcmp(m, ret5, 5) || tc_thunk_jmp(c, o);
	case VMT_KT_LOCK:
		return *m == *e || *m == 0xf0 || *m == 0x3e;
	}
	return true;
}

static const char *tc_kind_name(uint8_t kind)
{
	switch (kind) {
	case VMT_KT_NOP5:
		return "ftrace-site";
	case VMT_KT_RET:
		return "return-site";
	case VMT_KT_LOCK:
		return "lock-prefix";
	}
	return "text";
}

static int tc_add(struct tc_ctx *c, size_t o, size_t n, uint8_t kind)
{
	struct vmt_text_list *l = c->l;
	struct vmt_text_mod *m = l->n ? &l->mods[l->n - 1] : NULL;
	uint64_t va = c->k->text + c->slide + o, off = 0;
	const char *s;

	if (m && kind == VMT_KT_CMP && !strcmp(m->kind, "text") && va <= m->va + m->len + RUN_GAP) {
		m->len = (uint32_t)(va + n - m->va);
		return 0;
	}
	l->runs++;
	if (l->n >= TEXT_MAX_RUNS)
		return 0;
	m = &l->mods[l->n++];
	memset(m, 0, sizeof(*m));
	m->va = va;
	m->len = (uint32_t)n;
	vmt_strlcpy(m->kind, tc_kind_name(kind), sizeof(m->kind));
	memcpy(m->expected, c->k->bytes + o, VMT_MIN(sizeof(m->expected), c->k->len - o));
	memcpy(m->actual, c->mem + o, VMT_MIN(sizeof(m->actual), c->k->len - o));
	s = vmt_profile_symbol_at(c->g->prof, c->k->text + o, &off);
	if (s && off)
		snprintf(m->sym, sizeof(m->sym), "%s+0x%llx", s, (unsigned long long)off);
	else
		vmt_strlcpy(m->sym, s ? s : "?", sizeof(m->sym));
	return 0;
}

/* A strict site whose bytes a free site overlaps is not checked. */
static size_t tc_site_len(const struct tc_ctx *c, size_t o, uint8_t kind)
{
	size_t n = kind == VMT_KT_LOCK ? 1 : 5;

	if (o + n > c->k->len)
		return 0;
	for (size_t i = 1; i < n; i++)
		if (c->k->kind[o + i] != VMT_KT_SKIP)
			return 0;
	return n;
}

static void tc_compare(struct tc_ctx *c)
{
	const struct vmt_ktext *k = c->k;

	for (size_t o = 0; o < k->len; o++) {
		uint8_t kind = k->kind[o];
		size_t n;

		if (!c->readable[o / PAGE_4K]) {
			o |= PAGE_4K - 1;
			continue;
		}
		if (kind == VMT_KT_ANY || kind == VMT_KT_SKIP) {
			c->l->patch_sites += kind == VMT_KT_ANY;
			continue;
		}
		c->l->compared++;
		if (kind == VMT_KT_CMP) {
			if (c->mem[o] != k->bytes[o])
				tc_add(c, o, 1, kind);
			continue;
		}
		n = tc_site_len(c, o, kind);
		if (n && !tc_site_ok(c, o, kind))
			tc_add(c, o, n, kind);
	}
}

/* The guest's text, page by page where a large read fails. */
static uint8_t *tc_read(struct tc_ctx *c)
{
	uint64_t va = c->k->text + c->slide;
	size_t len = c->k->len, pages = (len + PAGE_4K - 1) / PAGE_4K;
	uint8_t *buf = malloc(len);

	c->readable = malloc(pages);
	if (!buf || !c->readable) {
		free(buf);
		return NULL;
	}
	memset(c->readable, 1, pages);
	if (!vmt_kread(c->g, va, buf, len))
		return buf;
	for (size_t i = 0; i < pages; i++) {
		size_t n = VMT_MIN(PAGE_4K, len - i * PAGE_4K);

		if (vmt_kread(c->g, va + i * PAGE_4K, buf + i * PAGE_4K, n)) {
			c->readable[i] = 0;
			c->l->flags |= VMT_F_PARTIAL;
		}
	}
	return buf;
}

int vmt_text_check(struct vmt_guest *g, struct vmt_text_list **out)
{
	struct tc_ctx c = {.g = g, .slide = g->ki.virt_slide};
	struct vmt_ktext *k = NULL;
	uint8_t *mem;
	int err;

	*out = NULL;
	err = vmt_ktext_build(g->prof, c.slide, &k);
	if (err)
		return err;
	c.k = k;
	c.l = calloc(1, sizeof(*c.l));
	if (c.l)
		c.l->mods = calloc(TEXT_MAX_RUNS, sizeof(*c.l->mods));
	mem = c.l && c.l->mods ? tc_read(&c) : NULL;
	if (!mem) {
		vmt_text_list_free(c.l);
		free(c.readable);
		vmt_ktext_free(k);
		return -ENOMEM;
	}
	c.mem = mem;
	tc_compare(&c);
	free(mem);
	free(c.readable);
	vmt_ktext_free(k);
	*out = c.l;
	return 0;
}

void vmt_text_list_free(struct vmt_text_list *l)
{
	if (!l)
		return;
	free(l->mods);
	free(l);
}

// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * from_memory.c - the kernel profile from guest-physical memory alone.
 *
 * A running x86-64 kernel sits physically contiguous (_text .. _end, 2 MiB
 * aligned) and keeps in its read-only data everything a profile needs: the
 * kallsyms tables, linux_banner and, with CONFIG_DEBUG_INFO_BTF, the .BTF
 * section (what it serves as /sys/kernel/btf/vmlinux).  So:
 *
 *  1. one pass over RAM (vmt_physmem.scan: bulk, local pages only) looks for
 *     the kallsyms token table's tell-tale "0\0" "1\0" ... "9\0";
 *  2. around each hit, kallsyms.c decodes the tables exactly as it does in
 *     a vmlinux's .rodata (same checks: markers, token index, sorted
 *     addresses).  kallsyms_relative_base was relocated at boot, so the
 *     addresses are this boot's run-time ones;
 *  3. linux_banner - _text is where "Linux version " must be relative to a
 *     2 MiB-aligned physical _text at or below the hit: that fixes _text's
 *     physical address; __start_BTF/__stop_BTF give the BTF blob (a magic
 *     scan of the image if they are missing), which libbpf must accept;
 *  4. two images (a kexec'd or crash kernel, a copy): the running one is
 *     the one whose own init_top_pgt maps its _text to where it lies.
 *
 * The profile is cached as mem-<hash(banner, BTF checksum)>.v<N>.prof, and
 * a symlink per memory file names the profile seen there last: a second
 * open finds the banner at 2 MiB strides, compares pieces of the BTF in
 * memory with the cached blob (vmt_profile_btf_cmp), and parses nothing.
 */
#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "core/internal.h"
#include "profile/profile_priv.h"

#define FM_CHUNK	    (4u << 20)	/* scan window */
#define FM_OVERLAP	    8192	/* a token table across two windows is still seen whole */
#define FM_KS_BEFORE	    (24u << 20) /* offsets + names before the token table */
#define FM_KS_AFTER	    (8u << 20)	/* 6.4+: offsets after the token index */
#define FM_STRIDE	    (64u << 10) /* sampling: kallsyms_offsets spans several strides */
#define FM_WIN_BEFORE	    (4u << 20)	/* 6.4+: the token table is before the offsets */
#define FM_WIN_AFTER	    (12u << 20) /* <= 6.3: offsets, names, markers, seqs, then tokens */
#define FM_WINDOWS	    64		/* neighbourhoods scanned before a full scan */
#define FM_ALIGN	    (2ull << 20)
#define FM_START_KERNEL_MAP 0xffffffff80000000ull
#define BANNER_PREFIX	    "Linux version "
#define BTF_MAGIC	    0xeB9F
#define BTF_HDR_LEN	    24

static const char digits[] = "0\0"
			     "1\0"
			     "2\0"
			     "3\0"
			     "4\0"
			     "5\0"
			     "6\0"
			     "7\0"
			     "8\0"
			     "9";

struct fm_hits {
	uint64_t tok[VMT_KFIND_MAX_HITS];
	unsigned n;
	bool more;   /* hits past VMT_KFIND_MAX_HITS were ignored */
	bool banner; /* some "Linux version " was seen */
};

/* ---------------------------------------------------------------- scan */

static uint16_t rd16(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

/*
 * Cheap test of a digits hit at p (pa): tokens 0x3a..0xff follow, each a
 * short non-empty string, then (8-aligned) the u16 token index, whose
 * entry 0 is 0 and whose entries for '0' and '1' point at p.  Other tables
 * of one-character strings (keymaps, ...) fail it; kallsyms.c checks the
 * rest.  A table cut by the end of buf passes.
 */
static bool tokens_plausible(const uint8_t *p, const uint8_t *end, uint64_t pa)
{
	const uint8_t *q = p + sizeof(digits), *idx;
	uint16_t i30, i31;

	for (unsigned t = 0x3a; t < 256; t++) {
		const uint8_t *nul = memchr(q, 0, (size_t)VMT_MIN(end - q, 257));

		if (!nul)
			return end - q < 257;
		if (nul == q)
			return false;
		q = nul + 1;
	}
	idx = q + ((8 - ((pa + (uint64_t)(q - p)) & 7)) & 7);
	if (end - idx < 512)
		return true;
	i30 = rd16(idx + 2 * 0x30);
	i31 = rd16(idx + 2 * 0x31);
	return rd16(idx) == 0 && i31 == i30 + 2 && ((pa - i30) & 7) == 0;
}

static void hits_in(const uint8_t *buf, size_t len, size_t limit, uint64_t pa, struct fm_hits *h)
{
	const uint8_t *p = buf, *end = buf + len;

	for (; (p = memmem(p, (size_t)(end - p), digits, sizeof(digits))) && p < buf + limit; p++) {
		uint64_t at = pa + (uint64_t)(p - buf);
		bool seen = false;

		if (!tokens_plausible(p, end, at))
			continue;
		for (unsigned i = 0; i < h->n; i++)
			seen |= h->tok[i] == at;
		if (seen)
			continue;
		if (h->n < VMT_KFIND_MAX_HITS)
			h->tok[h->n++] = at;
		else
			h->more = true;
	}
	if (!h->banner) {
		p = memmem(buf, len, BANNER_PREFIX, strlen(BANNER_PREFIX));
		h->banner = p && p < buf + limit;
	}
}

/* Step 1: a bulk pass over [lo, hi) of RAM. */
static int scan_range(const struct vmt_physmem *pm, uint64_t lo, uint64_t hi, struct fm_hits *h)
{
	uint8_t *buf = malloc(FM_CHUNK + FM_OVERLAP);
	int err = 0;

	if (!buf)
		return vmt_error(-ENOMEM, "out of memory scanning guest memory");
	for (uint64_t pa = lo; pa < hi && !err; pa += FM_CHUNK) {
		size_t len = (size_t)VMT_MIN(FM_CHUNK + FM_OVERLAP, pm->size - pa);

		err = pm->scan(pm->ctx, pa, buf, len);
		if (err)
			err = vmt_error(err, "scanning guest memory at %#llx: %s",
					(unsigned long long)pa, vmt_last_error());
		else
			hits_in(buf, len, VMT_MIN(len, FM_CHUNK), pa, h);
	}
	free(buf);
	return err;
}

/*
 * Does this page look like a piece of kallsyms_offsets: 1024 s32 that only
 * go down (per-cpu relative encoding) or only up (plain relative), in small
 * steps, mostly changing?  A cheap sieve for where the kernel is; false
 * positives only cost a scan of their neighbourhood.
 */
static bool offsets_like(const uint8_t *p)
{
	unsigned inc = 0, dec = 0, moved = 0;
	int32_t prev, v;

	memcpy(&prev, p, sizeof(prev));
	for (unsigned i = 1; i < 1024; i++) {
		int64_t d;

		memcpy(&v, p + 4 * i, sizeof(v));
		d = (int64_t)v - prev;
		inc += d >= 0 && d < (1 << 20);
		dec += d <= 0 && d > -(1 << 20);
		moved += d != 0;
		prev = v;
	}
	return (inc == 1023 || dec == 1023) && moved >= 768;
}

/* ------------------------------------------------------------ one image */

static const struct vmt_ksym *ks_find(const struct vmt_ksyms *ks, const char *name)
{
	for (size_t i = 0; i < ks->n; i++)
		if (!strcmp(ks->names + ks->syms[i].name, name))
			return &ks->syms[i];
	return NULL;
}

/* Step 2: the kallsyms tables around the token table hit at tok_pa (budget: kallsyms steps). */
static int cand_kallsyms(const struct vmt_physmem *pm, uint64_t tok_pa, struct vmt_kfound *k,
			 uint64_t *budget)
{
	uint64_t ws = tok_pa > FM_KS_BEFORE ? (tok_pa - FM_KS_BEFORE) & ~7ull : 0;
	uint64_t we = VMT_MIN(tok_pa + FM_KS_AFTER, pm->size);
	struct vmt_region r = {.len = (size_t)(we - ws), .va = ws}; /* PA = VA mod 2 MiB */
	uint8_t *buf = malloc(r.len);
	int err;

	if (!buf)
		return vmt_error(-ENOMEM, "out of memory reading kallsyms");
	err = pm->scan(pm->ctx, ws, buf, r.len);
	r.data = buf;
	if (!err)
		err = vmt_kallsyms_recover_budget(&r, &k->ks, budget);
	free(buf);
	k->tok_pa = tok_pa;
	return err;
}

/* Is the banner at pa a whole "Linux version ...\n" string?  Copy it to k. */
static bool banner_at(const struct vmt_physmem *pm, uint64_t pa, struct vmt_kfound *k)
{
	char b[VMT_KFIND_BANNER_MAX];
	size_t n, avail = (size_t)VMT_MIN(sizeof(b), pm->size - pa);

	if (pa >= pm->size || avail < sizeof(BANNER_PREFIX) ||
	    pm->read(pm->ctx, pa, b, sizeof(BANNER_PREFIX) - 1) ||
	    memcmp(b, BANNER_PREFIX, sizeof(BANNER_PREFIX) - 1) || pm->read(pm->ctx, pa, b, avail))
		return false;
	n = strnlen(b, avail);
	if (n == avail || n < sizeof(BANNER_PREFIX))
		return false;
	for (size_t i = 0; i < n; i++)
		if ((b[i] < 0x20 || b[i] > 0x7e) && b[i] != '\n')
			return false;
	memcpy(k->banner, b, n + 1);
	k->banner_pa = pa;
	return true;
}

/* Step 3a: physical _text: 2 MiB aligned, at most _end - _text below the hit. */
static int cand_locate(const struct vmt_physmem *pm, struct vmt_kfound *k)
{
	const struct vmt_ksym *t = ks_find(&k->ks, "_text"), *e = ks_find(&k->ks, "_end"),
			      *b = ks_find(&k->ks, "linux_banner");
	uint64_t load;

	if (!t || !e || !b)
		return vmt_error(-EBADMSG, "kallsyms at %#llx lacks _text, _end or linux_banner",
				 (unsigned long long)k->tok_pa);
	if (e->addr <= t->addr || e->addr - t->addr > VMT_KFIND_IMAGE_MAX || b->addr < t->addr ||
	    b->addr >= e->addr)
		return vmt_error(-EBADMSG, "kallsyms at %#llx: implausible _text/_end",
				 (unsigned long long)k->tok_pa);
	k->text = t->addr;
	k->end = e->addr;
	for (load = k->tok_pa & ~(FM_ALIGN - 1); load + (k->end - k->text) > k->tok_pa;
	     load -= FM_ALIGN) {
		if (banner_at(pm, load + (b->addr - t->addr), k)) {
			k->text_pa = load;
			return 0;
		}
		if (load < FM_ALIGN)
			break;
	}
	return vmt_error(-EBADMSG, "kallsyms at %#llx, but no linux_banner where it says",
			 (unsigned long long)k->tok_pa);
}

/* A BTF header at p (len >= BTF_HDR_LEN bytes follow): the blob's whole length, or 0. */
static size_t btf_hdr_len(const uint8_t *p)
{
	uint32_t h[6];
	uint64_t types, strs;

	memcpy(h, p, sizeof(h));
	/* magic + version 1 + flags 0, hdr_len; type_off, type_len, str_off, str_len */
	if ((h[0] & 0xffffff) != (BTF_MAGIC | 1u << 16) || h[1] != BTF_HDR_LEN || !h[5])
		return 0;
	types = (uint64_t)h[2] + h[3];
	strs = (uint64_t)h[4] + h[5];
	return (size_t)VMT_MIN(BTF_HDR_LEN + VMT_MAX(types, strs), (uint64_t)VMT_KFIND_BTF_MAX + 1);
}

/* The whole blob: its header's length fits, and the strings start with "" (type 0's name). */
static bool btf_blob_ok(const uint8_t *p, size_t len)
{
	uint32_t str_off;
	size_t n;

	if (len < BTF_HDR_LEN)
		return false;
	n = btf_hdr_len(p);
	memcpy(&str_off, p + 16, sizeof(str_off));
	return n && n <= len && (uint64_t)BTF_HDR_LEN + str_off < len && !p[BTF_HDR_LEN + str_off];
}

/* No __start_BTF: the first sane BTF header in the image. */
static int btf_scan(const struct vmt_physmem *pm, struct vmt_kfound *k)
{
	uint64_t size = k->end - k->text;
	uint8_t *buf = malloc(FM_CHUNK + BTF_HDR_LEN);
	int err = -ENOENT;

	if (!buf)
		return -ENOMEM;
	for (uint64_t off = 0; off < size && err == -ENOENT; off += FM_CHUNK) {
		size_t len = (size_t)VMT_MIN(FM_CHUNK + BTF_HDR_LEN, size - off);

		if (pm->scan(pm->ctx, k->text_pa + off, buf, len))
			break;
		for (size_t i = 0; i + BTF_HDR_LEN <= len && i < FM_CHUNK; i += 4) {
			size_t n = btf_hdr_len(buf + i);

			if (n && n <= VMT_KFIND_BTF_MAX && off + i + n <= size) {
				k->btf_pa = k->text_pa + off + i;
				k->btf_len = n;
				err = 0;
				break;
			}
		}
	}
	free(buf);
	return err;
}

/* Step 3b: the .BTF blob's place and length. */
static int cand_btf_place(const struct vmt_physmem *pm, struct vmt_kfound *k)
{
	const struct vmt_ksym *s = ks_find(&k->ks, "__start_BTF"),
			      *e = ks_find(&k->ks, "__stop_BTF");

	if (s && e && s->addr >= k->text && e->addr > s->addr && e->addr <= k->end &&
	    e->addr - s->addr <= VMT_KFIND_BTF_MAX) {
		k->btf_pa = k->text_pa + (s->addr - k->text);
		k->btf_len = (size_t)(e->addr - s->addr);
		return 0;
	}
	if (s || e)
		return vmt_error(-EBADMSG,
				 "__start_BTF/__stop_BTF of the kernel at %#llx are "
				 "implausible",
				 (unsigned long long)k->text_pa);
	return btf_scan(pm, k);
}

static int cand_btf(const struct vmt_physmem *pm, struct vmt_kfound *k)
{
	int err = cand_btf_place(pm, k);

	if (err == -ENOENT)
		return vmt_error(-ENOEXEC,
				 "the guest's kernel (%.*s) has no BTF (CONFIG_DEBUG_INFO_BTF), so "
				 "its struct layouts are unknown: pass --kernel with its vmlinuz "
				 "or vmlinux",
				 (int)strcspn(k->banner, "\n"), k->banner);
	if (err)
		return err;
	k->btf = malloc(k->btf_len);
	if (!k->btf)
		return vmt_error(-ENOMEM, "out of memory reading BTF");
	err = pm->read(pm->ctx, k->btf_pa, k->btf, k->btf_len);
	if (err)
		return vmt_error(err,
				 "cannot read the kernel's BTF at %#llx (%zu bytes): pass --kernel "
				 "with the guest's vmlinuz",
				 (unsigned long long)k->btf_pa, k->btf_len);
	if (!btf_blob_ok(k->btf, k->btf_len))
		return vmt_error(-EBADMSG,
				 "no valid BTF header at %#llx (__start_BTF): the guest's BTF is "
				 "corrupt; pass --kernel with its vmlinuz",
				 (unsigned long long)k->btf_pa);
	return 0;
}

/* A u64 kernel-image variable of the candidate, by symbol. */
static int image_u64(const struct vmt_physmem *pm, const struct vmt_kfound *k, const char *name,
		     uint64_t *v)
{
	const struct vmt_ksym *s = ks_find(&k->ks, name);

	if (!s || s->addr < k->text || s->addr + 8 > k->end)
		return -ENOENT;
	return pm->read(pm->ctx, k->text_pa + (s->addr - k->text), v, sizeof(*v));
}

/*
 * The KASLR offset, from vmcoreinfo (CONFIG_CRASH_CORE): the page that
 * vmcoreinfo_data points to (direct map) holds "KERNELOFFSET=<hex>\n".
 * With it the profile stores link-time addresses, the same as a vmlinuz's,
 * and reports the real slide.
 */
static void cand_offset(const struct vmt_physmem *pm, struct vmt_kfound *k)
{
	char page[4097], *p, *end;
	uint64_t va, base, off;

	if (image_u64(pm, k, "vmcoreinfo_data", &va) ||
	    image_u64(pm, k, "page_offset_base", &base) || va < base || va - base >= pm->size ||
	    (va & 4095) || pm->read(pm->ctx, va - base, page, 4096))
		return;
	page[4096] = '\0';
	p = memmem(page, 4096, "\nKERNELOFFSET=", 14);
	if (!p)
		return;
	off = strtoull(p + 14, &end, 16);
	/* KASLR moves the kernel within the 1 GiB text mapping, in 2 MiB steps. */
	if (*end != '\n' || off >= (1ull << 30) || off & (FM_ALIGN - 1) ||
	    k->text - off < FM_START_KERNEL_MAP)
		return;
	k->kaslr_offset = off;
	k->have_offset = true;
}

void vmt_kfind_unslide(struct vmt_kfound *k)
{
	if (!k->have_offset)
		return;
	for (size_t i = 0; i < k->ks.n; i++)
		if (k->ks.syms[i].addr >=
		    0xffff800000000000ull) /* not an absolute per-cpu offset */
			k->ks.syms[i].addr -= k->kaslr_offset;
	k->text -= k->kaslr_offset;
	k->end -= k->kaslr_offset;
	k->have_offset = false;
}

/* Step 4: does the candidate's own init_top_pgt map its _text to it? */
static void cand_running(const struct vmt_physmem *pm, struct vmt_kfound *k)
{
	const struct vmt_ksym *pgt = ks_find(&k->ks, "init_top_pgt");

	k->running = pm->maps && pgt && pgt->addr >= k->text && pgt->addr < k->end &&
		     pm->maps(pm->ctx, k->text_pa + (pgt->addr - k->text), k->text, k->text_pa);
}

/* ------------------------------------------------------------ the pick */

void vmt_kfound_free(struct vmt_kfound *k)
{
	if (!k)
		return;
	vmt_ksyms_free(&k->ks);
	free(k->btf);
	memset(k, 0, sizeof(*k));
}

/* Steps 2-4 for one hit; k holds the candidate on success. */
static int cand_try(const struct vmt_physmem *pm, uint64_t tok_pa, struct vmt_kfound *k,
		    uint64_t *budget)
{
	int err = cand_kallsyms(pm, tok_pa, k, budget);

	if (!err)
		err = cand_locate(pm, k);
	if (!err)
		err = cand_btf(pm, k);
	if (!err) {
		cand_running(pm, k);
		cand_offset(pm, k);
	}
	return err;
}

/* Why no candidate was taken: the error of the most telling failure. */
static int kfind_none(const struct fm_hits *h, int err, const char *why, const char *name)
{
	if (!h->n && !h->banner)
		return vmt_error(-ENOENT,
				 "no Linux kernel found in %s (no kernel banner, no kallsyms "
				 "tables: not the RAM of a running Linux guest?)",
				 name);
	if (!h->n)
		return vmt_error(
		    -ENOEXEC,
		    "%s holds a \"Linux version\" string but no kallsyms tables "
		    "(CONFIG_KALLSYMS_ALL off?): pass --kernel with the guest's vmlinuz",
		    name);
	if (err == -ENOEXEC || err == -ENOMEM)
		return vmt_error(err, "%s", why);
	return vmt_error(-EBADMSG, "no usable kernel image in %s: %s", name, why);
}

struct fm_search {
	const struct vmt_physmem *pm;
	struct fm_hits h;
	unsigned tried; /* h.tok[0, tried) were examined */
	struct vmt_kfound best;
	int last;			     /* error of the last rejected candidate */
	uint64_t budget;		     /* kallsyms steps left for every window together */
	uint64_t win[VMT_KFIND_MAX_HITS][2]; /* windows decoded: kallsyms tried every hit in them */
	unsigned nwin;
	char why[512];
};

/* Was tok inside a window kallsyms.c searched already (it tries every table in one)? */
static bool searched(const struct fm_search *s, uint64_t tok)
{
	for (unsigned i = 0; i < s->nwin; i++)
		if (tok >= s->win[i][0] && tok < s->win[i][1])
			return true;
	return false;
}

/* Keep k if it is the first, or the running one. */
static void consider(struct fm_search *s, struct vmt_kfound *k)
{
	pr_info("kernel image at phys %#llx (kallsyms at %#llx): %s",
		(unsigned long long)k->text_pa, (unsigned long long)k->tok_pa,
		k->running ? "running: its own init_top_pgt maps its _text there"
			   : "not running: its page tables do not map its _text there (a copy, "
			     "or a kernel loaded but not booted)");
	if (!s->best.ks.n || k->running) {
		vmt_kfound_free(&s->best);
		s->best = *k;
	} else {
		vmt_kfound_free(k);
	}
}

/* Examine the hits not tried yet, until one is the running kernel. */
static void try_hits(struct fm_search *s)
{
	for (; s->tried < s->h.n && !s->best.running && s->last != -ENOMEM; s->tried++) {
		uint64_t tok = s->h.tok[s->tried];
		struct vmt_kfound k = {0};

		if (s->best.ks.n && tok - s->best.text_pa < s->best.end - s->best.text)
			continue; /* inside the image already taken */
		if (searched(s, tok))
			continue;
		s->last = cand_try(s->pm, tok, &k, &s->budget);
		s->win[s->nwin][0] = tok > FM_KS_BEFORE ? (tok - FM_KS_BEFORE) & ~7ull : 0;
		s->win[s->nwin++][1] = tok + FM_KS_AFTER;
		if (!s->last) {
			consider(s, &k);
			continue;
		}
		vmt_strlcpy(s->why, vmt_last_error(), sizeof(s->why));
		pr_debug("kernel candidate at %#llx rejected: %s", (unsigned long long)tok, s->why);
		vmt_kfound_free(&k);
	}
}

/*
 * Fast path: read one page per FM_STRIDE; where one looks like
 * kallsyms_offsets, scan its neighbourhood for the token table.  Stops at
 * the running kernel, so most of RAM is never read.
 */
static int search_sampled(struct fm_search *s)
{
	const struct vmt_physmem *pm = s->pm;
	uint64_t done_to = 0;
	unsigned windows = 0;
	uint8_t page[4096];
	int err = 0;

	for (uint64_t pa = 0; pa + sizeof(page) <= pm->size && !s->best.running && !err;
	     pa += FM_STRIDE) {
		uint64_t lo = pa > FM_WIN_BEFORE ? pa - FM_WIN_BEFORE : 0;

		if (pa < done_to || pm->scan(pm->ctx, pa, page, sizeof(page)) ||
		    !offsets_like(page))
			continue;
		if (++windows > FM_WINDOWS)
			break;
		lo = VMT_MAX(lo, done_to);
		done_to = VMT_MIN(pa + FM_WIN_AFTER, pm->size);
		err = scan_range(pm, lo, done_to, &s->h);
		try_hits(s);
	}
	return err;
}

int vmt_kfind(const struct vmt_physmem *pm, struct vmt_kfound *out)
{
	struct fm_search s = {.pm = pm, .budget = VMT_KFIND_WORK};
	int err = search_sampled(&s);

	/* Not found that way (or only a copy): every byte of RAM. */
	if (!err && !s.best.running && s.last != -ENOMEM) {
		err = scan_range(pm, 0, pm->size, &s.h);
		try_hits(&s);
	}
	if (err || !s.best.ks.n) {
		vmt_kfound_free(&s.best);
		return err ? err
			   : kfind_none(&s.h, s.last, s.why, pm->name ? pm->name : "guest memory");
	}
	if (!s.best.running)
		pr_warn("no kernel image in memory is confirmed by its own page tables; taking the "
			"one at phys %#llx",
			(unsigned long long)s.best.text_pa);
	*out = s.best;
	return 0;
}

uint64_t vmt_profile_btf_hash(const void *btf, size_t len)
{
	return vmt_hash64(btf, len, VMT_PSEC_BTF);
}

uint64_t vmt_kfind_key(const char *banner, uint64_t btf_csum)
{
	return vmt_hash64(banner, strlen(banner), btf_csum);
}

/* ---------------------------------------------------------- the profile */

struct fm_names {
	char *dir;
	char hint[4096]; /* memhint-<hash(memory file)>.v<N>: symlink to the profile seen there */
	char file[4096];
	char base[64];
};

static int names_init(struct fm_names *n, const char *cache_dir, const char *mem_name)
{
	char real[PATH_MAX];
	const char *key = mem_name ? mem_name : "";
	int err = vmt_cache_dir(cache_dir, &n->dir);

	if (err)
		return err;
	if (mem_name && realpath(mem_name, real))
		key = real;
	if ((size_t)snprintf(n->hint, sizeof(n->hint), "%s/memhint-%016llx.v%d", n->dir,
			     (unsigned long long)vmt_hash64(key, strlen(key), 0),
			     VMT_PROF_VERSION) >= sizeof(n->hint))
		return vmt_error(-ENAMETOOLONG, "cache directory name too long: %s", n->dir);
	return 0;
}

static void names_key(struct fm_names *n, uint64_t key)
{
	snprintf(n->base, sizeof(n->base), "mem-%016llx.v%d.prof", (unsigned long long)key,
		 VMT_PROF_VERSION);
	snprintf(n->file, sizeof(n->file), "%s/%s", n->dir, n->base);
}

static const char *const origin_parts[] = {"text", "kallsyms", "banner", "btf"};

static int origin_put(struct vmt_profile *p, const struct vmt_kfound *k)
{
	const uint64_t pa[] = {k->text_pa, k->tok_pa, k->banner_pa, k->btf_pa};
	char key[64];
	uint32_t len;

	for (size_t i = 0; i < ARRAY_SIZE(origin_parts); i++) {
		struct vmt_memo_val v = {.a = pa[i]};
		int err =
		    vmt_memo_key(key, sizeof(key), VMT_MEMO_ORIGIN, "mem", origin_parts[i], &len);

		if (!err)
			err = vmt_memo_put(&p->memo, key, len, &v, false);
		if (err)
			return vmt_error(-ENOMEM, "out of memory building the profile");
	}
	return 0;
}

void vmt_kfind_origin(const struct vmt_profile *p, struct vmt_profile_info *info)
{
	uint64_t *out[] = {&info->mem_text_pa, &info->mem_kallsyms_pa, &info->mem_banner_pa,
			   &info->mem_btf_pa};
	char key[64];
	uint32_t len;

	info->source = VMT_PROFILE_FROM_IMAGE;
	for (size_t i = 0; i < ARRAY_SIZE(origin_parts); i++) {
		const struct vmt_memo_val *v;

		if (vmt_memo_key(key, sizeof(key), VMT_MEMO_ORIGIN, "mem", origin_parts[i], &len))
			return;
		v = vmt_memo_get(&p->memo, key, len);
		if (!v)
			return;
		*out[i] = v->a;
		info->source = VMT_PROFILE_FROM_MEMORY;
	}
}

/* Forget a cache mapping that turned out not to be this guest's. */
static void profile_unload(struct vmt_profile *p)
{
	vmt_memo_clear(&p->memo);
	if (p->map)
		munmap(p->map, p->map_len);
	p->map = NULL;
	memset(&p->v, 0, sizeof(p->v));
	p->from_cache = false;
}

#define BTF_PIECES 16
#define BTF_PIECE  4096

int vmt_profile_btf_cmp(const struct vmt_profile *p, const struct vmt_physmem *pm, uint64_t pa)
{
	size_t len = p->v.btf_len;
	uint8_t buf[BTF_PIECE];

	if (!len)
		return 1;
	for (unsigned i = 0; i < BTF_PIECES; i++) {
		size_t off = len <= BTF_PIECE
				 ? 0
				 : (size_t)((uint64_t)(len - BTF_PIECE) * i / (BTF_PIECES - 1));
		size_t n = VMT_MIN((size_t)BTF_PIECE, len - off);
		int err = pm->read(pm->ctx, pa + off, buf, n);

		if (err)
			return err;
		if (memcmp(buf, p->v.btf + off, n))
			return 1;
	}
	return 0;
}

/* Does memory still hold the kernel of the profile p (banner at 2 MiB strides, then BTF)? */
static int hint_check(struct vmt_profile *p, const struct vmt_physmem *pm)
{
	struct vmt_profile_info in;
	const char *want = vmt_profile_banner(p);
	size_t len = strlen(want) + 1;
	char buf[VMT_KFIND_BANNER_MAX];
	uint64_t boff, btfoff;

	vmt_profile_info(p, &in);
	if (in.source != VMT_PROFILE_FROM_MEMORY || len > sizeof(buf) || !p->v.btf_len ||
	    in.mem_banner_pa < in.mem_text_pa || in.mem_btf_pa < in.mem_text_pa)
		return -ENOENT;
	boff = in.mem_banner_pa - in.mem_text_pa;
	btfoff = in.mem_btf_pa - in.mem_text_pa;
	for (uint64_t t = 0; t + boff + len <= pm->size && t + boff >= t; t += FM_ALIGN) {
		if (pm->read(pm->ctx, t + boff, buf, len) || memcmp(buf, want, len))
			continue;
		if (!vmt_profile_btf_cmp(p, pm, t + btfoff))
			return 0;
	}
	return -ENOENT;
}

/* Warm path: the profile this memory file held last time, if it still does. */
static int from_hint(struct vmt_profile *p, const struct vmt_physmem *pm, struct fm_names *n)
{
	ssize_t len = readlink(n->hint, n->base, sizeof(n->base) - 1);

	if (len <= 0 || (size_t)len >= sizeof(n->base) - 1)
		return -ENOENT;
	n->base[len] = '\0';
	if (strchr(n->base, '/') || strncmp(n->base, "mem-", 4))
		return -ENOENT;
	snprintf(n->file, sizeof(n->file), "%s/%s", n->dir, n->base);
	if (vmt_profile_cache_open(p, n->file, UINT64_MAX))
		return -ENOENT;
	if (hint_check(p, pm)) {
		pr_info("profile %s: memory holds another kernel now", n->file);
		profile_unload(p);
		return -ENOENT;
	}
	p->cache_path = strdup(n->file);
	return p->cache_path ? 0 : -ENOMEM;
}

/* The BTF libbpf accepts, or an error that names the way out. */
static int btf_parse(struct vmt_profile *p, const struct vmt_kfound *k)
{
	p->btf = vmt_btf_new(k->btf, k->btf_len);
	if (p->btf)
		return 0;
	return vmt_error(
	    -EBADMSG,
	    "the guest kernel's BTF at %#llx (%zu bytes) is corrupt (%s): pass --kernel "
	    "with its vmlinuz",
	    (unsigned long long)k->btf_pa, k->btf_len, vmt_last_error());
}

/* Cold path: find the kernel, then its profile by key, or build and store it. */
static int from_scan(struct vmt_profile *p, const struct vmt_physmem *pm, struct fm_names *n,
		     bool rebuild)
{
	struct vmt_kfound k;
	uint64_t key;
	int err = vmt_kfind(pm, &k);

	if (err)
		return err;
	key = vmt_kfind_key(k.banner, vmt_hash64(k.btf, k.btf_len, VMT_PSEC_BTF));
	if (n) {
		names_key(n, key);
		if (!rebuild && !vmt_profile_cache_open(p, n->file, k.end - k.text)) {
			p->cache_path = strdup(n->file);
			goto out;
		}
	}
	err = btf_parse(p, &k);
	if (!err)
		err = origin_put(p, &k);
	vmt_kfind_unslide(&k);
	if (!err)
		err =
		    vmt_profile_assemble(p, &k.ks, k.banner, k.btf, k.btf_len, key, k.end - k.text);
	if (err || !n)
		goto out;
	if (vmt_cache_write(n->file, p->buf, p->v.hdr->file_size))
		pr_warn("profile not cached: %s", vmt_last_error());
	else
		p->cache_path = strdup(n->file);
	p->memo.nr_new = 0; /* written with the file */
out:
	vmt_kfound_free(&k);
	return err;
}

static int mem_opts_check(const struct vmt_physmem *pm, const struct vmt_profile_mem_opts *o)
{
	if (!o || o->sz < offsetof(struct vmt_profile_mem_opts, rebuild) + sizeof(o->rebuild))
		return vmt_error(-EINVAL, "profile options missing or opts.sz not set");
	if (!pm || !pm->scan || !pm->read || !pm->size)
		return vmt_error(-EINVAL, "no guest memory to find a kernel in");
	return 0;
}

struct vmt_profile *vmt_profile_from_memory(const struct vmt_physmem *pm,
					    const struct vmt_profile_mem_opts *o)
{
	struct fm_names n = {0}, *np = NULL;
	double t0 = vmt_profile_now_ms();
	struct vmt_profile *p = NULL;
	int err = mem_opts_check(pm, o);

	if (!err && !(p = calloc(1, sizeof(*p))))
		err = vmt_error(-ENOMEM, "out of memory");
	if (err)
		goto fail;
	if (!o->no_cache) {
		if (!names_init(&n, o->cache_dir, pm->name))
			np = &n;
		else
			pr_warn("profile cache disabled: %s", vmt_last_error());
	}
	err = np && !o->rebuild ? from_hint(p, pm, np) : -ENOENT;
	if (err == -ENOENT) {
		err = from_scan(p, pm, np, o->rebuild);
		if (!err && np && p->cache_path && vmt_cache_link(n.hint, n.base))
			pr_warn("%s", vmt_last_error());
	}
	free(n.dir);
	if (err)
		goto fail;
	p->load_ms = vmt_profile_now_ms() - t0;
	return p;
fail:
	vmt_profile_free(p);
	errno = -err;
	return NULL;
}

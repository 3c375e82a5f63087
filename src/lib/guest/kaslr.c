// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * kaslr.c - find the running kernel in guest-physical memory, from memory
 * alone (no nokaslr, no CR3 from the hypervisor).
 *
 * 1. Physical slide: the kernel image is loaded at a CONFIG_PHYSICAL_ALIGN
 *    (2 MiB) boundary, so linux_banner sits at load + (linux_banner - _text).
 *    Probing each 2 MiB candidate costs one page read per candidate.
 * 2. Virtual slide: the kernel's own phys_base variable satisfies
 *    __pa_symbol(x) = x - __START_KERNEL_map + phys_base, which gives the
 *    run-time _text from the load address.
 * 3. Paging mode from __pgtable_l5_enabled; the kernel page tables are
 *    init_top_pgt.  The result is cross-checked by walking those tables:
 *    _text must translate back to the load address.
 * 4. page_offset_base / vmemmap_base (CONFIG_RANDOMIZE_MEMORY) are read from
 *    their variables; without them the fixed defaults apply.
 */
#include <stdio.h>
#include <string.h>

#include "guest/guest_internal.h"

#define KERNEL_ALIGN  (2ull << 20)
#define BANNER_PREFIX "Linux version "

struct kaslr_syms {
	uint64_t text, end, banner, phys_base, top_pgt, l5, page_offset, vmemmap;
	bool have_l5, have_page_offset, have_vmemmap;
};

static int kaslr_syms_get(struct vmt_profile *p, struct kaslr_syms *s)
{
	if (vmt_profile_symbol(p, "_text", &s->text) || vmt_profile_symbol(p, "_end", &s->end) ||
	    vmt_profile_symbol(p, "linux_banner", &s->banner) ||
	    vmt_profile_symbol(p, "phys_base", &s->phys_base) ||
	    vmt_profile_symbol(p, "init_top_pgt", &s->top_pgt))
		return vmt_error(-ENOEXEC, "kernel profile lacks the symbols _text, _end, "
					   "linux_banner, phys_base or init_top_pgt");
	if (s->end <= s->text || s->end - s->text > (1ull << 30) || s->banner < s->text ||
	    s->banner >= s->end)
		return vmt_error(-ENOEXEC, "kernel profile has an implausible image layout");
	s->have_l5 = !vmt_profile_symbol(p, "__pgtable_l5_enabled", &s->l5);
	s->have_page_offset = !vmt_profile_symbol(p, "page_offset_base", &s->page_offset);
	s->have_vmemmap = !vmt_profile_symbol(p, "vmemmap_base", &s->vmemmap);
	return 0;
}

/* Describe what memory holds where a banner should be, for the error text. */
static void banner_describe(const char *mem, char *out, size_t cap)
{
	size_t n = strnlen(mem, cap - 1);
	const char *nl = memchr(mem, '\n', n);

	if (nl)
		n = (size_t)(nl - mem);
	snprintf(out, cap, "%.*s", (int)n, mem);
}

/*
 * Step 1: the next load address at or after *load whose banner matches the
 * profile's.  A match may be stale (a copy left by an earlier boot), so the
 * caller goes on to the next one when the later steps fail.
 */
static int kaslr_find_load(struct vmt_guest *g, const struct kaslr_syms *s, bool local,
			   uint64_t *load)
{
	const char *want = vmt_profile_banner(g->prof);
	size_t len = strlen(want);
	uint64_t off = s->banner - s->text, ram_end = vmt_mem_ram_end(g->mem);
	char buf[256], other[160] = "", unread[192] = "";
	int rerr = 0;

	if (len == 0 || len >= sizeof(buf))
		return vmt_error(-ENOEXEC, "kernel profile has no usable banner");
	for (uint64_t cand = *load; cand + off + len <= ram_end; cand += KERNEL_ALIGN) {
		int err = local ? vmt_mem_read_local(g->mem, cand + off, buf, len)
				: vmt_mem_read(g->mem, cand + off, buf, len);

		/* A probe a split VM's sub-host could not serve may be the kernel's. */
		if (err && !local && err != -EFAULT && err != -ENODATA && !rerr) {
			rerr = err;
			vmt_strlcpy(unread, vmt_last_error(), sizeof(unread));
		}
		if (err)
			continue;
		if (!memcmp(buf, want, len)) {
			*load = cand;
			return 0;
		}
		if (!other[0] && !memcmp(buf, BANNER_PREFIX, strlen(BANNER_PREFIX))) {
			buf[len] = '\0';
			banner_describe(buf, other, sizeof(other));
		}
	}
	if (other[0]) {
		banner_describe(want, buf, sizeof(buf));
		return vmt_error(-ENOEXEC,
				 "kernel profile does not match the guest: memory runs \"%s\", "
				 "the profile is for \"%s\"; pass the guest's own vmlinuz",
				 other, buf);
	}
	if (rerr)
		return vmt_error(rerr,
				 "no Linux kernel found in the memory that could be read; "
				 "some could not: %s",
				 unread);
	return vmt_error(-ENOENT, "no Linux kernel matching the profile found in memory "
				  "(not a QEMU RAM file of this guest, or a different kernel)");
}

static int kaslr_check_paging(struct vmt_guest *g, int levels)
{
	uint64_t pa;

	vmt_x86_set_levels(g->mmu, levels);
	if (vmt_x86_translate(g->mmu, g->ki.kernel_pgd, g->text_va, &pa, NULL))
		return -EFAULT;
	return pa == g->ki.phys_load ? 0 : -EFAULT;
}

/* Step 3: 4- or 5-level paging, cross-checked against the page tables. */
static int kaslr_find_paging(struct vmt_guest *g, const struct kaslr_syms *s)
{
	uint32_t l5 = 0;
	int first = 4;

	if (s->have_l5 && !vmt_mem_read(g->mem, vmt_guest_image_pa(g, s->l5), &l5, sizeof(l5)))
		first = l5 ? 5 : 4;
	if (!kaslr_check_paging(g, first)) {
		g->ki.paging_levels = first;
		return 0;
	}
	if (!kaslr_check_paging(g, first == 4 ? 5 : 4)) {
		g->ki.paging_levels = first == 4 ? 5 : 4;
		return 0;
	}
	return vmt_error(-EBADMSG, "kernel page tables at 0x%llx do not map _text to 0x%llx",
			 (unsigned long long)g->ki.kernel_pgd, (unsigned long long)g->ki.phys_load);
}

static uint64_t kaslr_read_base(struct vmt_guest *g, bool have, uint64_t sym, uint64_t dflt)
{
	uint64_t v;

	if (have && !vmt_mem_read(g->mem, vmt_guest_image_pa(g, sym), &v, sizeof(v)) &&
	    vmt_kptr_ok(v))
		return v;
	return dflt;
}

/* Step 4: direct map and vmemmap bases; the direct map must map the kernel. */
static int kaslr_find_bases(struct vmt_guest *g, const struct kaslr_syms *s)
{
	bool l5 = g->ki.paging_levels == 5;
	uint64_t pa;

	g->ki.page_offset = kaslr_read_base(g, s->have_page_offset, s->page_offset,
					    l5 ? 0xff11000000000000ull : 0xffff888000000000ull);
	g->ki.vmemmap = kaslr_read_base(g, s->have_vmemmap, s->vmemmap,
					l5 ? 0xffd4000000000000ull : 0xffffea0000000000ull);
	g->direct_map_size = vmt_mem_ram_end(g->mem);
	if (vmt_x86_translate(g->mmu, g->ki.kernel_pgd, g->ki.page_offset + g->ki.phys_load, &pa,
			      NULL) ||
	    pa != g->ki.phys_load)
		return vmt_error(-EBADMSG, "direct map at 0x%llx does not map the kernel",
				 (unsigned long long)g->ki.page_offset);
	return 0;
}

static void kaslr_fill_release(struct vmt_guest *g)
{
	const char *b = g->ki.banner + strlen(BANNER_PREFIX);
	size_t n = strcspn(b, " ");

	snprintf(g->ki.release, sizeof(g->ki.release), "%.*s", (int)VMT_MIN(n, 64), b);
}

/* Steps 2-4 for the kernel image loaded at load. */
static int kaslr_try_load(struct vmt_guest *g, const struct kaslr_syms *s, uint64_t load)
{
	uint64_t phys_base;
	int err;

	g->ki.phys_load = load;
	err = vmt_mem_read(g->mem, vmt_guest_image_pa(g, s->phys_base), &phys_base,
			   sizeof(phys_base));
	if (err)
		return vmt_error(err, "cannot read phys_base at 0x%llx",
				 (unsigned long long)vmt_guest_image_pa(g, s->phys_base));
	g->text_va = load - phys_base + VMT_START_KERNEL_MAP;
	/* KASLR keeps the kernel inside the 1 GiB text mapping, 2 MiB aligned. */
	if (g->text_va < VMT_START_KERNEL_MAP ||
	    g->text_va >= VMT_START_KERNEL_MAP + (1ull << 30) || g->text_va & (KERNEL_ALIGN - 1))
		return vmt_error(-EBADMSG, "phys_base 0x%llx gives an impossible kernel address",
				 (unsigned long long)phys_base);
	g->ki.virt_slide = g->text_va - s->text;
	g->ki.kernel_pgd = vmt_guest_image_pa(g, s->top_pgt);
	err = kaslr_find_paging(g, s);
	if (err)
		return err;
	return kaslr_find_bases(g, s);
}

/* Try each banner in turn until one is the running kernel; local: see vmt_kaslr_find. */
static int kaslr_search(struct vmt_guest *g, const struct kaslr_syms *s, bool local)
{
	uint64_t load = 0;
	int err = 0, tries = 0;
	char why[512] = "";

	for (;; load += KERNEL_ALIGN, tries++) {
		int lerr = kaslr_find_load(g, s, local, &load);

		if (lerr) /* no (further) banner: say why the last candidate failed */
			return tries ? vmt_error(err, "%s", why) : lerr;
		err = kaslr_try_load(g, s, load);
		if (!err)
			return 0;
		vmt_strlcpy(why, vmt_last_error(), sizeof(why));
		pr_debug("kernel banner at 0x%llx is not the running kernel: %s",
			 (unsigned long long)load, why);
	}
}

int vmt_kaslr_find(struct vmt_guest *g)
{
	struct kaslr_syms s;
	uint64_t load;
	int err;

	err = kaslr_syms_get(g->prof, &s);
	if (err)
		return err;
	g->text_link = s.text;
	g->image_size = s.end - s.text;
	/*
	 * A split VM keeps its kernel image on the main host, so the banner
	 * probes first read only what is there (no remote page fetched for a
	 * probe, nor counted as one not read with --fetch none: opening stays
	 * fast on any VM size); if the pager has paged the image out since, the
	 * search runs again reading everything.
	 */
	err = kaslr_search(g, &s, true);
	if (err)
		err = kaslr_search(g, &s, false);
	if (err)
		return err;
	load = g->ki.phys_load;
	vmt_strlcpy(g->ki.banner, vmt_profile_banner(g->prof), sizeof(g->ki.banner));
	g->ki.banner[strcspn(g->ki.banner, "\n")] = '\0';
	kaslr_fill_release(g);
	pr_info("kernel at phys 0x%llx, virt slide 0x%llx, %d-level paging, direct map 0x%llx",
		(unsigned long long)load, (unsigned long long)g->ki.virt_slide, g->ki.paging_levels,
		(unsigned long long)g->ki.page_offset);
	return 0;
}

// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * guest.c - open a guest: page source + cache + MMU + profile, then find
 * the running kernel in memory (kaslr.c).  Also the kernel/user virtual
 * read primitives every walker uses.
 */
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "guest/guest_internal.h"
#include "memsrc/nbdfile.h"
#include "pagetable/pagetable.h"

/* A split VM: its page table, and how pages on sub-hosts are read. */
static int guest_open_split(const struct vmt_guest_opts *o, const struct vmt_ram_layout *layout,
			    struct vmt_memsrc **src)
{
	uint64_t chunk = o->fetch_chunk ? o->fetch_chunk : VMT_FETCH_CHUNK_DEFAULT;
	int shift = vmt_pt_chunk_shift_of(chunk);
	struct vmt_memsrc_split_opts so = {
	    .fetch = o->fetch,
	    .fetch_cache_bytes = o->fetch_cache_bytes,
	    .psk_file = o->psk_file,
	    .insecure = o->insecure,
	    .pager_sock = o->pager_sock,
	    .timeout_ms = o->fetch_timeout_ms,
	    .fetch_whole = o->fetch_whole,
	};

	if (shift < 0)
		return vmt_error(-EINVAL,
				 "fetch chunk of %llu bytes: it takes 4K..2M, a power of two",
				 (unsigned long long)chunk);
	so.fetch_shift = (unsigned)shift;
	return vmt_memsrc_split_open_opts(o->mem_path, layout, o->pagetable_path, &so, src);
}

/* The page cache over src (its owner from now on; g->src borrows it for the listing's end). */
static int guest_mem_new(struct vmt_guest *g, struct vmt_memsrc *src, size_t cache_pages)
{
	int err = vmt_mem_new(src, cache_pages, &g->mem);

	if (!err)
		g->src = src;
	return err;
}

static int guest_open_mem(struct vmt_guest *g, const struct vmt_guest_opts *o)
{
	struct vmt_ram_layout layout;
	struct vmt_memsrc *src = NULL;
	struct stat st;
	uint64_t size;
	int err;

	if (stat(o->mem_path, &st) < 0)
		return vmt_error(-errno, "cannot open memory file %s: %s", o->mem_path,
				 strerror(errno));
	if (!S_ISREG(st.st_mode))
		return vmt_error(-EINVAL, "%s is not a regular file (expected a QEMU RAM file)",
				 o->mem_path);
	size = (uint64_t)st.st_size;
	if (o->ram_size && size < o->ram_size)
		return vmt_error(
		    -EINVAL, "memory file %s is truncated: %llu bytes, the VM has %llu",
		    o->mem_path, (unsigned long long)size, (unsigned long long)o->ram_size);
	if (o->ram_size)
		size = o->ram_size;
	if (size < (1u << 20) || size % VMT_PAGE_SIZE)
		return vmt_error(-EINVAL,
				 "%s is not a QEMU RAM file (%llu bytes: not whole pages, or "
				 "under 1 MiB)",
				 o->mem_path, (unsigned long long)size);
	err = vmt_ram_layout_x86(size, o->machine ? o->machine : "pc", o->below_4g, &layout);
	if (err)
		return err;
	if (o->pagetable_path)
		err = guest_open_split(o, &layout, &src);
	else
		err = vmt_memsrc_file_open(o->mem_path, &layout, &src);
	if (err)
		return err;
	err = guest_mem_new(g, src, o->cache_pages);
	if (err) {
		vmt_memsrc_free(src);
		return err;
	}
	return 0;
}

/*
 * The IDS on another host (o->from): pages over NBD (memsrc/nbdfile.c); the
 * kernel image, unless the caller has one, from the export into the cache.
 * o is the caller's copy: its kernel_path may be pointed at kernel.
 */
static int guest_open_remote(struct vmt_guest *g, struct vmt_guest_opts *o, char *kernel,
			     size_t kernel_sz)
{
	struct vmt_memsrc_nbd_opts no = {
	    .from = o->from,
	    .psk_file = o->psk_file,
	    .vm = o->from_vm,
	    .machine = o->machine,
	    .below_4g = o->below_4g,
	    .fetch = o->fetch,
	    .fetch_chunk = o->fetch_chunk,
	    .fetch_cache_bytes = o->fetch_cache_bytes,
	    .timeout_ms = o->fetch_timeout_ms,
	};
	struct vmt_memsrc *src = NULL;
	int err = vmt_memsrc_nbd_open(&no, &src, NULL);

	if (!err && !o->kernel_path) {
		err = vmt_memsrc_nbd_kernel(src, o->cache_dir, kernel, kernel_sz);
		o->kernel_path = kernel;
	}
	if (!err)
		err = guest_mem_new(g, src, o->cache_pages);
	if (err)
		vmt_memsrc_free(src);
	return err;
}

static int guest_open_profile(struct vmt_guest *g, const struct vmt_guest_opts *o)
{
	struct vmt_profile_opts po = {
	    .sz = sizeof(po),
	    .kernel_path = o->kernel_path,
	    .cache_dir = o->cache_dir,
	    .system_map = o->system_map,
	};

	if (!o->kernel_path)
		return vmt_kfind_profile(g, o);
	g->prof = vmt_profile_load(&po);
	return g->prof ? 0 : -errno;
}

/* Common tail of both open paths: MMU, then find the kernel in memory. */
static int guest_attach(struct vmt_guest *g)
{
	int err = vmt_x86_mmu_new(g->mem, 4, &g->mmu);

	if (err)
		return err;
	return vmt_kaslr_find(g);
}

int vmt_guest_open_parts(struct vmt_memsrc *src, struct vmt_profile *prof, size_t cache_pages,
			 struct vmt_guest **out)
{
	struct vmt_guest *g = calloc(1, sizeof(*g));
	int err;

	if (!g) {
		vmt_memsrc_free(src);
		vmt_profile_free(prof);
		return -ENOMEM;
	}
	g->prof = prof;
	err = guest_mem_new(g, src, cache_pages);
	if (err) {
		vmt_memsrc_free(src);
		goto err_free;
	}
	err = guest_attach(g);
	if (err)
		goto err_free;
	*out = g;
	return 0;

err_free:
	vmt_guest_close(g);
	return err;
}

/* The options as this library knows them: an older caller's shorter struct is zero-extended. */
static const struct vmt_guest_opts *opts_full(const struct vmt_guest_opts *o,
					      struct vmt_guest_opts *copy)
{
	if (!o || o->sz < offsetof(struct vmt_guest_opts, fetch))
		return NULL;
	if (o->sz >= sizeof(*o))
		return o;
	memset(copy, 0, sizeof(*copy));
	memcpy(copy, o, o->sz);
	return copy;
}

struct vmt_guest *vmt_guest_open(const struct vmt_guest_opts *opts)
{
	struct vmt_guest_opts copy, remote;
	const struct vmt_guest_opts *o = opts_full(opts, &copy);
	char kernel[4096];
	struct vmt_guest *g;
	int err;

	vmt_error_clear();
	if (o && o->from) {
		remote = *o;
		o = &remote;
	}
	if (!o || (!o->from && !o->mem_path)) {
		errno = EINVAL;
		vmt_error(-EINVAL, "a memory file is required");
		return NULL;
	}
	g = calloc(1, sizeof(*g));
	if (!g) {
		errno = ENOMEM;
		return NULL;
	}
	err =
	    o->from ? guest_open_remote(g, &remote, kernel, sizeof(kernel)) : guest_open_mem(g, o);
	if (err)
		goto err_free;
	err = guest_open_profile(g, o);
	if (err)
		goto err_free;
	err = guest_attach(g);
	if (!err && !o->from && o->kernel_path)
		err = vmt_kfind_agree(g, o->kernel_path);
	if (err)
		goto err_free;
	return g;

err_free:
	vmt_guest_close(g);
	errno = -err;
	return NULL;
}

void vmt_guest_close(struct vmt_guest *g)
{
	if (!g)
		return;
	vmt_x86_mmu_free(g->mmu);
	vmt_mem_free(g->mem);
	vmt_profile_free(g->prof);
	free(g->task_off);
	free(g->detail_off);
	vmt_path_cache_clear(g, true);
	free(g);
}

int vmt_guest_kernel_info(struct vmt_guest *g, struct vmt_kernel_info *info)
{
	*info = g->ki;
	return 0;
}

void vmt_listing_begin(struct vmt_guest *g)
{
	vmt_mem_epoch(g->mem);
	vmt_path_cache_clear(g, false);
}

void vmt_listing_end(struct vmt_guest *g)
{
	vmt_memsrc_epoch_end(g->src);
}

void vmt_mem_stats(struct vmt_guest *g, struct vmt_mem_stats *st)
{
	const size_t head = offsetof(struct vmt_mem_stats, pages_read);
	size_t sz = VMT_MIN(st->sz, sizeof(*st));

	if (sz > head)
		memcpy((char *)st + head, (const char *)vmt_mem_stats_ptr(g->mem) + head,
		       sz - head);
}

void vmt_mem_stats_reset(struct vmt_guest *g)
{
	memset(vmt_mem_stats_ptr(g->mem), 0, sizeof(struct vmt_mem_stats));
}

int vmt_read_phys(struct vmt_guest *g, uint64_t pa, void *buf, size_t len)
{
	return vmt_mem_read(g->mem, pa, buf, len);
}

int vmt_kva_to_pa(struct vmt_guest *g, uint64_t va, uint64_t *pa)
{
	uint64_t off = va - g->ki.page_offset;

	if (va < g->ki.page_offset || off >= g->direct_map_size)
		return -EFAULT;
	*pa = off;
	return 0;
}

/* Longest single range of a hint (a struct, not a buffer). */
#define KPREFETCH_MAX_LEN (64u << 10)

/* Hints of pages the kernel maps elsewhere (vmalloc: bucket arrays, modules). */
#define KPREFETCH_MAX_MAPPED 256u

void vmt_kprefetch(struct vmt_guest *g, const struct vmt_krange *r, size_t n)
{
	size_t cap = 2 * n + 16, k = 0, nh = 0;
	struct vmt_x86_hint h[KPREFETCH_MAX_MAPPED];
	uint64_t *pfns, pa;

	if (!vmt_mem_hints_pay(g->mem) || !(pfns = malloc(cap * sizeof(*pfns))))
		return;
	for (size_t i = 0; i < n; i++) {
		uint64_t va = r[i].va, len = r[i].len ? r[i].len : 1, last;

		if (!vmt_kptr_ok(va) || len > KPREFETCH_MAX_LEN)
			continue;
		if (va - g->text_va < g->image_size) {
			pa = va - g->text_va + g->ki.phys_load;
		} else if (vmt_kva_to_pa(g, va, &pa)) {
			/* through the kernel's page tables, a level at a time for all */
			for (uint64_t p = va & ~(VMT_PAGE_SIZE - 1ull);
			     p < va + len && nh < KPREFETCH_MAX_MAPPED; p += VMT_PAGE_SIZE)
				h[nh++] =
				    (struct vmt_x86_hint){.root_pa = g->ki.kernel_pgd, .va = p};
			continue;
		}
		last = (pa + len - 1) >> VMT_PAGE_SHIFT;
		for (uint64_t p = pa >> VMT_PAGE_SHIFT; p <= last; p++) {
			if (k == cap) {
				uint64_t *more = realloc(pfns, 2 * cap * sizeof(*pfns));

				if (!more)
					goto out;
				pfns = more;
				cap *= 2;
			}
			pfns[k++] = p;
		}
	}
out:
	vmt_mem_prefetch(g->mem, pfns, k);
	free(pfns);
	if (nh)
		vmt_x86_prefetch(g->mmu, h, nh);
}

void vmt_hints_add(struct vmt_hints *h, uint64_t va, uint32_t len)
{
	if (!vmt_kptr_ok(va) || len == UINT32_MAX || !len || h->n >= VMT_HINTS_MAX)
		return;
	if (h->n == h->cap) {
		size_t cap = h->cap ? 2 * h->cap : 256;
		struct vmt_krange *r = realloc(h->r, cap * sizeof(*r));

		if (!r)
			return;
		h->r = r;
		h->cap = cap;
	}
	h->r[h->n++] = (struct vmt_krange){.va = va, .len = len};
}

void vmt_hints_flush(struct vmt_guest *g, struct vmt_hints *h)
{
	vmt_kprefetch(g, h->r, h->n);
	h->n = 0;
}

/*
 * Kernel reads take two shortcuts that the kernel itself guarantees on
 * x86-64: the image is mapped linearly at text_va -> phys_load, and the
 * direct map is page_offset + pa.  Everything else (vmalloc, modules,
 * fixmap) walks the kernel page tables.
 */
static int kread_chunk(struct vmt_guest *g, uint64_t va, void *buf, size_t len)
{
	uint64_t pa;

	if (va - g->text_va < g->image_size && va - g->text_va + len <= g->image_size)
		return vmt_mem_read(g->mem, va - g->text_va + g->ki.phys_load, buf, len);
	if (!vmt_kva_to_pa(g, va, &pa) && len <= g->direct_map_size - (va - g->ki.page_offset))
		return vmt_mem_read(g->mem, pa, buf, len);
	return vmt_x86_read(g->mmu, g->ki.kernel_pgd, va, buf, len);
}

int vmt_kread(struct vmt_guest *g, uint64_t va, void *buf, size_t len)
{
	uint64_t end;

	if (!vmt_add_ok(va, len, &end))
		return -EFAULT;
	return kread_chunk(g, va, buf, len);
}

int vmt_read_kva(struct vmt_guest *g, uint64_t va, void *buf, size_t len)
{
	return vmt_kread(g, va, buf, len);
}

int vmt_kread_u64(struct vmt_guest *g, uint64_t va, uint64_t *val)
{
	return vmt_kread(g, va, val, sizeof(*val));
}

int vmt_kread_u32(struct vmt_guest *g, uint64_t va, uint32_t *val)
{
	return vmt_kread(g, va, val, sizeof(*val));
}

int vmt_kread_str(struct vmt_guest *g, uint64_t va, char *buf, size_t cap)
{
	size_t got = 0;
	int err;

	if (!cap)
		return -EINVAL;
	/* Read up to the next page boundary at a time: strings are short. */
	while (got + 1 < cap) {
		size_t n = VMT_PAGE_SIZE - ((va + got) & (VMT_PAGE_SIZE - 1));
		char *nul;

		n = VMT_MIN(n, cap - 1 - got);
		err = vmt_kread(g, va + got, buf + got, n);
		if (err) {
			buf[got] = '\0';
			return err;
		}
		nul = memchr(buf + got, '\0', n);
		if (nul)
			return 0;
		got += n;
	}
	buf[got] = '\0';
	return 0;
}

int vmt_uread(struct vmt_guest *g, uint64_t pgd_pa, uint64_t va, void *buf, size_t len)
{
	uint64_t end;

	if (!vmt_add_ok(va, len, &end)) /* no wrap to address 0 */
		return -EFAULT;
	return vmt_x86_read(g->mmu, pgd_pa, va, buf, len);
}

int vmt_read_va(struct vmt_guest *g, uint64_t pgd_pa, uint64_t va, void *buf, size_t len)
{
	return pgd_pa ? vmt_uread(g, pgd_pa, va, buf, len) : vmt_kread(g, va, buf, len);
}

int vmt_translate(struct vmt_guest *g, uint64_t pgd_pa, uint64_t va, uint64_t *pa)
{
	return vmt_x86_translate(g->mmu, pgd_pa ? pgd_pa : g->ki.kernel_pgd, va, pa, NULL);
}

int vmt_ksym(struct vmt_guest *g, const char *name, uint64_t *va)
{
	uint64_t link;
	int err = vmt_profile_symbol(g->prof, name, &link);

	if (err)
		return err;
	*va = link + g->ki.virt_slide;
	return 0;
}

int vmt_symbol(struct vmt_guest *g, const char *name, uint64_t *va)
{
	return vmt_ksym(g, name, va);
}

int vmt_resolve_fields(struct vmt_guest *g, const struct vmt_field_req *req, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		int err = req[i].field
			      ? vmt_profile_field(g->prof, req[i].type, req[i].field, req[i].out)
			      : vmt_profile_struct_size(g->prof, req[i].type, req[i].out);

		if (!err)
			continue;
		if (req[i].optional) {
			*req[i].out = UINT32_MAX;
			continue;
		}
		return vmt_error(-ENOEXEC, "kernel profile lacks %s%s%s (unsupported kernel?)",
				 req[i].type, req[i].field ? "." : "",
				 req[i].field ? req[i].field : "");
	}
	return 0;
}
